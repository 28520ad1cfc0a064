//! `econ:plugins@0.1.x`, kept so that plugins built for it load and run
//! unchanged. Its records are those of 0.2 (0.2 added `option-specs` and an
//! options argument, nothing else), so the types interface is mapped onto the
//! latest one with `with:` and the host passes the same values to both; these
//! bindings are used to check a 0.1 component against its world and to read
//! its `meta()`. Its calls are those of 0.2 without the options argument.

use anyhow::{Context, Result};
use wasmtime::component::InstancePre;

use super::since_v0_2_0 as latest;
use crate::plugins::call::sandboxed;
use crate::plugins::handles::{Core, EquivalentOut, ExtractOut, ScoreOut, Unnamed};
use crate::plugins::lift::Export;
use crate::plugins::limits::{CallState, Limits};
use crate::plugins::worlds::PluginKind;

/// The version its exports are looked up with (lookups are semver-aware:
/// a 0.1.3 plugin matches the 0.1.0 name).
pub const EXPORT_VERSION: &str = "0.1.0";

/// Its worlds declare no options, and its calls take none.
pub const HAS_OPTIONS: bool = false;

/// Check the component against its 0.1 world and read its meta(); it
/// declares no options.
pub(in crate::plugins) fn describe(
    engine: &wasmtime::Engine,
    pre: &InstancePre<CallState>,
    kind: PluginKind,
    limits: &Limits,
    file: &std::path::Path,
) -> Result<(latest::reward::PluginMeta, Vec<latest::reward::OptionSpec>)> {
    let binding = || format!("plugin {}: binding the {kind} world", file.display());
    macro_rules! meta_of {
        ($module:ident, $Pre:ident) => {{
            let pre = $module::$Pre::new(pre.clone())
                .map_err(anyhow::Error::from)
                .with_context(binding)?;
            sandboxed(engine, limits, &Unnamed(file), "meta", |store| {
                let meta = pre.instantiate(&mut *store)?.call_meta(store)?;
                Ok((meta, Vec::new()))
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
    episode: &latest::reward::Episode,
) -> Result<ScoreOut> {
    core.call_lifted::<(&latest::reward::Episode,), ScoreOut>("score", pre, export, (episode,))
}

pub(in crate::plugins) fn extract(
    core: &Core,
    pre: &InstancePre<CallState>,
    export: &Export,
    texts: &[String],
) -> Result<ExtractOut> {
    core.call_lifted::<(&[String],), ExtractOut>("extract", pre, export, (texts,))
}

pub(in crate::plugins) fn equivalent(
    core: &Core,
    pre: &InstancePre<CallState>,
    export: &Export,
    reference: &str,
    candidates: &[String],
) -> Result<EquivalentOut> {
    core.call_lifted::<(&str, &[String]), EquivalentOut>(
        "equivalent",
        pre,
        export,
        (reference, candidates),
    )
}

pub mod reward {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.1.0",
        world: "econ:plugins/reward",
        with: { "econ:plugins/types": super::latest::reward::econ::plugins::types },
    });
}

pub mod dataset_adapter {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.1.0",
        world: "econ:plugins/dataset-adapter",
        with: { "econ:plugins/types": super::latest::reward::econ::plugins::types },
    });
}

pub mod prompt_template {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.1.0",
        world: "econ:plugins/prompt-template",
        with: { "econ:plugins/types": super::latest::reward::econ::plugins::types },
    });
}

pub mod answer_parser {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.1.0",
        world: "econ:plugins/answer-parser",
        with: { "econ:plugins/types": super::latest::reward::econ::plugins::types },
    });
}
