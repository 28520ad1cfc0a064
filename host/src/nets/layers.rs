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
        assert!(
            heads > 0 && dim % heads == 0,
            "dim {dim} not divisible by {heads} heads"
        );
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
        let qkv = x
            .apply(&self.qkv)
            .view([b, l, 3, self.heads, hd])
            .permute([2, 0, 3, 1, 4]);
        let (q, k, v) = (qkv.get(0), qkv.get(1), qkv.get(2));
        let att = (q.matmul(&k.transpose(-2, -1)) / (hd as f64).sqrt()).softmax(-1, Kind::Float);
        att.matmul(&v)
            .transpose(1, 2)
            .contiguous()
            .view([b, l, d])
            .apply(&self.out)
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
        ws_init: nn::Init::Uniform {
            lo: -3e-3,
            up: 3e-3,
        },
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

/// n independent linear layers applied at once: weight (n, in, out), bias (n, 1, out);
/// x (n, M, in) -> (n, M, out). Initialised like torch's Linear (U(±1/√in)).
#[derive(Debug)]
pub struct EnsembleLinear {
    pub weight: Tensor,
    pub bias: Tensor,
}

impl EnsembleLinear {
    pub fn new(p: nn::Path, n: i64, i: i64, o: i64) -> Self {
        let bound = 1.0 / (i as f64).sqrt();
        Self::with_init(
            p,
            n,
            i,
            o,
            nn::Init::Uniform {
                lo: -bound,
                up: bound,
            },
            nn::Init::Uniform {
                lo: -bound,
                up: bound,
            },
        )
    }

    /// Tiny weights and zero bias (see [`small_linear`]).
    pub fn small(p: nn::Path, n: i64, i: i64, o: i64) -> Self {
        Self::with_init(
            p,
            n,
            i,
            o,
            nn::Init::Uniform {
                lo: -3e-3,
                up: 3e-3,
            },
            nn::Init::Const(0.0),
        )
    }

    /// Tiny weights and a bias drawn from U(−spread, spread) for each of the
    /// n members: independent networks that start from visibly different
    /// outputs, each nearly constant in its input.
    pub fn spread(p: nn::Path, n: i64, i: i64, o: i64, spread: f64) -> Self {
        Self::with_init(
            p,
            n,
            i,
            o,
            nn::Init::Uniform {
                lo: -3e-3,
                up: 3e-3,
            },
            nn::Init::Uniform {
                lo: -spread,
                up: spread,
            },
        )
    }

    fn with_init(p: nn::Path, n: i64, i: i64, o: i64, w: nn::Init, b: nn::Init) -> Self {
        EnsembleLinear {
            weight: p.var("weight", &[n, i, o], w),
            bias: p.var("bias", &[n, 1, o], b),
        }
    }

    pub fn forward(&self, x: &Tensor) -> Tensor {
        self.bias.baddbmm(x, &self.weight, 1.0, 1.0)
    }
}

/// n independent LayerNorms over the last dimension: x (n, M, d).
#[derive(Debug)]
pub struct EnsembleLayerNorm {
    weight: Tensor,
    bias: Tensor,
    dim: i64,
}

impl EnsembleLayerNorm {
    pub fn new(p: nn::Path, n: i64, d: i64) -> Self {
        EnsembleLayerNorm {
            weight: p.var("weight", &[n, 1, d], nn::Init::Const(1.0)),
            bias: p.var("bias", &[n, 1, d], nn::Init::Const(0.0)),
            dim: d,
        }
    }

    pub fn forward(&self, x: &Tensor) -> Tensor {
        x.layer_norm([self.dim], None::<&Tensor>, None::<&Tensor>, 1e-5, false) * &self.weight
            + &self.bias
    }
}

/// n independent post-LN transformer blocks over sequences of length `len`:
/// x (n, M·len, d) -> (n, M·len, d).
#[derive(Debug)]
pub struct EnsembleBlock {
    qkv: EnsembleLinear,
    out: EnsembleLinear,
    ln1: EnsembleLayerNorm,
    ff1: EnsembleLinear,
    ff2: EnsembleLinear,
    ln2: EnsembleLayerNorm,
    heads: i64,
    dropout: f64,
}

impl EnsembleBlock {
    pub fn new(p: nn::Path, n: i64, d: i64, heads: i64, ff: i64, dropout: f64) -> Self {
        assert!(
            heads > 0 && d % heads == 0,
            "dim {d} not divisible by {heads} heads"
        );
        let attn = &p / "attn";
        EnsembleBlock {
            qkv: EnsembleLinear::new(&attn / "qkv", n, d, 3 * d),
            out: EnsembleLinear::new(&attn / "out", n, d, d),
            ln1: EnsembleLayerNorm::new(&p / "ln1", n, d),
            ff1: EnsembleLinear::new(&p / "ff1", n, d, ff),
            ff2: EnsembleLinear::new(&p / "ff2", n, ff, d),
            ln2: EnsembleLayerNorm::new(&p / "ln2", n, d),
            heads,
            dropout,
        }
    }

    fn attention(&self, x: &Tensor, len: i64) -> Tensor {
        let (n, ml, d) = x.size3().expect("(n, M·len, d)");
        let m = ml / len;
        let hd = d / self.heads;
        let qkv = self
            .qkv
            .forward(x)
            .view([n, m, len, 3, self.heads, hd])
            .permute([3, 0, 1, 4, 2, 5]);
        let (q, k, v) = (qkv.get(0), qkv.get(1), qkv.get(2)); // (n, m, heads, len, hd)
        let att = (q.matmul(&k.transpose(-2, -1)) / (hd as f64).sqrt()).softmax(-1, Kind::Float);
        let y = att.matmul(&v).permute([0, 1, 3, 2, 4]).reshape([n, ml, d]);
        self.out.forward(&y)
    }

    pub fn forward_t(&self, x: &Tensor, len: i64, train: bool) -> Tensor {
        let a = self.attention(x, len).dropout(self.dropout, train);
        let x = self.ln1.forward(&(x + a));
        let f = self
            .ff2
            .forward(&self.ff1.forward(&x).relu().dropout(self.dropout, train));
        self.ln2.forward(&(&x + f.dropout(self.dropout, train)))
    }
}
