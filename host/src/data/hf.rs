//! Hugging Face datasets: the files of one split, read from the hub cache —
//! the layout `huggingface_hub` and the hf-hub crate write:
//!
//! ```text
//! {cache}/datasets--{org}--{name}/refs/{revision}        the commit hash
//! {cache}/datasets--{org}--{name}/snapshots/{hash}/...   the repository's files
//! ```
//!
//! A split's files are the data files (.parquet, .jsonl, .json, .csv) whose
//! path names the split as a whole word between separators (`/ - _ . space`),
//! as the `datasets` library names them: `data/train-00000-of-00001.parquet`,
//! `main/test-00000-of-00001.parquet`, `train.jsonl`, `train/0000.parquet`.
//! A split may name a folder too (`main/train`) to pick one of several configs.
//!
//! When the split is not in the cache it is downloaded into it (the same
//! layout; files are written in place rather than as blob links), unless
//! HF_HUB_OFFLINE is set. HF_ENDPOINT and HF_TOKEN are honoured.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};

use super::files::Format;

/// One data file of a split.
pub struct HfFile {
    /// Path inside the repository, e.g. "main/train-00000-of-00001.parquet".
    pub name: String,
    pub path: PathBuf,
    pub format: Format,
}

/// The hub cache folder: HF_HUB_CACHE, else HF_HOME/hub, else
/// XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
pub fn default_cache() -> PathBuf {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(hub) = var("HF_HUB_CACHE") {
        return hub;
    }
    if let Some(home) = var("HF_HOME") {
        return home.join("hub");
    }
    let cache = var("XDG_CACHE_HOME")
        .or_else(|| dirs::home_dir().map(|h| h.join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    cache.join("huggingface").join("hub")
}

/// The cache folder of one dataset repository.
pub fn repo_folder(cache: &Path, id: &str) -> PathBuf {
    cache.join(format!("datasets--{}", id.replace('/', "--")))
}

fn is_commit(revision: &str) -> bool {
    revision.len() == 40 && revision.chars().all(|c| c.is_ascii_hexdigit())
}

/// The cached snapshot folder of `revision` (a branch, tag or commit).
fn snapshot(cache: &Path, id: &str, revision: &str) -> Option<PathBuf> {
    let repo = repo_folder(cache, id);
    let commit = if is_commit(revision) {
        revision.to_string()
    } else {
        std::fs::read_to_string(repo.join("refs").join(revision))
            .ok()?
            .trim()
            .to_string()
    };
    if commit.is_empty() || commit.contains(['/', '\\']) || commit == ".." {
        return None;
    }
    let folder = repo.join("snapshots").join(commit);
    folder.is_dir().then_some(folder)
}

/// Whether `name` (a path inside the repository) names `split` as a whole word.
fn names_split(name: &str, split: &str) -> bool {
    let stem = match name.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => name,
    };
    let sep = |c: char| matches!(c, '/' | '-' | '_' | '.' | ' ');
    stem.match_indices(split).any(|(i, _)| {
        let before = stem[..i].chars().next_back().is_none_or(sep);
        let after = stem[i + split.len()..].chars().next().is_none_or(sep);
        before && after
    })
}

/// Why no files were picked for a split.
enum Pick {
    /// No data file names it (in a cache, it may not have been downloaded yet).
    Missing(String),
    /// It names files in several folders: the config must say which.
    Ambiguous(String),
}

impl std::fmt::Display for Pick {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pick::Missing(m) | Pick::Ambiguous(m) => f.write_str(m),
        }
    }
}

/// The data files among `names` that make up `split`, in name order.
fn select(names: &[String], split: &str) -> Result<Vec<String>, Pick> {
    let data: Vec<&String> = names
        .iter()
        .filter(|n| {
            !n.split('/').any(|part| part.starts_with('.'))
                && Format::from_path(Path::new(n.as_str())).is_some()
        })
        .collect();
    let mut chosen: Vec<String> = data
        .iter()
        .filter(|n| names_split(n, split))
        .map(|n| n.to_string())
        .collect();
    chosen.sort();
    if chosen.is_empty() {
        let mut listed: Vec<&str> = data.iter().take(20).map(|n| n.as_str()).collect();
        if data.len() > 20 {
            listed.push("...");
        }
        return Err(Pick::Missing(format!(
            "no data file names split {split:?} (data files: {})",
            if listed.is_empty() {
                "none".to_string()
            } else {
                listed.join(", ")
            }
        )));
    }
    let folder = |n: &str| {
        n.rsplit_once('/')
            .map_or(String::new(), |(f, _)| f.to_string())
    };
    let mut folders: Vec<String> = chosen.iter().map(|n| folder(n)).collect();
    folders.dedup();
    if folders.len() > 1 {
        return Err(Pick::Ambiguous(format!(
            "split {split:?} names files in several folders ({}); choose one in \
             dataset.hf_split / dataset.test_hf_split, e.g. \"{}/{split}\"",
            folders
                .iter()
                .map(|f| format!("{f}/"))
                .collect::<Vec<_>>()
                .join(", "),
            folders
                .iter()
                .find(|f| !f.is_empty())
                .map_or("main", |f| f.as_str()),
        )));
    }
    Ok(chosen)
}

/// Every file under `root`, as '/'-separated relative names.
fn walk(root: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))?
        {
            let path = entry
                .with_context(|| format!("listing {}", dir.display()))?
                .path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(rel) = path.strip_prefix(root) {
                let parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                out.push(parts.join("/"));
            }
        }
    }
    out.sort();
    Ok(out)
}

fn from_snapshot(folder: &Path, split: &str) -> Result<Vec<HfFile>, Pick> {
    let all = walk(folder).map_err(|e| Pick::Missing(format!("{e:#}")))?;
    let names = select(&all, split)?;
    Ok(names
        .into_iter()
        .map(|name| {
            let path = folder.join(&name);
            let format = Format::from_path(&path).expect("selected by format");
            HfFile { name, path, format }
        })
        .collect())
}

fn offline() -> bool {
    std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        )
    })
}

/// The files of `split` of dataset `id` at `revision`: from the cache, or
/// downloaded into it.
pub fn split_files(cache: &Path, id: &str, revision: &str, split: &str) -> Result<Vec<HfFile>> {
    let cached = snapshot(cache, id, revision);
    let mut cache_error = None;
    if let Some(folder) = &cached {
        match from_snapshot(folder, split) {
            Ok(files) => return Ok(files),
            Err(Pick::Ambiguous(m)) => bail!("Hugging Face dataset {id}: {m}"),
            Err(Pick::Missing(m)) => cache_error = Some(m),
        }
    }
    let why = if offline() {
        "HF_HUB_OFFLINE is set".to_string()
    } else {
        match download(cache, id, revision, split) {
            Ok(folder) => {
                return from_snapshot(&folder, split)
                    .map_err(|p| anyhow!("Hugging Face dataset {id}: {p}"));
            }
            Err(e) => format!("downloading failed: {e:#}"),
        }
    };
    let what = match (&cached, cache_error) {
        (Some(folder), Some(e)) => format!("is in the cache ({}) but {e};", folder.display()),
        _ => format!(
            "(revision {revision:?}) is not in the Hugging Face hub cache {} (looked for {});",
            cache.display(),
            repo_folder(cache, id).join("refs").join(revision).display()
        ),
    };
    Err(anyhow!(
        "Hugging Face dataset {id} {what} {why}. Pre-fill the cache on a machine with network \
         access (`hf download {id} --repo-type dataset --revision {revision} --cache-dir <DIR>`, \
         or huggingface_hub's snapshot_download) and copy its datasets--* folder into {}, or point \
         dataset.hf_cache (or HF_HUB_CACHE) at such a cache, or give the files with dataset.path",
        cache.display()
    ))
}

/// The repository's metadata at a revision (the hub's API answer, in part).
#[derive(serde::Deserialize)]
struct RepoInfo {
    sha: String,
    siblings: Vec<Sibling>,
}

#[derive(serde::Deserialize)]
struct Sibling {
    rfilename: String,
}

/// Download the split's files into the cache; the snapshot folder.
fn download(cache: &Path, id: &str, revision: &str, split: &str) -> Result<PathBuf> {
    let (cache, id, revision, split) = (
        cache.to_path_buf(),
        id.to_string(),
        revision.to_string(),
        split.to_string(),
    );
    // Its own thread and runtime: callers may or may not be inside one.
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting a runtime for the download")?;
        runtime.block_on(fetch(&cache, &id, &revision, &split))
    })
    .join()
    .map_err(|_| anyhow!("the download thread panicked"))?
}

/// The Hub's address: HF_ENDPOINT (as `huggingface_hub` reads it), else
/// huggingface.co; no trailing slash.
pub(crate) fn endpoint() -> String {
    std::env::var("HF_ENDPOINT")
        .ok()
        .filter(|e| !e.trim().is_empty())
        .unwrap_or_else(|| "https://huggingface.co".into())
        .trim_end_matches('/')
        .to_string()
}

/// HF_TOKEN, when set.
pub(crate) fn token() -> Option<String> {
    std::env::var("HF_TOKEN")
        .ok()
        .filter(|t| !t.trim().is_empty())
}

// Long on purpose: one download with its resume, checksum and atomic rename, each failure
// naming the file.
async fn fetch(cache: &Path, id: &str, revision: &str, split: &str) -> Result<PathBuf> {
    let endpoint = endpoint();
    let endpoint = endpoint.as_str();
    let client = crate::http::tls::client_builder()
        .connect_timeout(Duration::from_secs(20))
        .timeout(Duration::from_secs(1800))
        .build()?;
    let token = token();
    let get = |url: String| {
        let request = client.get(url);
        match &token {
            Some(t) => request.bearer_auth(t.trim()),
            None => request,
        }
    };
    let url = format!(
        "{endpoint}/api/datasets/{id}/revision/{}",
        revision.replace('/', "%2F")
    );
    let info: RepoInfo = get(url.clone())
        .send()
        .await
        .map_err(crate::http::tls::explain)
        .with_context(|| format!("GET {url}"))?
        .error_for_status()?
        .json()
        .await
        .with_context(|| format!("reading {url}"))?;
    if !is_commit(&info.sha) {
        bail!("{url} answered a commit {:?} that is not a hash", info.sha);
    }
    let names: Vec<String> = info.siblings.into_iter().map(|s| s.rfilename).collect();
    let chosen = select(&names, split).map_err(|p| anyhow!("on the hub: {p}"))?;
    let repo = repo_folder(cache, id);
    let folder = repo.join("snapshots").join(&info.sha);
    for name in &chosen {
        if name.split('/').any(|p| p.is_empty() || p == "..") {
            bail!("the hub listed a file {name:?} outside the repository");
        }
        let target = folder.join(name);
        if target.is_file() {
            continue;
        }
        let url = format!("{endpoint}/datasets/{id}/resolve/{}/{name}", info.sha);
        let mut response = get(url.clone())
            .send()
            .await
            .map_err(crate::http::tls::explain)
            .with_context(|| format!("GET {url}"))?
            .error_for_status()?;
        let parent = target.parent().expect("a file in the snapshot");
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
        let partial = target.with_extension("incomplete");
        let mut out = std::fs::File::create(&partial)
            .with_context(|| format!("creating {}", partial.display()))?;
        while let Some(chunk) = response
            .chunk()
            .await
            .with_context(|| format!("reading {url}"))?
        {
            std::io::Write::write_all(&mut out, &chunk)
                .with_context(|| format!("writing {}", partial.display()))?;
        }
        drop(out);
        std::fs::rename(&partial, &target)
            .with_context(|| format!("writing {}", target.display()))?;
    }
    if !is_commit(revision) {
        let reference = repo.join("refs").join(revision);
        std::fs::create_dir_all(reference.parent().expect("refs folder"))?;
        std::fs::write(&reference, &info.sha)
            .with_context(|| format!("writing {}", reference.display()))?;
    }
    Ok(folder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_names_are_whole_words() {
        for name in [
            "main/train-00000-of-00001.parquet",
            "data/train.jsonl",
            "train/0000.parquet",
            "plain_text/imdb-train.parquet",
            "train.csv",
        ] {
            assert!(names_split(name, "train"), "{name}");
        }
        for name in [
            "main/trainer.parquet",
            "contest.jsonl",
            "data/pretrain-0.parquet",
        ] {
            assert!(!names_split(name, "train"), "{name}");
        }
        assert!(names_split("main/test-00000-of-00001.parquet", "main/test"));
        assert!(!names_split(
            "socratic/test-00000-of-00001.parquet",
            "main/test"
        ));
    }

    #[test]
    fn one_split_from_several_configs_must_be_named() {
        let names: Vec<String> = [
            "README.md",
            ".gitattributes",
            "main/test-00000-of-00001.parquet",
            "main/train-00000-of-00001.parquet",
            "socratic/test-00000-of-00001.parquet",
            "socratic/train-00000-of-00001.parquet",
        ]
        .map(String::from)
        .to_vec();
        let err = select(&names, "train").unwrap_err().to_string();
        assert!(
            err.contains("main/, socratic/") && err.contains("\"main/train\""),
            "{err}"
        );
        assert_eq!(
            select(&names, "socratic/train").ok().unwrap(),
            vec!["socratic/train-00000-of-00001.parquet"]
        );
        let err = select(&names, "validation").unwrap_err().to_string();
        assert!(
            err.contains("no data file names split \"validation\""),
            "{err}"
        );
    }
}
