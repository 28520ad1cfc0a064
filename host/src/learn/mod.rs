//! The ECON learner, in pymarl's split: [`policy`] acts, [`batch`] holds what
//! it learns from, [`losses`] computes every term, [`update`] steps the
//! optimisers, [`checkpoint`] saves and loads; [`early_stop`] watches the
//! curves. docs/method.md describes the method, docs/deviations.md each
//! difference from the reference code with the switch that undoes it.
//!
//! # Losses of one update (batch of B decision steps, each 1 + K BNE rounds)
//! The networks recompute, from the stored observation and the stored per-round
//! output / commitment embeddings, the beliefs b^k and E^k of every round, the
//! policy's initial action e^0_π = π(b^0) (with its exploration noise while
//! training, reparameterised) and each refine step
//! e^k = clamp(e_from + η·Refine(b^k, u^{k−1}, c^{k−1}, E^k, e_from)), where e_from
//! is round k−1's executed action (`train.critic_actions = "executed"`) or the
//! policy's own chain e^{k−1}_π ("policy").
//!
//! Decisions (`train.credit`): "round" — every round k is a decision in the
//! context s_k = (b^k, E^k, round k−1's outputs), credited with its own
//! reward r^k; "final" — one decision per step, in the final round's context
//! with the final reward. The critic's action in a decision is the executed
//! one, or the policy's with "policy".
//!
//! Critic (belief trunks and Q heads, encoder, mixer):
//! - `loss_td`          L_TD = mean (Q_tot(s, e) − y)², y = r + γ(1−done)·Q_tot⁻(next step, round 0)
//! - `loss_td_local`    mean_i (Q_i(b_i, e_i) − y)² (per-agent TD)
//! - `loss_consistency` L_cons (mixer.rs), weight mixer.lambda_m
//! - `loss_sd`          commitment alignment L_SD (mixer.rs), weight mixer.lambda_sd
//!
//! Actors (action heads, RefineModule):
//! - `loss_policy`          L_policy = −mean Q_tot(s_0, e^0_π) (deterministic policy gradient)
//! - `loss_best_response`   L_BR: the action logits pulled towards each agent's best
//!                          response under its own Q_i among sampled candidate actions
//! - `loss_commit_improve`  L_CI = −mean(Q_tot(s_k, e^k) − Q_tot(s_k, baseline)), baseline =
//!                          sg(e_from) (`loss.ci_baseline = "previous"`) or e^0_π ("initial")
//! - `loss_equilibrium`     L_eq = mean (e^k − e_from)²
//! - `loss_saturation`      L_sat = mean relu(|z| − 2.5)² on the action logits z
//!
//! `loss_total` = td_weight·L_TD + local_td_weight·L_local + λ_m·L_cons + λ_SD·L_SD
//!              + policy_weight·L_policy + best_response_weight·L_BR + ci_weight·L_CI
//!              + eq_weight·L_eq + saturation_weight·L_sat.
//! With `train.actor_critic = "split"` the critic terms update only critic
//! parameters and the actor terms only actor parameters (DDPG), each group
//! clipped on its own; with "joint" the total updates every parameter under
//! one clip (the reference).
//!
//! Reward r = α·(AL, TS, CC), α = softmax(alpha_logits) detached; with
//! `reward.dynamic_alpha_update` α itself is fitted with its own Adam (lr
//! reward.eta_alpha) to L_α = mean(α·(AL,TS,CC) − sg Q_tot)² (the reference's rule).
//!
//! Adam per component (belief-net trunks and Q heads, action heads, encoder, refine,
//! mixer; nets/adam.rs), each with its own learning rate. The targets are
//! soft-updated with `target_update_tau` every `target_update_interval` updates
//! (counted once per update). Groups in `fixed_groups` are never stepped.
//!
//! # Use from an episode runner
//! ```text
//! let mut learner = Learner::new(nets_cfg, econ_host::torch_device())?;   // or Learner::load(dir, cfg, dev)
//! // training episode (test: explore = false, and no observe):
//! let obs = episode::observe(embedder, &observation_texts(cfg, question, strategy))?; // tokens × obs_dim
//! let mut e = learner.initial_actions(&obs, true)?;                       // n × [T, p]
//! let mut rounds = vec![];
//! loop {
//!     let outs = executors(e); let c = commitment(outs);                  // LLM calls
//!     rounds.push(RoundRecord { actions: e.clone(), outputs: emb(outs), commitment: emb(c) });
//!     if rounds.len() > bne.max_iterations_train || converged { break }
//!     let next = learner.refined_actions(&obs, &e, &emb(outs), &emb(c), true)?.actions;
//!     if nets::action_delta(&next, &e) < bne.convergence_threshold { ... } // stop rule of the runner
//!     e = next;                                             // adopt e^k before the next round runs
//! }
//! for metrics in learner.observe(StepRecord { obs, rounds, components: [al, ts, cc], done: true, next_obs: None })? {
//!     write a metrics.jsonl line (every loss term by name, alpha, grad norms, counters)
//! }
//! learner.save(&model_dir.join("final"), &RunInfo { episode: k, .. })?;       // atomic
//! ```

mod batch;
mod checkpoint;
pub mod early_stop;
mod losses;
mod policy;
mod update;

use std::collections::{BTreeMap, VecDeque};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor, nn};

pub use batch::{RoundRecord, StepRecord};
pub use checkpoint::{
    CHECKPOINT_FORMAT, CheckpointMeta, RunInfo, checkpoint_dir, newest_checkpoint,
};
pub use policy::Refined;

use crate::nets::Nets;
use crate::nets::adam::Adam;
use crate::nets::config::NetsConfig;
use crate::rng::SplitMix64;

/// One learner update's numbers, by name (one metrics.jsonl line).
pub type Metrics = BTreeMap<String, f64>;

/// Step counters, saved in checkpoints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub episodes_seen: u64,
    /// Learner updates (gradient steps) done.
    pub train_steps: u64,
    pub target_updates: u64,
    pub skipped_updates: u64,
}

/// Parameter groups with their own learning rate and gradient clip.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Component {
    BeliefNet,
    Action,
    Encoder,
    Refine,
    Mixer,
}

impl Component {
    const ALL: [Component; 5] = [
        Component::BeliefNet,
        Component::Action,
        Component::Encoder,
        Component::Refine,
        Component::Mixer,
    ];

    fn of(name: &str) -> Component {
        match name.split('.').next().unwrap_or("") {
            "encoder" => Component::Encoder,
            "refine" => Component::Refine,
            "mixer" => Component::Mixer,
            _ if name.split('.').nth(1) == Some("action") => Component::Action,
            _ => Component::BeliefNet,
        }
    }

    /// Actor parameters: the belief networks' action heads and the RefineModule.
    fn is_actor(self) -> bool {
        matches!(self, Component::Action | Component::Refine)
    }

    fn label(self) -> &'static str {
        match self {
            Component::BeliefNet => "belief_net",
            Component::Action => "action",
            Component::Encoder => "encoder",
            Component::Refine => "refine",
            Component::Mixer => "mixer",
        }
    }
}

/// A batch of decision steps as tensors; rounds are padded by repeating a
/// step's last round, and `live` says which rounds really ran.
struct Batch {
    obs: Tensor,
    /// Per round k: executed actions (B, N, 2), outputs (B, N, d_c),
    /// commitment (B, d_c), reward components (B, 3), live (B,) bool.
    actions: Vec<Tensor>,
    outputs: Vec<Tensor>,
    commitments: Vec<Tensor>,
    components: Vec<Tensor>,
    live: Vec<Tensor>,
    not_done: Tensor,
    next_obs: Tensor,
    any_next: bool,
}

impl Batch {
    fn size(&self) -> i64 {
        self.obs.size()[0]
    }
    fn rounds(&self) -> usize {
        self.actions.len()
    }
}

/// Every loss term of one batch as tensors, before any optimiser step.
struct Losses {
    critic: Tensor,
    actor: Tensor,
    /// critic + actor (what `train.actor_critic = "joint"` minimises).
    total: Tensor,
    terms: Vec<(&'static str, Tensor)>,
    /// Q_tot of the critic's decisions (D rows), detached.
    q_tot_exec: Tensor,
    /// The reward components (AL, TS, CC) of those decisions (D, 3).
    components: Tensor,
    /// Which of the D rows are decisions that ran.
    live: Tensor,
}

pub struct Learner {
    cfg: NetsConfig,
    device: Device,
    vs: nn::VarStore,
    target_vs: nn::VarStore,
    nets: Nets,
    target: Nets,
    alpha_logits: Tensor,
    opt: Adam,
    alpha_opt: Adam,
    /// Per optimiser group: its component and its variables (same order as the group).
    group_component: Vec<Component>,
    group_vars: Vec<Vec<Tensor>>,
    /// Per optimiser group: its configured learning rate (before warm-up).
    group_lr: Vec<f64>,
    buffer: VecDeque<StepRecord>,
    counters: Counters,
    rng: SplitMix64,
}

impl Learner {
    /// Fresh networks (targets = copies), optimisers and an empty buffer on `device`.
    /// Initialisation uses torch's global RNG (seed it with `tch::manual_seed`).
    pub fn new(cfg: NetsConfig, device: Device) -> Result<Self> {
        cfg.validate()?;
        let vs = nn::VarStore::new(device);
        let nets = Nets::new(&vs.root(), &cfg);
        let mut target_vs = nn::VarStore::new(device);
        let target = Nets::new(&target_vs.root(), &cfg);
        target_vs
            .copy(&vs)
            .context("copying the networks into the targets")?;
        target_vs.freeze();

        // The fixed commitment projection P_c is in no optimiser.
        let mut named: Vec<(String, Tensor)> = vs
            .variables()
            .into_iter()
            .filter(|(n, _)| {
                !n.starts_with(crate::nets::mixer::FROZEN)
                    && !n.starts_with(crate::nets::obs_norm::PREFIX)
            })
            .collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        let mut groups = Vec::new();
        let mut group_component = Vec::new();
        let mut group_vars = Vec::new();
        let mut group_lr = Vec::new();
        for comp in Component::ALL {
            let vars: Vec<(String, Tensor)> = named
                .iter()
                .filter(|(n, _)| Component::of(n) == comp)
                .map(|(n, t)| (n.clone(), t.shallow_clone()))
                .collect();
            if vars.is_empty() {
                continue;
            }
            let lr = match comp {
                Component::BeliefNet => cfg.belief_net_lr(),
                Component::Action => cfg.action_lr(),
                Component::Encoder => cfg.encoder_lr(),
                Component::Refine => cfg.refine_lr(),
                Component::Mixer => cfg.mixer_lr(),
            };
            group_component.push(comp);
            group_vars.push(vars.iter().map(|(_, t)| t.shallow_clone()).collect());
            group_lr.push(lr);
            groups.push((comp.label().to_string(), lr, cfg.weight_decay, vars));
        }
        let opt = Adam::new(groups);

        let w = cfg.reward.initial_weights;
        let alpha_logits =
            Tensor::from_slice(&[w[0].ln() as f32, w[1].ln() as f32, w[2].ln() as f32])
                .to_device(device)
                .set_requires_grad(true);
        let alpha_opt = Adam::new(vec![(
            "alpha".into(),
            cfg.reward.eta_alpha,
            0.0,
            vec![("logits".into(), alpha_logits.shallow_clone())],
        )]);
        Ok(Learner {
            buffer: VecDeque::with_capacity(cfg.train.buffer_size),
            cfg,
            device,
            vs,
            target_vs,
            nets,
            target,
            alpha_logits,
            opt,
            alpha_opt,
            group_component,
            group_vars,
            group_lr,
            counters: Counters::default(),
            rng: SplitMix64::new(0x0005_EED0_FEC0),
        })
    }

    pub fn config(&self) -> &NetsConfig {
        &self.cfg
    }

    pub fn device(&self) -> Device {
        self.device
    }

    pub fn nets(&self) -> &Nets {
        &self.nets
    }

    pub fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }

    pub fn target_var_store(&self) -> &nn::VarStore {
        &self.target_vs
    }

    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Current α = (α_AL, α_TS, α_CC).
    pub fn alpha(&self) -> [f32; 3] {
        let a: Vec<f32> = Vec::try_from(
            self.alpha_logits
                .softmax(0, Kind::Float)
                .to_device(Device::Cpu),
        )
        .expect("alpha is a float vector");
        [a[0], a[1], a[2]]
    }
}
