//! Which certificate authorities every HTTPS client of econ-host trusts
//! (chat completions, remote embeddings, the Hugging Face hub, the package
//! index): the built-in Mozilla roots plus the CA bundles a machine behind a
//! TLS-inspecting proxy is already set up with for Python — `$SSL_CERT_FILE`,
//! `$REQUESTS_CA_BUNDLE`, `$PIP_CERT`, `cert` in pip's config — and the
//! system's bundle. Decided here once, so every client agrees.

use std::path::PathBuf;
use std::sync::OnceLock;

/// The variables named in the hint of a certificate error, in the order read.
pub const CA_VARS: [&str; 3] = ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "PIP_CERT"];

/// A client builder with econ-host's user agent and the extra roots.
pub fn client_builder() -> reqwest::ClientBuilder {
    let mut builder =
        reqwest::Client::builder().user_agent(concat!("econ-host/", env!("CARGO_PKG_VERSION")));
    for root in extra_roots() {
        builder = builder.add_root_certificate(root.clone());
    }
    builder
}

/// The extra roots, read once per process. Unreadable bundles are skipped
/// with a warning naming the file.
pub fn extra_roots() -> &'static [reqwest::Certificate] {
    static ROOTS: OnceLock<Vec<reqwest::Certificate>> = OnceLock::new();
    ROOTS.get_or_init(read_roots)
}

fn read_roots() -> Vec<reqwest::Certificate> {
    let mut files: Vec<PathBuf> = Vec::new();
    for var in CA_VARS {
        if let Some(path) = std::env::var_os(var).filter(|p| !p.is_empty()) {
            files.push(path.into());
        }
    }
    if let Some(path) = super::pip_config("cert") {
        files.push(path.into());
    }
    for system in [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/cert.pem",
    ] {
        let path = PathBuf::from(system);
        if path.is_file() {
            files.push(path);
            break;
        }
    }
    let mut seen = std::collections::HashSet::new();
    let mut roots = Vec::new();
    for file in files {
        if !seen.insert(file.clone()) {
            continue;
        }
        match std::fs::read(&file)
            .map_err(anyhow::Error::from)
            .and_then(|pem| Ok(reqwest::Certificate::from_pem_bundle(&pem)?))
        {
            Ok(certs) => roots.extend(certs),
            Err(e) => tracing::warn!("CA bundle {}: {e}; skipped", file.display()),
        }
    }
    roots
}

/// When an error chain (as text) says the server's certificate was not
/// trusted — retrying cannot help, the CA has to be named — the error to
/// report instead: what to do, then the chain.
pub fn untrusted_certificate(chain: &str) -> Option<String> {
    let lower = chain.to_ascii_lowercase();
    let untrusted =
        lower.contains("invalid peer certificate") || lower.contains("certificate verify failed");
    untrusted.then(|| {
        format!(
            "the server's TLS certificate is not trusted; if a proxy or a private CA signs it, \
             point {} at that CA's PEM bundle (econ-host also reads pip's `cert` setting and \
             the system bundle) ({chain})",
            CA_VARS[0]
        )
    })
}

/// A failed request as an error that, for an untrusted certificate, says
/// what to do about it.
pub fn explain(error: reqwest::Error) -> anyhow::Error {
    match untrusted_certificate(&super::error_chain(&error)) {
        Some(why) => anyhow::anyhow!(why),
        None => anyhow::Error::new(error),
    }
}
