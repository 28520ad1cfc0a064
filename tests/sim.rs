//! ECON learns in the simulated world (configs/sim.toml): the real binary,
//! the real plugins and networks, a provider whose best executor action
//! depends on the kind of problem, which only the question's words reveal.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

const TRAIN_EPS: &str = "1500";

/// Each kind's keywords and best temperature (the defaults of `[sim]`).
const KINDS: [(&str, &[&str], f64); 3] = [
    ("ledger", &["ledger", "invoice", "invoices", "accountant", "audit"], 0.3),
    ("story", &["story", "dragon", "knight", "knights", "village"], 0.7),
    ("riddle", &["riddle", "puzzle"], 1.1),
];

fn kind_of(question: &str) -> usize {
    let words: Vec<String> = question
        .split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .collect();
    KINDS
        .iter()
        .position(|(_, kws, _)| kws.iter().any(|k| words.iter().any(|w| w == k)))
        .unwrap_or_else(|| panic!("no kind for {question:?}"))
}

/// `econ-host run` on configs/sim.toml; returns summary.json.
fn run(dir: &Path, train_eps: &str, extra: &[&str]) -> Value {
    let config = common::repo_root().join("configs/sim.toml");
    let out = Command::new(common::binary())
        .arg("run")
        .arg("--config")
        .arg(&config)
        .args(["--train-eps", train_eps, "--json"])
        .arg("--log-dir")
        .arg(dir.join("logs"))
        .arg("--model-dir")
        .arg(dir.join("models"))
        .args(extra.iter().flat_map(|s| ["--set", s]))
        .output()
        .expect("running econ-host");
    assert!(
        out.status.success(),
        "econ-host run failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&std::fs::read(dir.join("logs/summary.json")).unwrap()).unwrap()
}

fn accuracy(summary: &Value, mode: &str) -> f64 {
    summary["modes"][mode]["accuracy"].as_f64().unwrap()
}

/// Round-0 temperatures of the baseline test episodes: the mean per kind,
/// and the mean distance from each kind's best temperature.
fn temperatures(log_dir: &Path) -> ([f64; 3], f64) {
    let text = std::fs::read_to_string(log_dir.join("traces_test_baseline.jsonl")).unwrap();
    let mut sum = [0.0; 3];
    let mut count = [0.0; 3];
    let mut distance = 0.0;
    for line in text.lines() {
        let t: Value = serde_json::from_str(line).unwrap();
        let k = kind_of(t["question"].as_str().unwrap());
        for e in t["steps"][0]["rounds"][0]["executors"].as_array().unwrap() {
            let temperature = e["temperature"].as_f64().unwrap();
            sum[k] += temperature;
            count[k] += 1.0;
            distance += (temperature - KINDS[k].2).abs();
        }
    }
    let total: f64 = count.iter().sum();
    ([0, 1, 2].map(|k| sum[k] / count[k]), distance / total)
}

/// Train, then test on the held-out problems, against the untrained networks.
fn learns(mixer: &str) {
    let dir = tempfile::tempdir().unwrap();
    let set = format!("mixer.kind={mixer}");
    let untrained = run(&dir.path().join("untrained"), "0", &[&set]);
    let trained = run(&dir.path().join("trained"), TRAIN_EPS, &[&set]);
    let (t0, d0) = temperatures(&dir.path().join("untrained/logs"));
    let (t1, d1) = temperatures(&dir.path().join("trained/logs"));
    let report: BTreeMap<&str, String> = [
        (
            "accuracy untrained baseline/bne",
            format!("{:.3}/{:.3}", accuracy(&untrained, "baseline"), accuracy(&untrained, "bne")),
        ),
        (
            "accuracy trained baseline/bne",
            format!("{:.3}/{:.3}", accuracy(&trained, "baseline"), accuracy(&trained, "bne")),
        ),
        ("T by kind untrained", format!("{t0:.2?} (distance to best {d0:.3})")),
        ("T by kind trained", format!("{t1:.2?} (distance to best {d1:.3})")),
    ]
    .into();
    println!("sim, mixer {mixer}: {report:#?}");

    // Trained networks beat untrained ones on problems never trained on.
    assert!(
        accuracy(&trained, "baseline") >= accuracy(&untrained, "baseline") + 0.15,
        "{report:#?}"
    );
    // BNE rounds do not lose to round 0 (beyond sampling noise on 600
    // problems: the rounds are fresh samples).
    assert!(
        accuracy(&trained, "bne") >= accuracy(&trained, "baseline") - 0.05,
        "{report:#?}"
    );
    // The actions follow the kind: cold for bookkeeping, warm for stories,
    // hot for riddles — not one constant action per agent.
    assert!(t1[0] < t1[1] && t1[1] < t1[2], "{report:#?}");
    assert!(t1[2] - t1[0] > 0.3, "{report:#?}");
    assert!(t0[2] - t0[0] < 0.1, "untrained agents ignore the kind: {report:#?}");
    assert!(d1 < d0 - 0.05, "{report:#?}");
}

#[test]
fn qmix_learns_each_kinds_action() {
    learns("qmix");
}

#[test]
fn attention_mixer_learns_each_kinds_action() {
    learns("attention");
}

/// The same seed gives the same run: every trace line equal but for times.
#[test]
fn a_run_is_reproducible_from_its_seed() {
    let dir = tempfile::tempdir().unwrap();
    let lines = |name: &str| -> Vec<Value> {
        run(&dir.path().join(name), "120", &["runner.concurrency=4"]);
        let mut out = Vec::new();
        for file in ["traces_train_bne.jsonl", "traces_test_bne.jsonl"] {
            let text = std::fs::read_to_string(dir.path().join(name).join("logs").join(file)).unwrap();
            for line in text.lines().take(200) {
                let mut v: Value = serde_json::from_str(line).unwrap();
                for key in ["wall_ms", "llm_ms"] {
                    v.as_object_mut().unwrap().remove(key);
                }
                out.push(v);
            }
        }
        out
    };
    let (a, b) = (lines("a"), lines("b"));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y);
    }
}

/// A hostile reward plugin, through the real binary: every misbehaviour
/// fails its own episode with an error naming the plugin and the cause, the
/// other episodes run normally, and the run ends with exit 0.
#[test]
fn hostile_reward_plugins_fail_their_episode_only() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    std::fs::copy(
        common::test_plugin("test-hostile-reward"),
        plugins.join("test-hostile-reward.wasm"),
    )
    .unwrap();
    let hostile = [
        ("loop", "test-hostile@0.1.0"),
        ("sleep", "may not wait"),
        ("panic", "asked to panic"),
        ("oom", "memory limit of 32 MiB"),
        ("flood", "more than 1 MiB to stderr"),
        ("nan", "non-finite reward"),
        ("short", "returned 2 results for 3 executors"),
    ];
    let mut data = String::new();
    for i in 0..24 {
        let what = match i % 3 {
            0 => hostile.get(i / 3).map_or("print", |h| h.0),
            _ => "none",
        };
        data.push_str(&format!(
            "{{\"id\": \"p{i}\", \"question\": \"Riddle {i}: add {i} and 3. HOSTILE:{what}\", \"answer\": \"{}\"}}\n",
            i + 3
        ));
    }
    std::fs::write(dir.path().join("problems.jsonl"), data).unwrap();
    let config = std::fs::read_to_string(common::repo_root().join("configs/sim.toml"))
        .unwrap()
        .replace("../data/sim-problems.jsonl", "problems.jsonl")
        .replace("test_fraction = 0.2", "test_fraction = 0.5")
        .replace("reward = \"reward-econ\"", "reward = \"test-hostile\"")
        + "\n[plugins.limits.test-hostile]\ndeadline_ms = 500\nfuel = 200000000\nmemory_mib = 32\nmax_consecutive_failures = 100\n";
    std::fs::write(dir.path().join("config.toml"), config).unwrap();
    let t0 = std::time::Instant::now();
    let out = Command::new(common::binary())
        .arg("--plugins")
        .arg(&plugins)
        .args(["run", "--config", "config.toml", "--train-eps", "12"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(t0.elapsed().as_secs() < 60, "{:?}", t0.elapsed());
    let mut seen = 0;
    for file in ["traces_train_bne.jsonl", "traces_test_baseline.jsonl", "traces_test_bne.jsonl"] {
        let text = std::fs::read_to_string(dir.path().join("logs").join(file)).unwrap();
        for line in text.lines() {
            let t: Value = serde_json::from_str(line).unwrap();
            let question = t["question"].as_str().unwrap();
            let what = question.split("HOSTILE:").nth(1).unwrap();
            let error = t["error"].as_str();
            match hostile.iter().find(|h| h.0 == what) {
                Some((_, cause)) => {
                    let e = error.unwrap_or_else(|| panic!("{what}: no error in {file}"));
                    assert!(e.contains("test-hostile@0.1.0") && e.contains(cause), "{what}: {e}");
                    assert_eq!(t["correct"], false);
                    seen += 1;
                }
                None => assert!(error.is_none(), "{what} ({file}): {error:?}"),
            }
        }
    }
    assert!(seen >= hostile.len(), "{seen} hostile episodes ran");
}
