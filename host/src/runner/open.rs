//! Opening a job: the log folder claimed, plugins loaded and checked, data,
//! LLM clients probed in their dialects, the encoder, run.json written; what
//! start-up costs, phase by phase.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result};

use super::{Job, Resources, Role, clients};
use crate::config::Config;
use crate::error::bad_input;
use crate::plugins::{LiveRegistry, PluginEngine};
use crate::runlog::{lock, provenance};

/// The plugin files a run must use (a lock file's, `--locked`): by name.
#[derive(Clone, Debug)]
pub struct Pins {
    /// The lock file, for messages.
    pub file: PathBuf,
    pub plugins: std::collections::BTreeMap<String, Pin>,
}

#[derive(Clone, Debug)]
pub struct Pin {
    pub version: String,
    pub sha256: String,
    pub source: String,
}

impl Job {
    /// Open a job writing into `log_dir`: empty, new, or a run's folder
    /// (run.json), unless `force` (see [`provenance::check_log_folder`]). A
    /// job refused before it starts leaves no folder it made behind. With
    /// `pins`, every plugin the config names must be the pinned file, and
    /// plugin folders are not watched (a locked run does not hot-reload).
    pub fn open(
        config: Config,
        plugin_dirs: Vec<PathBuf>,
        log_dir: &Path,
        force: bool,
        pins: Option<&Pins>,
    ) -> Result<Job> {
        let fresh = std::fs::read_dir(log_dir).map_or(true, |mut d| d.next().is_none());
        let job = Self::open_in(config, plugin_dirs, log_dir, force, pins);
        if job.is_err() && fresh {
            let _ = std::fs::remove_file(log_dir.join(lock::LOCK_FILE));
            let _ = std::fs::remove_dir(log_dir);
        }
        job
    }

    fn open_in(
        config: Config,
        plugin_dirs: Vec<PathBuf>,
        log_dir: &Path,
        force: bool,
        pins: Option<&Pins>,
    ) -> Result<Job> {
        // Where start-up time goes, logged once the job is ready.
        let mut startup = Startup::new();
        let threads = torch_threads(&config);
        tch::set_num_threads(threads as i32);
        tracing::info!("libtorch uses {threads} threads");
        tch::manual_seed(config.seed as i64);
        let log_lock = lock::FolderLock::acquire(log_dir, "log folder")?;
        provenance::check_log_folder(log_dir, force)?;

        startup.done("libtorch");
        let engine = PluginEngine::new(crate::plugins::default_cache_dir())?;
        let live = LiveRegistry::new(engine, plugin_dirs, config.plugins.policy())?;
        let watch = match (pins, live.watch()) {
            (Some(p), _) => {
                tracing::info!(
                    "--locked ({}): plugin folders are not watched",
                    p.file.display()
                );
                None
            }
            (None, Ok(w)) => Some(w),
            (None, Err(e)) => {
                tracing::warn!("plugin folders are not watched, no hot reload: {e:#}");
                None
            }
        };
        let registry = live.snapshot();
        check_plugin_names(&config, &registry)?;
        if let Some(pins) = pins {
            check_pins(&config, &registry, pins)?;
        }
        // A plugin that replaces a built-in one is said, not silent.
        for p in registry.plugins() {
            if let Some(b) = registry.overridden_builtin(&p.info().name) {
                eprintln!(
                    "warning: plugin {}@{} from {} overrides the built-in {}@{} (recorded in \
                     run.json and in every trace)",
                    p.info().name,
                    crate::error::printable(&p.info().version),
                    p.info().file.display(),
                    b.name,
                    crate::error::printable(&b.version)
                );
            }
        }
        let adapter = registry
            .dataset_adapter(&config.dataset.adapter)
            .map_err(bad_input)?;
        startup.done("plugins");
        let splits = crate::data::load_splits(&config, adapter)?;
        startup.done("data");
        tracing::info!(
            "data: {} ({} train, {} test problems)",
            splits.source,
            splits.train.len(),
            splits.test.len()
        );

        let (coordinator, executor) = clients::llm_roles(&config, &splits)?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        // Each OpenAI-compatible server's dialect, probed once where the
        // config leaves it to "auto"; an action it cannot receive is said now.
        rt.block_on(async {
            coordinator.probe().await;
            executor.probe().await;
        });
        let fixed_penalty = unreachable_penalty(&config, executor.dialect())?;
        startup.done("LLMs");
        let embedder = crate::embed::load(&config.embedding, &config.base_dir)?;
        check_embedding_width(&config, embedder.dim())?;
        startup.done("embedder");

        let mut run = provenance::record_run(&config, &registry, &splits)?;
        // A job in a folder of the same config continues that run (resume,
        // test): it keeps its id; a new folder starts a new run.
        run.run_id = match provenance::check_same_config(log_dir, &run.config_sha256)? {
            Some(previous) if !previous.run_id.is_empty() => previous.run_id,
            _ => provenance::new_run_id(log_dir, &run.started),
        };
        for (role, client) in [("coordinator", &coordinator), ("executor", &executor)] {
            if let Some(d) = client.dialect() {
                run.llm_dialects.insert(role.to_string(), d);
            }
        }
        run.fixed_actions = fixed_penalty
            .map(|p| format!("repetition_penalty = {p} (the executors' server cannot receive it)"));
        provenance::write(log_dir, &run)?;
        startup.done("run.json");
        tracing::info!("{startup}");

        let simulated = [&config.llm.coordinator, &config.llm.executor]
            .iter()
            .any(|r| r.provider == "sim");
        let sim_world =
            simulated.then(|| Arc::new(crate::sim::World::of_splits(config.sim.clone(), &splits)));
        Ok(Job {
            res: Resources {
                config: config.clone(),
                fixed_penalty,
                coordinator,
                executor,
                embedder: Arc::new(Mutex::new(embedder)),
                models: model_labels(&config, &run),
            },
            config,
            live,
            _watch: watch,
            splits,
            log_dir: log_dir.to_path_buf(),
            _log_lock: log_lock,
            resume_tests: false,
            board: Mutex::new(None),
            spent: Mutex::new((0, 0.0)),
            run,
            sim_world,
            rt: Some(rt),
        })
    }
}

/// Every plugin the config names is the file `pins` pins (exit 2 if not).
fn check_pins(
    config: &Config,
    registry: &crate::plugins::PluginRegistry,
    pins: &Pins,
) -> Result<()> {
    let mut wrong = Vec::new();
    for (key, name) in config.plugin_keys() {
        let Some(info) = registry.get(name).map(|p| p.info().clone()) else {
            continue;
        };
        match pins.plugins.get(name) {
            None => wrong.push(format!("{key} = {name:?}: not in the lock file")),
            Some(pin) if pin.sha256 != info.sha256 => wrong.push(format!(
                "{key} = {name:?}: found {}@{} (sha256 {}) in {}, locked {}@{} (sha256 {}, {})",
                info.name,
                crate::error::printable(&info.version),
                &info.sha256[..12.min(info.sha256.len())],
                info.file.display(),
                info.name,
                crate::error::printable(&pin.version),
                &pin.sha256[..12.min(pin.sha256.len())],
                pin.source
            )),
            Some(_) => {}
        }
    }
    if wrong.is_empty() {
        return Ok(());
    }
    Err(bad_input(anyhow::anyhow!(
        "--locked: the plugins found are not the ones {} pins:\n  {}\ninstall the locked \
         files, or write the lock again (`econ-host plugins lock --config ...`)",
        pins.file.display(),
        wrong.join("\n  ")
    )))
}

/// The plugins the config names are loaded (a limits table for a plugin
/// not loaded yet is only a warning: it may be dropped in later).
fn check_plugin_names(config: &Config, registry: &crate::plugins::PluginRegistry) -> Result<()> {
    // A plugin that failed to load because of the config (its options) is
    // the config's error, not a missing plugin.
    let failed = |name: &str| {
        let key = format!("[plugins.options.{name}]");
        registry
            .failures()
            .iter()
            .find(|f| f.error.contains(&key))
            .map(|f| bad_input(anyhow::anyhow!("config: {}", f.error)))
    };
    for (_, name) in config.plugin_keys() {
        if registry.get(name).is_none() {
            return Err(failed(name).unwrap_or_else(|| {
                bad_input(anyhow::anyhow!(
                    "config: plugin {name:?} is not among the loaded plugins (see `econ-host \
                     plugins list`)"
                ))
            }));
        }
    }
    // Each configured plugin must be of the kind its key asks for: a reward
    // plugin named as the parser fails here, not on every episode.
    let kinds: [(&str, &String, Result<()>); 4] = [
        (
            "plugins.prompts",
            &config.plugins.prompts,
            registry.prompt_template(&config.plugins.prompts).map(drop),
        ),
        (
            "plugins.parser",
            &config.plugins.parser,
            registry.answer_parser(&config.plugins.parser).map(drop),
        ),
        (
            "plugins.reward",
            &config.plugins.reward,
            registry.reward(&config.plugins.reward).map(drop),
        ),
        (
            "dataset.adapter",
            &config.dataset.adapter,
            registry.dataset_adapter(&config.dataset.adapter).map(drop),
        ),
    ];
    for (key, name, kind) in kinds {
        if let Err(e) = kind {
            return Err(bad_input(e.context(format!("key {key} = {name:?}"))));
        }
    }
    for name in config.plugins.options.keys() {
        if let Some(e) = failed(name) {
            return Err(e);
        }
        if registry.get(name).is_none() {
            return Err(bad_input(anyhow::anyhow!(
                "config: [plugins.options.{name}] names no loaded plugin (see `econ-host \
                 plugins list`)"
            )));
        }
    }
    for name in config.plugins.limits.keys() {
        if registry.get(name).is_none() {
            tracing::warn!(
                "config: [plugins.limits.{name}] names no loaded plugin (yet: a plugin \
                 dropped into a plugin folder later gets them)"
            );
        }
    }
    Ok(())
}

/// Start-up phases and their times, for one log line: what to shorten.
struct Startup {
    began: Instant,
    last: Instant,
    phases: Vec<(&'static str, std::time::Duration)>,
}

impl Startup {
    fn new() -> Self {
        let now = Instant::now();
        Startup {
            began: now,
            last: now,
            phases: Vec::new(),
        }
    }

    fn done(&mut self, phase: &'static str) {
        let now = Instant::now();
        self.phases.push((phase, now - self.last));
        self.last = now;
    }
}

impl std::fmt::Display for Startup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ready in {:.2} s:", self.began.elapsed().as_secs_f64())?;
        for (phase, took) in &self.phases {
            write!(f, " {phase} {:.2} s", took.as_secs_f64())?;
        }
        Ok(())
    }
}

/// The value the repetition penalty is held at when the executors' server
/// cannot receive it (`llm.unreachable_actions = "fix"`: said here, before
/// the first episode), or the error that stops the run ("stop", exit 2).
/// None where it reaches the model.
fn unreachable_penalty(
    config: &Config,
    executor: Option<crate::llm::dialect::Resolved>,
) -> Result<Option<f32>> {
    let Some(d) = executor.filter(|d| !d.penalty_reaches()) else {
        return Ok(None);
    };
    let s = &config.nets.sampling;
    // Neutral for a server (1.0), within the action bounds.
    let fixed = 1.0f64.clamp(s.p_min, s.p_max) as f32;
    let what = format!(
        "the executors' server (dialect {}, found by {}) cannot receive the repetition \
         penalty, ECON's second action",
        d.dialect.name(),
        d.found_by
    );
    if config.llm.unreachable_actions == "stop" {
        return Err(bad_input(anyhow::anyhow!(
            "{what}: set llm.unreachable_actions = \"fix\" to run with it held at {fixed}, set \
             llm.executor.dialect if the server was misjudged, or use a server that takes it"
        )));
    }
    eprintln!(
        "warning: {what}; it is held at {fixed} for this run (recorded in run.json; the learner \
         sees it fixed). llm.unreachable_actions = \"stop\" refuses such a run."
    );
    Ok(Some(fixed))
}

/// `runner.torch_threads`, or when 0: one thread if an LLM role decodes on
/// this machine (llama.cpp wants every core), else every core (the CPU is
/// idle while remote servers answer).
fn torch_threads(config: &Config) -> usize {
    if config.runner.torch_threads > 0 {
        return config.runner.torch_threads;
    }
    let local = [&config.llm.coordinator, &config.llm.executor]
        .iter()
        .any(|r| r.provider == "local");
    if local {
        1
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

fn check_embedding_width(config: &Config, dim: usize) -> Result<()> {
    for (key, want) in [
        ("obs_dim", config.nets.obs_dim),
        (
            "commitment_embedding_dim",
            config.nets.commitment_embedding_dim,
        ),
    ] {
        if want != dim {
            return Err(bad_input(anyhow::anyhow!(
                "key {key}: {want}, but the embedding model {:?} gives {dim}-d vectors; set {key} = {dim}",
                config.embedding.model
            )));
        }
    }
    Ok(())
}

/// Which model each LLM role runs, as every trace line records it:
/// `coordinator=NAME sha256:PREFIX` for a local GGUF (the hash from `run`),
/// `executor=NAME (provider)` for a server, which decides what NAME is.
pub fn model_labels(config: &Config, run: &crate::runlog::provenance::RunRecord) -> Vec<String> {
    Role::ALL
        .into_iter()
        .map(|role| {
            let (rc, role) = (role.config(&config.llm), role.name());
            let hash = (rc.provider == "local")
                .then(|| crate::models::resolve(&rc.model, &config.base_dir).ok())
                .flatten()
                .and_then(|path| run.files.iter().find(|f| f.path == path))
                .map(|f| format!(" sha256:{}", &f.sha256[..16.min(f.sha256.len())]));
            match hash {
                Some(hash) => format!("{role}={}{hash}", rc.model),
                None => format!("{role}={} ({})", rc.model, rc.provider),
            }
        })
        .collect()
}
