//! The WebAssembly plugin host: one engine, sandboxed per-call stores, typed
//! wrappers per world, and a registry of what was found where.

mod call;
mod engine;
mod handles;
mod limits;
mod registry;
mod reload;
mod worlds;

pub use engine::{Loaded, PluginEngine};
pub use handles::{
    AnswerParserPlugin, DatasetAdapterPlugin, Plugin, PluginInfo, PromptTemplatePlugin,
    RewardPlugin, is_plugin_name,
};
pub use limits::Limits;
pub use registry::{LoadFailure, PluginRegistry};
pub use reload::{DEBOUNCE, LiveRegistry, WatchGuard};
pub use worlds::{
    PluginKind, WIT_PACKAGE, WIT_VERSION, answer_parser, dataset_adapter, detect_world,
    prompt_template, reward,
};

use std::path::PathBuf;

/// Where compiled plugin artifacts are cached between starts.
pub fn default_cache_dir() -> Option<PathBuf> {
    dirs::cache_dir().map(|d| d.join("econ-host").join("compiled-plugins"))
}

/// The plugin folders searched before any `--plugins DIR`: the `plugins/`
/// folder beside the executable (where the build puts the built-in plugins),
/// then the user's plugin folder.
pub fn default_plugin_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(PathBuf::from))
    {
        dirs.push(exe_dir.join("plugins"));
    }
    if let Some(user) = user_plugin_dir() {
        dirs.push(user);
    }
    dirs.into_iter().filter(|d| d.is_dir()).collect()
}

/// `~/.local/share/econ-host/plugins` (or the platform's data folder).
pub fn user_plugin_dir() -> Option<PathBuf> {
    dirs::data_dir().map(|d| d.join("econ-host").join("plugins"))
}
