//! LLM I/O: what a chat request is and what comes back.

pub mod local;

use std::time::Duration;

/// One message in a chat.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Message {
    pub role: String,
    pub content: String,
}

/// A chat completion request with ECON's per-agent sampling action.
#[derive(Clone, Debug)]
pub struct ChatRequest {
    pub messages: Vec<Message>,
    pub temperature: f32,
    /// >1 discourages repetition; <1 encourages it (llama.cpp / vLLM meaning).
    pub repetition_penalty: f32,
    pub top_p: f32,
    pub max_tokens: u32,
    pub stop: Vec<String>,
    pub seed: u32,
}

#[derive(Clone, Debug)]
pub struct Completion {
    pub text: String,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub latency: Duration,
}
