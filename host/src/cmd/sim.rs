//! `econ-host sim curve|problems`: the simulated world's learning curve and problems.

use anyhow::Result;

use super::{log_folder, model_folder, plugin_dirs};
use crate::cli::Cli;
use crate::config::Config;
use crate::error::bad_input;
use crate::interrupt;
use crate::runner::Job;

pub(super) fn sim_curve(cli: &Cli, args: &crate::cli::CurveArgs) -> Result<()> {
    if args.every == 0 || args.train_eps == 0 {
        return Err(bad_input(anyhow::anyhow!(
            "--every and --train-eps must be at least 1"
        )));
    }
    let mut config = Config::load(&args.job.config, &args.job.overrides).map_err(bad_input)?;
    config.runner.save_interval = args.every;
    let mut job = Job::open(
        config,
        plugin_dirs(cli)?,
        &log_folder(&args.job)?,
        false,
        None,
    )?;
    if args.job.tensorboard {
        job.enable_tensorboard()?;
    }
    interrupt::install();
    let eval = args.eval_eps.unwrap_or(job.splits.test.len());
    let points = crate::runner::curve::run(
        &job,
        args.train_eps,
        args.every,
        eval,
        &model_folder(&job, &args.model_dir),
    )?;
    if args.job.json {
        println!("{}", serde_json::to_string_pretty(&points)?);
        return Ok(());
    }
    println!(
        "{:>8}  {:<8} {:<8} {:>8}  {:>9}  T by kind",
        "episodes", "policy", "mode", "accuracy", "|T - T*|"
    );
    for p in &points {
        let kinds: Vec<String> = p
            .temperature_by_kind
            .iter()
            .map(|(k, t)| format!("{k} {t:.2}"))
            .collect();
        println!(
            "{:>8}  {:<8} {:<8} {:>7.1}%  {:>9.3}  {}",
            p.episodes,
            p.policy,
            p.mode,
            p.accuracy * 100.0,
            p.temperature_distance,
            kinds.join(", ")
        );
    }
    println!(
        "written: {}",
        job.log_dir.join(crate::runlog::CURVE_FILE).display()
    );
    Ok(())
}
