//! `[dataset]`: an adapter plugin and a source, split into train and test.

use std::path::PathBuf;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

/// `[dataset]`: an adapter plugin and a source — a local file or folder
/// (`path`) or a Hugging Face dataset (`hf_id`) — split into train and test.
/// What each key does is told in `crate::data` and README.md.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetConfig {
    /// Name of the dataset-adapter plugin.
    pub adapter: String,
    /// A file (.jsonl, .json, .csv, .parquet) or a folder of them, relative
    /// to the config file's folder. Set this or `hf_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// "jsonl", "json", "csv" or "parquet"; default: from each file's extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// A Hugging Face dataset id, e.g. "openai/gsm8k", read from the hub cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hf_id: Option<String>,
    /// Split of `hf_id` (default "train"); "main/train" picks a config folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hf_split: Option<String>,
    /// Branch, tag or commit of `hf_id` (default "main").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hf_revision: Option<String>,
    /// The hub cache folder; default HF_HUB_CACHE, else HF_HOME/hub, else
    /// ~/.cache/huggingface/hub.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hf_cache: Option<PathBuf>,
    /// A separate test source: a file or folder (as `path`) ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_path: Option<PathBuf>,
    /// ... or another split of `hf_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_hf_split: Option<String>,
    /// Share of the problems held out for test when there is no separate
    /// test source (default 0.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_fraction: Option<f64>,
    /// Share of the training problems (after the test split) held out as a
    /// validation set: problems to tune on, so that the test problems are
    /// met once, at the end. Default: no validation set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_fraction: Option<f64>,
    /// Which held-out set the test phase runs on: "test" (default) or
    /// "validation" (needs `validation_fraction`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluate_on: Option<String>,
    /// Train on the first this many training problems only (after the
    /// shuffle and the splits); the held-out problems are not affected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_limit: Option<usize>,
    /// Shuffle each source with `seed` (default true).
    #[serde(default = "super::default_true")]
    pub shuffle: bool,
    /// Problems whose question is longer (in characters) are skipped and reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_question_length: Option<usize>,
    /// Problems whose reference answer is longer (in characters) are skipped and reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_answer_length: Option<usize>,
    /// Options handed to the adapter (e.g. field names).
    #[serde(default)]
    pub options: std::collections::BTreeMap<String, String>,
}

impl DatasetConfig {
    pub const DEFAULT_HF_SPLIT: &str = "train";
    pub const DEFAULT_HF_REVISION: &str = "main";
    pub const DEFAULT_TEST_FRACTION: f64 = 0.3;
    /// The values `evaluate_on` accepts.
    pub const HELD_OUT_SETS: [&str; 2] = ["test", "validation"];
    /// The formats `format` accepts, also the file extensions recognised.
    pub const FORMATS: [&str; 4] = ["jsonl", "json", "csv", "parquet"];

    pub fn hf_split(&self) -> &str {
        self.hf_split.as_deref().unwrap_or(Self::DEFAULT_HF_SPLIT)
    }

    pub fn hf_revision(&self) -> &str {
        self.hf_revision
            .as_deref()
            .unwrap_or(Self::DEFAULT_HF_REVISION)
    }

    pub fn test_fraction(&self) -> f64 {
        self.test_fraction.unwrap_or(Self::DEFAULT_TEST_FRACTION)
    }

    /// Whether the test phase runs on the validation set.
    pub fn evaluates_validation(&self) -> bool {
        self.evaluate_on.as_deref() == Some("validation")
    }

    /// Whether test problems come from their own source (not held out).
    pub fn has_test_source(&self) -> bool {
        self.test_path.is_some() || self.test_hf_split.is_some()
    }

    /// The adapter options as the plugin takes them.
    pub fn adapter_options(&self) -> Vec<(String, String)> {
        self.options
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    // Long on purpose: one check per key, in the order of the config file; each error names
    // its key.
    pub(crate) fn validate(&self) -> Result<()> {
        let key = |name: &str| format!("key dataset.{name}");
        if self.adapter.trim().is_empty() {
            bail!("{}: must name a dataset-adapter plugin", key("adapter"));
        }
        let empty_path = |p: &Option<PathBuf>| p.as_ref().is_some_and(|p| p.as_os_str().is_empty());
        for (name, p) in [
            ("path", &self.path),
            ("test_path", &self.test_path),
            ("hf_cache", &self.hf_cache),
        ] {
            if empty_path(p) {
                bail!("{}: is empty", key(name));
            }
        }
        match (&self.path, &self.hf_id) {
            (Some(_), Some(_)) => {
                bail!("keys dataset.path and dataset.hf_id: set one, not both")
            }
            (None, None) => bail!(
                "{}: required (a file or folder of .jsonl/.json/.csv/.parquet), \
                 or dataset.hf_id for a Hugging Face dataset",
                key("path")
            ),
            _ => {}
        }
        if let Some(format) = &self.format
            && !Self::FORMATS.contains(&format.as_str())
        {
            bail!(
                "{}: {format:?} is not one of \"jsonl\", \"json\", \"csv\", \"parquet\"",
                key("format")
            );
        }
        match &self.hf_id {
            Some(id) => {
                let parts: Vec<&str> = id.split('/').collect();
                let ok = parts.len() <= 2
                    && parts.iter().all(|p| {
                        !p.is_empty()
                            && *p != "."
                            && *p != ".."
                            && p.chars()
                                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                    });
                if !ok {
                    bail!(
                        "{}: {id:?} is not a dataset id like \"openai/gsm8k\"",
                        key("hf_id")
                    );
                }
                for (name, value) in [
                    ("hf_split", self.hf_split.as_deref()),
                    ("hf_revision", self.hf_revision.as_deref()),
                    ("test_hf_split", self.test_hf_split.as_deref()),
                ] {
                    if let Some(v) = value
                        && (v.trim().is_empty() || v.split('/').any(|p| p.is_empty() || p == ".."))
                    {
                        bail!("{}: {v:?} is empty or not a plain name", key(name));
                    }
                }
            }
            None => {
                for (name, set) in [
                    ("hf_split", self.hf_split.is_some()),
                    ("hf_revision", self.hf_revision.is_some()),
                    ("hf_cache", self.hf_cache.is_some()),
                    ("test_hf_split", self.test_hf_split.is_some()),
                ] {
                    if set {
                        bail!("{}: only used with dataset.hf_id", key(name));
                    }
                }
            }
        }
        if self.test_path.is_some() && self.test_hf_split.is_some() {
            bail!("keys dataset.test_path and dataset.test_hf_split: set one, not both");
        }
        if let Some(f) = self.test_fraction {
            if self.has_test_source() {
                bail!(
                    "{}: only used without a separate test source (dataset.test_path / dataset.test_hf_split)",
                    key("test_fraction")
                );
            }
            if !(f > 0.0 && f < 1.0) {
                bail!("{}: {f} is outside (0, 1)", key("test_fraction"));
            }
        }
        for (name, limit) in [
            ("max_question_length", self.max_question_length),
            ("max_answer_length", self.max_answer_length),
        ] {
            if limit == Some(0) {
                bail!("{}: must be at least 1 (characters)", key(name));
            }
        }
        if let Some(f) = self.validation_fraction
            && !(f > 0.0 && f < 1.0)
        {
            bail!("{}: {f} is outside (0, 1)", key("validation_fraction"));
        }
        if let Some(set) = &self.evaluate_on {
            if !Self::HELD_OUT_SETS.contains(&set.as_str()) {
                bail!(
                    "{}: {set:?} is not \"test\" or \"validation\"",
                    key("evaluate_on")
                );
            }
            if set == "validation" && self.validation_fraction.is_none() {
                bail!(
                    "{}: \"validation\" needs dataset.validation_fraction (the share of the training problems to hold out for it)",
                    key("evaluate_on")
                );
            }
        }
        if self.train_limit == Some(0) {
            bail!("{}: must be at least 1 (problems)", key("train_limit"));
        }
        Ok(())
    }
}
