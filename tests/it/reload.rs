//! Hot reload under load: the plugin file is replaced ten times (once with a
//! broken file, once written in two halves) while four threads call it without
//! pause. No call may fail, and every call must be answered by one whole version.

use crate::common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use econ_host::plugins::{DEBOUNCE, Limits, LiveRegistry, PluginEngine};

fn serving_version(live: &LiveRegistry) -> String {
    live.snapshot()
        .answer_parser("test-misbehave")
        .unwrap()
        .info()
        .version
        .clone()
}

fn wait_for_version(live: &LiveRegistry, version: &str) -> Duration {
    let started = Instant::now();
    while serving_version(live) != version {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "version {version} never served"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    started.elapsed()
}

fn write_in_two_halves(file: &Path, bytes: &[u8]) {
    use std::io::Write;
    let mut f = std::fs::File::create(file).unwrap();
    f.write_all(&bytes[..bytes.len() / 2]).unwrap();
    f.flush().unwrap();
    // Long enough for the watcher to try the half-written file.
    std::thread::sleep(DEBOUNCE * 4);
    f.write_all(&bytes[bytes.len() / 2..]).unwrap();
}

#[test]
fn replacing_a_plugin_ten_times_under_load_loses_no_call() {
    let v1 = std::fs::read(common::test_plugin("test-misbehave")).unwrap();
    let v2 = std::fs::read(common::test_plugin("test-misbehave-v2")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("probe.wasm");
    std::fs::write(&file, &v1).unwrap();

    let engine = PluginEngine::new(None).unwrap();
    let live =
        LiveRegistry::new(engine, vec![dir.path().to_path_buf()], Limits::default()).unwrap();
    let _guard = live.watch().unwrap();
    assert_eq!(serving_version(&live), "0.1.0");

    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicUsize::new(0));
    let problems = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = Arc::new(Mutex::new(std::collections::BTreeSet::<String>::new()));
    let callers: Vec<_> = (0..4)
        .map(|_| {
            let (live, stop, calls, problems, seen) = (
                live.clone(),
                stop.clone(),
                calls.clone(),
                problems.clone(),
                seen.clone(),
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    // What an episode does: take a snapshot, use it throughout.
                    let snapshot = live.snapshot();
                    let parser = snapshot.answer_parser("test-misbehave").unwrap();
                    let expected = parser.info().version.clone();
                    match parser.extract(&["version".to_string()]) {
                        Ok(out) if out[0].answer.as_deref() == Some(expected.as_str()) => {
                            seen.lock().unwrap().insert(expected);
                        }
                        Ok(out) => problems
                            .lock()
                            .unwrap()
                            .push(format!("{expected} answered as {:?}", out[0].answer)),
                        Err(e) => problems.lock().unwrap().push(format!("{e:#}")),
                    }
                    calls.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();

    let mut latencies = Vec::new();
    let mut current = "0.1.0";
    for round in 0..10 {
        let (bytes, version) = if round % 2 == 0 {
            (&v2, "0.2.0")
        } else {
            (&v1, "0.1.0")
        };
        match round {
            3 => {
                std::fs::write(&file, b"\0asm broken on purpose").unwrap();
                std::thread::sleep(DEBOUNCE * 4);
                assert_eq!(
                    serving_version(&live),
                    current,
                    "a broken file replaced the plugin"
                );
                let failures = live.snapshot().failures().to_vec();
                assert!(
                    failures.iter().any(|f| f.file == file),
                    "the broken file was not reported: {failures:?}"
                );
                std::fs::write(&file, bytes).unwrap();
            }
            5 => write_in_two_halves(&file, bytes),
            _ => std::fs::write(&file, bytes).unwrap(),
        }
        latencies.push(wait_for_version(&live, version));
        current = version;
    }
    stop.store(true, Ordering::Relaxed);
    for c in callers {
        c.join().unwrap();
    }

    let problems = problems.lock().unwrap();
    assert!(
        problems.is_empty(),
        "{} failed calls, e.g. {:?}",
        problems.len(),
        problems.first()
    );
    let calls = calls.load(Ordering::Relaxed);
    assert!(calls > 100, "only {calls} calls during the test");
    assert_eq!(
        seen.lock().unwrap().len(),
        2,
        "both versions must have served calls"
    );
    latencies.sort();
    println!(
        "{calls} calls, 0 failed; reload latency (file written -> new version serving): \
         median {:?}, max {:?}",
        latencies[latencies.len() / 2],
        latencies[latencies.len() - 1]
    );
}
