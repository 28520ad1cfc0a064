//! The OpenAI-compatible HTTP provider: Together, vLLM, SGLang, the llama.cpp
//! server, OpenAI. `POST {base_url}/chat/completions`, non-streaming.
//!
//! - A per-endpoint concurrency limit (a semaphore per base URL).
//! - Several base URLs for one role are load-balanced: each request goes to
//!   the endpoint with the fewest requests in flight (ties rotate), and a retry
//!   goes to another endpoint when there is one.
//! - Retries with exponential backoff and jitter on 429, 408, 5xx, connection
//!   errors, timeouts and unreadable bodies, honouring `Retry-After` (seconds);
//!   after the budget an error names the endpoint, the status and the attempts.
//! - The API key is read from the environment variable the config names, sent
//!   as a Bearer token, and never shown: [`ApiKey`]'s Debug prints `***`, no log
//!   line carries it, and error messages have it masked even where a server
//!   echoes it back.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use reqwest::header::HeaderValue;
use serde::Deserialize;

use super::dialect::{Dialect, Resolved};
use super::{
    BoxFuture, ChatRequest, Completion, LlmClient, estimate_prompt_tokens, estimate_tokens,
};

use crate::http::{
    ApiKey, Backoff, Failure, FailureKind, http_client, parse_json, post_json, snippet,
    with_retries,
};

/// Everything the client needs; [`RoleConfig::openai_options`](crate::config::RoleConfig::openai_options) builds it from
/// a role's config.
#[derive(Clone, Debug)]
pub struct OpenAiOptions {
    /// Base URLs such as `http://localhost:8000/v1`; requests go to
    /// `{base_url}/chat/completions`.
    pub base_urls: Vec<String>,
    pub model: String,
    pub api_key: Option<ApiKey>,
    /// Requests in flight per endpoint.
    pub concurrency: usize,
    /// Limit on one HTTP attempt: connect, send, wait, read the body.
    pub timeout: Duration,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Delay before the first retry; doubled each retry up to `backoff_max`,
    /// then drawn uniformly from [delay/2, delay].
    pub backoff: Duration,
    pub backoff_max: Duration,
    /// Send the repetition penalty at all (`send_repetition_penalty`); its
    /// name comes from the dialect.
    pub send_repetition_penalty: bool,
    /// The server's dialect; None: "auto", found out by [`OpenAiClient::probe`].
    pub dialect: Option<Dialect>,
}

impl OpenAiOptions {
    /// Defaults for one or more servers of `model`.
    pub fn new(base_urls: Vec<String>, model: impl Into<String>) -> Self {
        OpenAiOptions {
            base_urls,
            model: model.into(),
            api_key: None,
            concurrency: 8,
            timeout: Duration::from_secs(60),
            max_retries: 3,
            backoff: Duration::from_millis(500),
            backoff_max: Duration::from_secs(8),
            send_repetition_penalty: true,
            dialect: None,
        }
    }
}

struct Endpoint {
    /// `{base_url}/chat/completions`.
    url: String,
    /// How many requests it gets at once (adaptive: limiter.rs).
    limit: super::limiter::Limiter,
    /// Requests picked for this endpoint and not finished (queued or sent).
    in_flight: AtomicUsize,
}

/// Decrements an endpoint's in-flight count when an attempt ends, however.
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

pub struct OpenAiClient {
    http: reqwest::Client,
    endpoints: Vec<Endpoint>,
    options: OpenAiOptions,
    auth: Option<HeaderValue>,
    next: AtomicUsize,
    backoff: Backoff,
    /// The server's dialect as configured, given away by its host name, or
    /// probed; with the fields dropped since.
    resolved: std::sync::Mutex<Resolved>,
}

impl fmt::Debug for OpenAiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `options` prints its key as ***; `auth` is left out altogether.
        f.debug_struct("OpenAiClient")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl OpenAiClient {
    pub fn new(options: OpenAiOptions) -> Result<Self> {
        if options.base_urls.is_empty() {
            bail!("an OpenAI-compatible client needs at least one base URL");
        }
        let mut endpoints = Vec::new();
        for base in &options.base_urls {
            let base = base.trim().trim_end_matches('/');
            let url = format!("{base}/chat/completions");
            reqwest::Url::parse(&url).with_context(|| format!("base URL {base:?}"))?;
            endpoints.push(Endpoint {
                url,
                limit: super::limiter::Limiter::new(options.concurrency.max(1)),
                in_flight: AtomicUsize::new(0),
            });
        }
        let auth = options.api_key.as_ref().map(ApiKey::header).transpose()?;
        let http = http_client(options.timeout)?;
        let host = reqwest::Url::parse(&endpoints[0].url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default();
        let resolved = match (options.dialect, Dialect::from_host(&host)) {
            (Some(d), _) => Resolved::new(d, "config"),
            (None, Some(d)) => Resolved::new(d, format!("host name {host}")),
            (None, None) => Resolved::new(Dialect::Generic, "not probed"),
        };
        let mut resolved = resolved;
        if !options.send_repetition_penalty {
            resolved.fields.insert("repetition_penalty".into(), None);
        }
        Ok(OpenAiClient {
            http,
            endpoints,
            backoff: Backoff::new(options.backoff, options.backoff_max),
            options,
            auth,
            next: AtomicUsize::new(0),
            resolved: std::sync::Mutex::new(resolved),
        })
    }

    /// The dialect and its fields as they stand.
    pub fn resolved(&self) -> Resolved {
        self.resolved
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// For `dialect = "auto"` on a host that says nothing: ask the first
    /// server what it is — llama.cpp answers `GET /props`, SGLang
    /// `GET /get_server_info`, Ollama `GET /api/version`, vLLM `GET /version`
    /// (each at the server's root, the base URL without `/v1`). Nothing
    /// known: a generic OpenAI-compatible server.
    pub async fn probe_dialect(&self) {
        if self.resolved().found_by != "not probed" {
            return;
        }
        let base = self.endpoints[0].url.trim_end_matches("/chat/completions");
        let root = base.strip_suffix("/v1").unwrap_or(base);
        let probes: [(&str, Dialect, fn(&serde_json::Value) -> bool); 4] = [
            ("/props", Dialect::LlamaCpp, |v| {
                v.get("default_generation_settings").is_some() || v.get("total_slots").is_some()
            }),
            ("/get_server_info", Dialect::Sglang, |v| v.is_object()),
            ("/api/version", Dialect::Ollama, |v| {
                v.get("version").is_some()
            }),
            ("/version", Dialect::Vllm, |v| v.get("version").is_some()),
        ];
        let mut found = (Dialect::Generic, "no probe answered".to_string());
        for (path, dialect, answers) in probes {
            let mut get = self
                .http
                .get(format!("{root}{path}"))
                .timeout(Duration::from_secs(5));
            if let Some(auth) = &self.auth {
                get = get.header(reqwest::header::AUTHORIZATION, auth.clone());
            }
            let Ok(response) = get.send().await else {
                continue;
            };
            if !response.status().is_success() {
                continue;
            }
            let Ok(v) = response.json::<serde_json::Value>().await else {
                continue;
            };
            if answers(&v) {
                found = (dialect, format!("GET {path}"));
                break;
            }
        }
        let mut resolved = Resolved::new(found.0, found.1);
        if !self.options.send_repetition_penalty {
            resolved.fields.insert("repetition_penalty".into(), None);
        }
        tracing::info!(
            "{}: dialect {} ({})",
            crate::http::redact_url(&self.endpoints[0].url),
            resolved.dialect.name(),
            resolved.found_by
        );
        *self.resolved.lock().unwrap_or_else(|e| e.into_inner()) = resolved;
    }

    pub fn options(&self) -> &OpenAiOptions {
        &self.options
    }

    /// The endpoint with the fewest requests picked for it per place of its
    /// limit (queued or sent: the least busy relative to what it takes),
    /// starting the scan at a rotating index so that ties go round-robin;
    /// `avoid` (the endpoint that just failed) only when it is the only one.
    fn pick(&self, avoid: Option<usize>) -> usize {
        let n = self.endpoints.len();
        if n == 1 {
            return 0;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        let mut best = None;
        let mut best_load = f64::INFINITY;
        for k in 0..n {
            let i = (start + k) % n;
            if Some(i) == avoid {
                continue;
            }
            let e = &self.endpoints[i];
            let load = e.in_flight.load(Ordering::Relaxed) as f64 / e.limit.limit() as f64;
            if load < best_load {
                best = Some(i);
                best_load = load;
            }
        }
        best.unwrap_or(start)
    }

    /// The request body in the server's dialect: each field under its name,
    /// the fields that cannot reach the model left out, and what the server
    /// needs for the same request to give the same text.
    fn body(&self, request: &ChatRequest) -> Result<Vec<u8>> {
        let resolved = self.resolved();
        let f = resolved.dialect.fields();
        let mut body = serde_json::Map::new();
        body.insert("model".into(), self.options.model.clone().into());
        body.insert("messages".into(), serde_json::to_value(&request.messages)?);
        body.insert("temperature".into(), number(request.temperature));
        body.insert("top_p".into(), number(request.top_p));
        body.insert(f.max_tokens.into(), request.max_tokens.into());
        if !request.stop.is_empty() {
            body.insert("stop".into(), serde_json::to_value(&request.stop)?);
        }
        if let Some(seed) = request.seed.filter(|_| f.seed) {
            body.insert("seed".into(), seed.into());
        }
        if resolved.penalty_reaches()
            && let Some(Some(name)) = resolved.fields.get("repetition_penalty")
        {
            body.insert(name.clone(), number(request.repetition_penalty));
        }
        for (key, value) in f.reproducible {
            body.insert((*key).into(), (*value).into());
        }
        body.insert("stream".into(), false.into());
        serde_json::to_vec(&body).context("encoding the request body")
    }

    /// A generic server that refused the repetition penalty by name: it is
    /// dropped from then on (said once, recorded in run.json), and the
    /// request goes again — as do requests that were in flight with it.
    /// False where that does not apply.
    fn drop_refused_penalty(&self, error: &anyhow::Error) -> bool {
        if !crate::http::is_refused(error) {
            return false;
        }
        let mut resolved = self.resolved.lock().unwrap_or_else(|e| e.into_inner());
        let name = match resolved.fields.get("repetition_penalty") {
            Some(Some(name)) => name.clone(),
            _ => return false,
        };
        if resolved.dialect != Dialect::Generic || !format!("{error:#}").contains(&name) {
            return false;
        }
        if resolved.penalty_reaches() {
            tracing::warn!(
                "{}: the server refused `{name}`; it is no longer sent, so the repetition \
                 penalty does not reach the model (recorded in run.json; set \
                 llm.<role>.dialect to say so up front)",
                crate::http::redact_url(&self.endpoints[0].url)
            );
            resolved.dropped.push("repetition_penalty".into());
        }
        true
    }

    async fn chat_with_retries(&self, request: &ChatRequest) -> Result<Completion> {
        match self.chat_once(request).await {
            Err(e) if self.drop_refused_penalty(&e) => self.chat_once(request).await,
            other => other,
        }
    }

    async fn chat_once(&self, request: &ChatRequest) -> Result<Completion> {
        let started = Instant::now();
        let body = self.body(request)?;
        // A retry goes to another endpoint when there is one.
        const NONE: usize = usize::MAX;
        let avoid = AtomicUsize::new(NONE);
        let (avoid, body) = (&avoid, &body);
        let max_retries = self.options.max_retries;
        with_retries(
            "LLM",
            max_retries,
            &self.backoff,
            |t| self.mask(t),
            |attempt| async move {
                let last = avoid.load(Ordering::Relaxed);
                let index = self.pick((last != NONE).then_some(last));
                if self.endpoints.len() > 1 {
                    avoid.store(index, Ordering::Relaxed);
                }
                let endpoint = &self.endpoints[index];
                let response = self.attempt(endpoint, body).await?;
                let completion = self.completion(request, response, started);
                tracing::debug!(
                    endpoint = %crate::http::redact_url(&endpoint.url),
                    attempt,
                    latency_ms = completion.latency.as_millis() as u64,
                    prompt_tokens = completion.prompt_tokens,
                    completion_tokens = completion.completion_tokens,
                    "chat completion"
                );
                Ok(completion)
            },
        )
        .await
    }

    /// One HTTP exchange with `endpoint`, within the per-attempt timeout.
    /// A 429 or 503 answered while the server was serving others of ours
    /// means it is full: the request waits for a place again (a few times)
    /// without spending one of its retries, which are for failures.
    async fn attempt(&self, endpoint: &Endpoint, body: &[u8]) -> Result<ResponseBody, Failure> {
        const FULL_WAITS: usize = 8;
        endpoint.in_flight.fetch_add(1, Ordering::Relaxed);
        let _in_flight = InFlight(&endpoint.in_flight);
        let mut full = 0;
        let sent = loop {
            let slot = endpoint.limit.acquire().await;
            let timeout = self.options.timeout;
            let sent =
                post_json(&self.http, &endpoint.url, self.auth.as_ref(), body, timeout).await;
            match &sent {
                Err(
                    f @ Failure {
                        kind: FailureKind::Status(status, _),
                        ..
                    },
                ) if matches!(status.as_u16(), 429 | 503) => {
                    slot.busy();
                    if full < FULL_WAITS && slot.shared() {
                        full += 1;
                        let after = f.retry_after;
                        drop(slot);
                        if let Some(after) = after {
                            tokio::time::sleep(after.min(crate::http::MAX_RETRY_AFTER)).await;
                        }
                        continue;
                    }
                }
                Ok(_) => slot.answered(),
                Err(_) => {}
            }
            break sent;
        };
        let bytes = sent?;
        let parsed: ResponseBody = parse_json(&endpoint.url, &bytes, "chat completion")?;
        if parsed.choices.is_empty() {
            let kind = FailureKind::NoChoices(snippet(&bytes));
            return Err(Failure::new(&endpoint.url, kind, false));
        }
        Ok(parsed)
    }

    fn completion(
        &self,
        request: &ChatRequest,
        response: ResponseBody,
        started: Instant,
    ) -> Completion {
        let choice = response.choices.into_iter().next();
        let text = choice
            .map(|c| c.message.and_then(|m| m.content).or(c.text))
            .unwrap_or_default()
            .unwrap_or_default();
        let usage = response.usage.unwrap_or_default();
        let estimated = usage.prompt_tokens.is_none() || usage.completion_tokens.is_none();
        Completion {
            prompt_tokens: usage
                .prompt_tokens
                .unwrap_or_else(|| estimate_prompt_tokens(&request.messages)),
            completion_tokens: usage
                .completion_tokens
                .unwrap_or_else(|| estimate_tokens(&text)),
            usage_estimated: estimated,
            text,
            latency: started.elapsed(),
        }
    }

    fn mask(&self, text: &str) -> String {
        match &self.options.api_key {
            Some(key) => key.mask(text),
            None => text.to_string(),
        }
    }
}

impl LlmClient for OpenAiClient {
    fn model(&self) -> &str {
        &self.options.model
    }

    fn chat<'a>(&'a self, request: &'a ChatRequest) -> BoxFuture<'a, Result<Completion>> {
        Box::pin(self.chat_with_retries(request))
    }

    fn dialect(&self) -> Option<Resolved> {
        Some(self.resolved())
    }

    fn probe(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.probe_dialect())
    }
}

/// An f32 as JSON in its shortest decimal form (0.7, not 0.699999988...).
fn number(x: f32) -> serde_json::Value {
    format!("{x}")
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(serde_json::Value::Null, serde_json::Value::Number)
}

#[derive(Deserialize)]
struct ResponseBody {
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    message: Option<ResponseMessage>,
    /// Completions-style servers answer with `text`.
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
struct ResponseMessage {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Default, Deserialize)]
struct Usage {
    #[serde(default)]
    prompt_tokens: Option<u32>,
    #[serde(default)]
    completion_tokens: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::Message;

    #[test]
    fn api_key_never_prints() {
        let key = ApiKey::new("sk-very-secret");
        assert_eq!(format!("{key:?}"), "***");
        let mut options = OpenAiOptions::new(vec!["http://127.0.0.1:9/v1".into()], "m");
        options.api_key = Some(key.clone());
        assert!(!format!("{options:?}").contains("very-secret"));
        let client = OpenAiClient::new(options).unwrap();
        assert!(!format!("{client:?}").contains("very-secret"));
        assert_eq!(key.mask("got Bearer sk-very-secret!"), "got Bearer ***!");
    }

    /// The body each dialect sends: every field under the server's own name.
    #[test]
    fn each_dialect_names_every_field_as_its_server_documents() {
        let request = ChatRequest {
            messages: vec![Message::new("user", "hi")],
            temperature: 0.7,
            repetition_penalty: 1.3,
            top_p: 0.9,
            max_tokens: 32,
            stop: Vec::new(),
            seed: Some(7),
        };
        let body = |dialect: Dialect| -> serde_json::Value {
            let mut options = OpenAiOptions::new(vec!["http://127.0.0.1:9/v1".into()], "m");
            options.dialect = Some(dialect);
            let client = OpenAiClient::new(options).unwrap();
            serde_json::from_slice(&client.body(&request).unwrap()).unwrap()
        };
        // vLLM ("Extra parameters" of its OpenAI-compatible server), SGLang
        // (sampling parameters), Together (chat completions reference).
        for d in [Dialect::Vllm, Dialect::Sglang, Dialect::Together] {
            let b = body(d);
            assert_eq!(b["repetition_penalty"], 1.3, "{d:?}");
            assert_eq!(b["max_tokens"], 32);
            assert_eq!(b["seed"], 7);
        }
        // llama-server: `repeat_penalty`, and its prompt cache off so that a
        // reused slot does not change the text (tools/server/README.md).
        let b = body(Dialect::LlamaCpp);
        assert_eq!(b["repeat_penalty"], 1.3);
        assert!(b.get("repetition_penalty").is_none());
        assert_eq!(b["cache_prompt"], false);
        assert_eq!(b["seed"], 7);
        // Ollama's OpenAI compatibility has no repetition penalty field.
        let b = body(Dialect::Ollama);
        assert!(b.get("repetition_penalty").is_none() && b.get("repeat_penalty").is_none());
        assert_eq!(b["max_tokens"], 32);
        // OpenAI: no repetition penalty (an unknown field is a 400), and
        // `max_completion_tokens` in place of the deprecated `max_tokens`.
        let b = body(Dialect::Openai);
        assert!(b.get("repetition_penalty").is_none());
        assert!(b.get("max_tokens").is_none());
        assert_eq!(b["max_completion_tokens"], 32);
        assert_eq!(b["seed"], 7);
    }

    #[test]
    fn body_has_every_field_and_can_omit_repetition_penalty() {
        let request = ChatRequest {
            messages: vec![Message::new("user", "hi")],
            temperature: 0.7,
            repetition_penalty: 1.1,
            top_p: 0.9,
            max_tokens: 32,
            stop: vec!["</s>".into()],
            seed: Some(7),
        };
        let mut options = OpenAiOptions::new(vec!["http://127.0.0.1:9/v1/".into()], "m");
        let client = OpenAiClient::new(options.clone()).unwrap();
        assert_eq!(
            client.endpoints[0].url,
            "http://127.0.0.1:9/v1/chat/completions"
        );
        let body: serde_json::Value =
            serde_json::from_slice(&client.body(&request).unwrap()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
                "temperature": 0.7, "top_p": 0.9, "max_tokens": 32, "stop": ["</s>"], "seed": 7,
                "repetition_penalty": 1.1, "stream": false})
        );
        options.send_repetition_penalty = false;
        let client = OpenAiClient::new(options).unwrap();
        let body: serde_json::Value =
            serde_json::from_slice(&client.body(&request).unwrap()).unwrap();
        assert!(body.get("repetition_penalty").is_none());
    }
}
