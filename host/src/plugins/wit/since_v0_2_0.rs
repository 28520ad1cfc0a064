//! Typed bindings of `econ:plugins@0.2.x` (the latest), one module per
//! world. The types every world shares (`econ:plugins/types`) are generated once, with the
//! reward world, and reused by the others (`with:`), so a `Problem` or a
//! `PluginKind` is one Rust type whichever world it comes from.

pub mod reward {
    wasmtime::component::bindgen!({ path: "../wit", world: "econ:plugins/reward" });
    pub use econ::plugins::types::{OptionKind, PluginKind, Sampling};
    pub use exports::econ::plugins::scorer::{AgentReward, Episode, ExecutorResult, RewardWeights};
}

pub mod dataset_adapter {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "econ:plugins/dataset-adapter",
        with: { "econ:plugins/types": super::reward::econ::plugins::types },
    });
    pub use super::reward::econ::plugins::types::{PluginKind, Problem};
    pub use exports::econ::plugins::adapter::RawRecord;
}

pub mod prompt_template {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "econ:plugins/prompt-template",
        with: { "econ:plugins/types": super::reward::econ::plugins::types },
    });
    pub use super::reward::econ::plugins::types::{ChatMessage, PluginKind};
    pub use exports::econ::plugins::templates::PromptContext;
}

pub mod answer_parser {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "econ:plugins/answer-parser",
        with: { "econ:plugins/types": super::reward::econ::plugins::types },
    });
    pub use super::reward::econ::plugins::types::PluginKind;
    pub use exports::econ::plugins::parser::Extraction;
}
