//! Every loss term of one batch, computed in one place and named as logged
//! (the module doc of `learn` lists them with their formulas).

use tch::{Kind, Tensor};

use super::{Batch, Learner, Losses};
use crate::nets::tensor_from;
use crate::rng::SplitMix64;

/// |logit| beyond which L_sat penalises the action head (σ(2.5) ≈ 0.92).
const SATURATION_LOGIT: f64 = 2.5;

impl Learner {
    /// Beliefs b^k and group representations E^k of every round k, in one
    /// batched pass: round 0 sees the bare observation, round k >= 1 also
    /// round k-1's outputs and commitment (with `bne.belief_update`).
    pub(super) fn round_beliefs(&self, batch: &Batch, train: bool) -> (Vec<Tensor>, Vec<Tensor>) {
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
    pub(super) fn round_contexts(&self, batch: &Batch) -> (Vec<Tensor>, Vec<Tensor>) {
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
    pub(super) fn td_targets(&self, batch: &Batch, rewards: &Tensor) -> Tensor {
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
    /// With `train.credit = "round"` a decision step's rounds are R = K+1
    /// decisions: round k's actions e^k were chosen knowing round k−1's
    /// outputs and commitment (the context s_k; nothing for round 0), and
    /// produced round k's commitment, whose reward r^k the reward plugin
    /// scored. The critic Q(s_k, e^k) is fitted to r^k; it never sees the
    /// outputs its own actions produced (a critic conditioned on them
    /// explains the reward by them and stops depending on the action). The
    /// actors then climb that critic: the initial policy at round 0, the
    /// RefineModule from round k−1's actions.
    ///
    /// With `"final"` (the reference) a step is one decision: the critic sees
    /// the final round's actions and outputs and the final reward, and the
    /// actors climb it in that same context.
    // Long on purpose: every loss term of an update in one visible place, top to bottom and
    // under its logged name (CleanRL style); splitting it would scatter the formulas the
    // module doc lists.
    pub(super) fn losses(&self, batch: &Batch, train: bool) -> Losses {
        let cfg = &self.cfg;
        let nets = &self.nets;
        let b = batch.size();
        let k_n = batch.rounds();
        let (beliefs, groups) = self.round_beliefs(batch, train);
        let (ctx_u, _) = self.round_contexts(batch);
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
        // The RefineModule's step in rounds k >= 1 (no in-place clamps:
        // gradients reach it), from the actions executed in round k−1 or,
        // with `train.critic_actions = "policy"`, from the policy's own
        // chain e^{k−1}_π, as the reference's graph.
        let on_policy = cfg.train.critic_actions == "policy";
        let mut path = vec![e0_pi.shallow_clone()]; // e^k_π, the policy's chain
        let mut from = Vec::new(); // what each refine step started from
        for k in 1..k_n {
            let base = if on_policy {
                path[k - 1].shallow_clone()
            } else {
                batch.actions[k - 1].shallow_clone()
            };
            let (e, _) = nets.refine_step(
                &beliefs[k],
                &groups[k],
                &batch.outputs[k - 1],
                &batch.commitments[k - 1],
                &base,
                train,
            );
            from.push(base);
            path.push(e);
        }
        let critic_e: &[Tensor] = if on_policy { &path } else { &batch.actions };

        // The decisions: each a context (beliefs, E, outputs the mixer sees,
        // commitment), the critic's action, its TD target and mask; then
        // the policy's initial action and the refine steps in their contexts.
        let live_k: Vec<Tensor> = batch.live.iter().map(|l| l.to_kind(Kind::Float)).collect();
        let last_k: Vec<Tensor> = (0..k_n)
            .map(|k| match live_k.get(k + 1) {
                Some(next) => &live_k[k] * (1.0 - next),
                None => live_k[k].shallow_clone(),
            })
            .collect();
        // The value of each sample's last round, from per-round tensors.
        let at_last = |v: &[Tensor]| -> Tensor {
            let mut acc = Tensor::zeros_like(&v[0]);
            for (t, m) in v.iter().zip(&last_k) {
                let shape: Vec<i64> = std::iter::once(b)
                    .chain(std::iter::repeat_n(1, t.dim() - 1))
                    .collect();
                acc += t * m.view(shape.as_slice());
            }
            acc
        };
        let final_credit = cfg.train.credit == "final";
        let per_round =
            |v: &[Tensor]| -> Vec<Tensor> { v.iter().map(|t| t.shallow_clone()).collect() };
        let y_rows = y.chunk(k_n as i64, 0);
        let comp_rows: Vec<Tensor> = per_round(&batch.components);
        struct Rows {
            bel: Vec<Tensor>,
            grp: Vec<Tensor>,
            out: Vec<Tensor>,
            com: Vec<Tensor>,
        }
        let (critic, critic_a, critic_y, critic_mask, critic_comp, policy_ctx, refine_ctx) =
            if final_credit {
                let ctx = Rows {
                    bel: vec![at_last(&beliefs)],
                    grp: vec![at_last(&groups)],
                    out: vec![at_last(&batch.outputs)],
                    com: vec![at_last(&batch.commitments)],
                };
                let same = || Rows {
                    bel: per_round(&ctx.bel),
                    grp: per_round(&ctx.grp),
                    out: per_round(&ctx.out),
                    com: per_round(&ctx.com),
                };
                let (p, r) = (same(), same());
                (
                    ctx,
                    vec![at_last(critic_e)],
                    at_last(&y_rows),
                    Tensor::ones([b], (Kind::Float, self.device)),
                    at_last(&comp_rows),
                    p,
                    r,
                )
            } else {
                (
                    Rows {
                        bel: per_round(&beliefs),
                        grp: per_round(&groups),
                        out: per_round(&ctx_u),
                        com: per_round(&batch.commitments),
                    },
                    per_round(critic_e),
                    y.shallow_clone(),
                    Tensor::cat(&live_k, 0),
                    Tensor::cat(&comp_rows, 0),
                    Rows {
                        bel: vec![beliefs[0].shallow_clone()],
                        grp: vec![groups[0].shallow_clone()],
                        out: vec![ctx_u[0].shallow_clone()],
                        com: vec![batch.commitments[0].shallow_clone()],
                    },
                    Rows {
                        bel: per_round(&beliefs[1..]),
                        grp: per_round(&groups[1..]),
                        out: per_round(&ctx_u[1..]),
                        com: per_round(&batch.commitments[1..]),
                    },
                )
            };
        // Refine steps the actors are credited for: in "round" credit every
        // later round that ran; in "final" the step's last refinement.
        let (refined, refined_from, refine_mask) = if k_n < 2 {
            (Vec::new(), Vec::new(), Vec::new())
        } else if final_credit {
            let shifted: Vec<Tensor> = (0..k_n)
                .map(|k| {
                    if k == 0 {
                        e0_pi.detach()
                    } else {
                        from[k - 1].shallow_clone()
                    }
                })
                .collect();
            (
                vec![at_last(&path)],
                vec![at_last(&shifted)],
                vec![Tensor::ones([b], (Kind::Float, self.device)) - &last_k[0]],
            )
        } else {
            (
                per_round(&path[1..]),
                per_round(&from),
                per_round(&live_k[1..]),
            )
        };
        let initial_baseline = cfg.loss.ci_baseline == "initial";
        let baselines: Vec<Tensor> = refined_from
            .iter()
            .map(|f| {
                if initial_baseline {
                    e0_pi.shallow_clone()
                } else {
                    f.detach()
                }
            })
            .collect();

        // One mixer pass for every use, rows stacked: the critic's decisions
        // (D·B), the initial policy (B), the refined actions and the baseline
        // L_CI compares them with (M·B each).
        let m = refined.len();
        let stack = |parts: &[&[Tensor]]| {
            let rows: Vec<Tensor> = parts
                .iter()
                .flat_map(|p| p.iter().map(|t| t.shallow_clone()))
                .collect();
            Tensor::cat(&rows, 0)
        };
        let ctx_of = |f: &dyn Fn(&Rows) -> &Vec<Tensor>| {
            stack(&[
                f(&critic),
                f(&policy_ctx),
                &f(&refine_ctx)[..m],
                &f(&refine_ctx)[..m],
            ])
        };
        let all_e = stack(&[
            &critic_a,
            std::slice::from_ref(&e0_pi),
            &refined,
            &baselines,
        ]);
        let (q_all, mix_all) = nets.q_tot(
            &ctx_of(&|r| &r.bel),
            &ctx_of(&|r| &r.grp),
            &all_e,
            &ctx_of(&|r| &r.out),
            &ctx_of(&|r| &r.com),
            train,
        );
        let r_n = critic_a.len() as i64 * b;
        let q_x = q_all.narrow(0, 0, r_n);
        let q_tot_x = mix_all.q_tot.narrow(0, 0, r_n);
        let q_tot_pi = mix_all.q_tot.narrow(0, r_n, b);
        let m_n = m as i64 * b;
        let q_tot_ref = mix_all.q_tot.narrow(0, r_n + b, m_n);
        let q_tot_base = mix_all.q_tot.narrow(0, r_n + b + m_n, m_n);
        let align_x = mix_all.align.narrow(0, 0, r_n);

        let masked = |per_row: &Tensor, mask: &Tensor| {
            (per_row * mask).sum(Kind::Float) / mask.sum(Kind::Float).clamp_min(1.0)
        };
        // Critic.
        let l_td = masked(&(&q_tot_x - &critic_y).square(), &critic_mask);
        let l_local = masked(
            &(&q_x - critic_y.unsqueeze(1))
                .square()
                .mean_dim(1, false, Kind::Float),
            &critic_mask,
        );
        let l_cons = nets.mixer.consistency_rows(&q_x, &q_tot_x);
        let l_cons = masked(&l_cons, &critic_mask);
        let l_sd = masked(&align_x, &critic_mask);
        // Actors.
        let l_policy = -q_tot_pi.mean(Kind::Float);
        let zero = || Tensor::zeros([], (Kind::Float, self.device));
        let (l_ci, l_eq, improvement) = if m > 0 {
            let mask = Tensor::cat(&refine_mask, 0);
            let e_ref = Tensor::cat(&refined, 0);
            let e_from = Tensor::cat(&refined_from, 0);
            let gain = &q_tot_ref - &q_tot_base;
            (
                -masked(&gain, &mask),
                masked(
                    &(&e_ref - &e_from)
                        .square()
                        .mean_dim([1, 2].as_slice(), false, Kind::Float),
                    &mask,
                ),
                masked(&gain.detach(), &mask),
            )
        } else {
            (zero(), zero(), zero())
        };
        let l_br = self.best_response_loss(&beliefs[0], &z);
        let l_sat = (z.abs() - SATURATION_LOGIT)
            .relu()
            .square()
            .mean(Kind::Float);

        let w = &cfg.loss;
        let critic_loss = &l_td * w.td_weight
            + &l_local * w.local_td_weight
            + &l_cons * cfg.mixer.lambda_m
            + &l_sd * cfg.mixer.lambda_sd;
        let actor = &l_policy * w.policy_weight
            + &l_br * w.best_response_weight
            + &l_ci * w.ci_weight
            + &l_eq * w.eq_weight
            + &l_sat * w.saturation_weight;
        let total = &critic_loss + &actor;
        let d = |t: &Tensor| t.detach();
        let e_pi = e0_pi.detach();
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
            ("loss_critic", d(&critic_loss)),
            ("loss_actor", d(&actor)),
            ("loss_total", d(&total)),
            ("q_tot_exec_mean", masked(&q_tot_x.detach(), &critic_mask)),
            ("q_tot_init_mean", q_tot_pi.detach().mean(Kind::Float)),
            ("q_improvement_mean", improvement),
            (
                "q_local_mean",
                masked(&q_x.detach().mean_dim(1, false, Kind::Float), &critic_mask),
            ),
            ("reward_mean", masked(&rewards, &Tensor::cat(&live_k, 0))),
            ("e_temperature_mean", e_pi.select(2, 0).mean(Kind::Float)),
            ("e_penalty_mean", e_pi.select(2, 1).mean(Kind::Float)),
            (
                "e_temperature_std_over_batch",
                e_pi.select(2, 0).std_dim(0, false, false).mean(Kind::Float),
            ),
        ];
        Losses {
            critic: critic_loss,
            actor,
            total,
            terms,
            q_tot_exec: q_tot_x.detach(),
            components: critic_comp,
            live: critic_mask,
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
    pub(super) fn best_response_loss(&self, beliefs0: &Tensor, z: &Tensor) -> Tensor {
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
    pub(super) fn candidates(&self, m: usize) -> Tensor {
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
}
