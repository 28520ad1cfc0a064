//! `econ-host rescore LOG_DIR --parser P`: a new answer parser tried on a
//! finished run without paying for its LLM calls again.

use std::collections::BTreeMap;

use anyhow::{Context, Result};

use super::load_registry;
use crate::cli::{Cli, RescoreArgs};
use crate::episode::rescore::{Rescored, rescore as rescore_trace};
use crate::episode::summary::{ModeSummary, write_atomic};
use crate::episode::trace::read_traces;
use crate::error::bad_input;

pub(super) fn rescore(cli: &Cli, args: &RescoreArgs) -> Result<()> {
    let registry = load_registry(cli)?;
    let parser = registry.answer_parser(&args.parser).map_err(bad_input)?;
    let label = format!("{}@{}", parser.info().name, parser.info().version);
    let mut files: Vec<_> = std::fs::read_dir(&args.log_dir)
        .with_context(|| format!("reading {}", args.log_dir.display()))
        .map_err(bad_input)?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let mode = name.strip_prefix("traces_test_")?.strip_suffix(".jsonl")?;
            Some((mode.to_string(), e.path()))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(bad_input(anyhow::anyhow!(
            "{}: no traces_test_*.jsonl to rescore",
            args.log_dir.display()
        )));
    }
    let mut out = Rescored {
        parser: label.clone(),
        modes: BTreeMap::new(),
        changed: BTreeMap::new(),
    };
    for (mode, path) in files {
        let mut summary = ModeSummary::default();
        let mut before = 0;
        let mut changed = 0;
        for trace in read_traces(&path)? {
            let judged = rescore_trace(&trace, parser)
                .with_context(|| format!("{} episode {}", path.display(), trace.episode))?;
            before += u64::from(trace.correct);
            changed += u64::from(judged.correct != trace.correct);
            summary.add(&judged);
        }
        if !args.json {
            println!(
                "{mode}: {before}/{n} -> {}/{n} with {label} ({changed} verdicts changed)",
                summary.correct,
                n = summary.episodes
            );
        }
        out.modes.insert(mode.clone(), summary);
        out.changed.insert(mode, changed);
    }
    let name = format!("summary.rescored-{}.json", parser.info().name);
    let path = args.log_dir.join(&name);
    let bytes = serde_json::to_vec_pretty(&out)?;
    write_atomic(&path, &bytes)?;
    if args.json {
        println!("{}", String::from_utf8_lossy(&bytes));
    } else {
        println!("written: {}", path.display());
    }
    Ok(())
}
