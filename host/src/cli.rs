//! Command-line interface (clap derive); see DESIGN.md "CLI contract".

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
    /// Train N episodes, then test M episodes (baseline and BNE modes).
    Run(RunArgs),
    /// Inspect plugins.
    #[command(subcommand)]
    Plugins(PluginsCommand),
    /// Packaged models.
    #[command(subcommand)]
    Models(ModelsCommand),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    #[arg(long, default_value_t = 0)]
    pub train_eps: usize,
    #[arg(long, default_value_t = 3)]
    pub test_eps: usize,
    #[arg(long, value_name = "DIR", default_value = "logs")]
    pub log_dir: PathBuf,
    #[arg(long, value_name = "DIR", default_value = "models")]
    pub model_dir: PathBuf,
    /// Override a config key, e.g. --set n_agents=5 --set llm.executor.max_tokens=128.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Print the summary as JSON on stdout instead of the human lines.
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
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// The packaged models and whether they are fetched.
    List,
}
