//! The WIT versions this host serves (Zed's extension host layout): one
//! module per shipped minor version, `since_v0_1_0` for `econ:plugins@0.1.x`,
//! and [`latest`] for the one in `wit/` that new plugins are built against.
//! A guest built for any supported version loads and runs unchanged
//! (`tests/fixtures/wit-0.1.0/` keeps one); a new minor version adds a module
//! here and the host keeps the old ones.

pub mod since_v0_1_0;

pub use since_v0_1_0 as latest;

/// The WIT package.
pub const WIT_PACKAGE: &str = "econ:plugins";

/// The package version of `wit/econ-plugins.wit`, read from that file by
/// build.rs: written in one place.
pub const WIT_VERSION: &str = env!("ECON_WIT_VERSION");

/// The versions guests may be built for, for messages.
pub const SUPPORTED: &str = "0.1.x";

/// Same major.minor for 0.x versions, same major from 1.0 on (semver).
pub(super) fn version_supported(version: &str) -> bool {
    let parse = |v: &str| -> Option<(u64, u64)> {
        let mut it = v.split('.');
        Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
    };
    match (parse(version), parse(WIT_VERSION)) {
        (Some((0, minor)), Some((0, ours))) => minor == ours,
        (Some((major, _)), Some((ours, _))) => major == ours && major != 0,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::version_supported;

    #[test]
    fn versions() {
        assert!(version_supported("0.1.0"));
        assert!(version_supported("0.1.7"));
        assert!(!version_supported("0.2.0"));
        assert!(!version_supported("1.0.0"));
        assert!(!version_supported(""));
    }
}
