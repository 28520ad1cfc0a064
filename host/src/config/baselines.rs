//! `[baselines]`: the comparison modes (cot, sc, debate, majority).

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

/// `[baselines]`: the comparison modes `cot`, `sc` and `debate` (test only).
/// They use the executor model, the answer parser and prompt stages "cot",
/// "sc" and "debate" of the prompt plugin; `top_p` is `sampling.top_p_default`
/// and the repetition penalty is neutral (1.0) in all three.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselinesConfig {
    /// Chain of thought: one executor call at this temperature. 0.0 (greedy)
    /// is the usual single-sample baseline: its best guess, not a draw.
    #[serde(default)]
    pub cot_temperature: f64,
    /// Self-consistency: samples per problem (default: `n_agents`, so that sc
    /// and ECON's round 0 make the same number of executor calls).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sc_samples: Option<usize>,
    /// Self-consistency sampling temperature (Wang et al. 2023 sample at 0.5-0.7).
    #[serde(default = "default_sample_temperature")]
    pub sc_temperature: f64,
    /// Debate (Du et al. 2023): agents (default: `n_agents`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debate_agents: Option<usize>,
    /// Debate rounds, the independent first answers included.
    #[serde(default = "default_debate_rounds")]
    pub debate_rounds: usize,
    /// Debate sampling temperature: above 0 so that the agents' first answers
    /// can differ (identical greedy agents have nothing to debate).
    #[serde(default = "default_sample_temperature")]
    pub debate_temperature: f64,
}

impl Default for BaselinesConfig {
    fn default() -> Self {
        BaselinesConfig {
            cot_temperature: 0.0,
            sc_samples: None,
            sc_temperature: default_sample_temperature(),
            debate_agents: None,
            debate_rounds: default_debate_rounds(),
            debate_temperature: default_sample_temperature(),
        }
    }
}

impl BaselinesConfig {
    pub fn sc_samples(&self, n_agents: usize) -> usize {
        self.sc_samples.unwrap_or(n_agents)
    }

    pub fn debate_agents(&self, n_agents: usize) -> usize {
        self.debate_agents.unwrap_or(n_agents)
    }

    pub fn validate(&self) -> Result<()> {
        for (name, t) in [
            ("cot_temperature", self.cot_temperature),
            ("sc_temperature", self.sc_temperature),
            ("debate_temperature", self.debate_temperature),
        ] {
            if !(t.is_finite() && (0.0..=2.0).contains(&t)) {
                bail!("key baselines.{name}: {t} is outside 0..=2");
            }
        }
        for (name, n) in [
            ("sc_samples", self.sc_samples),
            ("debate_agents", self.debate_agents),
        ] {
            if let Some(n) = n
                && !(1..=64).contains(&n)
            {
                bail!("key baselines.{name}: {n} is outside 1..=64");
            }
        }
        if !(1..=10).contains(&self.debate_rounds) {
            bail!(
                "key baselines.debate_rounds: {} is outside 1..=10",
                self.debate_rounds
            );
        }
        Ok(())
    }
}

fn default_sample_temperature() -> f64 {
    0.7
}

fn default_debate_rounds() -> usize {
    2
}
