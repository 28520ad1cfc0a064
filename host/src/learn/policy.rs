//! Acting: the belief networks' actions for an observation (round 0) and the
//! RefineModule's refined actions for the next BNE round. Read-only on the
//! networks.

use anyhow::{Result, ensure};
use tch::{Device, Tensor};

use super::Learner;
use crate::nets::{Action, tensor_from};

/// A BNE round's refined actions.
#[derive(Clone, Debug)]
pub struct Refined {
    /// What the executors will run.
    pub actions: Vec<Action>,
    /// What the RefineModule proposed, before the critics' veto.
    pub proposed: Vec<Action>,
    /// Agents whose critic kept their previous action.
    pub vetoed: usize,
}

impl Learner {
    pub(super) fn obs_tensor(&self, obs: &[f32]) -> Result<Tensor> {
        ensure!(
            obs.len() == self.cfg.observation_len(),
            "observation has {} values, expected {} (obs_dim {} x {} token(s))",
            obs.len(),
            self.cfg.observation_len(),
            self.cfg.obs_dim,
            self.cfg.observation_tokens()
        );
        Ok(tensor_from(obs, &[1, obs.len() as i64], self.device))
    }

    pub(super) fn actions_tensor(&self, actions: &[Action]) -> Result<Tensor> {
        ensure!(
            actions.len() == self.cfg.n_agents,
            "{} actions for {} agents",
            actions.len(),
            self.cfg.n_agents
        );
        let flat: Vec<f32> = actions.iter().flat_map(|a| a.to_array()).collect();
        Ok(tensor_from(
            &flat,
            &[1, actions.len() as i64, 2],
            self.device,
        ))
    }

    pub(super) fn check_context(&self, outputs: &[Vec<f32>], commitment: &[f32]) -> Result<()> {
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

    pub(super) fn context_tensors(
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

    pub(super) fn to_actions(e: &Tensor) -> Vec<Action> {
        let v: Vec<f32> =
            Vec::try_from(e.to_device(Device::Cpu).reshape([-1])).expect("float actions");
        v.chunks(2).map(|c| Action::new(c[0], c[1])).collect()
    }

    /// Round-0 actions e_i = (T_i, p_i) for one observation; `explore` adds the
    /// training exploration noise. Networks in eval mode (no dropout).
    pub fn initial_actions(&self, obs: &[f32], explore: bool) -> Result<Vec<Action>> {
        let obs = self.obs_tensor(obs)?;
        let noise = if explore {
            self.cfg.sampling.exploration_std
        } else {
            0.0
        };
        Ok(tch::no_grad(|| {
            let mut e = self.nets.initial(&obs, false, noise).actions;
            let eps = self.cfg.sampling.epsilon_at(self.counters.episodes_seen);
            if explore && eps > 0.0 {
                e = self.nets.bounds.uniform_where(&e, eps);
            }
            Self::to_actions(&e)
        }))
    }

    /// The next BNE round's actions from the previous actions, the agents' outputs of
    /// that round (n × d_c embeddings) and its commitment embedding (d_c);
    /// `explore` (training) replaces each with a uniformly random action with
    /// chance `bne.refine_exploration_epsilon`.
    pub fn refined_actions(
        &self,
        obs: &[f32],
        prev_actions: &[Action],
        outputs: &[Vec<f32>],
        commitment: &[f32],
        explore: bool,
    ) -> Result<Refined> {
        let obs = self.obs_tensor(obs)?;
        let prev_e = self.actions_tensor(prev_actions)?;
        let (u, c) = self.context_tensors(outputs, commitment)?;
        let bne = &self.cfg.bne;
        Ok(tch::no_grad(|| {
            let mut prev = self.nets.initial(&obs, false, 0.0);
            prev.actions = prev_e.shallow_clone();
            let next = self.nets.bne_round(&obs, &prev, &u, &c, false);
            // With `bne.critic_veto`, an agent takes its refined action only
            // where its own critic expects it to do better than the one it
            // just played (a best response improves the agent's expected
            // utility, or it stays).
            let (actions, vetoed) = if bne.critic_veto {
                let q_next = self.nets.q_values(&next.beliefs, &next.actions);
                let q_prev = self.nets.q_values(&next.beliefs, &prev_e);
                let better = q_next.gt_tensor(&q_prev);
                let vetoed = better.logical_not().sum(tch::Kind::Int64).int64_value(&[]);
                (
                    next.actions.where_self(&better.unsqueeze(-1), &prev_e),
                    vetoed as usize,
                )
            } else {
                (next.actions.shallow_clone(), 0)
            };
            let eps = bne.refine_exploration_epsilon;
            let actions = if explore && eps > 0.0 {
                self.nets.bounds.uniform_where(&actions, eps)
            } else {
                actions
            };
            Refined {
                actions: Self::to_actions(&actions),
                proposed: Self::to_actions(&next.actions),
                vetoed,
            }
        }))
    }
}
