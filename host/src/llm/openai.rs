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
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use super::{
    BoxFuture, ChatRequest, Completion, LlmClient, Message, estimate_prompt_tokens, estimate_tokens,
};
use crate::config::RoleConfig;

/// The longest `Retry-After` honoured; a server asking for more gets this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// How much of an error response's body goes into an error message.
const BODY_SNIPPET: usize = 300;

/// An API key. Debug prints `***`; there is no Display.
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into())
    }

    /// The key in the environment variable `var`; the error names the
    /// variable, never a value.
    pub fn from_env(var: &str) -> Result<Self> {
        match std::env::var(var) {
            Ok(key) if !key.trim().is_empty() => Ok(ApiKey(key.trim().to_string())),
            Ok(_) => bail!("environment variable {var} (the API key) is empty"),
            Err(std::env::VarError::NotPresent) => {
                bail!("environment variable {var} (the API key) is not set")
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                bail!("environment variable {var} (the API key) is not valid UTF-8")
            }
        }
    }

    pub(crate) fn header(&self) -> Result<HeaderValue> {
        let mut value = HeaderValue::from_str(&format!("Bearer {}", self.0))
            .map_err(|_| anyhow!("the API key contains characters not allowed in a header"))?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// `text` with every occurrence of the key replaced by `***`.
    pub(crate) fn mask(&self, text: &str) -> String {
        if self.0.len() < 4 {
            return text.to_string();
        }
        text.replace(&self.0, "***")
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Everything the client needs; [`OpenAiOptions::from_role`] builds it from
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
    /// Send `repetition_penalty` (vLLM, Together, SGLang, llama.cpp server);
    /// off for servers that reject unknown fields (OpenAI).
    pub send_repetition_penalty: bool,
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
        }
    }

    /// From the config of role `role` ("coordinator" / "executor"), reading
    /// the API key from the environment variable it names.
    pub fn from_role(role: &str, config: &RoleConfig) -> Result<Self> {
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
        })
    }
}

struct Endpoint {
    /// `{base_url}/chat/completions`.
    url: String,
    permits: Semaphore,
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
                permits: Semaphore::new(options.concurrency.max(1)),
                in_flight: AtomicUsize::new(0),
            });
        }
        let auth = options.api_key.as_ref().map(ApiKey::header).transpose()?;
        let http = http_client(options.timeout)?;
        Ok(OpenAiClient {
            http,
            endpoints,
            backoff: Backoff::new(options.backoff, options.backoff_max),
            options,
            auth,
            next: AtomicUsize::new(0),
        })
    }

    pub fn options(&self) -> &OpenAiOptions {
        &self.options
    }

    /// The endpoint with the fewest requests in flight, starting the scan at
    /// a rotating index so that ties go round-robin; `avoid` (the endpoint
    /// that just failed) only when it is the only one.
    fn pick(&self, avoid: Option<usize>) -> usize {
        let n = self.endpoints.len();
        if n == 1 {
            return 0;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        let mut best = None;
        let mut best_load = usize::MAX;
        for k in 0..n {
            let i = (start + k) % n;
            if Some(i) == avoid {
                continue;
            }
            let load = self.endpoints[i].in_flight.load(Ordering::Relaxed);
            if load < best_load {
                best = Some(i);
                best_load = load;
            }
        }
        best.unwrap_or(start)
    }

    /// Backoff before retry number `retry` (1-based), with equal jitter.
    #[cfg(test)]
    fn backoff(&self, retry: u32) -> Duration {
        self.backoff.delay(retry)
    }

    fn body(&self, request: &ChatRequest) -> Result<Vec<u8>> {
        let body = RequestBody {
            model: &self.options.model,
            messages: &request.messages,
            temperature: request.temperature,
            top_p: request.top_p,
            max_tokens: request.max_tokens,
            stop: &request.stop,
            seed: request.seed,
            repetition_penalty: self
                .options
                .send_repetition_penalty
                .then_some(request.repetition_penalty),
            stream: false,
        };
        serde_json::to_vec(&body).context("encoding the request body")
    }

    async fn chat_with_retries(&self, request: &ChatRequest) -> Result<Completion> {
        let started = Instant::now();
        let body = self.body(request)?;
        let mut avoid = None;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let index = self.pick(avoid);
            let endpoint = &self.endpoints[index];
            match self.attempt(endpoint, &body).await {
                Ok(response) => {
                    let completion = self.completion(request, response, started);
                    tracing::debug!(
                        endpoint = %endpoint.url,
                        attempt,
                        latency_ms = completion.latency.as_millis() as u64,
                        prompt_tokens = completion.prompt_tokens,
                        completion_tokens = completion.completion_tokens,
                        "chat completion"
                    );
                    return Ok(completion);
                }
                Err(failure) => {
                    let what = self.mask(&failure.to_string());
                    let delay = retry_delay(
                        "LLM",
                        &failure,
                        &what,
                        attempt,
                        self.options.max_retries,
                        &self.backoff,
                    )?;
                    if self.endpoints.len() > 1 {
                        avoid = Some(index);
                    }
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// One HTTP exchange with `endpoint`, within the per-attempt timeout.
    async fn attempt(&self, endpoint: &Endpoint, body: &[u8]) -> Result<ResponseBody, Failure> {
        endpoint.in_flight.fetch_add(1, Ordering::Relaxed);
        let _in_flight = InFlight(&endpoint.in_flight);
        let _permit = endpoint
            .permits
            .acquire()
            .await
            .map_err(|_| Failure::new(&endpoint.url, FailureKind::Closed, false))?;
        let timeout = self.options.timeout;
        let bytes = post_json(&self.http, &endpoint.url, self.auth.as_ref(), body, timeout).await?;
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
}

/// The HTTP client of an API client whose attempts time out after `timeout`.
pub(crate) fn http_client(timeout: Duration) -> Result<reqwest::Client> {
    crate::tls::client_builder()
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .tcp_nodelay(true)
        .build()
        .context("building the HTTP client")
}

/// Exponential backoff with equal jitter, shared by the HTTP clients (chat
/// completions here, embeddings in `crate::embed::remote`).
pub(crate) struct Backoff {
    base: Duration,
    cap: Duration,
    rng: AtomicU64,
}

impl Backoff {
    /// `base` before the first retry, doubled per retry up to `cap`.
    pub(crate) fn new(base: Duration, cap: Duration) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9_7f4a_7c15)
            | 1;
        Backoff {
            base,
            cap,
            rng: AtomicU64::new(seed),
        }
    }

    /// Backoff before retry number `retry` (1-based): the doubled delay,
    /// then drawn uniformly from [delay/2, delay].
    pub(crate) fn delay(&self, retry: u32) -> Duration {
        let base = self.base.as_secs_f64();
        let cap = self.cap.as_secs_f64().max(base);
        let delay = (base * 2f64.powi(retry.saturating_sub(1).min(30) as i32)).min(cap);
        // xorshift64*: enough randomness for jitter, no extra dependency.
        let mut x = self.rng.load(Ordering::Relaxed);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.store(x, Ordering::Relaxed);
        let unit = (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64;
        Duration::from_secs_f64(delay * (0.5 + 0.5 * unit))
    }
}

/// After failed attempt number `attempt` (1-based): how long to wait before
/// the next one (the backoff, or the server's Retry-After when longer), or
/// the final error once the failure is not retryable or `max_retries` are
/// spent. `what` is the failure's text, the API key already masked; `service`
/// ("LLM", "embeddings") starts the messages.
pub(crate) fn retry_delay(
    service: &str,
    failure: &Failure,
    what: &str,
    attempt: u32,
    max_retries: u32,
    backoff: &Backoff,
) -> Result<Duration> {
    let attempts = max_retries.saturating_add(1);
    if !failure.retryable {
        bail!("{service} request failed on attempt {attempt} of {attempts} (not retried): {what}");
    }
    if attempt >= attempts {
        bail!(
            "{service} request failed after {attempt} attempts (max_retries = {max_retries}): {what}"
        );
    }
    let mut delay = backoff.delay(attempt);
    if let Some(after) = failure.retry_after {
        delay = delay.max(after.min(MAX_RETRY_AFTER));
    }
    tracing::warn!(
        "{service} request attempt {attempt} of {attempts} failed: {what}; retrying in {delay:.1?}"
    );
    Ok(delay)
}

/// POST a JSON `body` to `url` and read the whole response within `timeout`:
/// the body of a 2xx answer, else why not (429, 408 and 5xx, connection
/// errors, unreadable bodies and timeouts are retryable).
pub(crate) async fn post_json(
    http: &reqwest::Client,
    url: &str,
    auth: Option<&HeaderValue>,
    body: &[u8],
    timeout: Duration,
) -> Result<Vec<u8>, Failure> {
    let fail = |kind, retryable| Failure::new(url, kind, retryable);
    let exchange = async {
        let mut post = http
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_vec());
        if let Some(auth) = auth {
            post = post.header(AUTHORIZATION, auth.clone());
        }
        let response = post.send().await.map_err(|e| {
            let chain = error_chain(&e);
            // An untrusted certificate stays untrusted: say so at once.
            match crate::tls::untrusted_certificate(&chain) {
                Some(why) => fail(FailureKind::Certificate(why), false),
                None => fail(FailureKind::Send(chain), true),
            }
        })?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let bytes = response
            .bytes()
            .await
            .map_err(|e| fail(FailureKind::Body(status, error_chain(&e)), true))?;
        if !status.is_success() {
            let retryable = status == StatusCode::TOO_MANY_REQUESTS
                || status == StatusCode::REQUEST_TIMEOUT
                || status.is_server_error();
            let mut failure = fail(FailureKind::Status(status, snippet(&bytes)), retryable);
            failure.retry_after = retry_after;
            return Err(failure);
        }
        Ok(Vec::from(bytes))
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(result) => result,
        Err(_) => Err(fail(FailureKind::Timeout(timeout), true)),
    }
}

#[derive(Serialize)]
struct RequestBody<'a> {
    model: &'a str,
    messages: &'a [Message],
    temperature: f32,
    top_p: f32,
    max_tokens: u32,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    stop: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    repetition_penalty: Option<f32>,
    stream: bool,
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

/// Why one attempt failed.
pub(crate) struct Failure {
    pub(crate) url: String,
    pub(crate) kind: FailureKind,
    pub(crate) retryable: bool,
    pub(crate) retry_after: Option<Duration>,
}

impl Failure {
    pub(crate) fn new(url: &str, kind: FailureKind, retryable: bool) -> Self {
        Failure {
            url: url.to_string(),
            kind,
            retryable,
            retry_after: None,
        }
    }
}

/// A 2xx body from `url` as JSON of type `T`; `what` names it in the error
/// (retryable: a truncated or garbled body may come right next time).
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    url: &str,
    bytes: &[u8],
    what: &'static str,
) -> Result<T, Failure> {
    serde_json::from_slice(bytes).map_err(|e| {
        let kind = FailureKind::InvalidJson(what, e.to_string(), snippet(bytes));
        Failure::new(url, kind, true)
    })
}

pub(crate) enum FailureKind {
    /// Connecting or sending failed (refused, reset, DNS, TLS).
    Send(String),
    /// The server's TLS certificate is not trusted (not retried): what to
    /// do about it, with the error chain.
    Certificate(String),
    /// The body could not be read (connection closed early, truncated).
    Body(StatusCode, String),
    Status(StatusCode, String),
    /// HTTP 200 but not the JSON expected: what was expected, the parse
    /// error, the body's start.
    InvalidJson(&'static str, String, String),
    NoChoices(String),
    Timeout(Duration),
    Closed,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = &self.url;
        match &self.kind {
            FailureKind::Send(e) => write!(f, "POST {url}: could not send the request: {e}"),
            FailureKind::Certificate(why) => write!(f, "POST {url}: {why}"),
            FailureKind::Body(status, e) => write!(
                f,
                "POST {url}: HTTP {status}, but the response body could not be read: {e}"
            ),
            FailureKind::Status(status, body) => {
                write!(f, "POST {url}: HTTP {status}")?;
                if let Some(after) = self.retry_after {
                    write!(f, " (Retry-After {} s)", after.as_secs_f64())?;
                }
                if !body.is_empty() {
                    write!(f, ": {body}")?;
                }
                Ok(())
            }
            FailureKind::InvalidJson(what, e, body) => write!(
                f,
                "POST {url}: HTTP 200 but the body is not a valid {what} ({e}); it starts: {body}"
            ),
            FailureKind::NoChoices(body) => {
                write!(f, "POST {url}: the response has no choices: {body}")
            }
            FailureKind::Timeout(t) => write!(
                f,
                "POST {url}: no complete response within the timeout of {} ms",
                t.as_millis()
            ),
            FailureKind::Closed => write!(f, "POST {url}: the client was shut down"),
        }
    }
}

/// `Retry-After` in its seconds form (`120`, also `1.5`); the HTTP-date form
/// is ignored (the backoff applies).
fn parse_retry_after(value: &str) -> Option<Duration> {
    let secs: f64 = value.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(1e6)))
}

/// The first bytes of a body, as text on one line.
pub(crate) fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(BODY_SNIPPET * 4)]);
    let mut out: String = text
        .chars()
        .take(BODY_SNIPPET)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().count() > BODY_SNIPPET || bytes.len() > BODY_SNIPPET * 4 {
        out.push('…');
    }
    if out.trim().is_empty() {
        return "(empty body)".into();
    }
    out
}

/// An error and its causes on one line ("error sending request: connection refused").
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn retry_after_seconds() {
        assert_eq!(parse_retry_after(" 2 "), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        let mut options = OpenAiOptions::new(vec!["http://127.0.0.1:9/v1".into()], "m");
        options.backoff = Duration::from_millis(100);
        options.backoff_max = Duration::from_millis(1000);
        let client = OpenAiClient::new(options).unwrap();
        for _ in 0..50 {
            let d1 = client.backoff(1).as_secs_f64();
            assert!((0.05..=0.1).contains(&d1), "{d1}");
            let d3 = client.backoff(3).as_secs_f64();
            assert!((0.2..=0.4).contains(&d3), "{d3}");
            let d9 = client.backoff(9).as_secs_f64();
            assert!((0.5..=1.0).contains(&d9), "{d9}");
        }
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
