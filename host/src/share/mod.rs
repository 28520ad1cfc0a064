//! Plugins shared between people: where a plugin to install comes from (a
//! file, an OCI registry, the Hugging Face Hub), publishing one to a registry, and the lock file
//! that pins the plugin files a config runs with.

pub mod hf;
pub mod lock;
pub mod oci;

use std::path::PathBuf;

use anyhow::Result;

/// Where `plugins install` takes a plugin from.
#[derive(Clone, Debug)]
pub enum Source {
    /// A file, or every .wasm of a folder.
    Path(PathBuf),
    /// An artifact in an OCI registry.
    Oci(oci::OciRef),
    /// A file in a Hugging Face Hub repository.
    Hf(hf::HfRef),
}

impl Source {
    pub fn parse(text: &str) -> Result<Source> {
        if text.starts_with(oci::reference::SCHEME) {
            return Ok(Source::Oci(oci::OciRef::parse(text)?));
        }
        if text.starts_with(hf::SCHEME) {
            return Ok(Source::Hf(hf::HfRef::parse(text)?));
        }
        Ok(Source::Path(PathBuf::from(text)))
    }
}
