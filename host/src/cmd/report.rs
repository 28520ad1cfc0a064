//! `econ-host report`: summary.json from a run's traces, and the HTML report.

use anyhow::Result;

use crate::cli::{JobArgs, ReportArgs};
use crate::episode::Mode;
use crate::episode::summary::{ModeSummary, TrainSummary};
use crate::runner::Job;

/// summary.json (merged with what the log folder has) and the terminal lines.
// Long on purpose: summary.json is written in one place so its keys read in file order.
pub(super) fn report(
    job: &Job,
    args: &JobArgs,
    train: Option<&TrainSummary>,
    modes: &[(Mode, ModeSummary)],
) -> Result<()> {
    let registry = job.live.snapshot();
    let plugins: Vec<String> = registry
        .plugins()
        .map(|p| p.info().id().to_string())
        .collect();
    let mut config = serde_json::to_value(&job.config)?;
    crate::http::redact_urls(&mut config);
    let mut value = serde_json::json!({
        "modes": modes
            .iter()
            .map(|(m, s)| (m.as_str().to_string(), serde_json::to_value(s).unwrap_or_default()))
            .collect::<serde_json::Map<_, _>>(),
        "config": config,
        "data": {
            "source": job.splits.source,
            "train": job.splits.train.len(),
            "test": job.splits.test.len(),
            "skipped": job.splits.skipped,
        },
        "plugins": plugins,
    });
    if let Some(t) = train {
        value["train"] = serde_json::to_value(t)?;
    }
    let merged =
        crate::runlog::summary::merge_into(&job.log_dir.join(crate::runlog::SUMMARY_FILE), value)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&merged)?);
        return Ok(());
    }
    if let Some(t) = train {
        let r = &t.results;
        println!(
            "{} ({} learner updates, {:.0} tokens/episode){}",
            r.line("Train"),
            t.updates,
            r.tokens.per_episode,
            t.final_checkpoint
                .as_deref()
                .map(|d| format!(", model: {d}"))
                .unwrap_or_default()
        );
        if let Some(stop) = &t.early_stop {
            println!(
                "Early stopping after episode {}: {}",
                stop.episode, stop.reason
            );
        }
    }
    let b = &job.config.baselines;
    let n = job.config.nets.n_agents;
    for (mode, s) in modes {
        let label = match mode {
            Mode::Baseline => "Baseline (no BNE)".to_string(),
            Mode::Bne => format!(
                "BNE (up to {} rounds, {:.2} run per episode)",
                job.config.nets.bne.max_iterations_infer,
                (s.rounds_mean - 1.0).max(0.0)
            ),
            Mode::Majority => "Executors' majority (no commitment)".to_string(),
            Mode::Cot => "Chain of thought (1 call)".to_string(),
            Mode::Sc => format!("Self-consistency ({} samples)", b.sc_samples(n)),
            Mode::Debate => format!(
                "Debate ({} agents, {} rounds)",
                b.debate_agents(n),
                b.debate_rounds
            ),
        };
        let parsed = if mode.is_econ() {
            s.parse_line()
        } else {
            format!("answers found: {:.1}%", s.answer_rate * 100.0)
        };
        let cost = s
            .cost_per_episode
            .map(|c| format!(", ${c:.6}/episode"))
            .unwrap_or_default();
        println!(
            "{}   [{parsed}, {:.0} tokens/episode, {:.1} calls/episode{cost}]",
            s.line(&label),
            s.tokens.per_episode,
            s.calls_per_episode,
        );
    }
    println!("logs: {}", job.log_dir.display());
    Ok(())
}

pub(super) fn report_html(args: &ReportArgs) -> Result<()> {
    let mut dirs = vec![args.log_dir.clone()];
    dirs.extend(args.compare.iter().cloned());
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.log_dir.join("report.html"));
    let written = crate::report::write(&dirs, &out)?;
    if args.json {
        let said = serde_json::json!({ "report": out, "runs": written });
        println!("{}", serde_json::to_string_pretty(&said)?);
    } else {
        println!("report: {} ({written} runs)", out.display());
    }
    Ok(())
}
