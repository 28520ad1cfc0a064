//! The comparison modes (cot, sc, debate) end to end: the real binary against
//! a local OpenAI-compatible server whose agents disagree in a known way, so
//! that the majority vote and the debate have known answers.

use crate::common;
use crate::common::arith_job;
use crate::common::openai_server;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arith_job::{N_AGENTS, json_file, question_numbers, text, traces, write_job_with};
use openai_server::{Reply, Scripted, Server};
use serde_json::Value;

const SC_SAMPLES: u64 = 4;
const DEBATE_AGENTS: u64 = 3;
const DEBATE_ROUNDS: u64 = 2;
/// USD per million executor tokens in the test config (the coordinator is free).
const PRICE_PROMPT: f64 = 0.5;
const PRICE_COMPLETION: f64 = 1.5;

fn boxed_numbers(text: &str) -> Vec<i64> {
    text.split("\\boxed{")
        .skip(1)
        .filter_map(|part| part.split('}').next()?.parse().ok())
        .collect()
}

fn solution(a: i64, b: i64, sum: i64) -> String {
    format!("Add {a} and {b}: {a} + {b} = {sum}.\n\\boxed{{{sum}}}")
}

const UNSURE: &str = "I am not sure how to solve this.";

/// The scripted model.
///
/// ECON stages as in tests/runner.rs: a strategy without numbers, executors
/// that add the two numbers (one too many when hotter than T = 1.0), a JSON
/// commitment with the executors' majority.
///
/// Comparison modes (prompts with "Think step by step"): greedy (T = 0) is
/// always right. Sampled, the k-th request with the same prompt and
/// temperature answers right, wrong (sum + 1), unsure (no number), wrong, ...
/// (k mod 4), so that the sample multiset — not the arrival order — is fixed:
/// 4 self-consistency samples vote 2 wrong : 1 right (1 does not vote), and a
/// debate's first round holds one right, one wrong and one unsure answer. In
/// later debate rounds an agent takes the smallest answer it was shown
/// (its own and the others'), which is the right one.
fn model() -> Reply {
    let seen: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    Reply::Model(Scripted(Arc::new(move |body: &Value| {
        let text: String = body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["content"].as_str().unwrap_or("").to_string())
            .collect::<Vec<_>>()
            .join("\n");
        let t = body["temperature"].as_f64().unwrap_or(0.0);
        if text.contains("STRATEGY") {
            return "1. Identify the two quantities.\n2. Add them.\n3. Check the sum.".into();
        }
        if text.contains("Output JSON only") {
            let mut votes: BTreeMap<i64, usize> = BTreeMap::new();
            for v in boxed_numbers(&text) {
                *votes.entry(v).or_default() += 1;
            }
            let best = votes
                .iter()
                .max_by_key(|(v, c)| (**c, -**v))
                .map(|(v, _)| *v)
                .unwrap_or(0);
            return format!(
                r#"{{"final_value": "{best}", "reasoning": "majority", "confidence": 0.9, "checklist": {{"all_agree": true, "arithmetic_verified": true, "units_correct": true}}}}"#
            );
        }
        let (a, b) = question_numbers(&text);
        if !text.contains("Think step by step") {
            // ECON's executor.
            return solution(a, b, a + b + i64::from(t > 1.0));
        }
        if let Some(at) = text.find("Your previous solution:") {
            // The solutions shown, not the instructions' example box.
            let end = text.find("Using the reasoning").unwrap_or(text.len());
            let shown = boxed_numbers(&text[at..end]);
            let pick = shown.into_iter().min().unwrap_or(0);
            return solution(a, b, pick);
        }
        if t == 0.0 {
            return solution(a, b, a + b);
        }
        let k = {
            let mut seen = seen.lock().unwrap();
            let n = seen.entry(format!("{t}|{text}")).or_default();
            *n += 1;
            *n - 1
        };
        match k % 4 {
            0 => solution(a, b, a + b),
            2 => UNSURE.into(),
            _ => solution(a, b, a + b + 1),
        }
    })))
}

struct Setup {
    dir: tempfile::TempDir,
    server: Server,
}

impl Setup {
    async fn new() -> Setup {
        let server = Server::start(Duration::ZERO).await;
        server.set_default(model());
        let dir = tempfile::tempdir().unwrap();
        let prices = format!(
            "price_prompt_per_mtok = {PRICE_PROMPT}\nprice_completion_per_mtok = {PRICE_COMPLETION}"
        );
        let baselines = format!(
            "\n[baselines]\ncot_temperature = 0.0\nsc_samples = {SC_SAMPLES}\nsc_temperature = 0.7\n\
             debate_agents = {DEBATE_AGENTS}\ndebate_rounds = {DEBATE_ROUNDS}\ndebate_temperature = 0.9\n"
        );
        write_job_with(dir.path(), &server.base_url(), &prices, &baselines);
        Setup { dir, server }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `run` with every test mode into logs/ (models in models/); must succeed.
    async fn run_all_modes(&self, train_eps: u32, test_eps: u32) -> Output {
        let (train, test) = (train_eps.to_string(), test_eps.to_string());
        let out = self
            .econ_host(&[
                "run",
                "--train-eps",
                &train,
                "--test-eps",
                &test,
                "--modes",
                "all",
                "--log-dir",
                "logs",
                "--model-dir",
                "models",
            ])
            .await;
        assert!(out.status.success(), "{}", text(&out));
        out
    }

    async fn econ_host(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(common::binary());
        cmd.args(args).current_dir(self.dir.path());
        if args[0] != "report" {
            cmd.arg("--config").arg(self.path("config.toml"));
            if !args.contains(&"--log-dir") {
                cmd.args(["--log-dir", "logs"]);
            }
        }
        tokio::task::spawn_blocking(move || cmd.output().expect("running econ-host"))
            .await
            .unwrap()
    }
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a u64: {v}"))
}

/// Token, call and cost sums in summary.json equal the sums over the traces.
fn check_accounting(summary: &Value, mode: &str, traces: &[Value]) {
    let s = &summary["modes"][mode];
    assert_eq!(u(&s["episodes"]), traces.len() as u64, "{mode}");
    let correct = traces.iter().filter(|t| t["correct"] == true).count() as u64;
    assert_eq!(u(&s["correct"]), correct, "{mode}");
    let mut prompt = 0;
    let mut completion = 0;
    for role in ["coordinator", "executor"] {
        let sum_p: u64 = traces.iter().map(|t| u(&t["tokens"][role]["prompt"])).sum();
        let sum_c: u64 = traces
            .iter()
            .map(|t| u(&t["tokens"][role]["completion"]))
            .sum();
        assert_eq!(
            u(&s["tokens"]["by_role"][role]["prompt"]),
            sum_p,
            "{mode} {role}"
        );
        assert_eq!(
            u(&s["tokens"]["by_role"][role]["completion"]),
            sum_c,
            "{mode} {role}"
        );
        let calls: u64 = traces.iter().map(|t| u(&t["calls"][role])).sum();
        assert_eq!(u(&s["calls"][role]), calls, "{mode} {role} calls");
        prompt += sum_p;
        completion += sum_c;
    }
    assert_eq!(u(&s["tokens"]["prompt"]), prompt, "{mode}");
    assert_eq!(u(&s["tokens"]["completion"]), completion, "{mode}");
    let per_episode = s["tokens"]["per_episode"].as_f64().unwrap();
    assert!((per_episode - (prompt + completion) as f64 / traces.len() as f64).abs() < 1e-9);
    // Cost: the executor's tokens at its prices (the coordinator has none).
    let mut total = 0.0;
    for t in traces {
        let e = &t["tokens"]["executor"];
        let want = (u(&e["prompt"]) as f64 * PRICE_PROMPT
            + u(&e["completion"]) as f64 * PRICE_COMPLETION)
            / 1e6;
        let got = t["cost_usd"].as_f64().expect("cost_usd with prices");
        assert!((got - want).abs() < 1e-12, "{mode}: {got} vs {want}");
        total += got;
    }
    assert!(
        (s["cost_usd"].as_f64().unwrap() - total).abs() < 1e-9,
        "{mode}"
    );
    let calls: u64 = traces
        .iter()
        .map(|t| u(&t["calls"]["executor"]) + u(&t["calls"]["coordinator"]))
        .sum();
    assert!(
        (s["calls_per_episode"].as_f64().unwrap() - calls as f64 / traces.len() as f64).abs()
            < 1e-9
    );
}

fn reference(t: &Value) -> i64 {
    let (a, b) = question_numbers(t["question"].as_str().unwrap());
    assert_eq!(
        t["reference"].as_str().unwrap().parse::<i64>().unwrap(),
        a + b
    );
    a + b
}

fn answers(round: &Value) -> Vec<Option<i64>> {
    round
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["answer"].as_str().map(|a| a.parse().unwrap()))
        .collect()
}

fn sorted(mut v: Vec<Option<i64>>) -> Vec<Option<i64>> {
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cot_sc_and_debate_give_the_known_answers_with_exact_accounting() {
    let s = Setup::new().await;
    // No checkpoint: the comparison modes do not use the networks.
    let out = s
        .econ_host(&[
            "test",
            "--mode",
            "cot,sc,debate",
            "--test-eps",
            "3",
            "--log-dir",
            "logs",
        ])
        .await;
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Chain of thought (1 call): 3/3 = 100.0%"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Self-consistency (4 samples): 0/3 = 0.0%"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Debate (3 agents, 2 rounds): 3/3 = 100.0%"),
        "{stdout}"
    );
    assert!(stdout.contains("calls/episode"), "{stdout}");
    assert!(stdout.contains("/episode]"), "{stdout}");

    let summary = json_file(&s.path("logs/summary.json"));
    let cot = traces(&s.path("logs/traces_test_cot.jsonl"));
    let sc = traces(&s.path("logs/traces_test_sc.jsonl"));
    let debate = traces(&s.path("logs/traces_test_debate.jsonl"));
    for (mode, ts) in [("cot", &cot), ("sc", &sc), ("debate", &debate)] {
        assert_eq!(ts.len(), 3);
        check_accounting(&summary, mode, ts);
        for (i, t) in ts.iter().enumerate() {
            assert_eq!(t["mode"], mode);
            assert_eq!(u(&t["episode"]), i as u64 + 1);
            assert_eq!(u(&t["calls"]["coordinator"]), 0, "{mode}: no coordinator");
            assert_eq!(u(&t["tokens"]["coordinator"]["prompt"]), 0);
            assert!(t["steps"].as_array().unwrap().is_empty());
            // Every call's text and tokens are in the trace.
            let rounds = t["baseline"]["rounds"].as_array().unwrap();
            let mut prompt = 0;
            for round in rounds {
                for call in round.as_array().unwrap() {
                    assert!(!call["output"].as_str().unwrap().is_empty());
                    prompt += u(&call["tokens"]["prompt"]);
                }
            }
            assert_eq!(u(&t["tokens"]["executor"]["prompt"]), prompt, "{mode}");
            let calls: u64 = rounds
                .iter()
                .map(|r| r.as_array().unwrap().len() as u64)
                .sum();
            assert_eq!(u(&t["calls"]["executor"]), calls, "{mode}");
        }
    }
    // The same problems in every mode.
    let ids = |ts: &[Value]| ts.iter().map(|t| t["id"].clone()).collect::<Vec<_>>();
    assert_eq!(ids(&cot), ids(&sc));
    assert_eq!(ids(&cot), ids(&debate));

    for t in &cot {
        let r = reference(t);
        assert_eq!(u(&t["calls"]["executor"]), 1);
        assert_eq!(t["final_answer"], r.to_string());
        assert_eq!(t["correct"], true);
        assert_eq!(t["baseline"]["rounds"][0][0]["temperature"], 0.0);
        assert_eq!(t["parse_method"], "boxed");
    }
    for t in &sc {
        let r = reference(t);
        assert_eq!(u(&t["calls"]["executor"]), SC_SAMPLES);
        let round = &t["baseline"]["rounds"][0];
        assert_eq!(
            sorted(answers(round)),
            vec![None, Some(r), Some(r + 1), Some(r + 1)]
        );
        // The unparsed sample does not vote; the majority is wrong.
        let votes: BTreeMap<String, u64> = t["baseline"]["votes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| (v["answer"].as_str().unwrap().to_string(), u(&v["count"])))
            .collect();
        assert_eq!(
            votes,
            BTreeMap::from([(r.to_string(), 1), ((r + 1).to_string(), 2)])
        );
        assert_eq!(t["final_answer"], (r + 1).to_string());
        assert_eq!(t["correct"], false);
        assert!((round[0]["temperature"].as_f64().unwrap() - 0.7).abs() < 1e-6);
    }
    for t in &debate {
        let r = reference(t);
        assert_eq!(u(&t["calls"]["executor"]), DEBATE_AGENTS * DEBATE_ROUNDS);
        let rounds = t["baseline"]["rounds"].as_array().unwrap();
        assert_eq!(rounds.len() as u64, DEBATE_ROUNDS);
        assert_eq!(
            sorted(answers(&rounds[0])),
            vec![None, Some(r), Some(r + 1)]
        );
        // Seeing the others' answers, every agent settles on the right one.
        assert_eq!(answers(&rounds[1]), vec![Some(r); DEBATE_AGENTS as usize]);
        assert_eq!(t["final_answer"], r.to_string());
        assert_eq!(t["correct"], true);
    }
    // Debate's second round shows each agent the others' first answers.
    let bodies = s.server.state.bodies.lock().unwrap().clone();
    let later: Vec<&Value> = bodies
        .iter()
        .filter(|b| {
            b.to_string()
                .contains("solutions to the problem from the other agents")
        })
        .collect();
    assert_eq!(later.len() as u64, 3 * DEBATE_AGENTS * (DEBATE_ROUNDS - 1));
    // Every request the server saw is in a trace.
    let all: u64 = cot
        .iter()
        .chain(&sc)
        .chain(&debate)
        .map(|t| u(&t["calls"]["executor"]))
        .sum();
    assert_eq!(s.server.requests() as u64, all);

    // ECON's modes still need a checkpoint.
    let out = s
        .econ_host(&["test", "--mode", "bne", "--log-dir", "logs"])
        .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("needs --checkpoint"), "{}", text(&out));
    // `all` (the default) without one runs the modes that need none and says
    // which it left out.
    let before = s.server.requests();
    let out = s
        .econ_host(&["test", "--test-eps", "1", "--log-dir", "logs-all"])
        .await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("leaving out baseline, bne"),
        "{}",
        text(&out)
    );
    assert!(s.path("logs-all/traces_test_debate.jsonl").is_file());
    assert!(!s.path("logs-all/traces_test_bne.jsonl").exists());
    assert!(s.server.requests() > before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_with_every_mode_then_report() {
    let s = Setup::new().await;
    let out = s.run_all_modes(2, 2).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in [
        "Baseline (no BNE): ",
        "BNE (up to 3 rounds, ",
        "Executors' majority (no commitment): ",
        "Chain of thought (1 call): ",
        "Self-consistency (4 samples): ",
        "Debate (3 agents, 2 rounds): ",
    ] {
        assert!(stdout.contains(line), "{line}: {stdout}");
    }
    let summary = json_file(&s.path("logs/summary.json"));
    for mode in ["baseline", "bne", "majority", "cot", "sc", "debate"] {
        let ts = traces(&s.path(&format!("logs/traces_test_{mode}.jsonl")));
        check_accounting(&summary, mode, &ts);
    }
    // The majority control: the strategy, the executors, no commitment.
    for t in traces(&s.path("logs/traces_test_majority.jsonl")) {
        assert_eq!(u(&t["calls"]["coordinator"]), 1);
        assert_eq!(u(&t["calls"]["executor"]), N_AGENTS as u64);
        assert_eq!(t["parse_method"], "majority", "{t}");
    }
    // ECON's modes report what the commitment did with the executors' answers.
    for mode in ["baseline", "bne", "majority"] {
        let c = &summary["modes"][mode]["consensus"];
        for key in [
            "majority_accuracy",
            "any_executor_correct_rate",
            "overrode_right_majority",
        ] {
            assert!(c[key].is_number(), "{mode}: {key} in {c}");
        }
        // The majority control's answer is the majority.
        if mode == "majority" {
            assert_eq!(c["overrode_right_majority"], 0);
            assert_eq!(c["rescued_wrong_majority"], 0);
        }
    }
    // ECON: a strategy, then per round n executors and a commitment.
    for t in traces(&s.path("logs/traces_test_baseline.jsonl")) {
        assert_eq!(u(&t["calls"]["coordinator"]), 2);
        assert_eq!(u(&t["calls"]["executor"]), N_AGENTS as u64);
    }
    for t in traces(&s.path("logs/traces_test_bne.jsonl")) {
        let rounds = t["steps"][0]["rounds"].as_array().unwrap().len() as u64;
        assert_eq!(u(&t["calls"]["coordinator"]), 1 + rounds);
        assert_eq!(u(&t["calls"]["executor"]), N_AGENTS as u64 * rounds);
    }
    // The train summary counts calls too.
    assert!(u(&summary["train"]["calls"]["coordinator"]) >= 4);

    let out = s.econ_host(&["report", "logs"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let html = std::fs::read_to_string(s.path("logs/report.html")).unwrap();
    for id in [
        "accuracy",
        "pareto",
        "cost",
        "bne",
        "training",
        "agreement",
        "significance",
    ] {
        assert!(html.contains(&format!("<section id=\"{id}\">")), "{id}");
    }
    for mode in ["baseline", "bne", "majority", "cot", "sc", "debate"] {
        assert!(html.contains(mode));
    }
    assert!(html.contains("Executors' majority and the commitment"));
}

/// Regenerates tests/fixtures/report-logs with the real binary against the
/// scripted server: `cargo test --release --workspace --test baselines --
/// --ignored regenerate_report_fixture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes tests/fixtures/report-logs"]
async fn regenerate_report_fixture() {
    let s = Setup::new().await;
    s.run_all_modes(4, 3).await;
    let fixture = common::repo_root().join("tests/fixtures/report-logs");
    let _ = std::fs::remove_dir_all(&fixture);
    std::fs::create_dir_all(&fixture).unwrap();
    for entry in std::fs::read_dir(s.path("logs")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".jsonl") || name == "summary.json" {
            // No machine-specific paths or ports in the committed files.
            let text = std::fs::read_to_string(&path)
                .unwrap()
                .replace(&s.server.base_url(), "http://127.0.0.1:8000/v1")
                .replace(&*s.dir.path().to_string_lossy(), "/tmp/report-fixture");
            std::fs::write(fixture.join(&name), text).unwrap();
        }
    }
}

/// Self-consistency's samples and debate's first round ask the same prompt
/// at the same temperature; each mode draws its own seeds, so no request is
/// sent twice (debate is not sc plus a round).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sc_and_debate_send_no_identical_request() {
    let server = Server::start(Duration::ZERO).await;
    server.set_default(model());
    let dir = tempfile::tempdir().unwrap();
    let same = "\n[baselines]\nsc_samples = 3\nsc_temperature = 0.7\ndebate_agents = 3\n\
                debate_rounds = 2\ndebate_temperature = 0.7\n";
    write_job_with(dir.path(), &server.base_url(), "", same);
    let out = Command::new(common::binary())
        .args([
            "test",
            "--mode",
            "sc,debate",
            "--test-eps",
            "4",
            "--log-dir",
            "logs",
        ])
        .arg("--config")
        .arg(dir.path().join("config.toml"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let bodies = server.state.bodies.lock().unwrap().clone();
    // 4 problems: sc 3 calls, debate 3 + 3.
    assert_eq!(bodies.len(), 4 * 9, "{}", text(&out));
    let mut seen = std::collections::HashSet::new();
    for b in &bodies {
        let key = (
            b["messages"].to_string(),
            b["seed"].to_string(),
            b["temperature"].to_string(),
        );
        assert!(seen.insert(key), "sent twice: {b}");
    }
}
