//! A scriptable OpenAI-compatible server for the HTTP client's tests and
//! benchmark: axum on 127.0.0.1, a random port, started inside the test.
//! It answers `POST /v1/chat/completions` with the next scripted [`Reply`]
//! (then the default one), and counts requests and how many were in flight
//! at once. `POST /v1/embeddings` shares the script: `Ok` (and the other
//! success replies) answer [`fake_embedding`] of each input, in a shuffled
//! order with their `index`; error replies mean the same as for chat.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

/// A scripted model: the reply text for a request body.
pub type ModelFn = Arc<dyn Fn(&serde_json::Value) -> String + Send + Sync>;

#[derive(Clone)]
pub struct Scripted(pub ModelFn);

impl std::fmt::Debug for Scripted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scripted(..)")
    }
}

#[derive(Clone, Debug)]
pub enum Reply {
    /// A completion echoing the last message, with usage.
    Ok,
    /// The same without `usage`.
    OkWithoutUsage,
    /// An error status with a short JSON body and an optional Retry-After.
    Status(u16, Option<&'static str>),
    /// An error status whose body repeats the request's Authorization header
    /// (a careless proxy), to test that the client masks it.
    EchoAuth(u16),
    /// This status and body, as they are.
    Raw(u16, String),
    /// Never answer.
    Hang,
    /// Answer Ok after this long.
    Delay(Duration),
    /// Answer what the scripted model says, with usage.
    Model(Scripted),
}

pub struct ServerState {
    script: Mutex<VecDeque<Reply>>,
    default: Mutex<Reply>,
    /// Added before every reply.
    latency: Duration,
    /// Keep each request's body and Authorization header (off in benches).
    keep: bool,
    pub requests: AtomicUsize,
    current: AtomicUsize,
    pub max_concurrent: AtomicUsize,
    pub bodies: Mutex<Vec<serde_json::Value>>,
    pub auth: Mutex<Vec<Option<String>>>,
    /// Refuse, as OpenAI's API does, a request holding a field it does not
    /// know (`repetition_penalty`): HTTP 400 naming it.
    pub strict: std::sync::atomic::AtomicBool,
    /// Requests the server works on at once, and whether one beyond that
    /// waits for a slot (as llama-server's slots or vLLM's scheduler) or is
    /// turned away with 503 (a server at its limit).
    capacity: Mutex<Option<(Arc<tokio::sync::Semaphore>, bool)>>,
}

pub struct Server {
    pub addr: SocketAddr,
    pub state: Arc<ServerState>,
    task: tokio::task::JoinHandle<()>,
}

struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Server {
    /// A server that records requests and adds `latency` to every reply.
    pub async fn start(latency: Duration) -> Server {
        Self::start_with(latency, true).await
    }

    pub async fn start_with(latency: Duration, keep: bool) -> Server {
        let state = Arc::new(ServerState {
            script: Mutex::new(VecDeque::new()),
            default: Mutex::new(Reply::Ok),
            latency,
            keep,
            requests: AtomicUsize::new(0),
            current: AtomicUsize::new(0),
            max_concurrent: AtomicUsize::new(0),
            bodies: Mutex::new(Vec::new()),
            auth: Mutex::new(Vec::new()),
            strict: std::sync::atomic::AtomicBool::new(false),
            capacity: Mutex::new(None),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new()
            .route("/v1/chat/completions", post(chat))
            .route("/v1/embeddings", post(embeddings))
            .with_state(Arc::clone(&state));
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Server { addr, state, task }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Replies for the next requests, in order.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.script.lock().unwrap().extend(replies);
    }

    /// The reply once the script is used up.
    pub fn set_default(&self, reply: Reply) {
        *self.state.default.lock().unwrap() = reply;
    }

    /// Work on `slots` requests at once; beyond that, wait for a slot or
    /// (`reject`) answer 503.
    pub fn set_capacity(&self, slots: usize, reject: bool) {
        *self.state.capacity.lock().unwrap() =
            Some((Arc::new(tokio::sync::Semaphore::new(slots)), reject));
    }

    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    pub fn max_concurrent(&self) -> usize {
        self.state.max_concurrent.load(Ordering::SeqCst)
    }

    /// Stop accepting connections.
    pub fn shutdown(self) {
        self.task.abort();
    }
}

/// The text the server answers for a request: deterministic, so that tests
/// can predict it.
pub fn echo_text(body: &serde_json::Value) -> String {
    let last = body["messages"]
        .as_array()
        .and_then(|m| m.last())
        .and_then(|m| m["content"].as_str())
        .unwrap_or("");
    format!("echo: {last} (T={})", body["temperature"])
}

/// Its prompt_tokens: words in the messages plus 7.
pub fn prompt_tokens(body: &serde_json::Value) -> u64 {
    body["messages"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|m| {
                    m["content"]
                        .as_str()
                        .unwrap_or("")
                        .split_whitespace()
                        .count() as u64
                })
                .sum::<u64>()
        })
        .unwrap_or(0)
        + 7
}

async fn chat(State(s): State<Arc<ServerState>>, headers: HeaderMap, body: Bytes) -> Response {
    s.requests.fetch_add(1, Ordering::SeqCst);
    let now = s.current.fetch_add(1, Ordering::SeqCst) + 1;
    s.max_concurrent.fetch_max(now, Ordering::SeqCst);
    let _in_flight = InFlight(&s.current);
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    let auth = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or("").to_string());
    if s.keep {
        s.bodies.lock().unwrap().push(json.clone());
        s.auth.lock().unwrap().push(auth.clone());
    }
    if s.strict.load(Ordering::SeqCst) && json.get("repetition_penalty").is_some() {
        // OpenAI's words for a field it does not take.
        let body = r#"{"error": {"message": "Unrecognized request argument supplied: repetition_penalty", "type": "invalid_request_error", "param": null, "code": null}}"#;
        return (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response();
    }
    let reply = s
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or_else(|| s.default.lock().unwrap().clone());
    let capacity = s.capacity.lock().unwrap().clone();
    let _slot = match &capacity {
        None => None,
        Some((slots, false)) => Some(Arc::clone(slots).acquire_owned().await.unwrap()),
        Some((slots, true)) => match Arc::clone(slots).try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) => {
                let body = r#"{"error": {"message": "server busy"}}"#;
                return (StatusCode::SERVICE_UNAVAILABLE, body).into_response();
            }
        },
    };
    if !s.latency.is_zero() {
        tokio::time::sleep(s.latency).await;
    }
    match reply {
        Reply::Model(Scripted(model)) => completion_with(&json, model(&json), true),
        Reply::Ok => completion(&json, true),
        Reply::OkWithoutUsage => completion(&json, false),
        Reply::Delay(d) => {
            tokio::time::sleep(d).await;
            completion(&json, true)
        }
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            completion(&json, true)
        }
        Reply::Status(code, retry_after) => {
            let status = StatusCode::from_u16(code).unwrap();
            let body = format!(r#"{{"error": {{"message": "scripted {code}"}}}}"#);
            let mut response =
                (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
            if let Some(after) = retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, after.parse().unwrap());
            }
            response
        }
        Reply::EchoAuth(code) => {
            let status = StatusCode::from_u16(code).unwrap();
            let body = format!("bad credentials: {}", auth.unwrap_or_default());
            (status, body).into_response()
        }
        Reply::Raw(code, body) => (
            StatusCode::from_u16(code).unwrap(),
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
    }
}

/// Width of the test server's embeddings.
pub const EMBED_DIM: usize = 16;

/// The test server's embedding of `text`: a unit vector drawn from a hash of
/// the text (FNV-1a seeding xorshift64*), the same on every call.
pub fn fake_embedding(text: &str) -> Vec<f32> {
    let mut x: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        x ^= b as u64;
        x = x.wrapping_mul(0x0100_0000_01b3);
    }
    x |= 1;
    let mut v: Vec<f32> = (0..EMBED_DIM)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            ((x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64 - 0.5)
                as f32
        })
        .collect();
    let norm = v.iter().map(|a| a * a).sum::<f32>().sqrt().max(1e-12);
    v.iter_mut().for_each(|a| *a /= norm);
    v
}

async fn embeddings(
    State(s): State<Arc<ServerState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    let is_error = matches!(
        s.script
            .lock()
            .unwrap()
            .front()
            .cloned()
            .unwrap_or_else(|| s.default.lock().unwrap().clone()),
        Reply::Status(..) | Reply::EchoAuth(_) | Reply::Raw(..) | Reply::Hang
    );
    if is_error {
        // The chat handler plays the scripted failure (and counts it).
        return chat(State(s), headers, body).await;
    }
    s.requests.fetch_add(1, Ordering::SeqCst);
    let now = s.current.fetch_add(1, Ordering::SeqCst) + 1;
    s.max_concurrent.fetch_max(now, Ordering::SeqCst);
    let _in_flight = InFlight(&s.current);
    if s.keep {
        s.bodies.lock().unwrap().push(json.clone());
        s.auth.lock().unwrap().push(
            headers
                .get(header::AUTHORIZATION)
                .map(|v| v.to_str().unwrap_or("").to_string()),
        );
    }
    let reply = s.script.lock().unwrap().pop_front();
    let delay = match reply {
        Some(Reply::Delay(d)) => d,
        _ => Duration::ZERO,
    } + s.latency;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let inputs: Vec<String> = match &json["input"] {
        serde_json::Value::String(one) => vec![one.clone()],
        serde_json::Value::Array(many) => many
            .iter()
            .map(|v| v.as_str().unwrap_or("").to_string())
            .collect(),
        _ => Vec::new(),
    };
    // Listed in reverse, so that only `index` gives the input order.
    let data: Vec<serde_json::Value> = inputs
        .iter()
        .enumerate()
        .rev()
        .map(|(i, text)| {
            serde_json::json!({"object": "embedding", "index": i, "embedding": fake_embedding(text)})
        })
        .collect();
    axum::Json(serde_json::json!({
        "object": "list",
        "model": json["model"],
        "data": data,
        "usage": {"prompt_tokens": inputs.len(), "total_tokens": inputs.len()}
    }))
    .into_response()
}

fn completion(request: &serde_json::Value, usage: bool) -> Response {
    completion_with(request, echo_text(request), usage)
}

fn completion_with(request: &serde_json::Value, text: String, usage: bool) -> Response {
    let mut body = serde_json::json!({
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": request["model"],
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "finish_reason": "stop"
        }]
    });
    if usage {
        let p = prompt_tokens(request);
        let c = text.split_whitespace().count() as u64;
        body["usage"] =
            serde_json::json!({"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c});
    }
    axum::Json(body).into_response()
}
