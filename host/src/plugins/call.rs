//! One sandboxed call: a fresh Store with fuel, memory and wall-clock limits,
//! a fresh instance, run where WASI's blocking implementation is allowed to
//! block, and a failure turned into an error that names the plugin.

use std::time::{Duration, Instant};

use anyhow::{Error, Result, anyhow};
use wasmtime::{Engine, Store, Trap};

use super::engine::EPOCH_TICK;
use super::lift::ResultTooLarge;
use super::limits::{CallState, Limits};

/// Who is being called, for error messages.
pub trait Named: Sync {
    /// `name@version (file)`.
    fn label(&self) -> String;
}

/// Characters of a guest's output shown in a log line or an error.
const SHOWN_OUTPUT: usize = 2000;

/// Run `f` in a new Store. Every call gets a new instance, so a trap or a
/// half-finished call never leaves state behind for the next one.
pub fn sandboxed<R: Send>(
    engine: &Engine,
    limits: &Limits,
    who: &dyn Named,
    function: &str,
    f: impl FnOnce(&mut Store<CallState>) -> wasmtime::Result<R> + Send,
) -> Result<R> {
    where_blocking_is_allowed(|| {
        let mut store = Store::new(engine, CallState::new(limits));
        store.limiter(|state| state.limiter());
        store.set_fuel(limits.fuel).map_err(Error::from)?;
        store.set_epoch_deadline(deadline_ticks(limits.deadline_ms));
        store.epoch_deadline_trap();
        let started = Instant::now();
        let result = f(&mut store);
        log_output(&store, who, function);
        result.map_err(|e| describe(e, &store, limits, who, function, started.elapsed()))
    })
}

/// Epoch ticks until a call of `deadline_ms` must stop (one extra: the first
/// tick may come at once).
fn deadline_ticks(deadline_ms: u64) -> u64 {
    deadline_ms.div_ceil(EPOCH_TICK.as_millis() as u64) + 1
}

/// wasmtime-wasi's synchronous WASI implementation enters the ambient tokio
/// runtime with `Handle::block_on`, which panics on a thread that is running
/// async tasks: a guest printing to stderr (every Rust panic does) would take
/// the whole run down. On a multi-threaded runtime the call runs in
/// `block_in_place` (the worker hands its tasks to others and may block); on
/// a current-thread runtime on a short-lived thread of its own; outside any
/// runtime, here.
fn where_blocking_is_allowed<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        Ok(_) => std::thread::scope(|s| {
            s.spawn(f)
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        }),
        Err(_) => f(),
    }
}

/// A plugin's prints go to the log with its name (`-v` shows them).
fn log_output(store: &Store<CallState>, who: &dyn Named, function: &str) {
    for (stream, text) in [
        ("stdout", store.data().stdout()),
        ("stderr", store.data().stderr()),
    ] {
        if !text.is_empty() {
            tracing::info!(
                "plugin {} {function} wrote to {stream}: {}",
                who.label(),
                shorten(&text, SHOWN_OUTPUT)
            );
        }
    }
}

/// A plugin's own `Err(String)`: data, not a crash, but still named.
pub fn reported(who: &dyn Named, function: &str, message: String) -> Error {
    anyhow!(
        "plugin {}: {function} returned an error: {message}",
        who.label()
    )
}

fn describe(
    error: wasmtime::Error,
    store: &Store<CallState>,
    limits: &Limits,
    who: &dyn Named,
    function: &str,
    took: Duration,
) -> Error {
    let text = format!("{error:#}");
    let what = match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => format!(
            "ran out of fuel ({} units; an infinite loop, or raise the plugin's fuel limit)",
            limits.fuel
        ),
        Some(Trap::Interrupt) => format!(
            "ran past its deadline of {} ms (stopped after {} ms; a loop, or raise the \
             plugin's deadline_ms)",
            limits.deadline_ms,
            took.as_millis()
        ),
        _ if text.contains("forcing trap when growing memory") => {
            format!("hit its memory limit of {} MiB", limits.memory_bytes >> 20)
        }
        _ if text.contains("forcing trap when growing table") => {
            "hit its table limit (too many table elements)".to_string()
        }
        _ if let Some(too_large) = error.downcast_ref::<ResultTooLarge>() => too_large.to_string(),
        _ if text.contains("resource limit exceeded") => {
            format!("exceeded a sandbox limit: {text}")
        }
        _ if store.data().flooded().is_some() => format!(
            "wrote more than {} MiB to {} (the sandbox keeps no more) and then {}",
            super::limits::OUTPUT_CAPTURE_BYTES >> 20,
            store.data().flooded().unwrap_or("its output"),
            error
                .downcast_ref::<Trap>()
                .map_or_else(|| format!("failed: {text}"), |t| format!("trapped: {t}"))
        ),
        Some(trap) => format!("trapped: {trap}"),
        None => format!("failed: {text}"),
    };
    let mut message = format!("plugin {}: {function} {what}", who.label());
    for (stream, out) in [
        ("stderr", store.data().stderr()),
        ("stdout", store.data().stdout()),
    ] {
        if !out.is_empty() {
            message.push_str(&format!("; its {stream}: {}", last_lines(&out, 6)));
        }
    }
    anyhow!(message)
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    shorten(
        &lines[lines.len().saturating_sub(n)..].join(" | "),
        SHOWN_OUTPUT,
    )
}

/// At most `max` characters: the end of the text, where a panic message is.
fn shorten(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_string();
    }
    let tail: String = text.chars().skip(count - max).collect();
    format!("…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_round_up_to_ticks() {
        assert_eq!(deadline_ticks(5000), 501);
        assert_eq!(deadline_ticks(1), 2);
    }

    /// A guest that grows a table without end fails its call naming the
    /// plugin and the table limit, well within its deadline. The runs in
    /// tests/it/sim.rs grow a Rust guest's function table through the real
    /// binary; this core module grows a table of its own, in the same sandbox
    /// (store, limiter, pooled slots) as every plugin call.
    #[test]
    fn a_table_bomb_fails_its_call_naming_the_table_limit() {
        let engine = super::super::engine::PluginEngine::new(None).unwrap();
        let wasm = wat::parse_str(
            r#"(module
                 (table $t 1 funcref)
                 (func (export "grow")
                   (loop $again
                     (drop (table.grow $t (ref.null func) (i32.const 10000)))
                     (br $again))))"#,
        )
        .unwrap();
        let module = wasmtime::Module::new(engine.engine(), &wasm).unwrap();
        struct Bomb;
        impl Named for Bomb {
            fn label(&self) -> String {
                "table-bomb@0.1.0 (table-bomb.wasm)".into()
            }
        }
        let limits = Limits::default();
        let started = Instant::now();
        let e = sandboxed(engine.engine(), &limits, &Bomb, "grow", |store| {
            let instance = wasmtime::Instance::new(&mut *store, &module, &[])?;
            let grow = instance.get_typed_func::<(), ()>(&mut *store, "grow")?;
            grow.call(&mut *store, ())
        })
        .unwrap_err();
        let msg = format!("{e:#}");
        assert!(
            msg.contains("plugin table-bomb@0.1.0") && msg.contains("hit its table limit"),
            "{msg}"
        );
        assert!(started.elapsed() < Duration::from_millis(limits.deadline_ms));
    }

    #[test]
    fn long_output_keeps_its_end() {
        let s = shorten(&"x".repeat(10).repeat(500), 20);
        assert_eq!(s.chars().count(), 21);
        assert!(s.starts_with('…'));
        assert_eq!(shorten("short", 20), "short");
    }
}
