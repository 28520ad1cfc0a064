//! `[budget]`: what a job may spend before it stops cleanly.

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

/// `[budget]`: a job stops cleanly (training checkpointed, partial summary,
/// resumable) once its LLM calls have used this many tokens or cost this much
/// (`[llm.<role>] price_*_per_mtok`). Unset: no limit.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetConfig {
    pub max_tokens: Option<u64>,
    pub max_cost_usd: Option<f64>,
}

impl BudgetConfig {
    pub fn validate(&self) -> Result<()> {
        if self.max_tokens == Some(0) {
            bail!("key budget.max_tokens: must be at least 1 (leave it out for no limit)");
        }
        if let Some(c) = self.max_cost_usd
            && !(c.is_finite() && c > 0.0)
        {
            bail!(
                "key budget.max_cost_usd: {c} must be a positive amount (leave it out for no limit)"
            );
        }
        Ok(())
    }

    /// Why a job that has spent `tokens` and `cost` must stop, if it must.
    pub fn exceeded(&self, tokens: u64, cost: f64) -> Option<String> {
        if let Some(max) = self.max_tokens
            && tokens >= max
        {
            return Some(format!(
                "budget reached: {tokens} tokens used (budget.max_tokens = {max})"
            ));
        }
        if let Some(max) = self.max_cost_usd
            && cost >= max
        {
            return Some(format!(
                "budget reached: ${cost:.4} spent (budget.max_cost_usd = {max})"
            ));
        }
        None
    }
}
