//! `econ-host test`: a checkpoint (or none) on the test problems, in each mode.

use std::collections::HashSet;
use std::sync::Mutex;

use anyhow::{Context, Result};

use super::report::report;
use super::run::{expand_modes, test_interrupted, test_modes};
use super::{dry_run, open_job};
use crate::cli::{Cli, TestArgs, TestMode};
use crate::error::bad_input;
use crate::learn::Learner;
use crate::plugins::dataset_adapter::Problem;
use crate::runner::Job;

pub(super) fn test(cli: &Cli, args: &TestArgs) -> Result<()> {
    let mut wanted = expand_modes(&args.mode);
    if args.job.dry_run {
        return dry_run(cli, &args.job, 0, args.test_eps, &wanted);
    }
    if args.resume && args.job.log_dir.is_none() {
        return Err(bad_input(anyhow::anyhow!(
            "--resume goes on with a run's test: name its folder with --log-dir"
        )));
    }
    let mut job = open_job(cli, &args.job, false)?;
    job.resume_tests = args.resume;
    let (learner, trained) = match &args.checkpoint {
        Some(checkpoint) => {
            let dir = crate::learn::checkpoint_dir(checkpoint)?;
            let meta = Learner::read_meta(&dir).map_err(bad_input)?;
            let learner = Learner::load(&dir, job.config.nets.clone(), crate::torch_device())
                .map_err(bad_input)
                .with_context(|| format!("--checkpoint {}", dir.display()))?;
            let trained: HashSet<String> = meta.extra.train_ids.into_iter().collect();
            (learner, trained)
        }
        None => {
            // `all` without a checkpoint: the modes that need none; a mode
            // named on its own that needs one is an error.
            let named_econ = args
                .mode
                .iter()
                .any(|m| matches!(m, TestMode::Baseline | TestMode::Bne | TestMode::Majority));
            if let Some(m) = wanted.iter().find(|m| m.is_econ()).filter(|_| named_econ) {
                return Err(bad_input(anyhow::anyhow!(
                    "--mode {}: needs --checkpoint (only cot, sc and debate run without one)",
                    m.as_str()
                )));
            }
            let left: Vec<&str> = wanted
                .iter()
                .filter(|m| m.is_econ())
                .map(|m| m.as_str())
                .collect();
            if !left.is_empty() {
                eprintln!(
                    "no --checkpoint: testing {} and leaving out {} (they need trained networks)",
                    wanted
                        .iter()
                        .filter(|m| !m.is_econ())
                        .map(|m| m.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    left.join(", ")
                );
                wanted.retain(|m| !m.is_econ());
            }
            // The comparison modes never use the networks.
            (job.new_learner()?, HashSet::new())
        }
    };
    let problems = test_problems(&job, args.test_eps, &trained)?;
    let learner = Mutex::new(learner);
    let modes = test_modes(&job, &learner, &problems, wanted)?;
    report(&job, &args.job, None, &modes)?;
    test_interrupted(&modes, problems.len())
}

/// The first `limit` test problems, leaving out any the checkpoint trained on.
pub(super) fn test_problems(
    job: &Job,
    limit: Option<usize>,
    trained: &HashSet<String>,
) -> Result<Vec<Problem>> {
    let mut problems: Vec<Problem> = job
        .splits
        .test
        .iter()
        .filter(|p| !trained.contains(&p.id))
        .cloned()
        .collect();
    let dropped = job.splits.test.len() - problems.len();
    if dropped > 0 {
        tracing::warn!("left out {dropped} test problems the checkpoint was trained on");
    }
    if let Some(n) = limit {
        if n > problems.len() {
            tracing::warn!(
                "--test-eps {n}: only {} test problems; testing those",
                problems.len()
            );
        }
        problems.truncate(n);
    }
    if problems.is_empty() {
        return Err(bad_input(anyhow::anyhow!(
            "dataset {}: no test problems (raise dataset.test_fraction or give a test source)",
            job.splits.source
        )));
    }
    Ok(problems)
}
