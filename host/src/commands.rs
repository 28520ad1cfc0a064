//! What each subcommand does.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::{Context, Result};

use crate::cli::{
    Cli, Command, JobArgs, ModelsCommand, PluginsCommand, RunArgs, TestArgs, TestMode, TrainArgs,
};
use crate::config::Config;
use crate::episode::Mode;
use crate::error::bad_input;
use crate::learner::Learner;
use crate::plugins::dataset_adapter::Problem;
use crate::plugins::{self, Limits, Plugin, PluginEngine, PluginRegistry};
use crate::runner::{self, Job};
use crate::summary::{self, ModeSummary, TrainSummary};

pub fn dispatch(cli: Cli) -> Result<()> {
    match &cli.command {
        Command::Run(args) => run(&cli, args),
        Command::Train(args) => train(&cli, args),
        Command::Test(args) => test(&cli, args),
        Command::Plugins(PluginsCommand::List { json }) => plugins_list(&cli, *json),
        Command::Plugins(PluginsCommand::Check { file, json }) => plugins_check(file, *json),
        Command::Models(ModelsCommand::List) => models_list(),
        Command::Models(ModelsCommand::Fetch {
            names,
            verify,
            index_url,
        }) => models_fetch(names, *verify, index_url.clone()),
    }
}

/// Built-in folders first, then each `--plugins DIR` in order (later wins).
fn plugin_dirs(cli: &Cli) -> Result<Vec<PathBuf>> {
    let mut dirs = plugins::default_plugin_dirs();
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

fn load_registry(cli: &Cli) -> Result<PluginRegistry> {
    let engine = PluginEngine::new(plugins::default_cache_dir())?;
    PluginRegistry::load(&engine, &plugin_dirs(cli)?, Limits::default())
}

fn open_job(cli: &Cli, args: &JobArgs) -> Result<Job> {
    let config = Config::load(&args.config, &args.overrides).map_err(bad_input)?;
    Job::open(config, plugin_dirs(cli)?, &args.log_dir)
}

fn run(cli: &Cli, args: &RunArgs) -> Result<()> {
    let job = open_job(cli, &args.job)?;
    let mut learner = job.new_learner()?;
    let mut train = None;
    if args.train_eps > 0 {
        let (trained, summary) = job.train(learner, args.train_eps, &args.model_dir, false)?;
        learner = trained;
        train = Some(summary);
    } else {
        tracing::warn!("--train-eps 0: testing untrained belief networks");
    }
    let problems = test_problems(&job, args.test_eps, &HashSet::new())?;
    let learner = Mutex::new(learner);
    let mut modes = Vec::new();
    for mode in [Mode::Baseline, Mode::Bne] {
        modes.push((mode, job.test(&learner, &problems, mode)?));
    }
    report(&job, &args.job, train.as_ref(), &modes)
}

fn train(cli: &Cli, args: &TrainArgs) -> Result<()> {
    let job = open_job(cli, &args.job)?;
    let learner = job.new_learner()?;
    let (_, summary) = job.train(learner, args.train_eps, &args.model_dir, args.resume)?;
    report(&job, &args.job, Some(&summary), &[])
}

fn test(cli: &Cli, args: &TestArgs) -> Result<()> {
    let job = open_job(cli, &args.job)?;
    let dir = runner::checkpoint_dir(&args.checkpoint)?;
    let meta = Learner::read_meta(&dir).map_err(bad_input)?;
    let learner = Learner::load(&dir, job.config.nets.clone(), crate::torch_device())
        .map_err(bad_input)
        .with_context(|| format!("--checkpoint {}", dir.display()))?;
    let trained: HashSet<String> = meta.extra["train_ids"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let problems = test_problems(&job, args.test_eps, &trained)?;
    let learner = Mutex::new(learner);
    let wanted: &[Mode] = match args.mode {
        TestMode::Baseline => &[Mode::Baseline],
        TestMode::Bne => &[Mode::Bne],
        TestMode::All => &[Mode::Baseline, Mode::Bne],
    };
    let mut modes = Vec::new();
    for &mode in wanted {
        modes.push((mode, job.test(&learner, &problems, mode)?));
    }
    report(&job, &args.job, None, &modes)
}

/// The first `limit` test problems, leaving out any the checkpoint trained on.
fn test_problems(
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

/// summary.json (merged with what the log folder has) and the terminal lines.
fn report(
    job: &Job,
    args: &JobArgs,
    train: Option<&TrainSummary>,
    modes: &[(Mode, ModeSummary)],
) -> Result<()> {
    let registry = job.live.snapshot();
    let plugins: Vec<String> = registry
        .plugins()
        .map(|p| format!("{}@{}", p.info().name, p.info().version))
        .collect();
    let mut value = serde_json::json!({
        "modes": modes
            .iter()
            .map(|(m, s)| (m.as_str().to_string(), serde_json::to_value(s).unwrap_or_default()))
            .collect::<serde_json::Map<_, _>>(),
        "config": job.config,
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
    let merged = summary::merge_into(&args.log_dir.join("summary.json"), value)?;
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
    for (mode, s) in modes {
        let label = match mode {
            Mode::Baseline => "Baseline (no BNE)".to_string(),
            Mode::Bne => format!("BNE ({} rounds)", job.config.nets.bne.max_iterations_infer),
        };
        println!(
            "{}   [{}, {:.0} tokens/episode]",
            s.line(&label),
            s.parse_line(),
            s.tokens.per_episode
        );
    }
    println!("logs: {}", args.log_dir.display());
    Ok(())
}

fn plugins_list(cli: &Cli, json: bool) -> Result<()> {
    let registry = load_registry(cli)?;
    let infos: Vec<_> = registry.plugins().map(|p| p.info().clone()).collect();
    if json {
        let out = serde_json::json!({
            "plugins": infos,
            "shadowed": registry.shadowed(),
            "failures": registry.failures(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "{:<20} {:<16} {:<9} {:<6} SOURCE",
        "NAME", "KIND", "VERSION", "WIT"
    );
    for i in &infos {
        println!(
            "{:<20} {:<16} {:<9} {:<6} {}",
            i.name,
            i.kind.to_string(),
            i.version,
            i.wit_version,
            i.file.display()
        );
    }
    for s in registry.shadowed() {
        println!(
            "(overridden) {}@{} from {}",
            s.name,
            s.version,
            s.file.display()
        );
    }
    for f in registry.failures() {
        println!("(failed) {}: {}", f.file.display(), f.error);
    }
    Ok(())
}

fn plugins_check(file: &std::path::Path, json: bool) -> Result<()> {
    let engine = PluginEngine::new(None)?;
    let source = file.parent().unwrap_or(std::path::Path::new("."));
    let plugin = Plugin::load(&engine, file, source, Limits::default()).map_err(bad_input)?;
    let info = plugin.info();
    if json {
        println!("{}", serde_json::to_string_pretty(&**info)?);
    } else {
        println!("{}: ok", file.display());
        println!(
            "  world    {}/{}@{}",
            plugins::WIT_PACKAGE,
            info.kind,
            info.wit_version
        );
        println!("  name     {}", info.name);
        println!("  version  {}", info.version);
        println!("  about    {}", info.description);
        if !info.author.is_empty() {
            println!("  author   {}", info.author);
        }
        println!("  sha256   {}", info.sha256);
    }
    Ok(())
}

fn models_list() -> Result<()> {
    let dir = crate::models::cache_dir();
    for (name, spec) in crate::models::catalogue().map_err(bad_input)? {
        let state = match crate::models::fetch::present(&spec, &dir, false)? {
            crate::models::fetch::Presence::Missing => "missing",
            _ => "fetched",
        };
        println!(
            "{name:<18} {:>6.0} MB  {state:<8} {}",
            spec.size as f64 / 1e6,
            spec.description
        );
    }
    println!("cache: {}", dir.display());
    Ok(())
}

fn models_fetch(names: &[String], verify: bool, index_url: Option<String>) -> Result<()> {
    let options = crate::models::fetch::FetchOptions {
        cache: crate::models::cache_dir(),
        verify,
        index_url,
    };
    crate::models::fetch::fetch(names, &options)
}
