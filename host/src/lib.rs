//! econ-host: ECON (belief-driven multi-agent LLM reasoning) with hot-reloaded
//! WebAssembly plugins for rewards, dataset adapters, prompts and parsers.
//!
//! The map: modules from the top (what a user runs) down to the small pieces
//! everything shares. A module uses only modules listed below it — never one
//! above — and `house::every_module_imports_only_modules_below_it` (in
//! tests/it) fails when an import runs up.
//! - [`cmd`]: one file per command; [`cli`] parses the command line.
//! - [`share`]: plugins shared between people — OCI registries, publishing.
//! - [`report`]: the HTML report and the sweep's table, read from run folders.
//! - [`runner`]: a job — data, plugins, LLM clients, the encoder — and its
//!   training and test loops, checkpoints, resume, learning curve.
//! - [`episode`]: one problem — strategy, executor rounds, commitment, BNE
//!   rounds and stop rules, the comparison modes; what a trace line and a
//!   summary hold.
//! - [`runlog`]: the run folder — run.json, traces, summary, metrics,
//!   TensorBoard events, the folder lock: each file's one writer and reader.
//! - [`sim`]: the simulated worlds, an LLM provider with a hidden rule.
//! - [`data`]: dataset files and the Hugging Face cache, through adapter plugins.
//! - [`embed`]: sentence embeddings (local BERT-family, remote, hashed, cached).
//! - [`learn`]: acting and learning — policy, batch, losses, update, checkpoint.
//! - [`config`]: the run's TOML, one section a file, with `--set` overrides.
//! - [`models`]: the packaged models and their fetching; [`scaffold`]: new
//!   plugin crates.
//! - [`llm`]: the LLM clients — embedded llama.cpp, OpenAI-compatible servers in
//!   their dialects, record/replay.
//! - [`plugins`]: the sandboxed WebAssembly components and their registry.
//! - [`atomic`]: all-or-nothing writes, and opening files never through a
//!   symbolic link (run folders, the plugin cache, installed plugins).
//! - [`error`] (exit codes, printable text), [`progress`], [`interrupt`] (Ctrl-C).
//! - [`http`]: TLS, POST, one retry loop, API keys, redaction.
//! - [`nets`]: the paper's networks — belief, encoder, refine, mixer.
//! - [`rng`]: the one seeded generator.

pub mod cmd;

pub mod cli;

pub mod share;

pub mod report;

pub mod runner;

pub mod episode;

pub mod runlog;

pub mod sim;

pub mod data;

pub mod embed;

pub mod learn;

pub mod config;

pub mod models;

pub mod scaffold;

pub mod llm;

pub mod plugins;

pub mod atomic;

pub mod error;

pub mod progress;

pub mod interrupt;

pub mod http;

pub mod nets;

pub mod rng;

/// Where the networks run: CUDA when libtorch sees a GPU, else the CPU.
pub fn torch_device() -> tch::Device {
    tch::Device::cuda_if_available()
}
