//! The plugin lock file: which plugin files a config runs with. `plugins
//! lock --config C.toml` writes `C.plugins.lock` beside the config; `run`,
//! `train` and `test` with `--locked` refuse to start unless every plugin
//! the config names is the file the lock pins (by sha256), and then do not
//! hot-reload.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::plugins::PluginRegistry;
use crate::runner::Pins;

/// The lock format's version.
const FORMAT: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockFile {
    pub version: u32,
    #[serde(default)]
    pub plugin: Vec<LockedPlugin>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedPlugin {
    /// The config key that names it ("plugins.reward", "dataset.adapter").
    pub key: String,
    pub name: String,
    pub version: String,
    pub kind: String,
    /// Where it was found: "built-in", "user", "--plugins", and the OCI
    /// reference it was installed from when it came from a registry.
    pub source: String,
    pub sha256: String,
}

/// `configs/sim.toml` -> `configs/sim.plugins.lock`.
pub fn path_for(config: &Path) -> PathBuf {
    config.with_extension("plugins.lock")
}

/// The lock of the plugins `config` uses, as `registry` resolves them.
pub fn lock(config: &Config, registry: &PluginRegistry) -> Result<LockFile> {
    let mut plugin = Vec::new();
    for (key, name) in config.plugin_keys() {
        let found = registry.get(name).ok_or_else(|| {
            anyhow!("key {key}: plugin {name:?} is not among the loaded plugins (see `econ-host plugins list`)")
        })?;
        let info = found.info();
        let mut source = crate::plugins::folder_origin(&info.source).to_string();
        if let Some(from) = crate::plugins::install::installed_from(&info.file) {
            source = format!("{source}, installed from {from}");
        }
        plugin.push(LockedPlugin {
            key: key.to_string(),
            name: info.name.clone(),
            version: info.version.clone(),
            kind: info.kind.to_string(),
            source,
            sha256: info.sha256.clone(),
        });
    }
    Ok(LockFile {
        version: FORMAT,
        plugin,
    })
}

/// Write `lock` to `path` with a header that says what it is.
pub fn write(path: &Path, config_file: &Path, lock: &LockFile) -> Result<()> {
    let name = config_file.file_name().map_or_else(
        || config_file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let text = format!(
        "# Written by `econ-host plugins lock --config {name}`: the plugin files {name} runs with.\n\
         # `econ-host run --locked` (and train, test) refuses to start with any other file.\n\n{}",
        toml::to_string(lock).context("writing the lock file")?
    );
    crate::atomic::write_atomic(path, text.as_bytes())
}

/// The pins of the lock file beside `config_file`; the errors name the file.
pub fn read_pins(config_file: &Path) -> Result<Pins> {
    let path = path_for(config_file);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "--locked: no lock file {} (write it with `econ-host plugins lock --config {}`)",
            path.display(),
            config_file.display()
        ),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let lock: LockFile =
        toml::from_str(&text).with_context(|| format!("lock file {}", path.display()))?;
    if lock.version != FORMAT {
        bail!(
            "lock file {}: format version {} (this econ-host reads {FORMAT})",
            path.display(),
            lock.version
        );
    }
    let mut by_name = BTreeMap::new();
    for p in lock.plugin {
        by_name.insert(
            p.name.clone(),
            crate::runner::Pin {
                version: p.version,
                sha256: p.sha256,
                source: p.source,
            },
        );
    }
    Ok(Pins {
        file: path,
        plugins: by_name,
    })
}
