//! The files a run keeps (traces, metrics, the learning curve, summaries)
//! survive a kill or a full disk at any moment: every rewrite goes to a
//! temporary file that is synced and renamed over the old one (then the
//! folder is synced), and a reader drops a torn last line — one cut off
//! mid-write, even inside a UTF-8 character — with a warning instead of
//! failing on it.

use std::path::Path;

use anyhow::{Context, Result};

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
