//! One file per command (cargo's layout): [`run`] (run, train), [`test`],
//! [`report`], [`plugins`], [`models`], [`sim`]; here the dispatch and what
//! several commands share (plugin folders, the registry, opening a job).

mod models;
mod plugins;
mod report;
mod rescore;

mod run;
mod sim;
mod sweep;
mod test;

use std::path::PathBuf;

use anyhow::{Context, Result};
use models::{models_fetch, models_list};
use plugins::{
    plugins_check, plugins_install, plugins_list, plugins_lock, plugins_new, plugins_publish,
    plugins_wit_fetch, plugins_wit_publish,
};
use report::report_html;
use run::{run, train};
use sim::sim_curve;
use test::test;

use crate::cli::{Cli, Command, JobArgs, ModelsCommand, PluginsCommand, SimCommand, WitCommand};
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
            lang,
            wit,
        }) => plugins_new(kind, name, dir, sdk.as_deref(), lang, wit.as_deref()),
        Command::Plugins(PluginsCommand::Wit(WitCommand::Publish { target, json })) => {
            plugins_wit_publish(target, *json)
        }
        Command::Plugins(PluginsCommand::Wit(WitCommand::Fetch { source, out, json })) => {
            plugins_wit_fetch(source, out, *json)
        }
        Command::Plugins(PluginsCommand::Install {
            sources,
            dir,
            force,
            json,
        }) => plugins_install(sources, dir.as_deref(), *force, *json),
        Command::Plugins(PluginsCommand::Publish { file, target, json }) => {
            plugins_publish(file, target, *json)
        }
        Command::Plugins(PluginsCommand::Lock {
            config,
            overrides,
            json,
        }) => plugins_lock(&cli, config, overrides, *json),
        Command::Models(ModelsCommand::List { json }) => models_list(*json),
        Command::Models(ModelsCommand::Fetch {
            names,
            verify,
            index_url,
        }) => models_fetch(names, *verify, index_url.clone()),
        Command::Sim(SimCommand::Curve(args)) => sim_curve(&cli, args),
        Command::Sweep(args) => sweep::sweep(&cli, args),
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
    load_registry_with(cli, Limits::default())
}

/// As [`load_registry`], each plugin with the limits and options `policy`
/// (a config's) gives it.
pub(super) fn load_registry_with(
    cli: &Cli,
    policy: impl Into<crate::plugins::PluginPolicy>,
) -> Result<PluginRegistry> {
    let engine = PluginEngine::new(crate::plugins::default_cache_dir())?;
    PluginRegistry::load(&engine, &plugin_dirs(cli)?, policy)
}

/// Opens a job for `run`, `train` or `test`; from here on Ctrl-C stops the
/// run after saving what is finished (see `crate::interrupt`).
/// `force`: write into a log folder that holds files but no run.json.
pub(super) fn open_job(cli: &Cli, args: &JobArgs, force: bool) -> Result<Job> {
    let config = Config::load(&args.config, &args.overrides).map_err(bad_input)?;
    let pins = match args.locked {
        true => Some(crate::share::lock::read_pins(&args.config).map_err(bad_input)?),
        false => None,
    };
    let log_dir = log_folder(args)?;
    let mut job = Job::open(config, plugin_dirs(cli)?, &log_dir, force, pins.as_ref())?;
    if args.tensorboard {
        job.enable_tensorboard()?;
    }
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
    let stamp: String = crate::runlog::provenance::now_utc()
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

/// `--calibrate`: each server role's scale of the prompt-token estimate,
/// from one request; local and simulated roles keep the estimate (said).
fn calibration(
    config: &Config,
    prompts: &crate::plugins::PromptTemplatePlugin,
    problem: &crate::plugins::dataset_adapter::Problem,
) -> Result<[f64; 2]> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let mut scale = [1.0, 1.0];
    for (i, role) in crate::runner::Role::ALL.into_iter().enumerate() {
        let (rc, role) = (role.config(&config.llm), role.name());
        if rc.provider != "openai" {
            eprintln!("calibrate: {role} ({}) keeps the estimate", rc.provider);
            continue;
        }
        let client = crate::llm::openai::OpenAiClient::new(rc.openai_options(role)?)?;
        let factor = rt
            .block_on(crate::runner::dry_run::calibrate(
                &client, config, prompts, problem,
            ))
            .with_context(|| format!("calibrating the {role}'s token count"))?;
        eprintln!(
            "calibrate: {role} ({}) counts {factor:.2}x the estimate (1 request, 1 completion token)",
            rc.model
        );
        scale[i] = factor;
    }
    Ok(scale)
}

/// `--dry-run`: the plan of a job with `train_eps` training episodes and
/// `test_eps` test problems (default: all) in each of `modes`.
pub(super) fn dry_run(
    cli: &Cli,
    args: &JobArgs,
    train_eps: u64,
    test_eps: Option<usize>,
    modes: &[crate::episode::Mode],
) -> Result<()> {
    use crate::runner::dry_run::{PlanRow, plan_row};
    let config = Config::load(&args.config, &args.overrides).map_err(bad_input)?;
    let registry = load_registry_with(cli, config.plugins.policy())?;
    let prompts = registry
        .prompt_template(&config.plugins.prompts)
        .map_err(bad_input)?;
    let adapter = registry
        .dataset_adapter(&config.dataset.adapter)
        .map_err(bad_input)?;
    let splits = crate::data::load_splits(&config, adapter)?;
    let scale = match splits.train.first().or(splits.test.first()) {
        Some(problem) if args.calibrate => calibration(&config, prompts, problem)?,
        _ => [1.0, 1.0],
    };
    let mut rows: Vec<PlanRow> = Vec::new();
    if train_eps > 0 && !splits.train.is_empty() {
        let problems: Vec<_> = (0..train_eps as usize)
            .map(|k| &splits.train[k % splits.train.len()])
            .collect();
        let mode = crate::runner::train_mode(&config);
        rows.push(plan_row(&config, prompts, &problems, mode, true, scale)?);
    }
    let tests: Vec<_> = splits
        .test
        .iter()
        .take(test_eps.unwrap_or(usize::MAX))
        .collect();
    for &mode in modes {
        rows.push(plan_row(&config, prompts, &tests, mode, false, scale)?);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    println!(
        "{:<6} {:<9} {:>8} {:>10} {:>14} {:>18} {:>12}",
        "phase", "mode", "episodes", "calls <=", "prompt tokens", "completion <=", "cost <="
    );
    let mut total = PlanRow::default();
    for r in &rows {
        let cost = r.cost_usd_max.map_or("-".into(), |c| format!("${c:.2}"));
        println!(
            "{:<6} {:<9} {:>8} {:>10} {:>14} {:>18} {:>12}",
            r.phase,
            r.mode,
            r.episodes,
            r.calls_max,
            r.prompt_tokens,
            r.completion_tokens_max,
            cost
        );
        total.episodes += r.episodes;
        total.calls_max += r.calls_max;
        total.prompt_tokens += r.prompt_tokens;
        total.completion_tokens_max += r.completion_tokens_max;
        total.cost_usd_max = match (total.cost_usd_max, r.cost_usd_max) {
            (a, None) => a,
            (a, Some(c)) => Some(a.unwrap_or(0.0) + c),
        };
    }
    let cost = total
        .cost_usd_max
        .map_or("-".into(), |c| format!("${c:.2}"));
    println!(
        "{:<16} {:>8} {:>10} {:>14} {:>18} {:>12}",
        "total",
        total.episodes,
        total.calls_max,
        total.prompt_tokens,
        total.completion_tokens_max,
        cost
    );
    println!(
        "(calls if every BNE round runs; prompt tokens from the rendered prompts with the \
         models' text at its budget; completion tokens and cost if every call writes its \
         max_tokens)"
    );
    Ok(())
}
