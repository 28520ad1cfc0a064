//! Each server in its own dialect, through the real binary against the
//! project's OpenAI-compatible test server: a server that refuses the
//! repetition penalty, a dialect that has none, and a request refused for
//! good (tests/it/llama_server.rs does the same against a real llama-server).

use crate::common;
use crate::common::arith_job::{arithmetic_model, json_file, text, traces, write_job_with};
use crate::common::openai_server::{Reply, Server};

use std::process::{Command, Output};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// `run` of the arithmetic job in `dir` (2 training episodes, 1 test problem).
fn run(dir: &std::path::Path, extra: &[&str]) -> Output {
    Command::new(common::binary())
        .args([
            "run",
            "--train-eps",
            "2",
            "--test-eps",
            "1",
            "--log-dir",
            "logs",
        ])
        .arg("--config")
        .arg(dir.join("config.toml"))
        .args(extra.iter().flat_map(|s| ["--set", s]))
        .current_dir(dir)
        .output()
        .unwrap()
}

/// OpenAI's API answers an unknown field with 400 "Unrecognized request
/// argument supplied". Against such a server of unknown kind the client
/// drops the repetition penalty once, says so, records it in run.json, and
/// the run goes on — nothing is sent twice more than once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strict_servers_refusal_of_the_penalty_is_adapted_to_said_and_recorded() {
    let server = Server::start(Duration::ZERO).await;
    server.set_default(arithmetic_model());
    server.state.strict.store(true, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    write_job_with(dir.path(), &server.base_url(), "", "");
    let out = tokio::task::spawn_blocking({
        let d = dir.path().to_path_buf();
        move || run(&d, &[])
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("refused `repetition_penalty`"),
        "{}",
        text(&out)
    );
    let run_json = json_file(&dir.path().join("logs/run.json"));
    let executor = &run_json["llm_dialects"]["executor"];
    assert_eq!(executor["dialect"], "generic", "{executor}");
    assert_eq!(executor["dropped"][0], "repetition_penalty", "{executor}");
    // Every request after the refusals went without the field.
    let bodies = server.state.bodies.lock().unwrap().clone();
    let with: Vec<_> = bodies
        .iter()
        .filter(|b| b.get("repetition_penalty").is_some())
        .collect();
    // One refusal per role, and the executors' requests already in flight.
    assert!(with.len() <= 1 + 3, "{} requests held it", with.len());
    assert!(bodies.len() > 10);
}

/// A dialect without a repetition penalty (OpenAI): said before the first
/// episode, held at its neutral value in every request and trace, recorded;
/// with `llm.unreachable_actions = "stop"` the run is refused before any call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_action_the_server_cannot_receive_is_said_and_held_or_refused() {
    let server = Server::start(Duration::ZERO).await;
    server.set_default(arithmetic_model());
    let dir = tempfile::tempdir().unwrap();
    write_job_with(dir.path(), &server.base_url(), "dialect = \"openai\"", "");
    let d = dir.path().to_path_buf();
    let refused = tokio::task::spawn_blocking({
        let d = d.clone();
        move || run(&d, &["llm.unreachable_actions=stop"])
    })
    .await
    .unwrap();
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains("cannot receive the repetition penalty")
            && text(&refused).contains("llm.unreachable_actions"),
        "{}",
        text(&refused)
    );
    assert_eq!(server.requests(), 0, "nothing is sent before the refusal");
    std::fs::remove_dir_all(d.join("logs")).ok();

    let out = tokio::task::spawn_blocking(move || run(&d, &[]))
        .await
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("held at 1"), "{stderr}");
    // The executors' role is the one configured as OpenAI (the coordinator
    // stays on the generic dialect).
    let bodies = server.state.bodies.lock().unwrap().clone();
    let executors: Vec<_> = bodies
        .iter()
        .filter(|b| b["model"] == "scripted-executor")
        .collect();
    assert!(!executors.is_empty());
    for b in &executors {
        assert!(b.get("repetition_penalty").is_none(), "{b}");
        assert!(
            b.get("max_tokens").is_none() && b.get("max_completion_tokens").is_some(),
            "{b}"
        );
    }
    let run_json = json_file(&dir.path().join("logs/run.json"));
    assert_eq!(run_json["llm_dialects"]["executor"]["dialect"], "openai");
    assert!(run_json["llm_dialects"]["executor"]["fields"]["repetition_penalty"].is_null());
    assert!(
        run_json["fixed_actions"]
            .as_str()
            .unwrap()
            .contains("repetition_penalty")
    );
    // What the learner and the traces see is what was asked: p = 1.
    for t in traces(&dir.path().join("logs/traces_train_bne.jsonl")) {
        for round in t["steps"][0]["rounds"].as_array().unwrap() {
            for e in round["executors"].as_array().unwrap() {
                assert_eq!(e["repetition_penalty"], 1.0, "{e}");
            }
        }
    }
}

/// A request the server refuses for good (here the model is unknown: 404)
/// stops the run at once with exit 2 and the server's words — no episode
/// sent again, no `--resume` advice, since resuming cannot help. Credentials
/// in the server's URL show nowhere: not in the error, run.json or summary.json.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_request_stops_the_run_at_once_with_exit_2() {
    let server = Server::start(Duration::ZERO).await;
    let body = r#"{"error": {"message": "The model `gpt-5-nano-typo` does not exist"}}"#;
    server.set_default(Reply::Raw(404, body.into()));
    let dir = tempfile::tempdir().unwrap();
    let url = server.base_url().replace("http://", "http://alice:s3cret@");
    write_job_with(dir.path(), &url, "", "");
    let d = dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || run(&d, &[]))
        .await
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("does not exist") && t.contains("HTTP 404"),
        "{t}"
    );
    assert!(!t.contains("--resume"), "{t}");
    // The first request (the first strategy) is the only one.
    assert_eq!(server.requests(), 1, "{t}");
    assert!(!t.contains("s3cret") && t.contains("***"), "{t}");
    for file in ["run.json", "summary.json"] {
        let text = std::fs::read_to_string(dir.path().join("logs").join(file)).unwrap_or_default();
        assert!(!text.contains("s3cret"), "{file}: {text}");
    }
}
