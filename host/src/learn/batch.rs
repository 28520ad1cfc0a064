//! What the learner learns from: one record per decision step (its rounds),
//! checked on the way in, kept in the replay buffer, sampled and stacked into
//! tensors.

use anyhow::{Context, Result, ensure};
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use super::{Batch, Learner, Metrics};
use crate::nets::tensor_from;

/// One executed BNE round of an episode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoundRecord {
    /// The (T, p) each executor was sampled with in this round (n entries).
    pub actions: Vec<crate::nets::Action>,
    /// Embedding of each executor's output of this round (n × d_c).
    pub outputs: Vec<Vec<f32>>,
    /// Embedding of this round's commitment (d_c).
    pub commitment: Vec<f32>,
    /// Team reward components (AL, TS, CC) of this round's commitment; the
    /// learner's reward for the round's actions is α·components.
    pub components: [f32; 3],
}

/// One decision step (an episode has one unless env.max_rounds > 1), as stored
/// in the replay buffer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// Embedding of question + strategy (obs_dim).
    pub obs: Vec<f32>,
    /// Round 0 (initial actions) and every BNE round run; the last produced the answer.
    pub rounds: Vec<RoundRecord>,
    /// Terminal step (single-step episodes: always true).
    pub done: bool,
    /// Observation of the next step when not done.
    pub next_obs: Option<Vec<f32>>,
}

impl Learner {
    /// Put back a saved replay buffer (after [`Learner::load`]) without
    /// counting its episodes again or running updates.
    pub fn restore_replay_buffer(&mut self, episodes: Vec<StepRecord>) -> Result<()> {
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

    pub(super) fn check_record(&self, ep: &StepRecord) -> Result<()> {
        ensure!(
            !ep.rounds.is_empty(),
            "an episode record needs at least round 0"
        );
        ensure!(
            ep.obs.len() == self.cfg.observation_len(),
            "episode observation has {} values, expected {} (obs_dim {} x {} token(s))",
            ep.obs.len(),
            self.cfg.observation_len(),
            self.cfg.obs_dim,
            self.cfg.observation_tokens()
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
                next.len() == self.cfg.observation_len(),
                "next_obs must have as many values as obs"
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
    pub fn observe(&mut self, ep: StepRecord) -> Result<Vec<Metrics>> {
        self.check_record(&ep)?;
        let obs = crate::nets::tensor_from(&ep.obs, &[ep.obs.len() as i64], self.device);
        self.nets.obs_norm.update(&obs);
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
    pub(super) fn sample_batch(&mut self) -> Vec<StepRecord> {
        let n = self.buffer.len();
        let k = self.cfg.train.batch_size.min(n);
        let mut idx: Vec<usize> = (0..n).collect();
        for i in 0..k {
            let j = i + self.rng.below((n - i) as u64) as usize;
            idx.swap(i, j);
        }
        idx[..k].iter().map(|&i| self.buffer[i].clone()).collect()
    }

    pub(super) fn make_batch(&self, eps: &[StepRecord]) -> Result<Batch> {
        ensure!(!eps.is_empty(), "empty batch");
        for ep in eps {
            self.check_record(ep)?;
        }
        let (b, n) = (eps.len() as i64, self.cfg.n_agents as i64);
        let (od, dc) = (
            self.cfg.observation_len() as i64,
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
            let a = flat(&|r| r.actions.iter().flat_map(|a| a.to_array()).collect());
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
}
