//! BeliefNetwork: one per agent, no weight sharing (ECON-SPEC.md section 4, with the
//! observation changed to sentence embeddings, DESIGN.md).
//!
//! Input: three "tokens" — the observation (embedding of question + strategy), the
//! agent's own last output embedding and the last commitment embedding (zeros in
//! round 0) — each linearly projected to `entity_dim` plus a learned type embedding,
//! then `transformer_blocks` post-LN blocks with `attention_heads` heads, mean pool,
//! Linear → LN → ReLU → Linear = belief b_i.
//!
//! Heads:
//! - action: b_i → Linear → ReLU → Linear → 2 logits z; e_i = lo + (hi − lo)·σ(z + ε),
//!   ε ~ N(0, σ²) only while exploring (training episodes), so e_i is always inside
//!   its bounds; the last layer starts tiny, so every agent starts mid-range;
//! - local value: Q_i(b_i, e_i) = Linear → LN → ReLU → Linear of [b_i, ReLU(Linear(ê_i))],
//!   where ê_i is e_i rescaled to [0, 1] (the reference's Q_i ignores e_i, which leaves
//!   the actions nothing to climb; the action embedding lets Q_i bend in e_i quickly).
//!
//! Parameters under `<path>/action` are the actor's; the rest is critic / trunk (see
//! learner.rs).

use tch::{Tensor, nn, nn::Module};

use super::config::NetsConfig;
use super::layers::{Block, small_linear};

#[derive(Debug)]
pub struct BeliefNetwork {
    proj_obs: nn::Linear,
    proj_output: nn::Linear,
    proj_commitment: nn::Linear,
    token_type: Tensor,
    blocks: Vec<Block>,
    head1: nn::Linear,
    head_ln: nn::LayerNorm,
    head2: nn::Linear,
    act1: nn::Linear,
    act2: nn::Linear,
    q_action: nn::Linear,
    q1: nn::Linear,
    q_ln: nn::LayerNorm,
    q2: nn::Linear,
    dropout: f64,
    obs_dim: i64,
    ctx_dim: i64,
}

impl BeliefNetwork {
    pub fn new(p: nn::Path, cfg: &NetsConfig) -> Self {
        let h = cfg.arch.entity_dim as i64;
        let db = cfg.belief_dim as i64;
        let dc = cfg.commitment_embedding_dim as i64;
        let obs = cfg.obs_dim as i64;
        let mlp = cfg.arch.mlp_hidden_size as i64;
        let trunk = &p / "trunk";
        let blocks = (0..cfg.arch.transformer_blocks)
            .map(|i| {
                Block::new(
                    &trunk / format!("block{i}"),
                    h,
                    cfg.arch.attention_heads as i64,
                    4 * h,
                    cfg.arch.dropout_rate,
                )
            })
            .collect();
        let action = &p / "action";
        let q = &p / "q";
        BeliefNetwork {
            proj_obs: nn::linear(&trunk / "proj_obs", obs, h, Default::default()),
            proj_output: nn::linear(&trunk / "proj_output", dc, h, Default::default()),
            proj_commitment: nn::linear(&trunk / "proj_commitment", dc, h, Default::default()),
            token_type: trunk.var("token_type", &[3, h], nn::Init::Randn { mean: 0.0, stdev: 0.02 }),
            blocks,
            head1: nn::linear(&trunk / "head1", h, h, Default::default()),
            head_ln: nn::layer_norm(&trunk / "head_ln", vec![h], Default::default()),
            head2: nn::linear(&trunk / "head2", h, db, Default::default()),
            act1: nn::linear(&action / "l1", db, mlp, Default::default()),
            act2: small_linear(&action / "l2", mlp, 2),
            q_action: nn::linear(&q / "action_embed", 2, h, Default::default()),
            q1: nn::linear(&q / "l1", db + h, h, Default::default()),
            q_ln: nn::layer_norm(&q / "ln", vec![h], Default::default()),
            q2: nn::linear(&q / "l2", h, 1, Default::default()),
            dropout: cfg.arch.dropout_rate,
            obs_dim: obs,
            ctx_dim: dc,
        }
    }

    /// Belief b_i: obs (B, obs_dim); own last output and commitment (B, d_c) or None
    /// (round 0: zeros). Returns (B, belief_dim).
    pub fn belief(
        &self,
        obs: &Tensor,
        own_output: Option<&Tensor>,
        commitment: Option<&Tensor>,
        train: bool,
    ) -> Tensor {
        let b = obs.size()[0];
        debug_assert_eq!(obs.size()[1], self.obs_dim);
        let zeros = || Tensor::zeros([b, self.ctx_dim], (obs.kind(), obs.device()));
        let out = own_output.map_or_else(zeros, |t| t.shallow_clone());
        let com = commitment.map_or_else(zeros, |t| t.shallow_clone());
        let tokens = Tensor::stack(
            &[
                obs.apply(&self.proj_obs),
                out.apply(&self.proj_output),
                com.apply(&self.proj_commitment),
            ],
            1,
        ) + &self.token_type;
        let mut x = tokens.dropout(self.dropout, train);
        for block in &self.blocks {
            x = block.forward_t(&x, train);
        }
        let pooled = x.mean_dim(1, false, x.kind());
        self.head_ln.forward(&pooled.apply(&self.head1)).relu().apply(&self.head2)
    }

    /// Pre-sigmoid action logits z (B, 2).
    pub fn action_logits(&self, belief: &Tensor) -> Tensor {
        belief.apply(&self.act1).relu().apply(&self.act2)
    }

    /// Local value Q_i(b_i, e_i): belief (B, d_b), unit-scaled action (B, 2) -> (B,).
    pub fn q_value(&self, belief: &Tensor, unit_action: &Tensor) -> Tensor {
        let a = unit_action.apply(&self.q_action).relu();
        let x = Tensor::cat(&[belief, &a], 1);
        self.q_ln.forward(&x.apply(&self.q1)).relu().apply(&self.q2).squeeze_dim(-1)
    }
}
