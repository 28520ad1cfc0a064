//! Configuration of the networks and the learner.
//!
//! Key names mirror the paper and the reference code's p0 configuration.
//! Defaults are this project's learner, the one that measurably learns
//! (BENCHMARKS.md); `configs/p0-reference.toml` sets every key where the
//! reference differs (docs/deviations.md). Keys the reference declares but
//! never reads (`train.update_interval`, `train.buffer_size`, `train.batch_size`,
//! per-component learning rates) work for real here.
//!
//! Every struct denies unknown keys, so a typo is an error that names the key.

mod defaults;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

/// Everything the networks and the learner read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetsConfig {
    /// Number of executors n (ECON: 3, 5 or 8).
    #[serde(default = "defaults::d_n_agents")]
    pub n_agents: usize,
    /// Dimension of a belief b_i (and of the group representation E).
    #[serde(default = "defaults::d_64")]
    pub belief_dim: usize,
    /// Dimension of the observation: the sentence embedding of question + strategy
    /// (384 for all-MiniLM-L6-v2, 1024 for bge-large-en-v1.5). Set it from the embedder.
    #[serde(default = "defaults::d_1024")]
    pub obs_dim: usize,
    /// Dimension of an output / commitment embedding (the same embedder in practice).
    #[serde(default = "defaults::d_1024")]
    pub commitment_embedding_dim: usize,
    /// How the observation is embedded: "separate" (question and strategy
    /// each embedded and fed as a token of its own, so that a short strategy
    /// is not washed out by a long question) or "joint" (one embedding of
    /// question + "Strategy:" + strategy, as the reference's one text).
    #[serde(default = "defaults::d_separate")]
    pub observation: String,
    /// Standardise each observation value by the running mean and variance
    /// of the training observations (false: the raw embedding, as the
    /// reference's token ids).
    #[serde(default = "defaults::d_true")]
    pub observation_norm: bool,
    /// Network groups this config leaves untrained on purpose (say why in a
    /// comment beside it): "belief_net", "action", "encoder", "refine",
    /// "mixer". Their parameters keep their initial values.
    #[serde(default)]
    pub fixed_groups: Vec<String>,
    /// Soft target update rate: θ⁻ ← τθ + (1−τ)θ⁻.
    #[serde(default = "defaults::d_tau")]
    pub target_update_tau: f64,
    /// Soft-update the targets every this many learner updates.
    #[serde(default = "defaults::d_target_interval")]
    pub target_update_interval: u64,
    /// Default Adam learning rate of every component.
    #[serde(default = "defaults::d_lr")]
    pub lr: f64,
    /// Per-component learning rates; absent = `lr`.
    #[serde(default)]
    pub belief_net_lr: Option<f64>,
    #[serde(default)]
    pub encoder_lr: Option<f64>,
    #[serde(default)]
    pub mixer_lr: Option<f64>,
    #[serde(default)]
    pub refine_lr: Option<f64>,
    /// Learning rate of the belief networks' action heads (the initial
    /// actors): slower than the critic they climb.
    #[serde(default = "defaults::d_action_lr")]
    pub action_lr: Option<f64>,
    /// L2 weight decay of Adam (as torch.optim.Adam's `weight_decay`).
    #[serde(default = "defaults::d_wd")]
    pub weight_decay: f64,
    #[serde(default)]
    pub arch: ArchConfig,
    #[serde(default)]
    pub sampling: SamplingBounds,
    #[serde(default)]
    pub bne: BneConfig,
    #[serde(default)]
    pub train: TrainConfig,
    #[serde(default)]
    pub mixer: MixerConfig,
    #[serde(default)]
    pub loss: LossWeights,
    #[serde(default)]
    pub reward: RewardConfig,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchConfig {
    /// Width H of the belief network's transformer tokens.
    #[serde(default = "defaults::d_64")]
    pub entity_dim: usize,
    #[serde(default = "defaults::d_4")]
    pub attention_heads: usize,
    #[serde(default = "defaults::d_1")]
    pub transformer_blocks: usize,
    /// Hidden width of the action head, the mixer and the refine module's MLPs.
    #[serde(default = "defaults::d_64")]
    pub mlp_hidden_size: usize,
    /// Width of the belief encoder's feed-forward layer.
    #[serde(default = "defaults::d_128")]
    pub feedforward_size: usize,
    #[serde(default = "defaults::d_dropout")]
    pub dropout_rate: f64,
    /// Local value Q_i(b_i, e_i) of the belief and the agent's own action
    /// (true), or Q_i(b_i) of the belief alone (false, the reference: the
    /// actions then reach Q_tot only through a mixer that sees them).
    #[serde(default = "defaults::d_true")]
    pub q_uses_action: bool,
    /// How the action heads start: "spread" (tiny weights, a bias per agent
    /// drawn from U(−1, 1) logits: visibly different, nearly constant initial
    /// actions) or "standard" (torch's default initialisation, the reference).
    #[serde(default = "defaults::d_spread")]
    pub action_init: String,
}

/// Bounds of the executors' sampling actions e_i = (T_i, p_i) and the exploration noise.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplingBounds {
    #[serde(default = "defaults::d_t_min")]
    pub temperature_min: f64,
    #[serde(default = "defaults::d_t_max")]
    pub temperature_max: f64,
    /// Repetition-penalty bounds. The reference's [0.2, 0.85] means "encourage
    /// repetition" on OpenAI-style servers; kept as the default for comparability.
    #[serde(default = "defaults::d_p_min")]
    pub p_min: f64,
    #[serde(default = "defaults::d_p_max")]
    pub p_max: f64,
    #[serde(default = "defaults::d_top_p")]
    pub top_p_default: f64,
    /// Std of the Gaussian added to the action head's pre-sigmoid logits while
    /// training (not in the reference, which explores only through dropout); 0 = none.
    #[serde(default = "defaults::d_noise")]
    pub exploration_std: f64,
    /// Chance, per agent and training episode, of a uniformly random action
    /// instead of the policy's (0 = none, as the reference) — once the
    /// schedule below has decayed to it.
    #[serde(default = "defaults::d_epsilon")]
    pub exploration_epsilon: f64,
    /// The chance of a uniform action at the first training episode; it falls
    /// linearly to `exploration_epsilon` over `exploration_decay_episodes`
    /// (the usual ε schedule: the critics see the whole action range for every
    /// kind of problem before the policies settle).
    #[serde(default = "defaults::d_one")]
    pub exploration_epsilon_start: f64,
    /// Training episodes over which ε falls to `exploration_epsilon` (0: no
    /// schedule, ε is `exploration_epsilon` throughout).
    #[serde(default = "defaults::d_decay")]
    pub exploration_decay_episodes: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BneConfig {
    #[serde(default = "defaults::d_true")]
    pub enabled: bool,
    #[serde(default = "defaults::d_1")]
    pub max_iterations_train: usize,
    #[serde(default = "defaults::d_3")]
    pub max_iterations_infer: usize,
    #[serde(default = "defaults::d_true")]
    pub refine_at_infer: bool,
    /// Stop when ‖e^k − e^{k−1}‖_F falls below this (≤ 0 disables the check).
    #[serde(default = "defaults::d_eps")]
    pub convergence_threshold: f64,
    /// η in e^k = clamp(e^{k−1} + η·Δe).
    #[serde(default = "defaults::d_one")]
    pub update_rate: f64,
    /// Largest refine step: Δe = refine_step_scale · tanh(·) (reference 0.3).
    #[serde(default = "defaults::d_step")]
    pub refine_step_scale: f64,
    /// Dropout inside the RefineModule (reference 0.1).
    #[serde(default = "defaults::d_01")]
    pub refine_dropout: f64,
    #[serde(default = "defaults::d_match")]
    pub commitment_match_threshold: f64,
    #[serde(default = "defaults::d_osc")]
    pub commitment_osc_threshold: f64,
    #[serde(default = "defaults::d_true")]
    pub detect_oscillation: bool,
    /// Rounds (round 0 included) before the oscillation rule (A, B, A) may
    /// fire; at least 3. The reference's 5 can never be reached with its
    /// K = 3, so the default here is 3.
    #[serde(default = "defaults::d_3")]
    pub oscillation_min_history: usize,
    /// In rounds k ≥ 1 recompute the beliefs from the observation plus the agent's
    /// last output and the last commitment (false: keep the round-0 beliefs, as the
    /// reference).
    #[serde(default = "defaults::d_true")]
    pub belief_update: bool,
    /// At test, an agent takes its refined action only where its own critic
    /// expects it to beat the previous one (false: always, as the reference).
    #[serde(default = "defaults::d_true")]
    pub critic_veto: bool,
    /// When the action-delta rule (`convergence_threshold`) is checked at
    /// test: "before" a round is run (a round whose actions did not move is
    /// not run) or "after" it (the reference: the round runs, then stops).
    #[serde(default = "defaults::d_before")]
    pub action_delta_check: String,
    /// At test, stop before a refinement round when every executor's answer
    /// is the commitment's (stop reason `unanimous`): nothing is left for the
    /// round to settle, and it could only resample answers the team already
    /// agrees on (false: refine regardless, as the reference).
    #[serde(default = "defaults::d_true")]
    pub unanimous_stop: bool,
    /// Exploration of the refined actions while training: the chance, per
    /// agent and round, that a refined action is replaced by a uniformly
    /// random one, so that the critics of rounds k ≥ 1 see more than the
    /// refine step's own actions (0 = none, as the reference).
    #[serde(default = "defaults::d_epsilon")]
    pub refine_exploration_epsilon: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Learner update every this many episodes. The defaults replay: an
    /// update after every episode on a batch of `batch_size` drawn from the
    /// last `buffer_size` decision steps. The reference's schedule is
    /// `buffer_size = 1`, `batch_size = 1`: every episode, on that episode.
    #[serde(default = "defaults::d_1_u64")]
    pub update_interval: u64,
    /// Replay buffer capacity, in decision steps (1: the last episode only,
    /// with env.max_rounds = 1).
    #[serde(default = "defaults::d_2000")]
    pub buffer_size: usize,
    /// Decision steps per update batch, drawn from the buffer.
    #[serde(default = "defaults::d_32")]
    pub batch_size: usize,
    /// Gradient steps per update (each on a freshly sampled batch).
    #[serde(default = "defaults::d_1")]
    pub updates_per_interval: usize,
    /// Learning rates rise linearly over the first this many updates (0: no
    /// warm-up, as the reference).
    #[serde(default)]
    pub warmup_updates: u64,
    #[serde(default = "defaults::d_gamma")]
    pub gamma: f64,
    /// Gradient-norm clip, per component (belief nets, encoder, refine, mixer)
    /// with `actor_critic = "split"`, over all parameters with "joint".
    #[serde(default = "defaults::d_clip")]
    pub grad_clip: f64,
    /// Which decisions the critic is fitted on: "round" (every BNE round is a
    /// decision, credited with the reward of the commitment it produced, its
    /// context the previous round's outputs) or "final" (one decision per
    /// step: the final round's actions and outputs with the final reward,
    /// as the reference).
    #[serde(default = "defaults::d_round")]
    pub credit: String,
    /// "split": critic terms update the critic's parameters and actor terms
    /// the actors' (DDPG); "joint": one loss over every parameter, one
    /// global gradient clip (the reference).
    #[serde(default = "defaults::d_split")]
    pub actor_critic: String,
    /// The actions the critic is evaluated at: "executed" (the actions the
    /// LLM was really called with) or "policy" (the networks' actions
    /// recomputed at update time, with gradient, as the reference).
    #[serde(default = "defaults::d_executed")]
    pub critic_actions: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MixerConfig {
    /// "qmix" (paper: monotonic hypernetworks conditioned on E) or "attention"
    /// (the reference code's softmax-attention mixer).
    #[serde(default = "defaults::d_qmix")]
    pub kind: String,
    #[serde(default = "defaults::d_4")]
    pub attention_heads: usize,
    /// Width of the QMIX mixing layer (|W1| is n × hypernet_embed).
    #[serde(default = "defaults::d_16")]
    pub hypernet_embed: usize,
    /// Weight of the commitment alignment L_SD.
    #[serde(default = "defaults::d_01")]
    pub lambda_sd: f64,
    /// Weight of the Q-consistency L_cons (the reference's 0.1·L_cons).
    #[serde(default = "defaults::d_01")]
    pub lambda_m: f64,
    /// What L_cons pulls Q_tot towards: the "mean" of the Q_i or their
    /// "sum" (the reference learner).
    #[serde(default = "defaults::d_mean")]
    pub consistency_target: String,
    /// Which mixer inputs carry gradient back into the networks that made
    /// them: "group" (E: the BeliefEncoder learns through the team TD;
    /// beliefs and actions enter detached), "none" (all detached) or "all"
    /// (nothing detached, as the reference).
    #[serde(default = "defaults::d_group")]
    pub input_gradient: String,
}

/// Weights of the remaining loss terms (L_cons and L_SD are weighted by mixer.lambda_*).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LossWeights {
    /// Team TD on Q_tot.
    #[serde(default = "defaults::d_one")]
    pub td_weight: f64,
    /// Per-agent TD on each Q_i.
    #[serde(default = "defaults::d_one")]
    pub local_td_weight: f64,
    /// L_eq = mean((e^k − e^{k−1})²): the refine step stays small.
    #[serde(default = "defaults::d_005")]
    pub eq_weight: f64,
    /// L_policy = −mean Q_tot(s_0, π(b^0)): the initial actions climb the
    /// critic (deterministic policy gradient).
    #[serde(default = "defaults::d_one")]
    pub policy_weight: f64,
    /// L_BR: the initial actions are pulled towards each agent's best
    /// response under its own critic, found among sampled candidates
    /// (0 = off).
    #[serde(default = "defaults::d_one")]
    pub best_response_weight: f64,
    /// Candidate actions drawn per agent and sample for L_BR.
    #[serde(default = "defaults::d_16")]
    pub best_response_candidates: usize,
    /// L_CI = −mean(Q_tot(s_k, e^k) − Q_tot(s_k, e^{k−1})): the refine step
    /// must beat keeping the previous round's actions.
    #[serde(default = "defaults::d_01")]
    pub ci_weight: f64,
    /// Weight of L_sat = mean(relu(|z| − 2.5)²) on the action logits z: keeps the
    /// sigmoid out of saturation, where logit-space exploration would stop moving e.
    #[serde(default = "defaults::d_01")]
    pub saturation_weight: f64,
    /// What L_CI compares the refined actions with: "previous" (keeping the
    /// previous round's executed actions, no gradient) or "initial" (the
    /// initial policy's actions, with gradient, as the reference).
    #[serde(default = "defaults::d_previous")]
    pub ci_baseline: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RewardConfig {
    /// Initial α = (α_AL, α_TS, α_CC); α = softmax(alpha_logits), logits = ln(weights).
    #[serde(default = "defaults::d_alpha")]
    pub initial_weights: [f64; 3],
    /// Learning rate of alpha_logits.
    #[serde(default = "defaults::d_eta_alpha")]
    pub eta_alpha: f64,
    /// Fit α to Q_tot (the reference); false keeps α at `initial_weights`.
    #[serde(default)]
    pub dynamic_alpha_update: bool,
}

impl Default for NetsConfig {
    fn default() -> Self {
        // serde defaults are the single source of truth.
        toml::from_str("").expect("empty nets config parses")
    }
}

macro_rules! default_from_serde {
    ($($t:ty),*) => {$(
        impl Default for $t {
            fn default() -> Self {
                toml::from_str("").expect("empty section parses")
            }
        }
    )*};
}
default_from_serde!(
    ArchConfig,
    SamplingBounds,
    BneConfig,
    TrainConfig,
    MixerConfig,
    LossWeights,
    RewardConfig
);

impl SamplingBounds {
    /// `[sampling]`'s keys; each error names its key.
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    pub fn validate(&self) -> Result<()> {
        if !(self.temperature_min >= 0.0) {
            bail!(
                "key sampling.temperature_min: {} is below 0",
                self.temperature_min
            );
        }
        if !(self.temperature_min < self.temperature_max) {
            bail!(
                "key sampling.temperature_max: {} is not above sampling.temperature_min ({})",
                self.temperature_max,
                self.temperature_min
            );
        }
        if !(self.p_min > 0.0) {
            bail!("key sampling.p_min: {} must be above 0", self.p_min);
        }
        if !(self.p_min < self.p_max) {
            bail!(
                "key sampling.p_max: {} is not above sampling.p_min ({})",
                self.p_max,
                self.p_min
            );
        }
        if !(self.top_p_default > 0.0 && self.top_p_default <= 1.0) {
            bail!(
                "key sampling.top_p_default: {} is outside (0, 1]",
                self.top_p_default
            );
        }
        if !(self.exploration_std >= 0.0) {
            bail!(
                "key sampling.exploration_std: {} is below 0",
                self.exploration_std
            );
        }
        for (key, v) in [
            ("exploration_epsilon", self.exploration_epsilon),
            ("exploration_epsilon_start", self.exploration_epsilon_start),
        ] {
            if !(0.0..=1.0).contains(&v) {
                bail!("key sampling.{key}: {v} is outside [0, 1]");
            }
        }
        Ok(())
    }

    /// ε after `episodes` training episodes (the linear schedule).
    pub fn epsilon_at(&self, episodes: u64) -> f64 {
        let decay = self.exploration_decay_episodes;
        if decay == 0 || episodes >= decay {
            return self.exploration_epsilon;
        }
        let f = episodes as f64 / decay as f64;
        self.exploration_epsilon_start
            + (self.exploration_epsilon - self.exploration_epsilon_start) * f
    }
}

/// The network groups, as `fixed_groups` and metrics.jsonl name them.
pub const GROUPS: [&str; 5] = ["belief_net", "action", "encoder", "refine", "mixer"];

/// Which mixer the config asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MixerKind {
    Qmix,
    Attention,
    /// No mixer: Q_tot is the mean of the Q_i (independent learners).
    None,
}

impl NetsConfig {
    pub fn mixer_kind(&self) -> Result<MixerKind> {
        match self.mixer.kind.as_str() {
            "qmix" => Ok(MixerKind::Qmix),
            "attention" => Ok(MixerKind::Attention),
            "none" => Ok(MixerKind::None),
            other => {
                bail!("key mixer.kind: {other:?} is not one of \"qmix\", \"attention\", \"none\"")
            }
        }
    }

    pub fn belief_net_lr(&self) -> f64 {
        self.belief_net_lr.unwrap_or(self.lr)
    }
    pub fn encoder_lr(&self) -> f64 {
        self.encoder_lr.unwrap_or(self.lr)
    }
    pub fn mixer_lr(&self) -> f64 {
        self.mixer_lr.unwrap_or(self.lr)
    }
    pub fn refine_lr(&self) -> f64 {
        self.refine_lr.unwrap_or(self.lr)
    }
    pub fn action_lr(&self) -> f64 {
        self.action_lr.unwrap_or(self.lr)
    }

    /// Checks ranges; each error names its key (`key K: ...`, as every
    /// section's do).
    // `!(a < b)` on purpose: a NaN from a config must fail these checks.
    // Long on purpose: one check per key, in the order of the config file; each error names
    // its key.
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    pub fn validate(&self) -> Result<()> {
        fn positive(key: &str, v: usize) -> Result<()> {
            if v == 0 {
                bail!("key {key}: must be at least 1");
            }
            Ok(())
        }
        if !(1..=64).contains(&self.n_agents) {
            bail!("key n_agents: {} is outside 1..=64", self.n_agents);
        }
        positive("belief_dim", self.belief_dim)?;
        positive("obs_dim", self.obs_dim)?;
        positive("commitment_embedding_dim", self.commitment_embedding_dim)?;
        positive("arch.entity_dim", self.arch.entity_dim)?;
        positive("arch.attention_heads", self.arch.attention_heads)?;
        positive("arch.mlp_hidden_size", self.arch.mlp_hidden_size)?;
        positive("arch.feedforward_size", self.arch.feedforward_size)?;
        positive("mixer.attention_heads", self.mixer.attention_heads)?;
        positive("mixer.hypernet_embed", self.mixer.hypernet_embed)?;
        positive("train.update_interval", self.train.update_interval as usize)?;
        positive("train.buffer_size", self.train.buffer_size)?;
        positive("train.batch_size", self.train.batch_size)?;
        positive(
            "target_update_interval",
            self.target_update_interval as usize,
        )?;
        if !self
            .arch
            .entity_dim
            .is_multiple_of(self.arch.attention_heads)
        {
            bail!(
                "key arch.entity_dim: {} is not a multiple of arch.attention_heads ({})",
                self.arch.entity_dim,
                self.arch.attention_heads
            );
        }
        if !self.belief_dim.is_multiple_of(self.arch.attention_heads) {
            bail!(
                "key belief_dim: {} is not a multiple of arch.attention_heads ({}) (belief encoder)",
                self.belief_dim,
                self.arch.attention_heads
            );
        }
        if !self
            .arch
            .mlp_hidden_size
            .is_multiple_of(self.mixer.attention_heads)
        {
            bail!(
                "key arch.mlp_hidden_size: {} is not a multiple of mixer.attention_heads ({})",
                self.arch.mlp_hidden_size,
                self.mixer.attention_heads
            );
        }
        if !(0.0..1.0).contains(&self.arch.dropout_rate) {
            bail!(
                "key arch.dropout_rate: {} is outside [0, 1)",
                self.arch.dropout_rate
            );
        }
        if !(0.0..1.0).contains(&self.bne.refine_dropout) {
            bail!(
                "key bne.refine_dropout: {} is outside [0, 1)",
                self.bne.refine_dropout
            );
        }
        self.sampling.validate()?;
        if !(self.target_update_tau > 0.0 && self.target_update_tau <= 1.0) {
            bail!(
                "key target_update_tau: {} is outside (0, 1]",
                self.target_update_tau
            );
        }
        if !(0.0..=1.0).contains(&self.train.gamma) {
            bail!("key train.gamma: {} is outside [0, 1]", self.train.gamma);
        }
        if !(self.train.grad_clip > 0.0) {
            bail!(
                "key train.grad_clip: {} must be above 0",
                self.train.grad_clip
            );
        }
        for (key, lr) in [
            ("lr", self.lr),
            ("belief_net_lr", self.belief_net_lr()),
            ("encoder_lr", self.encoder_lr()),
            ("mixer_lr", self.mixer_lr()),
            ("refine_lr", self.refine_lr()),
            ("action_lr", self.action_lr()),
            ("reward.eta_alpha", self.reward.eta_alpha),
        ] {
            if !(lr >= 0.0 && lr.is_finite()) {
                bail!("key {key}: {lr} is not a finite number >= 0");
            }
        }
        if self.reward.initial_weights.iter().any(|w| !(*w > 0.0)) {
            bail!(
                "key reward.initial_weights: {:?} are not all above 0 (α = softmax of their \
                 logarithms)",
                self.reward.initial_weights
            );
        }
        for g in &self.fixed_groups {
            if !GROUPS.contains(&g.as_str()) {
                bail!(
                    "key fixed_groups: {g:?} is not one of {}",
                    GROUPS.join(", ")
                );
            }
        }
        if !(0.0..=1.0).contains(&self.bne.refine_exploration_epsilon) {
            bail!(
                "key bne.refine_exploration_epsilon: {} is outside [0, 1]",
                self.bne.refine_exploration_epsilon
            );
        }
        self.mixer_kind()?;
        for (key, value, allowed) in [
            ("observation", &self.observation, &["separate", "joint"][..]),
            (
                "arch.action_init",
                &self.arch.action_init,
                &["spread", "standard"],
            ),
            (
                "bne.action_delta_check",
                &self.bne.action_delta_check,
                &["before", "after"],
            ),
            ("train.credit", &self.train.credit, &["round", "final"]),
            (
                "train.actor_critic",
                &self.train.actor_critic,
                &["split", "joint"],
            ),
            (
                "train.critic_actions",
                &self.train.critic_actions,
                &["executed", "policy"],
            ),
            (
                "mixer.consistency_target",
                &self.mixer.consistency_target,
                &["mean", "sum"],
            ),
            (
                "mixer.input_gradient",
                &self.mixer.input_gradient,
                &["group", "none", "all"],
            ),
            (
                "loss.ci_baseline",
                &self.loss.ci_baseline,
                &["previous", "initial"],
            ),
        ] {
            if !allowed.contains(&value.as_str()) {
                let list: Vec<String> = allowed.iter().map(|a| format!("{a:?}")).collect();
                bail!("key {key}: {value:?} is not one of {}", list.join(", "));
            }
        }
        Ok(())
    }

    /// Observation tokens: 2 (question, strategy) or 1 (joint text).
    pub fn observation_tokens(&self) -> usize {
        if self.observation == "separate" { 2 } else { 1 }
    }

    /// Values in one observation vector: `obs_dim` per token.
    pub fn observation_len(&self) -> usize {
        self.obs_dim * self.observation_tokens()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_keep_the_reference_shapes_and_replay() {
        let c = NetsConfig::default();
        assert_eq!(c.n_agents, 3);
        assert_eq!(c.belief_dim, 64);
        assert_eq!(c.arch.entity_dim, 64);
        // An update every episode, replayed from a buffer.
        assert_eq!(c.train.update_interval, 1);
        assert_eq!(c.train.buffer_size, 2000);
        assert_eq!(c.train.batch_size, 32);
        assert_eq!(c.sampling.temperature_min, 0.2);
        assert_eq!(c.sampling.p_max, 0.85);
        assert_eq!(c.target_update_tau, 0.01);
        assert_eq!(c.target_update_interval, 8);
        assert_eq!(c.reward.initial_weights, [0.4, 0.4, 0.2]);
        assert_eq!(c.mixer.kind, "qmix");
        assert_eq!(c.bne.max_iterations_infer, 3);
        c.validate().unwrap();
    }

    #[test]
    fn unknown_keys_are_refused() {
        let e = toml::from_str::<NetsConfig>("[bne]\nmax_iteration_train = 2\n").unwrap_err();
        assert!(e.to_string().contains("max_iteration_train"), "{e}");
    }

    #[test]
    fn bad_mixer_kind_names_the_key() {
        let c: NetsConfig = toml::from_str("[mixer]\nkind = \"vdn\"\n").unwrap();
        let e = c.validate().unwrap_err();
        assert!(e.to_string().contains("mixer.kind"), "{e}");
    }
}
