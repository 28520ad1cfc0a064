//! The run configuration: a TOML file, `--set key=value` overrides, and
//! validation whose errors name the file and the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::job_config::{
    BaselinesConfig, EarlyStoppingConfig, EmbeddingConfig, EnvConfig, RunnerConfig,
};
use crate::nets::config::NetsConfig;
use crate::plugins::{Limits, LimitsPolicy};

/// A whole run: the keys the runner reads (`seed`, `[llm]`, `[dataset]`,
/// `[plugins]`) and, at the top level beside them, every key of the networks
/// and the learner named as in the paper (`n_agents`, `belief_dim`,
/// `[sampling]`, `[bne]`, `[train]`, `[mixer]`, `[loss]`, `[reward]`, ...).
#[derive(Clone, Debug, Serialize)]
pub struct Config {
    pub seed: u64,
    pub llm: LlmConfig,
    pub dataset: DatasetConfig,
    pub plugins: PluginsConfig,
    pub embedding: EmbeddingConfig,
    pub env: EnvConfig,
    pub runner: RunnerConfig,
    pub early_stopping: EarlyStoppingConfig,
    pub baselines: BaselinesConfig,
    /// The simulated world (`provider = "sim"`).
    pub sim: crate::sim::SimConfig,
    #[serde(flatten)]
    pub nets: NetsConfig,
    /// Folder the config file is in; relative paths in it resolve against it.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// The runner's own keys; everything else in the file belongs to [`NetsConfig`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RunKeys {
    #[serde(default = "default_seed")]
    seed: u64,
    llm: LlmConfig,
    dataset: DatasetConfig,
    #[serde(default)]
    plugins: PluginsConfig,
    #[serde(default)]
    embedding: EmbeddingConfig,
    #[serde(default)]
    env: EnvConfig,
    #[serde(default)]
    runner: RunnerConfig,
    #[serde(default)]
    early_stopping: EarlyStoppingConfig,
    #[serde(default)]
    baselines: BaselinesConfig,
    #[serde(default)]
    sim: crate::sim::SimConfig,
}

impl RunKeys {
    const KEYS: [&str; 10] = [
        "seed",
        "llm",
        "dataset",
        "plugins",
        "embedding",
        "env",
        "runner",
        "early_stopping",
        "baselines",
        "sim",
    ];
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
    /// Record / replay of LLM responses.
    #[serde(default)]
    pub cache: CacheConfig,
    /// "per-call" (default): every LLM call gets its own seed, derived from
    /// (seed, episode, step, round, agent, call), so executors sharing a
    /// prompt are independent samples and a rerun repeats; "none": no seed
    /// is sent and the server samples freely.
    #[serde(default = "default_seeds")]
    pub seeds: String,
}

impl LlmConfig {
    /// The seed of one call under `seeds`.
    pub fn call_seed(&self, run_seed: u64, site: crate::rng::CallSite) -> Option<u32> {
        (self.seeds != "none").then(|| crate::rng::call_seed(run_seed, site))
    }
}

/// `[llm.cache]`: `mode = "off" | "record" | "replay"`, `path` = a JSONL file
/// (relative to the config file's folder).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    #[serde(default = "default_cache_mode")]
    pub mode: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            mode: default_cache_mode(),
            path: None,
        }
    }
}

/// One LLM role (coordinator or executors).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleConfig {
    /// "local" (embedded llama.cpp), "openai" (any OpenAI-compatible server)
    /// or "sim" (the simulated world of `[sim]`: no model, instant answers).
    pub provider: String,
    /// local: a packaged model name (`econ-host models list`) or a path to a
    /// GGUF file; openai: the model name the server knows.
    pub model: String,
    #[serde(default = "default_max_tokens")]
    pub max_tokens: u32,
    /// openai: the server's base URL, e.g. "http://localhost:8000/v1"
    /// (requests go to {base_url}/chat/completions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// openai: several servers of one model, load-balanced (instead of base_url).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub base_urls: Vec<String>,
    /// openai: the name of the environment variable that holds the API key
    /// (never the key itself). Absent: no Authorization header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// openai: requests in flight per server.
    #[serde(default = "default_concurrency")]
    pub concurrency: u32,
    /// openai: limit on one HTTP attempt, in seconds.
    #[serde(default = "default_timeout_s")]
    pub timeout_s: f64,
    /// openai: retries after the first attempt (429, 5xx, connection errors, timeouts).
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
    /// openai: delay before the first retry, doubled per retry (with jitter).
    #[serde(default = "default_retry_backoff_ms")]
    pub retry_backoff_ms: u64,
    /// openai: the longest backoff between retries.
    #[serde(default = "default_retry_backoff_max_ms")]
    pub retry_backoff_max_ms: u64,
    /// openai: send `repetition_penalty` (vLLM / Together / SGLang name); set
    /// false for servers that reject it (OpenAI).
    #[serde(default = "default_true")]
    pub send_repetition_penalty: bool,
    /// USD per million prompt tokens of this role's model, for the cost in
    /// traces and summary.json. A role without prices counts as free; with
    /// no price on either role no cost is reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_prompt_per_mtok: Option<f64>,
    /// USD per million completion tokens of this role's model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_completion_per_mtok: Option<f64>,
}

/// The OpenAI SDKs' conventions: the server and the key when a role names neither.
pub const OPENAI_BASE_URL_ENV: &str = "OPENAI_BASE_URL";
pub const OPENAI_API_KEY_ENV: &str = "OPENAI_API_KEY";

impl RoleConfig {
    /// For a role with provider "openai": `OPENAI_BASE_URL` when no base URL
    /// is set, and the variable `OPENAI_API_KEY` when no `api_key_env` is
    /// (only the variable's name goes into the config; the key stays in the
    /// environment and is never printed).
    pub fn openai_defaults(&mut self, env: impl Fn(&str) -> Option<String>) {
        if self.provider != "openai" {
            return;
        }
        if self.base_url.is_none() && self.base_urls.is_empty() {
            self.base_url = env(OPENAI_BASE_URL_ENV);
        }
        if self.api_key_env.is_none() && env(OPENAI_API_KEY_ENV).is_some() {
            self.api_key_env = Some(OPENAI_API_KEY_ENV.to_string());
        }
    }

    /// The configured base URLs: `base_url`, or else `base_urls`.
    pub fn endpoints(&self) -> Vec<String> {
        match &self.base_url {
            Some(url) => vec![url.clone()],
            None => self.base_urls.clone(),
        }
    }

    /// Whether this role has a price set.
    pub fn priced(&self) -> bool {
        self.price_prompt_per_mtok.is_some() || self.price_completion_per_mtok.is_some()
    }

    /// USD for these tokens at this role's prices (missing prices count as 0).
    pub fn cost(&self, prompt_tokens: u64, completion_tokens: u64) -> f64 {
        (prompt_tokens as f64 * self.price_prompt_per_mtok.unwrap_or(0.0)
            + completion_tokens as f64 * self.price_completion_per_mtok.unwrap_or(0.0))
            / 1e6
    }

    fn validate(&self, role: &str) -> Result<()> {
        let key = |name: &str| format!("key llm.{role}.{name}");
        if self.max_tokens == 0 {
            bail!("{}: must be at least 1", key("max_tokens"));
        }
        for (name, price) in [
            ("price_prompt_per_mtok", self.price_prompt_per_mtok),
            ("price_completion_per_mtok", self.price_completion_per_mtok),
        ] {
            if let Some(p) = price
                && !(p.is_finite() && p >= 0.0)
            {
                bail!(
                    "{}: {p} must be a number >= 0 (USD per million tokens)",
                    key(name)
                );
            }
        }
        match self.provider.as_str() {
            provider @ ("local" | "sim") => {
                for (name, set) in [
                    ("base_url", self.base_url.is_some()),
                    ("base_urls", !self.base_urls.is_empty()),
                    ("api_key_env", self.api_key_env.is_some()),
                ] {
                    if set {
                        bail!(
                            "{}: only used with provider = \"openai\" (this role's provider is {provider:?})",
                            key(name)
                        );
                    }
                }
            }
            "openai" => {
                if self.base_url.is_some() && !self.base_urls.is_empty() {
                    bail!("keys llm.{role}.base_url and llm.{role}.base_urls: set one, not both");
                }
                if self.base_url.is_none() && self.base_urls.is_empty() {
                    bail!(
                        "{}: required for provider = \"openai\" (or base_urls for several \
                         servers, or {OPENAI_BASE_URL_ENV} in the environment)",
                        key("base_url")
                    );
                }
                let named: Vec<(String, &String)> = match &self.base_url {
                    Some(url) => vec![(key("base_url"), url)],
                    None => self
                        .base_urls
                        .iter()
                        .enumerate()
                        .map(|(i, url)| (format!("{}[{i}]", key("base_urls")), url))
                        .collect(),
                };
                for (name, url) in named {
                    check_http_url(&name, url)?;
                }
                if let Some(var) = &self.api_key_env {
                    check_api_key_env(&key("api_key_env"), var)?;
                }
                if self.concurrency == 0 {
                    bail!("{}: must be at least 1", key("concurrency"));
                }
                check_timeout_s(&key("timeout_s"), self.timeout_s)?;
                if self.retry_backoff_ms > self.retry_backoff_max_ms {
                    bail!(
                        "keys llm.{role}.retry_backoff_ms/retry_backoff_max_ms: need first <= max, got {} > {}",
                        self.retry_backoff_ms,
                        self.retry_backoff_max_ms
                    );
                }
            }
            other => bail!(
                "{}: {other:?} is not supported (supported: \"local\", \"openai\", \"sim\")",
                key("provider")
            ),
        }
        Ok(())
    }
}

/// `key` (e.g. "key llm.executor.base_url") holds an http(s) URL.
pub(crate) fn check_http_url(key: &str, url: &str) -> Result<()> {
    let url = url.trim();
    if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() <= "https://".len()
    {
        bail!("{key}: {url:?} is not an http:// or https:// URL");
    }
    Ok(())
}

/// `key` names an environment variable, not an API key.
pub(crate) fn check_api_key_env(key: &str, var: &str) -> Result<()> {
    // The message must not echo the value: it may be a pasted key.
    let is_name = !var.is_empty()
        && !var.starts_with(|c: char| c.is_ascii_digit())
        && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !is_name {
        bail!(
            "{key}: must be the name of an environment variable (letters, digits, _), \
             e.g. \"TOGETHER_API_KEY\", not the key itself"
        );
    }
    Ok(())
}

/// `key` holds a per-attempt HTTP timeout in seconds.
pub(crate) fn check_timeout_s(key: &str, timeout_s: f64) -> Result<()> {
    if !(timeout_s.is_finite() && timeout_s > 0.0 && timeout_s <= 86400.0) {
        bail!("{key}: {timeout_s} is outside (0, 86400] seconds");
    }
    Ok(())
}

/// `[dataset]`: an adapter plugin and a source — a local file or folder
/// (`path`) or a Hugging Face dataset (`hf_id`) — split into train and test.
/// What each key does is told in `crate::data` and README.md.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetConfig {
    /// Name of the dataset-adapter plugin.
    pub adapter: String,
    /// A file (.jsonl, .json, .csv, .parquet) or a folder of them, relative
    /// to the config file's folder. Set this or `hf_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// "jsonl", "json", "csv" or "parquet"; default: from each file's extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// A Hugging Face dataset id, e.g. "openai/gsm8k", read from the hub cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hf_id: Option<String>,
    /// Split of `hf_id` (default "train"); "main/train" picks a config folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hf_split: Option<String>,
    /// Branch, tag or commit of `hf_id` (default "main").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hf_revision: Option<String>,
    /// The hub cache folder; default HF_HUB_CACHE, else HF_HOME/hub, else
    /// ~/.cache/huggingface/hub.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hf_cache: Option<PathBuf>,
    /// A separate test source: a file or folder (as `path`) ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_path: Option<PathBuf>,
    /// ... or another split of `hf_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_hf_split: Option<String>,
    /// Share of the problems held out for test when there is no separate
    /// test source (default 0.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_fraction: Option<f64>,
    /// Shuffle each source with `seed` (default true).
    #[serde(default = "default_true")]
    pub shuffle: bool,
    /// Problems whose question is longer (in characters) are skipped and reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_question_length: Option<usize>,
    /// Problems whose reference answer is longer (in characters) are skipped and reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_answer_length: Option<usize>,
    /// Options handed to the adapter (e.g. field names).
    #[serde(default)]
    pub options: std::collections::BTreeMap<String, String>,
}

impl DatasetConfig {
    pub const DEFAULT_HF_SPLIT: &str = "train";
    pub const DEFAULT_HF_REVISION: &str = "main";
    pub const DEFAULT_TEST_FRACTION: f64 = 0.3;
    /// The formats `format` accepts, also the file extensions recognised.
    pub const FORMATS: [&str; 4] = ["jsonl", "json", "csv", "parquet"];

    pub fn hf_split(&self) -> &str {
        self.hf_split.as_deref().unwrap_or(Self::DEFAULT_HF_SPLIT)
    }

    pub fn hf_revision(&self) -> &str {
        self.hf_revision
            .as_deref()
            .unwrap_or(Self::DEFAULT_HF_REVISION)
    }

    pub fn test_fraction(&self) -> f64 {
        self.test_fraction.unwrap_or(Self::DEFAULT_TEST_FRACTION)
    }

    /// Whether test problems come from their own source (not held out).
    pub fn has_test_source(&self) -> bool {
        self.test_path.is_some() || self.test_hf_split.is_some()
    }

    /// The adapter options as the plugin takes them.
    pub fn adapter_options(&self) -> Vec<(String, String)> {
        self.options
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    fn validate(&self) -> Result<()> {
        let key = |name: &str| format!("key dataset.{name}");
        if self.adapter.trim().is_empty() {
            bail!("{}: must name a dataset-adapter plugin", key("adapter"));
        }
        let empty_path = |p: &Option<PathBuf>| p.as_ref().is_some_and(|p| p.as_os_str().is_empty());
        for (name, p) in [
            ("path", &self.path),
            ("test_path", &self.test_path),
            ("hf_cache", &self.hf_cache),
        ] {
            if empty_path(p) {
                bail!("{}: is empty", key(name));
            }
        }
        match (&self.path, &self.hf_id) {
            (Some(_), Some(_)) => {
                bail!("keys dataset.path and dataset.hf_id: set one, not both")
            }
            (None, None) => bail!(
                "{}: required (a file or folder of .jsonl/.json/.csv/.parquet), \
                 or dataset.hf_id for a Hugging Face dataset",
                key("path")
            ),
            _ => {}
        }
        if let Some(format) = &self.format
            && !Self::FORMATS.contains(&format.as_str())
        {
            bail!(
                "{}: {format:?} is not one of \"jsonl\", \"json\", \"csv\", \"parquet\"",
                key("format")
            );
        }
        match &self.hf_id {
            Some(id) => {
                let parts: Vec<&str> = id.split('/').collect();
                let ok = parts.len() <= 2
                    && parts.iter().all(|p| {
                        !p.is_empty()
                            && *p != "."
                            && *p != ".."
                            && p.chars()
                                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                    });
                if !ok {
                    bail!(
                        "{}: {id:?} is not a dataset id like \"openai/gsm8k\"",
                        key("hf_id")
                    );
                }
                for (name, value) in [
                    ("hf_split", self.hf_split.as_deref()),
                    ("hf_revision", self.hf_revision.as_deref()),
                    ("test_hf_split", self.test_hf_split.as_deref()),
                ] {
                    if let Some(v) = value
                        && (v.trim().is_empty() || v.split('/').any(|p| p.is_empty() || p == ".."))
                    {
                        bail!("{}: {v:?} is empty or not a plain name", key(name));
                    }
                }
            }
            None => {
                for (name, set) in [
                    ("hf_split", self.hf_split.is_some()),
                    ("hf_revision", self.hf_revision.is_some()),
                    ("hf_cache", self.hf_cache.is_some()),
                    ("test_hf_split", self.test_hf_split.is_some()),
                ] {
                    if set {
                        bail!("{}: only used with dataset.hf_id", key(name));
                    }
                }
            }
        }
        if self.test_path.is_some() && self.test_hf_split.is_some() {
            bail!("keys dataset.test_path and dataset.test_hf_split: set one, not both");
        }
        if let Some(f) = self.test_fraction {
            if self.has_test_source() {
                bail!(
                    "{}: only used without a separate test source (dataset.test_path / dataset.test_hf_split)",
                    key("test_fraction")
                );
            }
            if !(f > 0.0 && f < 1.0) {
                bail!("{}: {f} is outside (0, 1)", key("test_fraction"));
            }
        }
        for (name, limit) in [
            ("max_question_length", self.max_question_length),
            ("max_answer_length", self.max_answer_length),
        ] {
            if limit == Some(0) {
                bail!("{}: must be at least 1 (characters)", key(name));
            }
        }
        Ok(())
    }
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
    /// Per call, every plugin: linear memory cap in MiB.
    #[serde(default = "default_plugin_memory_mib")]
    pub memory_mib: u64,
    /// Per call, every plugin: wasm fuel (about one unit per instruction).
    #[serde(default = "default_plugin_fuel")]
    pub fuel: u64,
    /// Failed calls in a row after which a plugin is disabled.
    #[serde(default = "default_plugin_failures")]
    pub max_consecutive_failures: u32,
    /// Per call, every plugin: wall-clock limit in milliseconds.
    #[serde(default = "default_plugin_deadline_ms")]
    pub deadline_ms: u64,
    /// `[plugins.limits.NAME]`: other limits for the plugin whose meta()
    /// name is NAME (e.g. a Python component that needs more memory).
    #[serde(default)]
    pub limits: BTreeMap<String, PluginLimits>,
}

/// Limits of one plugin; a key left out keeps `[plugins]`' value.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginLimits {
    pub memory_mib: Option<u64>,
    pub fuel: Option<u64>,
    pub max_consecutive_failures: Option<u32>,
    pub deadline_ms: Option<u64>,
}

impl Default for PluginsConfig {
    fn default() -> Self {
        PluginsConfig {
            reward: default_reward(),
            prompts: default_prompts(),
            parser: default_parser(),
            memory_mib: default_plugin_memory_mib(),
            fuel: default_plugin_fuel(),
            max_consecutive_failures: default_plugin_failures(),
            deadline_ms: default_plugin_deadline_ms(),
            limits: BTreeMap::new(),
        }
    }
}

/// wasm32 linear memory cannot grow past 4 GiB.
pub(crate) const MAX_PLUGIN_MEMORY_MIB: u64 = 4096;

impl PluginsConfig {
    /// What each plugin call may use (see `crate::plugins::LimitsPolicy`).
    pub fn limits_policy(&self) -> LimitsPolicy {
        let default = Limits {
            fuel: self.fuel,
            memory_bytes: (self.memory_mib as usize) << 20,
            max_consecutive_failures: self.max_consecutive_failures,
            deadline_ms: self.deadline_ms,
        };
        let by_name = self
            .limits
            .iter()
            .map(|(name, l)| {
                let limits = Limits {
                    fuel: l.fuel.unwrap_or(default.fuel),
                    memory_bytes: l
                        .memory_mib
                        .map_or(default.memory_bytes, |m| (m as usize) << 20),
                    max_consecutive_failures: l
                        .max_consecutive_failures
                        .unwrap_or(default.max_consecutive_failures),
                    deadline_ms: l.deadline_ms.unwrap_or(default.deadline_ms),
                };
                (name.clone(), limits)
            })
            .collect();
        LimitsPolicy { default, by_name }
    }

    fn validate(&self) -> Result<()> {
        let check = |key: &str,
                     memory: Option<u64>,
                     fuel: Option<u64>,
                     failures: Option<u32>,
                     deadline: Option<u64>| {
            if let Some(d) = deadline
                && !(1..=MAX_PLUGIN_DEADLINE_MS).contains(&d)
            {
                bail!("key {key}.deadline_ms: {d} is outside 1..={MAX_PLUGIN_DEADLINE_MS} (ms)");
            }
            if let Some(m) = memory
                && !(1..=MAX_PLUGIN_MEMORY_MIB).contains(&m)
            {
                bail!("key {key}.memory_mib: {m} is outside 1..={MAX_PLUGIN_MEMORY_MIB} (MiB)");
            }
            if fuel == Some(0) {
                bail!("key {key}.fuel: must be at least 1");
            }
            if failures == Some(0) {
                bail!("key {key}.max_consecutive_failures: must be at least 1");
            }
            Ok(())
        };
        check(
            "plugins",
            Some(self.memory_mib),
            Some(self.fuel),
            Some(self.max_consecutive_failures),
            Some(self.deadline_ms),
        )?;
        for (name, l) in &self.limits {
            check(
                &format!("plugins.limits.{name}"),
                l.memory_mib,
                l.fuel,
                l.max_consecutive_failures,
                l.deadline_ms,
            )?;
        }
        Ok(())
    }
}

fn default_plugin_memory_mib() -> u64 {
    (Limits::default().memory_bytes >> 20) as u64
}
fn default_plugin_deadline_ms() -> u64 {
    Limits::default().deadline_ms
}
/// An hour: a longer call is a hung plugin, not a slow one.
const MAX_PLUGIN_DEADLINE_MS: u64 = 3_600_000;
fn default_plugin_fuel() -> u64 {
    Limits::default().fuel
}
fn default_plugin_failures() -> u32 {
    Limits::default().max_consecutive_failures
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
fn default_concurrency() -> u32 {
    8
}
fn default_timeout_s() -> f64 {
    60.0
}
fn default_max_retries() -> u32 {
    3
}
fn default_retry_backoff_ms() -> u64 {
    500
}
fn default_retry_backoff_max_ms() -> u64 {
    8000
}
fn default_true() -> bool {
    true
}
fn default_seeds() -> String {
    "per-call".into()
}
fn default_cache_mode() -> String {
    "off".into()
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
        let mut run = toml::Table::new();
        for key in RunKeys::KEYS {
            if let Some(v) = value.remove(key) {
                run.insert(key.to_string(), v);
            }
        }
        let run: RunKeys = run
            .try_into()
            .with_context(|| format!("config {}", path.display()))?;
        let nets: NetsConfig = value
            .try_into()
            .with_context(|| format!("config {}", path.display()))?;
        let mut llm = run.llm;
        for role in [&mut llm.coordinator, &mut llm.executor] {
            role.openai_defaults(|var| std::env::var(var).ok().filter(|v| !v.trim().is_empty()));
        }
        let config = Config {
            seed: run.seed,
            llm,
            dataset: run.dataset,
            plugins: run.plugins,
            embedding: run.embedding,
            env: run.env,
            runner: run.runner,
            early_stopping: run.early_stopping,
            baselines: run.baselines,
            sim: run.sim,
            nets,
            base_dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
        };
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
        if !(1..=64).contains(&self.nets.n_agents) {
            bail!("key n_agents: {} is outside 1..=64", self.nets.n_agents);
        }
        self.nets.validate()?;
        let s = &self.nets.sampling;
        if s.temperature_min < 0.0 {
            bail!(
                "key sampling.temperature_min: {} is below 0",
                s.temperature_min
            );
        }
        if s.p_min <= 0.0 {
            bail!("key sampling.p_min: {} must be above 0", s.p_min);
        }
        if !(s.top_p_default > 0.0 && s.top_p_default <= 1.0) {
            bail!(
                "key sampling.top_p_default: {} is outside (0, 1]",
                s.top_p_default
            );
        }
        self.plugins.validate()?;
        self.embedding.validate()?;
        self.env.validate()?;
        self.runner.validate()?;
        self.early_stopping.validate()?;
        self.baselines.validate()?;
        self.llm.coordinator.validate("coordinator")?;
        self.llm.executor.validate("executor")?;
        self.dataset.validate()?;
        self.sim.validate()?;
        if !["per-call", "none"].contains(&self.llm.seeds.as_str()) {
            bail!(
                "key llm.seeds: {:?} is not one of \"per-call\", \"none\"",
                self.llm.seeds
            );
        }
        let cache = &self.llm.cache;
        match cache.mode.as_str() {
            "off" => {}
            "record" | "replay" => {
                if cache.path.as_ref().is_none_or(|p| p.as_os_str().is_empty()) {
                    bail!(
                        "key llm.cache.path: required when llm.cache.mode = {:?}",
                        cache.mode
                    );
                }
            }
            other => {
                bail!("key llm.cache.mode: {other:?} is not one of \"off\", \"record\", \"replay\"")
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
    fn openai_roles_take_the_sdk_environment_variables_as_defaults() {
        let mut role: RoleConfig = toml::from_str("provider = \"openai\"\nmodel = \"m\"").unwrap();
        let env = |var: &str| match var {
            "OPENAI_BASE_URL" => Some("http://127.0.0.1:9/v1".to_string()),
            "OPENAI_API_KEY" => Some("sk-secret".to_string()),
            _ => None,
        };
        role.openai_defaults(env);
        assert_eq!(role.base_url.as_deref(), Some("http://127.0.0.1:9/v1"));
        // The variable's name, never the key.
        assert_eq!(role.api_key_env.as_deref(), Some("OPENAI_API_KEY"));
        role.validate("executor").unwrap();
        // What a config sets wins.
        let mut set: RoleConfig = toml::from_str(
            "provider = \"openai\"\nmodel = \"m\"\nbase_url = \"http://h/v1\"\napi_key_env = \"MY_KEY\"",
        )
        .unwrap();
        set.openai_defaults(env);
        assert_eq!(set.base_url.as_deref(), Some("http://h/v1"));
        assert_eq!(set.api_key_env.as_deref(), Some("MY_KEY"));
        // Local roles are left alone; without the variables nothing is set.
        let mut local: RoleConfig = toml::from_str("provider = \"local\"\nmodel = \"m\"").unwrap();
        local.openai_defaults(env);
        assert!(local.base_url.is_none() && local.api_key_env.is_none());
        let mut bare: RoleConfig = toml::from_str("provider = \"openai\"\nmodel = \"m\"").unwrap();
        bare.openai_defaults(|_| None);
        assert!(
            bare.validate("executor")
                .unwrap_err()
                .to_string()
                .contains("OPENAI_BASE_URL")
        );
    }

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

    fn load_with(dir: &Path, overrides: &[&str]) -> Result<Config> {
        let path = dir.join("c.toml");
        std::fs::write(
            &path,
            "[llm.coordinator]\nprovider = \"local\"\nmodel = \"m\"\n\
             [llm.executor]\nprovider = \"local\"\nmodel = \"m\"\n\
             [dataset]\nadapter = \"a\"\npath = \"d.jsonl\"\n",
        )
        .unwrap();
        let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        Config::load(&path, &overrides)
    }

    fn error(dir: &Path, overrides: &[&str]) -> String {
        format!("{:#}", load_with(dir, overrides).unwrap_err())
    }

    #[test]
    fn plugin_limits_default_and_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let c = load_with(
            dir.path(),
            &[
                "plugins.memory_mib=64",
                "plugins.limits.py-reward.memory_mib=1024",
                "plugins.limits.slow-parser.fuel=9000000000",
            ],
        )
        .unwrap();
        let policy = c.plugins.limits_policy();
        assert_eq!(policy.default.memory_bytes, 64 << 20);
        assert_eq!(policy.default.fuel, Limits::default().fuel);
        let py = policy.for_plugin("py-reward");
        assert_eq!(py.memory_bytes, 1024 << 20);
        assert_eq!(py.fuel, Limits::default().fuel);
        let slow = policy.for_plugin("slow-parser");
        assert_eq!((slow.memory_bytes, slow.fuel), (64 << 20, 9_000_000_000));
        assert_eq!(policy.for_plugin("anyone-else"), policy.default);
        // meta() runs before the name is known: the roomiest of all.
        let meta = policy.for_meta();
        assert_eq!((meta.memory_bytes, meta.fuel), (1024 << 20, 9_000_000_000));

        let e = error(dir.path(), &["plugins.limits.py-reward.memory_mib=5000"]);
        assert!(
            e.contains("plugins.limits.py-reward.memory_mib: 5000"),
            "{e}"
        );
        let e = error(dir.path(), &["plugins.fuel=0"]);
        assert!(e.contains("plugins.fuel"), "{e}");
        let e = error(dir.path(), &["plugins.limits.x.memory=5"]);
        assert!(e.contains("memory"), "{e}");
    }

    #[test]
    fn paper_keys_sit_beside_the_runner_keys() {
        let dir = tempfile::tempdir().unwrap();
        let c = load_with(
            dir.path(),
            &[
                "n_agents=5",
                "bne.max_iterations_infer=2",
                "mixer.kind=attention",
            ],
        )
        .unwrap();
        assert_eq!(c.nets.n_agents, 5);
        assert_eq!(c.nets.bne.max_iterations_infer, 2);
        assert_eq!(c.nets.mixer.kind, "attention");
        let err = format!(
            "{:#}",
            load_with(dir.path(), &["belief_dimm=64"]).unwrap_err()
        );
        assert!(err.contains("belief_dimm"), "{err}");
        let err = format!(
            "{:#}",
            load_with(dir.path(), &["llm.threadz=2"]).unwrap_err()
        );
        assert!(err.contains("threadz"), "{err}");
    }

    #[test]
    fn shipped_configs_load() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
        for entry in std::fs::read_dir(&root).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml")
                && path.file_name().unwrap() != "models.toml"
            {
                Config::load(&path, &[]).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
            }
        }
    }

    #[test]
    fn openai_roles_load_and_validate_with_named_keys() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let c = load_with(
            d,
            &[
                "llm.executor.provider=openai",
                "llm.executor.base_urls=[\"http://127.0.0.1:1/v1\", \"http://127.0.0.1:2/v1\"]",
                "llm.executor.api_key_env=MY_KEY",
                "llm.executor.concurrency=4",
                "llm.executor.timeout_s=2.5",
                "llm.executor.send_repetition_penalty=false",
                "llm.cache.mode=record",
                "llm.cache.path=cache.jsonl",
            ],
        )
        .unwrap();
        let e = &c.llm.executor;
        assert_eq!(e.endpoints().len(), 2);
        assert_eq!(e.concurrency, 4);
        assert_eq!(e.max_retries, 3);
        assert!(!e.send_repetition_penalty);
        assert_eq!(c.llm.cache.mode, "record");
        assert_eq!(load_with(d, &[]).unwrap().llm.cache.mode, "off");

        let open = "llm.executor.provider=openai";
        let url = "llm.executor.base_url=http://127.0.0.1:1/v1";
        for (overrides, expected) in [
            (
                vec!["llm.executor.provider=grpc"],
                "key llm.executor.provider",
            ),
            (vec![open], "key llm.executor.base_url: required"),
            (
                vec![open, "llm.executor.base_url=localhost:8000"],
                "key llm.executor.base_url:",
            ),
            (
                vec![
                    open,
                    "llm.executor.base_urls=[\"http://a/v1\", \"ftp://b\"]",
                ],
                "key llm.executor.base_urls[1]",
            ),
            (
                vec![open, url, "llm.executor.base_urls=[\"http://a/v1\"]"],
                "llm.executor.base_url and llm.executor.base_urls",
            ),
            (
                vec![open, url, "llm.executor.concurrency=0"],
                "key llm.executor.concurrency",
            ),
            (
                vec![open, url, "llm.executor.timeout_s=0"],
                "key llm.executor.timeout_s",
            ),
            (
                vec![open, url, "llm.executor.retry_backoff_ms=9000"],
                "llm.executor.retry_backoff_ms/retry_backoff_max_ms",
            ),
            (
                vec!["llm.coordinator.base_url=http://a/v1"],
                "key llm.coordinator.base_url: only used",
            ),
            (vec!["llm.cache.mode=replay"], "key llm.cache.path"),
            (vec!["llm.cache.mode=sometimes"], "key llm.cache.mode"),
        ] {
            let message = error(d, &overrides);
            assert!(message.contains(expected), "{overrides:?}: {message}");
        }
        // A key pasted where the variable name belongs is not echoed back.
        let message = error(d, &[open, url, "llm.executor.api_key_env=sk-abc.def-123"]);
        assert!(
            message.contains("key llm.executor.api_key_env"),
            "{message}"
        );
        assert!(!message.contains("sk-abc"), "{message}");
    }
}
