//! run.json: how a run was made, beside its results. The econ-host version
//! and commit, the resolved config and its hash, the sha256 of every model
//! file, plugin and dataset file, the problem ids of each split, the machine,
//! and when it started and ended. A log folder holds one configuration: a
//! job whose config differs from the folder's run.json is refused.

use std::path::{Path, PathBuf};
use std::time::Instant;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::data::Splits as DataSplits;
use crate::error::bad_input;

pub const RUN_FILE: &str = "run.json";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunRecord {
    /// Names the run: kept by every job that continues it in this folder
    /// (resume, test), carried by its checkpoints.
    #[serde(default)]
    pub run_id: String,
    pub econ_host_version: String,
    /// The commit econ-host was built from (empty outside a git checkout).
    pub git_commit: String,
    /// The command line, as typed.
    pub command: Vec<String>,
    pub started: String,
    /// Set when the job ends (absent while it runs, or after a kill).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished: Option<String>,
    /// sha256 of the resolved config as JSON: what "the same config" means.
    pub config_sha256: String,
    pub config: serde_json::Value,
    pub files: Vec<HashedFile>,
    pub plugins: Vec<HashedPlugin>,
    pub splits: Splits,
    pub machine: Machine,
    /// Each OpenAI-compatible role's server dialect: how it was found out,
    /// the name each action field is sent under (null: it cannot reach the
    /// model), and any field dropped during the run.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub llm_dialects: std::collections::BTreeMap<String, crate::llm::dialect::Resolved>,
    /// An action dimension held fixed because the executors' server cannot
    /// receive it (`llm.unreachable_actions = "fix"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_actions: Option<String>,
    /// Every plugin version the folder's episodes ran with and the episodes
    /// each served, from the traces (set when the job ends): a plugin
    /// replaced mid-run shows each version with its own episodes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plugins_served: Vec<ServedPlugin>,
}

/// One plugin version and the episodes it served.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServedPlugin {
    /// name@version, as traces write it.
    pub plugin: String,
    /// Its file's sha256 (empty for traces written before it was recorded).
    pub sha256: String,
    /// Per traces file ("train bne", "test baseline"): episode numbers as
    /// ranges, "1-438, 440".
    pub episodes: std::collections::BTreeMap<String, String>,
}

/// [`ServedPlugin`]s of every traces file in `log_dir`.
pub fn plugins_served(log_dir: &Path) -> Result<Vec<ServedPlugin>> {
    use std::collections::BTreeMap;
    let mut served: BTreeMap<(String, String), BTreeMap<String, Vec<u64>>> = BTreeMap::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(log_dir)
        .with_context(|| format!("reading {}", log_dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("traces_") && n.ends_with(".jsonl"))
        })
        .collect();
    files.sort();
    for file in files {
        let stem = file
            .file_stem()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let part = stem.trim_start_matches("traces_").replacen('_', " ", 1);
        for line in super::jsonl::read_records::<serde_json::Value>(&file)? {
            let Some(episode) = line["episode"].as_u64() else {
                continue;
            };
            let names = line["plugins"].as_array().cloned().unwrap_or_default();
            let hashes = line["plugin_sha256"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for (i, name) in names.iter().enumerate() {
                let name = name.as_str().unwrap_or_default().to_string();
                let sha = hashes.get(i).and_then(|h| h.as_str()).unwrap_or_default();
                served
                    .entry((name, sha.to_string()))
                    .or_default()
                    .entry(part.clone())
                    .or_default()
                    .push(episode);
            }
        }
    }
    Ok(served
        .into_iter()
        .map(|((plugin, sha256), parts)| ServedPlugin {
            plugin,
            sha256,
            episodes: parts.into_iter().map(|(k, v)| (k, ranges(v))).collect(),
        })
        .collect())
}

/// "1-3, 5, 7-8" for 1, 2, 3, 5, 7, 8 (any order, repeats ignored).
fn ranges(mut numbers: Vec<u64>) -> String {
    numbers.sort_unstable();
    numbers.dedup();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < numbers.len() {
        let start = numbers[i];
        let mut end = start;
        while i + 1 < numbers.len() && numbers[i + 1] == end + 1 {
            i += 1;
            end = numbers[i];
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    out.join(", ")
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HashedFile {
    /// What the file is to the run ("llm.executor.model", "dataset", ...).
    pub role: String,
    pub path: PathBuf,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HashedPlugin {
    pub name: String,
    pub version: String,
    pub kind: String,
    pub file: PathBuf,
    pub sha256: String,
    /// The built-in plugin this one replaces: "name@version (sha256 …)".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overrides_builtin: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Splits {
    pub source: String,
    pub train: Vec<String>,
    pub test: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Machine {
    pub os: String,
    pub arch: String,
    pub cpu: String,
    pub threads: usize,
    pub torch_device: String,
}

impl Machine {
    pub fn this() -> Machine {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|t| {
                t.lines().find_map(|l| {
                    l.strip_prefix("model name")
                        .map(|r| r.trim_start_matches([' ', '\t', ':']).to_string())
                })
            })
            .unwrap_or_default();
        Machine {
            os: std::env::consts::OS.to_string(),
            arch: std::env::consts::ARCH.to_string(),
            cpu,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            torch_device: format!("{:?}", crate::torch_device()),
        }
    }
}

/// The config as recorded, and its hash.
pub fn config_fingerprint(config: &Config) -> (serde_json::Value, String) {
    let mut value = serde_json::to_value(config).unwrap_or_default();
    crate::http::redact_urls(&mut value);
    let hash = hex::encode(Sha256::digest(value.to_string().as_bytes()));
    (value, hash)
}

/// sha256 and size of a file.
pub fn hash_file(role: &str, path: &Path) -> Result<HashedFile> {
    let bytes = std::fs::metadata(path)
        .with_context(|| format!("hashing {}", path.display()))?
        .len();
    Ok(HashedFile {
        role: role.to_string(),
        path: path.to_path_buf(),
        bytes,
        sha256: crate::models::fetch::sha256_file(path)?,
    })
}

/// Every file under `path` (a model folder) or the file itself.
pub fn hash_files(role: &str, path: &Path) -> Result<Vec<HashedFile>> {
    if path.is_file() {
        return Ok(vec![hash_file(role, path)?]);
    }
    let mut out = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("reading {}", path.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    entries.sort();
    for file in entries {
        out.push(hash_file(role, &file)?);
    }
    Ok(out)
}

/// The run record in `log_dir`: `None` when there is none to read (an older
/// econ-host wrote none), an error naming the file when it is not one.
pub fn read_run_record(log_dir: &Path) -> Result<Option<RunRecord>> {
    let path = log_dir.join(RUN_FILE);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    serde_json::from_str(&text)
        .with_context(|| format!("{}: not a run record", path.display()))
        .map(Some)
}

/// A log folder must be new, empty or a run's (it holds run.json): in a
/// folder of other files (someone's data, a copied-in run without its
/// record) a run would overwrite any of the same names. `force` writes
/// there anyway.
pub fn check_log_folder(log_dir: &Path, force: bool) -> Result<()> {
    if force || log_dir.join(RUN_FILE).exists() {
        return Ok(());
    }
    let entries = std::fs::read_dir(log_dir)
        .with_context(|| format!("reading log folder {}", log_dir.display()))?;
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != super::lock::LOCK_FILE)
        .collect();
    if names.is_empty() {
        return Ok(());
    }
    names.sort();
    let shown = names.len().min(3);
    let more = if names.len() > shown { ", ..." } else { "" };
    Err(bad_input(anyhow!(
        "log folder {} holds files but no run.json ({}{more}): it is not a run's folder, and \
         a run would overwrite files of the names it writes; choose a new or empty --log-dir, \
         or pass --force (run, train) to write into it anyway",
        log_dir.display(),
        crate::error::printable(&names[..shown].join(", "))
    )))
}

/// Refuse to write a run into `log_dir` when its run.json records another
/// config: two configurations' results would read as one.
pub fn check_same_config(log_dir: &Path, config_sha256: &str) -> Result<Option<RunRecord>> {
    let previous = match read_run_record(log_dir) {
        Ok(Some(previous)) => previous,
        Ok(None) => return Ok(None),
        Err(e) => {
            tracing::warn!("{e:#}; replaced");
            return Ok(None);
        }
    };
    if previous.config_sha256 != config_sha256 {
        return Err(bad_input(anyhow!(
            "log folder {} holds a run of another configuration (run.json, started {}); \
             its results would mix with this one's: choose another --log-dir",
            log_dir.display(),
            previous.started
        )));
    }
    Ok(Some(previous))
}

/// A new run's id: its start time and a short hash of where and who.
pub fn new_run_id(log_dir: &Path, started: &str) -> String {
    let seed = format!(
        "{}|{started}|{}|{:?}",
        log_dir.display(),
        std::process::id(),
        SystemTime::now()
    );
    let hash = hex::encode(Sha256::digest(seed.as_bytes()));
    format!("{started}-{}", &hash[..8])
}

/// What run.json records at the start of a job; hashing the model files
/// takes about a second per GB.
pub fn record_run(
    config: &Config,
    registry: &crate::plugins::PluginRegistry,
    splits: &DataSplits,
) -> Result<RunRecord> {
    let t0 = Instant::now();
    let mut files = Vec::new();
    for (role, rc) in [
        ("llm.coordinator.model", &config.llm.coordinator),
        ("llm.executor.model", &config.llm.executor),
    ] {
        if rc.provider == "local"
            && let Ok(path) = crate::models::resolve(&rc.model, &config.base_dir)
            && !files.iter().any(|f: &HashedFile| f.path == path)
        {
            files.extend(hash_files(role, &path)?);
        }
    }
    if config.embedding.provider == "local"
        && let Ok(path) = crate::models::resolve(&config.embedding.model, &config.base_dir)
    {
        files.extend(hash_files("embedding.model", &path)?);
    }
    if let Some(path) = &config.dataset.path {
        files.extend(hash_files("dataset", &config.resolve(path))?);
    }
    let plugins = registry
        .plugins()
        .map(|p| {
            let i = p.info();
            HashedPlugin {
                name: i.name.clone(),
                version: i.version.clone(),
                kind: i.kind.to_string(),
                file: i.file.clone(),
                sha256: i.sha256.clone(),
                overrides_builtin: registry
                    .overridden_builtin(&i.name)
                    .map(|b| format!("{} (sha256 {})", b.id(), &b.sha256[..12])),
            }
        })
        .collect();
    let (config_value, config_sha256) = config_fingerprint(config);
    let record = RunRecord {
        run_id: String::new(),
        econ_host_version: env!("CARGO_PKG_VERSION").to_string(),
        git_commit: env!("ECON_GIT_COMMIT").to_string(),
        // A URL typed with its credentials (`--set ...base_url=https://u:p@h`)
        // is kept without them, as the config's are.
        command: std::env::args()
            .map(|a| crate::http::redact_urls_in(&a))
            .collect(),
        started: now_utc(),
        finished: None,
        config_sha256,
        config: config_value,
        files,
        plugins,
        splits: Splits {
            source: splits.source.clone(),
            train: splits.train.iter().map(|p| p.id.clone()).collect(),
            test: splits.test.iter().map(|p| p.id.clone()).collect(),
        },
        machine: Machine::this(),
        llm_dialects: Default::default(),
        fixed_actions: None,
        plugins_served: Vec::new(),
    };
    tracing::info!("provenance recorded in {:.2} s", t0.elapsed().as_secs_f64());
    Ok(record)
}

pub fn write(log_dir: &Path, record: &RunRecord) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(record)?;
    crate::runlog::jsonl::write_atomic(&log_dir.join(RUN_FILE), &bytes)
}

/// Now as RFC 3339 UTC ("2026-11-30T12:34:56Z").
pub fn now_utc() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    rfc3339(secs)
}

fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_796_042_096), "2026-11-30T12:34:56Z");
    }

    #[test]
    fn another_config_in_the_same_folder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let record = RunRecord {
            run_id: "r".into(),
            econ_host_version: "0".into(),
            git_commit: String::new(),
            command: vec![],
            started: now_utc(),
            finished: None,
            config_sha256: "aaa".into(),
            config: serde_json::Value::Null,
            files: vec![],
            plugins: vec![],
            splits: Splits::default(),
            machine: Machine::this(),
            llm_dialects: Default::default(),
            fixed_actions: None,
            plugins_served: vec![],
        };
        write(dir.path(), &record).unwrap();
        assert_eq!(
            check_same_config(dir.path(), "aaa")
                .unwrap()
                .unwrap()
                .run_id,
            "r"
        );
        let e = check_same_config(dir.path(), "bbb").unwrap_err();
        assert!(format!("{e:#}").contains("another configuration"), "{e:#}");
        assert_eq!(crate::error::exit_code(&e), 2);
    }

    #[test]
    fn served_episodes_are_ranges_per_plugin_version() {
        assert_eq!(super::ranges(vec![7, 1, 2, 3, 5, 8, 2]), "1-3, 5, 7-8");
        assert_eq!(super::ranges(vec![]), "");
        let dir = tempfile::tempdir().unwrap();
        let line = |ep: u64, version: &str, sha: &str| {
            format!(
                "{{\"episode\": {ep}, \"plugins\": [\"parser-boxed@1\", \"reward-x@{version}\"], \
                 \"plugin_sha256\": [\"p\", \"{sha}\"]}}\n"
            )
        };
        let mut text = String::new();
        for ep in 1..=4 {
            text.push_str(&line(ep, "0.1.0", "a"));
        }
        // Rebuilt without a new version, then hot-reloaded: another file.
        text.push_str(&line(5, "0.1.0", "b"));
        text.push_str(&line(6, "0.2.0", "c"));
        std::fs::write(dir.path().join("traces_train_bne.jsonl"), text).unwrap();
        std::fs::write(
            dir.path().join("traces_test_baseline.jsonl"),
            line(1, "0.2.0", "c"),
        )
        .unwrap();
        let served = super::plugins_served(dir.path()).unwrap();
        let find = |plugin: &str, sha: &str| {
            served
                .iter()
                .find(|s| s.plugin == plugin && s.sha256 == sha)
                .unwrap_or_else(|| panic!("{plugin} {sha} in {served:?}"))
                .episodes
                .clone()
        };
        assert_eq!(find("reward-x@0.1.0", "a")["train bne"], "1-4");
        assert_eq!(find("reward-x@0.1.0", "b")["train bne"], "5");
        let c = find("reward-x@0.2.0", "c");
        assert_eq!(
            (c["train bne"].as_str(), c["test baseline"].as_str()),
            ("6", "1")
        );
        assert_eq!(find("parser-boxed@1", "p")["train bne"], "1-6");
    }
}
