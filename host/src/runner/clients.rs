//! The two LLM roles of a run, each a client for its `[llm.<role>]` section:
//! the embedded engine (one loaded model shared when both roles name it), an
//! OpenAI-compatible server, or the simulated world; behind the response
//! cache when `[llm.cache]` asks for it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};

use crate::config::{Config, LlmConfig, RoleConfig};
use crate::data::Splits;
use crate::error::bad_input;
use crate::llm::LlmClient;
use crate::llm::cache::{CacheMode, CachedClient};
use crate::llm::local::{LocalClient, LocalModel};
use crate::llm::openai::OpenAiClient;

/// Who an LLM call is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Coordinator,
    Executor,
}

impl Role {
    pub const ALL: [Role; 2] = [Role::Coordinator, Role::Executor];

    /// The role's name in the config (`[llm.<name>]`) and in messages.
    pub fn name(self) -> &'static str {
        match self {
            Role::Coordinator => "coordinator",
            Role::Executor => "executor",
        }
    }

    pub fn config(self, llm: &LlmConfig) -> &RoleConfig {
        match self {
            Role::Coordinator => &llm.coordinator,
            Role::Executor => &llm.executor,
        }
    }
}

/// The coordinator and executor clients. Both roles on the same embedded
/// GGUF share one loaded model; the simulated world knows every problem of
/// the run; a record/replay cache wraps both.
pub(super) fn llm_roles(
    config: &Config,
    splits: &Splits,
) -> Result<(Arc<dyn LlmClient>, Arc<dyn LlmClient>)> {
    let mut local: Vec<(PathBuf, Arc<LocalModel>)> = Vec::new();
    let mut world: Option<Arc<crate::sim::World>> = None;
    let mut client = |role: Role| -> Result<Arc<dyn LlmClient>> {
        let rc = role.config(&config.llm);
        let inner: Arc<dyn LlmClient> = match rc.provider.as_str() {
            "local" => {
                let path = crate::models::resolve(&rc.model, &config.base_dir)
                    .map_err(bad_input)
                    .with_context(|| format!("key llm.{}.model", role.name()))?;
                let model = match local.iter().find(|(p, _)| *p == path) {
                    Some((_, m)) => Arc::clone(m),
                    None => {
                        let t0 = Instant::now();
                        let m = Arc::new(LocalModel::load(
                            &path,
                            config.llm.threads,
                            config.llm.context,
                            config.llm.gpu_layers,
                        )?);
                        tracing::info!(
                            "loaded {} ({:.0}M parameters) in {:.1}s",
                            path.display(),
                            m.n_params() as f64 / 1e6,
                            t0.elapsed().as_secs_f64()
                        );
                        local.push((path, Arc::clone(&m)));
                        m
                    }
                };
                Arc::new(LocalClient::new(model))
            }
            "sim" => {
                let world = world.get_or_insert_with(|| {
                    Arc::new(crate::sim::World::of_splits(config.sim.clone(), splits))
                });
                Arc::new(crate::sim::SimClient::new(
                    Arc::clone(world),
                    role == Role::Coordinator,
                    &rc.model,
                    config.seed,
                ))
            }
            _ => Arc::new(OpenAiClient::new(rc.openai_options(role.name())?)?),
        };
        let mode: CacheMode = config
            .llm
            .cache
            .mode
            .parse()
            .map_err(|e: anyhow::Error| bad_input(e.context("key llm.cache.mode")))?;
        if mode == CacheMode::Off {
            return Ok(inner);
        }
        let path = config.resolve(config.llm.cache.path.as_deref().unwrap_or(Path::new("")));
        Ok(Arc::new(CachedClient::new(inner, mode, &path)?))
    };
    let coordinator = client(Role::Coordinator)?;
    let executor = client(Role::Executor)?;
    Ok((coordinator, executor))
}
