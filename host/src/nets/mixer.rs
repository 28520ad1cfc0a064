//! Mixer: local values Q_i -> team value Q_tot, conditioned on the group
//! representation E. Two kinds (`mixer.kind`):
//!
//! **qmix** (default; the paper's mixer, docs/method.md): the agents' output
//! (prompt) embeddings are projected and passed through self-attention over agents,
//! F_i = MLP([x_i, g]) with g = ELU(Linear(E)). QMIX hypernetworks conditioned on
//! E make the mixing weights non-negative:
//!   W1_i = |hyper_w1([g, F_i])| (per agent, hypernet_embed wide), b1 = hyper_b1(g),
//!   h = ELU(Σ_i Q_i·W1_i + b1), W2 = |hyper_w2(g)|, V = hyper_v(g),
//!   Q_tot = h·W2 + V,
//! so ∂Q_tot/∂Q_i ≥ 0 for every i (monotonic: IGM). hyper_b1 and V start tiny, so
//! Q_tot starts near 0 (the scale of the rewards) instead of O(hypernet_embed). Since W1 comes per agent from a
//! shared hypernetwork, the parameter count does not depend on n.
//! Commitment alignment L_SD = mean_i (1 − cos(F_i, P_c·c))², P_c = Linear(d_c, h).
//! Q-consistency L_cons = mean_i (Q_i − Q_tot)² (weighted by lambda_m).
//!
//! **attention** (the reference code's mixer, docs/deviations.md):
//!   b̃_i = Lin(b_i), ẽ_i = Lin(ê_i), g = Lin(E); f_i = Lin([b̃_i, ẽ_i]);
//!   x_i = LN(MHA(f)_i + f_i); w = softmax_i(MLP([x_i, g])); m = Σ w_i x_i + g;
//!   Q_tot = MLP(m) + Σ w_i Q_i  (monotonic: w does not depend on Q);
//!   L_SD = l_align = 1 − cos(m, P_c·c); L_cons = (Q_tot − mean_i Q_i)².
//!
//! In both, P_c is registered at construction (the reference creates it lazily, so it
//! is outside every optimiser and breaks reloading) and stays fixed: a random
//! projection, saved with the checkpoint but never trained (trained together with
//! F_i, L_SD could be driven to zero by collapsing both sides).
//! Both compare Q_tot with the mean of the Q_i by default (the reference learner's
//! Σ_i Q_i with `mixer.consistency_target = "sum"`): every Q_i is trained towards the
//! same team reward, so the sum would fight the TD.
//!
//! **none**: no mixer, Q_tot = mean_i Q_i (independent learners: the rival with
//! no coordination, each actor climbing its own Q_i).

use tch::{Kind, Tensor, nn, nn::Module};

use super::config::{MixerKind, NetsConfig};
use super::layers::{SelfAttention, small_linear};

/// Inputs of one mixing: every tensor has batch size B and n agents.
pub struct MixInput<'a> {
    /// Local values (B, N).
    pub q: &'a Tensor,
    /// Beliefs (B, N, d_b).
    pub beliefs: &'a Tensor,
    /// Actions rescaled to [0, 1] (B, N, 2).
    pub unit_actions: &'a Tensor,
    /// Group representation E (B, d_b).
    pub group: &'a Tensor,
    /// Embeddings of the agents' outputs (B, N, d_c).
    pub outputs: &'a Tensor,
    /// Commitment embedding (B, d_c).
    pub commitment: &'a Tensor,
}

pub struct MixOutput {
    /// Q_tot (B,).
    pub q_tot: Tensor,
    /// Per-sample commitment-alignment term (B,); L_SD is its mean.
    pub align: Tensor,
}

#[derive(Debug)]
pub struct Mixer {
    kind: MixerKind,
    net: MixerNet,
    /// L_cons against the sum of the Q_i (the reference learner) instead of their mean.
    sum_target: bool,
}

#[derive(Debug)]
enum MixerNet {
    Qmix(QmixMixer),
    Attention(AttentionMixer),
    /// Independent learners: Q_tot = mean_i Q_i, no parameters.
    None,
}

impl Mixer {
    pub fn new(p: nn::Path, cfg: &NetsConfig) -> Self {
        let kind = cfg.mixer_kind().expect("config validated");
        let net = match kind {
            MixerKind::Qmix => MixerNet::Qmix(QmixMixer::new(p, cfg)),
            MixerKind::Attention => MixerNet::Attention(AttentionMixer::new(p, cfg)),
            MixerKind::None => MixerNet::None,
        };
        Mixer {
            kind,
            net,
            sum_target: cfg.mixer.consistency_target == "sum",
        }
    }

    pub fn kind(&self) -> MixerKind {
        self.kind
    }

    pub fn forward_t(&self, input: &MixInput, train: bool) -> MixOutput {
        match &self.net {
            MixerNet::Qmix(m) => m.forward_t(input, train),
            MixerNet::Attention(m) => m.forward_t(input, train),
            MixerNet::None => MixOutput {
                q_tot: input.q.mean_dim(1, false, Kind::Float),
                align: Tensor::zeros_like(&input.q.select(1, 0)),
            },
        }
    }

    /// Q-consistency per sample (B,) of local values (B, N) and Q_tot (B,);
    /// L_cons is its mean. QMIX pulls each Q_i towards Q_tot, the attention
    /// mixer Q_tot towards the mean (or, as the reference learner, the sum)
    /// of the Q_i; without a mixer there is nothing to keep consistent.
    pub fn consistency_rows(&self, q: &Tensor, q_tot: &Tensor) -> Tensor {
        let target = if self.sum_target {
            q.sum_dim_intlist(1, false, Kind::Float)
        } else {
            q.mean_dim(1, false, Kind::Float)
        };
        match &self.net {
            MixerNet::Qmix(_) if !self.sum_target => {
                (q - q_tot.unsqueeze(1))
                    .square()
                    .mean_dim(1, false, Kind::Float)
            }
            MixerNet::Qmix(_) | MixerNet::Attention(_) => (q_tot - target).square(),
            MixerNet::None => Tensor::zeros_like(q_tot),
        }
    }
}

/// The fixed commitment projection P_c: a torch-initialised linear layer
/// whose parameters take no gradient (the learner leaves `FROZEN` names out
/// of every optimiser).
fn frozen_linear(p: nn::Path, i: i64, o: i64) -> nn::Linear {
    let mut l = nn::linear(p, i, o, Default::default());
    l.ws = l.ws.set_requires_grad(false);
    if let Some(bs) = &l.bs {
        l.bs = Some(bs.set_requires_grad(false));
    }
    l
}

/// Variables that are never trained (name suffixes under `mixer.`).
pub const FROZEN: &str = "mixer.proj_commit.";

fn cosine(a: &Tensor, b: &Tensor) -> Tensor {
    Tensor::cosine_similarity(a, b, -1, 1e-8)
}

#[derive(Debug)]
pub struct QmixMixer {
    group: nn::Linear,
    prompt_in: nn::Linear,
    prompt_attn: SelfAttention,
    prompt_ln: nn::LayerNorm,
    feat1: nn::Linear,
    feat2: nn::Linear,
    w1a: nn::Linear,
    w1b: nn::Linear,
    b1: nn::Linear,
    w2a: nn::Linear,
    w2b: nn::Linear,
    va: nn::Linear,
    vb: nn::Linear,
    proj_commit: nn::Linear,
    dropout: f64,
}

impl QmixMixer {
    pub fn new(p: nn::Path, cfg: &NetsConfig) -> Self {
        let h = cfg.arch.mlp_hidden_size as i64;
        let db = cfg.belief_dim as i64;
        let dc = cfg.commitment_embedding_dim as i64;
        let k = cfg.mixer.hypernet_embed as i64;
        let lin = |name: &str, i: i64, o: i64| nn::linear(&p / name, i, o, Default::default());
        QmixMixer {
            group: lin("group", db, h),
            prompt_in: lin("prompt_in", dc, h),
            prompt_attn: SelfAttention::new(
                &p / "prompt_attn",
                h,
                cfg.mixer.attention_heads as i64,
            ),
            prompt_ln: nn::layer_norm(&p / "prompt_ln", vec![h], Default::default()),
            feat1: lin("feat1", 2 * h, h),
            feat2: lin("feat2", h, h),
            w1a: lin("hyper_w1a", 2 * h, h),
            w1b: lin("hyper_w1b", h, k),
            b1: small_linear(&p / "hyper_b1", h, k),
            w2a: lin("hyper_w2a", h, h),
            w2b: lin("hyper_w2b", h, k),
            va: lin("hyper_va", h, h),
            vb: small_linear(&p / "hyper_vb", h, 1),
            proj_commit: frozen_linear(&p / "proj_commit", dc, h),
            dropout: cfg.arch.dropout_rate,
        }
    }

    /// Prompt-embedding features F_i (B, N, h) and g (B, h).
    pub fn features(&self, input: &MixInput, train: bool) -> (Tensor, Tensor) {
        let (b, n) = input.q.size2().expect("q is (B, N)");
        // ELU, not ReLU: a large first update can silence every unit of a
        // ReLU here, and E (the BeliefEncoder) would never get gradient again.
        let g = input.group.apply(&self.group).elu();
        let x = input.outputs.apply(&self.prompt_in);
        let x = self
            .prompt_ln
            .forward(&(&x + self.prompt_attn.forward(&x).dropout(self.dropout, train)));
        let gx = g.unsqueeze(1).expand([b, n, -1], false);
        let f = Tensor::cat(&[&x, &gx], 2)
            .apply(&self.feat1)
            .relu()
            .apply(&self.feat2);
        (f, g)
    }

    pub fn forward_t(&self, input: &MixInput, train: bool) -> MixOutput {
        let (b, n) = input.q.size2().expect("q is (B, N)");
        let (f, g) = self.features(input, train);
        let gx = g.unsqueeze(1).expand([b, n, -1], false);
        let z = Tensor::cat(&[&gx, &f], 2);
        let w1 = z.apply(&self.w1a).relu().apply(&self.w1b).abs(); // (B, N, k)
        let b1 = g.apply(&self.b1); // (B, k)
        let hidden = (input.q.unsqueeze(1).matmul(&w1).squeeze_dim(1) + b1).elu(); // (B, k)
        let w2 = g.apply(&self.w2a).relu().apply(&self.w2b).abs(); // (B, k)
        let v = g.apply(&self.va).relu().apply(&self.vb).squeeze_dim(-1); // (B,)
        let q_tot = (hidden * w2).sum_dim_intlist(-1, false, Kind::Float) + v;
        let c = input
            .commitment
            .apply(&self.proj_commit)
            .unsqueeze(1)
            .expand([b, n, -1], false);
        let align = (-cosine(&f, &c) + 1.0)
            .square()
            .mean_dim(1, false, Kind::Float);
        MixOutput { q_tot, align }
    }
}

#[derive(Debug)]
pub struct AttentionMixer {
    belief: nn::Linear,
    action: nn::Linear,
    group: nn::Linear,
    fuse: nn::Linear,
    attn: SelfAttention,
    ln: nn::LayerNorm,
    w1: nn::Linear,
    w2: nn::Linear,
    out1: nn::Linear,
    out2: nn::Linear,
    proj_commit: nn::Linear,
    dropout: f64,
}

impl AttentionMixer {
    pub fn new(p: nn::Path, cfg: &NetsConfig) -> Self {
        let h = cfg.arch.mlp_hidden_size as i64;
        let db = cfg.belief_dim as i64;
        let dc = cfg.commitment_embedding_dim as i64;
        let lin = |name: &str, i: i64, o: i64| nn::linear(&p / name, i, o, Default::default());
        AttentionMixer {
            belief: lin("belief", db, h),
            action: lin("action", 2, h),
            group: lin("group", db, h),
            fuse: lin("fuse", 2 * h, h),
            attn: SelfAttention::new(&p / "attn", h, cfg.mixer.attention_heads as i64),
            ln: nn::layer_norm(&p / "ln", vec![h], Default::default()),
            w1: lin("weight1", 2 * h, h),
            w2: lin("weight2", h, 1),
            out1: lin("out1", h, h),
            out2: lin("out2", h, 1),
            proj_commit: frozen_linear(&p / "proj_commit", dc, h),
            dropout: cfg.arch.dropout_rate,
        }
    }

    pub fn forward_t(&self, input: &MixInput, train: bool) -> MixOutput {
        let (b, n) = input.q.size2().expect("q is (B, N)");
        let g = input.group.apply(&self.group);
        let f = Tensor::cat(
            &[
                input.beliefs.apply(&self.belief),
                input.unit_actions.apply(&self.action),
            ],
            2,
        )
        .apply(&self.fuse);
        let x = self
            .ln
            .forward(&(self.attn.forward(&f).dropout(self.dropout, train) + &f));
        let gx = g.unsqueeze(1).expand([b, n, -1], false);
        let w = Tensor::cat(&[&x, &gx], 2)
            .apply(&self.w1)
            .relu()
            .apply(&self.w2)
            .squeeze_dim(-1)
            .softmax(1, Kind::Float); // (B, N)
        let q_bar = (&w * input.q).sum_dim_intlist(1, false, Kind::Float);
        let m = (w.unsqueeze(-1) * &x).sum_dim_intlist(1, false, Kind::Float) + &g;
        let q_tot = m.apply(&self.out1).relu().apply(&self.out2).squeeze_dim(-1) + q_bar;
        let c = input.commitment.apply(&self.proj_commit);
        let align = -cosine(&m, &c) + 1.0;
        MixOutput { q_tot, align }
    }
}
