//! The run configuration: a TOML file, `--set key=value` overrides, and
//! validation whose errors name the file and the key.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Number of executors n (ECON uses 3, 5 or 8).
    #[serde(default = "default_n_agents")]
    pub n_agents: u32,
    #[serde(default = "default_seed")]
    pub seed: u64,
    pub llm: LlmConfig,
    pub dataset: DatasetConfig,
    #[serde(default)]
    pub plugins: PluginsConfig,
    #[serde(default)]
    pub sampling: SamplingConfig,
    /// Folder the config file is in; relative paths in it resolve against it.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmConfig {
    /// llama.cpp threads for the embedded provider; 0 = every core.
    #[serde(default)]
    pub threads: usize,
    /// Context length of the embedded provider, in tokens.
    #[serde(default = "default_context")]
    pub context: u32,
    pub coordinator: RoleConfig,
    pub executor: RoleConfig,
}

/// One LLM role (coordinator or executors).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleConfig {
    /// "local" (embedded llama.cpp); "openai" comes with the LLM I/O work.
    pub provider: String,
    /// A packaged model name (`econ-host models list`) or a path to a GGUF file.
    pub model: String,
    #[serde(default = "default_max_tokens")]
    pub max_tokens: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetConfig {
    /// Name of the dataset-adapter plugin.
    pub adapter: String,
    /// A JSONL file, relative to the config file's folder.
    pub path: PathBuf,
    /// Options handed to the adapter (e.g. field names).
    #[serde(default)]
    pub options: std::collections::BTreeMap<String, String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginsConfig {
    #[serde(default = "default_reward")]
    pub reward: String,
    #[serde(default = "default_prompts")]
    pub prompts: String,
    #[serde(default = "default_parser")]
    pub parser: String,
}

impl Default for PluginsConfig {
    fn default() -> Self {
        PluginsConfig {
            reward: default_reward(),
            prompts: default_prompts(),
            parser: default_parser(),
        }
    }
}

/// Bounds of the executors' sampling actions e_i = (T_i, p_i).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplingConfig {
    #[serde(default = "default_t_min")]
    pub temperature_min: f32,
    #[serde(default = "default_t_max")]
    pub temperature_max: f32,
    #[serde(default = "default_p_min")]
    pub p_min: f32,
    #[serde(default = "default_p_max")]
    pub p_max: f32,
    #[serde(default = "default_top_p")]
    pub top_p_default: f32,
}

impl Default for SamplingConfig {
    fn default() -> Self {
        SamplingConfig {
            temperature_min: default_t_min(),
            temperature_max: default_t_max(),
            p_min: default_p_min(),
            p_max: default_p_max(),
            top_p_default: default_top_p(),
        }
    }
}

fn default_n_agents() -> u32 {
    3
}
fn default_seed() -> u64 {
    42
}
fn default_context() -> u32 {
    4096
}
fn default_max_tokens() -> u32 {
    512
}
fn default_reward() -> String {
    "reward-econ".into()
}
fn default_prompts() -> String {
    "prompts-econ".into()
}
fn default_parser() -> String {
    "parser-boxed".into()
}
fn default_t_min() -> f32 {
    0.2
}
fn default_t_max() -> f32 {
    1.5
}
// llama.cpp and vLLM read repetition_penalty < 1 as "encourage repetition";
// the reference's [0.2, 0.85] keeps that meaning only in p0.toml.
fn default_p_min() -> f32 {
    1.0
}
fn default_p_max() -> f32 {
    1.3
}
fn default_top_p() -> f32 {
    0.9
}

impl Config {
    /// Read `path`, apply `overrides` ("a.b=value"), validate.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config {}", path.display()))?;
        let mut value: toml::Table =
            toml::from_str(&text).with_context(|| format!("config {}", path.display()))?;
        for item in overrides {
            apply_override(&mut value, item)
                .with_context(|| format!("--set {item} (config {})", path.display()))?;
        }
        let mut config: Config = value
            .try_into()
            .with_context(|| format!("config {}", path.display()))?;
        config.base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        config
            .validate()
            .with_context(|| format!("config {}", path.display()))?;
        Ok(config)
    }

    /// A path from the config, resolved against the config file's folder.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base_dir.join(path)
        }
    }

    fn validate(&self) -> Result<()> {
        if !(1..=64).contains(&self.n_agents) {
            bail!("key n_agents: {} is outside 1..=64", self.n_agents);
        }
        let s = &self.sampling;
        if !(s.temperature_min >= 0.0 && s.temperature_min <= s.temperature_max) {
            bail!(
                "keys sampling.temperature_min/max: need 0 <= min <= max, got [{}, {}]",
                s.temperature_min,
                s.temperature_max
            );
        }
        if !(s.p_min > 0.0 && s.p_min <= s.p_max) {
            bail!(
                "keys sampling.p_min/p_max: need 0 < min <= max, got [{}, {}]",
                s.p_min,
                s.p_max
            );
        }
        if !(s.top_p_default > 0.0 && s.top_p_default <= 1.0) {
            bail!(
                "key sampling.top_p_default: {} is outside (0, 1]",
                s.top_p_default
            );
        }
        for (role, r) in [
            ("coordinator", &self.llm.coordinator),
            ("executor", &self.llm.executor),
        ] {
            if r.provider != "local" {
                bail!(
                    "key llm.{role}.provider: {:?} is not supported yet (supported: \"local\")",
                    r.provider
                );
            }
            if r.max_tokens == 0 {
                bail!("key llm.{role}.max_tokens: must be at least 1");
            }
        }
        Ok(())
    }
}

/// `a.b.c=value`: the value is read as TOML (number, bool, array, quoted
/// string) and otherwise taken as a bare string.
fn apply_override(root: &mut toml::Table, item: &str) -> Result<()> {
    let Some((key, raw)) = item.split_once('=') else {
        bail!("expected key=value");
    };
    let key = key.trim();
    let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.trim().to_string()));
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        bail!("key {key:?} has an empty part");
    }
    let mut table = root;
    for part in &parts[..parts.len() - 1] {
        let entry = table
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = match entry {
            toml::Value::Table(t) => t,
            _ => bail!("key {key}: {part} is not a table"),
        };
    }
    table.insert(parts[parts.len() - 1].to_string(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_set_nested_typed_values() {
        let mut t: toml::Table = toml::from_str("[a]\nb = 1").unwrap();
        apply_override(&mut t, "a.b=2").unwrap();
        apply_override(&mut t, "a.c=hello").unwrap();
        apply_override(&mut t, "d.e=true").unwrap();
        assert_eq!(t["a"]["b"].as_integer(), Some(2));
        assert_eq!(t["a"]["c"].as_str(), Some("hello"));
        assert_eq!(t["d"]["e"].as_bool(), Some(true));
        assert!(apply_override(&mut t, "a.b.c=1").is_err());
        assert!(apply_override(&mut t, "novalue").is_err());
    }
}
