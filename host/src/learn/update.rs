//! One optimiser step: per-component gradients and clips, Adam per component,
//! the reward weights α, soft target updates.

use anyhow::Result;
use tch::{Kind, Tensor};

use super::{Learner, Losses, Metrics, StepRecord};

impl Learner {
    /// Gradients of a loss set per optimiser group and parameter (critic loss →
    /// critic parameters, actor loss → actor parameters; with
    /// `train.actor_critic = "joint"` the total loss → every parameter; None
    /// where a parameter was not used).
    pub(super) fn gradients(&self, losses: &Losses) -> Vec<Vec<Option<Tensor>>> {
        let mut grads: Vec<Vec<Option<Tensor>>> = self
            .group_vars
            .iter()
            .map(|vars| vars.iter().map(|_| None).collect())
            .collect();
        let all = |_: usize| true;
        let critic = |g: usize| !self.group_component[g].is_actor();
        let actor = |g: usize| self.group_component[g].is_actor();
        let passes: Vec<(&dyn Fn(usize) -> bool, &Tensor, bool)> = if self.joint() {
            vec![(&all, &losses.total, false)]
        } else {
            vec![
                (&critic, &losses.critic, true),
                (&actor, &losses.actor, false),
            ]
        };
        for (takes, loss, keep) in passes {
            let groups: Vec<usize> = (0..self.group_vars.len()).filter(|&g| takes(g)).collect();
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
    pub fn named_gradients(&self, batch: &[StepRecord]) -> Result<Vec<(String, Option<Tensor>)>> {
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
    pub fn evaluate(&self, batch: &[StepRecord]) -> Result<Metrics> {
        let batch = self.make_batch(batch)?;
        let losses = tch::no_grad(|| self.losses(&batch, false));
        Ok(losses
            .terms
            .iter()
            .map(|(k, v)| (k.to_string(), v.double_value(&[])))
            .collect())
    }

    /// One learner update on the given episodes; returns every loss term by name.
    // Long on purpose: one optimiser step in the order the learner doc gives: losses,
    // gradients and clips per component, Adam, α, target update.
    pub fn update_on(&mut self, episodes: &[StepRecord]) -> Result<Metrics> {
        let batch = self.make_batch(episodes)?;
        let losses = self.losses(&batch, true);
        let mut m: Metrics = losses
            .terms
            .iter()
            .map(|(k, v)| (k.to_string(), v.double_value(&[])))
            .collect();

        // Dynamic α (reference rule: fit α·components to Q_tot).
        if self.cfg.reward.dynamic_alpha_update {
            let pred = losses
                .components
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
        let flats: Vec<Option<Tensor>> = grads
            .iter()
            .enumerate()
            .map(|(g, gs)| self.opt.groups[g].flat_grad(gs))
            .collect();
        let norms: Vec<f64> = flats
            .iter()
            .map(|f| f.as_ref().map_or(0.0, |t| t.norm().double_value(&[])))
            .collect();
        // "joint": one clip over every parameter (the reference's one
        // optimiser); "split": a clip per component.
        let global = norms.iter().map(|n| n * n).sum::<f64>().sqrt();
        for (g, flat) in flats.into_iter().enumerate() {
            let label = self.group_component[g].label();
            m.insert(format!("grad_norm_{label}"), norms[g]);
            let Some(mut flat) = flat else {
                continue;
            };
            if self.cfg.fixed_groups.iter().any(|f| f == label) {
                continue;
            }
            let norm = if self.joint() { global } else { norms[g] };
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

    /// One loss and one gradient clip over every parameter (the reference).
    fn joint(&self) -> bool {
        self.cfg.train.actor_critic == "joint"
    }

    /// θ⁻ ← τ·θ + (1 − τ)·θ⁻ for every network.
    pub fn soft_update(&mut self, tau: f64) {
        let online = self.vs.variables();
        tch::no_grad(|| {
            for (name, mut t) in self.target_vs.variables() {
                let src = &online[&name];
                // Statistics are copied, not mixed.
                if name.starts_with(crate::nets::obs_norm::PREFIX) {
                    t.copy_(src);
                    continue;
                }
                let mixed = src * tau + &t * (1.0 - tau);
                t.copy_(&mixed);
            }
        });
    }
}
