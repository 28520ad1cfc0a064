//! The simulated world: an LLM provider (`provider = "sim"`) whose answers
//! depend on the executors' sampling actions through a hidden rule, for fast
//! and honest research iteration — and for the tests that prove learning.
//!
//! - Each problem has a *kind*, visible only through the words of its
//!   question (`[sim] kinds`, matched by keyword). Each kind has a best
//!   action (T*, p*); an executor sampled at (T, p) answers right with
//!   probability `floor + (peak − floor)·exp(−½((T−T*)/w_T)² − ½((p−p*)/w_p)²)`.
//! - A call's draw comes from its seed and its prompt, as on a real server:
//!   the same seed, prompt and settings give the same answer, and a small
//!   change of temperature moves the chance of being right, not the draw
//!   (common random numbers). Executors sharing one seed are one sample.
//! - The coordinator writes a strategy without numbers and commits to the
//!   majority of the executors' boxed answers, taking a minority answer with
//!   probability `coordinator_error` when they disagree.
//! - No model, no download, microseconds per call: thousands of episodes a
//!   minute with the hashed embedder (`[embedding] provider = "hash"`).
//!
//! `configs/sim.toml` runs it on `data/sim-problems.jsonl`, which
//! `econ-host sim problems` writes (problems.rs).

pub mod client;

pub mod problems;
pub mod world;

pub use crate::config::{KindConfig, SimConfig};
pub use client::SimClient;
pub use world::World;
