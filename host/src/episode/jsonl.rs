//! The files a run keeps (traces, metrics, the learning curve, summaries)
//! survive a kill or a full disk at any moment: every rewrite goes to a
//! temporary file that is synced and renamed over the old one (then the
//! folder is synced), and a reader drops a torn last line — one cut off
//! mid-write, even inside a UTF-8 character — with a warning instead of
//! failing on it.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

/// Replace `path` with `bytes`, all or nothing.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()
    };
    write().with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming onto {}", path.display()))?;
    sync_folder(path);
    Ok(())
}

/// Make a rename in `path`'s folder durable (best effort: not every file
/// system can sync a folder).
fn sync_folder(path: &Path) {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if let Ok(dir) = File::open(folder) {
        let _ = dir.sync_all();
    }
}

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

    #[test]
    fn an_atomic_write_replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
