//! Plugins on the Hugging Face Hub: `plugins install hf://ORG/REPO[/PATH][@REVISION]`
//! (a model repository; `hf://datasets/ORG/REPO/...` for a dataset one).
//!
//! The revision (default "main") is resolved to its commit first and the file
//! is downloaded from that commit, so what was listed is what arrives; the
//! file's bytes must hash to the sha256 the hub gives for it (every file the
//! hub stores in LFS or Xet, which a `.wasm` always is). Without PATH the
//! repository must hold exactly one `.wasm`. HF_ENDPOINT and HF_TOKEN are
//! honoured, as `huggingface_hub` does; plain HTTP only on a loopback address.

use std::fmt;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;

use crate::plugins::MAX_PLUGIN_FILE_BYTES;

pub const SCHEME: &str = "hf://";

/// `hf://[datasets/]ORG/REPO[/PATH][@REVISION]`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HfRef {
    /// "models" or "datasets".
    pub kind: &'static str,
    /// ORG/REPO
    pub repo: String,
    pub path: Option<String>,
    pub revision: String,
}

impl HfRef {
    pub fn parse(text: &str) -> Result<HfRef> {
        let shape = "a Hub reference looks like hf://ORG/REPO[/PATH/TO/PLUGIN.wasm][@REVISION]";
        let Some(rest) = text.strip_prefix(SCHEME) else {
            bail!("{text:?}: {shape}");
        };
        let (rest, revision) = match rest.rsplit_once('@') {
            Some((r, rev)) if !rev.is_empty() => (r, rev.to_string()),
            Some(_) => bail!("{text:?}: an empty revision after '@'; {shape}"),
            None => (rest, "main".to_string()),
        };
        let (kind, rest) = match rest.strip_prefix("datasets/") {
            Some(r) => ("datasets", r),
            None => ("models", rest.strip_prefix("models/").unwrap_or(rest)),
        };
        let parts: Vec<&str> = rest.split('/').collect();
        if parts.len() < 2 {
            bail!("{text:?}: no ORG/REPO; {shape}");
        }
        let name_ok = |p: &str| {
            !p.is_empty()
                && p != "."
                && p != ".."
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        };
        if !parts.iter().all(|p| name_ok(p)) {
            bail!("{text:?}: each part must be letters, digits, '-', '_' or '.'; {shape}");
        }
        if revision.split('/').any(|p| !name_ok(p)) {
            bail!("{text:?}: {revision:?} is not a branch, tag or commit");
        }
        Ok(HfRef {
            kind,
            repo: parts[..2].join("/"),
            path: (parts.len() > 2).then(|| parts[2..].join("/")),
            revision,
        })
    }

    fn prefix(&self) -> &'static str {
        if self.kind == "datasets" {
            "datasets/"
        } else {
            ""
        }
    }
}

impl fmt::Display for HfRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}{}", self.prefix(), self.repo)?;
        if let Some(p) = &self.path {
            write!(f, "/{p}")?;
        }
        write!(f, "@{}", self.revision)
    }
}

#[derive(Deserialize)]
struct RepoInfo {
    sha: String,
    #[serde(default)]
    siblings: Vec<Sibling>,
}

#[derive(Deserialize)]
struct Sibling {
    rfilename: String,
    #[serde(default)]
    lfs: Option<Lfs>,
}

#[derive(Deserialize)]
struct Lfs {
    sha256: String,
}

/// The plugin file at `source`, checked against the hub's sha256, and the
/// reference pinned to the commit it came from.
pub fn pull(source: &HfRef) -> Result<(Vec<u8>, HfRef)> {
    let endpoint = crate::data::hf_endpoint();
    let url =
        reqwest::Url::parse(&endpoint).with_context(|| format!("HF_ENDPOINT {endpoint:?}"))?;
    if url.scheme() != "https" && !super::is_loopback_host(url.host_str().unwrap_or("")) {
        bail!("HF_ENDPOINT {endpoint}: plain HTTP only for a hub on a loopback address");
    }
    let token = crate::data::hf_token();
    let client = crate::http::tls::client_builder()
        .connect_timeout(Duration::from_secs(20))
        .read_timeout(Duration::from_secs(120))
        .build()
        .context("building the HTTP client")?;
    let get = |url: &str| {
        let request = client.get(url);
        match &token {
            Some(t) => request.bearer_auth(t.trim()),
            None => request,
        }
    };
    super::runtime()?
        .block_on(async {
            let info_url = format!(
                "{endpoint}/api/{}/{}/revision/{}?blobs=true",
                source.kind,
                source.repo,
                source.revision.replace('/', "%2F")
            );
            let response = get(&info_url)
                .send()
                .await
                .map_err(crate::http::tls::explain)
                .with_context(|| format!("GET {info_url}"))?;
            let status = response.status();
            if !status.is_success() {
                let hint = match status.as_u16() {
                    401 | 403 => ": a private or gated repository needs HF_TOKEN",
                    404 => ": no such repository or revision",
                    _ => "",
                };
                bail!("GET {info_url}: {status}{hint}");
            }
            let info: RepoInfo = response
                .json()
                .await
                .with_context(|| format!("reading {info_url}"))?;
            if !(info.sha.len() == 40 && info.sha.bytes().all(|b| b.is_ascii_hexdigit())) {
                bail!(
                    "{info_url} answered a commit {:?} that is not a hash",
                    info.sha
                );
            }
            let file = match &source.path {
                Some(path) => info
                    .siblings
                    .iter()
                    .find(|s| &s.rfilename == path)
                    .ok_or_else(|| anyhow!("{source}: no file {path:?} at commit {}", info.sha))?,
                None => {
                    let wasm: Vec<&Sibling> = info
                        .siblings
                        .iter()
                        .filter(|s| s.rfilename.ends_with(".wasm"))
                        .collect();
                    match wasm[..] {
                        [one] => one,
                        [] => bail!("{source}: the repository holds no .wasm file"),
                        _ => bail!(
                            "{source}: the repository holds {} .wasm files ({}); name one: \
                             hf://{}/PATH",
                            wasm.len(),
                            wasm.iter()
                                .map(|s| s.rfilename.as_str())
                                .collect::<Vec<_>>()
                                .join(", "),
                            source.repo
                        ),
                    }
                }
            };
            let Some(lfs) = &file.lfs else {
                bail!(
                    "{source}: the hub gives no sha256 for {} (not stored in LFS), so its \
                     download cannot be checked: refused",
                    file.rfilename
                );
            };
            let file_url = format!(
                "{endpoint}/{}{}/resolve/{}/{}",
                source.prefix(),
                source.repo,
                info.sha,
                file.rfilename
            );
            let response = get(&file_url)
                .send()
                .await
                .map_err(crate::http::tls::explain)
                .with_context(|| format!("GET {file_url}"))?;
            if !response.status().is_success() {
                bail!("GET {file_url}: {}", response.status());
            }
            let bytes =
                super::read_capped(response, MAX_PLUGIN_FILE_BYTES, &file.rfilename).await?;
            let got = crate::plugins::sha256_hex(&bytes);
            if !got.eq_ignore_ascii_case(&lfs.sha256) {
                bail!(
                    "{}: its bytes hash to sha256 {got}, the hub says {}: refused",
                    file.rfilename,
                    lfs.sha256
                );
            }
            let pinned = HfRef {
                path: Some(file.rfilename.clone()),
                revision: info.sha.clone(),
                ..source.clone()
            };
            Ok((bytes, pinned))
        })
        .with_context(|| format!("installing from {source}"))
}

#[cfg(test)]
mod tests {
    use super::HfRef;

    #[test]
    fn references_parse_and_print_back() {
        let r = HfRef::parse("hf://my-lab/econ-plugins/rewards/ts.wasm@v1").unwrap();
        assert_eq!((r.kind, r.repo.as_str()), ("models", "my-lab/econ-plugins"));
        assert_eq!(r.path.as_deref(), Some("rewards/ts.wasm"));
        assert_eq!(r.revision, "v1");
        assert_eq!(r.to_string(), "hf://my-lab/econ-plugins/rewards/ts.wasm@v1");
        let d = HfRef::parse("hf://datasets/org/repo").unwrap();
        assert_eq!(
            (d.kind, d.path.as_ref(), d.revision.as_str()),
            ("datasets", None, "main")
        );
        for bad in [
            "hf://org",
            "hf://org/../x",
            "hf://org/repo@",
            "http://org/repo",
            "hf://o/r@a/../b",
        ] {
            assert!(HfRef::parse(bad).is_err(), "{bad}");
        }
    }
}
