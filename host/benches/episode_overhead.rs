//! Host overhead per episode: everything an episode does besides waiting for
//! the LLM (plugins, embeddings, networks, learner updates, traces), as a
//! share of episode wall time. The real binary runs `run` against the local
//! OpenAI-compatible test server answering every call after a fixed latency,
//! so the LLM time is known; summary.json's `host_overhead` per phase and mode
//! is (wall − LLM wait) / wall, summed over episodes.
//!
//!     cargo bench --bench episode_overhead            (ECON_BENCH_LATENCY_MS=500 by default)

// Shared with the integration tests; a bench uses only part of it.
#[allow(dead_code)]
#[path = "../../tests/it/common/arith_job.rs"]
mod arith_job;
// Shared with the integration tests; a bench uses only part of it.
#[allow(dead_code)]
#[path = "../../tests/it/common/openai_server.rs"]
mod openai_server;

use std::process::Command;
use std::time::Duration;

fn main() {
    let latency_ms: u64 = std::env::var("ECON_BENCH_LATENCY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(openai_server::Server::start_with(
        Duration::from_millis(latency_ms),
        false,
    ));
    server.set_default(arith_job::arithmetic_model());
    let dir = tempfile::tempdir().unwrap();
    arith_job::write_job(dir.path(), &server.base_url(), "");
    let out = Command::new(env!("CARGO_BIN_EXE_econ-host"))
        .args([
            "run",
            "--config",
            "config.toml",
            "--train-eps",
            "6",
            "--test-eps",
            "4",
        ])
        .args(["--log-dir", "logs", "--model-dir", "models", "--json"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    println!("episode host overhead, LLM latency {latency_ms} ms per call (3 executors):");
    println!(
        "{:<10} {:>8} {:>10} {:>10} {:>12} {:>10}",
        "phase", "episodes", "wall s", "LLM s", "host ms/ep", "overhead"
    );
    let rows = [
        ("train", &summary["train"]),
        ("baseline", &summary["modes"]["baseline"]),
        ("bne", &summary["modes"]["bne"]),
    ];
    for (name, s) in rows {
        let episodes = s["episodes"].as_f64().unwrap();
        let wall = s["wall_s"].as_f64().unwrap();
        let llm = s["llm_s"].as_f64().unwrap();
        println!(
            "{name:<10} {episodes:>8} {wall:>10.2} {llm:>10.2} {:>12.1} {:>9.2}%",
            (wall - llm) * 1000.0 / episodes,
            s["host_overhead"].as_f64().unwrap() * 100.0
        );
    }
}
