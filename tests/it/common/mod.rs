//! What several test areas share: where the build put the binary and the
//! plugins (scripts/dev build), a scripted OpenAI-compatible server, the
//! arithmetic job, ports nobody listens on, raw HTTP, child processes.

pub mod arith_job;
pub mod dead_port;
pub mod openai_server;
pub mod process;
pub mod raw_http;

use std::path::PathBuf;

pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_econ-host"))
}

fn beside_binary(folder: &str) -> PathBuf {
    let dir = binary().parent().unwrap().join(folder);
    assert!(
        dir.is_dir(),
        "{} is missing: build the plugins first with `scripts/dev build` (or run `scripts/dev test`)",
        dir.display()
    );
    dir
}

/// The built-in plugins.
pub fn plugin_dir() -> PathBuf {
    beside_binary("plugins")
}

/// Test-only guests: test-misbehave, test-future-wit, test-wrong-world.
pub fn test_plugin(name: &str) -> PathBuf {
    let file = beside_binary("test-plugins").join(format!("{name}.wasm"));
    assert!(
        file.is_file(),
        "{} is missing: run `scripts/dev build`",
        file.display()
    );
    file
}

/// Taken by the tests a busy neighbour can break (a real llama-server must
/// answer within its timeouts) and by the CPU-heavy ones (compiling 12-18 MB
/// components, cargo builds of scaffolded crates), so that on a 2-core
/// machine the two kinds never run at the same time.
pub fn cpu_heavy_or_timed() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A finished command's stdout and stderr, for assertions and their messages.
pub fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Whether two parsed answers in a trace are one answer: equal text or the
/// same number ("18" and "18.0"); a missing answer is no answer.
pub fn same_answer(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    let number = |v: &serde_json::Value| v.as_str().and_then(|s| s.parse::<f64>().ok());
    !a.is_null() && !b.is_null() && (a == b || number(a).is_some_and(|x| Some(x) == number(b)))
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}
