//! One sandboxed call: a fresh Store with fuel and memory limits, a fresh
//! instance, and a failure turned into an error that names the plugin.

use anyhow::{Error, Result, anyhow};
use wasmtime::{Engine, Store, Trap};

use super::limits::{CallState, Limits};

/// Who is being called, for error messages.
pub trait Named {
    /// `name@version (file)`.
    fn label(&self) -> String;
}

/// Run `f` in a new Store. Every call gets a new instance, so a trap or a
/// half-finished call never leaves state behind for the next one.
pub fn sandboxed<R>(
    engine: &Engine,
    limits: &Limits,
    who: &dyn Named,
    function: &str,
    f: impl FnOnce(&mut Store<CallState>) -> wasmtime::Result<R>,
) -> Result<R> {
    let mut store = Store::new(engine, CallState::new(limits));
    store.limiter(|state| state.limiter());
    store.set_fuel(limits.fuel).map_err(Error::from)?;
    f(&mut store).map_err(|e| describe(e, &store, limits, who, function))
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
) -> Error {
    let what = match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => format!(
            "ran out of fuel ({} units; an infinite loop, or raise the plugin's fuel limit)",
            limits.fuel
        ),
        _ if format!("{error:#}").contains("forcing trap when growing memory") => {
            format!("hit its memory limit of {} MiB", limits.memory_bytes >> 20)
        }
        Some(trap) => {
            let stderr = store.data().stderr();
            if stderr.is_empty() {
                format!("trapped: {trap}")
            } else {
                format!("trapped: {trap}; it wrote: {}", last_lines(&stderr, 4))
            }
        }
        None => format!("failed: {:#}", Error::from(error)),
    };
    anyhow!("plugin {}: {function} {what}", who.label())
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}
