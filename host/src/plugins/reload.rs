//! Hot reload: a watcher on every plugin folder rebuilds the registry off the
//! hot path and swaps it in atomically. Whoever holds a snapshot (an episode)
//! keeps the versions it started with until it lets go.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use arc_swap::ArcSwap;
use notify::{RecursiveMode, Watcher};

use super::engine::PluginEngine;
use super::limits::PluginPolicy;
use super::registry::PluginRegistry;

/// Editors and cargo write a file in several steps; wait this long after the
/// last change before reloading.
pub const DEBOUNCE: Duration = Duration::from_millis(250);

pub struct LiveRegistry {
    current: ArcSwap<PluginRegistry>,
    engine: PluginEngine,
    dirs: Vec<PathBuf>,
    limits: PluginPolicy,
}

/// Stops watching when dropped.
pub struct WatchGuard {
    _watcher: notify::RecommendedWatcher,
}

impl LiveRegistry {
    pub fn new(
        engine: PluginEngine,
        dirs: Vec<PathBuf>,
        limits: impl Into<PluginPolicy>,
    ) -> Result<Arc<Self>> {
        let limits = limits.into();
        let registry = PluginRegistry::scan(&engine, &dirs, &limits, None)?;
        Ok(Arc::new(LiveRegistry {
            current: ArcSwap::from_pointee(registry),
            engine,
            dirs,
            limits,
        }))
    }

    /// The registry as it is now; hold it for the whole episode.
    pub fn snapshot(&self) -> Arc<PluginRegistry> {
        self.current.load_full()
    }

    /// Rescan the folders and swap the result in. Unchanged files keep their
    /// loaded plugin; a file that fails keeps its previous version.
    pub fn reload(&self) -> Result<()> {
        let started = Instant::now();
        let old = self.snapshot();
        let new = PluginRegistry::scan(&self.engine, &self.dirs, &self.limits, Some(&old))?;
        for plugin in new.plugins() {
            let info = plugin.info();
            let before = old.get(&info.name).map(|p| p.info().clone());
            if before.as_ref().is_none_or(|b| b.sha256 != info.sha256) {
                tracing::info!(
                    "plugin {}@{} now serving (was {}), sha256 {}, {} ms",
                    info.name,
                    info.version,
                    before.map_or("none".to_string(), |b| b.id().to_string()),
                    &info.sha256[..16],
                    started.elapsed().as_millis()
                );
            }
        }
        self.current.store(Arc::new(new));
        Ok(())
    }

    /// Watch every plugin folder; reload after each burst of changes to a
    /// `.wasm` file. Compilation runs on the watcher's own thread.
    pub fn watch(self: &Arc<Self>) -> Result<WatchGuard> {
        let (tx, rx) = mpsc::channel::<notify::Result<notify::Event>>();
        let mut watcher = notify::recommended_watcher(tx).context("starting the plugin watcher")?;
        for dir in &self.dirs {
            watcher
                .watch(dir, RecursiveMode::NonRecursive)
                .with_context(|| format!("watching plugin folder {}", dir.display()))?;
        }
        let live = Arc::clone(self);
        std::thread::Builder::new()
            .name("plugin-reload".into())
            .spawn(move || {
                // Ends when the guard drops the watcher and with it the sender.
                while let Ok(event) = rx.recv() {
                    if !touches_wasm(&event) {
                        continue;
                    }
                    while let Ok(more) = rx.recv_timeout(DEBOUNCE) {
                        drop(more);
                    }
                    if let Err(e) = live.reload() {
                        tracing::error!("plugin reload failed: {e:#}");
                    }
                }
            })
            .context("starting the plugin reload thread")?;
        Ok(WatchGuard { _watcher: watcher })
    }
}

fn touches_wasm(event: &notify::Result<notify::Event>) -> bool {
    match event {
        Ok(e) => e
            .paths
            .iter()
            .any(|p| p.extension().is_some_and(|x| x == "wasm")),
        Err(e) => {
            tracing::warn!("plugin watcher: {e}");
            false
        }
    }
}
