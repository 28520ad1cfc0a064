//! ECON learns in the simulated world (configs/sim.toml): the real binary,
//! the real plugins and networks, a provider whose best executor action
//! depends on the kind of problem, which only the question's words reveal.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const TRAIN_EPS: &str = "1500";

/// Each kind's keywords and best temperature (the defaults of `[sim]`).
const KINDS: [(&str, &[&str], f64); 3] = [
    (
        "ledger",
        &["ledger", "invoice", "invoices", "accountant", "audit"],
        0.3,
    ),
    (
        "story",
        &["story", "dragon", "knight", "knights", "village"],
        0.7,
    ),
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

/// `econ-host [--plugins P] run --config configs/sim.toml --log-dir LOGS
/// ARGS...`; its output, whatever its exit.
fn sim_run(logs: &Path, plugins: Option<&Path>, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(common::binary());
    if let Some(p) = plugins {
        cmd.arg("--plugins").arg(p);
    }
    cmd.arg("run")
        .arg("--config")
        .arg(common::repo_root().join("configs/sim.toml"))
        .args(args)
        .arg("--log-dir")
        .arg(logs)
        .output()
        .expect("running econ-host")
}

/// `econ-host run` on configs/sim.toml; returns summary.json.
fn run(dir: &Path, train_eps: &str, extra: &[&str]) -> Value {
    run_with(dir, &["--train-eps", train_eps, "--json"], extra)
}

/// `run` on the simulated world with `args`, each of `extra` as a --set;
/// summary.json.
fn run_with(dir: &Path, args: &[&str], extra: &[&str]) -> Value {
    let models = dir.join("models");
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--model-dir", models.to_str().unwrap()]);
    all.extend(extra.iter().flat_map(|s| ["--set", s]));
    let out = sim_run(&dir.join("logs"), None, &all);
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
            format!(
                "{:.3}/{:.3}",
                accuracy(&untrained, "baseline"),
                accuracy(&untrained, "bne")
            ),
        ),
        (
            "accuracy trained baseline/bne",
            format!(
                "{:.3}/{:.3}",
                accuracy(&trained, "baseline"),
                accuracy(&trained, "bne")
            ),
        ),
        (
            "T by kind untrained",
            format!("{t0:.2?} (distance to best {d0:.3})"),
        ),
        (
            "T by kind trained",
            format!("{t1:.2?} (distance to best {d1:.3})"),
        ),
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
    assert!(
        t0[2] - t0[0] < 0.1,
        "untrained agents ignore the kind: {report:#?}"
    );
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

/// `run` on configs/sim-hard.toml (seed `seed`, 200 unseen test problems);
/// summary.json.
fn hard_run(dir: &Path, seed: u64, train_eps: &str) -> Value {
    let config = common::repo_root().join("configs/sim-hard.toml");
    let out = Command::new(common::binary())
        .arg("run")
        .arg("--config")
        .arg(&config)
        .args(["--train-eps", train_eps, "--test-eps", "200", "--json"])
        .arg("--log-dir")
        .arg(dir)
        .args([
            "--set",
            &format!("seed={seed}"),
            "--set",
            "runner.torch_threads=1",
        ])
        .output()
        .expect("running econ-host");
    assert!(
        out.status.success(),
        "econ-host run failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap()
}

/// Mean round-0 temperature of a mode's test episodes of one kind.
fn kind_temperature(summary: &Value, mode: &str, kind: &str) -> f64 {
    summary["modes"][mode]["by_kind"][kind]["temperature_mean"]
        .as_f64()
        .unwrap_or_else(|| panic!("no {kind} episodes in {mode}"))
}

/// The world that can say no (configs/sim-hard.toml): the kind of a problem
/// is named only by the coordinator's strategy, in test wording written
/// after the learner was tuned, that no training strategy used; real GSM8K
/// questions the networks never saw; a real
/// sentence encoder; one optimum on the bound; coupled executors. The
/// default learner (the one configs/default.toml and configs/vllm.toml
/// run) must learn each kind's action there, and BNE must not lose to round 0.
#[test]
fn the_default_learner_learns_the_hard_world_on_unseen_problems_and_wording() {
    let dir = tempfile::tempdir().unwrap();
    let results: Vec<(u64, Value, Value)> = std::thread::scope(|s| {
        let runs: Vec<_> = [1u64, 2]
            .into_iter()
            .map(|seed| {
                let d = dir.path().join(format!("seed-{seed}"));
                s.spawn(move || {
                    let untrained = hard_run(&d.join("untrained"), seed, "0");
                    let trained = hard_run(&d.join("trained"), seed, "1500");
                    (seed, untrained, trained)
                })
            })
            .collect();
        runs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (seed, untrained, trained) in &results {
        let (u, t, b) = (
            accuracy(untrained, "baseline"),
            accuracy(trained, "baseline"),
            accuracy(trained, "bne"),
        );
        // Exact problems want a cold executor (best 0.2), exploratory a hot one (1.1).
        let cold = kind_temperature(trained, "baseline", "exact");
        let hot = kind_temperature(trained, "baseline", "exploratory");
        let report = format!(
            "seed {seed}: untrained {u:.3}, trained baseline {t:.3}, bne {b:.3}; T exact {cold:.2}, exploratory {hot:.2}"
        );
        println!("hard world, {report}");
        assert!(t >= u + 0.25, "{report}");
        assert!(hot - cold >= 0.3, "{report}");
        assert!(b >= t - 0.05, "{report}");
    }
}

/// The same seed gives the same run: every trace line equal but for times.
#[test]
fn a_run_is_reproducible_from_its_seed() {
    let dir = tempfile::tempdir().unwrap();
    let lines = |name: &str| -> Vec<Value> {
        run(&dir.path().join(name), "120", &["runner.concurrency=4"]);
        let mut out = Vec::new();
        for file in ["traces_train_bne.jsonl", "traces_test_bne.jsonl"] {
            let text =
                std::fs::read_to_string(dir.path().join(name).join("logs").join(file)).unwrap();
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

/// What every hostile guest does in every kind, and the words its error holds.
const HOSTILE_EVERYWHERE: [(&str, &str); 6] = [
    ("loop", "@0.1.0"),
    ("sleep", "may not wait"),
    ("panic", "asked to panic"),
    ("oom", "memory limit of 32 MiB"),
    ("flood", "more than 1 MiB to stderr"),
    ("table", "hit its table limit"),
];

/// Problems in a hostile run: every third asks for a misbehaviour, room for
/// the six above, two of a kind's own and `print`.
const HOSTILE_PROBLEMS: usize = 27;

/// The limits of a hostile guest in these runs: short, so a run takes seconds.
fn hostile_limits(kind: &str) -> String {
    format!(
        "\n[plugins.limits.test-hostile-{kind}]\ndeadline_ms = 500\nfuel = 200000000\n\
         memory_mib = 32\nmax_consecutive_failures = 100\n"
    )
}

/// A folder with `configs/sim.toml` changed by `edit` plus the guest's
/// limits, [`HOSTILE_PROBLEMS`] problems where every third asks for one
/// misbehaviour of `cases` (then `print`) in its question and, with
/// `in_answer`, its answer.
fn hostile_setup(
    kind: &str,
    cases: &[(&str, &str)],
    in_answer: bool,
    edit: impl Fn(String) -> String,
) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    let guest = format!("test-hostile-{kind}");
    std::fs::copy(
        common::test_plugin(&guest),
        plugins.join(format!("{guest}.wasm")),
    )
    .unwrap();
    let mut data = String::new();
    assert!(cases.len() < HOSTILE_PROBLEMS / 3, "no room for print");
    for i in 0..HOSTILE_PROBLEMS {
        let what = match i % 3 {
            0 => cases.get(i / 3).map_or("print", |h| h.0),
            _ => "none",
        };
        let answer = if in_answer && what != "none" {
            format!("HOSTILE:{what}")
        } else {
            (i + 3).to_string()
        };
        data.push_str(&format!(
            "{{\"id\": \"p{i}\", \"question\": \"Riddle {i}: add {i} and 3. HOSTILE:{what}\", \"answer\": \"{answer}\"}}\n"
        ));
    }
    std::fs::write(dir.path().join("problems.jsonl"), data).unwrap();
    let config = std::fs::read_to_string(common::repo_root().join("configs/sim.toml"))
        .unwrap()
        .replace("../data/sim-problems.jsonl", "problems.jsonl")
        .replace("test_fraction = 0.2", "test_fraction = 0.5");
    let config = edit(config) + &hostile_limits(kind);
    std::fs::write(dir.path().join("config.toml"), config).unwrap();
    (dir, plugins)
}

/// A run of as many training episodes as there are problems: training takes
/// its split in order, so every train problem runs at least once.
fn run_in(dir: &Path, plugins: &Path) -> std::process::Output {
    let t0 = std::time::Instant::now();
    let out = Command::new(common::binary())
        .arg("--plugins")
        .arg(plugins)
        .args(["run", "--config", "config.toml", "--train-eps"])
        .arg(HOSTILE_PROBLEMS.to_string())
        .args(["--log-dir", "logs"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(t0.elapsed().as_secs() < 60, "{:?}", t0.elapsed());
    out
}

/// A hostile guest of `kind`, used in place of the plugin `builtin`, through
/// the real binary: every misbehaviour fails its own episode with an error
/// naming the plugin and the cause, the other episodes run normally, and the
/// run ends with exit 0.
fn hostile_episodes_fail_alone(kind: &str, builtin: &str, extra: &[(&str, &str)], in_answer: bool) {
    let cases: Vec<(&str, &str)> = HOSTILE_EVERYWHERE.iter().chain(extra).copied().collect();
    let guest = format!("test-hostile-{kind}");
    let (dir, plugins) = hostile_setup(kind, &cases, in_answer, |c| {
        c.replace(&format!("\"{builtin}\""), &format!("\"{guest}\""))
    });
    run_in(dir.path(), &plugins);
    let mut seen = std::collections::BTreeSet::new();
    for file in [
        "traces_train_bne.jsonl",
        "traces_test_baseline.jsonl",
        "traces_test_bne.jsonl",
    ] {
        let text = std::fs::read_to_string(dir.path().join("logs").join(file)).unwrap();
        for line in text.lines() {
            let t: Value = serde_json::from_str(line).unwrap();
            let question = t["question"].as_str().unwrap();
            let what = question.split("HOSTILE:").nth(1).unwrap();
            let error = t["error"].as_str();
            match cases.iter().find(|h| h.0 == what) {
                Some(&(what, cause)) => {
                    let e = error.unwrap_or_else(|| panic!("{kind} {what}: no error in {file}"));
                    assert!(
                        e.contains(&format!("{guest}@0.1.0")) && e.contains(cause),
                        "{kind} {what}: {e}"
                    );
                    assert_eq!(t["correct"], false);
                    seen.insert(what);
                }
                None => assert!(error.is_none(), "{kind} {what} ({file}): {error:?}"),
            }
        }
    }
    let asked: std::collections::BTreeSet<&str> = cases.iter().map(|h| h.0).collect();
    assert_eq!(seen, asked, "{kind}: the misbehaviours that ran");
}

#[test]
fn hostile_reward_plugins_fail_their_episode_only() {
    let extra = [
        ("nan", "non-finite reward"),
        ("short", "returned 2 results for 3 executors"),
    ];
    hostile_episodes_fail_alone("reward", "reward-econ", &extra, false);
}

#[test]
fn hostile_prompt_templates_fail_their_episode_only() {
    let extra = [
        ("short", "returned 0 results for 1 contexts"),
        ("alias", "more than 32 MiB of results"),
    ];
    hostile_episodes_fail_alone("prompt", "prompts-econ", &extra, false);
}

/// The parser sees the answers (the executors box the reference), so the
/// misbehaviour is asked for there.
#[test]
fn hostile_answer_parsers_fail_their_episode_only() {
    let extra = [
        ("short", "results for"),
        ("alias", "more than 32 MiB of results"),
    ];
    hostile_episodes_fail_alone("parser", "parser-boxed", &extra, true);
}

/// A hostile dataset adapter: the records it fails on are skipped, each with
/// an error naming the plugin and the cause (summary.json `data.skipped`),
/// and the run goes on with the others.
#[test]
fn hostile_dataset_adapters_lose_their_records_only() {
    let extra = [
        ("short", "returned 0 results for 1 records"),
        ("alias", "more than 32 MiB of results"),
    ];
    let cases: Vec<(&str, &str)> = HOSTILE_EVERYWHERE.iter().chain(&extra).copied().collect();
    let (dir, plugins) = hostile_setup("adapter", &cases, false, |c| {
        c.replace("\"adapter-jsonl\"", "\"test-hostile-adapter\"")
    });
    run_in(dir.path(), &plugins);
    let summary: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("logs/summary.json")).unwrap(),
    )
    .unwrap();
    let data = &summary["data"];
    let skipped: Vec<&str> = data["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    for (i, (what, cause)) in cases.iter().enumerate() {
        let line = format!("problems.jsonl:{}: ", 3 * i + 1);
        let entry = skipped
            .iter()
            .find(|s| s.contains(&line))
            .unwrap_or_else(|| panic!("{what}: line {} not skipped: {skipped:?}", 3 * i + 1));
        assert!(
            entry.contains("test-hostile-adapter@0.1.0") && entry.contains(cause),
            "{what}: {entry}"
        );
    }
    assert_eq!(skipped.len(), cases.len(), "{skipped:?}");
    assert_eq!(
        data["train"].as_u64().unwrap() + data["test"].as_u64().unwrap(),
        (HOSTILE_PROBLEMS - cases.len()) as u64
    );
}

/// `rescore` judges a finished run's test traces again with another parser,
/// without a single LLM call: a second summary beside summary.json, and the
/// report sets them side by side.
#[test]
fn rescore_tries_another_parser_on_a_finished_run() {
    let dir = tempfile::tempdir().unwrap();
    // A plugin option too: rescoring applies the run's (from run.json).
    let summary = run(
        dir.path(),
        "20",
        &[
            "dataset.test_fraction=0.01",
            "plugins.options.reward-econ.fidelity_share=1.0",
        ],
    );
    let logs = dir.path().join("logs");
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    std::fs::copy(
        common::test_plugin("test-misbehave"),
        plugins.join("test-misbehave.wasm"),
    )
    .unwrap();
    // `rescore --parser P` or `--reward R`: the summary it writes.
    let rescore_with = |flag: &str, plugin: &str| {
        let out = Command::new(common::binary())
            .arg("--plugins")
            .arg(&plugins)
            .arg("rescore")
            .arg(&logs)
            .args([flag, plugin])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let path = logs.join(format!("summary.rescored-{plugin}.json"));
        serde_json::from_str::<Value>(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let rescore = |parser: &str| rescore_with("--parser", parser);
    // The run's own parser gives the run's own verdicts.
    let same = rescore("parser-boxed");
    for mode in ["baseline", "bne"] {
        assert_eq!(
            same["modes"][mode]["correct"], summary["modes"][mode]["correct"],
            "{mode}"
        );
        assert_eq!(same["changed"][mode], 0);
    }
    // parser-math over the parser-boxed run: a second summary, same episodes.
    let math = rescore("parser-math");
    for mode in ["baseline", "bne"] {
        assert_eq!(
            math["modes"][mode]["episodes"],
            summary["modes"][mode]["episodes"]
        );
    }
    // A parser that echoes the text as the answer: every right verdict flips.
    let echo = rescore("test-misbehave");
    for mode in ["baseline", "bne"] {
        assert_eq!(echo["modes"][mode]["correct"], 0, "{mode}");
        assert_eq!(
            echo["modes"][mode]["episodes"],
            summary["modes"][mode]["episodes"]
        );
        assert_eq!(
            echo["changed"][mode], summary["modes"][mode]["correct"],
            "{mode}"
        );
    }
    // Rewards scored again from the traces (texts embedded by the run's own
    // encoder): the run's reward plugin gives the run's rewards; another
    // gives other rewards and the same verdicts.
    std::fs::copy(
        common::test_plugin("test-hostile-reward"),
        plugins.join("test-hostile-reward.wasm"),
    )
    .unwrap();
    let rewards = |reward: &str| rescore_with("--reward", reward);
    let mean = |v: &Value, mode: &str| v["modes"][mode]["reward_mean"].as_f64().unwrap();
    let again = rewards("reward-econ");
    assert!(
        (mean(&again, "bne") - mean(&summary, "bne")).abs() < 1e-5,
        "{again}"
    );
    let other = rewards("test-hostile-reward");
    assert!(
        (mean(&other, "bne") - mean(&summary, "bne")).abs() > 1e-3,
        "{other}"
    );
    assert_eq!(
        other["modes"]["bne"]["correct"],
        summary["modes"]["bne"]["correct"]
    );
    assert_eq!(other["reward"], "test-hostile-reward@0.1.0");

    let out = Command::new(common::binary())
        .arg("report")
        .arg(&logs)
        .output()
        .unwrap();
    assert!(out.status.success());
    let html = std::fs::read_to_string(logs.join("report.html")).unwrap();
    assert!(html.contains("parser-boxed@0.1.0") && html.contains("test-misbehave@0.1.0"));
    assert!(html.contains("parser-math@0.1.0"));
    assert!(html.contains("reward test-hostile-reward@0.1.0"));
}

/// `--tensorboard` writes the run's curves as TensorBoard event files beside
/// the logs: every learner term and the per-episode reward at the episode
/// they belong to, and each test mode's accuracy, matching summary.json.
#[test]
fn tensorboard_event_files_hold_the_runs_curves() {
    use econ_host::runlog::tensorboard::{What, read_events};
    let dir = tempfile::tempdir().unwrap();
    let args = ["--train-eps", "40", "--test-eps", "20", "--tensorboard"];
    let summary = run_with(dir.path(), &args, &[]);
    let board = dir.path().join("logs/tensorboard");
    let mut scalars: Vec<(i64, String, f32)> = Vec::new();
    for file in std::fs::read_dir(&board).unwrap() {
        for event in read_events(&file.unwrap().path()).unwrap() {
            if let Some(What::Summary(s)) = event.what {
                for v in s.value {
                    scalars.push((event.step, v.tag, v.simple_value.unwrap()));
                }
            }
        }
    }
    let steps =
        |tag: &str| -> Vec<i64> { scalars.iter().filter(|s| s.1 == tag).map(|s| s.0).collect() };
    assert_eq!(steps("train/reward"), (1..=40).collect::<Vec<i64>>());
    let metrics = std::fs::read_to_string(dir.path().join("logs/metrics.jsonl")).unwrap();
    let updates: Vec<i64> = metrics
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["episode"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert!(!updates.is_empty());
    assert_eq!(steps("learner/loss_total"), updates);
    for mode in ["baseline", "bne"] {
        let tag = format!("test/{mode}/accuracy");
        let at: Vec<_> = scalars.iter().filter(|s| s.1 == tag).collect();
        assert_eq!(at.len(), 1, "{tag}");
        assert_eq!(at[0].0, 40);
        let want = summary["modes"][mode]["accuracy"].as_f64().unwrap();
        assert!(
            (f64::from(at[0].2) - want).abs() < 1e-6,
            "{tag}: {} vs {want}",
            at[0].2
        );
    }
}

/// A plugin of the wrong kind for its key is refused at start (exit 2, the
/// key and the kind named), not found out on every episode.
#[test]
fn a_plugin_of_the_wrong_kind_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = sim_run(
        &dir.path().join("logs"),
        None,
        &["--train-eps", "2", "--set", "plugins.parser=reward-econ"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("plugins.parser") && err.contains("is a reward plugin"),
        "{err}"
    );
    assert!(!dir.path().join("logs/traces_train_bne.jsonl").exists());
}

/// A plugin that replaces a built-in one (same name, a later folder) is
/// said on stderr and recorded as such in run.json and every trace.
#[test]
fn overriding_a_builtin_is_said_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    std::fs::copy(
        common::plugin_dir().join("parser-boxed.wasm"),
        plugins.join("parser-boxed.wasm"),
    )
    .unwrap();
    let logs = dir.path().join("logs");
    let out = sim_run(
        &logs,
        Some(&plugins),
        &["--train-eps", "2", "--test-eps", "2"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("overrides the built-in parser-boxed@"),
        "{err}"
    );
    let run: Value =
        serde_json::from_slice(&std::fs::read(logs.join("run.json")).unwrap()).unwrap();
    let parser = run["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "parser-boxed")
        .unwrap();
    assert!(
        parser["overrides_builtin"]
            .as_str()
            .unwrap()
            .starts_with("parser-boxed@")
    );
    let trace = std::fs::read_to_string(logs.join("traces_test_bne.jsonl")).unwrap();
    let first: Value = serde_json::from_str(trace.lines().next().unwrap()).unwrap();
    assert!(
        first["plugins"].as_array().unwrap().iter().any(|p| p
            .as_str()
            .unwrap()
            .contains("(overrides the built-in parser-boxed@")),
        "{first}"
    );
}

/// A test episode whose executors all gave the commitment's answer stops
/// there (`bne.unanimous_stop`): no refinement round is run. Training and
/// baseline are untouched, every bne episode's round 0 is the same, and
/// with the switch off no episode stops that way.
#[test]
fn a_test_episode_whose_executors_agree_with_the_commitment_is_not_refined() {
    let dir = tempfile::tempdir().unwrap();
    let traces = |name: &str, file: &str| -> Vec<Value> {
        std::fs::read_to_string(dir.path().join(name).join("logs").join(file))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    for (name, set) in [("on", vec![]), ("off", vec!["bne.unanimous_stop=false"])] {
        let args = [
            "--train-eps",
            "20",
            "--test-eps",
            "60",
            "--modes",
            "baseline,bne",
        ];
        run_with(
            &dir.path().join(name),
            &[&args[..], &["--json"]].concat(),
            &set,
        );
    }
    // Training and baseline: the same steps either way, never this stop.
    for file in ["traces_train_bne.jsonl", "traces_test_baseline.jsonl"] {
        let (on, off) = (traces("on", file), traces("off", file));
        assert!(!on.is_empty());
        for (a, b) in on.iter().zip(&off) {
            assert_eq!(a["steps"], b["steps"], "{file}");
            assert_ne!(a["steps"][0]["stop_reason"], "unanimous", "{file}");
        }
    }
    let unanimous = |round: &Value| {
        round["executors"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| common::same_answer(&e["answer"], &round["commitment_answer"]))
    };
    let (on, off) = (
        traces("on", "traces_test_bne.jsonl"),
        traces("off", "traces_test_bne.jsonl"),
    );
    assert_eq!(on.len(), 60);
    let mut stopped = 0;
    for (a, b) in on.iter().zip(&off) {
        let (step, other) = (&a["steps"][0], &b["steps"][0]);
        // Same problem, same round 0: the rule only decides what follows.
        assert_eq!(a["id"], b["id"]);
        assert_eq!(step["rounds"][0], other["rounds"][0]);
        let rounds = step["rounds"].as_array().unwrap();
        if unanimous(&rounds[0]) {
            stopped += 1;
            assert_eq!(step["stop_reason"], "unanimous", "{step}");
            assert_eq!(rounds.len(), 1);
            assert_eq!(step["converged"], true);
            assert_eq!(a["correct"], rounds[0]["commitment_correct"]);
        } else if step["stop_reason"] == "unanimous" {
            assert!(unanimous(rounds.last().unwrap()), "{step}");
        }
        assert_ne!(other["stop_reason"], "unanimous");
    }
    assert!(stopped > 0, "no test episode of 60 had unanimous executors");
}

/// "46.7%" from "... acc 46.7% | ..." (after `marker`).
fn percent_after(line: &str, marker: &str) -> String {
    let after = line.split(marker).nth(1).unwrap();
    after.split('%').next().unwrap().to_string() + "%"
}

/// The last progress line of each loop says what the result line says.
#[test]
fn progress_lines_end_on_the_results() {
    let dir = tempfile::tempdir().unwrap();
    let out = sim_run(
        &dir.path().join("logs"),
        None,
        &["--train-eps", "30", "--test-eps", "30"],
    );
    assert!(out.status.success());
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    // "bne 30/30 acc 46.7% | ..." on stderr; "BNE (...): 14/30 = 46.7%" on stdout.
    let last_acc = |prefix: &str| -> String {
        let line = stderr
            .lines()
            .filter(|l| l.starts_with(&format!("{prefix} 30/30 acc ")))
            .last()
            .unwrap_or_else(|| panic!("no final {prefix} line in {stderr}"));
        percent_after(line, "acc ")
    };
    for (prefix, label) in [
        ("train", "Train: "),
        ("baseline", "Baseline (no BNE): "),
        ("bne", "BNE ("),
    ] {
        let result = stdout.lines().find(|l| l.starts_with(label)).unwrap();
        let percent = percent_after(result, " = ");
        assert_eq!(last_acc(prefix), percent, "{prefix}: {stderr}\n{stdout}");
    }
}

/// `sweep` runs every arm at every seed and tabulates them; `--resume` keeps
/// the finished runs of the same command and config and runs the rest.
#[test]
fn a_sweep_tabulates_its_arms_and_resume_keeps_finished_runs() {
    let dir = tempfile::tempdir().unwrap();
    let sweep = |arms: &[&str], resume: bool| {
        let mut cmd = Command::new(common::binary());
        cmd.arg("sweep")
            .arg("--config")
            .arg(common::repo_root().join("configs/sim.toml"))
            .arg("--log-dir")
            .arg(dir.path())
            .args(["--seeds", "1,2", "--train-eps", "10", "--test-eps", "10"])
            .args(["--jobs", "2"]);
        for arm in arms {
            cmd.arg("--arm").arg(arm);
        }
        if resume {
            cmd.arg("--resume");
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let run_id = |cell: &str, seed: u64| -> String {
        let path = dir.path().join(cell).join(format!("seed-{seed}/run.json"));
        let v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        v["run_id"].as_str().unwrap().to_string()
    };
    let first = sweep(
        &["a: bne.critic_veto=true", "b: bne.critic_veto=false"],
        false,
    );
    assert_eq!(first.matches(": done").count(), 4, "{first}");
    let table = std::fs::read_to_string(dir.path().join("sweep.md")).unwrap();
    assert!(table.contains("| a ") && table.contains("| b "), "{table}");
    let before = [run_id("00-a", 1), run_id("00-a", 2), run_id("01-b", 1)];
    // Arm b changes: its runs are made again, arm a's are kept.
    let second = sweep(
        &["a: bne.critic_veto=true", "b: bne.refine_at_infer=false"],
        true,
    );
    assert_eq!(
        second.matches("kept (finished before)").count(),
        2,
        "{second}"
    );
    assert_eq!(second.matches(": done").count(), 2, "{second}");
    assert_eq!(run_id("00-a", 1), before[0]);
    assert_eq!(run_id("00-a", 2), before[1]);
    assert_ne!(run_id("01-b", 1), before[2]);
    // Nothing is deleted: the replaced run is set aside.
    assert!(dir.path().join("01-b/seed-1.before-1/run.json").is_file());
}

/// A plugin replaced while a run goes on: run.json lists each version with
/// the episodes it served, and together they account for every episode.
#[test]
fn run_json_lists_every_plugin_version_a_run_used_and_the_episodes_each_served() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    let v1 = std::fs::read(common::test_plugin("test-misbehave")).unwrap();
    let v2 = std::fs::read(common::test_plugin("test-misbehave-v2")).unwrap();
    let file = plugins.join("test-misbehave.wasm");
    std::fs::write(&file, &v1).unwrap();
    let logs = dir.path().join("logs");
    let child = Command::new(common::binary())
        .arg("--plugins")
        .arg(&plugins)
        .arg("run")
        .arg("--config")
        .arg(common::repo_root().join("configs/sim.toml"))
        .args([
            "--train-eps",
            "600",
            "--test-eps",
            "20",
            "--modes",
            "baseline",
        ])
        .args(["--set", "plugins.parser=\"test-misbehave\""])
        .args(["--set", "runner.concurrency=2"])
        .arg("--log-dir")
        .arg(&logs)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Replace the parser once some training episodes are written.
    let traces = logs.join("traces_train_bne.jsonl");
    let started = std::time::Instant::now();
    while std::fs::read_to_string(&traces).map_or(0, |t| t.lines().count()) < 30 {
        assert!(
            started.elapsed().as_secs() < 120,
            "no training traces appeared"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let next = plugins.join("next.tmp");
    std::fs::write(&next, &v2).unwrap();
    std::fs::rename(&next, &file).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let run: Value =
        serde_json::from_slice(&std::fs::read(logs.join("run.json")).unwrap()).unwrap();
    let served: Vec<&Value> = run["plugins_served"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["plugin"].as_str().unwrap().starts_with("test-misbehave@"))
        .collect();
    let sha = |bytes: &[u8]| {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(bytes))
    };
    assert_eq!(served.len(), 2, "{:#}", run["plugins_served"]);
    assert_eq!(served[0]["plugin"], "test-misbehave@0.1.0");
    assert_eq!(served[0]["sha256"].as_str().unwrap(), sha(&v1));
    assert_eq!(served[1]["plugin"], "test-misbehave@0.2.0");
    assert_eq!(served[1]["sha256"].as_str().unwrap(), sha(&v2));
    // Every training episode was served by exactly one of them.
    let episodes = |s: &Value, part: &str| -> Vec<u64> {
        s["episodes"][part]
            .as_str()
            .unwrap_or("")
            .split(", ")
            .filter(|r| !r.is_empty())
            .flat_map(|r| match r.split_once('-') {
                Some((a, b)) => (a.parse().unwrap()..=b.parse().unwrap()).collect::<Vec<u64>>(),
                None => vec![r.parse().unwrap()],
            })
            .collect()
    };
    let mut all: Vec<u64> = served
        .iter()
        .flat_map(|s| episodes(s, "train bne"))
        .collect();
    all.sort_unstable();
    assert_eq!(all, (1..=600).collect::<Vec<u64>>());
    assert!(!episodes(served[0], "train bne").is_empty());
    // The test phase ran after the swap: the new version only.
    assert_eq!(
        episodes(served[1], "test baseline"),
        (1..=20).collect::<Vec<u64>>()
    );
}
