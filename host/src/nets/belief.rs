//! BeliefNetwork: one independent network per agent, no weight sharing
//! (docs/method.md; the observation is sentence embeddings, not the reference's
//! token ids: docs/deviations.md). The n networks are stored as an ensemble — every weight has a leading
//! agent dimension — so all agents run in one batched op instead of n small ones.
//!
//! Input: "tokens" — the observation (with `observation = "separate"` two tokens,
//! the question's and the strategy's embeddings; with "joint" one, the embedding of
//! question + strategy), the agent's own last output embedding and the last
//! commitment embedding (zeros in round 0) — each linearly projected to
//! `entity_dim` plus a learned type embedding,
//! then `transformer_blocks` post-LN blocks with `attention_heads` heads, mean pool,
//! Linear → LN → ReLU → Linear = belief b_i (`belief_dim`).
//!
//! Heads:
//! - action: b_i → Linear → ReLU → Linear → 2 logits z; e_i = lo + (hi − lo)·σ(z + ε),
//!   ε ~ N(0, σ²) only while exploring (training episodes), so e_i is always inside
//!   its bounds; the last layer's weights start tiny and its bias is drawn per agent,
//!   so the agents start from different, nearly observation-independent actions;
//! - local value: Q_i(b_i, e_i) = Linear → LN → ReLU → Linear of [b_i, ReLU(Linear(ê_i))],
//!   where ê_i is e_i rescaled to [0, 1] (the action embedding lets Q_i bend in e_i
//!   quickly); with `arch.q_uses_action = false`, Q_i(b_i) of the belief alone, as the
//!   reference (whose actions then have nothing to climb but the mixer's action input).
//!   Its last layer starts tiny: Q_i ≈ 0 at first, the scale of the rewards.
//!
//! Variables live under `belief.trunk`, `belief.action` (the actors) and `belief.q`.

use tch::{Tensor, nn};

use super::config::NetsConfig;
use super::layers::{EnsembleBlock, EnsembleLayerNorm, EnsembleLinear};

/// Half-width, in logits, of the range the agents' initial action biases are
/// drawn from: with ±1 an untrained agent's temperature lies anywhere in the
/// middle 46 % of its bounds (σ(±1) = 0.27 / 0.73), so independently
/// initialised agents start from visibly different actions, as independent
/// networks do in the paper, instead of all at the midpoint.
const INITIAL_ACTION_SPREAD: f64 = 1.0;

#[derive(Debug)]
pub struct BeliefNetwork {
    proj_obs: EnsembleLinear,
    /// The strategy's own token (`observation = "separate"`).
    proj_strategy: Option<EnsembleLinear>,
    proj_output: EnsembleLinear,
    proj_commitment: EnsembleLinear,
    token_type: Tensor,
    blocks: Vec<EnsembleBlock>,
    head1: EnsembleLinear,
    head_ln: EnsembleLayerNorm,
    head2: EnsembleLinear,
    act1: EnsembleLinear,
    act2: EnsembleLinear,
    q_action: Option<EnsembleLinear>,
    q1: EnsembleLinear,
    q_ln: EnsembleLayerNorm,
    q2: EnsembleLinear,
    dropout: f64,
    n: i64,
    ctx_dim: i64,
    obs_dim: i64,
}

impl BeliefNetwork {
    pub fn new(p: nn::Path, cfg: &NetsConfig) -> Self {
        let n = cfg.n_agents as i64;
        let h = cfg.arch.entity_dim as i64;
        let db = cfg.belief_dim as i64;
        let dc = cfg.commitment_embedding_dim as i64;
        let mlp = cfg.arch.mlp_hidden_size as i64;
        let obs = cfg.obs_dim as i64;
        let separate = cfg.observation_tokens() == 2;
        let tokens = 2 + cfg.observation_tokens() as i64;
        let trunk = &p / "trunk";
        let action = &p / "action";
        let q = &p / "q";
        let blocks = (0..cfg.arch.transformer_blocks)
            .map(|i| {
                EnsembleBlock::new(
                    &trunk / format!("block{i}"),
                    n,
                    h,
                    cfg.arch.attention_heads as i64,
                    4 * h,
                    cfg.arch.dropout_rate,
                )
            })
            .collect();
        BeliefNetwork {
            proj_obs: EnsembleLinear::new(&trunk / "proj_obs", n, obs, h),
            proj_strategy: separate
                .then(|| EnsembleLinear::new(&trunk / "proj_strategy", n, obs, h)),
            proj_output: EnsembleLinear::new(&trunk / "proj_output", n, dc, h),
            proj_commitment: EnsembleLinear::new(&trunk / "proj_commitment", n, dc, h),
            token_type: trunk.var(
                "token_type",
                &[n, 1, tokens, h],
                nn::Init::Randn {
                    mean: 0.0,
                    stdev: 0.02,
                },
            ),
            blocks,
            head1: EnsembleLinear::new(&trunk / "head1", n, h, h),
            head_ln: EnsembleLayerNorm::new(&trunk / "head_ln", n, h),
            head2: EnsembleLinear::new(&trunk / "head2", n, h, db),
            act1: EnsembleLinear::new(&action / "l1", n, db, mlp),
            act2: if cfg.arch.action_init == "spread" {
                EnsembleLinear::spread(&action / "l2", n, mlp, 2, INITIAL_ACTION_SPREAD)
            } else {
                EnsembleLinear::new(&action / "l2", n, mlp, 2)
            },
            q_action: cfg
                .arch
                .q_uses_action
                .then(|| EnsembleLinear::new(&q / "action_embed", n, 2, h)),
            q1: EnsembleLinear::new(
                &q / "l1",
                n,
                if cfg.arch.q_uses_action { db + h } else { db },
                h,
            ),
            q_ln: EnsembleLayerNorm::new(&q / "ln", n, h),
            q2: EnsembleLinear::small(&q / "l2", n, h, 1),
            dropout: cfg.arch.dropout_rate,
            n,
            ctx_dim: dc,
            obs_dim: obs,
        }
    }

    /// Beliefs (B, N, d_b) from the observation — (B, tokens·obs_dim), shared by all
    /// agents, or (B, N, tokens·obs_dim) — and, in rounds ≥ 1, each agent's last
    /// output (B, N, d_c) and the last commitment (B, d_c); None = zeros (round 0).
    pub fn beliefs(
        &self,
        obs: &Tensor,
        context: Option<(&Tensor, &Tensor)>,
        train: bool,
    ) -> Tensor {
        let n = self.n;
        let b = obs.size()[0];
        let obs = if obs.dim() == 3 {
            obs.transpose(0, 1)
        } else {
            obs.unsqueeze(0).expand([n, b, -1], false)
        };
        let (out, com) = match context {
            Some((u, c)) => (u.transpose(0, 1), c.unsqueeze(0).expand([n, b, -1], false)),
            None => {
                let z = Tensor::zeros([n, b, self.ctx_dim], (obs.kind(), obs.device()));
                (z.shallow_clone(), z)
            }
        };
        let mut parts = match &self.proj_strategy {
            Some(strategy) => vec![
                self.proj_obs.forward(&obs.narrow(-1, 0, self.obs_dim)),
                strategy.forward(&obs.narrow(-1, self.obs_dim, self.obs_dim)),
            ],
            None => vec![self.proj_obs.forward(&obs)],
        };
        parts.push(self.proj_output.forward(&out));
        parts.push(self.proj_commitment.forward(&com));
        let t = parts.len() as i64;
        let tokens = Tensor::stack(&parts, 2) + &self.token_type; // (n, B, t, h)
        let h = tokens.size()[3];
        let mut x = tokens.view([n, b * t, h]).dropout(self.dropout, train);
        for block in &self.blocks {
            x = block.forward_t(&x, t, train);
        }
        let pooled = x.view([n, b, t, h]).mean_dim(2, false, x.kind());
        let belief = self
            .head2
            .forward(&self.head_ln.forward(&self.head1.forward(&pooled)).relu());
        belief.transpose(0, 1)
    }

    /// Pre-sigmoid action logits z (B, N, 2) from beliefs (B, N, d_b).
    pub fn action_logits(&self, beliefs: &Tensor) -> Tensor {
        let b = beliefs.transpose(0, 1);
        self.act2
            .forward(&self.act1.forward(&b).relu())
            .transpose(0, 1)
    }

    /// Local values Q_i(b_i, e_i) (B, N) from beliefs (B, N, d_b) and unit-scaled
    /// actions (B, N, 2).
    pub fn q_values(&self, beliefs: &Tensor, unit_actions: &Tensor) -> Tensor {
        let b = beliefs.transpose(0, 1);
        let x = match &self.q_action {
            Some(embed) => {
                let a = embed.forward(&unit_actions.transpose(0, 1)).relu();
                Tensor::cat(&[&b, &a], 2)
            }
            None => b,
        };
        let q = self
            .q2
            .forward(&self.q_ln.forward(&self.q1.forward(&x)).relu());
        q.squeeze_dim(-1).transpose(0, 1)
    }
}
