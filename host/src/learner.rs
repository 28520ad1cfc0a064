//! The ECON learner: losses, optimisers, target networks, dynamic reward weights,
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
//! for metrics in learner.observe(EpisodeRecord { obs, rounds, components: [al, ts, cc], done: true, next_obs: None })? {
//!     write a metrics.jsonl line (every loss term by name, alpha, grad norms, counters)
//! }
//! learner.save(&model_dir.join("final"), json!({"episode": k, ...}))?;   // atomic
//! ```

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor, nn};

use crate::nets::adam::Adam;
use crate::nets::config::NetsConfig;
use crate::nets::{Nets, tensor_from};
use crate::rng::SplitMix64;

/// |logit| beyond which L_sat penalises the action head (σ(2.5) ≈ 0.92).
const SATURATION_LOGIT: f64 = 2.5;

/// One learner update's numbers, by name (one metrics.jsonl line).
pub type Metrics = BTreeMap<String, f64>;

/// One executed BNE round of an episode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoundRecord {
    /// The (T, p) each executor was sampled with in this round (n entries).
    pub actions: Vec<[f32; 2]>,
    /// Embedding of each executor's output of this round (n × d_c).
    pub outputs: Vec<Vec<f32>>,
    /// Embedding of this round's commitment (d_c).
    pub commitment: Vec<f32>,
    /// Team reward components (AL, TS, CC) of this round's commitment; the
    /// learner's reward for the round's actions is α·components.
    pub components: [f32; 3],
}

/// One episode (= one decision step) as stored in the replay buffer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpisodeRecord {
    /// Embedding of question + strategy (obs_dim).
    pub obs: Vec<f32>,
    /// Round 0 (initial actions) and every BNE round run; the last produced the answer.
    pub rounds: Vec<RoundRecord>,
    /// Terminal step (single-step episodes: always true).
    pub done: bool,
    /// Observation of the next step when not done.
    pub next_obs: Option<Vec<f32>>,
}

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
    buffer: VecDeque<EpisodeRecord>,
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
    pub fn target_nets(&self) -> &Nets {
        &self.target
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
    /// The replay buffer, oldest first (saved beside a resume checkpoint).
    pub fn replay_buffer(&self) -> Vec<EpisodeRecord> {
        self.buffer.iter().cloned().collect()
    }

    /// Put back a saved replay buffer (after [`Learner::load`]) without
    /// counting its episodes again or running updates.
    pub fn restore_replay_buffer(&mut self, episodes: Vec<EpisodeRecord>) -> Result<()> {
        self.buffer.clear();
        for (i, ep) in episodes.into_iter().enumerate() {
            self.check_record(&ep)
                .with_context(|| format!("replay buffer entry {i}"))?;
            if self.buffer.len() == self.cfg.train.buffer_size {
                self.buffer.pop_front();
            }
            self.buffer.push_back(ep);
        }
        Ok(())
    }

    pub fn buffer_len(&self) -> usize {
        self.buffer.len()
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

    fn obs_tensor(&self, obs: &[f32]) -> Result<Tensor> {
        ensure!(
            obs.len() == self.cfg.obs_dim,
            "observation has {} values, obs_dim is {}",
            obs.len(),
            self.cfg.obs_dim
        );
        Ok(tensor_from(obs, &[1, obs.len() as i64], self.device))
    }

    fn actions_tensor(&self, actions: &[[f32; 2]]) -> Result<Tensor> {
        ensure!(
            actions.len() == self.cfg.n_agents,
            "{} actions for {} agents",
            actions.len(),
            self.cfg.n_agents
        );
        let flat: Vec<f32> = actions.iter().flatten().copied().collect();
        Ok(tensor_from(
            &flat,
            &[1, actions.len() as i64, 2],
            self.device,
        ))
    }

    fn check_context(&self, outputs: &[Vec<f32>], commitment: &[f32]) -> Result<()> {
        let (n, dc) = (self.cfg.n_agents, self.cfg.commitment_embedding_dim);
        ensure!(
            outputs.len() == n,
            "{} output embeddings for {n} agents",
            outputs.len()
        );
        ensure!(
            outputs.iter().all(|o| o.len() == dc) && commitment.len() == dc,
            "output / commitment embeddings must have commitment_embedding_dim = {dc} values"
        );
        Ok(())
    }

    fn context_tensors(
        &self,
        outputs: &[Vec<f32>],
        commitment: &[f32],
    ) -> Result<(Tensor, Tensor)> {
        self.check_context(outputs, commitment)?;
        let (n, dc) = (self.cfg.n_agents, self.cfg.commitment_embedding_dim);
        let flat: Vec<f32> = outputs.iter().flatten().copied().collect();
        Ok((
            tensor_from(&flat, &[1, n as i64, dc as i64], self.device),
            tensor_from(commitment, &[1, dc as i64], self.device),
        ))
    }

    fn to_actions(e: &Tensor) -> Vec<[f32; 2]> {
        let v: Vec<f32> =
            Vec::try_from(e.to_device(Device::Cpu).reshape([-1])).expect("float actions");
        v.chunks(2).map(|c| [c[0], c[1]]).collect()
    }

    /// Round-0 actions e_i = (T_i, p_i) for one observation; `explore` adds the
    /// training exploration noise. Networks in eval mode (no dropout).
    pub fn initial_actions(&self, obs: &[f32], explore: bool) -> Result<Vec<[f32; 2]>> {
        let obs = self.obs_tensor(obs)?;
        let noise = if explore {
            self.cfg.sampling.exploration_std
        } else {
            0.0
        };
        Ok(tch::no_grad(|| {
            let mut e = self.nets.initial(&obs, false, noise).actions;
            let eps = self.cfg.sampling.exploration_epsilon;
            if explore && eps > 0.0 {
                e = self.nets.bounds.uniform_where(&e, eps);
            }
            Self::to_actions(&e)
        }))
    }

    /// The next BNE round's actions from the previous actions, the agents' outputs of
    /// that round (n × d_c embeddings) and its commitment embedding (d_c).
    pub fn refined_actions(
        &self,
        obs: &[f32],
        prev_actions: &[[f32; 2]],
        outputs: &[Vec<f32>],
        commitment: &[f32],
    ) -> Result<Vec<[f32; 2]>> {
        let obs = self.obs_tensor(obs)?;
        let prev_e = self.actions_tensor(prev_actions)?;
        let (u, c) = self.context_tensors(outputs, commitment)?;
        Ok(tch::no_grad(|| {
            let mut prev = self.nets.initial(&obs, false, 0.0);
            prev.actions = prev_e.shallow_clone();
            let next = self.nets.bne_round(&obs, &prev, &u, &c, false);
            // An agent takes its refined action only where its own critic
            // expects it to do better than the one it just played (a best
            // response improves the agent's expected utility, or it stays).
            let q_next = self.nets.q_values(&next.beliefs, &next.actions);
            let q_prev = self.nets.q_values(&next.beliefs, &prev_e);
            let better = q_next.gt_tensor(&q_prev).unsqueeze(-1);
            Self::to_actions(&next.actions.where_self(&better, &prev_e))
        }))
    }

    fn check_record(&self, ep: &EpisodeRecord) -> Result<()> {
        ensure!(
            !ep.rounds.is_empty(),
            "an episode record needs at least round 0"
        );
        ensure!(
            ep.obs.len() == self.cfg.obs_dim,
            "episode observation has {} values, obs_dim is {}",
            ep.obs.len(),
            self.cfg.obs_dim
        );
        for (k, r) in ep.rounds.iter().enumerate() {
            ensure!(
                r.actions.len() == self.cfg.n_agents,
                "round {k}: {} actions for {} agents",
                r.actions.len(),
                self.cfg.n_agents
            );
            self.check_context(&r.outputs, &r.commitment)
                .with_context(|| format!("round {k}"))?;
        }
        if let Some(next) = &ep.next_obs {
            ensure!(
                next.len() == self.cfg.obs_dim,
                "next_obs must have obs_dim values"
            );
        }
        ensure!(
            ep.done || ep.next_obs.is_some(),
            "a non-terminal episode record needs next_obs"
        );
        Ok(())
    }

    /// Stores one decision step; every `train.update_interval` finished
    /// episodes runs `train.updates_per_interval` updates on batches from the
    /// buffer and returns their metrics (empty otherwise). Only a terminal
    /// record (`done`) ends an episode, so multi-step episodes
    /// (`env.max_rounds > 1`) are counted once, not once per step.
    pub fn observe(&mut self, ep: EpisodeRecord) -> Result<Vec<Metrics>> {
        self.check_record(&ep)?;
        let ends_episode = ep.done;
        if self.buffer.len() == self.cfg.train.buffer_size {
            self.buffer.pop_front();
        }
        self.buffer.push_back(ep);
        let mut out = Vec::new();
        if !ends_episode {
            return Ok(out);
        }
        self.counters.episodes_seen += 1;
        if self
            .counters
            .episodes_seen
            .is_multiple_of(self.cfg.train.update_interval)
        {
            for _ in 0..self.cfg.train.updates_per_interval {
                let batch = self.sample_batch();
                out.push(self.update_on(&batch)?);
            }
        }
        Ok(out)
    }

    /// Up to `train.batch_size` distinct episodes from the buffer.
    fn sample_batch(&mut self) -> Vec<EpisodeRecord> {
        let n = self.buffer.len();
        let k = self.cfg.train.batch_size.min(n);
        let mut idx: Vec<usize> = (0..n).collect();
        for i in 0..k {
            let j = i + self.rng.below((n - i) as u64) as usize;
            idx.swap(i, j);
        }
        idx[..k].iter().map(|&i| self.buffer[i].clone()).collect()
    }

    fn make_batch(&self, eps: &[EpisodeRecord]) -> Result<Batch> {
        ensure!(!eps.is_empty(), "empty batch");
        for ep in eps {
            self.check_record(ep)?;
        }
        let (b, n) = (eps.len() as i64, self.cfg.n_agents as i64);
        let (od, dc) = (
            self.cfg.obs_dim as i64,
            self.cfg.commitment_embedding_dim as i64,
        );
        let k_max = eps.iter().map(|e| e.rounds.len()).max().unwrap_or(1);
        let dev = self.device;
        let obs: Vec<f32> = eps.iter().flat_map(|e| e.obs.iter().copied()).collect();
        let mut batch = Batch {
            obs: tensor_from(&obs, &[b, od], dev),
            actions: Vec::new(),
            outputs: Vec::new(),
            commitments: Vec::new(),
            components: Vec::new(),
            live: Vec::new(),
            not_done: Tensor::zeros([b], (Kind::Float, dev)),
            next_obs: Tensor::zeros([b, od], (Kind::Float, dev)),
            any_next: eps.iter().any(|e| !e.done),
        };
        for k in 0..k_max {
            let rs: Vec<&RoundRecord> = eps
                .iter()
                .map(|e| &e.rounds[k.min(e.rounds.len() - 1)])
                .collect();
            let flat = |f: &dyn Fn(&RoundRecord) -> Vec<f32>| -> Vec<f32> {
                rs.iter().flat_map(|r| f(r)).collect()
            };
            let a = flat(&|r| r.actions.iter().flatten().copied().collect());
            let u = flat(&|r| r.outputs.iter().flatten().copied().collect());
            let c = flat(&|r| r.commitment.clone());
            let r = flat(&|r| r.components.to_vec());
            batch.actions.push(tensor_from(&a, &[b, n, 2], dev));
            batch.outputs.push(tensor_from(&u, &[b, n, dc], dev));
            batch.commitments.push(tensor_from(&c, &[b, dc], dev));
            batch.components.push(tensor_from(&r, &[b, 3], dev));
            let l: Vec<bool> = eps.iter().map(|e| k < e.rounds.len()).collect();
            batch.live.push(Tensor::from_slice(&l).to_device(dev));
        }
        if batch.any_next {
            let not_done: Vec<f32> = eps.iter().map(|e| if e.done { 0.0 } else { 1.0 }).collect();
            let next: Vec<f32> = eps
                .iter()
                .flat_map(|e| match &e.next_obs {
                    Some(v) if !e.done => v.clone(),
                    _ => vec![0.0; od as usize],
                })
                .collect();
            batch.not_done = tensor_from(&not_done, &[b], dev);
            batch.next_obs = tensor_from(&next, &[b, od], dev);
        }
        Ok(batch)
    }

    /// Beliefs b^k and group representations E^k of every round k, in one
    /// batched pass: round 0 sees the bare observation, round k >= 1 also
    /// round k-1's outputs and commitment (with `bne.belief_update`).
    fn round_beliefs(&self, batch: &Batch, train: bool) -> (Vec<Tensor>, Vec<Tensor>) {
        let nets = &self.nets;
        let k_n = batch.rounds();
        if !(nets.belief_update() && k_n > 1) {
            let bel = nets.beliefs(&batch.obs, None, train);
            let grp = nets.group(&bel, train);
            return (
                (0..k_n).map(|_| bel.shallow_clone()).collect(),
                (0..k_n).map(|_| grp.shallow_clone()).collect(),
            );
        }
        let (us, cs) = self.round_contexts(batch);
        let obs = batch.obs.repeat([k_n as i64, 1]);
        let bel = nets.beliefs(
            &obs,
            Some((&Tensor::cat(&us, 0), &Tensor::cat(&cs, 0))),
            train,
        );
        let grp = nets.group(&bel, train);
        (bel.chunk(k_n as i64, 0), grp.chunk(k_n as i64, 0))
    }

    /// What the agents knew when they chose round k's actions: round k-1's
    /// output and commitment embeddings (zeros for round 0).
    fn round_contexts(&self, batch: &Batch) -> (Vec<Tensor>, Vec<Tensor>) {
        let b = batch.size();
        let (n, dc) = (
            self.cfg.n_agents as i64,
            self.cfg.commitment_embedding_dim as i64,
        );
        let k_n = batch.rounds();
        let mut us = vec![Tensor::zeros([b, n, dc], (Kind::Float, self.device))];
        let mut cs = vec![Tensor::zeros([b, dc], (Kind::Float, self.device))];
        us.extend(batch.outputs[..k_n - 1].iter().map(|t| t.shallow_clone()));
        cs.extend(
            batch.commitments[..k_n - 1]
                .iter()
                .map(|t| t.shallow_clone()),
        );
        (us, cs)
    }

    /// TD targets of every round (R = rounds·B rows, round-major): each
    /// round's actions are credited with the reward of the commitment they
    /// produced; the last round of a step that is not the episode's last adds
    /// γ·Q_tot⁻ of the next step's round 0 under the target policy.
    fn td_targets(&self, batch: &Batch, rewards: &Tensor) -> Tensor {
        if !batch.any_next {
            return rewards.shallow_clone();
        }
        let b = batch.size();
        let k_n = batch.rounds();
        let next_value = tch::no_grad(|| {
            let t = &self.target;
            let s = t.initial(&batch.next_obs, false, 0.0);
            let (n, dc) = (
                self.cfg.n_agents as i64,
                self.cfg.commitment_embedding_dim as i64,
            );
            // Round 0 of the next step has no outputs or commitment yet,
            // exactly as round 0 is trained and acted on.
            let zu = Tensor::zeros([b, n, dc], (Kind::Float, self.device));
            let zc = Tensor::zeros([b, dc], (Kind::Float, self.device));
            let (_, mix) = t.q_tot(&s.beliefs, &s.group, &s.actions, &zu, &zc, false);
            mix.q_tot * &batch.not_done * self.cfg.train.gamma
        });
        let last: Vec<Tensor> = (0..k_n)
            .map(|k| {
                let here = batch.live[k].to_kind(Kind::Float);
                match batch.live.get(k + 1) {
                    Some(next) => here * (1.0 - next.to_kind(Kind::Float)),
                    None => here,
                }
            })
            .collect();
        rewards + Tensor::cat(&last, 0) * next_value.repeat([k_n as i64])
    }

    /// Every loss term of a batch (graph attached; train = dropout on).
    ///
    /// A decision step's rounds are R = K+1 decisions: round k's actions e^k
    /// were chosen knowing round k−1's outputs and commitment (the context
    /// s_k; nothing for round 0), and produced round k's commitment, whose
    /// reward r^k the reward plugin scored. The critic Q(s_k, e^k) is fitted
    /// to r^k; it never sees the outputs its own actions produced (a critic
    /// conditioned on them explains the reward by them and stops depending on
    /// the action). The actors then climb that critic: the initial policy at
    /// round 0, the RefineModule from round k−1's executed actions.
    fn losses(&self, batch: &Batch, train: bool) -> Losses {
        let cfg = &self.cfg;
        let nets = &self.nets;
        let b = batch.size();
        let k_n = batch.rounds();
        let (beliefs, groups) = self.round_beliefs(batch, train);
        let (ctx_u, _) = self.round_contexts(batch);
        let live = Tensor::cat(&batch.live, 0).to_kind(Kind::Float); // (R,)
        let alpha = self.alpha_logits.softmax(0, Kind::Float).detach();
        let rewards = Tensor::cat(&batch.components, 0).matmul(&alpha); // (R,)
        let y = self.td_targets(batch, &rewards);

        // The initial policy, exploring as it does while training: e^0 =
        // σ(z + ε) with ε ~ N(0, exploration_std²), reparameterised, so the
        // actor maximises the value of the exploring policy it really runs.
        let z = nets.action_logits(&beliefs[0]);
        let noise = cfg.sampling.exploration_std;
        let e0_pi = if train && noise > 0.0 {
            nets.bounds.from_logits(&(&z + z.randn_like() * noise))
        } else {
            nets.bounds.from_logits(&z)
        };
        // The RefineModule's step in rounds k >= 1, from the actions really
        // executed in round k−1 (no in-place clamps: gradients reach it).
        let refined: Vec<Tensor> = (1..k_n)
            .map(|k| {
                nets.refine_step(
                    &beliefs[k],
                    &groups[k],
                    &batch.outputs[k - 1],
                    &batch.commitments[k - 1],
                    &batch.actions[k - 1],
                    train,
                )
                .0
            })
            .collect();

        // One mixer pass for every use, rows stacked: the critic at the
        // executed actions of all rounds (R·B), the initial policy (B), and for
        // rounds k >= 1 the refined actions and, as the baseline L_CI compares
        // against, keeping round k−1's actions ((K)·B each).
        let stack = |parts: &[&[Tensor]]| {
            let rows: Vec<Tensor> = parts
                .iter()
                .flat_map(|p| p.iter().map(|t| t.shallow_clone()))
                .collect();
            Tensor::cat(&rows, 0)
        };
        let first = |v: &[Tensor]| v[0].shallow_clone();
        let (b0, g0, u0) = (first(&beliefs), first(&groups), first(&ctx_u));
        let c0 = first(&batch.commitments);
        let all_bel = stack(&[
            &beliefs,
            std::slice::from_ref(&b0),
            &beliefs[1..],
            &beliefs[1..],
        ]);
        let all_grp = stack(&[
            &groups,
            std::slice::from_ref(&g0),
            &groups[1..],
            &groups[1..],
        ]);
        let all_e = stack(&[
            &batch.actions,
            std::slice::from_ref(&e0_pi),
            &refined,
            &batch.actions[..k_n - 1],
        ]);
        let all_u = stack(&[&ctx_u, std::slice::from_ref(&u0), &ctx_u[1..], &ctx_u[1..]]);
        let own_c = &batch.commitments;
        let all_c = stack(&[own_c, std::slice::from_ref(&c0), &own_c[1..], &own_c[1..]]);
        let (q_all, mix_all) = nets.q_tot(&all_bel, &all_grp, &all_e, &all_u, &all_c, train);
        let r_n = k_n as i64 * b;
        let q_x = q_all.narrow(0, 0, r_n);
        let q_tot_x = mix_all.q_tot.narrow(0, 0, r_n);
        let q_tot_pi = mix_all.q_tot.narrow(0, r_n, b);
        let m_n = (k_n as i64 - 1) * b;
        let q_tot_ref = mix_all.q_tot.narrow(0, r_n + b, m_n);
        let q_tot_keep = mix_all.q_tot.narrow(0, r_n + b + m_n, m_n);
        let align_x = mix_all.align.narrow(0, 0, r_n);

        let masked = |per_row: &Tensor, mask: &Tensor| {
            (per_row * mask).sum(Kind::Float) / mask.sum(Kind::Float).clamp_min(1.0)
        };
        // Critic.
        let l_td = masked(&(&q_tot_x - &y).square(), &live);
        let l_local = masked(
            &(&q_x - y.unsqueeze(1))
                .square()
                .mean_dim(1, false, Kind::Float),
            &live,
        );
        let l_cons = nets.mixer.consistency_rows(&q_x, &q_tot_x);
        let l_cons = masked(&l_cons, &live);
        let l_sd = masked(&align_x, &live);
        // Actors.
        let l_policy = -q_tot_pi.mean(Kind::Float);
        let later_live = live.narrow(0, b, m_n);
        let (l_ci, l_eq) = if k_n > 1 {
            let e_ref = Tensor::cat(&refined, 0);
            let e_keep = Tensor::cat(&batch.actions[..k_n - 1], 0);
            (
                -masked(&(&q_tot_ref - &q_tot_keep), &later_live),
                masked(
                    &(&e_ref - &e_keep)
                        .square()
                        .mean_dim([1, 2].as_slice(), false, Kind::Float),
                    &later_live,
                ),
            )
        } else {
            let zero = Tensor::zeros([], (Kind::Float, self.device));
            (zero.shallow_clone(), zero)
        };
        let l_br = self.best_response_loss(&beliefs[0], &z);
        let l_sat = (z.abs() - SATURATION_LOGIT)
            .relu()
            .square()
            .mean(Kind::Float);

        let w = &cfg.loss;
        let critic = &l_td * w.td_weight
            + &l_local * w.local_td_weight
            + &l_cons * cfg.mixer.lambda_m
            + &l_sd * cfg.mixer.lambda_sd;
        let actor = &l_policy * w.policy_weight
            + &l_br * w.best_response_weight
            + &l_ci * w.ci_weight
            + &l_eq * w.eq_weight
            + &l_sat * w.saturation_weight;
        let total = &critic + &actor;
        let d = |t: &Tensor| t.detach();
        let e_pi = e0_pi.detach();
        let improvement = if k_n > 1 {
            masked(&(&q_tot_ref - &q_tot_keep).detach(), &later_live)
        } else {
            Tensor::zeros([], (Kind::Float, self.device))
        };
        let terms = vec![
            ("loss_td", d(&l_td)),
            ("loss_td_local", d(&l_local)),
            ("loss_consistency", d(&l_cons)),
            ("loss_sd", d(&l_sd)),
            ("loss_policy", d(&l_policy)),
            ("loss_equilibrium", d(&l_eq)),
            ("loss_commit_improve", d(&l_ci)),
            ("loss_best_response", d(&l_br)),
            ("loss_saturation", d(&l_sat)),
            ("loss_critic", d(&critic)),
            ("loss_actor", d(&actor)),
            ("loss_total", d(&total)),
            ("q_tot_exec_mean", masked(&q_tot_x.detach(), &live)),
            ("q_tot_init_mean", q_tot_pi.detach().mean(Kind::Float)),
            ("q_improvement_mean", improvement),
            (
                "q_local_mean",
                masked(&q_x.detach().mean_dim(1, false, Kind::Float), &live),
            ),
            ("reward_mean", masked(&rewards, &live)),
            ("e_temperature_mean", e_pi.select(2, 0).mean(Kind::Float)),
            ("e_penalty_mean", e_pi.select(2, 1).mean(Kind::Float)),
            (
                "e_temperature_std_over_batch",
                e_pi.select(2, 0).std_dim(0, false, false).mean(Kind::Float),
            ),
        ];
        Losses {
            critic,
            actor,
            terms,
            q_tot_exec: q_tot_x.detach(),
            live,
        }
    }

    /// L_BR: each agent's initial action is pulled towards its best response
    /// under its own critic, a* = argmax_a Q_i(b_i^0, a) over the current
    /// action and `loss.best_response_candidates` actions spread over the
    /// bounds; a regression of the logits onto logit(a*) where a*
    /// beats the current action. The deterministic policy gradient (L_policy)
    /// only climbs Q_i locally and stalls where Q_i is flat — far from a
    /// narrow optimum, as with a temperature that suits one kind of problem
    /// only; the search finds the optimum wherever the critic has seen it.
    fn best_response_loss(&self, beliefs0: &Tensor, z: &Tensor) -> Tensor {
        let m = self.cfg.loss.best_response_candidates as i64;
        if m == 0 || self.cfg.loss.best_response_weight == 0.0 {
            return Tensor::zeros([], (Kind::Float, self.device));
        }
        let (b, n, db) = beliefs0.size3().expect("beliefs are (B, N, d_b)");
        let (best, gain) = tch::no_grad(|| {
            let current = z.sigmoid().unsqueeze(1); // (B, 1, N, 2), unit scale
            let drawn = self
                .candidates(m as usize)
                .view([1, m, 1, 2])
                .expand([b, m, n, 2], false);
            let cand = Tensor::cat(&[&current, &drawn], 1); // (B, M+1, N, 2)
            let bel = beliefs0
                .detach()
                .unsqueeze(1)
                .expand([b, m + 1, n, db], false)
                .reshape([b * (m + 1), n, db]);
            let q = self
                .nets
                .agents
                .q_values(&bel, &cand.reshape([b * (m + 1), n, 2]))
                .view([b, m + 1, n]);
            let (q_best, idx) = q.max_dim(1, false); // (B, N)
            let gain = q_best - q.select(1, 0);
            let idx = idx.view([b, 1, n, 1]).expand([b, 1, n, 2], false);
            (cand.gather(1, &idx, false).squeeze_dim(1), gain)
        });
        // Logit targets inside the saturation guard, so the pull never
        // drives the sigmoid flat.
        let eps = 1e-4;
        let target = (best.clamp(eps, 1.0 - eps).logit(None::<f64>))
            .clamp(-SATURATION_LOGIT, SATURATION_LOGIT);
        let better = gain.gt(1e-6).to_kind(Kind::Float).unsqueeze(-1);
        ((z - target).square() * &better).sum(Kind::Float)
            / (better.sum(Kind::Float) * 2.0).clamp_min(1.0)
    }

    /// `m` candidate unit actions covering [0, 1]² evenly (a Fibonacci
    /// lattice), shifted at random per update. Drawn from the learner's own
    /// counters, not torch's global generator, so that an update is fixed by
    /// the checkpoint it starts from.
    fn candidates(&self, m: usize) -> Tensor {
        let mut r = SplitMix64::new(crate::rng::derive(&[
            self.counters.train_steps,
            self.counters.episodes_seen,
        ]));
        let (s0, s1) = (r.unit(), r.unit());
        let golden = 0.618_033_988_749_894_9;
        let flat: Vec<f32> = (0..m)
            .flat_map(|i| {
                let x = ((i as f64 + 0.5) / m as f64 + s0).fract();
                let y = (i as f64 * golden + s1).fract();
                [x as f32, y as f32]
            })
            .collect();
        tensor_from(&flat, &[m as i64, 2], self.device)
    }

    /// Gradients of a loss set per optimiser group and parameter (critic loss →
    /// critic parameters, actor loss → actor parameters; None where a parameter was
    /// not used).
    fn gradients(&self, losses: &Losses) -> Vec<Vec<Option<Tensor>>> {
        let mut grads: Vec<Vec<Option<Tensor>>> = self
            .group_vars
            .iter()
            .map(|vars| vars.iter().map(|_| None).collect())
            .collect();
        for (actor, loss, keep) in [(false, &losses.critic, true), (true, &losses.actor, false)] {
            let groups: Vec<usize> = (0..self.group_vars.len())
                .filter(|&g| self.group_component[g].is_actor() == actor)
                .collect();
            let vars: Vec<&Tensor> = groups
                .iter()
                .flat_map(|&g| self.group_vars[g].iter())
                .collect();
            if vars.is_empty() {
                continue;
            }
            let mut gs = Tensor::run_backward(&[loss], &vars, keep, false).into_iter();
            for &g in &groups {
                for slot in grads[g].iter_mut() {
                    *slot = gs.next().filter(|t| t.defined());
                }
            }
        }
        grads
    }

    /// Named gradients the next update would apply to a batch (before clipping);
    /// for inspection and tests.
    pub fn named_gradients(
        &self,
        batch: &[EpisodeRecord],
    ) -> Result<Vec<(String, Option<Tensor>)>> {
        let batch = self.make_batch(batch)?;
        let losses = self.losses(&batch, true);
        let grads = self.gradients(&losses);
        Ok(self
            .opt
            .groups
            .iter()
            .zip(grads)
            .flat_map(|(g, gs)| {
                g.param_names()
                    .map(str::to_string)
                    .zip(gs)
                    .collect::<Vec<_>>()
            })
            .collect())
    }

    /// The loss terms of a batch without updating anything (eval mode, no dropout).
    pub fn evaluate(&self, batch: &[EpisodeRecord]) -> Result<Metrics> {
        let batch = self.make_batch(batch)?;
        let losses = tch::no_grad(|| self.losses(&batch, false));
        Ok(losses
            .terms
            .iter()
            .map(|(k, v)| (k.to_string(), v.double_value(&[])))
            .collect())
    }

    /// One learner update on the given episodes; returns every loss term by name.
    pub fn update_on(&mut self, episodes: &[EpisodeRecord]) -> Result<Metrics> {
        let batch = self.make_batch(episodes)?;
        let losses = self.losses(&batch, true);
        let mut m: Metrics = losses
            .terms
            .iter()
            .map(|(k, v)| (k.to_string(), v.double_value(&[])))
            .collect();

        // Dynamic α (reference rule: fit α·components to Q_tot).
        if self.cfg.reward.dynamic_alpha_update {
            let pred = Tensor::cat(&batch.components, 0)
                .matmul(&self.alpha_logits.softmax(0, Kind::Float));
            let l_alpha = ((pred - &losses.q_tot_exec).square() * &losses.live).sum(Kind::Float)
                / losses.live.sum(Kind::Float).clamp_min(1.0);
            let la = l_alpha.double_value(&[]);
            if la.is_finite() {
                let g = Tensor::run_backward(&[&l_alpha], &[&self.alpha_logits], false, false);
                self.alpha_opt.step_group(0, g[0].shallow_clone());
            }
            m.insert("loss_alpha".into(), la);
        }
        let alpha = self.alpha();
        for (k, v) in ["alpha_al", "alpha_ts", "alpha_cc"].iter().zip(alpha) {
            m.insert(k.to_string(), v as f64);
        }

        let total = m["loss_total"];
        m.insert("batch_size".into(), episodes.len() as f64);
        if !total.is_finite() {
            self.counters.skipped_updates += 1;
            m.insert("skipped".into(), 1.0);
            m.insert("train_steps".into(), self.counters.train_steps as f64);
            return Ok(m);
        }
        let grads = self.gradients(&losses);
        drop(losses);

        // Per-component gradient-norm clipping, then Adam.
        // Linear learning-rate warm-up: Adam's first steps move every weight
        // by ~lr at once, which can blow Q_tot up through the mixer's
        // products and leave Adam's second moments inflated for hundreds of
        // updates.
        let warmup = self.cfg.train.warmup_updates;
        let scale = if warmup == 0 {
            1.0
        } else {
            ((self.counters.train_steps + 1) as f64 / warmup as f64).min(1.0)
        };
        for (group, lr) in self.opt.groups.iter_mut().zip(&self.group_lr) {
            group.lr = lr * scale;
        }
        let clip = self.cfg.train.grad_clip;
        for (g, gs) in grads.iter().enumerate() {
            let label = self.group_component[g].label();
            let Some(flat) = self.opt.groups[g].flat_grad(gs) else {
                m.insert(format!("grad_norm_{label}"), 0.0);
                continue;
            };
            let norm = flat.norm().double_value(&[]);
            m.insert(format!("grad_norm_{label}"), norm);
            let mut flat = flat;
            if norm > clip {
                let _ = flat.f_mul_scalar_(clip / (norm + 1e-6));
            }
            self.opt.step_group(g, flat);
        }

        self.counters.train_steps += 1;
        let mut updated = 0.0;
        if self
            .counters
            .train_steps
            .is_multiple_of(self.cfg.target_update_interval)
        {
            self.soft_update(self.cfg.target_update_tau);
            self.counters.target_updates += 1;
            updated = 1.0;
        }
        m.insert("target_updated".into(), updated);
        m.insert("skipped".into(), 0.0);
        m.insert("train_steps".into(), self.counters.train_steps as f64);
        Ok(m)
    }

    /// θ⁻ ← τ·θ + (1 − τ)·θ⁻ for every network.
    pub fn soft_update(&mut self, tau: f64) {
        let online = self.vs.variables();
        tch::no_grad(|| {
            for (name, mut t) in self.target_vs.variables() {
                let src = &online[&name];
                let mixed = src * tau + &t * (1.0 - tau);
                t.copy_(&mixed);
            }
        });
    }

    // ---------------------------------------------------------------- checkpoints

    /// Writes `dir/model.safetensors` (online and target networks, optimiser state,
    /// alpha logits and its optimiser) and `dir/meta.json` (shape keys, config,
    /// counters, α, replay-sampler state, and `extra` from the caller). Atomic: all
    /// files go to a temporary sibling folder that is then renamed to `dir`.
    pub fn save(&self, dir: &Path, extra: serde_json::Value) -> Result<()> {
        let parent = dir
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        let name = dir
            .file_name()
            .context("checkpoint path has no folder name")?
            .to_string_lossy();
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let tmp = parent.join(format!(".{name}.tmp-{}-{stamp}", std::process::id()));
        fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let result = self
            .write_into(&tmp, extra)
            .and_then(|()| replace_dir(&tmp, dir));
        if result.is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
        result
    }

    fn write_into(&self, tmp: &Path, extra: serde_json::Value) -> Result<()> {
        let mut tensors: Vec<(String, Tensor)> = Vec::new();
        let cpu = |t: &Tensor| t.detach().to_device(Device::Cpu).contiguous();
        let add_store = |prefix: &str, vs: &nn::VarStore, tensors: &mut Vec<(String, Tensor)>| {
            let mut vars: Vec<_> = vs.variables().into_iter().collect();
            vars.sort_by(|a, b| a.0.cmp(&b.0));
            for (n, t) in vars {
                tensors.push((format!("{prefix}.{n}"), cpu(&t)));
            }
        };
        add_store("online", &self.vs, &mut tensors);
        add_store("target", &self.target_vs, &mut tensors);
        tensors.push(("alpha.logits".into(), cpu(&self.alpha_logits)));
        for (n, t) in self
            .opt
            .state("optim")
            .into_iter()
            .chain(self.alpha_opt.state("alpha_optim"))
        {
            tensors.push((n, cpu(&t)));
        }
        let model = tmp.join("model.safetensors");
        Tensor::write_safetensors(&tensors, &model)
            .with_context(|| format!("writing {}", model.display()))?;
        let meta = CheckpointMeta {
            format: CHECKPOINT_FORMAT.into(),
            econ_host_version: env!("CARGO_PKG_VERSION").into(),
            n_agents: self.cfg.n_agents,
            belief_dim: self.cfg.belief_dim,
            obs_dim: self.cfg.obs_dim,
            commitment_embedding_dim: self.cfg.commitment_embedding_dim,
            entity_dim: self.cfg.arch.entity_dim,
            mixer_kind: self.cfg.mixer.kind.clone(),
            config: self.cfg.clone(),
            counters: self.counters,
            alpha: self.alpha(),
            replay_rng: self.rng.state(),
            extra,
        };
        let path = tmp.join("meta.json");
        fs::write(&path, serde_json::to_vec_pretty(&meta)?)
            .with_context(|| format!("writing {}", path.display()))?;
        for f in [&model, &path] {
            fs::File::open(f)
                .and_then(|f| f.sync_all())
                .with_context(|| format!("syncing {}", f.display()))?;
        }
        Ok(())
    }

    /// Reads a checkpoint's meta.json.
    pub fn read_meta(dir: &Path) -> Result<CheckpointMeta> {
        let path = dir.join("meta.json");
        let text =
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let meta: CheckpointMeta =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        ensure!(
            meta.format == CHECKPOINT_FORMAT,
            "{}: format {:?}, this econ-host reads {CHECKPOINT_FORMAT:?}",
            path.display(),
            meta.format
        );
        Ok(meta)
    }

    /// Loads a checkpoint into fresh networks built from `cfg`. A checkpoint whose
    /// shape keys (n_agents, belief_dim, obs_dim, commitment_embedding_dim,
    /// arch.entity_dim, mixer.kind, ...) differ from `cfg` is refused with a message
    /// that names the key. Non-shape settings (learning rates, ...) come from `cfg`.
    pub fn load(dir: &Path, cfg: NetsConfig, device: Device) -> Result<Self> {
        let meta = Self::read_meta(dir)?;
        let shape_keys: [(&str, String, String); 11] = [
            (
                "n_agents",
                meta.n_agents.to_string(),
                cfg.n_agents.to_string(),
            ),
            (
                "belief_dim",
                meta.belief_dim.to_string(),
                cfg.belief_dim.to_string(),
            ),
            ("obs_dim", meta.obs_dim.to_string(), cfg.obs_dim.to_string()),
            (
                "commitment_embedding_dim",
                meta.commitment_embedding_dim.to_string(),
                cfg.commitment_embedding_dim.to_string(),
            ),
            (
                "arch.entity_dim",
                meta.entity_dim.to_string(),
                cfg.arch.entity_dim.to_string(),
            ),
            (
                "mixer.kind",
                meta.mixer_kind.clone(),
                cfg.mixer.kind.clone(),
            ),
            (
                "arch.transformer_blocks",
                meta.config.arch.transformer_blocks.to_string(),
                cfg.arch.transformer_blocks.to_string(),
            ),
            (
                "arch.mlp_hidden_size",
                meta.config.arch.mlp_hidden_size.to_string(),
                cfg.arch.mlp_hidden_size.to_string(),
            ),
            (
                "arch.feedforward_size",
                meta.config.arch.feedforward_size.to_string(),
                cfg.arch.feedforward_size.to_string(),
            ),
            (
                "arch.attention_heads",
                meta.config.arch.attention_heads.to_string(),
                cfg.arch.attention_heads.to_string(),
            ),
            (
                "mixer.hypernet_embed",
                meta.config.mixer.hypernet_embed.to_string(),
                cfg.mixer.hypernet_embed.to_string(),
            ),
        ];
        for (key, saved, wanted) in shape_keys {
            if saved != wanted {
                bail!(
                    "checkpoint {} was saved with {key} = {saved}, but the config has {key} = {wanted}; \
                     the networks' shapes differ, so it cannot be loaded (set {key} = {saved} or train afresh)",
                    dir.display()
                );
            }
        }
        let mut learner = Learner::new(cfg, device)?;
        let path = dir.join("model.safetensors");
        let tensors: HashMap<String, Tensor> = Tensor::read_safetensors(&path)
            .with_context(|| format!("reading {}", path.display()))?
            .into_iter()
            .collect();
        let fill = |prefix: &str, vs: &nn::VarStore| -> Result<()> {
            tch::no_grad(|| {
                for (name, mut var) in vs.variables() {
                    let key = format!("{prefix}.{name}");
                    let src = tensors
                        .get(&key)
                        .with_context(|| format!("{}: tensor {key} is missing", path.display()))?;
                    ensure!(
                        src.size() == var.size(),
                        "{}: tensor {key} has shape {:?}, the network has {:?}",
                        path.display(),
                        src.size(),
                        var.size()
                    );
                    var.copy_(src);
                }
                Ok(())
            })
        };
        fill("online", &learner.vs)?;
        fill("target", &learner.target_vs)?;
        let alpha = tensors
            .get("alpha.logits")
            .context("tensor alpha.logits is missing")?;
        tch::no_grad(|| learner.alpha_logits.copy_(alpha));
        learner
            .opt
            .load_state("optim", &tensors)
            .with_context(|| path.display().to_string())?;
        learner
            .alpha_opt
            .load_state("alpha_optim", &tensors)
            .with_context(|| path.display().to_string())?;
        learner.counters = meta.counters;
        learner.rng = SplitMix64::new(meta.replay_rng);
        Ok(learner)
    }
}

/// Renames `tmp` to `dir`, replacing an existing `dir` (moved aside first, then removed).
fn replace_dir(tmp: &Path, dir: &Path) -> Result<()> {
    if dir.exists() {
        let mut old = PathBuf::from(dir);
        old.set_file_name(format!(
            ".{}.old-{}",
            dir.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default(),
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&old);
        fs::rename(dir, &old).with_context(|| format!("moving the old {} aside", dir.display()))?;
        fs::rename(tmp, dir)
            .with_context(|| format!("renaming {} to {}", tmp.display(), dir.display()))?;
        let _ = fs::remove_dir_all(&old);
    } else {
        fs::rename(tmp, dir)
            .with_context(|| format!("renaming {} to {}", tmp.display(), dir.display()))?;
    }
    Ok(())
}

pub const CHECKPOINT_FORMAT: &str = "econ-host-nets/1";

/// meta.json of a checkpoint.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckpointMeta {
    pub format: String,
    pub econ_host_version: String,
    pub n_agents: usize,
    pub belief_dim: usize,
    pub obs_dim: usize,
    pub commitment_embedding_dim: usize,
    pub entity_dim: usize,
    pub mixer_kind: String,
    pub config: NetsConfig,
    pub counters: Counters,
    pub alpha: [f32; 3],
    pub replay_rng: u64,
    /// Whatever the caller stored (episode, run config, plugin versions, ...).
    #[serde(default)]
    pub extra: serde_json::Value,
}
