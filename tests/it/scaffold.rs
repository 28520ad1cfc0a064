//! Writing plugins: `econ-host plugins new` for every kind -> its unit tests
//! pass -> `cargo build --target wasm32-wasip2` -> `plugins check` -> the
//! registry loads it from `--plugins DIR` and its example answers a real call;
//! and the Python example (componentize-py) in the unchanged host.

use crate::common::{self, text};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use econ_host::plugins::{
    Limits, PluginEngine, PluginKind, PluginRegistry, dataset_adapter::RawRecord,
    prompt_template::PromptContext, reward,
};

const KINDS: [(&str, &str); 4] = [
    ("reward", "my-reward"),
    ("dataset-adapter", "my-adapter"),
    ("prompt-template", "my-prompts"),
    ("answer-parser", "my-parser"),
];

fn econ_host(args: &[&str], cwd: &Path) -> Output {
    Command::new(common::binary())
        .args(args)
        .current_dir(cwd)
        // The projects get this host's WIT, whatever registry the developer set.
        .env_remove("ECON_HOST_WIT")
        .output()
        .expect("running econ-host")
}

/// The cargo running these tests (same toolchain), in a scaffolded crate,
/// with a build folder shared by every run of this test (warm after the
/// first) and no network: the SDK's dependencies are the workspace's, already
/// in cargo's cache.
fn cargo(crate_dir: &Path, args: &[&str]) -> Output {
    let target = common::binary()
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("scaffold-test");
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .args(["--release", "--offline", "--quiet"])
        .current_dir(crate_dir)
        .env("CARGO_TARGET_DIR", target)
        .env("CARGO_TERM_COLOR", "never")
        .output()
        .expect("running cargo")
}

fn wasm_of(target: &Path, name: &str) -> PathBuf {
    target
        .join("wasm32-wasip2/release")
        .join(format!("{}.wasm", name.replace('-', "_")))
}

/// Two executors, the first right and aligned with the (right) commitment,
/// the second wrong and orthogonal to it. The scaffolded Rust reward and the
/// Python example both score it TS 1, AL (1, 0.5), CC (1, 0), total (1, 0.6).
fn sample_episode() -> reward::Episode {
    let executor = |agent: u32, embedding: Vec<f32>| reward::ExecutorResult {
        agent,
        output: "\\boxed{18}".into(),
        answer: Some("18".into()),
        correct: Some(agent == 0),
        embedding,
        sampling: reward::Sampling {
            temperature: 0.7,
            repetition_penalty: 1.0,
            top_p: 0.9,
        },
    };
    reward::Episode {
        problem_id: "1".into(),
        question: "What is 9 + 9?".into(),
        reference: "18".into(),
        strategy: "Add.".into(),
        commitment: "{\"final_value\": \"18\"}".into(),
        commitment_answer: Some("18".into()),
        commitment_correct: true,
        commitment_embedding: vec![1.0, 0.0],
        executors: vec![executor(0, vec![1.0, 0.0]), executor(1, vec![0.0, 1.0])],
        weights: reward::RewardWeights {
            al: 0.4,
            ts: 0.4,
            cc: 0.2,
        },
        rounds: 1,
    }
}

fn assert_sample_rewards(rewards: &[reward::AgentReward]) {
    assert_eq!(rewards.len(), 2, "{rewards:?}");
    let r = &rewards[0];
    assert_eq!(
        (r.agent, r.ts, r.al, r.cc),
        (0, 1.0, 1.0, 1.0),
        "{rewards:?}"
    );
    assert!((r.total - 1.0).abs() < 1e-6, "{rewards:?}");
    let r = &rewards[1];
    assert_eq!(r.agent, 1);
    assert!((r.al - 0.5).abs() < 1e-6 && r.cc == 0.0, "{rewards:?}");
    assert!((r.total - 0.6).abs() < 1e-6, "{rewards:?}");
}

#[test]
fn scaffolded_plugins_of_every_kind_test_build_check_and_load() {
    let _alone = common::cpu_heavy_or_timed();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let plugins = root.join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    let target = common::binary()
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("scaffold-test");

    let started = Instant::now();
    for (kind, name) in KINDS {
        let out = econ_host(&["plugins", "new", kind, name, "--dir", "."], root);
        assert!(out.status.success(), "{}", text(&out));
        let crate_dir = root.join(name);
        assert!(text(&out).contains(&crate_dir.file_name().unwrap().to_string_lossy().to_string()));
        for file in ["Cargo.toml", "src/lib.rs", "README.md", ".gitignore"] {
            assert!(crate_dir.join(file).is_file(), "{name}: no {file}");
        }
        // Pin the dependency versions to the workspace's (all in the offline cache).
        std::fs::copy(
            common::repo_root().join("Cargo.lock"),
            crate_dir.join("Cargo.lock"),
        )
        .unwrap();

        let out = cargo(&crate_dir, &["test"]);
        assert!(out.status.success(), "{name}: cargo test\n{}", text(&out));
        let out = cargo(&crate_dir, &["build", "--target", "wasm32-wasip2"]);
        assert!(out.status.success(), "{name}: cargo build\n{}", text(&out));
        let wasm = wasm_of(&target, name);
        assert!(wasm.is_file(), "{} missing", wasm.display());

        let out = econ_host(
            &["plugins", "check", wasm.to_str().unwrap(), "--json"],
            root,
        );
        assert!(out.status.success(), "{name}: check\n{}", text(&out));
        let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(info["kind"], kind);
        assert_eq!(info["name"], name);
        assert_eq!(info["version"], "0.1.0");
        assert_eq!(info["wit_version"], econ_host::plugins::WIT_VERSION);
        // Every template shows how a plugin declares an option.
        let declared = info["options"].as_array().unwrap();
        assert!(!declared.is_empty(), "{name}: {info}");
        std::fs::copy(&wasm, plugins.join(format!("{name}.wasm"))).unwrap();
    }
    eprintln!(
        "scaffold -> cargo test -> wasm build -> check, four kinds: {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // The binary sees them as --plugins plugins.
    let out = econ_host(
        &[
            "--plugins",
            plugins.to_str().unwrap(),
            "plugins",
            "list",
            "--json",
        ],
        root,
    );
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for (kind, name) in KINDS {
        let p = v["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} not listed: {v}"));
        assert_eq!(
            (p["kind"].as_str(), p["origin"].as_str()),
            (Some(kind), Some("--plugins"))
        );
    }

    // And each example does its job through the host.
    the_examples_do_their_job(
        &plugins,
        ["my-reward", "my-adapter", "my-prompts", "my-parser"],
    );
}

/// Load the four plugins `names` (reward, adapter, prompts, parser) from
/// `plugins` and call each as an episode would: every language's example
/// gives the same results.
fn the_examples_do_their_job(plugins: &Path, names: [&str; 4]) {
    let [reward_name, adapter_name, prompts_name, parser_name] = names;
    // The cache `plugins check` filled: a 12-18 MB component is not compiled twice.
    let engine = PluginEngine::new(econ_host::plugins::default_cache_dir()).unwrap();
    let registry =
        PluginRegistry::load(&engine, &[plugins.to_path_buf()], Limits::default()).unwrap();
    assert!(registry.failures().is_empty(), "{:?}", registry.failures());

    let episode = sample_episode();
    let rewards = registry
        .reward(reward_name)
        .unwrap()
        .score(&episode)
        .unwrap();
    assert_sample_rewards(&rewards);

    let records = [
        RawRecord {
            line: 1,
            json: "{\"question\": \"What is 9 + 9?\", \"answer\": \"#### 18\"}".into(),
        },
        RawRecord {
            line: 2,
            json: r#"{"question": "?"}"#.into(),
        },
    ];
    let problems = registry
        .dataset_adapter(adapter_name)
        .unwrap()
        .adapt(&records, &[])
        .unwrap();
    assert_eq!(problems[0].as_ref().unwrap().answer, "18");
    assert!(
        problems[1].as_ref().unwrap_err().contains("answer"),
        "{problems:?}"
    );

    let ctx = PromptContext {
        stage: "executor".into(),
        question: "What is 9 + 9?".into(),
        strategy: "Add.".into(),
        agent: 0,
        n_agents: 3,
        round: 0,
        executor_outputs: vec![],
        previous_commitment: None,
        vars: vec![],
    };
    let prompts = registry.prompt_template(prompts_name).unwrap();
    let messages = prompts.render(&[ctx.clone()]).unwrap();
    assert!(
        messages[0].iter().any(|m| m.content.contains("9 + 9")),
        "{messages:?}"
    );
    let unknown = PromptContext {
        stage: "no-such-stage".into(),
        ..ctx
    };
    assert!(prompts.render(&[unknown]).is_err());

    let parser = registry.answer_parser(parser_name).unwrap();
    let found = parser
        .extract(&["so \\boxed{18}".into(), "it costs $1,234".into()])
        .unwrap();
    assert_eq!(found[0].answer.as_deref(), Some("18"));
    assert_eq!(found[1].answer.as_deref(), Some("1234"));
    assert_eq!(
        parser
            .equivalent("18", &["18.0".into(), "17".into()])
            .unwrap(),
        [true, false]
    );
}

/// `plugins new --lang LANG` for every kind -> the project's own tests pass
/// (`python3 -m unittest`, `node --test`) -> `./build.sh` (the pinned
/// componentize-py or componentize-js, fetched on first use) -> `plugins
/// check` -> the same calls as the Rust examples, with the same results.
fn projects_in(lang: &str, test: &[&str]) {
    let _alone = common::cpu_heavy_or_timed();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let plugins = root.join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    let mut names = Vec::new();
    for (kind, _) in KINDS {
        let name = format!("{lang}-{kind}");
        let started = Instant::now();
        let out = econ_host(&["plugins", "new", kind, &name, "--lang", lang], root);
        assert!(out.status.success(), "{}", text(&out));
        let project = root.join(&name);
        for file in [
            "README.md",
            ".gitignore",
            "build.sh",
            "wit/econ-plugins.wit",
        ] {
            assert!(project.join(file).is_file(), "{name}: no {file}");
        }
        let out = Command::new(test[0])
            .args(&test[1..])
            .current_dir(&project)
            .output()
            .unwrap_or_else(|e| panic!("{name}: running {test:?}: {e}"));
        assert!(out.status.success(), "{name}: {test:?}\n{}", text(&out));
        let out = Command::new(project.join("build.sh"))
            .current_dir(&project)
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}: build.sh\n{}", text(&out));
        let wasm = project.join(format!("{name}.wasm"));
        let built = started.elapsed().as_secs_f64();
        let out = econ_host(
            &["plugins", "check", wasm.to_str().unwrap(), "--json"],
            root,
        );
        assert!(out.status.success(), "{name}: check\n{}", text(&out));
        let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            (info["kind"].as_str(), info["name"].as_str()),
            (Some(kind), Some(name.as_str()))
        );
        assert!(
            !info["options"].as_array().unwrap().is_empty(),
            "{name}: {info}"
        );
        eprintln!(
            "{name}: new + tests + build {built:.1} s, check {:.1} s, {} bytes",
            started.elapsed().as_secs_f64() - built,
            std::fs::metadata(&wasm).unwrap().len()
        );
        std::fs::copy(&wasm, plugins.join(format!("{name}.wasm"))).unwrap();
        names.push(name);
    }
    let names: [&str; 4] = [&names[0], &names[1], &names[2], &names[3]];
    the_examples_do_their_job(&plugins, names);
}

#[test]
fn python_projects_of_every_kind_test_build_check_and_load() {
    projects_in("python", &["python3", "-m", "unittest", "-q"]);
}

#[test]
fn javascript_projects_of_every_kind_test_build_check_and_load() {
    projects_in("js", &["node", "--test"]);
}

#[test]
fn new_refuses_bad_names_existing_folders_and_a_wrong_sdk() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap();

    let out = econ_host(
        &["plugins", "new", "reward", "Bad Name", "--dir", dir],
        tmp.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("not a valid plugin name"),
        "{}",
        text(&out)
    );

    let out = econ_host(&["plugins", "new", "scorer", "x", "--dir", dir], tmp.path());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("answer-parser"), "{}", text(&out));

    let out = econ_host(
        &["plugins", "new", "reward", "mine", "--dir", dir],
        tmp.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let lib = std::fs::read_to_string(tmp.path().join("mine/src/lib.rs")).unwrap();
    std::fs::write(tmp.path().join("mine/src/lib.rs"), "// my edits").unwrap();
    let out = econ_host(
        &["plugins", "new", "answer-parser", "mine", "--dir", dir],
        tmp.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains(&tmp.path().join("mine").display().to_string()) && t.contains("already exists"),
        "{t}"
    );
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("mine/src/lib.rs")).unwrap(),
        "// my edits",
        "an existing crate was overwritten"
    );
    assert!(lib.contains("Reward for Plugin"));

    let out = econ_host(
        &[
            "plugins", "new", "reward", "other", "--dir", dir, "--sdk", dir,
        ],
        tmp.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("econ-plugin-sdk"), "{}", text(&out));
    assert!(!tmp.path().join("other").exists());

    // Only the crates asked for, no temporary folders left behind.
    let left: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["mine"]);
}

/// examples/python-reward, built by its build.sh (componentize-py, not part
/// of the default set-up: see docs/plugins.md).
fn python_plugin() -> Option<PathBuf> {
    let file = std::env::var_os("ECON_PYTHON_PLUGIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| common::repo_root().join("examples/python-reward/reward-python.wasm"));
    file.is_file().then_some(file)
}

#[test]
fn a_python_reward_plugin_loads_and_scores_in_the_unchanged_host() {
    let Some(file) = python_plugin() else {
        eprintln!(
            "SKIPPED: examples/python-reward/reward-python.wasm is not built; run \
             examples/python-reward/build.sh (needs componentize-py from PyPI) to include this test"
        );
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let out = econ_host(
        &["plugins", "check", file.to_str().unwrap(), "--json"],
        home.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (info["name"].as_str(), info["kind"].as_str()),
        (Some("reward-python"), Some("reward"))
    );

    // Through the registry, from a plugins folder, as a run would.
    let dir = home.path().join("plugins");
    std::fs::create_dir(&dir).unwrap();
    std::fs::copy(&file, dir.join("reward-python.wasm")).unwrap();
    let engine = PluginEngine::new(Some(home.path().join("cache"))).unwrap();
    let t = std::time::Instant::now();
    let registry = PluginRegistry::load(&engine, &[dir], Limits::default()).unwrap();
    let load_s = t.elapsed().as_secs_f64();
    assert!(registry.failures().is_empty(), "{:?}", registry.failures());
    let plugin = registry.reward("reward-python").unwrap();
    assert_eq!(plugin.info().kind, PluginKind::Reward);

    let episode = sample_episode();
    let t = std::time::Instant::now();
    let rewards = plugin.score(&episode).unwrap();
    let first_ms = t.elapsed().as_secs_f64() * 1e3;
    let t = std::time::Instant::now();
    let calls = 5;
    for _ in 0..calls {
        plugin.score(&episode).unwrap();
    }
    let call_ms = t.elapsed().as_secs_f64() * 1e3 / calls as f64;
    eprintln!(
        "python reward: load (compile) {load_s:.1} s, first call {first_ms:.1} ms, then {call_ms:.1} ms/call"
    );
    // The same numbers as the scaffolded Rust reward.
    assert_sample_rewards(&rewards);

    // Its own error comes back as data, naming the plugin.
    let empty = reward::Episode {
        executors: vec![],
        ..episode
    };
    let err = format!("{:#}", plugin.score(&empty).unwrap_err());
    assert!(
        err.contains("reward-python") && err.contains("no executors"),
        "{err}"
    );
}
