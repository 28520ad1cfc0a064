//! econ-host's integration tests: one binary (libtorch, wasmtime and
//! llama.cpp are linked once), a module per area. They run the real binary,
//! the real plugins, real models and real local servers; `common` holds what
//! several areas share. Tests that change what a whole process shares (the
//! environment, the global log subscriber) run in a child process of this
//! binary (`common::process`).

mod common;

mod baselines;
mod cli;
mod data_sources;
mod dataset_plugins;
mod dialects;
mod embed;
mod embed_remote;
mod house;
mod llama_server;
mod llm_http;
mod llm_tls;
mod local_llm;
mod method;
mod models_fetch;
mod nets;
mod oci;
mod plugin_hub;
mod plugin_lock;
mod plugins;
mod plugins_cli;
mod reload;
mod report;
mod runner;
mod scaffold;
mod sim;
