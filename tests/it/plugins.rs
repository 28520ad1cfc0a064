//! The plugin host against the real built plugins: each kind answers a real
//! call, bad guests fail with errors that name them, the host lives on.

use crate::common;

use std::path::PathBuf;

use econ_host::plugins::{
    Limits, Plugin, PluginEngine, PluginKind, PluginPolicy, PluginRegistry,
    answer_parser::Extraction, dataset_adapter::RawRecord, prompt_template::PromptContext, reward,
};

fn registry() -> PluginRegistry {
    let engine = PluginEngine::new(None).unwrap();
    PluginRegistry::load(&engine, &[common::plugin_dir()], Limits::default()).unwrap()
}

#[test]
fn every_builtin_plugin_loads_with_its_manifest() {
    let registry = registry();
    assert!(registry.failures().is_empty(), "{:?}", registry.failures());
    let mut found: Vec<(String, PluginKind)> = registry
        .plugins()
        .map(|p| (p.info().name.clone(), p.info().kind))
        .collect();
    found.sort();
    assert_eq!(
        found,
        vec![
            ("adapter-gsm8k".to_string(), PluginKind::DatasetAdapter),
            ("adapter-jsonl".to_string(), PluginKind::DatasetAdapter),
            ("adapter-math".to_string(), PluginKind::DatasetAdapter),
            ("adapter-svamp".to_string(), PluginKind::DatasetAdapter),
            ("parser-boxed".to_string(), PluginKind::AnswerParser),
            ("parser-json".to_string(), PluginKind::AnswerParser),
            ("parser-math".to_string(), PluginKind::AnswerParser),
            ("prompts-econ".to_string(), PluginKind::PromptTemplate),
            ("reward-econ".to_string(), PluginKind::Reward),
        ]
    );
    for p in registry.plugins() {
        let info = p.info();
        assert_eq!(info.wit_version, econ_host::plugins::WIT_VERSION);
        assert_eq!(info.sha256.len(), 64);
        assert!(
            !info.version.is_empty() && !info.description.is_empty(),
            "{info:?}"
        );
    }
}

#[test]
fn adapter_converts_gsm8k_rows_and_names_bad_lines() {
    let registry = registry();
    let adapter = registry.dataset_adapter("adapter-gsm8k").unwrap();
    let rows = [
        r#"{"question": "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did Natalia sell altogether in April and May?", "answer": "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.\n#### 72"}"#,
        r#"{"question": "Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting. How much did she earn?", "answer": "Weng earns 12/60 = $<<12/60=0.2>>0.2 per minute.\nWorking 50 minutes, she earned 0.2 x 50 = $<<0.2*50=10>>10.\n#### 10"}"#,
        r#"{"question": "no answer here"}"#,
        r#"not json at all"#,
    ];
    let records: Vec<RawRecord> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| RawRecord {
            line: i as u32 + 1,
            json: r.to_string(),
        })
        .collect();
    let out = adapter.adapt(&records, &[]).unwrap();
    let first = out[0].as_ref().unwrap();
    assert_eq!(first.answer, "72");
    assert!(first.question.starts_with("Natalia sold clips"));
    assert_eq!(out[1].as_ref().unwrap().answer, "10");
    let missing = out[2].as_ref().unwrap_err();
    assert!(
        missing.contains("line 3") && missing.contains("answer"),
        "{missing}"
    );
    assert!(out[3].as_ref().unwrap_err().contains("line 4"));
}

fn context(stage: &str, agent: u32, outputs: Vec<String>) -> PromptContext {
    PromptContext {
        stage: stage.into(),
        question: "A robe takes 2 bolts of blue fiber and half that much white fiber. How many bolts in total does it take?".into(),
        strategy: "1. Find the white fiber. 2. Add both amounts.".into(),
        agent,
        n_agents: 3,
        round: 0,
        executor_outputs: outputs,
        previous_commitment: None,
        vars: Vec::new(),
    }
}

#[test]
fn prompts_render_every_stage_of_an_episode_in_one_call() {
    let registry = registry();
    let prompts = registry.prompt_template("prompts-econ").unwrap();
    let outputs = vec![
        "... \\boxed{3}".to_string(),
        "... \\boxed{3}".into(),
        "... \\boxed{4}".into(),
    ];
    let contexts = vec![
        context("coordinator-strategy", 0, vec![]),
        context("executor", 0, vec![]),
        context("executor", 1, vec![]),
        context("executor", 2, vec![]),
        context("coordinator-commitment", 0, outputs),
    ];
    let rendered = prompts.render(&contexts).unwrap();
    assert_eq!(rendered.len(), 5);
    for messages in &rendered {
        let all: String = messages.iter().map(|m| m.content.as_str()).collect();
        assert!(
            all.contains("A robe takes 2 bolts"),
            "question missing: {all}"
        );
        assert!(!all.contains('\u{8}'), "control character in a prompt");
    }
    let executor: String = rendered[1].iter().map(|m| m.content.as_str()).collect();
    assert!(
        executor.contains("Find the white fiber"),
        "strategy missing from executor prompt"
    );
    let commitment: String = rendered[4].iter().map(|m| m.content.as_str()).collect();
    assert!(commitment.contains("\\boxed{4}") && commitment.contains("final_value"));

    let err = prompts
        .render(&[context("no-such-stage", 0, vec![])])
        .unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("prompts-econ") && msg.contains("no-such-stage"),
        "{msg}"
    );
}

#[test]
fn parser_reads_real_model_outputs() {
    let registry = registry();
    let parser = registry.answer_parser("parser-boxed").unwrap();
    let texts: Vec<String> = [
        // Qwen-style chain of thought, answer boxed on the last line.
        "Janet's ducks lay 16 eggs per day.\nShe eats 3 and bakes with 4, so she sells 16 - 3 - 4 = 9 eggs.\nAt $2 each she makes 9 * 2 = 18 dollars.\n\n\\boxed{18}",
        // Nested braces inside the box.
        "The probability is \\(\\frac{1}{2}\\), so the answer is \\boxed{\\frac{1}{2}}.",
        // Several boxes: the last one wins.
        "First guess: \\boxed{12}. Wait, I forgot the white fiber: 2 + 1 = 3.\n\\boxed{3}",
        // No box at all: fall back to what the text says.
        "So the total is 540 meters.",
        // Thousands separator and dollars.
        "He made a profit of \\boxed{\\$70,000}.",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let out: Vec<Extraction> = parser.extract(&texts).unwrap();
    let answers: Vec<Option<&str>> = out.iter().map(|e| e.answer.as_deref()).collect();
    assert_eq!(answers[0], Some("18"));
    assert_eq!(out[0].method, "boxed");
    assert_eq!(answers[2], Some("3"));
    assert_eq!(answers[3], Some("540"));
    assert_ne!(out[3].method, "boxed");
    assert_eq!(answers[4], Some("70000"));
    let half = out[1].answer.clone().unwrap();
    let verdicts = parser
        .equivalent(
            "0.5",
            &[half, "1/2".into(), "\\dfrac{1}{2}".into(), "2".into()],
        )
        .unwrap();
    assert_eq!(verdicts, vec![true, true, true, false]);
    assert_eq!(
        parser.equivalent("70000", &["70,000.00".into()]).unwrap(),
        vec![true]
    );
}

fn executor(
    agent: u32,
    embedding: Vec<f32>,
    answer: &str,
    correct: bool,
) -> reward::ExecutorResult {
    reward::ExecutorResult {
        agent,
        output: format!("... \\boxed{{{answer}}}"),
        answer: Some(answer.into()),
        correct: Some(correct),
        embedding,
        sampling: reward::Sampling {
            temperature: 0.7,
            repetition_penalty: 1.1,
            top_p: 0.9,
        },
    }
}

/// Three executors, two agreeing with the right commitment.
fn reward_episode() -> reward::Episode {
    let e = vec![1.0, 0.0, 0.0];
    reward::Episode {
        problem_id: "p1".into(),
        question: "q".into(),
        reference: "3".into(),
        strategy: "s".into(),
        commitment: "{\"final_value\": \"3\"}".into(),
        commitment_answer: Some("3".into()),
        commitment_correct: true,
        commitment_embedding: e.clone(),
        executors: vec![
            executor(0, e.clone(), "3", true),
            executor(1, e.clone(), "3", true),
            executor(2, vec![0.0, 1.0, 0.0], "4", false),
        ],
        weights: reward::RewardWeights {
            al: 0.4,
            ts: 0.4,
            cc: 0.2,
        },
        rounds: 1,
    }
}

/// The same episode as the SDK's own types, for a native call of reward-econ.
fn native_episode(e: &reward::Episode) -> econ_plugin_sdk::reward::Episode {
    use econ_plugin_sdk::reward as sdk;
    sdk::Episode {
        problem_id: e.problem_id.clone(),
        question: e.question.clone(),
        reference: e.reference.clone(),
        strategy: e.strategy.clone(),
        commitment: e.commitment.clone(),
        commitment_answer: e.commitment_answer.clone(),
        commitment_correct: e.commitment_correct,
        commitment_embedding: e.commitment_embedding.clone(),
        executors: e
            .executors
            .iter()
            .map(|x| sdk::ExecutorResult {
                agent: x.agent,
                output: x.output.clone(),
                answer: x.answer.clone(),
                correct: x.correct,
                embedding: x.embedding.clone(),
                sampling: sdk::Sampling {
                    temperature: x.sampling.temperature,
                    repetition_penalty: x.sampling.repetition_penalty,
                    top_p: x.sampling.top_p,
                },
            })
            .collect(),
        weights: sdk::RewardWeights {
            al: e.weights.al,
            ts: e.weights.ts,
            cc: e.weights.cc,
        },
        rounds: e.rounds,
    }
}

/// The SDK computes cosines differently in the sandbox (SIMD, steps of 64,
/// shaped for Cranelift) than natively; the rewards must not differ by a bit,
/// whatever the length (whole steps, a remainder, only a remainder).
#[test]
fn reward_econ_scores_bit_for_bit_alike_in_the_sandbox_and_natively() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    let registry = registry();
    let scorer = registry.reward("reward-econ").unwrap();
    let case = (
        prop::sample::select(vec![1usize, 3, 4, 63, 64, 65, 100, 384, 1024]),
        1usize..=8,
        any::<bool>(),
    )
        .prop_flat_map(|(dim, n, correct)| {
            let vector = prop::collection::vec(-4.0f32..4.0, dim);
            (
                prop::collection::vec(vector.clone(), n),
                vector,
                Just(correct),
            )
        });
    let mut runner = TestRunner::new(Config {
        cases: 64,
        ..Config::default()
    });
    runner
        .run(&case, |(executors, commitment, correct)| {
            let mut episode = reward_episode();
            episode.commitment_correct = correct;
            episode.commitment_embedding = commitment;
            episode.executors = executors
                .into_iter()
                .enumerate()
                .map(|(i, e)| executor(i as u32, e, "3", correct))
                .collect();
            let sandboxed = scorer.score(&episode).unwrap();
            let native = reward_econ::score(
                &native_episode(&episode),
                reward_econ::scores::FIDELITY_SHARE,
            )
            .unwrap();
            prop_assert_eq!(sandboxed.len(), native.len());
            for (s, n) in sandboxed.iter().zip(&native) {
                let bits = |r: [f32; 4]| r.map(f32::to_bits);
                prop_assert_eq!(
                    bits([s.ts, s.al, s.cc, s.total]),
                    bits([n.ts, n.al, n.cc, n.total]),
                    "sandbox {:?} native {:?}",
                    s,
                    n
                );
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn reward_scores_ts_al_cc_per_agent() {
    let registry = registry();
    let scorer = registry.reward("reward-econ").unwrap();
    let episode = reward_episode();
    let rewards = scorer.score(&episode).unwrap();
    assert_eq!(rewards.len(), 3);
    for r in &rewards {
        assert_eq!(r.ts, 1.0);
        // mean cos = (1 + 1 + 0) / 3 -> AL = (2/3 + 1) / 2.
        assert!((r.al - 5.0 / 6.0).abs() < 1e-5, "AL {}", r.al);
        assert!((0.0..=1.0).contains(&r.cc));
        let total = 0.4 * r.al + 0.4 * r.ts + 0.2 * r.cc;
        assert!(
            (r.total - total).abs() < 1e-5,
            "total {} vs {total}",
            r.total
        );
    }
    let mut bad = episode.clone();
    bad.executors.clear();
    let msg = format!("{:#}", scorer.score(&bad).unwrap_err());
    assert!(msg.contains("reward-econ"), "{msg}");

    // A guest built for econ:plugins@0.1.0 and kept byte for byte loads and
    // answers the same in this host, whatever the WIT has become since.
    let fixture = common::repo_root().join("tests/fixtures/wit-0.1.0/reward-econ.wasm");
    let engine = PluginEngine::new(None).unwrap();
    let Plugin::Reward(old) = Plugin::load(
        &engine,
        &fixture,
        fixture.parent().unwrap(),
        Limits::default(),
    )
    .unwrap() else {
        panic!("the 0.1.0 fixture is a reward plugin")
    };
    assert_eq!(old.info().wit_version, "0.1.0");
    assert!(old.info().options.is_empty());
    let then = old.score(&episode).unwrap();
    for (a, b) in then.iter().zip(&rewards) {
        assert_eq!((a.ts, a.al, a.cc, a.total), (b.ts, b.al, b.cc, b.total));
    }
    // 0.1's score takes no options: configuring some is refused by name.
    let mut policy = PluginPolicy::default();
    policy.options.insert(
        "reward-econ".into(),
        vec![("fidelity_share".into(), "1".into())],
    );
    let e = Plugin::load(&engine, &fixture, fixture.parent().unwrap(), policy).err();
    let msg = format!("{:#}", e.expect("options for a 0.1 reward are refused"));
    assert!(
        msg.contains("[plugins.options.reward-econ]") && msg.contains("takes no options"),
        "{msg}"
    );
}

/// `[plugins.options.NAME]` reaches each kind of plugin: the reward's
/// declared option changes CC, the prompt template's `system` becomes a
/// system message, and values of the wrong kind or undeclared names are
/// refused when the plugin loads, naming the table and the option.
#[test]
fn plugin_options_reach_the_plugins_and_are_checked() {
    let engine = PluginEngine::new(None).unwrap();
    let load = |name: &str, options: &[(&str, &str)]| {
        let file = common::plugin_dir().join(format!("{name}.wasm"));
        let mut policy = PluginPolicy::default();
        let pairs = options.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        policy.options.insert(name.into(), pairs.collect());
        Plugin::load(&engine, &file, file.parent().unwrap(), policy)
    };
    let Ok(Plugin::Reward(plain)) = load("reward-econ", &[]) else {
        panic!("reward-econ loads")
    };
    let declared = &plain.info().options;
    assert_eq!(declared.len(), 1, "{declared:?}");
    assert_eq!(
        (declared[0].name.as_str(), declared[0].kind),
        ("fidelity_share", "number")
    );
    let Ok(Plugin::Reward(fidelity)) = load("reward-econ", &[("fidelity_share", "1")]) else {
        panic!("reward-econ loads with its option")
    };
    let episode = reward_episode();
    let (a, b) = (
        plain.score(&episode).unwrap(),
        fidelity.score(&episode).unwrap(),
    );
    assert_eq!((a[0].ts, a[0].al), (b[0].ts, b[0].al));
    assert!((a[0].cc - b[0].cc).abs() > 1e-4, "{a:?} vs {b:?}");

    let Ok(Plugin::PromptTemplate(prompts)) = load("prompts-econ", &[("system", "Be terse.")])
    else {
        panic!("prompts-econ loads with its option")
    };
    let msgs = prompts
        .render(&[context("executor", 0, Vec::new())])
        .unwrap();
    assert_eq!(msgs[0][0].role, "system");
    assert_eq!(msgs[0][0].content, "Be terse.");

    let msg = |r: anyhow::Result<Plugin>| format!("{:#}", r.err().expect("refused"));
    let wrong = msg(load("reward-econ", &[("fidelity_share", "most")]));
    assert!(
        wrong.contains("must be a number") && wrong.contains("reward-econ"),
        "{wrong}"
    );
    let unknown = msg(load("parser-boxed", &[("strict", "true")]));
    assert!(
        unknown.contains("[plugins.options.parser-boxed]") && unknown.contains("declares none"),
        "{unknown}"
    );
}

fn misbehaving() -> (PluginEngine, Plugin) {
    let engine = PluginEngine::new(None).unwrap();
    let file = common::test_plugin("test-misbehave");
    // A small fuel and memory budget keeps the test fast; the limits are the
    // same mechanism as in production.
    let limits = Limits {
        fuel: 50_000_000,
        memory_bytes: 32 << 20,
        max_consecutive_failures: 3,
        deadline_ms: 2_000,
    };
    let plugin = Plugin::load(&engine, &file, file.parent().unwrap(), limits).unwrap();
    (engine, plugin)
}

#[test]
fn a_looping_trapping_or_hoarding_guest_fails_its_call_and_the_host_goes_on() {
    let (_engine, plugin) = misbehaving();
    let Plugin::AnswerParser(bad) = plugin else {
        panic!("test-misbehave is an answer parser")
    };
    let registry = registry();
    let good = registry.answer_parser("parser-boxed").unwrap();

    let cases = [
        ("loop", "ran out of fuel"),
        ("trap", "asked to trap"),
        ("oom", "memory limit of 32 MiB"),
    ];
    for (input, expected) in cases {
        let err = bad.extract(&[input.to_string()]).unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("test-misbehave@0.1.0"),
            "error does not name the plugin: {msg}"
        );
        assert!(
            msg.contains(expected),
            "{input}: expected {expected:?} in {msg}"
        );
        // The next call on a good plugin works...
        let ok = good.extract(&["\\boxed{7}".to_string()]).unwrap();
        assert_eq!(ok[0].answer.as_deref(), Some("7"));
        // ...and so does the bad plugin itself: every call gets a fresh instance.
        let echo = bad.extract(&["fine".to_string()]).unwrap();
        assert_eq!(echo[0].answer.as_deref(), Some("fine"));
    }
}

/// Hostile guests against the answer-parser world: each fails its own call
/// with an error naming the plugin and the cause, within its deadline, and
/// the next call works.
#[test]
fn sleeping_flooding_and_printing_guests_are_bounded_and_named() {
    let (_engine, plugin) = misbehaving();
    let Plugin::AnswerParser(bad) = plugin else {
        panic!("test-misbehave is an answer parser")
    };
    for (input, expected) in [
        ("sleep", "may not wait"),
        ("flood", "wrote more than 1 MiB to stderr"),
    ] {
        let t0 = std::time::Instant::now();
        let msg = format!("{:#}", bad.extract(&[input.to_string()]).unwrap_err());
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(3),
            "{input} took {:?}",
            t0.elapsed()
        );
        assert!(
            msg.contains("test-misbehave@0.1.0") && msg.contains(expected),
            "{input}: {msg}"
        );
        assert!(
            msg.len() < 10_000,
            "the error holds a bounded share of the flood"
        );
        assert!(bad.extract(&["fine".to_string()]).is_ok());
    }
    // Prints are allowed (and logged with the plugin's name).
    let out = bad.extract(&["print".to_string()]).unwrap();
    assert_eq!(out[0].answer.as_deref(), Some("printed"));
}

/// Results whose strings all share one buffer would make the host copy
/// gigabytes (1000 messages or metadata pairs of 20 MiB each); they are
/// measured in the guest's memory and refused before anything is copied, in
/// every kind that returns text. The same plugins answer plain inputs.
#[test]
fn aliased_results_are_refused_before_they_are_copied() {
    let engine = PluginEngine::new(None).unwrap();
    let limits = Limits {
        fuel: 2_000_000_000,
        memory_bytes: 32 << 20,
        max_consecutive_failures: 100,
        deadline_ms: 5_000,
    };
    let load = |kind: &str| {
        let file = common::test_plugin(&format!("test-hostile-{kind}"));
        Plugin::load(&engine, &file, file.parent().unwrap(), limits).unwrap()
    };
    let refused = |kind: &str, result: anyhow::Result<()>| {
        let msg = format!("{:#}", result.unwrap_err());
        assert!(
            msg.contains(&format!("test-hostile-{kind}@0.1.0"))
                && msg.contains("more than 32 MiB of results"),
            "{kind}: {msg}"
        );
    };

    let Plugin::AnswerParser(parser) = load("parser") else {
        panic!("test-hostile-parser is an answer parser")
    };
    let t0 = std::time::Instant::now();
    refused(
        "parser",
        parser.extract(&["\\boxed{HOSTILE:alias}".into()]).map(drop),
    );
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        t0.elapsed()
    );
    let plain = parser.extract(&["so \\boxed{7}".into()]).unwrap();
    assert_eq!(plain[0].answer.as_deref(), Some("7"));

    let Plugin::PromptTemplate(prompt) = load("prompt") else {
        panic!("test-hostile-prompt is a prompt template")
    };
    let mut hostile = context("executor", 0, Vec::new());
    hostile.question.push_str(" HOSTILE:alias");
    refused("prompt", prompt.render(&[hostile]).map(drop));
    let plain = prompt
        .render(&[context("executor", 0, Vec::new())])
        .unwrap();
    assert!(plain[0][1].content.contains("A robe takes 2 bolts"));

    let Plugin::DatasetAdapter(adapter) = load("adapter") else {
        panic!("test-hostile-adapter is a dataset adapter")
    };
    let record = |question: &str| RawRecord {
        line: 1,
        json: format!(r#"{{"id": "a", "question": "{question}", "answer": "1"}}"#),
    };
    refused(
        "adapter",
        adapter.adapt(&[record("HOSTILE:alias")], &[]).map(drop),
    );
    let plain = adapter.adapt(&[record("1 + 0?")], &[]).unwrap();
    assert_eq!(plain[0].as_ref().unwrap().question, "1 + 0?");
}

/// A loop with fuel to spare is stopped by the wall-clock deadline.
#[test]
fn a_deadline_stops_a_loop_that_fuel_alone_would_not() {
    let engine = PluginEngine::new(None).unwrap();
    let file = common::test_plugin("test-misbehave");
    let limits = Limits {
        fuel: u64::MAX / 2,
        memory_bytes: 32 << 20,
        max_consecutive_failures: 3,
        deadline_ms: 300,
    };
    let Plugin::AnswerParser(bad) =
        Plugin::load(&engine, &file, file.parent().unwrap(), limits).unwrap()
    else {
        panic!("test-misbehave is an answer parser")
    };
    let t0 = std::time::Instant::now();
    let msg = format!("{:#}", bad.extract(&["loop".to_string()]).unwrap_err());
    let took = t0.elapsed();
    assert!(msg.contains("deadline of 300 ms"), "{msg}");
    assert!(
        took >= std::time::Duration::from_millis(280) && took < std::time::Duration::from_secs(2),
        "{took:?}"
    );
}

/// Plugin calls from inside async tasks (as episodes make them): a guest that
/// prints or panics — WASI's blocking stdio — must not take the runtime down.
#[test]
fn calls_from_async_tasks_survive_guests_that_print_or_panic() {
    let (_engine, plugin) = misbehaving();
    let Plugin::AnswerParser(bad) = plugin else {
        panic!("test-misbehave is an answer parser")
    };
    for flavor in ["multi", "current"] {
        let rt = match flavor {
            "multi" => tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .build(),
            _ => tokio::runtime::Builder::new_current_thread().build(),
        }
        .unwrap();
        let bad = bad.clone();
        rt.block_on(async move {
            let task = tokio::spawn(async move {
                let trapped = bad.extract(&["trap".to_string()]).unwrap_err();
                let printed = bad.extract(&["print".to_string()]).unwrap();
                (format!("{trapped:#}"), printed)
            });
            let (trapped, printed) = task.await.expect("the task did not panic");
            assert!(trapped.contains("asked to trap"), "{flavor}: {trapped}");
            assert_eq!(printed[0].answer.as_deref(), Some("printed"));
        });
    }
}

#[test]
fn limits_by_plugin_name_apply_to_that_plugin_only() {
    let engine = PluginEngine::new(None).unwrap();
    let small = Limits {
        fuel: 50_000_000,
        memory_bytes: 32 << 20,
        max_consecutive_failures: 3,
        deadline_ms: 2_000,
    };
    let mut policy = PluginPolicy::from(small);
    policy.by_name.insert(
        "test-misbehave".into(),
        Limits {
            memory_bytes: 48 << 20,
            ..small
        },
    );
    let file = common::test_plugin("test-misbehave");
    let Plugin::AnswerParser(bad) =
        Plugin::load(&engine, &file, file.parent().unwrap(), policy.clone()).unwrap()
    else {
        panic!("test-misbehave is an answer parser")
    };
    let msg = format!("{:#}", bad.extract(&["oom".to_string()]).unwrap_err());
    assert!(msg.contains("memory limit of 48 MiB"), "{msg}");
    // Any other plugin keeps the default.
    policy.by_name.clear();
    policy.by_name.insert(
        "parser-boxed".into(),
        Limits {
            memory_bytes: 64 << 20,
            ..small
        },
    );
    let Plugin::AnswerParser(bad) =
        Plugin::load(&engine, &file, file.parent().unwrap(), policy).unwrap()
    else {
        panic!("test-misbehave is an answer parser")
    };
    let msg = format!("{:#}", bad.extract(&["oom".to_string()]).unwrap_err());
    assert!(msg.contains("memory limit of 32 MiB"), "{msg}");
}

#[test]
fn a_guest_that_fails_every_call_is_disabled_with_a_clear_message() {
    let (_engine, plugin) = misbehaving();
    let Plugin::AnswerParser(bad) = plugin else {
        panic!("test-misbehave is an answer parser")
    };
    // A success in between resets the count.
    for input in ["trap", "trap", "fine", "trap", "trap"] {
        let _ = bad.extract(&[input.to_string()]);
    }
    assert!(bad.extract(&["fine".to_string()]).is_ok());
    for _ in 0..3 {
        assert!(bad.extract(&["trap".to_string()]).is_err());
    }
    let msg = format!("{:#}", bad.extract(&["fine".to_string()]).unwrap_err());
    assert!(
        msg.contains("test-misbehave@0.1.0") && msg.contains("disabled after 3"),
        "{msg}"
    );
}

#[test]
fn a_guest_sees_no_environment_arguments_files_or_network() {
    let (_engine, plugin) = misbehaving();
    let Plugin::AnswerParser(probe) = plugin else {
        panic!("test-misbehave is an answer parser")
    };
    // The test process has PATH, HOME and more: a guest must see none of them.
    assert!(std::env::vars().count() > 0);
    let probes: Vec<String> = ["env", "args", "file", "net"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let out = probe.extract(&probes).unwrap();
    let seen: Vec<&str> = out.iter().map(|e| e.answer.as_deref().unwrap()).collect();
    assert_eq!(seen, ["0", "0", "false", "false"]);
}

#[test]
fn wrong_files_are_refused_with_a_reason_naming_the_file() {
    let engine = PluginEngine::new(None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let load = |file: &PathBuf| {
        format!(
            "{:#}",
            Plugin::load(&engine, file, dir.path(), Limits::default())
                .err()
                .unwrap()
        )
    };
    let garbage = dir.path().join("garbage.wasm");
    std::fs::write(&garbage, b"this is not wasm").unwrap();
    assert!(load(&garbage).contains("not a WebAssembly file"));
    assert!(load(&garbage).contains("garbage.wasm"));

    let core = dir.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    assert!(load(&core).contains("core WebAssembly module"));

    let future = load(&common::test_plugin("test-future-wit"));
    assert!(
        future.contains("econ:plugins@1.0.0")
            && future.contains("serves econ:plugins 0.1.x, 0.2.x"),
        "{future}"
    );
    let other = load(&common::test_plugin("test-wrong-world"));
    assert!(
        other.contains("implements none of the worlds") && other.contains("hello"),
        "{other}"
    );
}

#[test]
fn a_second_start_loads_compiled_plugins_from_the_cache() {
    let cache = tempfile::tempdir().unwrap();
    let engine = PluginEngine::new(Some(cache.path().to_path_buf())).unwrap();
    let file = common::plugin_dir().join("parser-boxed.wasm");
    let first = engine.load_file(&file).unwrap();
    assert!(!first.cached);
    let engine = PluginEngine::new(Some(cache.path().to_path_buf())).unwrap();
    let second = engine.load_file(&file).unwrap();
    assert!(second.cached, "second load compiled again");
    assert_eq!(first.sha256, second.sha256);

    // A corrupt artifact is ignored and replaced, not fatal.
    for entry in std::fs::read_dir(cache.path()).unwrap() {
        std::fs::write(entry.unwrap().path(), b"corrupt").unwrap();
    }
    let third = engine.load_file(&file).unwrap();
    assert!(!third.cached);
}

/// Compiled code in the cache is native code: only what this host (this
/// user's key) wrote is ever executed.
#[test]
fn a_cache_file_not_written_by_this_host_is_never_executed() {
    let ours = tempfile::tempdir().unwrap();
    let theirs = tempfile::tempdir().unwrap();
    let parser = common::plugin_dir().join("parser-boxed.wasm");
    let other = common::test_plugin("test-misbehave");
    let cached_name = |dir: &std::path::Path| -> PathBuf {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "cwasm"))
            .unwrap()
    };
    // The key is private to the user.
    let engine = PluginEngine::new(Some(ours.path().to_path_buf())).unwrap();
    engine.load_file(&parser).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(ours.path().join("cache.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let artifact = cached_name(ours.path());
    // Another user's cache (another key) compiles the other guest; its file,
    // placed under our artifact's name, is refused and we recompile.
    let foreign = PluginEngine::new(Some(theirs.path().to_path_buf())).unwrap();
    foreign.load_file(&other).unwrap();
    std::fs::copy(cached_name(theirs.path()), &artifact).unwrap();
    let engine = PluginEngine::new(Some(ours.path().to_path_buf())).unwrap();
    let loaded = engine.load_file(&parser).unwrap();
    assert!(!loaded.cached, "a foreign artifact was used");
    // What runs is the parser, not the foreign code.
    let registry =
        PluginRegistry::load(&engine, &[common::plugin_dir()], Limits::default()).unwrap();
    let out = registry
        .answer_parser("parser-boxed")
        .unwrap()
        .extract(&["loop".into()])
        .unwrap();
    assert_eq!(out[0].answer, None);
    // Our own artifact (rewritten above) is trusted again.
    assert!(engine.load_file(&parser).unwrap().cached);
}

/// The cache takeover, reproduced: with the cache folder writable by others,
/// a second user replaced the key with one it knew and planted, under a
/// built-in's artifact name, another component's compiled code with a MAC
/// that checks out under that key. The host must not use such a cache at
/// all: a folder writable by others, a key readable by others or another
/// user's key are refused (the plugins are compiled afresh), so the genuine
/// plugin runs.
#[cfg(unix)]
#[test]
fn a_cache_others_could_write_is_never_trusted() {
    use hmac::{Hmac, Mac};
    use std::os::unix::fs::PermissionsExt;
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("compiled-plugins");
    let parser = common::plugin_dir().join("parser-boxed.wasm");
    let other = common::test_plugin("test-misbehave");
    // A fresh cache folder is private.
    let engine = PluginEngine::new(Some(dir.clone())).unwrap();
    engine.load_file(&parser).unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    let artifacts = |d: &std::path::Path| -> Vec<PathBuf> {
        std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "cwasm"))
            .collect()
    };
    let genuine = artifacts(&dir).remove(0);
    let name = genuine.file_name().unwrap().to_string_lossy().to_string();
    // The attacker's compiled code: the other guest, from a cache of its own.
    let theirs = tempfile::tempdir().unwrap();
    PluginEngine::new(Some(theirs.path().to_path_buf()))
        .unwrap()
        .load_file(&other)
        .unwrap();
    let foreign = std::fs::read(artifacts(theirs.path()).remove(0)).unwrap();
    let body = &foreign[32..];
    // The folder made writable by others; a key the attacker knows, and the
    // planted artifact MAC'd under it.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let key = [7u8; 32];
    std::fs::write(dir.join("cache.key"), key).unwrap();
    std::fs::set_permissions(
        dir.join("cache.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(name.as_bytes());
    mac.update(&[0]);
    mac.update(body);
    let mut planted = mac.finalize().into_bytes().to_vec();
    planted.extend_from_slice(body);
    std::fs::write(&genuine, &planted).unwrap();
    let check_refused = |why: &str| {
        let engine = PluginEngine::new(Some(dir.clone())).unwrap();
        let loaded = engine.load_file(&parser).unwrap();
        assert!(!loaded.cached, "{why}: the cache was trusted");
        let registry =
            PluginRegistry::load(&engine, &[common::plugin_dir()], Limits::default()).unwrap();
        let out = registry
            .answer_parser("parser-boxed")
            .unwrap()
            .extract(&["so \\boxed{42}".into()])
            .unwrap();
        assert_eq!(
            out[0].answer.as_deref(),
            Some("42"),
            "{why}: not the genuine parser"
        );
        // Nothing is written to it either: the planted file is as it was.
        assert_eq!(std::fs::read(&genuine).unwrap(), planted, "{why}");
    };
    check_refused("folder writable by others");
    // The folder private again, but the key readable by others.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::set_permissions(
        dir.join("cache.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    check_refused("key readable by others");
    // Another user's key (needs root to give a file away; skipped otherwise).
    std::fs::set_permissions(
        dir.join("cache.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let chown = std::process::Command::new("chown")
        .arg("4242")
        .arg(dir.join("cache.key"))
        .status();
    if chown.is_ok_and(|s| s.success()) {
        check_refused("key of another user");
    }
}

#[test]
fn a_later_folder_overrides_a_plugin_of_the_same_name() {
    let user = tempfile::tempdir().unwrap();
    let copy = user.path().join("my-parser.wasm");
    std::fs::copy(common::plugin_dir().join("parser-boxed.wasm"), &copy).unwrap();
    let engine = PluginEngine::new(None).unwrap();
    let dirs = [common::plugin_dir(), user.path().to_path_buf()];
    let registry = PluginRegistry::load(&engine, &dirs, Limits::default()).unwrap();
    assert_eq!(registry.get("parser-boxed").unwrap().info().file, copy);
    assert_eq!(registry.shadowed().len(), 1);
    assert_eq!(registry.shadowed()[0].source, common::plugin_dir());
    let msg = format!("{:#}", registry.reward("parser-boxed").err().unwrap());
    assert!(
        msg.contains("is a answer-parser plugin") || msg.contains("answer-parser"),
        "{msg}"
    );
}

/// The WIT version is written once (wit/econ-plugins.wit): the host and the
/// SDK plugins are built with both read it from there.
#[test]
fn host_and_sdk_build_against_the_same_wit_version() {
    let wit = std::fs::read_to_string(common::repo_root().join("wit/econ-plugins.wit")).unwrap();
    let line = format!(
        "package {}@{};",
        econ_host::plugins::WIT_PACKAGE,
        econ_host::plugins::WIT_VERSION
    );
    assert!(wit.lines().any(|l| l.trim() == line), "{line}");
    assert_eq!(
        econ_plugin_sdk::WIT_PACKAGE,
        format!(
            "{}@{}",
            econ_host::plugins::WIT_PACKAGE,
            econ_host::plugins::WIT_VERSION
        )
    );
}
