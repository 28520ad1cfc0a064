//! One file per command (cargo's layout): [`run`] (run, train), [`test`],
//! [`report`], [`plugins`], [`models`], [`sim`]; here the dispatch and what
//! several commands share (plugin folders, the registry, opening a job).

mod models;
mod plugins;
mod report;
mod rescore;

mod run;
mod sim;
mod test;

use std::path::PathBuf;

use anyhow::{Context, Result};
use models::*;
use plugins::*;
use report::*;
use run::*;
use sim::*;
use test::*;

use crate::cli::{Cli, Command, JobArgs, ModelsCommand, PluginsCommand, SimCommand};
use crate::config::Config;
use crate::error::bad_input;
use crate::interrupt;
use crate::plugins::{Limits, PluginEngine, PluginRegistry};
use crate::runner::Job;

pub fn dispatch(cli: Cli) -> Result<()> {
    match &cli.command {
        Command::Run(args) => run(&cli, args),
        Command::Train(args) => train(&cli, args),
        Command::Test(args) => test(&cli, args),
        Command::Report(args) => report_html(args),
        Command::Rescore(args) => rescore::rescore(&cli, args),
        Command::Plugins(PluginsCommand::List { json }) => plugins_list(&cli, *json),
        Command::Plugins(PluginsCommand::Check { file, json }) => plugins_check(file, *json),
        Command::Plugins(PluginsCommand::New {
            kind,
            name,
            dir,
            sdk,
        }) => plugins_new(kind, name, dir, sdk.as_deref()),
        Command::Plugins(PluginsCommand::Install { paths, dir, force }) => {
            plugins_install(paths, dir.as_deref(), *force)
        }
        Command::Models(ModelsCommand::List) => models_list(),
        Command::Models(ModelsCommand::Fetch {
            names,
            verify,
            index_url,
        }) => models_fetch(names, *verify, index_url.clone()),
        Command::Sim(SimCommand::Curve(args)) => sim_curve(&cli, args),
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(*shell, &mut command, "econ-host", &mut std::io::stdout());
            Ok(())
        }
        Command::Sim(SimCommand::Problems { n, seed }) => {
            use std::io::Write;
            std::io::stdout()
                .write_all(crate::sim::problems::jsonl(*n, *seed).as_bytes())
                .context("writing the problems to stdout")
        }
    }
}

/// Built-in folders first, then each `--plugins DIR` in order (later wins).
pub(super) fn plugin_dirs(cli: &Cli) -> Result<Vec<PathBuf>> {
    let mut dirs = crate::plugins::default_plugin_dirs();
    for dir in &cli.plugin_dirs {
        if !dir.is_dir() {
            return Err(bad_input(anyhow::anyhow!(
                "--plugins {}: not a folder",
                dir.display()
            )));
        }
        dirs.push(dir.clone());
    }
    Ok(dirs)
}

pub(super) fn load_registry(cli: &Cli) -> Result<PluginRegistry> {
    let engine = PluginEngine::new(crate::plugins::default_cache_dir())?;
    PluginRegistry::load(&engine, &plugin_dirs(cli)?, Limits::default())
}

/// Opens a job for `run`, `train` or `test`; from here on Ctrl-C stops the
/// run after saving what is finished (see `crate::interrupt`).
pub(super) fn open_job(cli: &Cli, args: &JobArgs) -> Result<Job> {
    let config = Config::load(&args.config, &args.overrides).map_err(bad_input)?;
    let log_dir = log_folder(args)?;
    let job = Job::open(config, plugin_dirs(cli)?, &log_dir)?;
    interrupt::install();
    Ok(job)
}

/// `--log-dir`, or a new folder runs/<UTC time>-<config name> claimed for
/// this run alone (a suffix when two start in the same second); said on
/// stderr so the user knows where the results go.
pub(super) fn log_folder(args: &JobArgs) -> Result<PathBuf> {
    if let Some(dir) = &args.log_dir {
        return Ok(dir.clone());
    }
    let stem = args
        .config
        .file_stem()
        .map_or("run".into(), |s| s.to_string_lossy().into_owned());
    let stamp: String = crate::runner::provenance::now_utc()
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .collect();
    let runs = PathBuf::from("runs");
    std::fs::create_dir_all(&runs).context("creating the runs folder")?;
    for n in 1..1000 {
        let name = match n {
            1 => format!("{stamp}-{stem}"),
            n => format!("{stamp}-{stem}-{n}"),
        };
        let dir = runs.join(name);
        match std::fs::create_dir(&dir) {
            Ok(()) => {
                eprintln!("run folder: {}", dir.display());
                return Ok(dir);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(e).with_context(|| format!("creating {}", dir.display()));
            }
        }
    }
    anyhow::bail!("runs/: no free folder name for {stamp}-{stem}")
}

/// `--model-dir`, or LOG_DIR/models.
pub(super) fn model_folder(job: &Job, model_dir: &Option<PathBuf>) -> PathBuf {
    model_dir
        .clone()
        .unwrap_or_else(|| job.log_dir.join("models"))
}
