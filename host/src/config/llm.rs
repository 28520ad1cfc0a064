//! `[llm]`: the coordinator and executor roles (local, OpenAI-compatible or
//! simulated), their sampling budgets, seeds and the response cache.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::http::ApiKey;
use crate::llm::openai::OpenAiOptions;

use super::http::{check_api_key_env, check_http_url, check_remote_retries, check_timeout_s};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmConfig {
    /// llama.cpp threads for the embedded provider; 0 = every core.
    #[serde(default)]
    pub threads: usize,
    /// Context length of the embedded provider, in tokens.
    #[serde(default = "default_context")]
    pub context: u32,
    /// Layers of the embedded model offloaded to the GPU (a build with the
    /// `cuda` feature: `scripts/dev setup --cuda`); 0 = CPU only, a large
    /// number (999) = every layer.
    #[serde(default)]
    pub gpu_layers: u32,
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
    /// Test modes baseline and bne share their seeds, so that bne's round 0
    /// replays baseline's exactly (a paired comparison: the modes differ only
    /// where BNE changed something). Off by default: every phase and mode
    /// has seeds of its own, and the two modes are independent samples.
    #[serde(default)]
    pub pair_econ_modes: bool,
    /// An action dimension the executors' server cannot receive (the
    /// repetition penalty on OpenAI or Ollama): "fix" holds it at a neutral
    /// value for the whole run (said before the first episode, recorded in
    /// run.json, and what the learner sees), "stop" refuses to run (exit 2).
    #[serde(default = "default_unreachable")]
    pub unreachable_actions: String,
}

fn default_unreachable() -> String {
    "fix".into()
}

fn default_dialect() -> String {
    "auto".into()
}

impl LlmConfig {
    /// `[llm]` and its roles; errors name the key.
    pub(crate) fn validate(&self) -> Result<()> {
        self.coordinator.validate("coordinator")?;
        self.executor.validate("executor")?;
        if !["fix", "stop"].contains(&self.unreachable_actions.as_str()) {
            bail!(
                "key llm.unreachable_actions: {:?} is not \"fix\" or \"stop\"",
                self.unreachable_actions
            );
        }
        if !["per-call", "none"].contains(&self.seeds.as_str()) {
            bail!(
                "key llm.seeds: {:?} is not one of \"per-call\", \"none\"",
                self.seeds
            );
        }
        let cache = &self.cache;
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
    /// openai: send the repetition penalty (under the dialect's name); false
    /// treats the server as having none.
    #[serde(default = "super::default_true")]
    pub send_repetition_penalty: bool,
    /// openai: the server's dialect — "auto" (probe it at start), "vllm",
    /// "sglang", "llama.cpp", "ollama", "together", "openai" or "generic" —
    /// which decides each action field's name, or that it cannot reach the
    /// model (`crate::llm::dialect`).
    #[serde(default = "default_dialect")]
    pub dialect: String,
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

    pub(crate) fn validate(&self, role: &str) -> Result<()> {
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
                if crate::llm::dialect::Dialect::parse(&self.dialect).is_none() {
                    let names: Vec<String> = crate::llm::dialect::Dialect::ALL
                        .iter()
                        .map(|d| format!("{:?}", d.name()))
                        .collect();
                    bail!(
                        "{}: {:?} is not \"auto\" or one of {}",
                        key("dialect"),
                        self.dialect,
                        names.join(", ")
                    );
                }
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
                check_remote_retries(
                    &format!("llm.{role}"),
                    self.retry_backoff_ms,
                    self.retry_backoff_max_ms,
                )?;
            }
            other => bail!(
                "{}: {other:?} is not supported (supported: \"local\", \"openai\", \"sim\")",
                key("provider")
            ),
        }
        Ok(())
    }
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

fn default_seeds() -> String {
    "per-call".into()
}

fn default_cache_mode() -> String {
    "off".into()
}

impl RoleConfig {
    /// From the config of role `role` ("coordinator" / "executor"), reading
    /// the API key from the environment variable it names.
    pub fn openai_options(&self, role: &str) -> Result<OpenAiOptions> {
        let config = self;
        let base_urls = config.endpoints();
        if base_urls.is_empty() {
            bail!("key llm.{role}.base_url: required for provider \"openai\"");
        }
        let api_key = match &config.api_key_env {
            Some(var) => {
                Some(ApiKey::from_env(var).with_context(|| format!("key llm.{role}.api_key_env"))?)
            }
            None => None,
        };
        Ok(OpenAiOptions {
            base_urls,
            model: config.model.clone(),
            api_key,
            concurrency: config.concurrency.max(1) as usize,
            timeout: Duration::from_secs_f64(config.timeout_s),
            max_retries: config.max_retries,
            backoff: Duration::from_millis(config.retry_backoff_ms),
            backoff_max: Duration::from_millis(config.retry_backoff_max_ms),
            send_repetition_penalty: config.send_repetition_penalty,
            dialect: crate::llm::dialect::Dialect::parse(&config.dialect).flatten(),
        })
    }
}
