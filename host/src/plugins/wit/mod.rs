//! The WIT versions this host serves (Zed's extension host layout): one
//! module per shipped minor version, `since_v0_1_0` for `econ:plugins@0.1.x`,
//! `since_v0_2_0` for 0.2.x, and [`latest`] for the one in `wit/` that new
//! plugins are built against. A guest built for any supported version loads
//! and runs unchanged (`tests/fixtures/wit-0.1.0/` keeps one); a new minor
//! version adds a module here, freezes its predecessor's WIT under
//! `wit/since_v<version>/`, and the host keeps the old ones.
//!
//! Each module owns its export version, whether its calls take options, the
//! check of a component against its worlds and its calls' arguments; the
//! methods of [`WitLine`] are the one place that picks a module by version.

pub mod since_v0_1_0;
pub mod since_v0_2_0;

use anyhow::Result;
use wasmtime::component::InstancePre;

use super::handles::{Core, EquivalentOut, ExtractOut, ScoreOut};
use super::lift::Export;
use super::limits::{CallState, Limits};
use super::worlds::PluginKind;

pub use since_v0_2_0 as latest;

/// The WIT package.
pub const WIT_PACKAGE: &str = "econ:plugins";

/// `wit/econ-plugins.wit`, the package new plugins are built against, as
/// text: what scaffolds copy and `plugins wit publish` encodes.
pub const WIT_TEXT: &str = include_str!("../../../../wit/econ-plugins.wit");

/// The package version of `wit/econ-plugins.wit`, read from that file by
/// build.rs: written in one place.
pub const WIT_VERSION: &str = env!("ECON_WIT_VERSION");

/// The versions guests may be built for, for messages.
pub const SUPPORTED: &str = "0.1.x, 0.2.x";

/// A minor version of the package that this host serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WitLine {
    /// 0.1.x: no plugin options (a prompt template still gets `vars`).
    V0_1,
    /// 0.2.x: `option-specs`, options on every call.
    V0_2,
}

impl WitLine {
    /// The version its exports are looked up with.
    pub fn export_version(self) -> &'static str {
        match self {
            WitLine::V0_1 => since_v0_1_0::EXPORT_VERSION,
            WitLine::V0_2 => since_v0_2_0::EXPORT_VERSION,
        }
    }

    /// Whether its worlds declare options and its calls take them.
    pub fn has_options(self) -> bool {
        match self {
            WitLine::V0_1 => since_v0_1_0::HAS_OPTIONS,
            WitLine::V0_2 => since_v0_2_0::HAS_OPTIONS,
        }
    }

    /// Check the component against its world in this line and read its
    /// meta() and declared options, in the same sandbox as every other call.
    pub(in crate::plugins) fn describe(
        self,
        engine: &wasmtime::Engine,
        pre: &InstancePre<CallState>,
        kind: PluginKind,
        limits: &Limits,
        file: &std::path::Path,
    ) -> Result<(latest::reward::PluginMeta, Vec<latest::reward::OptionSpec>)> {
        match self {
            WitLine::V0_1 => since_v0_1_0::describe(engine, pre, kind, limits, file),
            WitLine::V0_2 => since_v0_2_0::describe(engine, pre, kind, limits, file),
        }
    }

    pub(in crate::plugins) fn score(
        self,
        core: &Core,
        pre: &InstancePre<CallState>,
        export: &Export,
        episode: &latest::reward::Episode,
    ) -> Result<ScoreOut> {
        match self {
            WitLine::V0_1 => since_v0_1_0::score(core, pre, export, episode),
            WitLine::V0_2 => since_v0_2_0::score(core, pre, export, episode),
        }
    }

    pub(in crate::plugins) fn extract(
        self,
        core: &Core,
        pre: &InstancePre<CallState>,
        export: &Export,
        texts: &[String],
    ) -> Result<ExtractOut> {
        match self {
            WitLine::V0_1 => since_v0_1_0::extract(core, pre, export, texts),
            WitLine::V0_2 => since_v0_2_0::extract(core, pre, export, texts),
        }
    }

    pub(in crate::plugins) fn equivalent(
        self,
        core: &Core,
        pre: &InstancePre<CallState>,
        export: &Export,
        reference: &str,
        candidates: &[String],
    ) -> Result<EquivalentOut> {
        match self {
            WitLine::V0_1 => since_v0_1_0::equivalent(core, pre, export, reference, candidates),
            WitLine::V0_2 => since_v0_2_0::equivalent(core, pre, export, reference, candidates),
        }
    }
}

/// Whether guests built for WIT `version` load in this host.
pub fn serves(version: &str) -> bool {
    line_of(version).is_some()
}

/// Whether two versions belong to one line this host serves.
pub fn same_line(a: &str, b: &str) -> bool {
    line_of(a).is_some() && line_of(a) == line_of(b)
}

/// The line `version` belongs to: same major.minor for 0.x versions (semver);
/// `None` for a version this host cannot serve.
pub(super) fn line_of(version: &str) -> Option<WitLine> {
    let mut it = version.split('.');
    let major: u64 = it.next()?.parse().ok()?;
    let minor: u64 = it.next()?.parse().ok()?;
    match (major, minor) {
        (0, 1) => Some(WitLine::V0_1),
        (0, 2) => Some(WitLine::V0_2),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::{WIT_VERSION, WitLine, line_of, same_line};

    #[test]
    fn versions() {
        assert_eq!(line_of("0.1.0"), Some(WitLine::V0_1));
        assert_eq!(line_of("0.1.7"), Some(WitLine::V0_1));
        assert_eq!(line_of("0.2.0"), Some(WitLine::V0_2));
        assert_eq!(line_of("0.3.0"), None);
        assert_eq!(line_of("1.0.0"), None);
        assert_eq!(line_of(""), None);
        assert!(same_line("0.2.0", "0.2.5") && !same_line("0.1.0", "0.2.0"));
        assert!(!same_line("0.9.0", "0.9.0"));
        // The version new plugins are built for is one this host serves.
        assert_eq!(line_of(WIT_VERSION), Some(WitLine::V0_2));
    }
}
