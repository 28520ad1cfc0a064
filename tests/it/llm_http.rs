//! The OpenAI-compatible client against a real local server (axum on
//! 127.0.0.1, random port): request body, usage, concurrency limit, retries on
//! 429 / 5xx / hangs / bad bodies, load balancing, record/replay, and the API
//! key kept out of every log line and error.
//!
//! These tests install a global log subscriber and read the key from the
//! environment: they run in a child process of their own
//! (`in_their_own_process`), with the key set before it starts.

use crate::common::openai_server;
use crate::common::raw_http;
use crate::common::{dead_port, process};

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use econ_host::config::RoleConfig;
use econ_host::llm::cache::{CacheMode, CachedClient, cache_key};
use econ_host::llm::openai::{OpenAiClient, OpenAiOptions};
use econ_host::llm::{ChatRequest, LlmClient, Message, estimate_prompt_tokens, estimate_tokens};
use openai_server::{Reply, Server, echo_text, prompt_tokens};

const SECRET: &str = "sk-econ-test-7f3a91c2d4e8b6";
const KEY_VAR: &str = "ECON_LLM_HTTP_TEST_API_KEY";

#[test]
fn in_their_own_process() {
    process::run_in_child("llm_http::", &[(KEY_VAR, SECRET.as_ref())]);
}

/// Everything any test logs, at every level, including `log` records from
/// reqwest and hyper (bridged by tracing-subscriber).
fn logs() -> &'static Mutex<Vec<u8>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&buffer);
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || Capture(Arc::clone(&sink)))
            .init();
        buffer
    })
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn log_text() -> String {
    String::from_utf8_lossy(&logs().lock().unwrap()).into_owned()
}

/// Millisecond backoffs so that retries cost no test time.
fn options(urls: Vec<String>) -> OpenAiOptions {
    let mut o = OpenAiOptions::new(urls, "test-model");
    o.backoff = Duration::from_millis(1);
    o.backoff_max = Duration::from_millis(5);
    o.timeout = Duration::from_secs(5);
    o.max_retries = 3;
    o
}

fn client(urls: Vec<String>) -> OpenAiClient {
    OpenAiClient::new(options(urls)).unwrap()
}

fn request(text: &str) -> ChatRequest {
    ChatRequest {
        messages: vec![
            Message::new("system", "You are terse."),
            Message::new("user", text),
        ],
        temperature: 0.7,
        repetition_penalty: 1.15,
        top_p: 0.9,
        max_tokens: 64,
        stop: vec!["\n\n".into()],
        seed: Some(42),
    }
}

fn role(toml_text: &str) -> RoleConfig {
    toml::from_str(toml_text).unwrap()
}

/// What the server answers for `request` (see openai_server.rs).
fn expected_text(r: &ChatRequest) -> String {
    // Through JSON text, as the server sees it (f32 0.7 is "0.7" there).
    let t: serde_json::Value =
        serde_json::from_str(&serde_json::to_string(&r.temperature).unwrap()).unwrap();
    echo_text(&serde_json::json!({"messages": r.messages, "temperature": t}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs in its own process: llm_http::in_their_own_process"]
async fn request_body_bearer_key_and_usage() {
    logs();
    let server = Server::start(Duration::ZERO).await;
    let config = role(&format!(
        r#"provider = "openai"
           model = "meta-llama/Llama-3.3-70B"
           base_url = "{}/"
           api_key_env = "{KEY_VAR}"
           max_retries = 0"#,
        server.base_url()
    ));
    let c = OpenAiClient::new(config.openai_options("executor").unwrap()).unwrap();
    assert_eq!(c.model(), "meta-llama/Llama-3.3-70B");
    let r = request("What is 2 + 3?");
    let done = c.chat(&r).await.unwrap();

    let body = server.state.bodies.lock().unwrap()[0].clone();
    assert_eq!(
        body,
        serde_json::json!({
            "model": "meta-llama/Llama-3.3-70B",
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "What is 2 + 3?"}
            ],
            "temperature": 0.7,
            "top_p": 0.9,
            "max_tokens": 64,
            "stop": ["\n\n"],
            "seed": 42,
            "repetition_penalty": 1.15,
            "stream": false
        })
    );
    assert_eq!(
        server.state.auth.lock().unwrap()[0].as_deref(),
        Some(format!("Bearer {SECRET}").as_str())
    );
    assert_eq!(done.text, echo_text(&body));
    assert_eq!(done.prompt_tokens as u64, prompt_tokens(&body));
    assert_eq!(
        done.completion_tokens as usize,
        done.text.split_whitespace().count()
    );
    assert!(!done.usage_estimated);
    assert!(done.latency > Duration::ZERO);

    // Without a key variable: no Authorization header; repetition_penalty
    // left out for servers that reject it.
    let config = role(&format!(
        r#"provider = "openai"
           model = "gpt-4o-mini"
           base_url = "{}"
           send_repetition_penalty = false"#,
        server.base_url()
    ));
    let c = OpenAiClient::new(config.openai_options("executor").unwrap()).unwrap();
    c.chat(&request("again")).await.unwrap();
    let body = server.state.bodies.lock().unwrap()[1].clone();
    assert!(body.get("repetition_penalty").is_none(), "{body}");
    assert_eq!(body["model"], "gpt-4o-mini");
    assert_eq!(server.state.auth.lock().unwrap()[1], None);

    // A key variable that is not set: the error names the variable.
    let config = role(&format!(
        r#"provider = "openai"
           model = "m"
           base_url = "{}"
           api_key_env = "ECON_LLM_HTTP_TEST_UNSET_VARIABLE""#,
        server.base_url()
    ));
    let err = format!("{:#}", config.openai_options("coordinator").unwrap_err());
    assert!(
        err.contains("llm.coordinator.api_key_env")
            && err.contains("ECON_LLM_HTTP_TEST_UNSET_VARIABLE"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs in its own process: llm_http::in_their_own_process"]
async fn missing_usage_is_estimated_and_marked() {
    logs();
    let server = Server::start(Duration::ZERO).await;
    server.set_default(Reply::OkWithoutUsage);
    let r = request("count these tokens roughly");
    let done = client(vec![server.base_url()]).chat(&r).await.unwrap();
    assert!(done.usage_estimated);
    assert_eq!(done.text, expected_text(&r));
    assert_eq!(done.completion_tokens, estimate_tokens(&done.text));
    assert_eq!(done.prompt_tokens, estimate_prompt_tokens(&r.messages));
}

/// Servers that take one request at a time and turn the rest away with 503
/// (at their capacity): the client sends each fewer at once (its limit
/// halves on a 503 and grows back while answers come), so every request is
/// answered within its retries instead of backing off until it fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_at_capacity_get_fewer_requests_and_every_one_is_answered() {
    let servers = [
        Server::start(Duration::from_millis(30)).await,
        Server::start(Duration::from_millis(30)).await,
    ];
    for s in &servers {
        s.set_capacity(1, true);
    }
    let mut o = options(servers.iter().map(Server::base_url).collect());
    o.concurrency = 8;
    o.max_retries = 4;
    let c = Arc::new(OpenAiClient::new(o).unwrap());
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..40 {
        let c = Arc::clone(&c);
        tasks.spawn(async move { c.chat(&request(&format!("q{i}"))).await });
    }
    let mut answered = 0;
    while let Some(t) = tasks.join_next().await {
        t.unwrap().unwrap();
        answered += 1;
    }
    assert_eq!(answered, 40);
    // Both servers served, and turned some away before the limits came down.
    let sent: usize = servers.iter().map(Server::requests).sum();
    assert!(servers.iter().all(|s| s.requests() > 5), "{sent}");
    assert!(
        sent > 40,
        "no request was turned away: the test proves nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs in its own process: llm_http::in_their_own_process"]
async fn concurrency_limit_per_endpoint_is_respected() {
    logs();
    let server = Server::start(Duration::from_millis(40)).await;
    let mut o = options(vec![server.base_url()]);
    o.concurrency = 3;
    let c = Arc::new(OpenAiClient::new(o).unwrap());
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..15 {
        let c = Arc::clone(&c);
        tasks.spawn(async move {
            let r = request(&format!("q{i}"));
            let done = c.chat(&r).await.unwrap();
            assert_eq!(done.text, expected_text(&r));
        });
    }
    while let Some(t) = tasks.join_next().await {
        t.unwrap();
    }
    assert_eq!(server.requests(), 15);
    assert_eq!(server.max_concurrent(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs in its own process: llm_http::in_their_own_process"]
async fn rate_limit_429_honours_retry_after() {
    logs();
    let server = Server::start(Duration::ZERO).await;
    server.script([Reply::Status(429, Some("1"))]);
    let started = Instant::now();
    let r = request("after the limit");
    let done = client(vec![server.base_url()]).chat(&r).await.unwrap();
    let waited = started.elapsed();
    assert_eq!(done.text, expected_text(&r));
    assert_eq!(server.requests(), 2);
    // The backoff alone is 1 ms; Retry-After asked for a second.
    assert!(waited >= Duration::from_millis(990), "{waited:?}");
    // Loose: only "not some other, longer wait" (busy CI machines).
    assert!(waited < Duration::from_secs(10), "{waited:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs in its own process: llm_http::in_their_own_process"]
async fn server_errors_are_retried_then_succeed() {
    logs();
    let server = Server::start(Duration::ZERO).await;
    server.script([Reply::Status(500, None), Reply::Status(503, None)]);
    let r = request("eventually");
    let done = client(vec![server.base_url()]).chat(&r).await.unwrap();
    assert_eq!(done.text, expected_text(&r));
    assert_eq!(server.requests(), 3);

    // Past the budget: the error names endpoint, status and attempts.
    server.set_default(Reply::Status(502, None));
    let err = format!(
        "{:#}",
        client(vec![server.base_url()]).chat(&r).await.unwrap_err()
    );
    assert!(err.contains("after 4 attempts"), "{err}");
    assert!(err.contains("HTTP 502 Bad Gateway"), "{err}");
    assert!(
        err.contains(&format!("{}/chat/completions", server.base_url())),
        "{err}"
    );
    assert!(err.contains("scripted 502"), "{err}");

    // Client errors are not retried.
    let before = server.requests();
    server.set_default(Reply::Status(400, None));
    let err = format!(
        "{:#}",
        client(vec![server.base_url()]).chat(&r).await.unwrap_err()
    );
    assert_eq!(server.requests(), before + 1);
    assert!(
        err.contains("HTTP 400 Bad Request") && err.contains("not retried"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs in its own process: llm_http::in_their_own_process"]
async fn a_hang_past_the_timeout_is_retried_then_fails_clearly() {
    logs();
    let server = Server::start(Duration::ZERO).await;
    server.set_default(Reply::Hang);
    let mut o = options(vec![server.base_url()]);
    o.timeout = Duration::from_millis(150);
    o.max_retries = 2;
    let started = Instant::now();
    let err = format!(
        "{:#}",
        OpenAiClient::new(o)
            .unwrap()
            .chat(&request("hello?"))
            .await
            .unwrap_err()
    );
    let took = started.elapsed();
    assert_eq!(server.requests(), 3);
    assert!(err.contains("after 3 attempts"), "{err}");
    assert!(err.contains("timeout of 150 ms"), "{err}");
    assert!(err.contains(&server.base_url()), "{err}");
    assert!(took >= Duration::from_millis(450), "{took:?}");
    // Well under the 15 s that three attempts at the default 5 s would take.
    assert!(took < Duration::from_secs(10), "{took:?}");

    // The same request succeeds once the server answers again.
    server.set_default(Reply::Ok);
    server.script([Reply::Hang]);
    let mut o = options(vec![server.base_url()]);
    o.timeout = Duration::from_millis(150);
    let r = request("second try");
    let done = OpenAiClient::new(o).unwrap().chat(&r).await.unwrap();
    assert_eq!(done.text, expected_text(&r));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs in its own process: llm_http::in_their_own_process"]
async fn a_slow_server_within_the_timeout_is_waited_for() {
    logs();
    let server = Server::start(Duration::ZERO).await;
    server.set_default(Reply::Delay(Duration::from_millis(300)));
    let mut o = options(vec![server.base_url()]);
    o.timeout = Duration::from_secs(3);
    let c = Arc::new(OpenAiClient::new(o).unwrap());
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..4 {
        let c = Arc::clone(&c);
        tasks.spawn(async move { c.chat(&request(&format!("slow {i}"))).await.unwrap() });
    }
    while let Some(done) = tasks.join_next().await {
        let done = done.unwrap();
        assert!(done.latency >= Duration::from_millis(300), "{done:?}");
    }
    assert_eq!(server.requests(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs in its own process: llm_http::in_their_own_process"]
async fn invalid_or_truncated_bodies_give_clear_errors() {
    logs();
    let server = Server::start(Duration::ZERO).await;
    let truncated = r#"{"id": "x", "choices": [{"index": 0, "mess"#;
    // Invalid JSON once, then a good answer: retried, nothing lost.
    server.script([Reply::Raw(200, truncated.into())]);
    let r = request("one");
    let done = client(vec![server.base_url()]).chat(&r).await.unwrap();
    assert_eq!(done.text, expected_text(&r));
    assert_eq!(server.requests(), 2);

    // Always invalid: a clear error after the budget.
    server.set_default(Reply::Raw(200, truncated.into()));
    let err = format!(
        "{:#}",
        client(vec![server.base_url()]).chat(&r).await.unwrap_err()
    );
    assert!(err.contains("not a valid chat completion"), "{err}");
    assert!(err.contains("after 4 attempts"), "{err}");
    assert!(err.contains(r#"it starts: {"id": "x""#), "{err}");

    // Valid JSON without choices: a server bug, not retried.
    server.set_default(Reply::Raw(
        200,
        r#"{"object": "chat.completion", "choices": []}"#.into(),
    ));
    let before = server.requests();
    let err = format!(
        "{:#}",
        client(vec![server.base_url()]).chat(&r).await.unwrap_err()
    );
    assert!(err.contains("no choices"), "{err}");
    assert_eq!(server.requests(), before + 1);

    // A body cut off mid-transfer (the connection closes early).
    let addr = truncating_server().await;
    let mut o = options(vec![format!("http://{addr}/v1")]);
    o.max_retries = 1;
    let err = format!(
        "{:#}",
        OpenAiClient::new(o).unwrap().chat(&r).await.unwrap_err()
    );
    assert!(err.contains("after 2 attempts"), "{err}");
    assert!(err.contains("could not be read"), "{err}");
}

/// Answers every request with a 200 whose body is shorter than its
/// Content-Length, then closes the connection.
async fn truncating_server() -> SocketAddr {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                if raw_http::read_request(&mut socket).await.is_none() {
                    return;
                }
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n";
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(br#"{"choices": [{"message": {"#).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs in its own process: llm_http::in_their_own_process"]
async fn two_servers_share_the_load() {
    logs();
    let a = Server::start(Duration::from_millis(20)).await;
    let b = Server::start(Duration::from_millis(20)).await;
    let mut o = options(vec![a.base_url(), b.base_url()]);
    o.concurrency = 4;
    let c = Arc::new(OpenAiClient::new(o).unwrap());
    // One at a time: ties rotate, so they alternate.
    for i in 0..10 {
        c.chat(&request(&format!("seq {i}"))).await.unwrap();
    }
    assert_eq!((a.requests(), b.requests()), (5, 5));
    // Many at once: both busy, each within its own limit.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..40 {
        let c = Arc::clone(&c);
        tasks.spawn(async move { c.chat(&request(&format!("par {i}"))).await.unwrap() });
    }
    while let Some(t) = tasks.join_next().await {
        t.unwrap();
    }
    assert_eq!(a.requests() + b.requests(), 50);
    assert!(
        a.requests() >= 15 && b.requests() >= 15,
        "{} / {}",
        a.requests(),
        b.requests()
    );
    assert_eq!((a.max_concurrent(), b.max_concurrent()), (4, 4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs in its own process: llm_http::in_their_own_process"]
async fn a_dead_server_is_routed_around() {
    logs();
    // Bound but not listening: connections are refused.
    let dead_port = dead_port::DeadPort::new();
    let dead = dead_port.addr;
    let live = Server::start(Duration::ZERO).await;
    let c = client(vec![format!("http://{dead}/v1"), live.base_url()]);
    for i in 0..6 {
        let r = request(&format!("route {i}"));
        assert_eq!(c.chat(&r).await.unwrap().text, expected_text(&r));
    }
    assert_eq!(live.requests(), 6);
    // Alone, the dead one fails with the connection error after the budget.
    let mut o = options(vec![format!("http://{dead}/v1")]);
    o.max_retries = 1;
    let err = format!(
        "{:#}",
        OpenAiClient::new(o)
            .unwrap()
            .chat(&request("x"))
            .await
            .unwrap_err()
    );
    assert!(err.contains("after 2 attempts"), "{err}");
    assert!(err.contains("could not send the request"), "{err}");
    assert!(err.contains(&dead.to_string()), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs in its own process: llm_http::in_their_own_process"]
async fn the_api_key_is_in_no_log_line_error_or_debug_output() {
    logs();
    let server = Server::start(Duration::ZERO).await;
    let config = role(&format!(
        r#"provider = "openai"
           model = "m"
           base_url = "{}"
           api_key_env = "{KEY_VAR}"
           retry_backoff_ms = 1
           retry_backoff_max_ms = 2"#,
        server.base_url()
    ));
    let options = config.openai_options("executor").unwrap();
    assert!(!format!("{options:?}").contains(SECRET));
    let c = OpenAiClient::new(options).unwrap();
    assert!(!format!("{c:?}").contains(SECRET));

    // Retries whose error bodies repeat the key, then success.
    server.script([Reply::EchoAuth(500), Reply::EchoAuth(503)]);
    c.chat(&request("one")).await.unwrap();
    // A failure whose body repeats the key: masked in the message.
    server.set_default(Reply::EchoAuth(401));
    let err = c.chat(&request("two")).await.unwrap_err();
    for shown in [format!("{err}"), format!("{err:#}"), format!("{err:?}")] {
        assert!(!shown.contains(SECRET), "{shown}");
    }
    assert!(
        format!("{err:#}").contains("bad credentials: Bearer ***"),
        "{err:#}"
    );
    // The key did travel, to the server only.
    assert!(
        server
            .state
            .auth
            .lock()
            .unwrap()
            .iter()
            .all(|a| a.as_deref() == Some(format!("Bearer {SECRET}").as_str()))
    );

    let text = log_text();
    assert!(
        text.contains("retrying in"),
        "the capture saw no retry:\n{text}"
    );
    // The capture also holds reqwest's and hyper's own `log` records.
    assert!(text.contains("reqwest::connect"), "{text}");
    assert!(text.contains("Bearer ***"), "{text}");
    assert!(!text.contains(SECRET), "the API key reached the logs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs in its own process: llm_http::in_their_own_process"]
async fn record_then_replay_without_the_server() {
    logs();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("llm-cache.jsonl");
    let server = Server::start(Duration::from_millis(5)).await;
    let url = server.base_url();
    let requests: Vec<ChatRequest> = (0..6)
        .map(|i| ChatRequest {
            temperature: 0.2 * i as f32,
            ..request(&format!("problem {}", i % 3))
        })
        .collect();

    let recorder =
        Arc::new(CachedClient::new(client(vec![url.clone()]), CacheMode::Record, &path).unwrap());
    let mut tasks = tokio::task::JoinSet::new();
    for (i, r) in requests.iter().cloned().enumerate() {
        let c = Arc::clone(&recorder);
        tasks.spawn(async move { (i, c.chat(&r).await.unwrap()) });
    }
    let mut recorded = vec![None; requests.len()];
    while let Some(t) = tasks.join_next().await {
        let (i, done) = t.unwrap();
        recorded[i] = Some(done);
    }
    assert_eq!(server.requests(), 6);
    drop(recorder);
    server.shutdown();
    tokio::time::sleep(Duration::from_millis(20)).await;

    // The server is gone: a direct request fails ...
    let mut o = options(vec![url.clone()]);
    o.max_retries = 0;
    assert!(
        OpenAiClient::new(o)
            .unwrap()
            .chat(&requests[0])
            .await
            .is_err()
    );
    // ... and the replay gives the very same completions.
    let replayer = CachedClient::new(client(vec![url.clone()]), CacheMode::Replay, &path).unwrap();
    for (r, done) in requests.iter().zip(&recorded) {
        assert_eq!(&replayer.chat(r).await.unwrap(), done.as_ref().unwrap());
    }
    let missing = request("never recorded");
    let err = format!("{:#}", replayer.chat(&missing).await.unwrap_err());
    assert!(err.contains(&cache_key("test-model", &missing)), "{err}");
    assert!(err.contains("no recorded response"), "{err}");
}
