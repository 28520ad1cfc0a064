//! `[runner]`: how the runner schedules, saves and rides out failing servers.

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

/// How the runner schedules and saves.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunnerConfig {
    /// Test episodes in flight at once (each with its own plugin snapshot);
    /// results are written in problem order. Training is sequential.
    #[serde(default = "d_1")]
    pub concurrency: usize,
    /// A checkpoint every this many training episodes (the final one always).
    #[serde(default = "default_save_interval")]
    pub save_interval: u64,
    /// Threads libtorch may use (networks, embeddings). 0 = automatic: one
    /// when an LLM role runs embedded (llama.cpp needs the cores), else all.
    #[serde(default)]
    pub torch_threads: usize,
    /// Times one episode is run when an LLM call of it still fails after its
    /// own retries (a transient fault sends the episode back to the queue).
    #[serde(default = "default_episode_attempts")]
    pub episode_attempts: u32,
    /// An LLM failing for this long (seconds, every episode attempt since)
    /// is an outage: the run stops, checkpointed, with a partial summary, and
    /// `--resume` goes on.
    #[serde(default = "default_outage_s")]
    pub outage_s: f64,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig {
            concurrency: 1,
            save_interval: default_save_interval(),
            torch_threads: 0,
            episode_attempts: default_episode_attempts(),
            outage_s: default_outage_s(),
        }
    }
}

fn default_episode_attempts() -> u32 {
    5
}

fn default_outage_s() -> f64 {
    300.0
}

impl RunnerConfig {
    pub fn validate(&self) -> Result<()> {
        if !(1..=256).contains(&self.concurrency) {
            bail!(
                "key runner.concurrency: {} is outside 1..=256",
                self.concurrency
            );
        }
        if self.save_interval == 0 {
            bail!("key runner.save_interval: must be at least 1");
        }
        if !(1..=100).contains(&self.episode_attempts) {
            bail!(
                "key runner.episode_attempts: {} is outside 1..=100",
                self.episode_attempts
            );
        }
        if !(self.outage_s.is_finite() && self.outage_s > 0.0) {
            bail!(
                "key runner.outage_s: {} must be a positive number of seconds",
                self.outage_s
            );
        }
        Ok(())
    }
}

fn default_save_interval() -> u64 {
    50
}

fn d_1() -> usize {
    1
}
