//! A deterministic arithmetic "model" for the local OpenAI-compatible test
//! server, and a job folder (data + config) that uses it: shared by the
//! runner's end-to-end tests and the episode-overhead benchmark.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;
use std::sync::Arc;

use serde_json::Value;

use super::openai_server::{Reply, Scripted};

pub const N_AGENTS: usize = 3;

/// The scripted model. Strategy: three steps, no numbers. Executor: adds the
/// two numbers of "What is A plus B?" — one too many when sampled hotter than
/// T = 1.0. Commitment: JSON with the executors' majority answer.
pub fn arithmetic_model() -> Reply {
    Reply::Model(Scripted(Arc::new(|body: &Value| {
        let text: String = body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["content"].as_str().unwrap_or("").to_string())
            .collect::<Vec<_>>()
            .join("\n");
        if text.contains("STRATEGY") {
            return "1. Identify the two quantities.\n2. Add them.\n3. Check the sum.".into();
        }
        if text.contains("Output JSON only") {
            let mut votes: BTreeMap<i64, usize> = BTreeMap::new();
            for part in text.split("\\boxed{").skip(1) {
                if let Some(Ok(v)) = part.split('}').next().map(str::parse::<i64>) {
                    *votes.entry(v).or_default() += 1;
                }
            }
            // Skip the prompt's own example "\boxed{...}" (not a number).
            let best = votes
                .iter()
                .max_by_key(|(v, c)| (**c, -**v))
                .map(|(v, _)| *v)
                .unwrap_or(0);
            return format!(
                r#"{{"final_value": "{best}", "reasoning": "majority", "confidence": 0.9, "checklist": {{"all_agree": true, "arithmetic_verified": true, "units_correct": true}}}}"#
            );
        }
        let numbers = question_numbers(&text);
        let t = body["temperature"].as_f64().unwrap_or(0.0);
        let sum = numbers.0 + numbers.1 + i64::from(t > 1.0);
        format!(
            "Add {} and {}: {} + {} = {sum}.\n\\boxed{{{sum}}}",
            numbers.0, numbers.1, numbers.0, numbers.1
        )
    })))
}

pub fn question_numbers(text: &str) -> (i64, i64) {
    let at = text.find("What is ").expect("an arithmetic question");
    let rest = &text[at + "What is ".len()..];
    let mut words = rest.split_whitespace();
    let a = words.next().unwrap().parse().unwrap();
    assert_eq!(words.next(), Some("plus"));
    let b = words.next().unwrap().trim_end_matches('?').parse().unwrap();
    (a, b)
}

/// Write `arith.jsonl` (12 problems "What is A plus B?") and `config.toml`
/// (both roles on `url`, the packaged MiniLM encoder, `extra_config` appended)
/// into `dir`.
pub fn write_job(dir: &Path, url: &str, extra_config: &str) {
    write_job_with(dir, url, "", extra_config);
}

/// `write_job` with `executor_keys` added to the `[llm.executor]` table.
pub fn write_job_with(dir: &Path, url: &str, executor_keys: &str, extra_config: &str) {
    let mut data = String::new();
    for i in 0..12 {
        let (a, b) = (10 + i * 7, 3 + i * 5);
        data.push_str(&format!(
            "{{\"id\": \"arith-{i}\", \"question\": \"What is {a} plus {b}?\", \"answer\": \"{a} + {b} = {}\\n#### {}\"}}\n",
            a + b,
            a + b
        ));
    }
    std::fs::write(dir.join("arith.jsonl"), data).unwrap();
    let config = format!(
        r#"n_agents = {N_AGENTS}
seed = 7
obs_dim = 384
commitment_embedding_dim = 384

[llm.coordinator]
provider = "openai"
base_url = "{url}"
model = "scripted-coordinator"
max_tokens = 128

[llm.executor]
provider = "openai"
base_url = "{url}"
model = "scripted-executor"
max_tokens = 128
{executor_keys}

[sampling]
temperature_min = 0.2
temperature_max = 1.2
p_min = 1.0
p_max = 1.3

[train]
update_interval = 2
batch_size = 2
buffer_size = 8

[runner]
save_interval = 2
concurrency = 4

[dataset]
adapter = "adapter-gsm8k"
path = "arith.jsonl"
{extra_config}"#
    );
    std::fs::write(dir.join("config.toml"), config).unwrap();
}

/// A finished command's stdout and stderr, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn json_file(path: &Path) -> Value {
    serde_json::from_slice(
        &std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

/// Every line of a JSONL file (traces, metrics).
pub fn traces(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}
