//! econ-host: ECON (belief-driven multi-agent LLM reasoning) with hot-reloaded
//! WebAssembly plugins for rewards, dataset adapters, prompts and parsers.

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
