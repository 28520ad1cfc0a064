//! Plugins shared between people: where a plugin to install comes from (a
//! file, an OCI registry, the Hugging Face Hub), publishing one to a registry, the lock file
//! that pins the plugin files a config runs with, and the plugin interface itself as a
//! package ([`wit`]).

pub mod hf;
pub mod lock;
pub mod oci;
pub mod wit;

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

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

/// A runtime of its own for one command's downloads (the commands are
/// synchronous).
fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Whether `host` (a name, an IPv4 address, or an IPv6 one with or without
/// brackets) is this machine: the only place plain HTTP is spoken to.
fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A response body of at most `limit` bytes, refused once it says or
/// proves to be larger.
async fn read_capped(response: reqwest::Response, limit: u64, what: &str) -> Result<Vec<u8>> {
    if response.content_length().is_some_and(|n| n > limit) {
        bail!("{what} is larger than {limit} bytes: refused");
    }
    let mut out = Vec::new();
    let mut response = response;
    while let Some(chunk) = response
        .chunk()
        .await
        .with_context(|| format!("reading {what}"))?
    {
        if out.len() as u64 + chunk.len() as u64 > limit {
            bail!("{what} is larger than {limit} bytes: refused");
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}
