//! econ-host: ECON (belief-driven multi-agent LLM reasoning) with hot-reloaded
//! WebAssembly plugins for rewards, dataset adapters, prompts and parsers.
//!
//! The architecture, in the order a run goes through it (dependencies point
//! down the list, never up):
//! - [`cli`] parses the command line; [`cmd`] holds one file per command.
//! - [`config`] loads a run's TOML, one section a file; the paper's
//!   hyper-parameters are [`nets::NetsConfig`].
//! - [`runner`] sets a job up (data, plugins, LLM clients, the encoder) and
//!   drives the training and test loops, checkpoints and resume.
//! - [`episode`] runs one problem: strategy, executor rounds, commitment, BNE
//!   rounds ([`episode::bne`]), the comparison modes, traces and summaries.
//! - [`learn`] acts and learns (policy, batch, losses, update, checkpoint)
//!   with the networks of [`nets`] (belief, encoder, mixer, refine).
//! - [`llm`] talks to models (embedded llama.cpp, OpenAI-compatible over
//!   [`http`], a response cache); [`embed`] turns text into vectors;
//!   [`models`] fetches the packaged models.
//! - [`plugins`] hosts the sandboxed WebAssembly components; [`data`] reads
//!   datasets through adapter plugins.
//! - [`sim`] is the simulated world where learning claims are checked in
//!   seconds; [`report`] draws a run.
//! - Small pieces: [`rng`] (the one seeded generator), [`atomic`] (all-or-nothing
//!   file writes), [`error`] (exit codes),
//!   [`interrupt`], [`progress`], [`scaffold`] (new plugin crates).

pub mod atomic;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod data;
pub mod embed;
pub mod episode;
pub mod error;
pub mod http;
pub mod interrupt;
pub mod learn;
pub mod llm;
pub mod models;
pub mod nets;
pub mod plugins;
pub mod progress;
pub mod report;
pub mod rng;
pub mod runner;
pub mod scaffold;
pub mod sim;

/// Where the networks run: CUDA when libtorch sees a GPU, else the CPU.
pub fn torch_device() -> tch::Device {
    tch::Device::cuda_if_available()
}
