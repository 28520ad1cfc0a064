//! The main job end to end: the real binary against a local OpenAI-compatible
//! server playing a deterministic arithmetic model, with the real plugins,
//! the real sentence encoder and the real networks.

use crate::common;
use crate::common::arith_job;
use crate::common::openai_server;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use arith_job::{N_AGENTS, arithmetic_model, json_file, question_numbers, text, traces, write_job};
use openai_server::{Reply, Server};
use serde_json::Value;

struct Setup {
    dir: tempfile::TempDir,
    server: Server,
}

impl Setup {
    async fn new(latency: Duration, extra_config: &str) -> Setup {
        let server = Server::start(latency).await;
        server.set_default(arithmetic_model());
        let dir = tempfile::tempdir().unwrap();
        write_job(dir.path(), &server.base_url(), extra_config);
        Setup { dir, server }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The command with the folders these tests read (logs/, models/) unless
    /// `args` names others; a run without them gets a folder of its own
    /// (`two_default_runs_never_share_a_folder`).
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(common::binary());
        cmd.arg(args[0])
            .arg("--config")
            .arg(self.path("config.toml"))
            .args(&args[1..])
            .current_dir(self.dir.path());
        if !args.contains(&"--log-dir") {
            cmd.args(["--log-dir", "logs"]);
        }
        if ["run", "train"].contains(&args[0]) && !args.contains(&"--model-dir") {
            cmd.args(["--model-dir", "models"]);
        }
        cmd
    }

    /// The command started in the background, its stderr kept for reading.
    fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.command(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting econ-host")
    }

    async fn econ_host(&self, args: &[&str]) -> Output {
        let mut cmd = self.command(args);
        tokio::task::spawn_blocking(move || cmd.output().expect("running econ-host"))
            .await
            .unwrap()
    }
}

/// LLM calls one episode made: a strategy, then n executors and a
/// commitment per round.
fn calls(trace: &Value) -> u64 {
    let rounds: u64 = trace["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["rounds"].as_array().unwrap().len() as u64)
        .sum();
    1 + rounds * (N_AGENTS as u64 + 1)
}

fn tokens(trace: &Value) -> u64 {
    let t = &trace["tokens"];
    ["coordinator", "executor"]
        .iter()
        .map(|r| t[r]["prompt"].as_u64().unwrap() + t[r]["completion"].as_u64().unwrap())
        .sum()
}

fn check_mode(summary: &Value, mode: &str, traces: &[Value]) {
    let s = &summary["modes"][mode];
    let episodes = s["episodes"].as_u64().unwrap();
    assert_eq!(episodes, traces.len() as u64, "{mode}");
    let correct = traces.iter().filter(|t| t["correct"] == true).count() as u64;
    assert_eq!(s["correct"].as_u64().unwrap(), correct, "{mode}");
    let accuracy = s["accuracy"].as_f64().unwrap();
    assert!((accuracy - correct as f64 / episodes as f64).abs() < 1e-12);
    let total: u64 = traces.iter().map(tokens).sum();
    let t = &s["tokens"];
    assert_eq!(
        t["prompt"].as_u64().unwrap() + t["completion"].as_u64().unwrap(),
        total,
        "{mode}: token sums"
    );
    // Every final commitment of the scripted coordinator is JSON.
    assert_eq!(s["parse_rate"].as_f64().unwrap(), 1.0, "{mode}");
    for (i, t) in traces.iter().enumerate() {
        assert_eq!(t["episode"].as_u64().unwrap(), i as u64 + 1);
        assert_eq!(t["mode"], mode);
        assert_eq!(t["parse_method"], "json");
        let reference: i64 = t["reference"].as_str().unwrap().parse().unwrap();
        let (a, b) = question_numbers(t["question"].as_str().unwrap());
        assert_eq!(reference, a + b);
        assert_eq!(t["plugins"].as_array().unwrap().len(), 3);
        for step in t["steps"].as_array().unwrap() {
            for round in step["rounds"].as_array().unwrap() {
                let executors = round["executors"].as_array().unwrap();
                assert_eq!(executors.len(), N_AGENTS);
                for e in executors {
                    let temp = e["temperature"].as_f64().unwrap();
                    let p = e["repetition_penalty"].as_f64().unwrap();
                    assert!((0.2..=1.2).contains(&temp), "T {temp}");
                    assert!((1.0..=1.3).contains(&p), "p {p}");
                    // The scripted executor errs exactly when sampled hot.
                    let answer: i64 = e["answer"].as_str().unwrap().parse().unwrap();
                    assert_eq!(answer, a + b + i64::from(temp > 1.0));
                }
            }
            assert_eq!(step["rewards"].as_array().unwrap().len(), N_AGENTS);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_then_test_the_checkpoint_gives_complete_consistent_outputs() {
    let s = Setup::new(Duration::ZERO, "").await;
    let out = s
        .econ_host(&[
            "run",
            "--train-eps",
            "4",
            "--test-eps",
            "3",
            "--log-dir",
            "logs",
            "--model-dir",
            "models",
        ])
        .await;
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Baseline (no BNE): "), "{stdout}");
    assert!(stdout.contains("BNE (up to 3 rounds, "), "{stdout}");

    let summary = json_file(&s.path("logs/summary.json"));
    let train = traces(&s.path("logs/traces_train_bne.jsonl"));
    let baseline = traces(&s.path("logs/traces_test_baseline.jsonl"));
    let bne = traces(&s.path("logs/traces_test_bne.jsonl"));
    assert_eq!(train.len(), 4);
    check_mode(&summary, "baseline", &baseline);
    check_mode(&summary, "bne", &bne);
    assert_eq!(summary["train"]["episodes"], 4);
    // Every LLM call the server saw is in a trace.
    let all: u64 = train.iter().chain(&baseline).chain(&bne).map(calls).sum();
    assert_eq!(s.server.requests() as u64, all);
    // Baseline runs round 0 only; BNE at least one refinement per test episode
    // unless the refined actions did not move or the executors all gave the
    // commitment's answer (then that round is not run).
    assert!(
        baseline
            .iter()
            .all(|t| t["steps"][0]["rounds"].as_array().unwrap().len() == 1)
    );
    assert!(bne.iter().all(|t| {
        let step = &t["steps"][0];
        step["rounds"].as_array().unwrap().len() >= 2
            || step["stop_reason"] == "action_delta"
            || step["stop_reason"] == "unanimous"
    }));
    // A unanimous stop is one: every executor gave the commitment's answer.
    for t in bne
        .iter()
        .filter(|t| t["steps"][0]["stop_reason"] == "unanimous")
    {
        let last = t["steps"][0]["rounds"].as_array().unwrap().last().unwrap();
        let executors = last["executors"].as_array().unwrap();
        assert!(
            executors
                .iter()
                .all(|e| common::same_answer(&e["answer"], &last["commitment_answer"])),
            "{t}"
        );
    }
    // Test problems are not training problems.
    let train_ids: Vec<&str> = train.iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert!(
        bne.iter()
            .all(|t| !train_ids.contains(&t["id"].as_str().unwrap()))
    );

    // Learner updates every 2 episodes: metrics lines name every loss term.
    let metrics = traces(&s.path("logs/metrics.jsonl"));
    assert_eq!(metrics.len(), 2);
    for term in [
        "loss_td",
        "loss_consistency",
        "loss_sd",
        "loss_equilibrium",
        "loss_commit_improve",
        "loss_total",
    ] {
        assert!(metrics[0].get(term).is_some(), "metrics.jsonl lacks {term}");
    }
    assert!(s.path("models/checkpoint_2/model.safetensors").is_file());
    assert!(s.path("models/final/meta.json").is_file());
    let meta = json_file(&s.path("models/final/meta.json"));
    assert_eq!(meta["extra"]["episode"], 4);

    // The checkpoint reproduces the run's BNE test exactly (no exploration at test).
    let out = s
        .econ_host(&[
            "test",
            "--checkpoint",
            "models",
            "--mode",
            "bne",
            "--test-eps",
            "3",
            "--log-dir",
            "logs2",
            "--json",
        ])
        .await;
    assert!(out.status.success(), "{}", text(&out));
    let printed: Value = serde_json::from_slice(&out.stdout).expect("--json prints summary.json");
    let again = traces(&s.path("logs2/traces_test_bne.jsonl"));
    check_mode(&printed, "bne", &again);
    assert!(printed["modes"].get("baseline").is_none());
    for (a, b) in bne.iter().zip(&again) {
        assert_eq!(a["id"], b["id"]);
        assert_eq!(a["final_answer"], b["final_answer"]);
        assert_eq!(
            a["steps"][0]["rounds"][0]["executors"][0]["temperature"],
            b["steps"][0]["rounds"][0]["executors"][0]["temperature"]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_stopping_fires_when_its_criteria_hold() {
    // Single metric: nothing improves by 10 reward points, so training stops
    // `patience` episodes after the first one past the warm-up.
    let s = Setup::new(
        Duration::ZERO,
        "\n[early_stopping]\nenabled = true\nwarmup = 1\npatience = 2\nmin_delta = 10.0\n",
    )
    .await;
    let out = s
        .econ_host(&["train", "--train-eps", "20", "--log-dir", "logs", "--json"])
        .await;
    assert!(out.status.success(), "{}", text(&out));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let stop = &summary["train"]["early_stop"];
    assert_eq!(stop["episode"], 4, "{summary:#}");
    assert_eq!(stop["rule"], "reward_mean");
    assert_eq!(traces(&s.path("logs/traces_train_bne.jsonl")).len(), 4);
    assert!(s.path("models/final/meta.json").is_file());

    // Three criteria, all loose: they hold once two learner updates exist
    // (episodes 2 and 4 with update_interval 2): episodes 4 and 5 make the streak.
    let s = Setup::new(
        Duration::ZERO,
        "\n[early_stopping]\nenabled = true\nwarmup = 0\npatience = 2\n\
         commitment_threshold = -1.0\nreward_threshold = -1.0\nloss_threshold = 1e9\n",
    )
    .await;
    let out = s
        .econ_host(&["train", "--train-eps", "20", "--log-dir", "logs", "--json"])
        .await;
    assert!(out.status.success(), "{}", text(&out));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let stop = &summary["train"]["early_stop"];
    assert_eq!(stop["rule"], "three-criterion", "{summary:#}");
    assert_eq!(stop["episode"], 5, "{summary:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn train_resume_after_a_kill_loses_no_finished_episode() {
    // 150 ms per call: an episode takes about a second, so the kill lands mid-run.
    let s = Setup::new(Duration::from_millis(150), "").await;
    let mut child = s
        .command(&["train", "--train-eps", "8", "--log-dir", "logs"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let trace_path = s.path("logs/traces_train_bne.jsonl");
    wait_for_lines(&trace_path, 5, &mut child).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let before = traces(&trace_path);
    assert!(before.len() >= 5);
    assert!(s.path("models/checkpoint_4/meta.json").is_file());
    assert!(!s.path("models/final").exists());
    // Let requests of the killed process drain before counting.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let requests_at_kill = s.server.requests() as u64;

    let out = s
        .econ_host(&[
            "train",
            "--train-eps",
            "8",
            "--log-dir",
            "logs",
            "--resume",
            "--json",
        ])
        .await;
    assert!(out.status.success(), "{}", text(&out));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let after = traces(&trace_path);
    assert_eq!(after.len(), 8);
    for (i, t) in after.iter().enumerate() {
        assert_eq!(t["episode"].as_u64().unwrap(), i as u64 + 1);
    }
    // Finished episodes are kept as they were, not run again.
    for (a, b) in before.iter().zip(&after) {
        assert_eq!(a, b);
    }
    let rerun: u64 = after[before.len()..].iter().map(calls).sum();
    assert_eq!(s.server.requests() as u64 - requests_at_kill, rerun);
    assert_eq!(summary["train"]["resumed_from"], 4);
    assert_eq!(summary["train"]["episodes"], 8);
    assert_eq!(
        json_file(&s.path("models/final/meta.json"))["extra"]["episode"],
        8
    );
    // One metrics line per update: every 2 episodes, none lost or doubled.
    let metrics = traces(&s.path("logs/metrics.jsonl"));
    let episodes: Vec<u64> = metrics
        .iter()
        .map(|m| m["episode"].as_u64().unwrap())
        .collect();
    assert_eq!(episodes, [2, 4, 6, 8]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_server_fails_the_run_with_a_clear_error() {
    let s = Setup::new(Duration::ZERO, "").await;
    s.server.set_default(Reply::Status(503, None));
    let out = s
        .econ_host(&[
            "run",
            "--train-eps",
            "1",
            "--log-dir",
            "logs",
            "--set",
            "llm.coordinator.max_retries=0",
            "--set",
            "runner.episode_attempts=2",
        ])
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("coordinator (strategy)") && t.contains("503"),
        "{t}"
    );
    assert!(t.contains("training episode 1 failed 2 time(s)"), "{t}");
    assert!(t.contains("train --resume"), "{t}");
}

/// A server that fails one request in five, with no client retries: each
/// failure ends an LLM call, and so today's episode; the episode runs again
/// and the run finishes with every episode, train and test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_faults_never_end_a_run() {
    let s = Setup::new(Duration::ZERO, "").await;
    // A fixed schedule, one request in five failing, not periodic (a period
    // of five would hit the same call of every re-run).
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    s.server.script((0..2000).map(|_| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if x.is_multiple_of(5) {
            Reply::Status(500, None)
        } else {
            arithmetic_model()
        }
    }));
    let out = s
        .econ_host(&[
            "run",
            "--train-eps",
            "4",
            "--test-eps",
            "4",
            "--log-dir",
            "logs",
            "--set",
            "llm.coordinator.max_retries=0",
            "--set",
            "llm.executor.max_retries=0",
            "--set",
            "runner.episode_attempts=20",
        ])
        .await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("it runs again"),
        "no episode was re-run"
    );
    let summary = json_file(&s.path("logs/summary.json"));
    assert_eq!(summary["train"]["episodes"], 4, "{summary:#}");
    for mode in ["baseline", "bne"] {
        assert_eq!(summary["modes"][mode]["episodes"], 4, "{summary:#}");
        assert!(summary["modes"][mode].get("stopped_by").is_none());
    }
    for t in traces(&s.path("logs/traces_train_bne.jsonl")) {
        assert!(t["error"].is_null(), "{t}");
    }
}

/// The server dies mid-training: the run stops after the episode's attempts
/// with the finished episodes checkpointed and a partial summary, and
/// `train --resume` goes on once the server is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_stops_training_checkpointed_and_resume_goes_on() {
    let s = Setup::new(Duration::from_millis(50), "").await;
    let args = [
        "--log-dir",
        "logs",
        "--set",
        "runner.save_interval=100",
        "--set",
        "runner.episode_attempts=2",
        "--set",
        "llm.coordinator.max_retries=0",
        "--set",
        "llm.executor.max_retries=0",
    ];
    let mut child = s.spawn(&[&["train", "--train-eps", "6"][..], &args].concat());
    let trace_path = s.path("logs/traces_train_bne.jsonl");
    wait_for_lines(&trace_path, 2, &mut child).await;
    s.server.set_default(Reply::Status(503, None));
    let (code, stderr) = wait_exit(child, Duration::from_secs(60));
    assert_eq!(code, Some(1), "{stderr}");
    let n = traces(&trace_path).len();
    assert!((2..6).contains(&n), "{n} episodes finished");
    assert!(
        stderr.contains(&format!("training stopped after {n} of 6 episodes")),
        "{stderr}"
    );
    assert!(
        stderr.contains("503") && stderr.contains("train --resume"),
        "{stderr}"
    );
    let summary = json_file(&s.path("logs/summary.json"));
    assert_eq!(summary["train"]["episodes"], n, "{summary:#}");
    assert!(
        summary["train"]["stopped_by"]
            .as_str()
            .unwrap()
            .contains("503")
    );
    assert!(
        s.path(&format!("models/checkpoint_{n}/meta.json"))
            .is_file()
    );

    s.server.set_default(arithmetic_model());
    let out = s
        .econ_host(&[&["train", "--train-eps", "6", "--resume"][..], &args].concat())
        .await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(traces(&trace_path).len(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_step_episodes_record_every_decision_step() {
    let s = Setup::new(Duration::ZERO, "\n[env]\nmax_rounds = 2\n").await;
    let out = s
        .econ_host(&["train", "--train-eps", "2", "--log-dir", "logs", "--json"])
        .await;
    assert!(out.status.success(), "{}", text(&out));
    let train = traces(&s.path("logs/traces_train_bne.jsonl"));
    assert_eq!(train.len(), 2);
    for t in &train {
        let steps = t["steps"].as_array().unwrap();
        assert_eq!(steps.len(), 2);
        assert_eq!(steps[0]["done"], false);
        assert_eq!(steps[1]["done"], true);
        assert_eq!(steps[1]["t"], 1);
    }
    // Each decision step is one transition for the learner (4 records), but
    // train.update_interval = 2 counts episodes: one update, after episode 2.
    let metrics = traces(&s.path("logs/metrics.jsonl"));
    assert_eq!(metrics.len(), 1, "{metrics:?}");
    assert_eq!(metrics[0]["episode"], 2);
    let all: u64 = train.iter().map(calls).sum();
    assert_eq!(s.server.requests() as u64, all);
}

/// Send SIGINT (what Ctrl-C sends) to `child`.
fn ctrl_c(child: &std::process::Child) {
    signal(child, "-INT");
}

fn signal(child: &std::process::Child, which: &str) {
    let status = Command::new("kill")
        .args([which, &child.id().to_string()])
        .status()
        .expect("running kill");
    assert!(status.success());
}

/// Wait for `child` to exit (at most `limit`), then its stderr.
fn wait_exit(mut child: std::process::Child, limit: Duration) -> (Option<i32>, String) {
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("econ-host did not exit within {limit:?} of Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Poll until `path` holds at least `lines` lines.
async fn wait_for_lines(path: &std::path::Path, lines: usize, child: &mut std::process::Child) {
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let done = std::fs::read_to_string(path)
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if done >= lines {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no progress in {}",
            path.display()
        );
        assert!(child.try_wait().unwrap().is_none(), "econ-host ended early");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_mid_training_checkpoints_what_is_finished_and_resume_goes_on() {
    let s = Setup::new(Duration::from_millis(150), "").await;
    // No periodic checkpoints: the only one is the one Ctrl-C writes.
    let args = ["--log-dir", "logs", "--set", "runner.save_interval=100"];
    let mut child = s.spawn(&[&["train", "--train-eps", "8"][..], &args].concat());
    let trace_path = s.path("logs/traces_train_bne.jsonl");
    wait_for_lines(&trace_path, 3, &mut child).await;
    ctrl_c(&child);
    let (code, stderr) = wait_exit(child, Duration::from_secs(60));
    assert_eq!(code, Some(130), "{stderr}");

    let before = traces(&trace_path);
    let n = before.len();
    assert!((3..8).contains(&n), "{n} episodes finished");
    assert!(
        stderr.contains(&format!("interrupted after {n} of 8 training episodes")),
        "{stderr}"
    );
    assert!(stderr.contains("train --resume --train-eps 8"), "{stderr}");
    assert!(!stderr.contains("error:"), "{stderr}");
    let checkpoint = s.path(&format!("models/checkpoint_{n}"));
    assert_eq!(
        json_file(&checkpoint.join("meta.json"))["extra"]["episode"],
        n
    );
    assert!(!s.path("models/final").exists());
    let summary = json_file(&s.path("logs/summary.json"));
    assert_eq!(summary["train"]["interrupted"], true, "{summary:#}");
    assert_eq!(summary["train"]["episodes"], n);
    // --model-dir as given (the default "models", relative to the run).
    assert_eq!(
        summary["train"]["last_checkpoint"],
        format!("models/checkpoint_{n}")
    );
    // The abandoned episode's requests may still be draining.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let requests_at_stop = s.server.requests() as u64;

    let out = s
        .econ_host(
            &[
                &["train", "--train-eps", "8", "--resume", "--json"][..],
                &args,
            ]
            .concat(),
        )
        .await;
    assert!(out.status.success(), "{}", text(&out));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["train"]["resumed_from"], n);
    assert_eq!(summary["train"]["episodes"], 8);
    assert!(summary["train"].get("interrupted").is_none(), "{summary:#}");
    let after = traces(&trace_path);
    assert_eq!(after.len(), 8);
    for (a, b) in before.iter().zip(&after) {
        assert_eq!(a, b);
    }
    let rerun: u64 = after[n..].iter().map(calls).sum();
    assert_eq!(s.server.requests() as u64 - requests_at_stop, rerun);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_while_testing_keeps_the_finished_episodes() {
    let s = Setup::new(Duration::from_millis(150), "").await;
    let mut child = s.spawn(&[
        "run",
        "--train-eps",
        "0",
        "--modes",
        "baseline,bne",
        "--log-dir",
        "logs",
        "--set",
        "runner.concurrency=1",
        "--set",
        "dataset.test_fraction=0.5",
    ]);
    let trace_path = s.path("logs/traces_test_baseline.jsonl");
    wait_for_lines(&trace_path, 1, &mut child).await;
    ctrl_c(&child);
    let (code, stderr) = wait_exit(child, Duration::from_secs(60));
    assert_eq!(code, Some(130), "{stderr}");
    let finished = traces(&trace_path);
    let summary = json_file(&s.path("logs/summary.json"));
    let baseline = &summary["modes"]["baseline"];
    assert_eq!(baseline["interrupted"], true, "{summary:#}");
    assert_eq!(baseline["episodes"], finished.len());
    assert!(
        stderr.contains(&format!(
            "interrupted while testing baseline: {} of",
            finished.len()
        )),
        "{stderr}"
    );
    // The next mode never started.
    assert!(summary["modes"].get("bne").is_none(), "{summary:#}");
    assert!(!s.path("logs/traces_test_bne.jsonl").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_does_not_wait_for_a_hanging_server() {
    let s = Setup::new(Duration::ZERO, "").await;
    s.server.set_default(Reply::Hang);
    let mut child = s.spawn(&["train", "--train-eps", "2", "--log-dir", "logs"]);
    let deadline = Instant::now() + Duration::from_secs(240);
    while s.server.requests() == 0 {
        assert!(Instant::now() < deadline, "no request reached the server");
        assert!(child.try_wait().unwrap().is_none(), "econ-host ended early");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // What a cluster scheduler sends before it kills a job: same as Ctrl-C.
    signal(&child, "-TERM");
    // The client's own timeout is 60 s per attempt, with retries: an exit
    // well before it means the hanging call was abandoned, not waited for.
    let (code, stderr) = wait_exit(child, Duration::from_secs(30));
    assert_eq!(code, Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted after 0 of 2 training episodes (no episode had finished)"),
        "{stderr}"
    );
    assert!(!s.path("models").join("checkpoint_0").exists());
}

/// Every LLM call gets its own seed: the executors of a round (same prompt)
/// and the rounds of an episode are separate samples; the coordinator's
/// commitment prompt holds no earlier commitment unless the config asks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_has_its_own_seed_and_commitments_are_not_anchored() {
    let text_of = |body: &Value| -> String {
        body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["content"].as_str().unwrap_or("").to_string())
            .collect::<Vec<_>>()
            .join("\n")
    };
    for show in [false, true] {
        let extra = if show {
            "\n[env]\nshow_previous_commitment = true\n"
        } else {
            ""
        };
        let s = Setup::new(Duration::ZERO, extra).await;
        let out = s
            .econ_host(&["train", "--train-eps", "3", "--log-dir", "logs"])
            .await;
        assert!(out.status.success(), "{}", text(&out));
        let bodies = s.server.state.bodies.lock().unwrap().clone();
        let seeds: Vec<u64> = bodies.iter().map(|b| b["seed"].as_u64().unwrap()).collect();
        let distinct: std::collections::HashSet<&u64> = seeds.iter().collect();
        assert_eq!(
            distinct.len(),
            seeds.len(),
            "a seed was sent twice: {seeds:?}"
        );
        let executors: Vec<&Value> = bodies
            .iter()
            .filter(|b| text_of(b).contains("A coordinator will review your work"))
            .collect();
        // Three episodes, two rounds (K = 1 while training), three executors.
        assert_eq!(executors.len(), 3 * 2 * N_AGENTS, "{}", text(&out));
        let commitments: Vec<String> = bodies
            .iter()
            .map(text_of)
            .filter(|t| t.contains("Output JSON only"))
            .collect();
        assert_eq!(commitments.len(), 3 * 2);
        let anchored = commitments
            .iter()
            .filter(|t| t.contains("your commitment in the previous round"))
            .count();
        // With the opt-in, round 1 of each episode shows round 0's commitment.
        assert_eq!(
            anchored,
            if show { 3 } else { 0 },
            "show_previous_commitment = {show}"
        );
    }
}

/// Two processes on one log folder: the second is refused at once (exit 2)
/// with the first one's pid; with another log folder but the same model
/// folder, too. The first run is not disturbed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_on_the_same_folders_is_refused() {
    let s = Setup::new(Duration::from_millis(100), "").await;
    // Long enough to still hold its folders while the two others start (3
    // episodes were once finished before the second start on a loaded box).
    let episodes = "12";
    let mut first = s.spawn(&["train", "--train-eps", episodes, "--log-dir", "logs"]);
    let trace_path = s.path("logs/traces_train_bne.jsonl");
    wait_for_lines(&trace_path, 1, &mut first).await;
    for log_dir in ["logs", "logs-other"] {
        let out = s
            .econ_host(&["train", "--train-eps", "3", "--log-dir", log_dir])
            .await;
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        let t = text(&out);
        let folder = if log_dir == "logs" {
            "log folder"
        } else {
            "model folder"
        };
        assert!(
            t.contains(folder) && t.contains(&format!("pid {}", first.id())),
            "{t}"
        );
    }
    let (code, stderr) = wait_exit(first, Duration::from_secs(120));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(traces(&trace_path).len(), 12);
}

/// Without --log-dir and --model-dir every run gets its own folder
/// (runs/<time>-<config name>, models inside it), said on stderr, and
/// `train --resume` without --log-dir is refused rather than starting afresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_default_runs_never_share_a_folder() {
    let s = Setup::new(Duration::ZERO, "").await;
    let run = || {
        let mut cmd = Command::new(common::binary());
        cmd.args([
            "run",
            "--config",
            "config.toml",
            "--train-eps",
            "2",
            "--test-eps",
            "1",
        ])
        .current_dir(s.dir.path());
        cmd.output().unwrap()
    };
    let (a, b) = (run(), run());
    let folder = |out: &Output| -> PathBuf {
        assert!(out.status.success(), "{}", text(out));
        let err = String::from_utf8_lossy(&out.stderr);
        let line = err
            .lines()
            .find_map(|l| l.strip_prefix("run folder: "))
            .unwrap();
        s.path(line.trim())
    };
    let (fa, fb) = (folder(&a), folder(&b));
    assert_ne!(fa, fb);
    for f in [&fa, &fb] {
        assert!(f.starts_with(s.path("runs")), "{}", f.display());
        assert!(f.join("run.json").is_file() && f.join("summary.json").is_file());
        assert!(f.join("models/final/meta.json").is_file());
    }
    let out = Command::new(common::binary())
        .args([
            "train",
            "--config",
            "config.toml",
            "--train-eps",
            "3",
            "--resume",
        ])
        .current_dir(s.dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--log-dir"), "{}", text(&out));
}

/// Checkpoints are bound to their run: a fresh `train` into a model folder
/// that holds checkpoints is refused (exit 2) until --resume or --force, and
/// `--resume` from another run's folder refuses that run's checkpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_belong_to_their_run() {
    let s = Setup::new(Duration::ZERO, "").await;
    let first = s
        .econ_host(&["train", "--train-eps", "2", "--log-dir", "logs-a"])
        .await;
    assert!(first.status.success(), "{}", text(&first));

    let again = s
        .econ_host(&["train", "--train-eps", "2", "--log-dir", "logs-a"])
        .await;
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(text(&again).contains("--resume goes on with it, --force starts afresh"));

    let other = s
        .econ_host(&[
            "train",
            "--train-eps",
            "3",
            "--resume",
            "--log-dir",
            "logs-b",
        ])
        .await;
    assert_eq!(other.status.code(), Some(2), "{}", text(&other));
    assert!(text(&other).contains("belongs to run"), "{}", text(&other));

    let resumed = s
        .econ_host(&[
            "train",
            "--train-eps",
            "3",
            "--resume",
            "--log-dir",
            "logs-a",
        ])
        .await;
    assert!(resumed.status.success(), "{}", text(&resumed));
    let forced = s
        .econ_host(&[
            "train",
            "--train-eps",
            "1",
            "--force",
            "--log-dir",
            "logs-c",
        ])
        .await;
    assert!(forced.status.success(), "{}", text(&forced));
    let meta = json_file(&s.path("models/final/meta.json"));
    let run = json_file(&s.path("logs-c/run.json"));
    assert_eq!(meta["extra"]["run_id"], run["run_id"]);
}

/// `test --resume` keeps the episodes an interrupted test finished and runs
/// only the rest: no finished episode is paid for twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_resume_runs_only_the_unfinished_episodes() {
    let s = Setup::new(Duration::from_millis(150), "").await;
    let args = [
        "--mode",
        "cot",
        "--log-dir",
        "logs",
        "--set",
        "runner.concurrency=1",
        "--set",
        "dataset.test_fraction=0.5",
    ];
    let mut child = s.spawn(&[&["test"][..], &args].concat());
    let trace_path = s.path("logs/traces_test_cot.jsonl");
    wait_for_lines(&trace_path, 2, &mut child).await;
    ctrl_c(&child);
    let (code, stderr) = wait_exit(child, Duration::from_secs(60));
    assert_eq!(code, Some(130), "{stderr}");
    let before = traces(&trace_path);
    let n = before.len();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let requests_at_stop = s.server.requests();

    let out = s
        .econ_host(&[&["test", "--resume", "--json"][..], &args].concat())
        .await;
    assert!(out.status.success(), "{}", text(&out));
    let after = traces(&trace_path);
    let total = json_file(&s.path("logs/summary.json"))["modes"]["cot"]["episodes"]
        .as_u64()
        .unwrap() as usize;
    assert_eq!(after.len(), total);
    assert!(total > n, "{total} test problems, {n} finished before");
    assert_eq!(&after[..n], &before[..]);
    // cot: one LLM call per episode, only for the ones not finished.
    assert_eq!(s.server.requests() - requests_at_stop, total - n);
}

/// `[budget] max_tokens`: the job stops cleanly once its episodes have used
/// the budget: exit 1 saying so, the finished episodes checkpointed, the
/// partial summary marked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_stops_training_cleanly() {
    let s = Setup::new(Duration::ZERO, "\n[budget]\nmax_tokens = 1\n").await;
    let out = s.econ_host(&["train", "--train-eps", "4"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("training stopped after 1 of 4 episodes") && t.contains("budget.max_tokens = 1"),
        "{t}"
    );
    assert!(s.path("models/checkpoint_1/meta.json").is_file());
    let summary = json_file(&s.path("logs/summary.json"));
    assert!(
        summary["train"]["stopped_by"]
            .as_str()
            .unwrap()
            .contains("budget reached")
    );
}

/// kill -9 before the first checkpoint: `--resume` starts from the run's
/// initial networks and replays the finished episodes, so none is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_before_the_first_checkpoint_loses_nothing() {
    let s = Setup::new(Duration::from_millis(100), "").await;
    let args = ["--log-dir", "logs", "--set", "runner.save_interval=100"];
    let mut child = s.spawn(&[&["train", "--train-eps", "5"][..], &args].concat());
    let trace_path = s.path("logs/traces_train_bne.jsonl");
    wait_for_lines(&trace_path, 2, &mut child).await;
    signal(&child, "-KILL");
    let _ = wait_exit(child, Duration::from_secs(30));
    assert!(!s.path("models").join("checkpoint_2").exists());
    let before = traces(&trace_path);
    let out = s
        .econ_host(&[&["train", "--train-eps", "5", "--resume"][..], &args].concat())
        .await;
    assert!(out.status.success(), "{}", text(&out));
    let after = traces(&trace_path);
    assert_eq!(after.len(), 5);
    assert_eq!(&after[..before.len()], &before[..]);
}

/// `--dry-run` against a real run on the test server: nothing is written,
/// calls are exact where no BNE round can stop early (baseline, cot), and
/// every real number stays within the stated bounds. Prompt tokens are an
/// estimate (4 characters a token, the client's rule for servers without
/// usage); this server counts words, so cot's (no model text in its prompt)
/// differ by its tokenizer alone: 0.71x here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_says_what_a_run_will_use() {
    let s = Setup::new(Duration::ZERO, "").await;
    let args = [
        "--train-eps",
        "2",
        "--test-eps",
        "3",
        "--modes",
        "baseline,bne,cot",
    ];
    let dry = s
        .econ_host(
            &[
                &["run", "--dry-run", "--json", "--log-dir", "dry"][..],
                &args,
            ]
            .concat(),
        )
        .await;
    assert!(dry.status.success(), "{}", text(&dry));
    assert!(!s.path("dry").exists(), "a dry run writes nothing");
    assert_eq!(s.server.requests(), 0);
    let plan: Value = serde_json::from_slice(&dry.stdout).unwrap();
    let real = s.econ_host(&[&["run"][..], &args].concat()).await;
    assert!(real.status.success(), "{}", text(&real));
    let summary = json_file(&s.path("logs/summary.json"));
    for row in plan.as_array().unwrap() {
        let (phase, mode) = (
            row["phase"].as_str().unwrap(),
            row["mode"].as_str().unwrap(),
        );
        let got = if phase == "train" {
            &summary["train"]
        } else {
            &summary["modes"][mode]
        };
        let calls = got["calls"]["coordinator"].as_u64().unwrap()
            + got["calls"]["executor"].as_u64().unwrap();
        let prompt = got["tokens"]["prompt"].as_u64().unwrap();
        let completion = got["tokens"]["completion"].as_u64().unwrap();
        assert_eq!(row["episodes"], got["episodes"], "{phase} {mode}");
        assert!(
            calls <= row["calls_max"].as_u64().unwrap(),
            "{phase} {mode}: {calls} calls"
        );
        assert!(
            completion <= row["completion_tokens_max"].as_u64().unwrap(),
            "{phase} {mode}"
        );
        if matches!(mode, "baseline" | "cot") && phase == "test" {
            assert_eq!(calls, row["calls_max"].as_u64().unwrap(), "{mode}");
        }
        if mode == "cot" {
            let planned = row["prompt_tokens"].as_f64().unwrap();
            let ratio = prompt as f64 / planned;
            assert!(
                (0.6..=1.4).contains(&ratio),
                "cot prompt tokens {prompt} vs {planned}"
            );
        }
    }

    // --calibrate: one request per server role teaches the plan how this
    // server counts; cot's prompt tokens (no model text in them) then land
    // within 20% of the real run's.
    let before = s.server.requests();
    let calibrated = s
        .econ_host(
            &[
                &[
                    "run",
                    "--dry-run",
                    "--calibrate",
                    "--json",
                    "--log-dir",
                    "dry2",
                ][..],
                &args,
            ]
            .concat(),
        )
        .await;
    assert!(calibrated.status.success(), "{}", text(&calibrated));
    assert_eq!(s.server.requests(), before + 2, "one request per role");
    assert!(
        text(&calibrated).contains("counts 0."),
        "{}",
        text(&calibrated)
    );
    let plan: Value = serde_json::from_slice(&calibrated.stdout).unwrap();
    let cot = plan
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["mode"] == "cot")
        .unwrap();
    let real = summary["modes"]["cot"]["tokens"]["prompt"]
        .as_f64()
        .unwrap();
    let planned = cot["prompt_tokens"].as_f64().unwrap();
    assert!(
        (0.8..=1.2).contains(&(real / planned)),
        "calibrated cot prompt tokens {planned} vs real {real}"
    );
}

/// kill -9 while `train --resume` rewrites the trace (it does so at once):
/// the rewrite is a new file renamed over the old one, so the next resume
/// still finds every finished episode.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_during_the_resume_rewrite_loses_nothing() {
    let s = Setup::new(Duration::from_millis(100), "").await;
    let args = ["--log-dir", "logs", "--set", "runner.save_interval=1"];
    let mut child = s.spawn(&[&["train", "--train-eps", "6"][..], &args].concat());
    let trace_path = s.path("logs/traces_train_bne.jsonl");
    wait_for_lines(&trace_path, 3, &mut child).await;
    signal(&child, "-KILL");
    let _ = wait_exit(child, Duration::from_secs(30));
    let before = traces(&trace_path);
    for delay_ms in [0, 20, 60] {
        let child = s.spawn(&[&["train", "--train-eps", "6", "--resume"][..], &args].concat());
        std::thread::sleep(Duration::from_millis(delay_ms));
        signal(&child, "-KILL");
        let _ = wait_exit(child, Duration::from_secs(30));
        let now = traces(&trace_path);
        assert!(
            now.len() >= before.len(),
            "{delay_ms} ms: {} < {}",
            now.len(),
            before.len()
        );
        assert_eq!(&now[..before.len()], &before[..], "{delay_ms} ms");
    }
    let out = s
        .econ_host(&[&["train", "--train-eps", "6", "--resume"][..], &args].concat())
        .await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(traces(&trace_path).len(), 6);
}

/// Plugin options from the command line (`--set plugins.options.NAME.KEY=`):
/// the prompt template's `system` reaches the server as a system message on
/// every call, the reward plugin's `fidelity_share` changes CC and nothing
/// else, and an option the plugin does not declare is refused (exit 2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_options_from_set_reach_the_server_and_the_rewards() {
    let system = "You are a careful pirate accountant.";
    let cc_of = |s: &Setup, dir: &str| -> Vec<(f64, f64, f64)> {
        traces(&s.path(&format!("{dir}/traces_train_bne.jsonl")))
            .iter()
            .flat_map(|t| t["steps"][0]["rewards"].as_array().unwrap().clone())
            .map(|r| {
                let f = |k: &str| r[k].as_f64().unwrap();
                (f("ts"), f("al"), f("cc"))
            })
            .collect()
    };

    let s = Setup::new(Duration::ZERO, "").await;
    // One training episode into folders of its own, with these --set's.
    let train = async |dir: &str, sets: &[&str]| {
        let (models, mut args) = (format!("models-{dir}"), Vec::new());
        args.extend(["train", "--train-eps", "1", "--log-dir", dir, "--model-dir"]);
        args.push(&models);
        for set in sets {
            args.extend(["--set", set]);
        }
        s.econ_host(&args).await
    };
    let out = train("plain", &[]).await;
    assert!(out.status.success(), "{}", text(&out));
    let plain_requests = s.server.requests();
    let bodies = s.server.state.bodies.lock().unwrap().clone();
    assert!(bodies.iter().all(|b| b["messages"][0]["role"] == "user"));

    let set_system = format!("plugins.options.prompts-econ.system={system}");
    let out = train(
        "opts",
        &[
            &set_system,
            "plugins.options.reward-econ.fidelity_share=1.0",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let bodies = s.server.state.bodies.lock().unwrap().clone();
    let with_options = &bodies[plain_requests..];
    assert!(!with_options.is_empty());
    for b in with_options {
        assert_eq!(b["messages"][0]["role"], "system", "{b}");
        assert_eq!(b["messages"][0]["content"], system, "{b}");
    }
    // Same outputs (same seed), so TS and AL agree; CC is fidelity alone now.
    let (plain, opts) = (cc_of(&s, "plain"), cc_of(&s, "opts"));
    assert_eq!(plain.len(), opts.len());
    assert!(plain.iter().zip(&opts).all(|(a, b)| a.0 == b.0));
    assert!(
        plain
            .iter()
            .zip(&opts)
            .any(|(a, b)| (a.2 - b.2).abs() > 1e-4),
        "{plain:?} vs {opts:?}"
    );

    let out = train("typo", &["plugins.options.reward-econ.fidelity=0.5"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let msg = text(&out);
    assert!(
        msg.contains("[plugins.options.reward-econ]")
            && msg.contains("no option `fidelity`")
            && msg.contains("fidelity_share"),
        "{msg}"
    );
}

/// A log folder that holds files but no run.json is refused (exit 2) unless
/// --force; no run file is written through a symbolic link planted in the
/// folder; a run refused at start leaves no folder it made behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_folders_cannot_be_turned_against_their_owner() {
    let s = Setup::new(Duration::ZERO, "").await;
    let mine = s.path("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("notes.txt"), "my notes").unwrap();
    let args = [
        "run",
        "--train-eps",
        "1",
        "--test-eps",
        "1",
        "--log-dir",
        "mine",
    ];
    let refused = s.econ_host(&args).await;
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains("holds files but no run.json (notes.txt)"),
        "{}",
        text(&refused)
    );
    assert_eq!(
        std::fs::read_to_string(mine.join("notes.txt")).unwrap(),
        "my notes"
    );

    let precious = s.path("precious");
    std::fs::write(&precious, "keep").unwrap();
    std::os::unix::fs::symlink(&precious, mine.join("traces_train_bne.jsonl")).unwrap();
    let forced = s.econ_host(&[&args[..], &["--force"]].concat()).await;
    assert!(!forced.status.success(), "{}", text(&forced));
    assert!(
        text(&forced).contains("is a symbolic link"),
        "{}",
        text(&forced)
    );
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep");

    let out = Command::new(common::binary())
        .args(["run", "--config", "config.toml", "--train-eps", "1"])
        .args(["--set", "plugins.reward=\"no-such-reward\""])
        .current_dir(s.dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let left: Vec<_> = std::fs::read_dir(s.path("runs")).unwrap().collect();
    assert!(left.is_empty(), "a refused run left {left:?}");
}
