//! `econ-host run` and `train`: train, then test in the chosen modes; what an interruption leaves.

use std::collections::HashSet;
use std::sync::Mutex;

use anyhow::Result;

use super::report::report;
use super::test::test_problems;
use super::{dry_run, model_folder, open_job};
use crate::cli::{Cli, RunArgs, TestMode, TrainArgs};
use crate::episode::Mode;
use crate::episode::summary::{ModeSummary, TrainSummary};
use crate::error::{Interrupted, bad_input};
use crate::learn::Learner;
use crate::plugins::dataset_adapter::Problem;
use crate::runner::{Job, Start};

pub(super) fn run(cli: &Cli, args: &RunArgs) -> Result<()> {
    if args.job.dry_run {
        let modes = expand_modes(&args.modes);
        return dry_run(cli, &args.job, args.train_eps, args.test_eps, &modes);
    }
    let job = open_job(cli, &args.job, args.force)?;
    let mut learner = job.new_learner()?;
    let mut train = None;
    if args.train_eps > 0 {
        let model_dir = model_folder(&job, &args.model_dir);
        let start = if args.force {
            Start::Force
        } else {
            Start::Fresh
        };
        let (trained, summary) = job.train(learner, args.train_eps, &model_dir, start)?;
        if summary.results.interrupted {
            report(&job, &args.job, Some(&summary), &[])?;
            return Err(training_interrupted(&summary, args.train_eps));
        }
        learner = trained;
        train = Some(summary);
    } else {
        tracing::warn!("--train-eps 0: testing untrained belief networks");
    }
    let problems = test_problems(&job, args.test_eps, &HashSet::new())?;
    let learner = Mutex::new(learner);
    let modes = test_modes(&job, &learner, &problems, expand_modes(&args.modes))?;
    report(&job, &args.job, train.as_ref(), &modes)?;
    test_interrupted(&modes, problems.len())
}

/// Each mode's test in turn, stopping at the first one Ctrl-C cut short.
pub(super) fn test_modes(
    job: &Job,
    learner: &Mutex<Learner>,
    problems: &[Problem],
    wanted: Vec<Mode>,
) -> Result<Vec<(Mode, ModeSummary)>> {
    let mut modes = Vec::new();
    for mode in wanted {
        let summary = job.test(learner, problems, mode)?;
        let stop = summary.interrupted;
        modes.push((mode, summary));
        if stop {
            break;
        }
    }
    Ok(modes)
}

pub(super) fn training_interrupted(summary: &TrainSummary, planned: u64) -> anyhow::Error {
    let done = summary.results.episodes;
    let kept = match &summary.last_checkpoint {
        Some(dir) => format!("networks saved in {dir}"),
        None => "no episode had finished".to_string(),
    };
    let resume = format!(
        "`econ-host train --resume --train-eps {planned}` with the same --config, \
         --model-dir and --log-dir goes on from there"
    );
    match &summary.results.stopped_by {
        // The server refused a request: a configuration error (exit 2).
        Some(why) if summary.results.refused => bad_input(anyhow::anyhow!(
            "training stopped after {done} of {planned} episodes ({kept}): {why}; change the \
             config (the server's answer says what it refused) and run again"
        )),
        // Not a signal: a plain error (exit 1) that says why.
        Some(why) => anyhow::anyhow!(
            "training stopped after {done} of {planned} episodes ({kept}): {why}; {resume}"
        ),
        None => anyhow::Error::new(Interrupted(format!(
            "interrupted after {done} of {planned} training episodes ({kept}); {resume}"
        ))),
    }
}

pub(super) fn test_interrupted(modes: &[(Mode, ModeSummary)], planned: usize) -> Result<()> {
    match modes.last() {
        Some((mode, s)) if s.refused => Err(bad_input(anyhow::anyhow!(
            "testing {} stopped after {} of {planned} problems: {}; change the config (the \
             server's answer says what it refused) and run again",
            mode.as_str(),
            s.episodes,
            s.stopped_by.as_deref().unwrap_or_default()
        ))),
        Some((mode, s)) if s.stopped_by.is_some() => Err(anyhow::anyhow!(
            "testing {} stopped after {} of {planned} problems (their results are in \
             summary.json and the traces): {}",
            mode.as_str(),
            s.episodes,
            s.stopped_by.as_deref().unwrap_or_default()
        )),
        Some((mode, s)) if s.interrupted => Err(anyhow::Error::new(Interrupted(format!(
            "interrupted while testing {}: {} of {planned} problems finished \
             (their results are in summary.json and the traces)",
            mode.as_str(),
            s.episodes
        )))),
        _ => Ok(()),
    }
}

/// `--mode` / `--modes` values in the order given, `all` expanded, no repeats.
pub(super) fn expand_modes(list: &[TestMode]) -> Vec<Mode> {
    let mut out: Vec<Mode> = Vec::new();
    for m in list {
        let these: &[Mode] = match m {
            TestMode::Baseline => &[Mode::Baseline],
            TestMode::Bne => &[Mode::Bne],
            TestMode::Majority => &[Mode::Majority],
            TestMode::Cot => &[Mode::Cot],
            TestMode::Sc => &[Mode::Sc],
            TestMode::Debate => &[Mode::Debate],
            TestMode::All => &Mode::ALL,
        };
        for &mode in these {
            if !out.contains(&mode) {
                out.push(mode);
            }
        }
    }
    out
}

pub(super) fn train(cli: &Cli, args: &TrainArgs) -> Result<()> {
    if args.job.dry_run {
        return dry_run(cli, &args.job, args.train_eps, Some(0), &[]);
    }
    if args.resume && args.job.log_dir.is_none() {
        return Err(bad_input(anyhow::anyhow!(
            "--resume goes on with a run: name its folder with --log-dir (and --model-dir \
             if it had one)"
        )));
    }
    let job = open_job(cli, &args.job, args.force)?;
    let learner = job.new_learner()?;
    let model_dir = model_folder(&job, &args.model_dir);
    let start = match (args.resume, args.force) {
        (true, _) => Start::Resume,
        (false, true) => Start::Force,
        (false, false) => Start::Fresh,
    };
    let (_, summary) = job.train(learner, args.train_eps, &model_dir, start)?;
    report(&job, &args.job, Some(&summary), &[])?;
    if summary.results.interrupted {
        return Err(training_interrupted(&summary, args.train_eps));
    }
    Ok(())
}
