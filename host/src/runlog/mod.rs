//! The run folder: every file a run keeps, named here, each with one writer
//! and one reader. Writes never follow a symbolic link planted in the folder
//! and rewrites are all or nothing ([`crate::atomic`]); readers drop a torn
//! last line (a run killed mid-write) with a warning.
//!
//! | file | module |
//! |---|---|
//! | `run.json` — how the run was made | [`provenance`] |
//! | `traces_<phase>_<mode>.jsonl` — one line per episode | [`jsonl`] (the line is `episode::trace::Trace`) |
//! | `summary.json` — each command adds its part | [`summary`] (the figures: `episode::summary`) |
//! | `metrics.jsonl` — every loss term per update | [`metrics`] |
//! | `events.out.tfevents.*` — the same for TensorBoard | [`tensorboard`] |
//! | `learning_curve.jsonl` — `sim curve`'s points | [`jsonl`] |
//! | `.econ-host.lock` — one process per folder | [`lock`] |

pub mod jsonl;
pub mod lock;
pub mod metrics;
pub mod provenance;
pub mod summary;
pub mod tensorboard;

pub use provenance::RUN_FILE;

/// Each command's results, merged (see [`summary::merge_into`]).
pub const SUMMARY_FILE: &str = "summary.json";
/// Every loss term of every update.
pub const METRICS_FILE: &str = "metrics.jsonl";
/// `sim curve`'s held-out accuracy per checkpoint.
pub const CURVE_FILE: &str = "learning_curve.jsonl";
/// The test traces' file names start so (then the mode, then `.jsonl`).
pub const TEST_TRACES_PREFIX: &str = "traces_test_";
/// The training traces' file names start so.
pub const TRAIN_TRACES_PREFIX: &str = "traces_train_";

/// The traces of one phase ("train", "test") and mode ("bne", "sc", ...).
pub fn traces_file(phase: &str, mode: &str) -> String {
    format!("traces_{phase}_{mode}.jsonl")
}
