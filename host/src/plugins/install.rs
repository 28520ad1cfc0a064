//! `econ-host plugins install`: verify a component the way `plugins check`
//! does, then copy it atomically into a plugin folder as `<name>.wasm`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};

use super::engine::{PluginEngine, sha256_hex};
use super::handles::{Plugin, PluginInfo};
use super::limits::Limits;

/// What installing one file did.
#[derive(Clone, Debug)]
pub enum Installed {
    /// No plugin of that name was there.
    New { info: Arc<PluginInfo> },
    /// A different file of the same name was replaced (`force`).
    Replaced {
        old: Arc<PluginInfo>,
        info: Arc<PluginInfo>,
    },
    /// The very same bytes were already installed.
    Unchanged { info: Arc<PluginInfo> },
}

impl Installed {
    /// The plugin as installed (its `file` is the installed path).
    pub fn info(&self) -> &Arc<PluginInfo> {
        match self {
            Installed::New { info }
            | Installed::Replaced { info, .. }
            | Installed::Unchanged { info } => info,
        }
    }
}

/// The `.wasm` files to install for `path`: the file itself, or every
/// `.wasm` directly inside a folder (sorted).
pub fn wasm_files(path: &Path) -> Result<Vec<PathBuf>> {
    if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("reading {}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "wasm") && p.is_file())
            .collect();
        files.sort();
        if files.is_empty() {
            bail!("{}: no .wasm files in this folder", path.display());
        }
        Ok(files)
    } else if path.is_file() {
        Ok(vec![path.to_path_buf()])
    } else {
        bail!("{}: no such file or folder", path.display())
    }
}

/// Verify `file` and copy it to `dest_dir/<meta name>.wasm`.
///
/// Refuses (an error saying which versions) to replace a different plugin of
/// the same name unless `force`; refuses outright when another file in
/// `dest_dir` declares the same name (that file would shadow or be shadowed
/// by the new one, depending on file names).
pub fn install(
    engine: &PluginEngine,
    file: &Path,
    dest_dir: &Path,
    force: bool,
) -> Result<Installed> {
    let bytes = super::engine::read_plugin_file(file)?;
    install_bytes(engine, &bytes, file, dest_dir, force)
}

/// As [`install`], for a component's bytes from `file` (a path, or where
/// the bytes were downloaded from, as it is shown in messages).
// Long on purpose: validate, compile, then copy atomically: the checks stand next to the
// step they guard.
pub fn install_bytes(
    engine: &PluginEngine,
    bytes: &[u8],
    file: &Path,
    dest_dir: &Path,
    force: bool,
) -> Result<Installed> {
    let source = file.parent().unwrap_or(Path::new("."));
    let plugin = Plugin::from_bytes(engine, bytes, file, source, Limits::default())?;
    let new = plugin.info().clone();
    let dest = dest_dir.join(format!("{}.wasm", new.name));
    std::fs::create_dir_all(dest_dir)
        .with_context(|| format!("creating plugin folder {}", dest_dir.display()))?;

    // Same name under another file name: the registry would load both.
    for other in wasm_files(dest_dir).unwrap_or_default() {
        if other == dest || same_file(&other, file) {
            continue;
        }
        if let Ok(p) = Plugin::load(engine, &other, dest_dir, Limits::default())
            && p.info().name == new.name
        {
            bail!(
                "{} already provides {}@{}; remove it first, then install {}@{}",
                other.display(),
                new.name,
                p.info().version,
                new.name,
                new.version
            );
        }
    }

    let installed = |source: &Path| -> Arc<PluginInfo> {
        let mut info = (*new).clone();
        info.file = dest.clone();
        info.source = source.to_path_buf();
        Arc::new(info)
    };
    let mut old = None;
    if dest.exists() {
        let existing =
            std::fs::read(&dest).with_context(|| format!("reading {}", dest.display()))?;
        if sha256_hex(&existing) == new.sha256 {
            return Ok(Installed::Unchanged {
                info: installed(dest_dir),
            });
        }
        let previous = Plugin::from_bytes(engine, &existing, &dest, dest_dir, Limits::default());
        let what = match &previous {
            Ok(p) => format!("{} (sha256 {})", p.info().id(), &p.info().sha256[..12]),
            Err(_) => "an unloadable file".to_string(),
        };
        if !force {
            bail!(
                "{} holds {what}, a different plugin than {}@{} (sha256 {}) from {}; \
                 pass --force to replace it",
                dest.display(),
                new.name,
                new.version,
                &new.sha256[..12],
                file.display()
            );
        }
        old = Some(match previous {
            Ok(p) => p.info().clone(),
            Err(_) => {
                let mut info = (*new).clone();
                info.version = "(unloadable)".into();
                info.sha256 = sha256_hex(&existing);
                info.file = dest.clone();
                Arc::new(info)
            }
        });
    }
    crate::atomic::write_atomic(&dest, bytes)?;
    let info = installed(dest_dir);
    Ok(match old {
        Some(old) => Installed::Replaced { old, info },
        None => Installed::New { info },
    })
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The file beside an installed plugin that says where it was downloaded
/// from (`NAME.wasm` -> `NAME.installed-from`); the registry loads only
/// `.wasm` files, so it is never taken for a plugin.
fn source_note(installed: &Path) -> PathBuf {
    installed.with_extension("installed-from")
}

/// Note that `installed` came from `from` (an OCI reference pinned by
/// digest), or, with `None`, forget any earlier note (a file was installed
/// over it).
pub fn note_source(installed: &Path, from: Option<&str>) -> Result<()> {
    let note = source_note(installed);
    match from {
        Some(from) => crate::atomic::write_atomic(&note, format!("{from}\n").as_bytes()),
        None => match std::fs::remove_file(&note) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).with_context(|| format!("removing {}", note.display()))
            }
            _ => Ok(()),
        },
    }
}

/// Where an installed plugin file was downloaded from, if it was.
pub fn installed_from(installed: &Path) -> Option<String> {
    let text = std::fs::read_to_string(source_note(installed)).ok()?;
    let line = text.lines().next()?.trim();
    (!line.is_empty() && line.len() < 1000).then(|| crate::error::printable(line).into_owned())
}
