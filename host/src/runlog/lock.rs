//! One process at a time per folder. Two runs writing the same log or model
//! folder would interleave their trace lines and race on summary.json and
//! checkpoints; the second one is refused (exit 2) with the holder's pid.
//! The lock is the operating system's (`flock` through `File::try_lock`), so
//! it goes away with its process on every exit path, `kill -9` included.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};

use crate::error::bad_input;

/// The lock file inside a locked folder.
pub const LOCK_FILE: &str = ".econ-host.lock";

/// Held while a process writes a folder; dropping it releases the folder.
#[derive(Debug)]
pub struct FolderLock {
    _file: File,
    pub dir: PathBuf,
}

impl FolderLock {
    /// Lock `dir` (created if missing) for this process; `what` names the
    /// folder's role ("log folder", "model folder") in the refusal.
    pub fn acquire(dir: &Path, what: &str) -> Result<FolderLock> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating {what} {}", dir.display()))?;
        let path = dir.join(LOCK_FILE);
        let mut file = crate::atomic::read_write(&path)?;
        match file.try_lock() {
            Ok(()) => {
                // Who holds it, for the message a second process shows.
                file.set_len(0)?;
                file.seek(SeekFrom::Start(0))?;
                write!(file, "{}", std::process::id())?;
                file.flush()?;
                Ok(FolderLock {
                    _file: file,
                    dir: dir.to_path_buf(),
                })
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = match holder.trim() {
                    "" => "another process".to_string(),
                    pid => format!("econ-host pid {pid}"),
                };
                Err(bad_input(anyhow!(
                    "{what} {} is in use by {holder}: two runs in one folder would mix their \
                     traces and checkpoints; wait for it to finish or choose another folder",
                    dir.display()
                )))
            }
            Err(std::fs::TryLockError::Error(e)) => {
                Err(anyhow::Error::new(e).context(format!("locking {}", path.display())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_and_the_folder_is_free_once_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = FolderLock::acquire(dir.path(), "log folder").unwrap();
        let e = FolderLock::acquire(dir.path(), "log folder").unwrap_err();
        let text = format!("{e:#}");
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        assert_eq!(crate::error::exit_code(&e), 2);
        drop(first);
        FolderLock::acquire(dir.path(), "log folder").unwrap();
    }
}
