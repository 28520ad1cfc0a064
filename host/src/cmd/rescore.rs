//! `econ-host rescore LOG_DIR [--parser P] [--reward R]`: a new answer
//! parser or reward plugin tried on a finished run without paying for its
//! LLM calls again.

use std::collections::BTreeMap;

use anyhow::{Context, Result};

use super::load_registry_with;
use crate::atomic::write_atomic;
use crate::cli::{Cli, RescoreArgs};
use crate::episode::rescore::{Rescored, rescore as rescore_trace, rescore_rewards};
use crate::episode::summary::ModeSummary;
use crate::episode::trace::read_traces;
use crate::error::bad_input;
use crate::runlog::provenance::{RUN_FILE, RunRecord, read_run_record};

pub(super) fn rescore(cli: &Cli, args: &RescoreArgs) -> Result<()> {
    let run = read_run_record(&args.log_dir).map_err(bad_input)?;
    // The run's `[plugins]` (limits, options), so a plugin the run used
    // scores as it did.
    let registry = load_registry_with(cli, run_plugins(run.as_ref())?.policy())?;
    let parser = match &args.parser {
        Some(name) => Some(registry.answer_parser(name).map_err(bad_input)?),
        None => None,
    };
    let reward = match &args.reward {
        Some(name) => Some(registry.reward(name).map_err(bad_input)?),
        None => None,
    };
    let embedder = match reward {
        Some(_) => Some(run_encoder(run.as_ref(), &args.log_dir)?),
        None => None,
    };
    let named = |info: &crate::plugins::PluginInfo| info.id().to_string();
    let mut files: Vec<_> = std::fs::read_dir(&args.log_dir)
        .with_context(|| format!("reading {}", args.log_dir.display()))
        .map_err(bad_input)?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let mode = name
                .strip_prefix(crate::runlog::TEST_TRACES_PREFIX)?
                .strip_suffix(".jsonl")?;
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
        parser: parser.map(|p| named(p.info())).unwrap_or_default(),
        reward: reward.map(|r| named(r.info())),
        modes: BTreeMap::new(),
        changed: BTreeMap::new(),
    };
    let label = out.label();
    for (mode, path) in files {
        let mut summary = ModeSummary::default();
        let mut before = 0;
        let mut changed = 0;
        for trace in read_traces(&path)? {
            let at = || format!("{} episode {}", path.display(), trace.episode);
            let mut judged = match parser {
                Some(parser) => rescore_trace(&trace, parser).with_context(at)?,
                None => trace.clone(),
            };
            if let (Some(reward), Some(encoder)) = (reward, embedder.as_deref()) {
                judged = rescore_rewards(&judged, reward, encoder).with_context(at)?;
            }
            before += u64::from(trace.correct);
            changed += u64::from(judged.correct != trace.correct);
            summary.add(&judged);
        }
        if !args.json {
            let rewards = match reward {
                Some(_) => format!(", mean reward {:.4}", summary.reward_mean),
                None => String::new(),
            };
            println!(
                "{mode}: {before}/{n} -> {}/{n} with {label} ({changed} verdicts changed{rewards})",
                summary.correct,
                n = summary.episodes
            );
        }
        out.modes.insert(mode.clone(), summary);
        out.changed.insert(mode, changed);
    }
    let name = match (parser, reward) {
        (Some(p), Some(r)) => format!("summary.rescored-{}+{}.json", p.info().name, r.info().name),
        (Some(p), None) => format!("summary.rescored-{}.json", p.info().name),
        (None, Some(r)) => format!("summary.rescored-{}.json", r.info().name),
        (None, None) => unreachable!("clap requires --parser or --reward"),
    };
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

/// The run's `[plugins]` section (defaults without a run record).
fn run_plugins(run: Option<&RunRecord>) -> Result<crate::config::PluginsConfig> {
    match run.and_then(|r| r.config.get("plugins")) {
        Some(plugins) => serde_json::from_value(plugins.clone())
            .context("run.json: config.plugins")
            .map_err(bad_input),
        None => Ok(crate::config::PluginsConfig::default()),
    }
}

/// The sentence encoder the run used (run.json's `[embedding]`, the model at
/// the path run.json hashed), to embed texts as the run did.
fn run_encoder(
    run: Option<&RunRecord>,
    log_dir: &std::path::Path,
) -> Result<Box<dyn crate::embed::Embedder>> {
    let path = log_dir.join(RUN_FILE);
    let run = run
        .with_context(|| format!("--reward needs the run's record {}", path.display()))
        .map_err(bad_input)?;
    let mut config: crate::config::EmbeddingConfig =
        serde_json::from_value(run.config["embedding"].clone())
            .with_context(|| format!("{}: config.embedding", path.display()))
            .map_err(bad_input)?;
    if let Some(file) = run.files.iter().find(|f| f.role == "embedding.model") {
        config.model = file.path.display().to_string();
    }
    crate::embed::load(&config, log_dir)
        .with_context(|| format!("loading the run's sentence encoder ({})", path.display()))
}
