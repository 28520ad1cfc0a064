//! `[sim]`: the simulated world (provider "sim"): the kinds of problems, the
//! action each kind rewards, and how the coordinator and debate behave.

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

/// `[sim]`: the kinds of problems and the rule that makes an executor right.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimConfig {
    /// Kinds in matching order: a problem is of the first kind one of whose
    /// keywords is a word of its question (case-insensitive); a kind with no
    /// keywords matches every problem.
    #[serde(default = "default_kinds")]
    pub kinds: Vec<KindConfig>,
    /// Chance of a right answer at a kind's best action.
    #[serde(default = "d_peak")]
    pub peak: f64,
    /// Chance of a right answer far from it.
    #[serde(default = "d_floor")]
    pub floor: f64,
    /// Width w_T of the rule in temperature.
    #[serde(default = "d_temperature_width")]
    pub temperature_width: f64,
    /// Width w_p of the rule in repetition penalty.
    #[serde(default = "d_penalty_width")]
    pub penalty_width: f64,
    /// Chance that the commitment takes a minority answer when the executors
    /// disagree.
    #[serde(default = "d_coordinator_error")]
    pub coordinator_error: f64,
    /// Chance that a debate agent adopts the other agents' majority answer.
    #[serde(default = "d_debate_adoption")]
    pub debate_adoption: f64,
}

/// One kind of problem and its best executor action.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindConfig {
    pub name: String,
    #[serde(default)]
    pub keywords: Vec<String>,
    pub best_temperature: f64,
    pub best_penalty: f64,
}

fn kind(name: &str, keywords: &[&str], t: f64, p: f64) -> KindConfig {
    KindConfig {
        name: name.into(),
        keywords: keywords.iter().map(|k| k.to_string()).collect(),
        best_temperature: t,
        best_penalty: p,
    }
}

/// The kinds of `econ-host sim problems`: exact bookkeeping wants a cold
/// executor, stories a warm one, riddles a hot one; the penalties differ less.
fn default_kinds() -> Vec<KindConfig> {
    vec![
        kind(
            "ledger",
            &["ledger", "invoice", "invoices", "accountant", "audit"],
            0.3,
            1.05,
        ),
        kind(
            "story",
            &["story", "dragon", "knight", "knights", "village"],
            0.7,
            1.15,
        ),
        kind("riddle", &["riddle", "puzzle"], 1.1, 1.25),
        // Anything else: the middle of configs/sim.toml's bounds.
        kind("other", &[], 0.7, 1.15),
    ]
}

fn d_peak() -> f64 {
    0.9
}

fn d_floor() -> f64 {
    0.05
}

fn d_temperature_width() -> f64 {
    0.2
}

fn d_penalty_width() -> f64 {
    0.15
}

fn d_coordinator_error() -> f64 {
    0.1
}

fn d_debate_adoption() -> f64 {
    0.5
}

impl Default for SimConfig {
    fn default() -> Self {
        toml::from_str("").expect("an empty [sim] parses")
    }
}

impl SimConfig {
    // `!(a < b)` on purpose: a NaN must fail these checks.
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    pub fn validate(&self) -> Result<()> {
        if self.kinds.is_empty() {
            bail!("key sim.kinds: needs at least one kind");
        }
        for (i, k) in self.kinds.iter().enumerate() {
            if k.name.trim().is_empty() {
                bail!("key sim.kinds[{i}].name: must not be empty");
            }
            if !(k.best_temperature.is_finite() && k.best_penalty.is_finite()) {
                bail!(
                    "key sim.kinds[{i}] ({}): best_temperature and best_penalty must be numbers",
                    k.name
                );
            }
        }
        for (key, v) in [
            ("peak", self.peak),
            ("floor", self.floor),
            ("coordinator_error", self.coordinator_error),
            ("debate_adoption", self.debate_adoption),
        ] {
            if !(0.0..=1.0).contains(&v) {
                bail!("key sim.{key}: {v} is outside [0, 1]");
            }
        }
        if !(self.floor <= self.peak) {
            bail!(
                "keys sim.floor/sim.peak: floor {} is above peak {}",
                self.floor,
                self.peak
            );
        }
        for (key, v) in [
            ("temperature_width", self.temperature_width),
            ("penalty_width", self.penalty_width),
        ] {
            if !(v > 0.0 && v.is_finite()) {
                bail!("key sim.{key}: {v} must be > 0");
            }
        }
        Ok(())
    }
}
