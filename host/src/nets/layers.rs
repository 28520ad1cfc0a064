//! Building blocks shared by the networks: multi-head self-attention and a
//! post-LN transformer block.

use tch::{Kind, Tensor, nn, nn::Module};

/// Multi-head self-attention over a short sequence (agents or input tokens).
#[derive(Debug)]
pub struct SelfAttention {
    qkv: nn::Linear,
    out: nn::Linear,
    heads: i64,
}

impl SelfAttention {
    pub fn new(p: nn::Path, dim: i64, heads: i64) -> Self {
        assert!(heads > 0 && dim % heads == 0, "dim {dim} not divisible by {heads} heads");
        SelfAttention {
            qkv: nn::linear(&p / "qkv", dim, 3 * dim, Default::default()),
            out: nn::linear(&p / "out", dim, dim, Default::default()),
            heads,
        }
    }

    /// x: (B, L, D) -> (B, L, D). No mask: every position sees every other.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let (b, l, d) = x.size3().expect("attention input is (B, L, D)");
        let hd = d / self.heads;
        let qkv = x.apply(&self.qkv).view([b, l, 3, self.heads, hd]).permute([2, 0, 3, 1, 4]);
        let (q, k, v) = (qkv.get(0), qkv.get(1), qkv.get(2));
        let att = (q.matmul(&k.transpose(-2, -1)) / (hd as f64).sqrt()).softmax(-1, Kind::Float);
        att.matmul(&v).transpose(1, 2).contiguous().view([b, l, d]).apply(&self.out)
    }
}

/// Post-LN transformer block: x = LN(x + MHA(x)); x = LN(x + FFN(x)).
#[derive(Debug)]
pub struct Block {
    attn: SelfAttention,
    ln1: nn::LayerNorm,
    ff1: nn::Linear,
    ff2: nn::Linear,
    ln2: nn::LayerNorm,
    dropout: f64,
}

impl Block {
    pub fn new(p: nn::Path, dim: i64, heads: i64, ff: i64, dropout: f64) -> Self {
        Block {
            attn: SelfAttention::new(&p / "attn", dim, heads),
            ln1: nn::layer_norm(&p / "ln1", vec![dim], Default::default()),
            ff1: nn::linear(&p / "ff1", dim, ff, Default::default()),
            ff2: nn::linear(&p / "ff2", ff, dim, Default::default()),
            ln2: nn::layer_norm(&p / "ln2", vec![dim], Default::default()),
            dropout,
        }
    }

    pub fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let a = self.attn.forward(x).dropout(self.dropout, train);
        let x = self.ln1.forward(&(x + a));
        let f = x
            .apply(&self.ff1)
            .relu()
            .dropout(self.dropout, train)
            .apply(&self.ff2)
            .dropout(self.dropout, train);
        self.ln2.forward(&(x + f))
    }
}

/// A linear layer whose weights start tiny and bias at zero (DDPG's actor output
/// init): actions start near the middle of their bounds, refine steps near zero.
pub fn small_linear(p: nn::Path, i: i64, o: i64) -> nn::Linear {
    let cfg = nn::LinearConfig {
        ws_init: nn::Init::Uniform { lo: -3e-3, up: 3e-3 },
        bs_init: Some(nn::Init::Const(0.0)),
        bias: true,
    };
    nn::linear(p, i, o, cfg)
}

/// Sum of the element counts of the variables whose names start with `prefix`.
pub fn count_params(vs: &nn::VarStore, prefix: &str) -> i64 {
    vs.variables()
        .iter()
        .filter(|(name, _)| name.starts_with(prefix))
        .map(|(_, t)| t.numel() as i64)
        .sum()
}
