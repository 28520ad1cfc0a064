//! The runner's own config sections: `[env]`, `[runner]` and
//! `[early_stopping]`. Each is optional; the defaults give the paper's p0 run.

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

fn d_1() -> usize {
    1
}

fn default_strategy_tokens() -> u32 {
    50
}

fn default_save_interval() -> u64 {
    50
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
