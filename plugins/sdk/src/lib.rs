//! econ-plugin-sdk: write an econ-host plugin in a few lines of ordinary Rust.
//!
//! Implement one trait for your type and name it in the matching macro:
//!
//! ```ignore
//! use econ_plugin_sdk::answer_parser::*;
//!
//! struct Last;
//! impl AnswerParser for Last {
//!     fn manifest() -> Manifest { Manifest::new("parser-last", "0.1.0", "last word") }
//!     fn extract(text: &str, _: &Options) -> Extraction { /* ... */ }
//!     fn equivalent(reference: &str, candidate: &str, _: &Options) -> bool {
//!         reference == candidate
//!     }
//! }
//! econ_plugin_sdk::answer_parser!(Last);
//! ```
//!
//! Build with `cargo build --release --target wasm32-wasip2`; the `.wasm` in
//! `target/wasm32-wasip2/release/` is the plugin. The WIT package it is built
//! against is [`WIT_PACKAGE`].

/// The WIT package (and version) every world here comes from.
pub const WIT_PACKAGE: &str = concat!("econ:plugins@", env!("ECON_WIT_VERSION"));

pub use serde_json;

mod cosine;
pub use cosine::cosine;

/// What a plugin says about itself; `kind` follows from the macro you use.
#[derive(Clone, Debug)]
pub struct Manifest {
    pub name: String,
    pub version: String,
    pub description: String,
    pub author: String,
    /// The options it reads from `[plugins.options.<name>]`.
    pub options: Vec<OptionDecl>,
}

/// One option a plugin reads (see [`Manifest::number_option`] and friends).
#[derive(Clone, Debug)]
pub struct OptionDecl {
    pub name: String,
    /// "text", "number" or "boolean".
    pub kind: &'static str,
    pub default: String,
    pub description: String,
}

impl Manifest {
    pub fn new(name: &str, version: &str, description: &str) -> Self {
        Manifest {
            name: name.into(),
            version: version.into(),
            description: description.into(),
            author: String::new(),
            options: Vec::new(),
        }
    }

    pub fn author(mut self, author: &str) -> Self {
        self.author = author.into();
        self
    }

    /// Declare a text option (`plugins list` shows it; the host refuses a
    /// config that sets an option the plugin does not declare).
    pub fn text_option(self, name: &str, default: &str, description: &str) -> Self {
        self.option(name, "text", default, description)
    }

    /// Declare a number option; the host checks the config's value parses.
    pub fn number_option(self, name: &str, default: &str, description: &str) -> Self {
        self.option(name, "number", default, description)
    }

    /// Declare a boolean option ("true" / "false").
    pub fn boolean_option(self, name: &str, default: &str, description: &str) -> Self {
        self.option(name, "boolean", default, description)
    }

    fn option(mut self, name: &str, kind: &'static str, default: &str, description: &str) -> Self {
        self.options.push(OptionDecl {
            name: name.into(),
            kind,
            default: default.into(),
            description: description.into(),
        });
        self
    }
}

/// A plugin's options from the config, as the host passes them (key / value
/// text, already checked against the declared kinds); a prompt template finds
/// its options in `ctx.vars`: `Options(&ctx.vars)`.
#[derive(Clone, Copy, Debug)]
pub struct Options<'a>(pub &'a [(String, String)]);

impl<'a> Options<'a> {
    /// The value of `key` (the last one if it is given twice).
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A number option, or `default` when it is not set.
    pub fn number(&self, key: &str, default: f64) -> f64 {
        self.get(key)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(default)
    }

    /// A boolean option, or `default` when it is not set.
    pub fn boolean(&self, key: &str, default: bool) -> bool {
        match self.get(key) {
            Some("true") => true,
            Some("false") => false,
            _ => default,
        }
    }
}

/// Generates the `meta()` and `option-specs()` exports for one world.
#[doc(hidden)]
#[macro_export]
macro_rules! __impl_meta {
    ($world:ident, $kind:ident, $t:ident, $trait:ident) => {
        impl $crate::$world::bindings::Guest for $t {
            fn meta() -> $crate::$world::bindings::econ::plugins::types::PluginMeta {
                let m = <$t as $crate::$world::$trait>::manifest();
                $crate::$world::bindings::econ::plugins::types::PluginMeta {
                    name: m.name,
                    kind: $crate::$world::bindings::econ::plugins::types::PluginKind::$kind,
                    version: m.version,
                    description: m.description,
                    author: m.author,
                }
            }

            fn option_specs() -> Vec<$crate::$world::bindings::econ::plugins::types::OptionSpec> {
                use $crate::$world::bindings::econ::plugins::types::{OptionKind, OptionSpec};
                <$t as $crate::$world::$trait>::manifest()
                    .options
                    .into_iter()
                    .map(|o| OptionSpec {
                        kind: match o.kind {
                            "number" => OptionKind::Number,
                            "boolean" => OptionKind::Boolean,
                            _ => OptionKind::Text,
                        },
                        name: o.name,
                        default: o.default,
                        description: o.description,
                    })
                    .collect()
            }
        }
    };
}

pub mod reward {
    //! The `reward` world: TS / AL / CC per agent for one episode.
    pub use crate::{Manifest, Options, cosine};

    #[doc(hidden)]
    pub mod bindings {
        wit_bindgen::generate!({
            path: "../../wit",
            world: "econ:plugins/reward",
            pub_export_macro: true,
            export_macro_name: "__export_reward",
            default_bindings_module: "econ_plugin_sdk::reward::bindings",
        });
    }

    pub use bindings::econ::plugins::types::Sampling;
    pub use bindings::exports::econ::plugins::scorer::{
        AgentReward, Episode, ExecutorResult, RewardWeights,
    };

    pub trait Reward {
        fn manifest() -> Manifest;
        /// One reward per executor, in the order of `episode.executors`;
        /// `options` are the plugin's from the config.
        fn score(episode: Episode, options: &Options) -> Result<Vec<AgentReward>, String>;
    }

    /// Export `$t: Reward` as this component's `reward` world.
    #[macro_export]
    macro_rules! reward {
        ($t:ident) => {
            $crate::__impl_meta!(reward, Reward, $t, Reward);
            impl $crate::reward::bindings::exports::econ::plugins::scorer::Guest for $t {
                fn score(
                    episode: $crate::reward::Episode,
                    options: Vec<(String, String)>,
                ) -> Result<Vec<$crate::reward::AgentReward>, String> {
                    <$t as $crate::reward::Reward>::score(episode, &$crate::Options(&options))
                }
            }
            // The export symbols ("econ:plugins/...#fn") only link in a wasm component;
            // native builds (unit tests of the plugin logic) keep just the trait impls.
            #[cfg(target_arch = "wasm32")]
            $crate::reward::bindings::__export_reward!($t);
        };
    }
}

pub mod dataset_adapter {
    //! The `dataset-adapter` world: raw JSON records to problems.
    pub use crate::{Manifest, Options};

    #[doc(hidden)]
    pub mod bindings {
        wit_bindgen::generate!({
            path: "../../wit",
            world: "econ:plugins/dataset-adapter",
            pub_export_macro: true,
            export_macro_name: "__export_dataset_adapter",
            default_bindings_module: "econ_plugin_sdk::dataset_adapter::bindings",
        });
    }

    pub use bindings::econ::plugins::types::Problem;
    pub use bindings::exports::econ::plugins::adapter::RawRecord;

    pub trait DatasetAdapter {
        fn manifest() -> Manifest;
        /// Convert one record (already parsed JSON); `line` is for messages.
        fn adapt(
            record: &crate::serde_json::Value,
            line: u32,
            options: &Options,
        ) -> Result<Problem, String>;
    }

    /// Parse each record's JSON and hand it to `T::adapt`; errors name the line.
    pub fn adapt_all<T: DatasetAdapter>(
        records: Vec<RawRecord>,
        options: Vec<(String, String)>,
    ) -> Vec<Result<Problem, String>> {
        let options = Options(&options);
        records
            .into_iter()
            .map(|r| {
                let value: crate::serde_json::Value = crate::serde_json::from_str(&r.json)
                    .map_err(|e| format!("line {}: not valid JSON: {e}", r.line))?;
                T::adapt(&value, r.line, &options).map_err(|e| {
                    if e.starts_with("line ") {
                        e
                    } else {
                        format!("line {}: {e}", r.line)
                    }
                })
            })
            .collect()
    }

    /// Export `$t: DatasetAdapter` as this component's `dataset-adapter` world.
    #[macro_export]
    macro_rules! dataset_adapter {
        ($t:ident) => {
            $crate::__impl_meta!(dataset_adapter, DatasetAdapter, $t, DatasetAdapter);
            impl $crate::dataset_adapter::bindings::exports::econ::plugins::adapter::Guest for $t {
                fn adapt(
                    records: Vec<$crate::dataset_adapter::RawRecord>,
                    options: Vec<(String, String)>,
                ) -> Vec<Result<$crate::dataset_adapter::Problem, String>> {
                    $crate::dataset_adapter::adapt_all::<$t>(records, options)
                }
            }
            // The export symbols ("econ:plugins/...#fn") only link in a wasm component;
            // native builds (unit tests of the plugin logic) keep just the trait impls.
            #[cfg(target_arch = "wasm32")]
            $crate::dataset_adapter::bindings::__export_dataset_adapter!($t);
        };
    }
}

pub mod prompt_template {
    //! The `prompt-template` world: chat messages for each LLM call. The
    //! template's options from the config are in each context's `vars`
    //! (`Options(&ctx.vars).get("system")`).
    pub use crate::{Manifest, Options};

    #[doc(hidden)]
    pub mod bindings {
        wit_bindgen::generate!({
            path: "../../wit",
            world: "econ:plugins/prompt-template",
            pub_export_macro: true,
            export_macro_name: "__export_prompt_template",
            default_bindings_module: "econ_plugin_sdk::prompt_template::bindings",
        });
    }

    pub use bindings::econ::plugins::types::ChatMessage;
    pub use bindings::exports::econ::plugins::templates::PromptContext;

    /// A `user` message.
    pub fn user(content: impl Into<String>) -> ChatMessage {
        ChatMessage {
            role: "user".into(),
            content: content.into(),
        }
    }

    /// A `system` message.
    pub fn system(content: impl Into<String>) -> ChatMessage {
        ChatMessage {
            role: "system".into(),
            content: content.into(),
        }
    }

    pub trait PromptTemplate {
        fn manifest() -> Manifest;
        /// Messages for one call; an unknown `ctx.stage` is an error.
        fn render(ctx: &PromptContext) -> Result<Vec<ChatMessage>, String>;
    }

    /// Export `$t: PromptTemplate` as this component's `prompt-template` world.
    #[macro_export]
    macro_rules! prompt_template {
        ($t:ident) => {
            $crate::__impl_meta!(prompt_template, PromptTemplate, $t, PromptTemplate);
            impl $crate::prompt_template::bindings::exports::econ::plugins::templates::Guest
                for $t
            {
                fn render(
                    contexts: Vec<$crate::prompt_template::PromptContext>,
                ) -> Vec<Result<Vec<$crate::prompt_template::ChatMessage>, String>> {
                    contexts
                        .iter()
                        .map(<$t as $crate::prompt_template::PromptTemplate>::render)
                        .collect()
                }
            }
            // The export symbols ("econ:plugins/...#fn") only link in a wasm component;
            // native builds (unit tests of the plugin logic) keep just the trait impls.
            #[cfg(target_arch = "wasm32")]
            $crate::prompt_template::bindings::__export_prompt_template!($t);
        };
    }
}

pub mod answer_parser {
    //! The `answer-parser` world: extract final answers, judge equivalence.
    pub use crate::{Manifest, Options};

    #[doc(hidden)]
    pub mod bindings {
        wit_bindgen::generate!({
            path: "../../wit",
            world: "econ:plugins/answer-parser",
            pub_export_macro: true,
            export_macro_name: "__export_answer_parser",
            default_bindings_module: "econ_plugin_sdk::answer_parser::bindings",
        });
    }

    pub use bindings::exports::econ::plugins::parser::Extraction;

    pub trait AnswerParser {
        fn manifest() -> Manifest;
        /// `options` (here and in `equivalent`) are the plugin's from the config.
        fn extract(text: &str, options: &Options) -> Extraction;
        fn equivalent(reference: &str, candidate: &str, options: &Options) -> bool;
    }

    /// Export `$t: AnswerParser` as this component's `answer-parser` world.
    #[macro_export]
    macro_rules! answer_parser {
        ($t:ident) => {
            $crate::__impl_meta!(answer_parser, AnswerParser, $t, AnswerParser);
            impl $crate::answer_parser::bindings::exports::econ::plugins::parser::Guest for $t {
                fn extract(
                    texts: Vec<String>,
                    options: Vec<(String, String)>,
                ) -> Vec<$crate::answer_parser::Extraction> {
                    let options = $crate::Options(&options);
                    texts
                        .iter()
                        .map(|t| <$t as $crate::answer_parser::AnswerParser>::extract(t, &options))
                        .collect()
                }
                fn equivalent(
                    reference: String,
                    candidates: Vec<String>,
                    options: Vec<(String, String)>,
                ) -> Vec<bool> {
                    let options = $crate::Options(&options);
                    candidates
                        .iter()
                        .map(|c| {
                            <$t as $crate::answer_parser::AnswerParser>::equivalent(
                                &reference, c, &options,
                            )
                        })
                        .collect()
                }
            }
            // The export symbols ("econ:plugins/...#fn") only link in a wasm component;
            // native builds (unit tests of the plugin logic) keep just the trait impls.
            #[cfg(target_arch = "wasm32")]
            $crate::answer_parser::bindings::__export_answer_parser!($t);
        };
    }
}
