//! Per-mode results (summary.json "modes" / "train") accumulated from traces,
//! and the reference's one-line results for the terminal.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::episode::trace::{RoleCalls, RoleTokens, Trace};
use crate::learn::early_stop::StopDecision;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TokenSummary {
    pub prompt: u64,
    pub completion: u64,
    /// (prompt + completion) / episodes.
    pub per_episode: f64,
    pub by_role: RoleTokens,
}

/// Kinds of problem counted one by one in `by_kind`.
pub const MAX_KINDS: usize = 50;

/// Where the kinds beyond [`MAX_KINDS`] are counted.
pub const OTHER_KINDS: &str = "(other)";

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModeSummary {
    pub episodes: u64,
    pub correct: u64,
    /// correct / episodes.
    pub accuracy: f64,
    /// Share of final commitments parsed as JSON (the reference's "JSON
    /// parsing rate").
    pub parse_rate: f64,
    /// Share of final commitments with any answer found.
    pub answer_rate: f64,
    /// Final commitments per parse method.
    pub parse_methods: BTreeMap<String, u64>,
    pub tokens: TokenSummary,
    /// Sum of episode wall times (episodes may overlap: see runner.concurrency).
    pub wall_s: f64,
    /// Of which waiting for LLM answers.
    pub llm_s: f64,
    /// (wall − llm) / wall: the host's own share of episode time.
    pub host_overhead: f64,
    /// BNE rounds per decision step, round 0 included.
    pub rounds_mean: f64,
    /// Episodes whose last step converged (commitment unchanged, small action
    /// delta, or every executor at the commitment's answer).
    pub converged: u64,
    pub reward_mean: f64,
    pub strategy_reveals_answer: u64,
    pub strategy_truncated: u64,
    /// Episodes a plugin failure ended (counted as wrong).
    pub failed: u64,
    /// LLM calls per role, summed over episodes.
    #[serde(default)]
    pub calls: RoleCalls,
    #[serde(default)]
    pub calls_per_episode: f64,
    /// USD at the config's prices (sum over episodes); absent without prices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_per_episode: Option<f64>,
    /// Why each episode's last step ended its BNE rounds (ECON modes).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stop_reasons: BTreeMap<String, u64>,
    /// What the coordinator did with its executors' answers (ECON modes;
    /// absent for the comparison modes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consensus: Option<Consensus>,
    /// Results per kind of problem, where the traces carry one (a simulated
    /// world's kinds, a dataset's categories): accuracy and the executors'
    /// mean round-0 action. At most [`MAX_KINDS`]; the rest count as
    /// "(other)".
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_kind: BTreeMap<String, KindSummary>,
    /// Stopped by Ctrl-C / SIGTERM before every planned episode ran: the
    /// numbers cover the finished ones.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// Why the run stopped before every planned episode ran, when it was not
    /// a signal: an LLM outage (the finished episodes are kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_by: Option<String>,
    /// What stopped it was a server refusing a request (a 4xx): the config
    /// must change; resuming cannot help.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub refused: bool,
}

/// One kind of problem's results.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KindSummary {
    pub episodes: u64,
    pub correct: u64,
    pub accuracy: f64,
    /// Mean round-0 temperature and repetition penalty over the executors.
    pub temperature_mean: f64,
    pub penalty_mean: f64,
}

/// The executors' answers beside the final answer, for ECON's modes: on the
/// final round's outputs (those the commitment was made on), the parsed
/// majority and whether any executor was right; how often the commitment
/// went against the majority; and how BNE rounds changed round 0's answer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Consensus {
    /// Episodes whose executors' parsed majority (ties: the first seen) was right.
    pub majority_correct: u64,
    pub majority_accuracy: f64,
    /// Episodes where at least one executor was right.
    pub any_executor_correct: u64,
    pub any_executor_correct_rate: f64,
    /// The majority was right, the final answer wrong.
    pub overrode_right_majority: u64,
    /// The majority was wrong, the final answer right.
    pub rescued_wrong_majority: u64,
    /// Round 0's commitment was right.
    pub round0_correct: u64,
    /// Round 0 right, the final answer wrong (a BNE round undid it).
    pub right_to_wrong: u64,
    /// Round 0 wrong, the final answer right.
    pub wrong_to_right: u64,
}

impl Consensus {
    fn add(&mut self, t: &Trace, episodes: u64) {
        let Some(step) = t.steps.last() else {
            return;
        };
        let (Some(first), Some(last)) = (step.rounds.first(), step.rounds.last()) else {
            return;
        };
        let answers: Vec<Option<&str>> =
            last.executors.iter().map(|e| e.answer.as_deref()).collect();
        let votes = crate::episode::comparisons::majority(&answers);
        let majority = crate::episode::comparisons::winner(&votes).is_some_and(|w| {
            last.executors
                .iter()
                .find(|e| e.answer.as_deref() == Some(w))
                .is_some_and(|e| e.correct)
        });
        self.majority_correct += u64::from(majority);
        self.any_executor_correct += u64::from(last.executors.iter().any(|e| e.correct));
        self.overrode_right_majority += u64::from(majority && !t.correct);
        self.rescued_wrong_majority += u64::from(!majority && t.correct);
        self.round0_correct += u64::from(first.commitment_correct);
        self.right_to_wrong += u64::from(first.commitment_correct && !t.correct);
        self.wrong_to_right += u64::from(!first.commitment_correct && t.correct);
        let e = episodes.max(1) as f64;
        self.majority_accuracy = self.majority_correct as f64 / e;
        self.any_executor_correct_rate = self.any_executor_correct as f64 / e;
    }
}

impl ModeSummary {
    pub fn add(&mut self, t: &Trace) {
        if let Some(category) = &t.category {
            self.add_kind(category, t);
        }
        let n = self.episodes as f64;
        self.episodes += 1;
        self.correct += u64::from(t.correct);
        *self
            .parse_methods
            .entry(t.parse_method.clone())
            .or_default() += 1;
        self.tokens.prompt += t.tokens.total().prompt;
        self.tokens.completion += t.tokens.total().completion;
        self.tokens.by_role.add(&t.tokens);
        self.wall_s += t.wall_ms as f64 / 1000.0;
        self.llm_s += t.llm_ms as f64 / 1000.0;
        self.rounds_mean = (self.rounds_mean * n + t.rounds() as f64) / (n + 1.0);
        self.reward_mean = (self.reward_mean * n + f64::from(t.reward)) / (n + 1.0);
        self.converged += u64::from(t.steps.last().is_some_and(|s| s.converged));
        self.strategy_reveals_answer += u64::from(t.strategy_reveals_answer);
        self.strategy_truncated += u64::from(t.strategy_truncated);
        self.failed += u64::from(t.error.is_some());
        self.calls.add(&t.calls);
        if t.baseline.is_none() && t.error.is_none() {
            if let Some(step) = t.steps.last() {
                let reason = serde_json::to_value(step.stop_reason)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                *self.stop_reasons.entry(reason).or_default() += 1;
            }
        }
        if t.baseline.is_none() {
            let episodes = self.episodes;
            self.consensus
                .get_or_insert_with(Consensus::default)
                .add(t, episodes);
        }
        if let Some(c) = t.cost_usd {
            *self.cost_usd.get_or_insert(0.0) += c;
        }
        let e = self.episodes as f64;
        self.calls_per_episode = self.calls.total() as f64 / e;
        self.cost_per_episode = self.cost_usd.map(|c| c / e);
        self.accuracy = self.correct as f64 / e;
        self.parse_rate = self.parse_methods.get("json").copied().unwrap_or(0) as f64 / e;
        self.answer_rate = 1.0 - self.parse_methods.get("none").copied().unwrap_or(0) as f64 / e;
        self.tokens.per_episode = (self.tokens.prompt + self.tokens.completion) as f64 / e;
        self.host_overhead = if self.wall_s > 0.0 {
            ((self.wall_s - self.llm_s) / self.wall_s).max(0.0)
        } else {
            0.0
        };
    }

    /// Counts one episode of a known kind into `by_kind`: a field of ids
    /// named as the category would otherwise add a row per problem.
    fn add_kind(&mut self, kind: &str, t: &Trace) {
        let kind = if self.by_kind.len() >= MAX_KINDS && !self.by_kind.contains_key(kind) {
            OTHER_KINDS
        } else {
            kind
        };
        let k = self.by_kind.entry(kind.to_string()).or_default();
        let n = k.episodes as f64;
        k.episodes += 1;
        k.correct += u64::from(t.correct);
        k.accuracy = k.correct as f64 / k.episodes as f64;
        let round0 = t.steps.first().and_then(|s| s.rounds.first());
        if let Some(r) = round0.filter(|r| !r.executors.is_empty()) {
            let m = r.executors.len() as f64;
            let t_mean = r
                .executors
                .iter()
                .map(|e| f64::from(e.temperature))
                .sum::<f64>()
                / m;
            let p_mean = r
                .executors
                .iter()
                .map(|e| f64::from(e.repetition_penalty))
                .sum::<f64>()
                / m;
            k.temperature_mean = (k.temperature_mean * n + t_mean) / (n + 1.0);
            k.penalty_mean = (k.penalty_mean * n + p_mean) / (n + 1.0);
        }
    }

    /// `Baseline (no BNE): 7/10 = 70.0%`
    pub fn line(&self, label: &str) -> String {
        format!(
            "{label}: {}/{} = {:.1}%",
            self.correct,
            self.episodes,
            self.accuracy * 100.0
        )
    }

    /// `JSON parse rate: 90.0% (json 9, boxed 1)`
    pub fn parse_line(&self) -> String {
        let methods: Vec<String> = self
            .parse_methods
            .iter()
            .map(|(m, c)| format!("{m} {c}"))
            .collect();
        format!(
            "JSON parse rate: {:.1}% ({})",
            self.parse_rate * 100.0,
            methods.join(", ")
        )
    }
}

/// summary.json's "train" entry.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainSummary {
    #[serde(flatten)]
    pub results: ModeSummary,
    /// Learner updates (gradient steps) done in total.
    pub updates: u64,
    /// The checkpoint this run continued from, if it resumed.
    pub resumed_from: Option<u64>,
    pub early_stop: Option<StopDecision>,
    pub final_checkpoint: Option<String>,
    /// After Ctrl-C: the checkpoint `train --resume` continues from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_checkpoint: Option<String>,
}
