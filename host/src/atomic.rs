//! Writing a file all or nothing: the bytes go to a temporary file beside it
//! (a hidden name that ends in neither `.wasm` nor `.json`, so registries and
//! watchers ignore it), which is synced and renamed over the old file, and
//! the folder is synced. A kill or a full disk at any moment leaves either
//! the old file or the new one. Run files, the compiled-plugin cache and
//! installed plugins all go through here.
//!
//! Files written in place (trace and metrics lines, event files, the lock)
//! are opened with [`create`] and [`append`], which never follow a symbolic
//! link: a link planted in a run folder (`traces_train_bne.jsonl ->
//! ~/.bashrc`) would otherwise have its target overwritten with run output.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};

/// Replace `path` with `bytes`, all or nothing. Its folder must exist.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temporary_beside(path);
    let write = || -> std::io::Result<()> {
        // A new file, never an existing one or a link's target.
        let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("writing {}", path.display()));
    }
    sync_folder(path);
    Ok(())
}

/// Open `path` for writing from its start (created or truncated), refusing
/// a symbolic link in its place.
pub fn create(path: &Path) -> Result<File> {
    open_nofollow(
        OpenOptions::new().write(true).create(true).truncate(true),
        path,
    )
}

/// Open `path` to append to it (created if `create`), refusing a symbolic
/// link in its place.
pub fn append(path: &Path, create: bool) -> Result<File> {
    open_nofollow(OpenOptions::new().append(true).create(create), path)
}

/// Open `path` read-write without truncating (created), refusing a link.
pub fn read_write(path: &Path) -> Result<File> {
    open_nofollow(
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false),
        path,
    )
}

fn open_nofollow(options: &mut OpenOptions, path: &Path) -> Result<File> {
    match options.custom_flags(libc::O_NOFOLLOW).open(path) {
        Ok(file) => Ok(file),
        Err(e) if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) => {
            Err(crate::error::bad_input(anyhow::anyhow!(
                "{} is a symbolic link: run files are never written through one (its \
                 target would be overwritten); remove the link ({e})",
                path.display()
            )))
        }
        Err(e) => Err(e).with_context(|| format!("opening {}", path.display())),
    }
}

/// `.NAME.tmp-PID-N` beside `path`: unique within this process (threads
/// writing the same file do not share a temporary) and across processes.
fn temporary_beside(path: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map_or("file".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_atomic_write_replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn no_write_goes_through_a_symbolic_link() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("precious");
        std::fs::write(&target, b"keep").unwrap();
        let link = dir.path().join("traces.jsonl");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        for e in [create(&link).unwrap_err(), append(&link, true).unwrap_err()] {
            assert!(format!("{e:#}").contains("symbolic link"), "{e:#}");
        }
        assert!(read_write(&link).is_err());
        // An atomic write replaces the link itself, never its target.
        write_atomic(&link, b"new").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
        assert!(
            !std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }

    #[test]
    fn a_failed_write_names_the_file_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-folder/x.json");
        let e = write_atomic(&path, b"x").unwrap_err();
        assert!(format!("{e:#}").contains("x.json"), "{e:#}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
