//! `plugins install hf://...` against a local stand-in of the Hugging Face
//! Hub's file API (axum on 127.0.0.1): the revision resolved to its commit,
//! the file downloaded from that commit and checked against the hub's sha256.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::common::{self, text};

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// The repositories the stand-in serves: lab/rewards holds one plugin;
/// lab/two holds two; lab/tampered serves other bytes than the hub lists.
struct Hub {
    plugin: Vec<u8>,
    parser: Vec<u8>,
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

async fn revision(
    State(hub): State<Arc<Hub>>,
    UrlPath((org, repo, rev)): UrlPath<(String, String, String)>,
) -> Response {
    if rev != "main" && rev != COMMIT {
        return StatusCode::NOT_FOUND.into_response();
    }
    let file = |name: &str, bytes: &[u8]| json!({"rfilename": name, "lfs": {"sha256": sha256(bytes), "size": bytes.len()}});
    let siblings = match (org.as_str(), repo.as_str()) {
        ("lab", "rewards") => vec![
            json!({"rfilename": "README.md"}),
            file("reward.wasm", &hub.plugin),
        ],
        ("lab", "two") => vec![
            file("a/reward.wasm", &hub.plugin),
            file("b/parser.wasm", &hub.parser),
        ],
        ("lab", "tampered") => vec![file("reward.wasm", &hub.plugin)],
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    axum::Json(json!({"sha": COMMIT, "siblings": siblings})).into_response()
}

async fn resolve(
    State(hub): State<Arc<Hub>>,
    UrlPath((org, repo, rev, path)): UrlPath<(String, String, String, String)>,
) -> Response {
    // Files are fetched from the commit the revision resolved to, never a branch.
    if rev != COMMIT {
        return StatusCode::BAD_REQUEST.into_response();
    }
    match (org.as_str(), repo.as_str(), path.as_str()) {
        ("lab", "rewards", "reward.wasm") | ("lab", "two", "a/reward.wasm") => {
            hub.plugin.clone().into_response()
        }
        ("lab", "two", "b/parser.wasm") => hub.parser.clone().into_response(),
        ("lab", "tampered", "reward.wasm") => {
            let mut altered = hub.plugin.clone();
            let middle = altered.len() / 2;
            altered[middle] ^= 1;
            altered.into_response()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

fn start_hub() -> (String, tokio::runtime::Runtime) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let hub = Arc::new(Hub {
        plugin: std::fs::read(common::test_plugin("test-hostile-reward")).unwrap(),
        parser: std::fs::read(common::plugin_dir().join("parser-json.wasm")).unwrap(),
    });
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new()
        .route("/api/models/{org}/{repo}/revision/{rev}", get(revision))
        .route("/{org}/{repo}/resolve/{rev}/{*path}", get(resolve))
        .with_state(hub);
    rt.spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (format!("http://{addr}"), rt)
}

fn install(endpoint: &str, dest: &Path, source: &str) -> Output {
    Command::new(common::binary())
        .args([
            "plugins",
            "install",
            "--dir",
            dest.to_str().unwrap(),
            source,
        ])
        .env("HF_ENDPOINT", endpoint)
        .env_remove("HF_TOKEN")
        .output()
        .expect("running econ-host")
}

#[test]
fn plugins_install_from_the_hub_by_commit_and_checked_against_its_sha256() {
    let (endpoint, _rt) = start_hub();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("plugins");
    let plugin = std::fs::read(common::test_plugin("test-hostile-reward")).unwrap();

    // The one .wasm of a repository, from "main" resolved to its commit.
    let out = install(&endpoint, &dest, "hf://lab/rewards");
    assert!(out.status.success(), "{}", text(&out));
    let pinned = format!("hf://lab/rewards/reward.wasm@{COMMIT}");
    assert!(text(&out).contains(&pinned), "{}", text(&out));
    assert_eq!(
        std::fs::read(dest.join("test-hostile-reward.wasm")).unwrap(),
        plugin
    );
    let note = std::fs::read_to_string(dest.join("test-hostile-reward.installed-from")).unwrap();
    assert_eq!(note.trim(), pinned);

    // Two .wasm files: name one.
    let out = install(&endpoint, &dest, "hf://lab/two");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("a/reward.wasm") && text(&out).contains("b/parser.wasm"),
        "{}",
        text(&out)
    );
    let out = install(
        &endpoint,
        &dest,
        &format!("hf://lab/two/b/parser.wasm@{COMMIT}"),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(dest.join("parser-json.wasm").is_file());

    // Bytes that do not hash to the hub's sha256 are refused; nothing is written.
    let other = dir.path().join("other");
    let out = install(&endpoint, &other, "hf://lab/tampered");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("refused"), "{}", text(&out));
    assert!(!other.join("test-hostile-reward.wasm").exists());

    // A repository or revision the hub does not know.
    let out = install(&endpoint, &other, "hf://lab/none");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("no such repository"), "{}", text(&out));
}
