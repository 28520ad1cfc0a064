//! `[embedding]`: the sentence encoder for observations and reward embeddings
//! (local BERT, an OpenAI-compatible server, or the hashed test encoder).

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use super::http::{check_api_key_env, check_http_url, check_remote_retries, check_timeout_s};

/// The sentence encoder for observations and reward embeddings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddingConfig {
    /// "local" (a BERT-family encoder in tch), "openai" (any server with an
    /// OpenAI-compatible `/embeddings` route: OpenAI, Together, vLLM,
    /// text-embeddings-inference, llama.cpp server) or "hash" (hashed words
    /// and word pairs, `dim` wide: no model; for the simulated world).
    #[serde(default = "default_embedding_provider")]
    pub provider: String,
    /// local: a packaged model name (configs/models.toml) or a
    /// sentence-transformers folder, relative to the config file; openai: the
    /// model name the server knows. Its width must equal `obs_dim` and
    /// `commitment_embedding_dim`.
    #[serde(default = "default_embedding_model")]
    pub model: String,
    /// openai: the server's base URL, e.g. "http://localhost:8000/v1"
    /// (requests go to {base_url}/embeddings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// openai: the name of the environment variable that holds the API key
    /// (never the key itself). Absent: no Authorization header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// openai: limit on one HTTP attempt, in seconds.
    #[serde(default = "default_embedding_timeout_s")]
    pub timeout_s: f64,
    /// openai: retries after the first attempt (429, 5xx, connection errors, timeouts).
    #[serde(default = "default_embedding_max_retries")]
    pub max_retries: u32,
    /// openai: delay before the first retry, doubled per retry (with jitter).
    #[serde(default = "default_embedding_backoff_ms")]
    pub retry_backoff_ms: u64,
    /// openai: the longest backoff between retries.
    #[serde(default = "default_embedding_backoff_max_ms")]
    pub retry_backoff_max_ms: u64,
    /// openai: texts per request; more go in several requests at once.
    #[serde(default = "default_embedding_batch_size")]
    pub batch_size: usize,
    /// hash: the vectors' width.
    #[serde(default = "default_embedding_dim")]
    pub dim: usize,
    /// Texts whose vectors are kept, so that a text met again (a question
    /// and its strategy in every mode, `\boxed{18}`) is not encoded again;
    /// 0 = none. About 1.5 kB per text at 384 dimensions.
    #[serde(default = "default_embedding_cache")]
    pub cache_texts: usize,
}

fn default_embedding_cache() -> usize {
    20_000
}

impl Default for EmbeddingConfig {
    fn default() -> Self {
        EmbeddingConfig {
            provider: default_embedding_provider(),
            model: default_embedding_model(),
            base_url: None,
            api_key_env: None,
            timeout_s: default_embedding_timeout_s(),
            cache_texts: default_embedding_cache(),
            max_retries: default_embedding_max_retries(),
            retry_backoff_ms: default_embedding_backoff_ms(),
            retry_backoff_max_ms: default_embedding_backoff_max_ms(),
            batch_size: default_embedding_batch_size(),
            dim: default_embedding_dim(),
        }
    }
}

impl EmbeddingConfig {
    pub fn validate(&self) -> Result<()> {
        if !(1..=65536).contains(&self.dim) {
            bail!("key embedding.dim: {} is outside 1..=65536", self.dim);
        }
        if self.model.trim().is_empty() {
            bail!("key embedding.model: must not be empty");
        }
        match self.provider.as_str() {
            provider @ ("local" | "hash") => {
                for (name, set) in [
                    ("base_url", self.base_url.is_some()),
                    ("api_key_env", self.api_key_env.is_some()),
                ] {
                    if set {
                        bail!(
                            "key embedding.{name}: only used with provider = \"openai\" \
                             (the embedding provider is {provider:?})"
                        );
                    }
                }
            }
            "openai" => {
                let Some(url) = &self.base_url else {
                    bail!("key embedding.base_url: required for provider = \"openai\"");
                };
                check_http_url("key embedding.base_url", url)?;
                if let Some(var) = &self.api_key_env {
                    check_api_key_env("key embedding.api_key_env", var)?;
                }
                check_timeout_s("key embedding.timeout_s", self.timeout_s)?;
                check_remote_retries(
                    "embedding",
                    self.retry_backoff_ms,
                    self.retry_backoff_max_ms,
                )?;
                if !(1..=4096).contains(&self.batch_size) {
                    bail!(
                        "key embedding.batch_size: {} is outside 1..=4096",
                        self.batch_size
                    );
                }
            }
            other => bail!(
                "key embedding.provider: {other:?} is not supported (supported: \"local\", \"openai\", \"hash\")"
            ),
        }
        Ok(())
    }
}

fn default_embedding_provider() -> String {
    "local".into()
}

fn default_embedding_model() -> String {
    "all-minilm-l6-v2".into()
}

fn default_embedding_timeout_s() -> f64 {
    60.0
}

fn default_embedding_max_retries() -> u32 {
    3
}

fn default_embedding_backoff_ms() -> u64 {
    500
}

fn default_embedding_backoff_max_ms() -> u64 {
    8000
}

fn default_embedding_batch_size() -> usize {
    64
}

fn default_embedding_dim() -> usize {
    256
}
