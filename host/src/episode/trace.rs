//! LOG_DIR/traces_<phase>_<mode>.jsonl: one line per episode with everything
//! needed to read it back — and, for training, to rebuild the learner's
//! episode records on `train --resume` without asking an LLM again.

use crate::learn::RoundRecord;
use std::path::Path;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::episode::bne::StopReason;
use crate::plugins::dataset_adapter::Problem;
use crate::plugins::reward;

/// Prompt and completion tokens of one role.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    pub prompt: u64,
    pub completion: u64,
}

impl Tokens {
    pub fn add(&mut self, other: Tokens) {
        self.prompt += other.prompt;
        self.completion += other.completion;
    }
    pub fn total(&self) -> u64 {
        self.prompt + self.completion
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleTokens {
    pub coordinator: Tokens,
    pub executor: Tokens,
    /// Some server reported no usage: those counts are estimates.
    #[serde(default)]
    pub estimated: bool,
}

impl RoleTokens {
    pub fn total(&self) -> Tokens {
        let mut t = self.coordinator;
        t.add(self.executor);
        t
    }
    pub fn add(&mut self, other: &RoleTokens) {
        self.coordinator.add(other.coordinator);
        self.executor.add(other.executor);
        self.estimated |= other.estimated;
    }
}

/// LLM calls of one role (requests sent, failed ones included).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleCalls {
    pub coordinator: u64,
    pub executor: u64,
}

impl RoleCalls {
    pub fn total(&self) -> u64 {
        self.coordinator + self.executor
    }
    pub fn add(&mut self, other: &RoleCalls) {
        self.coordinator += other.coordinator;
        self.executor += other.executor;
    }
}

/// USD for `tokens` at the configured per-role prices; none when neither
/// role has a price.
pub fn cost_usd(llm: &crate::config::LlmConfig, tokens: &RoleTokens) -> Option<f64> {
    if !(llm.coordinator.priced() || llm.executor.priced()) {
        return None;
    }
    let c = &tokens.coordinator;
    let e = &tokens.executor;
    Some(llm.coordinator.cost(c.prompt, c.completion) + llm.executor.cost(e.prompt, e.completion))
}

/// What a comparison mode (cot, sc, debate) did: every call's text, answer
/// and tokens, round by round, and the vote that chose the final answer.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct BaselineTrace {
    /// One entry per round (cot and sc: one; debate: `debate_rounds`), each
    /// with one call per agent / sample; `agent` is the sample index.
    pub rounds: Vec<Vec<ExecutorTrace>>,
    /// Parsed answers of the last round and their votes, in first-seen order
    /// (unparsed answers do not vote; a tie goes to the first seen).
    pub votes: Vec<Vote>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    pub answer: String,
    pub count: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExecutorTrace {
    pub agent: u32,
    pub temperature: f32,
    pub repetition_penalty: f32,
    pub top_p: f32,
    pub output: String,
    pub answer: Option<String>,
    pub correct: bool,
    pub tokens: Tokens,
    /// The request failed after its retries; `output` is then empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One BNE round: the executors' answers under their actions, then the commitment.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RoundTrace {
    pub round: u32,
    /// ‖e^k − e^{k−1}‖_F (none for round 0).
    pub delta: Option<f64>,
    pub executors: Vec<ExecutorTrace>,
    /// The coordinator's commitment as written.
    pub commitment: String,
    pub commitment_answer: Option<String>,
    /// How the parser found the answer ("json", "boxed", ...).
    pub commitment_method: String,
    /// The parser judged the commitment's answer equivalent to the reference.
    pub commitment_correct: bool,
    /// What was embedded for the commitment: `\boxed{answer}`, else the text.
    pub commitment_canonical: String,
    /// Team reward components (AL, TS, CC) of this round's commitment, mean
    /// over agents: the learner credits each round's actions with them
    /// (absent in traces written before rounds were scored one by one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub components: Option<[f32; 3]>,
}

impl RoundTrace {
    /// What the reward plugin scores for this round as its step's last:
    /// `outputs` and `commitment` are the sentence embeddings of the
    /// executors' outputs and of `commitment_canonical`.
    pub fn reward_episode(
        &self,
        problem: &Problem,
        strategy: &str,
        outputs: &[Vec<f32>],
        commitment: Vec<f32>,
        alpha: [f32; 3],
        rounds: usize,
    ) -> reward::Episode {
        reward::Episode {
            problem_id: problem.id.clone(),
            question: problem.question.clone(),
            reference: problem.answer.clone(),
            strategy: strategy.to_string(),
            commitment: self.commitment.clone(),
            commitment_answer: self.commitment_answer.clone(),
            commitment_correct: self.commitment_correct,
            commitment_embedding: commitment,
            executors: self
                .executors
                .iter()
                .zip(outputs)
                .map(|(ex, emb)| reward::ExecutorResult {
                    agent: ex.agent,
                    output: ex.output.clone(),
                    answer: ex.answer.clone(),
                    correct: ex.answer.as_ref().map(|_| ex.correct),
                    embedding: emb.clone(),
                    sampling: reward::Sampling {
                        temperature: ex.temperature,
                        repetition_penalty: ex.repetition_penalty,
                        top_p: ex.top_p,
                    },
                })
                .collect(),
            weights: reward::RewardWeights {
                al: alpha[0],
                ts: alpha[1],
                cc: alpha[2],
            },
            rounds: rounds as u32,
        }
    }

    /// The learner's record of this round: the actions its executors were
    /// sampled with, the embeddings of their outputs and of the commitment
    /// (`commitment_canonical`), and the team reward components.
    pub fn record(
        &self,
        outputs: Vec<Vec<f32>>,
        commitment: Vec<f32>,
        components: [f32; 3],
    ) -> RoundRecord {
        RoundRecord {
            actions: self
                .executors
                .iter()
                .map(|e| crate::nets::Action::new(e.temperature, e.repetition_penalty))
                .collect(),
            outputs,
            commitment,
            components,
        }
    }
}

/// One decision step (t) of an episode: its BNE rounds and its reward.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StepTrace {
    pub t: u32,
    /// The observation text: question + "\n\nStrategy:\n" + strategy.
    pub observation: String,
    pub rounds: Vec<RoundTrace>,
    pub stop_reason: StopReason,
    pub converged: bool,
    /// Cosine of the last two rounds' commitment embeddings (none with one round).
    pub commitment_cos: Option<f64>,
    pub rewards: Vec<AgentRewardTrace>,
    /// Team reward components (AL, TS, CC), mean over agents: what the learner stores.
    pub components: [f32; 3],
    pub done: bool,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct AgentRewardTrace {
    pub agent: u32,
    pub ts: f32,
    pub al: f32,
    pub cc: f32,
    pub total: f32,
}

impl From<&reward::AgentReward> for AgentRewardTrace {
    fn from(r: &reward::AgentReward) -> Self {
        AgentRewardTrace {
            agent: r.agent,
            ts: r.ts,
            al: r.al,
            cc: r.cc,
            total: r.total,
        }
    }
}

/// Metadata keys that name a problem's category, by precedence: what an
/// adapter's `category_field` option writes, MATH's `type`, MATH-500's
/// `subject`, SVAMP's `Type`.
pub const CATEGORY_KEYS: [&str; 4] = ["category", "type", "subject", "Type"];

/// The problem's category from its metadata, if an adapter gave one.
pub fn category_of(problem: &crate::plugins::dataset_adapter::Problem) -> Option<String> {
    CATEGORY_KEYS.iter().find_map(|key| {
        problem
            .metadata
            .iter()
            .find(|(k, v)| k == key && !v.trim().is_empty())
            .map(|(_, v)| v.trim().to_string())
    })
}

/// One episode (one problem).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Trace {
    /// 1-based within its phase.
    pub episode: u64,
    pub phase: String,
    pub mode: String,
    pub id: String,
    /// The problem's category, for reports only (never shown to the
    /// agents): the simulated world's kind, else the dataset's metadata
    /// ([`CATEGORY_KEYS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    pub question: String,
    pub reference: String,
    pub strategy: String,
    pub strategy_tokens: u64,
    /// The strategy hit env.strategy_max_tokens and was cut there.
    pub strategy_truncated: bool,
    /// The parser found the reference answer in the strategy (the paper's rule:
    /// the coordinator must not give the answer away).
    pub strategy_reveals_answer: bool,
    pub steps: Vec<StepTrace>,
    pub final_commitment: String,
    pub final_answer: Option<String>,
    pub parse_method: String,
    pub correct: bool,
    /// Mean total reward over agents in the last step.
    pub reward: f32,
    /// Reward weights (AL, TS, CC) the reward plugin got.
    pub alpha: [f32; 3],
    pub tokens: RoleTokens,
    /// LLM calls per role.
    #[serde(default)]
    pub calls: RoleCalls,
    /// USD at the config's prices (`llm.<role>.price_*_per_mtok`); absent without prices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// The calls and vote of a comparison mode (cot, sc, debate); absent for
    /// ECON's baseline and bne, whose calls are in `steps`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineTrace>,
    /// Plugins the episode ran with, as name@version.
    pub plugins: Vec<String>,
    /// The sha256 of each of `plugins`' files, in the same order: two files
    /// of one name@version (a plugin rebuilt without a new version, then
    /// hot-reloaded) stay apart.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plugin_sha256: Vec<String>,
    /// The model of each LLM role, with its sha256 when it is a local file
    /// (`coordinator=qwen2.5-coder-0.5b sha256:…`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
    pub wall_ms: u64,
    /// Time spent waiting for LLM answers (on the episode's critical path).
    pub llm_ms: u64,
    /// Set when a plugin failed and the episode could not finish; it then
    /// counts as wrong and trains nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Trace {
    /// A trace for an episode about to run: nothing done yet.
    pub fn new(
        episode: u64,
        phase: &str,
        mode: &str,
        problem: &crate::plugins::dataset_adapter::Problem,
    ) -> Trace {
        Trace {
            episode,
            phase: phase.into(),
            mode: mode.into(),
            id: problem.id.clone(),
            category: category_of(problem),
            question: problem.question.clone(),
            reference: problem.answer.clone(),
            strategy: String::new(),
            strategy_tokens: 0,
            strategy_truncated: false,
            strategy_reveals_answer: false,
            steps: Vec::new(),
            final_commitment: String::new(),
            final_answer: None,
            parse_method: "none".into(),
            correct: false,
            reward: 0.0,
            alpha: [0.0; 3],
            tokens: RoleTokens::default(),
            calls: RoleCalls::default(),
            cost_usd: None,
            baseline: None,
            plugins: Vec::new(),
            plugin_sha256: Vec::new(),
            models: Vec::new(),
            wall_ms: 0,
            llm_ms: 0,
            error: None,
        }
    }

    /// BNE rounds run in the last step, round 0 included.
    pub fn rounds(&self) -> usize {
        self.steps.last().map_or(0, |s| s.rounds.len())
    }
}

/// Appends trace lines, flushed per episode.
pub type TraceWriter = crate::runlog::jsonl::JsonlWriter<Trace>;

/// Every complete trace line of a file (none if it does not exist; see
/// [`crate::runlog::jsonl::read_records`]).
pub fn read_traces(path: &Path) -> Result<Vec<Trace>> {
    crate::runlog::jsonl::read_records(path)
}
