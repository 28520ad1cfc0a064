//! Dataset files -> adapter plugin -> problems.

use std::path::Path;

use anyhow::{Context, Result};

use crate::plugins::DatasetAdapterPlugin;
use crate::plugins::dataset_adapter::{Problem, RawRecord};

/// Problems of a JSONL file, plus the records the adapter refused.
pub struct Loaded {
    pub problems: Vec<Problem>,
    /// "file:line: why" for every record that was skipped.
    pub skipped: Vec<String>,
}

/// Read a JSONL file (one JSON object per line; blank lines ignored) through
/// the adapter. A bad record is skipped and reported with its line number.
pub fn load_jsonl(
    path: &Path,
    adapter: &DatasetAdapterPlugin,
    options: &[(String, String)],
) -> Result<Loaded> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading dataset {}", path.display()))?;
    let records: Vec<RawRecord> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| RawRecord {
            line: i as u32 + 1,
            json: l.to_string(),
        })
        .collect();
    let results = adapter
        .adapt(&records, options)
        .with_context(|| format!("adapting dataset {}", path.display()))?;
    let mut problems = Vec::new();
    let mut skipped = Vec::new();
    for result in results {
        match result {
            Ok(p) => problems.push(p),
            Err(e) => skipped.push(format!("{}: {e}", path.display())),
        }
    }
    for s in &skipped {
        tracing::warn!("skipped record {s}");
    }
    Ok(Loaded { problems, skipped })
}
