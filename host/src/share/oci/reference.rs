//! `oci://REGISTRY/REPOSITORY:TAG` and `oci://REGISTRY/REPOSITORY@sha256:HEX`.

use std::fmt;

use anyhow::{Result, bail};

/// Where an artifact lives in a registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OciRef {
    /// host[:port], as given.
    pub registry: String,
    /// Path components, e.g. "econ/reward-x".
    pub repository: String,
    pub reference: Reference,
}

/// A tag (moves when republished) or a manifest digest (never moves).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reference {
    Tag(String),
    Digest(String),
}

impl Reference {
    pub fn as_str(&self) -> &str {
        match self {
            Reference::Tag(t) | Reference::Digest(t) => t,
        }
    }
}

pub const SCHEME: &str = "oci://";

impl OciRef {
    /// Parse `oci://...`; the error says what a reference looks like.
    pub fn parse(original: &str) -> Result<OciRef> {
        let shape = "an OCI reference looks like oci://REGISTRY/NAMESPACE/NAME:VERSION \
                     or oci://REGISTRY/NAMESPACE/NAME@sha256:DIGEST";
        // Errors show the reference without any credentials written into it.
        let shown = crate::http::redact_url(original);
        let text = shown.as_str();
        let Some(rest) = original.strip_prefix(SCHEME) else {
            bail!("{text:?}: {shape}");
        };
        let Some((registry, path)) = rest.split_once('/') else {
            bail!("{text:?}: no repository after the registry; {shape}");
        };
        if registry.contains('@') {
            bail!(
                "{text:?}: credentials do not belong in a reference; they come from \
                 `docker login` (~/.docker/config.json) or ECON_HOST_REGISTRY_USERNAME / \
                 ECON_HOST_REGISTRY_PASSWORD"
            );
        }
        if !is_registry(registry) {
            bail!("{text:?}: {registry:?} is not a registry host[:port]; {shape}");
        }
        let (repository, reference) = if let Some((repo, digest)) = path.split_once('@') {
            if !is_digest(digest) {
                bail!("{text:?}: {digest:?} is not sha256: and 64 lowercase hex digits");
            }
            (repo, Reference::Digest(digest.to_string()))
        } else {
            // The tag follows the last ':' after the last '/'.
            let last = path.rsplit('/').next().unwrap_or(path);
            let Some((name, tag)) = last.rsplit_once(':') else {
                bail!("{text:?}: no tag or digest; {shape}");
            };
            if !is_tag(tag) {
                bail!(
                    "{text:?}: {tag:?} is not a tag (letters, digits, '.', '_', '-'; at most 128)"
                );
            }
            let repo = &path[..path.len() - last.len() + name.len()];
            (repo, Reference::Tag(tag.to_string()))
        };
        if !is_repository(repository) {
            bail!(
                "{text:?}: {repository:?} is not a repository (lowercase letters and digits, \
                 components joined by '/', separated inside by '.', '_' or '-')"
            );
        }
        Ok(OciRef {
            registry: registry.to_string(),
            repository: repository.to_string(),
            reference,
        })
    }

    /// The same artifact pinned by its manifest digest.
    pub fn pinned(&self, digest: &str) -> OciRef {
        OciRef {
            reference: Reference::Digest(digest.to_string()),
            ..self.clone()
        }
    }

    /// Plain HTTP is allowed for a registry on this machine only.
    pub fn is_loopback(&self) -> bool {
        let host = match self.registry.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => self.registry.split(':').next().unwrap_or(""),
        };
        crate::share::is_loopback_host(host)
    }

    /// `http://host:port` on loopback, else `https://host`.
    pub fn base_url(&self) -> String {
        let scheme = if self.is_loopback() { "http" } else { "https" };
        format!("{scheme}://{}", self.registry)
    }
}

impl fmt::Display for OciRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sep = match self.reference {
            Reference::Tag(_) => ':',
            Reference::Digest(_) => '@',
        };
        write!(
            f,
            "{SCHEME}{}/{}{sep}{}",
            self.registry,
            self.repository,
            self.reference.as_str()
        )
    }
}

pub fn is_digest(s: &str) -> bool {
    s.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

fn is_registry(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
}

fn is_tag(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

fn is_repository(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.split('/').all(|part| {
            let bytes = part.as_bytes();
            !part.is_empty()
                && bytes[0].is_ascii_alphanumeric()
                && bytes[bytes.len() - 1].is_ascii_alphanumeric()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
        })
}

#[cfg(test)]
mod tests {
    use super::{OciRef, Reference};

    #[test]
    fn references_parse_and_print_back() {
        let r = OciRef::parse("oci://127.0.0.1:5000/econ/reward-x:0.1.0").unwrap();
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "econ/reward-x");
        assert_eq!(r.reference, Reference::Tag("0.1.0".into()));
        assert_eq!(r.to_string(), "oci://127.0.0.1:5000/econ/reward-x:0.1.0");
        assert!(r.is_loopback());
        assert_eq!(r.base_url(), "http://127.0.0.1:5000");
        let d = format!("sha256:{}", "a".repeat(64));
        let pinned = OciRef::parse(&format!("oci://ghcr.io/lab/parser@{d}")).unwrap();
        assert_eq!(pinned.reference, Reference::Digest(d.clone()));
        assert!(!pinned.is_loopback());
        assert_eq!(pinned.base_url(), "https://ghcr.io");
        assert_eq!(
            r.pinned(&d).to_string(),
            format!("oci://127.0.0.1:5000/econ/reward-x@{d}")
        );
        assert!(OciRef::parse("oci://[::1]:5000/a:b").unwrap().is_loopback());
        assert!(OciRef::parse("oci://localhost/a:b").unwrap().is_loopback());
        assert!(
            !OciRef::parse("oci://127.example.com/a:b")
                .unwrap()
                .is_loopback()
        );
    }

    #[test]
    fn bad_references_say_what_one_looks_like() {
        for bad in [
            "http://ghcr.io/a:b",
            "oci://ghcr.io",
            "oci://ghcr.io/a",
            "oci://ghcr.io/A/b:1",
            "oci://ghcr.io/a/../b:1",
            "oci://ghcr.io/a:1 2",
            "oci://ghcr.io/a@sha256:xyz",
            "oci://user:pw@ghcr.io/a:1",
        ] {
            let e = OciRef::parse(bad).unwrap_err().to_string();
            assert!(e.contains("oci://") || e.contains("not"), "{bad}: {e}");
            assert!(!e.contains("pw"), "{e}");
        }
    }
}
