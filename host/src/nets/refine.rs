//! RefineModule (shared): the per-round BNE update of the sampling actions
//! (docs/method.md, step 7).
//!
//! x = [b_i, emb(u_i), emb(C), E, ê_i] → Linear(·, 256) → ReLU → LN → Dropout(bne.refine_dropout = 0.1)
//! → Linear(256, 128) → ReLU → Linear(128, 2) → tanh; Δe_i = refine_step_scale·tanh(·)
//! (0.3 in the reference); e_i ← clamp(e_i + η·Δe_i) into the bounds. The last layer
//! starts tiny (refine steps start near zero).
//!
//! Unlike the reference, the clamp is out of place (no in-place writes into a
//! tensor autograd needs), and the caller adopts the new e before any early-stop
//! check, so gradients reach this module (the reference's RefineModule never trains).

use tch::{Tensor, nn, nn::Module};

use super::config::NetsConfig;
use super::layers::small_linear;

#[derive(Debug)]
pub struct RefineModule {
    l1: nn::Linear,
    ln: nn::LayerNorm,
    l2: nn::Linear,
    l3: nn::Linear,
    step_scale: f64,
    dropout: f64,
}

impl RefineModule {
    pub fn new(p: nn::Path, cfg: &NetsConfig) -> Self {
        let db = cfg.belief_dim as i64;
        let dc = cfg.commitment_embedding_dim as i64;
        let input = db + 2 * dc + db + 2;
        RefineModule {
            l1: nn::linear(&p / "l1", input, 256, Default::default()),
            ln: nn::layer_norm(&p / "ln", vec![256], Default::default()),
            l2: nn::linear(&p / "l2", 256, 128, Default::default()),
            l3: small_linear(&p / "l3", 128, 2),
            step_scale: cfg.bne.refine_step_scale,
            dropout: cfg.bne.refine_dropout,
        }
    }

    /// Δe (B, N, 2) from beliefs (B, N, d_b), own last outputs (B, N, d_c), the last
    /// commitment (B, d_c), E (B, d_b) and the unit-scaled current actions (B, N, 2).
    pub fn delta(
        &self,
        beliefs: &Tensor,
        outputs: &Tensor,
        commitment: &Tensor,
        group: &Tensor,
        unit_actions: &Tensor,
        train: bool,
    ) -> Tensor {
        let (b, n, _) = beliefs.size3().expect("beliefs are (B, N, d_b)");
        let c = commitment.unsqueeze(1).expand([b, n, -1], false);
        let g = group.unsqueeze(1).expand([b, n, -1], false);
        let x = Tensor::cat(&[beliefs, outputs, &c, &g, unit_actions], 2);
        let h = self
            .ln
            .forward(&x.apply(&self.l1).relu())
            .dropout(self.dropout, train);
        h.apply(&self.l2).relu().apply(&self.l3).tanh() * self.step_scale
    }
}
