//! The real binary: exit codes, messages, and the main job on a real model.

use crate::common::{self, text};

use std::process::{Command, Output};

fn econ_host(args: &[&str]) -> Output {
    Command::new(common::binary())
        .args(args)
        .current_dir(common::repo_root())
        .output()
        .expect("running econ-host")
}

#[test]
fn plugins_list_shows_every_kind_with_its_source() {
    let out = econ_host(&["plugins", "list", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let plugins = v["plugins"].as_array().unwrap();
    let kinds: std::collections::BTreeSet<&str> = plugins
        .iter()
        .map(|p| p["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        [
            "answer-parser",
            "dataset-adapter",
            "prompt-template",
            "reward"
        ]
    );
    for p in plugins {
        assert_eq!(p["wit_version"], econ_host::plugins::WIT_VERSION);
        assert!(p["file"].as_str().unwrap().ends_with(".wasm"));
    }
    // Each plugin's declared options, e.g. the prompt template's `system`.
    let prompts = plugins
        .iter()
        .find(|p| p["name"] == "prompts-econ")
        .unwrap();
    assert_eq!(prompts["options"][0]["name"], "system");
    assert_eq!(prompts["options"][0]["kind"], "text");
    let out = econ_host(&["plugins", "list"]);
    let t = text(&out);
    assert!(
        t.contains("option fidelity_share (number, default 0.7)"),
        "{t}"
    );
}

#[test]
fn plugins_check_accepts_a_plugin_and_rejects_garbage_with_exit_2() {
    let good = common::plugin_dir().join("reward-econ.wasm");
    let out = econ_host(&["plugins", "check", good.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains(&format!(
            "econ:plugins/reward@{}",
            econ_host::plugins::WIT_VERSION
        )) && t.contains("option   fidelity_share (number"),
        "{t}"
    );

    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("random.wasm");
    std::fs::write(
        &garbage,
        (0..4096u32)
            .map(|i| (i * 7919 % 251) as u8)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let out = econ_host(&["plugins", "check", garbage.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("random.wasm"));

    for (name, expected) in [
        ("test-wrong-world", "implements none of the worlds"),
        ("test-future-wit", "serves econ:plugins 0.1.x, 0.2.x"),
    ] {
        let file = common::test_plugin(name);
        let out = econ_host(&["plugins", "check", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(text(&out).contains(expected), "{}", text(&out));
    }
}

#[test]
fn plugins_dir_overrides_a_builtin() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        common::plugin_dir().join("parser-boxed.wasm"),
        dir.path().join("parser-boxed.wasm"),
    )
    .unwrap();
    let out = econ_host(&["--plugins", dir.path().to_str().unwrap(), "plugins", "list"]);
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("(overridden) parser-boxed"), "{t}");

    let out = econ_host(&["--plugins", "/no/such/folder", "plugins", "list"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("/no/such/folder"));
}

#[test]
fn a_bad_config_exits_2_naming_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(
        &cfg,
        "n_agents = 0\n[llm.coordinator]\nprovider='local'\nmodel='x'\n[llm.executor]\nprovider='local'\nmodel='x'\n[dataset]\nadapter='a'\npath='p'\n",
    )
    .unwrap();
    let out = econ_host(&["run", "--config", cfg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("bad.toml") && t.contains("n_agents"), "{t}");

    let out = econ_host(&[
        "run",
        "--config",
        "configs/default.toml",
        "--set",
        "sampling.top_p_default=2",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("sampling.top_p_default"));

    std::fs::write(&cfg, "n_agents = 3\nnot valid toml [").unwrap();
    let out = econ_host(&["run", "--config", cfg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("line"), "{}", text(&out));
}

/// The main job end to end on the tiny packaged model: real plugins, real
/// llama.cpp decoding, real networks; one training and one test episode.
#[test]
fn run_on_the_embedded_model_trains_tests_and_writes_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let models = dir.path().join("models");
    let out = econ_host(&[
        "run",
        "--config",
        "configs/default.toml",
        "--train-eps",
        "1",
        "--test-eps",
        "1",
        "--log-dir",
        logs.to_str().unwrap(),
        "--model-dir",
        models.to_str().unwrap(),
        "--set",
        "llm.coordinator.model=smollm2-135m",
        "--set",
        "llm.executor.model=smollm2-135m",
        "--set",
        "llm.executor.max_tokens=32",
        "--set",
        "llm.coordinator.max_tokens=48",
        "--set",
        "n_agents=2",
        "--set",
        "bne.max_iterations_infer=1",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("Baseline (no BNE): ") && t.contains("BNE (up to 1 rounds, "),
        "{t}"
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(logs.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["train"]["episodes"], 1);
    for mode in ["baseline", "bne"] {
        let m = &summary["modes"][mode];
        assert_eq!(m["episodes"], 1, "{mode}");
        assert!(m["tokens"]["completion"].as_u64().unwrap() > 0, "{mode}");
    }
    let trace: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(logs.join("traces_test_bne.jsonl"))
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        trace["steps"][0]["rounds"][0]["executors"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert!(!trace["strategy"].as_str().unwrap().is_empty());
    // Which model served each role, with the file's sha256 (run.json has it whole).
    let run: serde_json::Value =
        serde_json::from_slice(&std::fs::read(logs.join("run.json")).unwrap()).unwrap();
    let gguf = run["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["role"] == "llm.coordinator.model")
        .unwrap();
    let sha = &gguf["sha256"].as_str().unwrap()[..16];
    for (i, role) in ["coordinator", "executor"].iter().enumerate() {
        let label = trace["models"][i].as_str().unwrap();
        assert!(
            label.starts_with(&format!("{role}=")) && label.ends_with(&format!("sha256:{sha}")),
            "{label}"
        );
    }
    assert!(models.join("final/model.safetensors").is_file());
}

#[test]
fn a_missing_or_corrupt_model_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("fake.gguf");
    std::fs::write(&fake, b"definitely not a model").unwrap();
    let set = format!("llm.executor.model={}", fake.display());
    let logs = dir.path().join("logs");
    let out = econ_host(&[
        "run",
        "--config",
        "configs/default.toml",
        "--test-eps",
        "1",
        "--log-dir",
        logs.to_str().unwrap(),
        "--set",
        "llm.coordinator.model=smollm2-135m",
        "--set",
        &set,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("not a GGUF file") && text(&out).contains("fake.gguf"),
        "{}",
        text(&out)
    );
}

#[test]
fn completions_generate_for_bash_zsh_and_fish() {
    for shell in ["bash", "zsh", "fish"] {
        let out = econ_host(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", text(&out));
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(
            script.contains("econ-host")
                && script.contains("curve")
                && script.contains("train-eps"),
            "{shell}: {script}"
        );
    }
    let out = econ_host(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}
