//! Each OpenAI-compatible server in its own dialect: which of the fields ECON
//! acts on (temperature, top-p, repetition penalty, seed, token budget, stop)
//! it reads, under which name, and what else a request must say for "same
//! seed, same text" to hold there. A field with no name here cannot reach
//! the model; the runner says so before the first episode
//! (`llm.unreachable_actions`) instead of sending it to be ignored.
//!
//! Sources (the fields each server documents for its chat endpoint):
//! - vLLM: OpenAI-compatible server, "Extra parameters" — `repetition_penalty`,
//!   `seed`, `max_tokens`, `stop` (docs.vllm.ai, serving/openai_compatible_server).
//! - SGLang: OpenAI-compatible API and sampling parameters — `repetition_penalty`,
//!   `seed`, `max_tokens`, `stop` (docs.sglang.ai, backend/sampling_params).
//! - llama.cpp's llama-server: `POST /v1/chat/completions` takes the
//!   `/completion` options too — `repeat_penalty` (its name; `repetition_penalty`
//!   is ignored, measured), `seed`, `max_tokens`, `stop`, and `cache_prompt`
//!   (on by default: a reused slot changes the output, so it is sent false)
//!   (github.com/ggml-org/llama.cpp, tools/server/README.md).
//! - Ollama: the OpenAI compatibility of `/v1/chat/completions` lists
//!   `temperature`, `top_p`, `seed`, `max_tokens`, `stop`, `frequency_penalty`,
//!   `presence_penalty` — no repetition penalty (that is `repeat_penalty` of
//!   its native `/api/chat` options) (docs.ollama.com, api/openai-compatibility).
//! - Together: chat completions take `repetition_penalty`, `seed`,
//!   `max_tokens`, `stop` (docs.together.ai, reference/chat-completions).
//! - OpenAI: chat completions take `seed`, `stop`, `max_completion_tokens`
//!   (`max_tokens` is deprecated and refused by newer models), and answer an
//!   unknown field such as `repetition_penalty` with HTTP 400
//!   (platform.openai.com, api-reference/chat/create).

use serde::{Deserialize, Serialize};

/// A server family whose chat endpoint econ-host knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dialect {
    Vllm,
    Sglang,
    #[serde(rename = "llama.cpp")]
    LlamaCpp,
    Ollama,
    Together,
    Openai,
    /// An OpenAI-compatible server of unknown kind: the vLLM names are sent,
    /// and a field it refuses by name (HTTP 400) is dropped once, said and recorded.
    Generic,
}

/// How one dialect names the fields a request sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fields {
    /// The repetition penalty's name; none: it cannot reach the model.
    pub repetition_penalty: Option<&'static str>,
    /// The completion budget's name.
    pub max_tokens: &'static str,
    /// Whether the server samples by a request's seed.
    pub seed: bool,
    /// Extra fields sent with every request so that the same request gives
    /// the same text (llama.cpp's prompt cache).
    pub reproducible: &'static [(&'static str, bool)],
}

impl Dialect {
    pub const ALL: [Dialect; 7] = [
        Dialect::Vllm,
        Dialect::Sglang,
        Dialect::LlamaCpp,
        Dialect::Ollama,
        Dialect::Together,
        Dialect::Openai,
        Dialect::Generic,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Dialect::Vllm => "vllm",
            Dialect::Sglang => "sglang",
            Dialect::LlamaCpp => "llama.cpp",
            Dialect::Ollama => "ollama",
            Dialect::Together => "together",
            Dialect::Openai => "openai",
            Dialect::Generic => "generic",
        }
    }

    /// A config's `dialect`: a name, or "auto" (None: probe the server).
    pub fn parse(name: &str) -> Option<Option<Dialect>> {
        if name == "auto" {
            return Some(None);
        }
        Dialect::ALL
            .into_iter()
            .find(|d| d.name() == name)
            .map(Some)
    }

    pub fn fields(self) -> Fields {
        const NONE: &[(&str, bool)] = &[];
        match self {
            Dialect::Vllm | Dialect::Sglang | Dialect::Together | Dialect::Generic => Fields {
                repetition_penalty: Some("repetition_penalty"),
                max_tokens: "max_tokens",
                seed: true,
                reproducible: NONE,
            },
            Dialect::LlamaCpp => Fields {
                repetition_penalty: Some("repeat_penalty"),
                max_tokens: "max_tokens",
                seed: true,
                reproducible: &[("cache_prompt", false)],
            },
            Dialect::Ollama => Fields {
                repetition_penalty: None,
                max_tokens: "max_tokens",
                seed: true,
                reproducible: NONE,
            },
            Dialect::Openai => Fields {
                repetition_penalty: None,
                max_tokens: "max_completion_tokens",
                seed: true,
                reproducible: NONE,
            },
        }
    }

    /// The dialect a host name gives away (hosted APIs), if any.
    pub fn from_host(host: &str) -> Option<Dialect> {
        let host = host.to_ascii_lowercase();
        let is = |domain: &str| host == domain || host.ends_with(&format!(".{domain}"));
        if is("together.xyz") || is("together.ai") {
            Some(Dialect::Together)
        } else if is("openai.com") {
            Some(Dialect::Openai)
        } else {
            None
        }
    }
}

/// What a role's server is and how it was found out (run.json, the report).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolved {
    pub dialect: Dialect,
    /// "config", "host name", or the probe that answered (e.g. "GET /props").
    pub found_by: String,
    /// Each action field and the name it is sent under; null: it does not
    /// reach the model.
    pub fields: std::collections::BTreeMap<String, Option<String>>,
    /// Fields dropped during the run after the server refused them by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dropped: Vec<String>,
}

impl Resolved {
    pub fn new(dialect: Dialect, found_by: impl Into<String>) -> Self {
        let f = dialect.fields();
        let mut fields = std::collections::BTreeMap::new();
        fields.insert("temperature".into(), Some("temperature".into()));
        fields.insert("top_p".into(), Some("top_p".into()));
        fields.insert(
            "repetition_penalty".into(),
            f.repetition_penalty.map(str::to_string),
        );
        fields.insert("seed".into(), f.seed.then(|| "seed".to_string()));
        fields.insert("max_tokens".into(), Some(f.max_tokens.into()));
        fields.insert("stop".into(), Some("stop".into()));
        Resolved {
            dialect,
            found_by: found_by.into(),
            fields,
            dropped: Vec::new(),
        }
    }

    /// Whether the repetition penalty reaches the model.
    pub fn penalty_reaches(&self) -> bool {
        self.fields
            .get("repetition_penalty")
            .is_some_and(Option::is_some)
            && !self.dropped.iter().any(|d| d == "repetition_penalty")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_auto_is_none() {
        for d in Dialect::ALL {
            assert_eq!(Dialect::parse(d.name()), Some(Some(d)));
            let json = serde_json::to_string(&d).unwrap();
            assert_eq!(json, format!("\"{}\"", d.name()));
        }
        assert_eq!(Dialect::parse("auto"), Some(None));
        assert_eq!(Dialect::parse("vLLM"), None);
    }

    #[test]
    fn hosted_apis_are_known_by_their_host() {
        assert_eq!(
            Dialect::from_host("api.together.xyz"),
            Some(Dialect::Together)
        );
        assert_eq!(Dialect::from_host("api.openai.com"), Some(Dialect::Openai));
        assert_eq!(Dialect::from_host("notopenai.com"), None);
        assert_eq!(Dialect::from_host("127.0.0.1"), None);
    }
}
