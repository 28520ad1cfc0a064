//! The four plugin kinds (one per WIT world), the latest version's typed
//! bindings, and which world a component implements.

use std::fmt;

use anyhow::{Result, bail};
use wasmtime::Engine;
use wasmtime::component::Component;

pub use super::wit::latest::{answer_parser, dataset_adapter, prompt_template, reward};
use super::wit::{SUPPORTED, WIT_PACKAGE, WIT_VERSION, WitLine, line_of};

/// The four kinds of plugin, one per world.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PluginKind {
    Reward,
    DatasetAdapter,
    PromptTemplate,
    AnswerParser,
}

impl PluginKind {
    pub const ALL: [PluginKind; 4] = [
        PluginKind::Reward,
        PluginKind::DatasetAdapter,
        PluginKind::PromptTemplate,
        PluginKind::AnswerParser,
    ];

    /// The world's name in the WIT package.
    pub fn world(self) -> &'static str {
        match self {
            PluginKind::Reward => "reward",
            PluginKind::DatasetAdapter => "dataset-adapter",
            PluginKind::PromptTemplate => "prompt-template",
            PluginKind::AnswerParser => "answer-parser",
        }
    }

    /// The interface that world exports besides `meta`.
    pub(super) fn interface(self) -> &'static str {
        match self {
            PluginKind::Reward => "scorer",
            PluginKind::DatasetAdapter => "adapter",
            PluginKind::PromptTemplate => "templates",
            PluginKind::AnswerParser => "parser",
        }
    }
}

impl From<reward::PluginKind> for PluginKind {
    fn from(kind: reward::PluginKind) -> Self {
        match kind {
            reward::PluginKind::Reward => PluginKind::Reward,
            reward::PluginKind::DatasetAdapter => PluginKind::DatasetAdapter,
            reward::PluginKind::PromptTemplate => PluginKind::PromptTemplate,
            reward::PluginKind::AnswerParser => PluginKind::AnswerParser,
        }
    }
}

impl fmt::Display for PluginKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.world())
    }
}

/// Which world `component` implements, the WIT version it was built for, and
/// the line of versions the host serves it as.
///
/// Refuses a component built for a WIT version this host cannot serve, and one
/// that exports none of the worlds, saying what it does export.
pub fn detect_world(
    engine: &Engine,
    component: &Component,
) -> Result<(PluginKind, String, WitLine)> {
    let exports: Vec<String> = component
        .component_type()
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    let prefix = format!("{WIT_PACKAGE}/");
    for name in &exports {
        let Some(rest) = name.strip_prefix(&prefix) else {
            continue;
        };
        let (iface, version) = rest.split_once('@').unwrap_or((rest, ""));
        let Some(kind) = PluginKind::ALL.into_iter().find(|k| k.interface() == iface) else {
            continue;
        };
        let Some(line) = line_of(version) else {
            bail!(
                "built for WIT {WIT_PACKAGE}@{version}; this host serves {WIT_PACKAGE} \
                 {SUPPORTED}: rebuild it against this host's wit/ ({WIT_PACKAGE}@{WIT_VERSION})"
            );
        };
        if !exports.iter().any(|e| e == "meta") {
            bail!("exports {name} but no `meta` function: not built from the `{kind}` world");
        }
        return Ok((kind, version.to_string(), line));
    }
    bail!(
        "implements none of the worlds reward, dataset-adapter, prompt-template, answer-parser \
         of {WIT_PACKAGE}@{WIT_VERSION}; its exports are [{}]",
        exports.join(", ")
    )
}
