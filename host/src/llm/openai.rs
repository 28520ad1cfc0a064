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
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use super::{
    BoxFuture, ChatRequest, Completion, LlmClient, Message, estimate_prompt_tokens, estimate_tokens,
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
                    endpoint = %endpoint.url,
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
