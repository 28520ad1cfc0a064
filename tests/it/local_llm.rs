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

/// ECON's executors of a round get one prompt (or prompts that differ only
/// near the end): their common prefix is evaluated once, its KV cells shared
/// by every sequence. Greedy outputs are those of the unshared path, and of
/// one request at a time; the model evaluates the prefix once.
#[test]
fn a_shared_prompt_prefix_is_evaluated_once_and_changes_no_greedy_output() {
    let system = "You are one of several executors. A coordinator gave this strategy: \
                  add the numbers carefully, then check the sum. Answer in one line.";
    let request = |question: &str, max_tokens: u32| {
        let mut r = greedy(question, max_tokens);
        r.messages.insert(
            0,
            Message {
                role: "system".into(),
                content: system.into(),
            },
        );
        r
    };
    let requests = vec![
        request("What is 12 + 30?", 20),
        request("What is 12 + 30?", 20),
        request("What is 12 + 30?", 12),
        request("What is 7 + 8?", 20),
    ];
    let mut plain = model();
    plain.set_prefix_sharing(false);
    let unshared = plain.chat_batch(&requests).unwrap();
    let shared_model = model();
    let shared = shared_model.chat_batch(&requests).unwrap();
    for (i, (a, b)) in shared.iter().zip(&unshared).enumerate() {
        assert_eq!(
            a.text, b.text,
            "sequence {i}: shared and unshared greedy text differ"
        );
        assert_eq!(a.prompt_tokens, b.prompt_tokens);
    }
    assert_eq!(shared[0].text, shared[1].text);
    assert_eq!(shared[3].text, plain.chat(&requests[3]).unwrap().text);

    // The prompt tokens the model evaluated: the prefix once.
    let one = shared_model.bench_decode(64, 4, 1).unwrap();
    let four = shared_model.bench_decode(64, 4, 4).unwrap();
    assert_eq!(one.prompt_tokens_evaluated, 64);
    // Identical prompts: evaluated once, the copies sample from its logits.
    assert_eq!(four.prompt_tokens_evaluated, 64);
    let four_plain = plain.bench_decode(64, 4, 4).unwrap();
    assert_eq!(four_plain.prompt_tokens_evaluated, 4 * 64);
    assert_eq!(four.generated, 16);
}

/// Episodes in flight share the model's decode loop: chat calls that arrive
/// while a batch decodes go together as the next one, and each caller gets
/// exactly the greedy completions it would have got alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_callers_share_batches_and_get_their_own_answers() {
    use econ_host::llm::LlmClient;
    use econ_host::llm::local::LocalClient;
    let alone = model();
    let asks = [
        vec![greedy("What is 2 + 3?", 12), greedy("What is 2 + 3?", 12)],
        vec![greedy("Name a colour of the sky.", 12)],
        vec![
            greedy("Write one word that rhymes with cat.", 12),
            greedy("What is 9 - 4?", 12),
        ],
        vec![greedy("Count to three.", 12)],
    ];
    let want: Vec<Vec<String>> = asks
        .iter()
        .map(|a| {
            alone
                .chat_batch(a)
                .unwrap()
                .into_iter()
                .map(|c| c.text)
                .collect()
        })
        .collect();
    let shared = std::sync::Arc::new(model());
    let client = std::sync::Arc::new(LocalClient::new(std::sync::Arc::clone(&shared)));
    let calls = asks.iter().map(|a| {
        let client = std::sync::Arc::clone(&client);
        let a = a.clone();
        tokio::spawn(async move { client.chat_many(&a).await })
    });
    let got: Vec<Vec<String>> = futures_util::future::join_all(calls)
        .await
        .into_iter()
        .map(|r| r.unwrap().into_iter().map(|c| c.unwrap().text).collect())
        .collect();
    assert_eq!(got, want);
    // Four callers, fewer batches: the ones that waited went together.
    let batches = shared.queued_batches();
    assert!((1..4).contains(&batches), "{batches} batches for 4 callers");
}
