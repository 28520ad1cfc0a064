//! What each subcommand does.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::{Context, Result};

use crate::cli::{
    Cli, Command, JobArgs, ModelsCommand, PluginsCommand, ReportArgs, RunArgs, SimCommand,
    TestArgs, TestMode, TrainArgs,
};
use crate::config::Config;
use crate::episode::Mode;
use crate::episode::summary::{self, ModeSummary, TrainSummary};
use crate::error::{Interrupted, bad_input};
use crate::interrupt;
use crate::learn::Learner;
use crate::plugins::dataset_adapter::Problem;
use crate::plugins::{self, Limits, Plugin, PluginEngine, PluginRegistry};
use crate::runner::Job;

pub fn dispatch(cli: Cli) -> Result<()> {
    match &cli.command {
        Command::Run(args) => run(&cli, args),
        Command::Train(args) => train(&cli, args),
        Command::Test(args) => test(&cli, args),
        Command::Report(args) => report_html(args),
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

/// Opens a job for `run`, `train` or `test`; from here on Ctrl-C stops the
/// run after saving what is finished (see `crate::interrupt`).
fn open_job(cli: &Cli, args: &JobArgs) -> Result<Job> {
    let config = Config::load(&args.config, &args.overrides).map_err(bad_input)?;
    let job = Job::open(config, plugin_dirs(cli)?, &args.log_dir)?;
    interrupt::install();
    Ok(job)
}

fn run(cli: &Cli, args: &RunArgs) -> Result<()> {
    let job = open_job(cli, &args.job)?;
    let mut learner = job.new_learner()?;
    let mut train = None;
    if args.train_eps > 0 {
        let (trained, summary) = job.train(learner, args.train_eps, &args.model_dir, false)?;
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
fn test_modes(
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

fn training_interrupted(summary: &TrainSummary, planned: u64) -> anyhow::Error {
    let done = summary.results.episodes;
    let kept = match &summary.last_checkpoint {
        Some(dir) => format!("networks saved in {dir}"),
        None => "no episode had finished".to_string(),
    };
    anyhow::Error::new(Interrupted(format!(
        "interrupted after {done} of {planned} training episodes ({kept}); \
         `econ-host train --resume --train-eps {planned}` with the same --config, \
         --model-dir and --log-dir goes on from there"
    )))
}

fn test_interrupted(modes: &[(Mode, ModeSummary)], planned: usize) -> Result<()> {
    match modes.last() {
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
fn expand_modes(list: &[TestMode]) -> Vec<Mode> {
    let mut out: Vec<Mode> = Vec::new();
    for m in list {
        let these: &[Mode] = match m {
            TestMode::Baseline => &[Mode::Baseline],
            TestMode::Bne => &[Mode::Bne],
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

fn sim_curve(cli: &Cli, args: &crate::cli::CurveArgs) -> Result<()> {
    if args.every == 0 || args.train_eps == 0 {
        return Err(bad_input(anyhow::anyhow!(
            "--every and --train-eps must be at least 1"
        )));
    }
    let mut config = Config::load(&args.job.config, &args.job.overrides).map_err(bad_input)?;
    config.runner.save_interval = args.every;
    let job = Job::open(config, plugin_dirs(cli)?, &args.job.log_dir)?;
    interrupt::install();
    let eval = args.eval_eps.unwrap_or(job.splits.test.len());
    let points = crate::sim::curve::run(&job, args.train_eps, args.every, eval, &args.model_dir)?;
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
        args.job
            .log_dir
            .join(crate::sim::curve::CURVE_FILE)
            .display()
    );
    Ok(())
}

fn train(cli: &Cli, args: &TrainArgs) -> Result<()> {
    let job = open_job(cli, &args.job)?;
    let learner = job.new_learner()?;
    let (_, summary) = job.train(learner, args.train_eps, &args.model_dir, args.resume)?;
    report(&job, &args.job, Some(&summary), &[])?;
    if summary.results.interrupted {
        return Err(training_interrupted(&summary, args.train_eps));
    }
    Ok(())
}

fn test(cli: &Cli, args: &TestArgs) -> Result<()> {
    let mut wanted = expand_modes(&args.mode);
    let job = open_job(cli, &args.job)?;
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
                .any(|m| matches!(m, TestMode::Baseline | TestMode::Bne));
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
    let b = &job.config.baselines;
    let n = job.config.nets.n_agents;
    for (mode, s) in modes {
        let label = match mode {
            Mode::Baseline => "Baseline (no BNE)".to_string(),
            Mode::Bne => format!("BNE ({} rounds)", job.config.nets.bne.max_iterations_infer),
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
    println!("logs: {}", args.log_dir.display());
    Ok(())
}

fn report_html(args: &ReportArgs) -> Result<()> {
    let mut dirs = vec![args.log_dir.clone()];
    dirs.extend(args.compare.iter().cloned());
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.log_dir.join("report.html"));
    let written = crate::report::write(&dirs, &out)?;
    println!("report: {} ({written} runs)", out.display());
    Ok(())
}

fn plugins_list(cli: &Cli, json: bool) -> Result<()> {
    let registry = load_registry(cli)?;
    let infos: Vec<_> = registry.plugins().map(|p| p.info().clone()).collect();
    if json {
        // Each plugin's info plus `origin`: built-in, user or --plugins.
        let with_origin = |i: &plugins::PluginInfo| -> Result<serde_json::Value> {
            let mut v = serde_json::to_value(i)?;
            v["origin"] = plugins::folder_origin(&i.source).into();
            Ok(v)
        };
        let out = serde_json::json!({
            "plugins": infos.iter().map(|i| with_origin(i)).collect::<Result<Vec<_>>>()?,
            "shadowed": registry.shadowed().iter().map(|i| with_origin(i)).collect::<Result<Vec<_>>>()?,
            "failures": registry.failures(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "{:<20} {:<16} {:<9} {:<6} {:<10} FILE",
        "NAME", "KIND", "VERSION", "WIT", "SOURCE"
    );
    for i in &infos {
        println!(
            "{:<20} {:<16} {:<9} {:<6} {:<10} {}",
            i.name,
            i.kind.to_string(),
            i.version,
            i.wit_version,
            plugins::folder_origin(&i.source),
            i.file.display()
        );
    }
    for s in registry.shadowed() {
        let winner = registry.get(&s.name).map(|w| w.info().clone());
        println!(
            "(overridden) {}@{} ({}) from {}{}",
            s.name,
            s.version,
            plugins::folder_origin(&s.source),
            s.file.display(),
            winner
                .map(|w| format!(
                    ": {} from {} wins",
                    plugins::folder_origin(&w.source),
                    w.file.display()
                ))
                .unwrap_or_default()
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

fn plugins_new(
    kind: &str,
    name: &str,
    dir: &std::path::Path,
    sdk: Option<&std::path::Path>,
) -> Result<()> {
    use crate::scaffold::{self, Sdk};
    let kind = plugins::PluginKind::ALL
        .into_iter()
        .find(|k| k.world() == kind)
        .ok_or_else(|| bad_input(anyhow::anyhow!("unknown plugin kind {kind}")))?;
    let sdk = scaffold::find_sdk(sdk).map_err(bad_input)?;
    let crate_dir = scaffold::create(dir, kind, name, &sdk).map_err(bad_input)?;
    println!("created {kind} plugin {name} in {}", crate_dir.display());
    match &sdk {
        Sdk::Given(p) | Sdk::Found(p) => println!("  econ-plugin-sdk: {}", p.display()),
        Sdk::Missing => eprintln!(
            "warning: no econ-plugin-sdk found (not built from a checkout, none above this \
             folder): edit the TODO in {}/Cargo.toml or run again with --sdk PATH",
            crate_dir.display()
        ),
    }
    let wasm = format!(
        "target/wasm32-wasip2/release/{}.wasm",
        name.replace('-', "_")
    );
    println!("next:");
    println!("  cd {}", crate_dir.display());
    println!("  cargo test                                     # its unit tests");
    println!("  cargo build --release --target wasm32-wasip2   # the plugin");
    println!("  econ-host plugins check {wasm}");
    println!("  econ-host plugins install {wasm}");
    Ok(())
}

fn plugins_install(paths: &[PathBuf], dir: Option<&std::path::Path>, force: bool) -> Result<()> {
    use crate::plugins::install::{self, Installed};
    let dest = match dir {
        Some(d) => d.to_path_buf(),
        None => plugins::user_plugin_dir().ok_or_else(|| {
            bad_input(anyhow::anyhow!(
                "no user plugin folder (no home folder): pass --dir or set {}",
                plugins::PLUGIN_DIR_ENV
            ))
        })?,
    };
    let mut files = Vec::new();
    for path in paths {
        files.extend(install::wasm_files(path).map_err(bad_input)?);
    }
    let engine = PluginEngine::new(plugins::default_cache_dir())?;
    let mut refused = 0;
    for file in &files {
        match install::install(&engine, file, &dest, force) {
            Ok(Installed::New { info }) => println!(
                "installed {}@{} ({}) -> {}",
                info.name,
                info.version,
                info.kind,
                info.file.display()
            ),
            Ok(Installed::Replaced { old, info }) => println!(
                "replaced  {}@{} (sha256 {}) with {}@{} (sha256 {}) -> {}",
                old.name,
                old.version,
                &old.sha256[..12],
                info.name,
                info.version,
                &info.sha256[..12],
                info.file.display()
            ),
            Ok(Installed::Unchanged { info }) => println!(
                "unchanged {}@{}: already installed at {}",
                info.name,
                info.version,
                info.file.display()
            ),
            Err(e) => {
                refused += 1;
                eprintln!("refused   {}: {e:#}", file.display());
            }
        }
    }
    if refused > 0 {
        return Err(bad_input(anyhow::anyhow!(
            "{refused} of {} plugin files not installed",
            files.len()
        )));
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
