//! The remote embeddings provider: `POST {base_url}/embeddings` with
//! `{"model", "input": [texts]}` on any OpenAI-compatible server; the vectors
//! are `data[i].embedding`, put back in input order by `data[i].index`.
//!
//! [`Embedder`] is synchronous, and it is called both from async tasks on
//! the runner's multi-thread tokio runtime and from `spawn_blocking` threads.
//! `reqwest::blocking` panics inside a runtime, and `Handle::block_on` would
//! need a runtime to be present (and panics on a runtime worker). So the
//! HTTP client lives on a thread of its own with its own current-thread
//! runtime: `embed` hands the texts over a channel and waits on a reply
//! channel. Waiting blocks only the calling thread, exactly as the local
//! encoder's forward pass does; the HTTP work never needs the caller's
//! runtime, so no context can deadlock it or make it panic — except a caller
//! that blocks the only thread of a current-thread runtime which is itself
//! running the embeddings server (a test set-up, not a real one). Dropping
//! the embedder closes the channel; the thread then ends and drops its
//! runtime there, never inside the caller's.
//!
//! Retries, backoff, Retry-After, the per-attempt timeout and the API key's
//! masking are the chat client's ([`crate::llm::openai`]).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use reqwest::header::HeaderValue;
use serde::Deserialize;
use tokio::sync::mpsc;

use super::Embedder;
use crate::config::EmbeddingConfig;
use crate::http::{
    ApiKey, Backoff, Failure, FailureKind, error_chain, http_client, parse_json, post_json,
    snippet, with_retries,
};

/// Everything the remote embedder needs; [`RemoteOptions::from_config`]
/// builds it from `[embedding]`.
#[derive(Clone, Debug)]
pub struct RemoteOptions {
    /// e.g. `http://localhost:8000/v1`; requests go to `{base_url}/embeddings`.
    pub base_url: String,
    pub model: String,
    pub api_key: Option<ApiKey>,
    /// Limit on one HTTP attempt.
    pub timeout: Duration,
    /// Retries after the first attempt.
    pub max_retries: u32,
    pub backoff: Duration,
    pub backoff_max: Duration,
    /// Texts per request.
    pub batch_size: usize,
}

impl RemoteOptions {
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        RemoteOptions {
            base_url: base_url.into(),
            model: model.into(),
            api_key: None,
            timeout: Duration::from_secs(60),
            max_retries: 3,
            backoff: Duration::from_millis(500),
            backoff_max: Duration::from_secs(8),
            batch_size: 64,
        }
    }

    /// From `[embedding]`, reading the API key from the variable it names.
    pub fn from_config(config: &EmbeddingConfig) -> Result<Self> {
        let Some(base_url) = config.base_url.clone() else {
            bail!("key embedding.base_url: required for provider = \"openai\"");
        };
        let api_key = match &config.api_key_env {
            Some(var) => Some(ApiKey::from_env(var).context("key embedding.api_key_env")?),
            None => None,
        };
        Ok(RemoteOptions {
            base_url,
            model: config.model.clone(),
            api_key,
            timeout: Duration::from_secs_f64(config.timeout_s),
            max_retries: config.max_retries,
            backoff: Duration::from_millis(config.retry_backoff_ms),
            backoff_max: Duration::from_millis(config.retry_backoff_max_ms),
            batch_size: config.batch_size.max(1),
        })
    }
}

type Reply = std::sync::mpsc::SyncSender<Result<Vec<Vec<f32>>>>;

/// An [`Embedder`] backed by a server's `/embeddings` route.
pub struct RemoteEmbedder {
    requests: mpsc::UnboundedSender<(Vec<String>, Reply)>,
    dim: usize,
    url: String,
}

impl std::fmt::Debug for RemoteEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteEmbedder")
            .field("url", &self.url)
            .field("dim", &self.dim)
            .finish_non_exhaustive()
    }
}

impl RemoteEmbedder {
    /// Start the client thread and probe the server with one text to learn
    /// the vectors' width; an unreachable server is an error naming
    /// `embedding.base_url`.
    pub fn new(options: RemoteOptions) -> Result<Self> {
        let base = options.base_url.trim().trim_end_matches('/').to_string();
        let url = format!("{base}/embeddings");
        reqwest::Url::parse(&url).with_context(|| format!("key embedding.base_url ({base:?})"))?;
        let auth = options.api_key.as_ref().map(ApiKey::header).transpose()?;
        let http = http_client(options.timeout)?;
        let worker = Arc::new(Worker {
            http,
            url: url.clone(),
            auth,
            backoff: Backoff::new(options.backoff, options.backoff_max),
            options,
        });
        let (requests, mut incoming) = mpsc::unbounded_channel::<(Vec<String>, Reply)>();
        std::thread::Builder::new()
            .name("econ-embed-http".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        while let Some((_, reply)) = incoming.blocking_recv() {
                            let _ = reply.send(Err(anyhow!("starting the async runtime: {e}")));
                        }
                        return;
                    }
                };
                rt.block_on(async move {
                    // Each request a task: callers on several threads are
                    // served at once.
                    while let Some((texts, reply)) = incoming.recv().await {
                        let worker = Arc::clone(&worker);
                        tokio::spawn(async move {
                            let _ = reply.send(worker.embed(texts).await);
                        });
                    }
                });
            })
            .context("starting the embeddings client thread")?;
        let mut embedder = RemoteEmbedder {
            requests,
            dim: 0,
            url,
        };
        let probe = embedder.call(vec!["probe".to_string()]).with_context(|| {
            format!(
                "key embedding.base_url: the embeddings server {} did not answer a probe request",
                embedder.url
            )
        })?;
        embedder.dim = probe.first().map(Vec::len).unwrap_or(0);
        if embedder.dim == 0 {
            bail!(
                "key embedding.base_url: the embeddings server {} answered an empty vector",
                embedder.url
            );
        }
        tracing::info!("embeddings: {} ({}-d vectors)", embedder.url, embedder.dim);
        Ok(embedder)
    }

    /// `{base_url}/embeddings`.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn call(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>> {
        let stopped = || anyhow!("the embeddings client thread has stopped");
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        self.requests.send((texts, reply)).map_err(|_| stopped())?;
        answer.recv().map_err(|_| stopped())?
    }
}

impl Embedder for RemoteEmbedder {
    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let vectors = self.call(texts.to_vec())?;
        if let Some(v) = vectors.iter().find(|v| v.len() != self.dim) {
            bail!(
                "embeddings from {}: a {}-d vector where the probe gave {}-d",
                self.url,
                v.len(),
                self.dim
            );
        }
        Ok(vectors)
    }

    fn dim(&self) -> usize {
        self.dim
    }
}

/// The client side, on the embedder's own thread.
struct Worker {
    http: reqwest::Client,
    url: String,
    auth: Option<HeaderValue>,
    backoff: Backoff,
    options: RemoteOptions,
}

#[derive(Deserialize)]
struct Response {
    data: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    #[serde(default)]
    index: Option<usize>,
    embedding: Vec<f32>,
}

impl Worker {
    /// All texts, `batch_size` per request, the requests in flight together.
    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>> {
        let batches = texts
            .chunks(self.options.batch_size.max(1))
            .map(|batch| self.batch_with_retries(batch));
        let done = futures_util::future::try_join_all(batches).await?;
        Ok(done.into_iter().flatten().collect())
    }

    async fn batch_with_retries(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let body = serde_json::to_vec(&serde_json::json!({
            "model": self.options.model,
            "input": texts,
        }))
        .context("encoding the request body")?;
        let mask = |text: &str| match &self.options.api_key {
            Some(key) => key.mask(text),
            None => text.to_string(),
        };
        let max_retries = self.options.max_retries;
        with_retries("embeddings", max_retries, &self.backoff, mask, |_| {
            self.attempt(&body, texts.len())
        })
        .await
    }

    async fn attempt(&self, body: &[u8], n: usize) -> Result<Vec<Vec<f32>>, Failure> {
        let timeout = self.options.timeout;
        let bytes = post_json(&self.http, &self.url, self.auth.as_ref(), body, timeout).await?;
        let what = "embeddings response";
        let parsed: Response = parse_json(&self.url, &bytes, what)?;
        // A well-formed answer that does not fit the request: not retried.
        order(parsed.data, n).map_err(|e| {
            let kind = FailureKind::InvalidJson(what, error_chain(e.as_ref()), snippet(&bytes));
            Failure::new(&self.url, kind, false)
        })
    }
}

/// The vectors in input order: by `index` when the server gives one (each
/// of 0..n once), else as listed; all of one width, every value finite.
fn order(mut data: Vec<Item>, n: usize) -> Result<Vec<Vec<f32>>> {
    if data.len() != n {
        bail!("{} vectors for {n} texts", data.len());
    }
    if data.iter().all(|d| d.index.is_some()) {
        data.sort_by_key(|d| d.index);
        if data.iter().enumerate().any(|(i, d)| d.index != Some(i)) {
            bail!("the indices are not 0..{n}, each once");
        }
    }
    let dim = data.first().map(|d| d.embedding.len()).unwrap_or(0);
    if data.iter().any(|d| d.embedding.len() != dim) {
        bail!("vectors of different widths");
    }
    if data
        .iter()
        .any(|d| d.embedding.iter().any(|x| !x.is_finite()))
    {
        bail!("a vector holds a value that is not a finite number");
    }
    Ok(data.into_iter().map(|d| d.embedding).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(index: Option<usize>, v: &[f32]) -> Item {
        Item {
            index,
            embedding: v.to_vec(),
        }
    }

    #[test]
    fn orders_by_index_and_checks_the_answer() {
        let got = order(
            vec![
                item(Some(1), &[1.0]),
                item(Some(0), &[0.0]),
                item(Some(2), &[2.0]),
            ],
            3,
        )
        .unwrap();
        assert_eq!(got, vec![vec![0.0], vec![1.0], vec![2.0]]);
        assert!(order(vec![item(Some(0), &[0.0])], 2).is_err());
        assert!(order(vec![item(Some(0), &[0.0]), item(Some(0), &[1.0])], 2).is_err());
        assert!(order(vec![item(None, &[0.0]), item(None, &[1.0, 2.0])], 2).is_err());
        assert!(order(vec![item(None, &[f32::NAN])], 1).is_err());
    }
}
