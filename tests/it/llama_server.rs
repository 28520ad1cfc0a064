//! Against a real llama.cpp server (llama-server, built by
//! scripts/llama-server.sh from the llama.cpp sources the llama-cpp-python
//! source package vendors; `scripts/dev test` builds it), serving the
//! packaged SmolLM2-135M on loopback: the dialect is found by probing, each
//! action field reaches the model, the same request gives the same text, and
//! a whole run finishes — through a server restart mid-run.

use crate::common;
use crate::common::arith_job::{json_file, text, traces};

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use econ_host::llm::openai::{OpenAiClient, OpenAiOptions};
use econ_host::llm::{ChatRequest, LlmClient, Message};

/// The llama-server binary: `ECON_LLAMA_SERVER`, else where
/// scripts/llama-server.sh puts it.
fn llama_server() -> PathBuf {
    if let Some(p) = std::env::var_os("ECON_LLAMA_SERVER") {
        return PathBuf::from(p);
    }
    let out = Command::new(common::repo_root().join("scripts/llama-server.sh"))
        .arg("path")
        .output()
        .expect("running scripts/llama-server.sh path");
    let bin = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("llama-server");
    assert!(
        bin.is_file(),
        "{} is missing: build it with `scripts/llama-server.sh build` (scripts/dev test does)",
        bin.display()
    );
    bin
}

fn smollm() -> PathBuf {
    econ_host::models::resolve("smollm2-135m", std::path::Path::new("."))
        .expect("run scripts/dev setup (the packaged smollm2-135m)")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A llama-server on 127.0.0.1:`port`, killed when dropped.
struct LlamaServer {
    child: Child,
    port: u16,
}

impl LlamaServer {
    fn start(port: u16) -> LlamaServer {
        let child = Command::new(llama_server())
            .arg("-m")
            .arg(smollm())
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args([
                "-c",
                "4096",
                "-np",
                "4",
                "-t",
                "2",
                "--no-webui",
                "--log-disable",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting llama-server");
        let server = LlamaServer { child, port };
        server.wait_healthy();
        server
    }

    /// `GET /health` answers 200 once the model is loaded (503 before).
    fn wait_healthy(&self) {
        use std::io::{Read, Write};
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let asked = s.write_all(
                    b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                );
                let mut reply = String::new();
                if asked.is_ok()
                    && s.read_to_string(&mut reply).is_ok()
                    && reply.starts_with("HTTP/1.1 200")
                {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("llama-server did not become healthy on port {}", self.port);
    }

    fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn request(temperature: f32, penalty: f32, seed: u32) -> ChatRequest {
    ChatRequest {
        messages: vec![Message::new(
            "user",
            "List fruits, one word each, many times over: apple, banana, apple, banana,",
        )],
        temperature,
        repetition_penalty: penalty,
        top_p: 0.9,
        max_tokens: 48,
        stop: Vec::new(),
        seed: Some(seed),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_action_reaches_a_real_llama_server_in_its_dialect() {
    let _alone = common::cpu_heavy_or_timed();
    let server = tokio::task::spawn_blocking(|| LlamaServer::start(free_port()))
        .await
        .unwrap();
    let client = OpenAiClient::new(OpenAiOptions::new(vec![server.base_url()], "smollm")).unwrap();
    client.probe().await;
    let d = client.dialect().unwrap();
    assert_eq!(d.dialect.name(), "llama.cpp");
    assert_eq!(d.found_by, "GET /props");
    let ask = |r: ChatRequest| {
        let c = &client;
        async move { c.chat(&r).await.unwrap() }
    };

    // Greedy: the penalty alone changes the text.
    let plain = ask(request(0.0, 1.0, 1)).await;
    let penalised = ask(request(0.0, 1.8, 1)).await;
    assert_ne!(
        plain.text, penalised.text,
        "repeat_penalty 1.8 changed nothing"
    );
    // The same request twice gives the same text (the prompt cache is off).
    assert_eq!(ask(request(0.0, 1.8, 1)).await.text, penalised.text);
    // Sampling: the seed decides the draw.
    let a = ask(request(1.0, 1.0, 11)).await;
    let b = ask(request(1.0, 1.0, 12)).await;
    assert_ne!(a.text, b.text, "different seeds gave one sample");
    assert_eq!(ask(request(1.0, 1.0, 11)).await.text, a.text);
    // Token counts are the server's own.
    assert!(!plain.usage_estimated);
    assert!(plain.completion_tokens > 0 && plain.completion_tokens <= 48);
    assert!(plain.prompt_tokens > 10);

    // The name other servers use never reached this one: what econ-host
    // sent before dialects (measured on a real llama-server).
    let raw = |penalty: f32| {
        let url = format!("{}/chat/completions", server.base_url());
        async move {
            let body = serde_json::json!({
                "model": "smollm",
                "messages": [{"role": "user", "content": request(0.0, 1.0, 1).messages[0].content}],
                "temperature": 0.0, "top_p": 0.9, "max_tokens": 48, "seed": 1,
                "cache_prompt": false, "repetition_penalty": penalty,
            });
            let v: serde_json::Value = reqwest::Client::new()
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["choices"][0]["message"]["content"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    assert_eq!(raw(1.8).await, raw(1.0).await);
}

/// A whole run — training, then every test mode — against the real server,
/// which is killed and started again mid-run: the run goes on, no finished
/// episode is lost or run twice, and run.json names the dialect found.
#[test]
fn a_full_run_against_llama_server_survives_a_restart() {
    let _alone = common::cpu_heavy_or_timed();
    let port = free_port();
    let mut server = LlamaServer::start(port);
    let dir = tempfile::tempdir().unwrap();
    let url = server.base_url();
    let config = format!(
        r#"n_agents = 3
seed = 7
obs_dim = 384
commitment_embedding_dim = 384

[llm.coordinator]
provider = "openai"
base_url = "{url}"
model = "smollm"
max_tokens = 64
timeout_s = 60

[llm.executor]
provider = "openai"
base_url = "{url}"
model = "smollm"
max_tokens = 48
timeout_s = 60

[sampling]
temperature_min = 0.2
temperature_max = 1.2
p_min = 1.0
p_max = 1.3

[bne]
max_iterations_infer = 1

[dataset]
adapter = "adapter-gsm8k"
path = "{data}"
test_fraction = 0.3
"#,
        data = common::repo_root()
            .join("data/gsm8k-sample.jsonl")
            .display()
    );
    std::fs::write(dir.path().join("config.toml"), config).unwrap();
    let logs = dir.path().join("logs");
    let mut run = Command::new(common::binary())
        .args([
            "run",
            "--train-eps",
            "5",
            "--test-eps",
            "2",
            "--modes",
            "all",
        ])
        .arg("--config")
        .arg(dir.path().join("config.toml"))
        .arg("--log-dir")
        .arg(&logs)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // After two finished training episodes, the server goes away for a while.
    let trace = logs.join("traces_train_bne.jsonl");
    let deadline = Instant::now() + Duration::from_secs(600);
    while std::fs::read_to_string(&trace).map_or(0, |t| t.lines().count()) < 2 {
        assert!(Instant::now() < deadline, "no training episode finished");
        assert!(run.try_wait().unwrap().is_none(), "the run ended early");
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(server);
    std::thread::sleep(Duration::from_secs(3));
    server = LlamaServer::start(port);
    let out = run.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let train = traces(&trace);
    let episodes: Vec<u64> = train
        .iter()
        .map(|t| t["episode"].as_u64().unwrap())
        .collect();
    assert_eq!(episodes, [1, 2, 3, 4, 5], "{}", text(&out));
    let summary = json_file(&logs.join("summary.json"));
    for mode in ["baseline", "bne", "majority", "cot", "sc", "debate"] {
        assert_eq!(summary["modes"][mode]["episodes"], 2, "{mode}");
        assert!(
            summary["modes"][mode]["tokens"]["completion"]
                .as_u64()
                .unwrap()
                > 0
        );
    }
    let run_json = json_file(&logs.join("run.json"));
    let executor = &run_json["llm_dialects"]["executor"];
    assert_eq!(executor["dialect"], "llama.cpp", "{executor}");
    assert_eq!(executor["fields"]["repetition_penalty"], "repeat_penalty");
    drop(server);
}
