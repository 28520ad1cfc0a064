//! `[early_stopping]`: when training may stop before its episodes are spent.

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

/// Early stopping of training. With `commitment_threshold`, `reward_threshold`
/// and `loss_threshold` all set, the three-criterion rule; otherwise the
/// single metric `metric` with `patience`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EarlyStoppingConfig {
    #[serde(default)]
    pub enabled: bool,
    /// Episodes before any rule may fire.
    #[serde(default = "default_warmup")]
    pub warmup: u64,
    /// Consecutive episodes a rule must hold (three-criterion) or episodes
    /// without improvement (single metric).
    #[serde(default = "default_patience")]
    pub patience: u64,
    /// Cosine between the last two BNE commitments of an episode at or above
    /// which its commitment counts as settled.
    #[serde(default)]
    pub commitment_threshold: Option<f64>,
    /// Episode reward (mean total over agents) at or above which it counts.
    #[serde(default)]
    pub reward_threshold: Option<f64>,
    /// |Δ loss_total| between the last two learner updates at or below which
    /// the loss counts as settled.
    #[serde(default)]
    pub loss_threshold: Option<f64>,
    /// Single-metric rule: "reward_mean" (episode reward) or "accuracy"
    /// (running train accuracy over the last `patience` episodes).
    #[serde(default = "default_metric")]
    pub metric: String,
    /// "max" or "min".
    #[serde(default = "default_mode")]
    pub mode: String,
    /// Smallest change that counts as an improvement.
    #[serde(default)]
    pub min_delta: f64,
}

impl Default for EarlyStoppingConfig {
    fn default() -> Self {
        EarlyStoppingConfig {
            enabled: false,
            warmup: default_warmup(),
            patience: default_patience(),
            commitment_threshold: None,
            reward_threshold: None,
            loss_threshold: None,
            metric: default_metric(),
            mode: default_mode(),
            min_delta: 0.0,
        }
    }
}

impl EarlyStoppingConfig {
    /// The three thresholds when all are set (the three-criterion rule).
    pub fn three_criterion(&self) -> Option<(f64, f64, f64)> {
        Some((
            self.commitment_threshold?,
            self.reward_threshold?,
            self.loss_threshold?,
        ))
    }

    pub fn validate(&self) -> Result<()> {
        let set = [
            ("commitment_threshold", self.commitment_threshold),
            ("reward_threshold", self.reward_threshold),
            ("loss_threshold", self.loss_threshold),
        ];
        let given: Vec<&str> = set.iter().filter(|s| s.1.is_some()).map(|s| s.0).collect();
        if !given.is_empty() && given.len() < 3 {
            let missing: Vec<String> = set
                .iter()
                .filter(|s| s.1.is_none())
                .map(|s| format!("early_stopping.{}", s.0))
                .collect();
            bail!(
                "key early_stopping.{}: the three-criterion rule needs all three thresholds; missing {}",
                given[0],
                missing.join(", ")
            );
        }
        for (name, value) in set {
            if let Some(v) = value
                && !v.is_finite()
            {
                bail!("key early_stopping.{name}: {v} is not a finite number");
            }
        }
        if self.patience == 0 {
            bail!("key early_stopping.patience: must be at least 1");
        }
        if !["reward_mean", "accuracy"].contains(&self.metric.as_str()) {
            bail!(
                "key early_stopping.metric: {:?} is not one of \"reward_mean\", \"accuracy\"",
                self.metric
            );
        }
        if !["max", "min"].contains(&self.mode.as_str()) {
            bail!(
                "key early_stopping.mode: {:?} is not \"max\" or \"min\"",
                self.mode
            );
        }
        if !(self.min_delta.is_finite() && self.min_delta >= 0.0) {
            bail!(
                "key early_stopping.min_delta: {} must be a number >= 0",
                self.min_delta
            );
        }
        Ok(())
    }
}

fn default_warmup() -> u64 {
    10
}

fn default_patience() -> u64 {
    5
}

fn default_metric() -> String {
    "reward_mean".into()
}

fn default_mode() -> String {
    "max".into()
}
