//! The ECON learner, in pymarl's split: [`policy`] acts, [`batch`] holds what
//! it learns from, [`losses`] computes every term, [`update`] steps the
//! optimisers, [`checkpoint`] saves and loads; [`early_stop`] watches the
//! curves. Losses, optimisers, target networks, dynamic reward weights,
//! the replay buffer of episodes and checkpoints (ECON-SPEC.md section 9, with the
//! reference's [BUG]s fixed and its [DEAD] keys working).
//!
//! # Losses of one update (batch of B episodes, each 1 + K BNE rounds)
//! The networks recompute, from the stored observation and the stored per-round
//! output / commitment embeddings, the beliefs b^k, E^k of every round and the
//! policy's actions e^0_π = π(b^0), e^k_π = clamp(e^{k−1}_π + η·Refine(·)) (no in-place
//! clamps; e_final is the e of the round that produced the final outputs).
//!
//! Critic (belief trunks, Q heads, encoder, mixer), at the executed final actions
//! e_x (the exploring actions the LLM was really called with):
//! - `loss_td`        L_TD = mean (Q_tot(b^K, e_x, E^K, u^K, c^K) − y)², y = r + γ(1−done)·Q_tot⁻(next)
//! - `loss_td_local`  mean_i (Q_i(b_i^K, e_x,i) − y_i)² (per-agent TD)
//! - `loss_consistency` L_cons (mixer.rs), weight mixer.lambda_m
//! - `loss_sd`        commitment alignment L_SD (mixer.rs), weight mixer.lambda_sd
//!
//! Actors (action heads, RefineModule):
//! - `loss_commit_improve` L_CI = −mean(Q_tot(e^K_π) − Q_tot(sg e^0_π)): a deterministic
//!   policy gradient through e^K_π = e^0_π + Σ η·Δe, so it trains both the refine step
//!   and the initial action; the initial term is a baseline (stop-gradient, so the
//!   initial action is never pushed *down*, unlike the reference). While training,
//!   e^0_π = σ(z + ε)-scaled with the exploration noise ε (reparameterised), so the
//!   actors maximise the value of the exploring policy they really run;
//! - `loss_equilibrium` L_eq = mean (e^K_π − e^0_π)²;
//! - `loss_saturation` L_sat = mean relu(|z| − 3)² on the action logits z (keeps the
//!   sigmoid out of saturation, where logit-space exploration stops moving e).
//!
//! `loss_total` = td_weight·L_TD + local_td_weight·L_local + λ_m·L_cons + λ_SD·L_SD
//!              + eq_weight·L_eq + ci_weight·L_CI + saturation_weight·L_sat (the
//!              reference's L_TD + 0.1 L_cons + 0.05 L_eq + 0.1 L_CI plus the
//!              per-agent TD, L_SD and L_sat). The critic
//!              terms update only critic parameters and the actor terms only actor
//!              parameters (critic held fixed for the actor, as in DDPG).
//!
//! Reward r = α·(AL, TS, CC) with α = softmax(alpha_logits) detached; α itself is
//! fitted with its own Adam (lr reward.eta_alpha) to L_α = mean(α·(AL,TS,CC) −
//! sg Q_tot)² (the reference's rule).
//!
//! Adam per component (belief-net trunks and Q heads, action heads, encoder, refine,
//! mixer; nets/adam.rs), each with its own learning rate and gradient-norm clip. The
//! targets are soft-updated with `target_update_tau` every `target_update_interval`
//! updates (counted once per update).
//!
//! # Use from an episode runner
//! ```text
//! let mut learner = Learner::new(nets_cfg, econ_host::torch_device())?;   // or Learner::load(dir, cfg, dev)
//! // training episode (test: explore = false, and no observe):
//! let obs = embed(question + "\n\nStrategy:\n" + strategy);             // obs_dim floats
//! let mut e = learner.initial_actions(&obs, true)?;                       // n × [T, p]
//! let mut rounds = vec![];
//! loop {
//!     let outs = executors(e); let c = commitment(outs);                  // LLM calls
//!     rounds.push(RoundRecord { actions: e.clone(), outputs: emb(outs), commitment: emb(c) });
//!     if rounds.len() > bne.max_iterations_train || converged { break }
//!     let next = learner.refined_actions(&obs, &e, &emb(outs), &emb(c))?;
//!     if nets::action_delta(&next, &e) < bne.convergence_threshold { ... } // stop rule of the runner
//!     e = next;                                                           // adopt e^k first (no [BUG] 7.1)
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
    terms: Vec<(&'static str, Tensor)>,
    /// Q_tot at the executed actions of every round (R rows), detached.
    q_tot_exec: Tensor,
    /// Which of the R rows are rounds that ran.
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
            .filter(|(n, _)| !n.starts_with(crate::nets::mixer::FROZEN))
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
