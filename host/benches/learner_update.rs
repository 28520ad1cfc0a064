//! One learner update (batch_size episodes of round 0 + one BNE round, as in training)
//! for n = 3, 5, 8 on the CPU (and on CUDA when libtorch sees one), at the p0
//! widths with 384-d embeddings (all-MiniLM-L6-v2). Prints parameter counts per network.
//!
//!     cargo bench -p econ-host --bench learner_update
//!
//! ECON_BENCH_THREADS sets torch's intra-op threads (default 1, as when llama.cpp
//! owns the other cores); ECON_BENCH_DIM the embedding dimension (default 384).

use criterion::{BenchmarkId, Criterion};
use econ_host::learn::{Learner, RoundRecord, StepRecord};
use econ_host::nets::{NetsConfig, param_counts};
use tch::Device;

fn episode(cfg: &NetsConfig, seed: u64) -> StepRecord {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 40) as f32 / (1u64 << 24) as f32
    };
    let mut vec = |n: usize| -> Vec<f32> { (0..n).map(|_| next() * 2.0 - 1.0).collect() };
    let d = cfg.commitment_embedding_dim;
    let rounds = (0..2)
        .map(|_| RoundRecord {
            actions: (0..cfg.n_agents).map(|_| [0.7, 0.5]).collect(),
            outputs: (0..cfg.n_agents).map(|_| vec(d)).collect(),
            commitment: vec(d),
            components: [0.5, 1.0, 0.4],
        })
        .collect();
    StepRecord {
        obs: vec(cfg.obs_dim),
        rounds,
        done: true,
        next_obs: None,
    }
}

fn main() {
    let threads: i32 = std::env::var("ECON_BENCH_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let dim: usize = std::env::var("ECON_BENCH_DIM")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(384);
    tch::set_num_threads(threads);
    let mut devices = vec![Device::Cpu];
    if tch::Cuda::is_available() {
        devices.push(Device::Cuda(0));
    }
    let mut c = Criterion::default().configure_from_args().sample_size(20);
    let mut group = c.benchmark_group("learner_update");
    for n in [3usize, 5, 8] {
        let cfg = NetsConfig {
            n_agents: n,
            obs_dim: dim,
            commitment_embedding_dim: dim,
            ..Default::default()
        };
        println!("n={n} dim={dim} parameters: {:?}", param_counts(&cfg));
        let batch: Vec<_> = (0..cfg.train.batch_size as u64)
            .map(|i| episode(&cfg, i + 1))
            .collect();
        for &device in &devices {
            let mut learner = Learner::new(cfg.clone(), device).expect("learner");
            let name = format!("{device:?}/threads{threads}/batch{}", batch.len());
            group.bench_function(BenchmarkId::new(name, n), |b| {
                b.iter(|| learner.update_on(&batch).expect("update"))
            });
        }
    }
    group.finish();
    c.final_summary();
}
