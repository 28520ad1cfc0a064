//! The remote embeddings provider (`[embedding] provider = "openai"`) against
//! the local OpenAI-compatible test server: vectors in input order, batching,
//! retries, a dead server, the API key, and use from inside a tokio runtime
//! and from spawn_blocking threads.

use crate::common::openai_server;
use crate::common::{dead_port, process};

use std::time::Duration;

use econ_host::config::EmbeddingConfig;
use econ_host::embed::{Embedder, RemoteEmbedder, RemoteOptions};
use openai_server::{EMBED_DIM, Reply, Server, fake_embedding};

const SECRET: &str = "sk-econ-embed-test-5b1e77a0c3";
const KEY_VAR: &str = "ECON_EMBED_REMOTE_TEST_API_KEY";

/// A runtime for the server, apart from the code under test.
fn server_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn options(server: &Server) -> RemoteOptions {
    let mut options = RemoteOptions::new(server.base_url(), "test-embed");
    options.backoff = Duration::from_millis(1);
    options.backoff_max = Duration::from_millis(5);
    options.timeout = Duration::from_secs(5);
    options
}

fn texts(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("text number {i}")).collect()
}

fn inputs(body: &serde_json::Value) -> Vec<String> {
    body["input"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn vectors_come_back_in_input_order() {
    let rt = server_runtime();
    let server = rt.block_on(Server::start(Duration::ZERO));
    let embedder = RemoteEmbedder::new(options(&server)).unwrap();
    assert_eq!(embedder.dim(), EMBED_DIM);
    assert_eq!(embedder.url(), format!("{}/embeddings", server.base_url()));
    let texts = texts(5);
    let got = embedder.embed(&texts).unwrap();
    let want: Vec<Vec<f32>> = texts.iter().map(|t| fake_embedding(t)).collect();
    assert_eq!(got, want);
    assert!(embedder.embed(&[]).unwrap().is_empty());
    let bodies = server.state.bodies.lock().unwrap().clone();
    // The probe, then one request with all five texts.
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[0]["model"], "test-embed");
    assert_eq!(inputs(&bodies[1]), texts);
}

#[test]
fn texts_beyond_the_batch_size_go_in_several_requests() {
    let rt = server_runtime();
    let server = rt.block_on(Server::start(Duration::from_millis(20)));
    let mut options = options(&server);
    options.batch_size = 2;
    let embedder = RemoteEmbedder::new(options).unwrap();
    let texts = texts(5);
    let got = embedder.embed(&texts).unwrap();
    assert_eq!(
        got,
        texts.iter().map(|t| fake_embedding(t)).collect::<Vec<_>>()
    );
    let bodies = server.state.bodies.lock().unwrap().clone();
    let mut sizes: Vec<usize> = bodies[1..].iter().map(|b| inputs(b).len()).collect();
    sizes.sort();
    assert_eq!(sizes, vec![1, 2, 2]);
    // The three requests were in flight together.
    assert!(server.max_concurrent() >= 2, "{}", server.max_concurrent());
}

#[test]
fn a_503_is_retried_and_the_budget_ends_in_a_clear_error() {
    let rt = server_runtime();
    let server = rt.block_on(Server::start(Duration::ZERO));
    let mut options = options(&server);
    options.max_retries = 2;
    let embedder = RemoteEmbedder::new(options).unwrap();
    server.script([Reply::Status(503, None), Reply::Status(429, Some("0"))]);
    let got = embedder.embed(&texts(3)).unwrap();
    assert_eq!(got.len(), 3);
    assert_eq!(server.requests(), 1 + 3);

    server.script([
        Reply::Status(503, None),
        Reply::Status(503, None),
        Reply::Status(503, None),
    ]);
    let err = format!("{:#}", embedder.embed(&texts(2)).unwrap_err());
    assert!(err.contains("after 3 attempts"), "{err}");
    assert!(err.contains("503"), "{err}");
    assert!(err.contains("/v1/embeddings"), "{err}");

    // A client error is not retried.
    server.script([Reply::Status(400, None)]);
    let err = format!("{:#}", embedder.embed(&texts(2)).unwrap_err());
    assert!(err.contains("not retried") && err.contains("400"), "{err}");
}

#[test]
fn a_bad_body_is_an_error_naming_the_url() {
    let rt = server_runtime();
    let server = rt.block_on(Server::start(Duration::ZERO));
    let mut options = options(&server);
    options.max_retries = 0;
    let embedder = RemoteEmbedder::new(options).unwrap();
    server.script([Reply::Raw(
        200,
        r#"{"data": [{"index": 0, "embedding": [1.0]}]}"#.into(),
    )]);
    let err = format!("{:#}", embedder.embed(&texts(2)).unwrap_err());
    assert!(err.contains("1 vectors for 2 texts"), "{err}");
    assert!(err.contains("/v1/embeddings"), "{err}");
}

#[test]
fn a_dead_server_is_a_clear_error_naming_the_key() {
    // Bound but not listening: connections are refused.
    let dead = dead_port::DeadPort::new();
    let port = dead.port();
    let mut options = RemoteOptions::new(format!("http://127.0.0.1:{port}/v1"), "m");
    options.max_retries = 1;
    options.backoff = Duration::from_millis(1);
    let err = format!("{:#}", RemoteEmbedder::new(options).unwrap_err());
    assert!(err.contains("key embedding.base_url"), "{err}");
    assert!(
        err.contains(&format!("127.0.0.1:{port}/v1/embeddings")),
        "{err}"
    );
    assert!(err.contains("after 2 attempts"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_inside_a_runtime_and_from_spawn_blocking() {
    let server = Server::start(Duration::ZERO).await;
    // Constructed, used and dropped on a runtime worker thread, where
    // reqwest::blocking would panic.
    let embedder = RemoteEmbedder::new(options(&server)).unwrap();
    let got = embedder.embed(&texts(3)).unwrap();
    assert_eq!(got[2], fake_embedding("text number 2"));
    // And from blocking threads, as episodes embed, several at once.
    let shared = std::sync::Arc::new(embedder);
    let mut handles = Vec::new();
    for k in 0..4 {
        let e = std::sync::Arc::clone(&shared);
        handles.push(tokio::task::spawn_blocking(move || {
            e.embed(&[format!("blocking {k}")]).unwrap()
        }));
    }
    for (k, handle) in handles.into_iter().enumerate() {
        assert_eq!(
            handle.await.unwrap()[0],
            fake_embedding(&format!("blocking {k}"))
        );
    }
    drop(shared);
    // A fresh one dropped inside the runtime too.
    drop(RemoteEmbedder::new(options(&server)).unwrap());
}

/// The key comes from the environment, which a test may only change in a
/// process of its own.
#[test]
fn config_key_test_in_its_own_process() {
    process::run_in_child(
        "embed_remote::config_loads_the_remote_provider_with_its_key",
        &[(KEY_VAR, SECRET.as_ref())],
    );
}

#[test]
#[ignore = "runs in its own process: embed_remote::config_key_test_in_its_own_process"]
fn config_loads_the_remote_provider_with_its_key() {
    let rt = server_runtime();
    let server = rt.block_on(Server::start(Duration::ZERO));
    let config = EmbeddingConfig {
        provider: "openai".into(),
        model: "test-embed".into(),
        base_url: Some(server.base_url()),
        api_key_env: Some(KEY_VAR.into()),
        max_retries: 0,
        batch_size: 8,
        ..EmbeddingConfig::default()
    };
    config.validate().unwrap();
    let embedder = econ_host::embed::load(&config, std::path::Path::new(".")).unwrap();
    assert_eq!(embedder.dim(), EMBED_DIM);
    let auth = server.state.auth.lock().unwrap().clone();
    assert_eq!(
        auth[0].as_deref(),
        Some(format!("Bearer {SECRET}").as_str())
    );
    // A server that echoes the key back: the error has it masked.
    server.script([Reply::EchoAuth(401)]);
    let err = format!("{:#}", embedder.embed(&texts(1)).unwrap_err());
    assert!(err.contains("401") && !err.contains(SECRET), "{err}");
    assert!(err.contains("***"), "{err}");
}

#[test]
fn config_validation_names_the_key() {
    let check = |config: EmbeddingConfig| format!("{:#}", config.validate().unwrap_err());
    let openai = EmbeddingConfig {
        provider: "openai".into(),
        base_url: Some("http://127.0.0.1:1/v1".into()),
        ..EmbeddingConfig::default()
    };
    openai.validate().unwrap();
    EmbeddingConfig::default().validate().unwrap();
    let err = check(EmbeddingConfig {
        base_url: Some("http://x/v1".into()),
        ..EmbeddingConfig::default()
    });
    assert!(
        err.contains("key embedding.base_url") && err.contains("only used"),
        "{err}"
    );
    let err = check(EmbeddingConfig {
        base_url: None,
        ..openai.clone()
    });
    assert!(err.contains("key embedding.base_url: required"), "{err}");
    let err = check(EmbeddingConfig {
        base_url: Some("localhost:8000".into()),
        ..openai.clone()
    });
    assert!(err.contains("key embedding.base_url"), "{err}");
    let err = check(EmbeddingConfig {
        api_key_env: Some("sk-pasted-key-123".into()),
        ..openai.clone()
    });
    assert!(
        err.contains("key embedding.api_key_env") && !err.contains("sk-pasted"),
        "{err}"
    );
    let err = check(EmbeddingConfig {
        batch_size: 0,
        ..openai.clone()
    });
    assert!(err.contains("key embedding.batch_size"), "{err}");
    let err = check(EmbeddingConfig {
        provider: "cohere".into(),
        ..openai
    });
    assert!(err.contains("key embedding.provider"), "{err}");
}
