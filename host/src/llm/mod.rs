//! LLM I/O: what a chat request is, what comes back, and the [`LlmClient`]
//! trait every provider implements: [`openai::OpenAiClient`] (any
//! OpenAI-compatible server), [`local::LocalClient`] (embedded llama.cpp) and
//! [`cache::CachedClient`] (record / replay around either).

pub mod cache;
pub mod dialect;
pub mod limiter;
pub mod local;
pub mod openai;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;

/// One message in a chat.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Message {
    pub role: String,
    pub content: String,
}

impl Message {
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        Message {
            role: role.into(),
            content: content.into(),
        }
    }
}

/// How one call samples: an executor's action plus the config's top_p, or a
/// coordinator call's fixed settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sampling {
    pub temperature: f32,
    pub top_p: f32,
    /// >1 discourages repetition; <1 encourages it (llama.cpp / vLLM meaning).
    pub repetition_penalty: f32,
}

/// A chat completion request with ECON's per-agent sampling action.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatRequest {
    pub messages: Vec<Message>,
    pub temperature: f32,
    /// >1 discourages repetition; <1 encourages it (llama.cpp / vLLM meaning).
    pub repetition_penalty: f32,
    pub top_p: f32,
    pub max_tokens: u32,
    pub stop: Vec<String>,
    /// The sampling seed sent with the request; none lets the server pick
    /// (`[llm] seeds = "none"`).
    pub seed: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Completion {
    pub text: String,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    /// True when the server reported no usage and the token counts are
    /// [`estimate_tokens`] approximations.
    #[serde(default)]
    pub usage_estimated: bool,
    /// Wall time of the request that produced the text (for a replayed
    /// completion: the recorded request's).
    pub latency: Duration,
}

/// A future a client returns; boxed so that `dyn LlmClient` works.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Something that answers chat requests. Implementations are shared between
/// tasks (`Arc<dyn LlmClient>`) and handle concurrent calls themselves.
pub trait LlmClient: Send + Sync {
    /// The model this client asks for; part of the record/replay key.
    fn model(&self) -> &str;

    /// One chat completion.
    fn chat<'a>(&'a self, request: &'a ChatRequest) -> BoxFuture<'a, Result<Completion>>;

    /// Several independent completions (the n executors of a round), one
    /// result each, in order. Remote clients send them concurrently; the
    /// embedded engine decodes them together in one batch.
    fn chat_many<'a>(
        &'a self,
        requests: &'a [ChatRequest],
    ) -> BoxFuture<'a, Vec<Result<Completion>>> {
        Box::pin(futures_util::future::join_all(
            requests.iter().map(|r| self.chat(r)),
        ))
    }

    /// The server's dialect (OpenAI-compatible servers; none for the others,
    /// which take every field as econ-host means it).
    fn dialect(&self) -> Option<dialect::Resolved> {
        None
    }

    /// Find out the server's dialect where the config leaves it to "auto"
    /// (one probe at start).
    fn probe(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

impl<T: LlmClient + ?Sized> LlmClient for Arc<T> {
    fn model(&self) -> &str {
        (**self).model()
    }
    fn chat<'a>(&'a self, request: &'a ChatRequest) -> BoxFuture<'a, Result<Completion>> {
        (**self).chat(request)
    }
    fn chat_many<'a>(
        &'a self,
        requests: &'a [ChatRequest],
    ) -> BoxFuture<'a, Vec<Result<Completion>>> {
        (**self).chat_many(requests)
    }
    fn dialect(&self) -> Option<dialect::Resolved> {
        (**self).dialect()
    }
    fn probe(&self) -> BoxFuture<'_, ()> {
        (**self).probe()
    }
}

/// Rough token count for text when a server reports no usage: about four
/// bytes of English per BPE token, at least one token for non-empty text.
pub fn estimate_tokens(text: &str) -> u32 {
    u32::try_from(text.len().div_ceil(4)).unwrap_or(u32::MAX)
}

/// Rough prompt token count: the messages' text plus a few tokens of chat
/// template per message.
pub fn estimate_prompt_tokens(messages: &[Message]) -> u32 {
    messages
        .iter()
        .map(|m| estimate_tokens(&m.content).saturating_add(4))
        .fold(0u32, u32::saturating_add)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_estimates_are_rough_but_monotone() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("a"), 1);
        assert_eq!(estimate_tokens("abcd"), 1);
        assert_eq!(estimate_tokens("abcde"), 2);
        let msgs = [Message::new("user", "abcdefgh")];
        assert_eq!(estimate_prompt_tokens(&msgs), 6);
    }
}
