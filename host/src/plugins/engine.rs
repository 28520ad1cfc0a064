//! One wasmtime Engine for the process, the WASI linker every plugin shares,
//! and a cache of compiled components keyed by content hash.

use std::path::{Path, PathBuf};

use anyhow::{Context, Error, Result, bail};
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, OptLevel};

use super::limits::CallState;

pub struct PluginEngine {
    engine: Engine,
    linker: Linker<CallState>,
    /// Where compiled artifacts live; `None` compiles every time.
    cache_dir: Option<PathBuf>,
}

/// A component ready to instantiate, with where it came from.
pub struct Loaded {
    pub component: Component,
    pub sha256: String,
    /// True when the compiled artifact came from the cache.
    pub cached: bool,
}

impl PluginEngine {
    pub fn new(cache_dir: Option<PathBuf>) -> Result<Self> {
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .consume_fuel(true)
            .cranelift_opt_level(OptLevel::Speed);
        let engine = Engine::new(&config)
            .map_err(Error::from)
            .context("creating the wasmtime engine")?;
        let mut linker = Linker::new(&engine);
        // Rust (wasm32-wasip2) and Python (componentize-py) guests import WASI
        // p2 for their runtimes; the capabilities behind it are decided in
        // CallState::new, which grants none of files, env or network.
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(Error::from)
            .context("linking WASI p2")?;
        Ok(PluginEngine {
            engine,
            linker,
            cache_dir,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn linker(&self) -> &Linker<CallState> {
        &self.linker
    }

    /// Read, validate and compile (or load from the cache) one component file.
    pub fn load_file(&self, path: &Path) -> Result<Loaded> {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        self.load_bytes(&bytes)
            .with_context(|| format!("loading plugin {}", path.display()))
    }

    pub fn load_bytes(&self, bytes: &[u8]) -> Result<Loaded> {
        check_component_header(bytes)?;
        let sha256 = sha256_hex(bytes);
        let Some(cache_dir) = &self.cache_dir else {
            let component = Component::new(&self.engine, bytes).map_err(Error::from)?;
            return Ok(Loaded {
                component,
                sha256,
                cached: false,
            });
        };
        // The engine's compatibility hash covers the wasmtime version and
        // every setting that changes generated code.
        let mut compat = std::hash::DefaultHasher::new();
        std::hash::Hash::hash(&self.engine.precompile_compatibility_hash(), &mut compat);
        let key = format!("{sha256}-{:016x}.cwasm", std::hash::Hasher::finish(&compat));
        let artifact = cache_dir.join(key);
        // Read into memory rather than mmap the file: another process
        // rewriting the cache must not be able to fault this one.
        if let Ok(compiled) = std::fs::read(&artifact) {
            // SAFETY: the file was written by `serialize` below, under a name
            // bound to the source hash and this engine's configuration;
            // wasmtime still checks its header and version.
            match unsafe { Component::deserialize(&self.engine, &compiled) } {
                Ok(component) => {
                    return Ok(Loaded {
                        component,
                        sha256,
                        cached: true,
                    });
                }
                Err(e) => tracing::warn!(
                    "ignoring unreadable compiled plugin {}: {e:#}",
                    artifact.display()
                ),
            }
        }
        let component = Component::new(&self.engine, bytes).map_err(Error::from)?;
        if let Err(e) = write_atomically(
            cache_dir,
            &artifact,
            &component.serialize().map_err(Error::from)?,
        ) {
            tracing::warn!(
                "could not cache compiled plugin {}: {e:#}",
                artifact.display()
            );
        }
        Ok(Loaded {
            component,
            sha256,
            cached: false,
        })
    }
}

/// Content hash of a plugin file: its identity in the registry and the cache.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A clear word for the three common wrong files before wasmtime's own errors.
fn check_component_header(bytes: &[u8]) -> Result<()> {
    const MAGIC: &[u8] = b"\0asm";
    if bytes.len() < 8 || &bytes[..4] != MAGIC {
        bail!("not a WebAssembly file (no \\0asm header)");
    }
    // Bytes 4..8: version and layer. Core modules are version 1, layer 0;
    // components are version 0x0d, layer 1.
    match (bytes[4], bytes[6]) {
        (0x01, 0x00) => bail!(
            "a core WebAssembly module, not a component: build the plugin with \
             `cargo build --target wasm32-wasip2` (or componentize it)"
        ),
        (_, 0x01) => Ok(()),
        _ => bail!(
            "unknown WebAssembly encoding (version/layer bytes {:02x?})",
            &bytes[4..8]
        ),
    }
}

fn write_atomically(dir: &Path, dest: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = tempfile_in(dir)?;
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, dest)?;
    Ok(())
}

fn tempfile_in(dir: &Path) -> Result<PathBuf> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    Ok(dir.join(format!(".tmp-{}-{nanos}", std::process::id())))
}
