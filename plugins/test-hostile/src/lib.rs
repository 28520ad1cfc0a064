//! Hostile guests for the host's tests, one per plugin kind (cargo feature
//! `reward`, `prompt`, `parser` or `adapter`). An input that holds
//! `HOSTILE:<what>` makes the guest misbehave; everything else gets a plain,
//! working answer, so a run around the hostile inputs can go on.
//!
//! Every kind: `loop`, `sleep`, `panic`, `oom`, `flood` (stderr), `table`
//! (grows its function table without end), `print` (stdout and stderr, then a
//! normal answer). Per kind: `nan` (reward), `short` (one result too few),
//! `alias` (results whose strings all point at one large buffer: gigabytes if
//! the host copied them blindly).
//! Only meaningful as a wasm component; empty on native builds.
//!
//! Rust has no stable way to emit `table.grow`, so `table` is one line of
//! wasm inline assembly, a nightly feature: scripts/dev builds this crate
//! (and only this crate) with `RUSTC_BOOTSTRAP=test_hostile`.
#![cfg(target_arch = "wasm32")]
#![feature(asm_experimental_arch)]

#[cfg(feature = "adapter")]
mod adapter;
#[cfg(feature = "parser")]
mod parser;
#[cfg(feature = "prompt")]
mod prompt;
#[cfg(feature = "reward")]
mod reward;

/// `free` does nothing: the `alias` results hand the same allocation out many
/// times, and the bindings free each copy after the call.
struct NeverFree;

unsafe impl std::alloc::GlobalAlloc for NeverFree {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: std::alloc::Layout) {}
}

#[global_allocator]
static ALLOCATOR: NeverFree = NeverFree;

/// The word after `HOSTILE:` in `text`, or "".
pub fn what(text: &str) -> &str {
    text.split("HOSTILE:")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_alphabetic()).next())
        .unwrap_or("")
}

/// The first misbehaviour asked for by any of `texts`.
pub fn first_what<'a>(texts: impl IntoIterator<Item = &'a str>) -> &'a str {
    texts
        .into_iter()
        .map(what)
        .find(|w| !w.is_empty())
        .unwrap_or("")
}

/// The misbehaviours every kind shares; returns for anything else.
pub fn act(what: &str, context: &str) {
    match what {
        "loop" => {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        "sleep" => std::thread::sleep(std::time::Duration::from_secs(3600)),
        "panic" => panic!("asked to panic on {context}"),
        "oom" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 1 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        "flood" => loop {
            eprintln!("{}", "flood ".repeat(1000));
        },
        "table" => loop {
            // SAFETY: growing the table by null entries changes no entry
            // the program calls through.
            let grown = unsafe { grow_function_table(1 << 14) };
            std::hint::black_box(grown);
        },
        "print" => {
            println!("working on {context} (stdout)");
            eprintln!("working on {context} (stderr)");
        }
        _ => {}
    }
}

/// `table.grow` on the module's function table by `delta` null entries: the
/// old size, or -1 when the host refuses (the sandbox traps instead).
#[target_feature(enable = "reference-types")]
unsafe fn grow_function_table(delta: i32) -> i32 {
    let old: i32;
    unsafe {
        std::arch::asm!(
            "ref.null_func",
            "local.get {delta}",
            "table.grow __indirect_function_table",
            "local.set {old}",
            delta = in(local) delta,
            old = lateout(local) old,
        );
    }
    old
}

/// Bytes of the buffer every `alias` string points at: small enough for a
/// 32 MiB guest, and two of them already over its result budget.
const ALIAS_BYTES: usize = 20 << 20;

/// `count` strings that all share one buffer of [`ALIAS_BYTES`], the same
/// buffer for every call of an instance.
pub fn aliases(count: usize) -> Vec<String> {
    static BUFFER: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let ptr = *BUFFER
        .get_or_init(|| Box::leak("x".repeat(ALIAS_BYTES).into_boxed_str()).as_mut_ptr() as usize)
        as *mut u8;
    // SAFETY: the bytes stay valid (leaked) and are never freed (NeverFree).
    (0..count)
        .map(|_| unsafe { String::from_raw_parts(ptr, ALIAS_BYTES, ALIAS_BYTES) })
        .collect()
}
