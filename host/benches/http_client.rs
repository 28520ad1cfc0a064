//! The OpenAI-compatible client against a local axum server (127.0.0.1):
//!
//! - `http_overhead`: one request at a time to a server that answers at once;
//!   `econ_client` (OpenAiClient::chat: body encoding, endpoint pick,
//!   semaphore, retry loop, JSON decoding) next to `raw_reqwest` (a bare POST
//!   of the same body and a serde_json::Value parse) — the difference is the
//!   client's own cost per request.
//! - `http_throughput`: a server with a fixed 20 ms latency, the client's
//!   concurrency limit at 1 / 8 / 64 and 8x that many requests per batch.
//!   The latency-bound ideal is concurrency / 20 ms requests per second; the
//!   ratio is printed at the end, for the client and for `concurrency`
//!   workers posting with bare reqwest (what the machine itself allows).

// Shared with the integration tests; a bench uses only part of it.
#[allow(dead_code)]
#[path = "../../tests/it/common/openai_server.rs"]
mod openai_server;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use econ_host::llm::openai::{OpenAiClient, OpenAiOptions};
use econ_host::llm::{ChatRequest, LlmClient, Message};
use openai_server::Server;

const LATENCY: Duration = Duration::from_millis(20);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn request() -> ChatRequest {
    ChatRequest {
        messages: vec![
            Message::new("system", "Solve the problem step by step."),
            Message::new(
                "user",
                "Natalia sold clips to 48 of her friends in April, and then she sold half as \
                 many clips in May. How many clips did Natalia sell altogether in April and May?",
            ),
        ],
        temperature: 0.7,
        repetition_penalty: 1.1,
        top_p: 0.9,
        max_tokens: 256,
        stop: vec![],
        seed: Some(42),
    }
}

fn client(url: String, concurrency: usize) -> OpenAiClient {
    let mut o = OpenAiOptions::new(vec![url], "bench-model");
    o.concurrency = concurrency;
    o.max_retries = 0;
    OpenAiClient::new(o).unwrap()
}

fn overhead(c: &mut Criterion) {
    let rt = runtime();
    let server = rt.block_on(Server::start_with(Duration::ZERO, false));
    let econ = client(server.base_url(), 1);
    let raw = reqwest::Client::builder()
        .tcp_nodelay(true)
        .build()
        .unwrap();
    let url = format!("{}/chat/completions", server.base_url());
    let body = serde_json::to_vec(&serde_json::json!({
        "model": "bench-model", "messages": request().messages, "temperature": 0.7,
        "top_p": 0.9, "max_tokens": 256, "seed": 42, "repetition_penalty": 1.1, "stream": false
    }))
    .unwrap();
    let r = request();
    let mut group = c.benchmark_group("http_overhead");
    group.throughput(Throughput::Elements(1));
    group.bench_function("raw_reqwest", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let started = Instant::now();
                for _ in 0..iters {
                    let response = raw
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await
                        .unwrap();
                    let bytes = response.bytes().await.unwrap();
                    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                    assert!(v["choices"][0]["message"]["content"].is_string());
                }
                started.elapsed()
            })
        })
    });
    group.bench_function("econ_client", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let started = Instant::now();
                for _ in 0..iters {
                    econ.chat(&r).await.unwrap();
                }
                started.elapsed()
            })
        })
    });
    group.finish();
}

/// (client, concurrency, requests per second) of every throughput sample.
static RESULTS: Mutex<Vec<(&'static str, usize, f64)>> = Mutex::new(Vec::new());

fn throughput(c: &mut Criterion) {
    let rt = runtime();
    let server = rt.block_on(Server::start_with(LATENCY, false));
    let url = format!("{}/chat/completions", server.base_url());
    let body = serde_json::to_vec(&serde_json::json!({
        "model": "bench-model", "messages": request().messages, "temperature": 0.7,
        "top_p": 0.9, "max_tokens": 256, "seed": 42, "repetition_penalty": 1.1, "stream": false
    }))
    .unwrap();
    let raw = reqwest::Client::builder()
        .tcp_nodelay(true)
        .build()
        .unwrap();
    let mut group = c.benchmark_group("http_throughput_20ms");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    for concurrency in [1usize, 8, 64] {
        let econ = Arc::new(client(server.base_url(), concurrency));
        let batch = concurrency * 8;
        group.throughput(Throughput::Elements(batch as u64));
        // The client under test: `batch` requests at once, its semaphore
        // keeping `concurrency` in flight.
        group.bench_function(format!("econ_client/{concurrency}"), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let started = Instant::now();
                    for _ in 0..iters {
                        let mut tasks = tokio::task::JoinSet::new();
                        for _ in 0..batch {
                            let econ = Arc::clone(&econ);
                            tasks.spawn(async move { econ.chat(&request()).await.unwrap() });
                        }
                        while let Some(t) = tasks.join_next().await {
                            t.unwrap();
                        }
                    }
                    record("econ_client", concurrency, iters as usize * batch, started)
                })
            })
        });
        // The baseline: `concurrency` workers posting with bare reqwest.
        group.bench_function(format!("raw_reqwest/{concurrency}"), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let started = Instant::now();
                    for _ in 0..iters {
                        let mut tasks = tokio::task::JoinSet::new();
                        for _ in 0..concurrency {
                            let (raw, url, body) = (raw.clone(), url.clone(), body.clone());
                            tasks.spawn(async move {
                                for _ in 0..8 {
                                    let response = raw
                                        .post(&url)
                                        .header("content-type", "application/json")
                                        .body(body.clone())
                                        .send()
                                        .await
                                        .unwrap();
                                    let bytes = response.bytes().await.unwrap();
                                    let _: serde_json::Value =
                                        serde_json::from_slice(&bytes).unwrap();
                                }
                            });
                        }
                        while let Some(t) = tasks.join_next().await {
                            t.unwrap();
                        }
                    }
                    record("raw_reqwest", concurrency, iters as usize * batch, started)
                })
            })
        });
    }
    group.finish();
    let results = RESULTS.lock().unwrap();
    println!("\nthroughput against a server with {LATENCY:?} latency (mean over samples):");
    for concurrency in [1usize, 8, 64] {
        let ideal = concurrency as f64 / LATENCY.as_secs_f64();
        for name in ["econ_client", "raw_reqwest"] {
            let rates: Vec<f64> = results
                .iter()
                .filter(|(n, c, _)| *n == name && *c == concurrency)
                .map(|(_, _, r)| *r)
                .collect();
            if rates.is_empty() {
                continue;
            }
            let mean = rates.iter().sum::<f64>() / rates.len() as f64;
            println!(
                "  {name:<11} concurrency {concurrency:>2}: {mean:8.1} req/s, ideal {ideal:7.1} req/s, {:5.1}% of ideal",
                100.0 * mean / ideal
            );
        }
    }
}

fn record(name: &'static str, concurrency: usize, requests: usize, started: Instant) -> Duration {
    let took = started.elapsed();
    RESULTS
        .lock()
        .unwrap()
        .push((name, concurrency, requests as f64 / took.as_secs_f64()));
    took
}

/// Several servers of one model, each working on `SLOTS` requests at once
/// for `SLOT_LATENCY` (others wait for a slot, or with `reject` get 503),
/// and `REQUESTS` chain-of-thought calls with `IN_FLIGHT` at once, spread
/// over K = 1, 2, 4 endpoints: throughput against the ideal
/// K·SLOTS / SLOT_LATENCY and each request's latency (p50, p99), over
/// `RUNS` runs.
const SLOTS: usize = 2;
const SLOT_LATENCY: Duration = Duration::from_millis(100);
const REQUESTS: usize = 90;
const IN_FLIGHT: usize = 32;
const RUNS: usize = 5;

fn endpoints(_: &mut Criterion) {
    let rt = runtime();
    for reject in [false, true] {
        let how = if reject {
            "busy: 503"
        } else {
            "busy: wait for a slot"
        };
        println!(
            "\n{K_LIST:?} endpoints x {SLOTS} slots, {SLOT_LATENCY:?} per request ({how}), \
             {REQUESTS} requests, {IN_FLIGHT} in flight, client concurrency 8 per endpoint:",
            K_LIST = [1, 2, 4]
        );
        let mut base = Vec::new();
        for k in [1usize, 2, 4] {
            let servers: Vec<Server> = (0..k)
                .map(|_| {
                    let s = rt.block_on(Server::start_with(SLOT_LATENCY, false));
                    s.set_capacity(SLOTS, reject);
                    s
                })
                .collect();
            let mut o = OpenAiOptions::new(servers.iter().map(Server::base_url).collect(), "m");
            o.concurrency = 8;
            o.max_retries = 8;
            o.backoff = Duration::from_millis(50);
            o.backoff_max = Duration::from_secs(2);
            let client = Arc::new(OpenAiClient::new(o).unwrap());
            let mut rates = Vec::new();
            let mut p99s = Vec::new();
            let mut p50s = Vec::new();
            for _ in 0..RUNS {
                let (elapsed, mut latencies) = rt.block_on(async {
                    let started = Instant::now();
                    let queue = Arc::new(std::sync::atomic::AtomicUsize::new(0));
                    let mut tasks = tokio::task::JoinSet::new();
                    for _ in 0..IN_FLIGHT {
                        let (client, queue) = (Arc::clone(&client), Arc::clone(&queue));
                        tasks.spawn(async move {
                            let mut mine = Vec::new();
                            while queue.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < REQUESTS
                            {
                                let t0 = Instant::now();
                                client.chat(&request()).await.unwrap();
                                mine.push(t0.elapsed().as_secs_f64());
                            }
                            mine
                        });
                    }
                    let mut all = Vec::new();
                    while let Some(t) = tasks.join_next().await {
                        all.extend(t.unwrap());
                    }
                    (started.elapsed(), all)
                });
                latencies.sort_by(f64::total_cmp);
                rates.push(REQUESTS as f64 / elapsed.as_secs_f64());
                p50s.push(latencies[latencies.len() / 2]);
                p99s.push(latencies[(latencies.len() * 99 / 100).min(latencies.len() - 1)]);
            }
            let ideal = (k * SLOTS) as f64 / SLOT_LATENCY.as_secs_f64();
            if k == 1 {
                base = rates.clone();
            }
            let speedups: Vec<String> = rates
                .iter()
                .zip(&base)
                .map(|(r, b)| format!("{:.2}x", r / b))
                .collect();
            let show = |v: &[f64]| {
                v.iter()
                    .map(|x| format!("{x:.1}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            println!(
                "  K = {k}: {} req/s (ideal {ideal:.1}); vs K = 1, run by run: {}; \
                 p50 {} s; p99 {} s",
                show(&rates),
                speedups.join(" "),
                p50s.iter()
                    .map(|x| format!("{x:.2}"))
                    .collect::<Vec<_>>()
                    .join(" "),
                p99s.iter()
                    .map(|x| format!("{x:.2}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            drop(servers);
        }
    }
}

criterion_group!(benches, overhead, throughput, endpoints);
criterion_main!(benches);
