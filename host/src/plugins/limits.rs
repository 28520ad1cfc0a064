//! What a plugin call may use: fuel, memory, and the (empty) set of WASI
//! capabilities. Decided here and nowhere else.

use std::collections::BTreeMap;

use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{ResourceTable, WasiCtx, WasiCtxView, WasiView};

/// Per-call budget of one plugin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Wasm fuel (roughly one unit per instruction). A reward call on an
    /// 8-agent episode with 1024-d embeddings uses well under 1% of the default.
    pub fuel: u64,
    /// Cap on linear memory of the instance, in bytes.
    pub memory_bytes: usize,
    /// After this many failed calls in a row (trap, fuel, memory) the plugin
    /// is disabled: its calls fail at once with a message saying so.
    pub max_consecutive_failures: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: 2_000_000_000,
            memory_bytes: 256 << 20,
            max_consecutive_failures: 20,
        }
    }
}

/// The limits of every plugin, with overrides by plugin name (the name its
/// meta() declares), from the config's `[plugins]` table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LimitsPolicy {
    pub default: Limits,
    pub by_name: BTreeMap<String, Limits>,
}

impl LimitsPolicy {
    /// The limits of the plugin called `name`.
    pub fn for_plugin(&self, name: &str) -> Limits {
        self.by_name.get(name).copied().unwrap_or(self.default)
    }

    /// For meta(), which runs before the plugin's name is known: the most
    /// generous of all, so a plugin given more room can always say who it is.
    pub fn for_meta(&self) -> Limits {
        self.by_name.values().fold(self.default, |a, b| Limits {
            fuel: a.fuel.max(b.fuel),
            memory_bytes: a.memory_bytes.max(b.memory_bytes),
            max_consecutive_failures: a.max_consecutive_failures.max(b.max_consecutive_failures),
        })
    }
}

impl From<Limits> for LimitsPolicy {
    fn from(default: Limits) -> Self {
        LimitsPolicy {
            default,
            by_name: BTreeMap::new(),
        }
    }
}

/// How much of a guest's stderr (panic messages) is kept for error reports.
const STDERR_CAPTURE_BYTES: usize = 16 << 10;

/// The state of one Store: one plugin call.
pub struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
    stderr: MemoryOutputPipe,
}

impl CallState {
    /// A fresh sandbox: no files, no environment, no arguments, no network,
    /// stdin closed, stdout discarded, stderr captured so a panic message can
    /// be shown. Clocks and randomness stay: Rust's HashMap and Python need
    /// them and they grant no access to anything.
    pub fn new(limits: &Limits) -> Self {
        let stderr = MemoryOutputPipe::new(STDERR_CAPTURE_BYTES);
        let wasi = WasiCtx::builder()
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let limits = StoreLimitsBuilder::new()
            .memory_size(limits.memory_bytes)
            .instances(64)
            .tables(64)
            .memories(16)
            // Fail loudly instead of handing the guest a -1 it turns into an
            // opaque abort, so the error can say "memory limit".
            .trap_on_grow_failure(true)
            .build();
        CallState {
            wasi,
            table: ResourceTable::new(),
            limits,
            stderr,
        }
    }

    /// What the guest wrote to stderr during this call (lossy UTF-8, trimmed).
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents())
            .trim()
            .to_string()
    }

    pub fn limiter(&mut self) -> &mut dyn ResourceLimiter {
        &mut self.limits
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
