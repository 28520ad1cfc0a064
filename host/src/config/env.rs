//! `[env]`: how a problem becomes an episode.

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

/// The environment: how a problem becomes an episode.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvConfig {
    /// Decision steps per episode (the reference's env max_rounds); each step
    /// holds its own BNE rounds. 1 = one decision, as in every shipped config.
    #[serde(default = "d_1")]
    pub max_rounds: usize,
    /// Token budget of the coordinator's strategy (the paper: at most 50).
    #[serde(default = "default_strategy_tokens")]
    pub strategy_max_tokens: u32,
    /// Show the coordinator (and the executors) the previous round's
    /// commitment as the prompt variable `previous_commitment`. Off: ECON's
    /// coordinator sees only the question, the strategy and this round's
    /// executor outputs, and an anchor would make "commitment unchanged"
    /// fire as an artefact.
    #[serde(default)]
    pub show_previous_commitment: bool,
}

impl Default for EnvConfig {
    fn default() -> Self {
        EnvConfig {
            max_rounds: 1,
            strategy_max_tokens: default_strategy_tokens(),
            show_previous_commitment: false,
        }
    }
}

impl EnvConfig {
    pub fn validate(&self) -> Result<()> {
        if !(1..=32).contains(&self.max_rounds) {
            bail!("key env.max_rounds: {} is outside 1..=32", self.max_rounds);
        }
        if self.strategy_max_tokens == 0 {
            bail!("key env.strategy_max_tokens: must be at least 1");
        }
        Ok(())
    }
}

fn default_strategy_tokens() -> u32 {
    50
}

fn d_1() -> usize {
    1
}
