//! The files a run keeps (traces, metrics, the learning curve, summaries)
//! survive a kill or a full disk at any moment: every rewrite goes to a
//! temporary file that is synced and renamed over the old one (then the
//! folder is synced), and a reader drops a torn last line — one cut off
//! mid-write, even inside a UTF-8 character — with a warning instead of
//! failing on it.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use crate::atomic::write_atomic;

/// The complete lines of a JSONL file as (1-based line number, text),
/// blank lines left out; none if the file does not exist. A last line
/// without its newline is torn and dropped with a warning; a line elsewhere
/// that is not UTF-8 is an error naming it.
pub fn complete_lines(path: &Path) -> Result<Vec<(usize, String)>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let mut out = Vec::new();
    let mut rest = &bytes[..];
    let mut number = 0;
    while !rest.is_empty() {
        number += 1;
        let Some(end) = rest.iter().position(|&b| b == b'\n') else {
            tracing::warn!(
                "{} line {number}: dropping a torn last line ({} bytes without a newline)",
                path.display(),
                rest.len()
            );
            break;
        };
        let line = std::str::from_utf8(&rest[..end])
            .with_context(|| format!("{} line {number}: not UTF-8", path.display()))?;
        if !line.trim().is_empty() {
            out.push((number, line.to_string()));
        }
        rest = &rest[end + 1..];
    }
    Ok(out)
}

/// Every complete line of a JSONL file as a `T` (none if the file does not
/// exist). A torn last line — a run killed mid-write — is skipped with a
/// warning; a bad line elsewhere is an error naming it.
pub fn read_records<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let lines = complete_lines(path)?;
    let last = lines.last().map(|(n, _)| *n);
    let mut out = Vec::new();
    for (number, line) in lines {
        match serde_json::from_str::<T>(&line) {
            Ok(t) => out.push(t),
            // A complete last line cut short in its JSON (an older writer's kill).
            Err(e) if Some(number) == last => {
                tracing::warn!(
                    "{} line {number}: dropping a torn last line ({e})",
                    path.display()
                );
            }
            Err(e) => {
                return Err(e).with_context(|| format!("{} line {number}", path.display()));
            }
        }
    }
    Ok(out)
}

/// Appends `T`s as lines, each flushed at once (never through a link).
pub struct JsonlWriter<T> {
    out: BufWriter<File>,
    path: PathBuf,
    _records: PhantomData<fn(&T)>,
}

impl<T: Serialize + DeserializeOwned> JsonlWriter<T> {
    /// Start `path` afresh.
    pub fn create(path: &Path) -> Result<Self> {
        Ok(Self::over(crate::atomic::create(path)?, path))
    }

    fn over(file: File, path: &Path) -> Self {
        JsonlWriter {
            out: BufWriter::new(file),
            path: path.to_path_buf(),
            _records: PhantomData,
        }
    }

    /// Keep the first `keep` complete lines of `path` (a resumed run) and
    /// append after them; a torn last line is dropped.
    pub fn resume(path: &Path, keep: usize) -> Result<Self> {
        // Rewritten beside the old file and renamed over it: a kill or a full
        // disk during the rewrite leaves the old file whole.
        let mut kept = Vec::new();
        for record in read_records::<T>(path)?.into_iter().take(keep) {
            serde_json::to_writer(&mut kept, &record)?;
            kept.push(b'\n');
        }
        write_atomic(path, &kept)?;
        Ok(Self::over(crate::atomic::append(path, false)?, path))
    }

    pub fn append(&mut self, record: &T) -> Result<()> {
        serde_json::to_writer(&mut self.out, record)?;
        self.out.write_all(b"\n")?;
        self.out
            .flush()
            .with_context(|| format!("writing {}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_torn_inside_a_utf8_character_is_dropped_and_the_rest_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        let mut bytes = b"{\"a\": \"\xc3\xa9\"}\n\n{\"b\": 2}\n{\"c\": \"".to_vec();
        bytes.push(0xc3); // the first byte of "é", then the kill
        std::fs::write(&path, &bytes).unwrap();
        let lines = complete_lines(&path).unwrap();
        assert_eq!(
            lines,
            vec![
                (1, "{\"a\": \"é\"}".to_string()),
                (3, "{\"b\": 2}".to_string())
            ]
        );
    }

    #[test]
    fn bad_utf8_in_the_middle_is_an_error_naming_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        std::fs::write(&path, b"{}\n{\"x\": \"\xff\"}\n{}\n").unwrap();
        let e = complete_lines(&path).unwrap_err();
        assert!(format!("{e:#}").contains("line 2"), "{e:#}");
    }
}
