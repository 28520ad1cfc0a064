//! The WebAssembly plugin host: one engine, sandboxed per-call stores, typed
//! wrappers per world, and a registry of what was found where.

mod call;
mod engine;
mod handles;
pub mod install;
mod lift;
mod limits;
mod options;
mod registry;
mod reload;
mod wit;
mod worlds;

pub(crate) use engine::sha256_hex;
pub use engine::{Loaded, MAX_PLUGIN_FILE_BYTES, PluginEngine, read_plugin_file};
pub use handles::{
    AnswerParserPlugin, DatasetAdapterPlugin, Plugin, PluginId, PluginInfo, PromptTemplatePlugin,
    RewardPlugin, component_interfaces, is_plugin_name,
};
pub use limits::{Limits, MAX_PLUGIN_DEADLINE_MS, MAX_PLUGIN_MEMORY_MIB, PluginPolicy};
pub use options::DeclaredOption;
pub use registry::{LoadFailure, PluginRegistry};
pub use reload::{DEBOUNCE, LiveRegistry, WatchGuard};
pub use wit::{
    SUPPORTED as SUPPORTED_WIT, WIT_PACKAGE, WIT_TEXT, WIT_VERSION, same_line as same_wit_line,
    serves as serves_wit,
};
pub use worlds::{
    PluginKind, answer_parser, dataset_adapter, detect_world, prompt_template, reward,
};

use std::path::PathBuf;

/// Where compiled plugin artifacts are cached between starts:
/// `$ECON_HOST_HOME/compiled-plugins`, else `~/.cache/econ-host/compiled-plugins`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let home = match std::env::var_os("ECON_HOST_HOME") {
        Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => dirs::cache_dir().map(|d| d.join("econ-host")),
    };
    home.map(|d| d.join("compiled-plugins"))
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

/// Overrides [`user_plugin_dir`] (where `plugins install` copies to, and the
/// second folder every command loads plugins from).
pub const PLUGIN_DIR_ENV: &str = "ECON_HOST_PLUGIN_DIR";

/// The user's plugin folder: `$ECON_HOST_PLUGIN_DIR` when set, else
/// `~/.local/share/econ-host/plugins` (or the platform's data folder).
pub fn user_plugin_dir() -> Option<PathBuf> {
    match std::env::var_os(PLUGIN_DIR_ENV) {
        Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => dirs::data_dir().map(|d| d.join("econ-host").join("plugins")),
    }
}

/// Which of the three kinds of plugin folder `dir` is, for `plugins list`.
pub fn folder_origin(dir: &std::path::Path) -> &'static str {
    let same = |other: Option<PathBuf>| {
        other.is_some_and(|o| {
            o == dir || matches!((o.canonicalize(), dir.canonicalize()), (Ok(a), Ok(b)) if a == b)
        })
    };
    let builtin = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|p| p.join("plugins")));
    if same(builtin) {
        "built-in"
    } else if same(user_plugin_dir()) {
        "user"
    } else {
        "--plugins"
    }
}
