//! The embedded llama.cpp engine on the small packaged SmolLM2 GGUF.

use econ_host::llm::local::LocalModel;
use econ_host::llm::{ChatRequest, Message};

fn model() -> LocalModel {
    let path = econ_host::models::resolve("smollm2-135m", std::path::Path::new("."))
        .expect("run scripts/dev setup (or python3 scripts/fetch_models.py smollm2-135m)");
    LocalModel::load(&path, 2, 1024, 0).unwrap()
}

fn greedy(question: &str, max_tokens: u32) -> ChatRequest {
    ChatRequest {
        messages: vec![Message {
            role: "user".into(),
            content: question.into(),
        }],
        temperature: 0.0,
        repetition_penalty: 1.0,
        top_p: 1.0,
        max_tokens,
        stop: Vec::new(),
        seed: Some(7),
    }
}

#[test]
fn greedy_decoding_is_deterministic_and_batching_changes_nothing() {
    let model = model();
    let requests = vec![
        greedy("What is 2 + 3? Answer with a number.", 24),
        greedy("Name a colour of the sky.", 16),
        greedy("Write one word that rhymes with cat.", 20),
    ];
    let one_at_a_time: Vec<String> = requests
        .iter()
        .map(|r| model.chat(r).unwrap().text)
        .collect();
    let again = model.chat(&requests[0]).unwrap().text;
    assert_eq!(
        one_at_a_time[0], again,
        "greedy output changed between two runs"
    );

    let batched = model.chat_batch(&requests).unwrap();
    assert_eq!(batched.len(), 3);
    for (i, (b, s)) in batched.iter().zip(&one_at_a_time).enumerate() {
        assert!(b.completion_tokens > 0 && b.completion_tokens <= requests[i].max_tokens);
        assert_eq!(
            &b.text, s,
            "sequence {i}: batched and one-at-a-time greedy text differ"
        );
    }
}

#[test]
fn each_sequence_keeps_its_own_token_budget_and_sampler() {
    let model = model();
    let mut hot = greedy("Tell me a short story about a robot.", 40);
    hot.temperature = 1.2;
    hot.repetition_penalty = 1.3;
    let out = model.chat_batch(&[greedy("Say hi.", 3), hot]).unwrap();
    assert!(out[0].completion_tokens <= 3);
    assert!(out[1].completion_tokens > 3);
    assert!(model.chat_batch(&[]).unwrap().is_empty());
}
