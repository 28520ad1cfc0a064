//! Typed bindings of `econ:plugins@0.2.x` (the latest), one module per
//! world. The types every world shares (`econ:plugins/types`) are generated once, with the
//! reward world, and reused by the others (`with:`), so a `Problem` or a
//! `PluginKind` is one Rust type whichever world it comes from.

use anyhow::{Context, Result};
use wasmtime::component::InstancePre;

use crate::plugins::call::sandboxed;
use crate::plugins::handles::{Core, EquivalentOut, ExtractOut, ScoreOut, Unnamed};
use crate::plugins::lift::Export;
use crate::plugins::limits::{CallState, Limits};
use crate::plugins::worlds::PluginKind;

/// The version its exports are looked up with (lookups are semver-aware).
pub const EXPORT_VERSION: &str = "0.2.0";

/// Its worlds declare options (`option-specs`), and every call takes them.
pub const HAS_OPTIONS: bool = true;

/// Check the component against its 0.2 world and read its meta() and
/// option-specs().
pub(in crate::plugins) fn describe(
    engine: &wasmtime::Engine,
    pre: &InstancePre<CallState>,
    kind: PluginKind,
    limits: &Limits,
    file: &std::path::Path,
) -> Result<(reward::PluginMeta, Vec<reward::OptionSpec>)> {
    let binding = || format!("plugin {}: binding the {kind} world", file.display());
    macro_rules! meta_of {
        ($module:ident, $Pre:ident) => {{
            let pre = $module::$Pre::new(pre.clone())
                .map_err(anyhow::Error::from)
                .with_context(binding)?;
            sandboxed(engine, limits, &Unnamed(file), "meta", |store| {
                let instance = pre.instantiate(&mut *store)?;
                let meta = instance.call_meta(&mut *store)?;
                Ok((meta, instance.call_option_specs(store)?))
            })
        }};
    }
    match kind {
        PluginKind::Reward => meta_of!(reward, RewardPre),
        PluginKind::DatasetAdapter => meta_of!(dataset_adapter, DatasetAdapterPre),
        PluginKind::PromptTemplate => meta_of!(prompt_template, PromptTemplatePre),
        PluginKind::AnswerParser => meta_of!(answer_parser, AnswerParserPre),
    }
}

pub(in crate::plugins) fn score(
    core: &Core,
    pre: &InstancePre<CallState>,
    export: &Export,
    episode: &reward::Episode,
) -> Result<ScoreOut> {
    core.call_lifted::<(&reward::Episode, &[(String, String)]), ScoreOut>(
        "score",
        pre,
        export,
        (episode, &core.options),
    )
}

pub(in crate::plugins) fn extract(
    core: &Core,
    pre: &InstancePre<CallState>,
    export: &Export,
    texts: &[String],
) -> Result<ExtractOut> {
    core.call_lifted::<(&[String], &[(String, String)]), ExtractOut>(
        "extract",
        pre,
        export,
        (texts, &core.options),
    )
}

pub(in crate::plugins) fn equivalent(
    core: &Core,
    pre: &InstancePre<CallState>,
    export: &Export,
    reference: &str,
    candidates: &[String],
) -> Result<EquivalentOut> {
    core.call_lifted::<(&str, &[String], &[(String, String)]), EquivalentOut>(
        "equivalent",
        pre,
        export,
        (reference, candidates, &core.options),
    )
}

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
