//! Every plugin the host found, by name: later folders override earlier ones.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};

use super::engine::{PluginEngine, sha256_hex};
use super::handles::{
    AnswerParserPlugin, DatasetAdapterPlugin, Plugin, PluginInfo, PromptTemplatePlugin,
    RewardPlugin,
};
use super::limits::PluginPolicy;
use super::worlds::PluginKind;

/// A file in a plugin folder that did not load, and why.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LoadFailure {
    pub file: PathBuf,
    pub error: String,
}

#[derive(Clone)]
pub struct PluginRegistry {
    plugins: BTreeMap<String, Plugin>,
    /// Plugins hidden by a later one of the same name.
    shadowed: Vec<Plugin>,
    failures: Vec<LoadFailure>,
}

impl PluginRegistry {
    /// Load every `*.wasm` in `dirs`, in order. A name found again in a later
    /// folder replaces the earlier plugin (that is how `--plugins DIR`
    /// overrides a built-in). A file that fails to load is recorded, not fatal.
    pub fn load(
        engine: &PluginEngine,
        dirs: &[PathBuf],
        limits: impl Into<PluginPolicy>,
    ) -> Result<Self> {
        Self::scan(engine, dirs, &limits.into(), None)
    }

    /// Load `dirs` again after `previous`: a file whose bytes did not change
    /// keeps its loaded plugin (no recompilation); a file that now fails to
    /// load (half-written, broken) keeps serving its previous version.
    pub fn scan(
        engine: &PluginEngine,
        dirs: &[PathBuf],
        limits: &PluginPolicy,
        previous: Option<&PluginRegistry>,
    ) -> Result<Self> {
        let mut registry = PluginRegistry {
            plugins: BTreeMap::new(),
            shadowed: Vec::new(),
            failures: Vec::new(),
        };
        for dir in dirs {
            for file in wasm_files(dir)? {
                let before = previous.and_then(|p| p.by_file(&file));
                let loaded =
                    super::engine::read_plugin_file(&file).and_then(|bytes| match before {
                        Some(old) if old.info().sha256 == sha256_hex(&bytes) => Ok(old.clone()),
                        _ => Plugin::from_bytes(engine, &bytes, &file, dir, limits.clone()),
                    });
                match (loaded, before) {
                    (Ok(plugin), _) => registry.insert(plugin),
                    (Err(e), old) => {
                        let error = format!("{e:#}");
                        match old {
                            Some(old) => {
                                tracing::error!(
                                    "{error}; {}@{} keeps serving",
                                    old.info().name,
                                    old.info().version
                                );
                                registry.insert(old.clone());
                            }
                            None => tracing::error!("{error}"),
                        }
                        registry.failures.push(LoadFailure { file, error });
                    }
                }
            }
        }
        Ok(registry)
    }

    /// The plugin (serving or shadowed) loaded from `file`.
    fn by_file(&self, file: &Path) -> Option<&Plugin> {
        self.plugins
            .values()
            .chain(&self.shadowed)
            .find(|p| p.info().file == file)
    }

    fn insert(&mut self, plugin: Plugin) {
        let info = plugin.info().clone();
        tracing::debug!(
            "plugin {}@{} ({}) from {} sha256 {}",
            info.name,
            info.version,
            info.kind,
            info.file.display(),
            &info.sha256[..12]
        );
        if let Some(old) = self.plugins.insert(info.name.clone(), plugin) {
            tracing::info!(
                "plugin {} from {} overrides the one from {}",
                info.name,
                info.file.display(),
                old.info().file.display()
            );
            self.shadowed.push(old);
        }
    }

    pub fn plugins(&self) -> impl Iterator<Item = &Plugin> {
        self.plugins.values()
    }

    pub fn shadowed(&self) -> Vec<std::sync::Arc<PluginInfo>> {
        self.shadowed.iter().map(|p| p.info().clone()).collect()
    }

    /// The built-in plugin `name` replaces (a plugin of that name found in a
    /// later folder), if it replaces one.
    pub fn overridden_builtin(&self, name: &str) -> Option<std::sync::Arc<PluginInfo>> {
        self.shadowed
            .iter()
            .map(|p| p.info().clone())
            .find(|i| i.name == name && super::folder_origin(&i.source) == "built-in")
    }

    pub fn failures(&self) -> &[LoadFailure] {
        &self.failures
    }

    pub fn get(&self, name: &str) -> Option<&Plugin> {
        self.plugins.get(name)
    }

    fn missing(&self, name: &str, kind: PluginKind) -> anyhow::Error {
        let same_kind: Vec<&str> = self
            .plugins
            .values()
            .filter(|p| p.info().kind == kind)
            .map(|p| p.info().name.as_str())
            .collect();
        match self.plugins.get(name) {
            Some(p) => anyhow!(
                "plugin {name} is a {} plugin, not a {kind} plugin",
                p.info().kind
            ),
            None => anyhow!(
                "no {kind} plugin named {name}; loaded {kind} plugins: [{}]",
                same_kind.join(", ")
            ),
        }
    }

    pub fn reward(&self, name: &str) -> Result<&RewardPlugin> {
        match self.plugins.get(name) {
            Some(Plugin::Reward(p)) => Ok(p),
            _ => Err(self.missing(name, PluginKind::Reward)),
        }
    }

    pub fn dataset_adapter(&self, name: &str) -> Result<&DatasetAdapterPlugin> {
        match self.plugins.get(name) {
            Some(Plugin::DatasetAdapter(p)) => Ok(p),
            _ => Err(self.missing(name, PluginKind::DatasetAdapter)),
        }
    }

    pub fn prompt_template(&self, name: &str) -> Result<&PromptTemplatePlugin> {
        match self.plugins.get(name) {
            Some(Plugin::PromptTemplate(p)) => Ok(p),
            _ => Err(self.missing(name, PluginKind::PromptTemplate)),
        }
    }

    pub fn answer_parser(&self, name: &str) -> Result<&AnswerParserPlugin> {
        match self.plugins.get(name) {
            Some(Plugin::AnswerParser(p)) => Ok(p),
            _ => Err(self.missing(name, PluginKind::AnswerParser)),
        }
    }
}

/// The `.wasm` files directly inside `dir`, sorted so loading is repeatable.
fn wasm_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| anyhow!("plugin folder {}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wasm") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}
