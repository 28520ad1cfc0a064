//! BeliefEncoder (shared): the n beliefs -> group representation E
//! (docs/method.md).
//!
//! (B, N, d_b) → multi-head self-attention over agents → LN(b + attn) →
//! FFN d_b → feedforward_size → d_b (ReLU) → LN(residual) → mean over agents →
//! Linear(d_b, d_b) = E (B, d_b). Permutation-invariant and independent of N.

use tch::{Tensor, nn, nn::Module};

use super::config::NetsConfig;
use super::layers::SelfAttention;

#[derive(Debug)]
pub struct BeliefEncoder {
    attn: SelfAttention,
    ln1: nn::LayerNorm,
    ff1: nn::Linear,
    ff2: nn::Linear,
    ln2: nn::LayerNorm,
    out: nn::Linear,
    dropout: f64,
}

impl BeliefEncoder {
    pub fn new(p: nn::Path, cfg: &NetsConfig) -> Self {
        let d = cfg.belief_dim as i64;
        let ff = cfg.arch.feedforward_size as i64;
        BeliefEncoder {
            attn: SelfAttention::new(&p / "attn", d, cfg.arch.attention_heads as i64),
            ln1: nn::layer_norm(&p / "ln1", vec![d], Default::default()),
            ff1: nn::linear(&p / "ff1", d, ff, Default::default()),
            ff2: nn::linear(&p / "ff2", ff, d, Default::default()),
            ln2: nn::layer_norm(&p / "ln2", vec![d], Default::default()),
            out: nn::linear(&p / "out", d, d, Default::default()),
            dropout: cfg.arch.dropout_rate,
        }
    }

    /// beliefs (B, N, d_b) -> E (B, d_b).
    pub fn forward_t(&self, beliefs: &Tensor, train: bool) -> Tensor {
        let a = self.attn.forward(beliefs).dropout(self.dropout, train);
        let x = self.ln1.forward(&(beliefs + a));
        let f = x
            .apply(&self.ff1)
            .relu()
            .dropout(self.dropout, train)
            .apply(&self.ff2);
        let x = self.ln2.forward(&(x + f));
        x.mean_dim(1, false, x.kind()).apply(&self.out)
    }
}
