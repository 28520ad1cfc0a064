//! One wasmtime Engine for the process, the WASI linker every plugin shares,
//! and a cache of compiled components keyed by content hash and
//! authenticated by a per-user key.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Error, Result, bail};
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig};

use super::limits::CallState;

pub struct PluginEngine {
    engine: Engine,
    linker: Linker<CallState>,
    /// Compiled artifacts; `None` compiles every time.
    cache: Option<Cache>,
}

/// A component ready to instantiate, with where it came from.
pub struct Loaded {
    pub component: Component,
    pub sha256: String,
    /// True when the compiled artifact came from the cache.
    pub cached: bool,
}

/// How often the engine's epoch advances: the resolution of call deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The compiled cache's size cap: the least recently used artifacts go first.
pub const CACHE_CAP_BYTES: u64 = 512 << 20;

impl PluginEngine {
    pub fn new(cache_dir: Option<PathBuf>) -> Result<Self> {
        let mut config = Config::new();
        config
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool()))
            .wasm_component_model(true)
            .consume_fuel(true)
            // Wall-clock deadlines: a ticker advances the epoch, and a
            // call's store traps once it is past its deadline.
            .epoch_interruption(true)
            .cranelift_opt_level(OptLevel::Speed);
        let engine = Engine::new(&config)
            .map_err(Error::from)
            .context("creating the wasmtime engine")?;
        start_ticker(&engine);
        let mut linker = Linker::new(&engine);
        // Rust (wasm32-wasip2) and Python (componentize-py) guests import WASI
        // p2 for their runtimes; the capabilities behind it are decided in
        // CallState::new, which grants none of files, env or network.
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(Error::from)
            .context("linking WASI p2")?;
        refuse_waiting(&mut linker)?;
        let cache = match cache_dir {
            Some(dir) => Cache::open(dir)?,
            None => None,
        };
        Ok(PluginEngine {
            engine,
            linker,
            cache,
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
        let bytes = read_plugin_file(path)?;
        self.load_bytes(&bytes)
            .with_context(|| format!("loading plugin {}", path.display()))
    }

    pub fn load_bytes(&self, bytes: &[u8]) -> Result<Loaded> {
        check_component_header(bytes)?;
        let sha256 = sha256_hex(bytes);
        let Some(cache) = &self.cache else {
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
        let name = format!("{sha256}-{:016x}.cwasm", std::hash::Hasher::finish(&compat));
        if let Some(compiled) = cache.read(&name) {
            // SAFETY: `Cache::read` returns only bytes that carry this host's
            // MAC (a secret only this user can read), i.e. bytes that
            // `serialize` below wrote for exactly this name: the source hash
            // and this engine's configuration. wasmtime still checks the
            // header and version.
            match unsafe { Component::deserialize(&self.engine, &compiled) } {
                Ok(component) => {
                    return Ok(Loaded {
                        component,
                        sha256,
                        cached: true,
                    });
                }
                Err(e) => tracing::warn!("ignoring unreadable compiled plugin {name}: {e:#}"),
            }
        }
        let component = Component::new(&self.engine, bytes).map_err(Error::from)?;
        if let Err(e) = cache.write(&name, &component.serialize().map_err(Error::from)?) {
            tracing::warn!("could not cache compiled plugin {name}: {e:#}");
        }
        Ok(Loaded {
            component,
            sha256,
            cached: false,
        })
    }
}

/// Bytes of each pooled memory kept mapped between calls.
const KEEP_RESIDENT: usize = 2 << 20;

/// Pre-reserved slots for instances, memories and tables: a call takes one
/// and gives it back (with its memory reset by copy-on-write) instead of
/// mapping and unmapping memory, which is most of a fresh instance's cost.
/// The counts bound the calls in flight at once; the memory size is the
/// largest `memory_mib` a config may set.
fn pool() -> PoolingAllocationConfig {
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(128)
        .total_core_instances(1024)
        .total_memories(256)
        .total_tables(1024)
        .max_memory_size(super::limits::MAX_PLUGIN_MEMORY_MIB as usize * (1 << 20))
        .max_core_instances_per_component(32)
        .max_memories_per_component(4)
        .max_tables_per_component(16)
        .table_elements(100_000)
        // Reset the pages a call wrote by writing zeros (or the image) instead
        // of giving them back to the kernel: a reused slot then takes no page
        // faults for what a call usually touches. Where the kernel has
        // PAGEMAP_SCAN (Linux 6.7+), only the pages written are reset, not
        // all of the first KEEP_RESIDENT bytes: that halves a call's floor.
        .linear_memory_keep_resident(KEEP_RESIDENT)
        .table_keep_resident(64 << 10)
        .pagemap_scan(wasmtime::Enabled::Auto);
    pool
}

/// One thread per engine advances its epoch every [`EPOCH_TICK`]; it holds
/// only a weak reference and ends with the engine.
fn start_ticker(engine: &Engine) {
    let weak = engine.weak();
    let spawned = std::thread::Builder::new()
        .name("plugin-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("plugin deadlines are off: could not start the epoch thread: {e}");
    }
}

/// Plugins are pure functions of their inputs: waiting on a clock or a
/// stream (a sleep, a poll) is refused with a trap that says so, instead of
/// blocking the host where no deadline can reach it.
fn refuse_waiting(linker: &mut Linker<CallState>) -> Result<()> {
    use wasmtime::component::Resource;
    use wasmtime_wasi::p2::DynPollable;
    const REFUSED: &str = "plugins may not wait (a sleep or a poll on a clock or stream): \
         a plugin call must compute its result and return";
    linker.allow_shadowing(true);
    let mut poll = linker
        .instance(POLL_INTERFACE)
        .map_err(Error::from)
        .context("finding wasi:io/poll in the linker")?;
    poll.func_wrap(
        "poll",
        |_, (_,): (Vec<Resource<DynPollable>>,)| -> wasmtime::Result<(Vec<u32>,)> {
            Err(wasmtime::Error::msg(REFUSED))
        },
    )
    .map_err(Error::from)?;
    poll.func_wrap(
        "[method]pollable.block",
        |_, (_,): (Resource<DynPollable>,)| -> wasmtime::Result<()> {
            Err(wasmtime::Error::msg(REFUSED))
        },
    )
    .map_err(Error::from)?;
    linker.allow_shadowing(false);
    Ok(())
}

/// The wasi:io/poll version wasmtime-wasi links (guests built for any 0.2.x
/// resolve to it).
const POLL_INTERFACE: &str = "wasi:io/poll@0.2.12";

/// Compiled components on disk, trusted only when this host wrote them: each
/// file starts with an HMAC-SHA256 of its name and contents under a per-user
/// key (`cache.key`, created 0600 beside the files), so a file placed there
/// by anyone else is recompiled, never executed. The folder is created 0700
/// and used only while it and its key are this user's own and no one else
/// can write them (or read the key): otherwise another user could replace
/// the key with one they know and plant native code under a plugin's name.
/// The least recently used files are evicted above [`CACHE_CAP_BYTES`].
struct Cache {
    dir: PathBuf,
    key: [u8; 32],
}

const MAC_LEN: usize = 32;

impl Cache {
    /// The cache in `dir` (created 0700), or none — with a warning that says
    /// why — when the folder or its key could be someone else's.
    fn open(dir: PathBuf) -> Result<Option<Cache>> {
        create_private_dir(&dir)
            .with_context(|| format!("creating the plugin cache {}", dir.display()))?;
        if let Some(why) = untrusted(&dir) {
            tracing::warn!(
                "compiled plugins are not cached: {why}; plugins are compiled at every start \
                 until it is this user's own and writable by no one else (e.g. chmod 700; or \
                 set ECON_HOST_HOME)"
            );
            return Ok(None);
        }
        let key = cache_key(&dir)?;
        // A key made just now by someone else racing us is checked too.
        if let Some(why) = untrusted(&dir) {
            tracing::warn!("compiled plugins are not cached: {why}");
            return Ok(None);
        }
        Ok(Some(Cache { dir, key }))
    }

    fn mac(&self, name: &str, bytes: &[u8]) -> [u8; MAC_LEN] {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        mac.update(name.as_bytes());
        mac.update(&[0]);
        mac.update(bytes);
        mac.finalize().into_bytes().into()
    }

    /// The artifact's bytes when its MAC checks out.
    fn read(&self, name: &str) -> Option<Vec<u8>> {
        use hmac::{Hmac, Mac};
        let path = self.dir.join(name);
        // Read into memory rather than mmap the file: another process
        // rewriting the cache must not be able to fault this one.
        let mut data = std::fs::read(&path).ok()?;
        if data.len() < MAC_LEN {
            return None;
        }
        let body = data.split_off(MAC_LEN);
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        mac.update(name.as_bytes());
        mac.update(&[0]);
        mac.update(&body);
        if mac.verify_slice(&data).is_err() {
            tracing::warn!(
                "compiled plugin {} was not written by this host (its MAC does not match): \
                 recompiling instead of running it",
                path.display()
            );
            return None;
        }
        // Recently used: kept when the cache is trimmed.
        if let Ok(f) = std::fs::File::options().append(true).open(&path) {
            let _ = f.set_modified(std::time::SystemTime::now());
        }
        Some(body)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let mut data = Vec::with_capacity(MAC_LEN + bytes.len());
        data.extend_from_slice(&self.mac(name, bytes));
        data.extend_from_slice(bytes);
        std::fs::create_dir_all(&self.dir)?;
        crate::atomic::write_atomic(&self.dir.join(name), &data)?;
        self.trim(CACHE_CAP_BYTES);
        Ok(())
    }

    /// Remove the least recently used artifacts until the rest fit in `cap`.
    fn trim(&self, cap: u64) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut files: Vec<(std::time::SystemTime, u64, PathBuf)> = entries
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
            .filter_map(|e| {
                let m = e.metadata().ok()?;
                Some((m.modified().ok()?, m.len(), e.path()))
            })
            .collect();
        let mut total: u64 = files.iter().map(|f| f.1).sum();
        files.sort();
        for (_, len, path) in files {
            if total <= cap {
                break;
            }
            if std::fs::remove_file(&path).is_ok() {
                total -= len;
            }
        }
    }
}

/// `dir` and its parents; `dir` itself with mode 0700 when it is new.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    match builder.create(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    }
}

/// Why the cache folder or its key cannot be trusted, if so: a symbolic
/// link, another user's, or writable by others (the key: readable either).
#[cfg(unix)]
pub(crate) fn untrusted(dir: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    let check = |path: &Path, what: &str, forbidden: u32, how: &str| -> Option<String> {
        let m = std::fs::symlink_metadata(path).ok()?;
        if m.file_type().is_symlink() {
            return Some(format!("{what} {} is a symbolic link", path.display()));
        }
        if m.uid() != me {
            return Some(format!(
                "{what} {} belongs to user {} (this is user {me})",
                path.display(),
                m.uid()
            ));
        }
        if m.mode() & forbidden != 0 {
            return Some(format!(
                "{what} {} is {how} by others (mode {:o})",
                path.display(),
                m.mode() & 0o7777
            ));
        }
        None
    };
    check(dir, "the folder", 0o022, "writable").or_else(|| {
        check(
            &dir.join("cache.key"),
            "its key",
            0o077,
            "readable or writable",
        )
    })
}

#[cfg(not(unix))]
pub(crate) fn untrusted(_dir: &Path) -> Option<String> {
    None
}

fn tempfile_in(dir: &Path) -> Result<PathBuf> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    Ok(dir.join(format!(".tmp-{}-{nanos}", std::process::id())))
}

/// The per-user MAC key: read, or created with fresh random bytes and mode
/// 0600 (only this user can read it, so only this user's econ-host can make
/// a cache file that passes).
fn cache_key(dir: &Path) -> Result<[u8; 32]> {
    let path = dir.join("cache.key");
    if let Ok(bytes) = std::fs::read(&path)
        && let Ok(key) = <[u8; 32]>::try_from(bytes.as_slice())
    {
        return Ok(key);
    }
    let mut key = [0u8; 32];
    getrandom::fill(&mut key)
        .map_err(|e| anyhow::anyhow!("no randomness for the cache key: {e}"))?;
    let tmp = tempfile_in(dir)?;
    {
        use std::io::Write;
        let mut options = std::fs::File::options();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options
            .open(&tmp)
            .with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(&key)?;
        f.sync_all()?;
    }
    // Another process may have made one meanwhile: the first one wins.
    match std::fs::hard_link(&tmp, &path) {
        Ok(()) => {
            let _ = std::fs::remove_file(&tmp);
            Ok(key)
        }
        Err(_) => {
            let _ = std::fs::remove_file(&tmp);
            let bytes =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            <[u8; 32]>::try_from(bytes.as_slice())
                .map_err(|_| anyhow::anyhow!("{}: not a 32-byte key; delete it", path.display()))
        }
    }
}

/// Content hash of a plugin file: its identity in the registry and the cache.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The largest plugin file read (a Python component is ~18 MB, a
/// JavaScript one ~12 MB).
pub const MAX_PLUGIN_FILE_BYTES: u64 = 256 << 20;

/// A plugin file's bytes, read only once it is known to be a regular file
/// of at most [`MAX_PLUGIN_FILE_BYTES`] whose first 8 bytes are a
/// component's header: a FIFO, a device or a 2 GB sparse file named `.wasm`
/// costs nothing.
pub fn read_plugin_file(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let what = || format!("plugin file {}", path.display());
    let meta = std::fs::metadata(path).with_context(what)?;
    if !meta.is_file() {
        bail!("{}: not a regular file", what());
    }
    if meta.len() > MAX_PLUGIN_FILE_BYTES {
        bail!(
            "{}: {} bytes, more than a plugin may have ({} MiB)",
            what(),
            meta.len(),
            MAX_PLUGIN_FILE_BYTES >> 20
        );
    }
    let mut file = std::fs::File::open(path).with_context(what)?;
    let mut header = [0u8; 8];
    let got = file.read(&mut header).with_context(what)?;
    check_component_header(&header[..got]).with_context(what)?;
    let mut bytes = header[..got].to_vec();
    file.take(MAX_PLUGIN_FILE_BYTES)
        .read_to_end(&mut bytes)
        .with_context(what)?;
    Ok(bytes)
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
