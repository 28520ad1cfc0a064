//! What a plugin costs: a reward call on an 8-agent episode with 384-d
//! embeddings through the sandbox versus the same Rust function linked
//! natively, and compiling a plugin versus loading it from the cache.
//!
//! `scripts/dev bench` (plugins must be built: they are read from the
//! `plugins/` folder beside the release binary).

use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use econ_host::plugins::{Limits, Plugin, PluginEngine, reward};

const AGENTS: usize = 8;
const DIM: usize = 384;

fn plugin_dir() -> PathBuf {
    // target/release/deps/plugin_call-* -> target/release/plugins
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join("plugins")
}

fn vector(seed: usize) -> Vec<f32> {
    (0..DIM)
        .map(|i| (((i * 31 + seed * 17) % 97) as f32 / 97.0) - 0.5)
        .collect()
}

fn host_episode() -> reward::Episode {
    reward::Episode {
        problem_id: "bench".into(),
        question: "q".into(),
        reference: "18".into(),
        strategy: "s".into(),
        commitment: "\\boxed{18}".into(),
        commitment_answer: Some("18".into()),
        commitment_correct: true,
        commitment_embedding: vector(0),
        executors: (0..AGENTS)
            .map(|i| reward::ExecutorResult {
                agent: i as u32,
                output: "... \\boxed{18}".into(),
                answer: Some("18".into()),
                correct: Some(true),
                embedding: vector(i + 1),
                sampling: reward::Sampling {
                    temperature: 0.7,
                    repetition_penalty: 1.1,
                    top_p: 0.9,
                },
            })
            .collect(),
        weights: reward::RewardWeights {
            al: 0.4,
            ts: 0.4,
            cc: 0.2,
        },
        rounds: 1,
    }
}

fn native_episode() -> econ_plugin_sdk::reward::Episode {
    use econ_plugin_sdk::reward as sdk;
    let h = host_episode();
    sdk::Episode {
        problem_id: h.problem_id,
        question: h.question,
        reference: h.reference,
        strategy: h.strategy,
        commitment: h.commitment,
        commitment_answer: h.commitment_answer,
        commitment_correct: h.commitment_correct,
        commitment_embedding: h.commitment_embedding,
        executors: h
            .executors
            .into_iter()
            .map(|e| sdk::ExecutorResult {
                agent: e.agent,
                output: e.output,
                answer: e.answer,
                correct: e.correct,
                embedding: e.embedding,
                sampling: sdk::Sampling {
                    temperature: e.sampling.temperature,
                    repetition_penalty: e.sampling.repetition_penalty,
                    top_p: e.sampling.top_p,
                },
            })
            .collect(),
        weights: sdk::RewardWeights {
            al: 0.4,
            ts: 0.4,
            cc: 0.2,
        },
        rounds: h.rounds,
    }
}

fn reward_call(c: &mut Criterion) {
    let engine = PluginEngine::new(None).unwrap();
    let file = plugin_dir().join("reward-econ.wasm");
    let Plugin::Reward(plugin) =
        Plugin::load(&engine, &file, &plugin_dir(), Limits::default()).unwrap()
    else {
        panic!("reward-econ is a reward plugin")
    };
    let host = host_episode();
    let native = native_episode();
    // Same answer both ways, or the comparison means nothing.
    let a = plugin.score(&host).unwrap();
    let b = reward_econ::score(&native, reward_econ::scores::FIDELITY_SHARE).unwrap();
    assert!((a[0].total - b[0].total).abs() < 1e-6);

    let mut group = c.benchmark_group("reward_8x384");
    group.bench_function("native", |bench| {
        bench.iter(|| {
            reward_econ::score(
                std::hint::black_box(&native),
                reward_econ::scores::FIDELITY_SHARE,
            )
            .unwrap()
        })
    });
    group.bench_function("plugin (new instance + call)", |bench| {
        bench.iter(|| plugin.score(std::hint::black_box(&host)).unwrap())
    });
    // The same episode into a reward that does no arithmetic: the floor plus
    // moving the episode (8 x 384 floats and its strings) into the guest.
    let file = plugin_dir()
        .parent()
        .unwrap()
        .join("test-plugins/test-hostile-reward.wasm");
    if let Ok(Plugin::Reward(empty)) =
        Plugin::load(&engine, &file, &plugin_dir(), Limits::default())
    {
        group.bench_function("plugin, no arithmetic (test-hostile-reward)", |bench| {
            bench.iter(|| empty.score(std::hint::black_box(&host)).unwrap())
        });
    }
    group.finish();

    // The sandbox's floor: a call that does almost nothing (parser-boxed on
    // one short text), i.e. Store, WASI context, instance and the call itself.
    let file = plugin_dir().join("parser-boxed.wasm");
    let Plugin::AnswerParser(parser) =
        Plugin::load(&engine, &file, &plugin_dir(), Limits::default()).unwrap()
    else {
        panic!("parser-boxed is an answer parser")
    };
    let texts = vec!["\\boxed{7}".to_string()];
    let mut group = c.benchmark_group("sandbox_floor");
    group.bench_function("parser-boxed extract, one short text", |bench| {
        bench.iter(|| parser.extract(std::hint::black_box(&texts)).unwrap())
    });
    group.finish();
}

fn plugin_load(c: &mut Criterion) {
    let file = plugin_dir().join("parser-boxed.wasm");
    let cache = tempfile::tempdir().unwrap();
    let uncached = PluginEngine::new(None).unwrap();
    let cached = PluginEngine::new(Some(cache.path().to_path_buf())).unwrap();
    cached.load_file(&file).unwrap();

    let mut group = c.benchmark_group("load_parser_boxed");
    group.sample_size(10);
    group.bench_function("compile", |bench| {
        bench.iter(|| uncached.load_file(&file).unwrap())
    });
    group.bench_function("from cache", |bench| {
        bench.iter(|| {
            let loaded = cached.load_file(&file).unwrap();
            assert!(loaded.cached);
            loaded
        })
    });
    group.finish();
}

criterion_group!(benches, reward_call, plugin_load);
criterion_main!(benches);
