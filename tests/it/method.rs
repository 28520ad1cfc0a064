//! The method as shipped: every network group learns in every shipped config
//! (or the config says why not), and every deviation from the reference
//! that docs/deviations.md lists is a real switch that configs/p0-reference.toml
//! sets to the reference's value.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use econ_host::config::Config;
use serde_json::Value;

/// Every config file the project ships (the model catalogue aside).
fn shipped_configs() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(common::repo_root().join("configs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .filter(|p| p.file_name().is_some_and(|n| n != "models.toml"))
        .collect();
    out.sort();
    assert!(out.len() >= 8, "{out:?}");
    out
}

/// A config's value at a dotted key, as JSON (`plugins.options.X.Y` too).
fn value_at(config: &Config, key: &str) -> Option<Value> {
    let mut v = serde_json::to_value(config).unwrap();
    for part in key.split('.') {
        v = v.get(part)?.clone();
    }
    Some(v)
}

/// The network groups the learner steps, as metrics.jsonl names them.
const GROUPS: [&str; 5] = ["belief_net", "action", "encoder", "refine", "mixer"];

/// `config` with its LLM roles replaced by `roles` (provider and model, the
/// servers' keys dropped), the response cache off and `embedding` as the
/// encoder, written into `dir` (the dataset paths made absolute).
fn rewired(config: &Path, dir: &Path, roles: [(&str, &str); 2], embedding: toml::Table) -> PathBuf {
    let mut t: toml::Table = toml::from_str(&std::fs::read_to_string(config).unwrap()).unwrap();
    let llm = t["llm"].as_table_mut().unwrap();
    for (role, (provider, model)) in ["coordinator", "executor"].into_iter().zip(roles) {
        let r = llm[role].as_table_mut().unwrap();
        for key in [
            "base_url",
            "base_urls",
            "api_key_env",
            "concurrency",
            "timeout_s",
        ] {
            r.remove(key);
        }
        r.insert("provider".into(), provider.into());
        r.insert("model".into(), model.into());
    }
    llm.remove("cache");
    t.insert("embedding".into(), toml::Value::Table(embedding));
    let base = config.parent().unwrap();
    let dataset = t["dataset"].as_table_mut().unwrap();
    for key in ["path", "test_path"] {
        if let Some(toml::Value::String(p)) = dataset.get(key) {
            let abs = base.join(p).to_string_lossy().to_string();
            dataset.insert(key.into(), abs.into());
        }
    }
    std::fs::create_dir_all(dir).unwrap();
    let out = dir.join("config.toml");
    std::fs::write(&out, toml::to_string(&t).unwrap()).unwrap();
    out
}

/// A few training episodes of `config` in the simulated world (its own
/// networks and learner; the LLMs simulated, observations hashed), then the
/// largest gradient norm each group had over the updates.
fn gradient_norms(config: &Path, dir: &Path) -> Vec<(String, f64)> {
    let cfg = Config::load(config, &[]).unwrap();
    let mut hashed = toml::Table::new();
    hashed.insert("provider".into(), "hash".into());
    hashed.insert("dim".into(), (cfg.nets.obs_dim as i64).into());
    let sim = rewired(config, dir, [("sim", "sim"), ("sim", "sim")], hashed);
    let out = Command::new(common::binary())
        .arg("train")
        .arg("--config")
        .arg(&sim)
        .args(["--train-eps", "8", "--set", "runner.concurrency=1"])
        .arg("--log-dir")
        .arg(dir.join("logs"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}: {}",
        config.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(dir.join("logs/metrics.jsonl")).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!lines.is_empty(), "{}: no learner update", config.display());
    GROUPS
        .iter()
        .map(|g| {
            let key = format!("grad_norm_{g}");
            let max = lines
                .iter()
                .filter_map(|l| l[&key].as_f64())
                .fold(f64::NAN, f64::max);
            (g.to_string(), max)
        })
        .collect()
}

#[test]
fn every_network_group_learns_in_every_shipped_config() {
    let dir = tempfile::tempdir().unwrap();
    let mut report = Vec::new();
    for config in shipped_configs() {
        let cfg = Config::load(&config, &[]).unwrap();
        let name = config.file_name().unwrap().to_string_lossy().to_string();
        let norms = gradient_norms(&config, &dir.path().join(&name));
        for (group, norm) in &norms {
            let fixed = cfg.nets.fixed_groups.iter().any(|g| g == group);
            let absent = norm.is_nan();
            report.push(format!(
                "{name}: {group} {norm:.3e}{}",
                if fixed { " (fixed)" } else { "" }
            ));
            if fixed {
                continue;
            }
            // A group the config has no parameters for (the "none" mixer) is
            // not logged at all; any other must move.
            if absent {
                assert_eq!(
                    (group.as_str(), cfg.nets.mixer.kind.as_str()),
                    ("mixer", "none"),
                    "{name}: {group} was never updated"
                );
                continue;
            }
            assert!(
                *norm > 0.0,
                "{name}: {group} got no gradient in any update; list it in fixed_groups \
                 with the reason if that is on purpose\n{}",
                report.join("\n")
            );
        }
    }
    println!("{}", report.join("\n"));
}

/// The switches docs/deviations.md names: (key, the reference's value).
fn documented_switches() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(common::repo_root().join("docs/deviations.md")).unwrap();
    let section = text
        .split("## Deliberate differences")
        .nth(1)
        .expect("docs/deviations.md has its switch table")
        .split("\n## ")
        .next()
        .unwrap();
    let mut out = Vec::new();
    for line in section.lines().filter(|l| l.starts_with('|')) {
        let cols: Vec<&str> = line.split('|').map(str::trim).collect();
        // | reference | econ-host | switch (reference value) | why |
        let Some(switch) = cols.get(3) else { continue };
        for code in switch.split('`').skip(1).step_by(2) {
            if let Some((k, v)) = code.split_once(" = ") {
                out.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
    }
    out
}

#[test]
fn every_documented_deviation_is_a_switch_the_reference_arm_sets() {
    let root = common::repo_root();
    let switches = documented_switches();
    assert!(switches.len() >= 20, "{switches:?}");
    let reference = Config::load(&root.join("configs/p0-reference.toml"), &[]).unwrap();
    let default = Config::load(&root.join("configs/default.toml"), &[]).unwrap();
    for (key, value) in &switches {
        let wanted: Value = toml::from_str::<toml::Table>(&format!("v = {value}"))
            .map(|t| serde_json::to_value(&t["v"]).unwrap())
            .unwrap_or_else(|e| panic!("{key} = {value}: not a TOML value ({e})"));
        // The key exists: the default config takes it.
        let set = format!("{key}={value}");
        let with = Config::load(
            &root.join("configs/default.toml"),
            std::slice::from_ref(&set),
        )
        .unwrap_or_else(|e| panic!("--set {set}: {e:#}"));
        // The reference arm sets it to the reference's value ...
        assert_eq!(
            value_at(&reference, key).as_ref(),
            Some(&wanted),
            "configs/p0-reference.toml: {key}"
        );
        assert_eq!(value_at(&with, key).as_ref(), Some(&wanted), "--set {set}");
        // ... and it is a deviation: the default differs.
        assert_ne!(
            value_at(&default, key).as_ref(),
            Some(&wanted),
            "{key}: configs/default.toml already has the reference's value"
        );
    }
}

#[test]
fn the_default_learner_is_the_one_default_vllm_and_the_hard_world_run() {
    let root = common::repo_root();
    let learner = |file: &str| {
        let c = Config::load(&root.join("configs").join(file), &[]).unwrap();
        let mut v = serde_json::to_value(&c.nets).unwrap();
        // The world's: its dimensions and action bounds.
        for key in ["obs_dim", "commitment_embedding_dim", "n_agents"] {
            v.as_object_mut().unwrap().remove(key);
        }
        for key in ["temperature_min", "temperature_max", "p_min", "p_max"] {
            v["sampling"].as_object_mut().unwrap().remove(key);
        }
        v
    };
    let hard = learner("sim-hard.toml");
    assert_eq!(learner("default.toml"), hard, "configs/default.toml");
    assert_eq!(learner("vllm.toml"), hard, "configs/vllm.toml");
}

/// The reference arm end to end on a real model (the packaged SmolLM2 on
/// llama.cpp, all-MiniLM observations): it trains with the reference's
/// learner — every group moving — and tests in both of ECON's modes.
#[test]
fn the_reference_arm_runs_on_a_real_model() {
    let dir = tempfile::tempdir().unwrap();
    let root = common::repo_root();
    let mut minilm = toml::Table::new();
    minilm.insert("model".into(), "all-minilm-l6-v2".into());
    let config = rewired(
        &root.join("configs/p0-reference.toml"),
        &dir.path().join("config"),
        [("local", "smollm2-135m"), ("local", "smollm2-135m")],
        minilm,
    );
    let sets = [
        "llm.coordinator.max_tokens=48",
        "llm.executor.max_tokens=32",
        "obs_dim=384",
        "commitment_embedding_dim=384",
        "env.strategy_max_tokens=48",
        "bne.max_iterations_infer=1",
        "runner.concurrency=1",
    ];
    let logs = dir.path().join("logs");
    let out = Command::new(common::binary())
        .arg("run")
        .arg("--config")
        .arg(&config)
        .args(["--train-eps", "2", "--test-eps", "1", "--json"])
        .arg("--log-dir")
        .arg(&logs)
        .args(sets.iter().flat_map(|s| ["--set", s]))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value =
        serde_json::from_slice(&std::fs::read(logs.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["train"]["episodes"], 2);
    for mode in ["baseline", "bne"] {
        assert_eq!(summary["modes"][mode]["episodes"], 1, "{mode}");
    }
    let run: Value =
        serde_json::from_slice(&std::fs::read(logs.join("run.json")).unwrap()).unwrap();
    assert_eq!(run["config"]["train"]["credit"], "final");
    assert_eq!(run["config"]["mixer"]["kind"], "attention");
    // One update per episode (the reference's schedule), every group moving.
    let text = std::fs::read_to_string(logs.join("metrics.jsonl")).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    for g in GROUPS {
        let moved = lines.iter().any(|l| {
            l[format!("grad_norm_{g}")]
                .as_f64()
                .is_some_and(|n| n > 0.0)
        });
        assert!(moved, "{g}: {text}");
    }
}
