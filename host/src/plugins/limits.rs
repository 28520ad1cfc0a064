//! What a plugin call may use: fuel, memory, and the (empty) set of WASI
//! capabilities; and what the config gives each plugin (its options).
//! Decided here and nowhere else.

use std::collections::BTreeMap;

use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{ResourceTable, WasiCtx, WasiCtxView, WasiView};

/// Per-call budget of one plugin.
/// wasm32 linear memory cannot grow past 4 GiB.
pub const MAX_PLUGIN_MEMORY_MIB: u64 = 4096;

/// An hour: a longer call is a hung plugin, not a slow one.
pub const MAX_PLUGIN_DEADLINE_MS: u64 = 3_600_000;

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
    /// Wall-clock limit of one call, in milliseconds (epoch interruption:
    /// the guest is stopped at its next loop or call once it passes).
    pub deadline_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: 2_000_000_000,
            memory_bytes: 256 << 20,
            max_consecutive_failures: 20,
            deadline_ms: 5_000,
        }
    }
}

/// What the config's `[plugins]` table decides per plugin, by the name its
/// meta() declares: the limits of every plugin with overrides by name, and
/// the options each one is given on every call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PluginPolicy {
    pub default: Limits,
    pub by_name: BTreeMap<String, Limits>,
    /// `[plugins.options.NAME]` as key / value text, checked against what the
    /// plugin declares when it loads.
    pub options: BTreeMap<String, Vec<(String, String)>>,
}

impl PluginPolicy {
    /// The options of the plugin called `name` (empty if none are set).
    pub fn options_for(&self, name: &str) -> Vec<(String, String)> {
        self.options.get(name).cloned().unwrap_or_default()
    }

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
            deadline_ms: a.deadline_ms.max(b.deadline_ms),
        })
    }
}

impl From<Limits> for PluginPolicy {
    fn from(default: Limits) -> Self {
        PluginPolicy {
            default,
            ..PluginPolicy::default()
        }
    }
}

/// How much a guest may write to stdout and to stderr in one call; past it a
/// write fails, and Rust's print macros then panic ("failed printing"), so a
/// flood ends the call with an error instead of filling the host's memory.
pub const OUTPUT_CAPTURE_BYTES: usize = 1 << 20;

/// Core instances, tables and table elements a component may create in one
/// call: the built-in Rust and Python components use a handful of each.
const MAX_INSTANCES: usize = 32;
const MAX_TABLES: usize = 16;
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// The state of one Store: one plugin call.
pub struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
}

impl CallState {
    /// A fresh sandbox: no files, no environment, no arguments, no network,
    /// stdin closed, stdout and stderr captured (bounded) so an author sees
    /// their prints and a panic message can be shown. Clocks and randomness
    /// stay: Rust's HashMap and Python need them and they grant no access to
    /// anything; waiting on a clock is refused (engine.rs). One linear
    /// memory, capped instances and tables.
    pub fn new(limits: &Limits) -> Self {
        let stdout = MemoryOutputPipe::new(OUTPUT_CAPTURE_BYTES);
        let stderr = MemoryOutputPipe::new(OUTPUT_CAPTURE_BYTES);
        let wasi = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let limits = StoreLimitsBuilder::new()
            .memory_size(limits.memory_bytes)
            .instances(MAX_INSTANCES)
            .tables(MAX_TABLES)
            .table_elements(MAX_TABLE_ELEMENTS)
            .memories(1)
            // Fail loudly instead of handing the guest a -1 it turns into an
            // opaque abort, so the error can say "memory limit".
            .trap_on_grow_failure(true)
            .build();
        CallState {
            wasi,
            table: ResourceTable::new(),
            limits,
            stdout,
            stderr,
        }
    }

    /// What the guest wrote to stderr during this call (lossy UTF-8, trimmed).
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents())
            .trim()
            .to_string()
    }

    /// The stream the guest filled up to [`OUTPUT_CAPTURE_BYTES`] (within a
    /// 64 KiB write of it), if any: its writes failed from there on.
    pub fn flooded(&self) -> Option<&'static str> {
        let full = |p: &MemoryOutputPipe| p.contents().len() + (64 << 10) >= OUTPUT_CAPTURE_BYTES;
        if full(&self.stderr) {
            Some("stderr")
        } else if full(&self.stdout) {
            Some("stdout")
        } else {
            None
        }
    }

    /// What the guest wrote to stdout during this call (lossy UTF-8, trimmed).
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout.contents())
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
