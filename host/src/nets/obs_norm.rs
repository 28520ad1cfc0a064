//! Observation normalisation: each observation value standardised by the
//! running mean and variance of the observations seen in training, then
//! clipped to ±5 (as RL libraries normalise observations).
//!
//! Sentence embeddings of prompts that share most of their words (every
//! strategy holds the same three steps) differ from one another in a few
//! small directions; standardising makes those as loud as the rest, so the
//! belief networks can read a short strategy's meaning beside a long
//! question's. The statistics are variables of the networks (saved with a
//! checkpoint), never trained.

use tch::{Kind, Tensor, nn};

/// Values beyond this many standard deviations are clipped.
const CLIP: f64 = 5.0;
/// Added to the variance (the statistics start at mean 0, variance 1).
const EPS: f64 = 1e-4;

/// Variables under this prefix are statistics, not parameters: no optimiser
/// steps them and target networks copy them exactly.
pub const PREFIX: &str = "obs_norm.";

#[derive(Debug)]
pub struct ObsNorm {
    mean: Tensor,
    var: Tensor,
    count: Tensor,
    enabled: bool,
}

impl ObsNorm {
    pub fn new(p: nn::Path, len: i64, enabled: bool) -> Self {
        let fixed = |name: &str, shape: &[i64], value: f64| {
            p.var(name, shape, nn::Init::Const(value))
                .set_requires_grad(false)
        };
        ObsNorm {
            mean: fixed("mean", &[len], 0.0),
            var: fixed("var", &[len], 1.0),
            count: fixed("count", &[1], 0.0),
            enabled,
        }
    }

    /// Observations (…, len) standardised and clipped; unchanged when off.
    pub fn apply(&self, obs: &Tensor) -> Tensor {
        if !self.enabled {
            return obs.shallow_clone();
        }
        ((obs - &self.mean) / (&self.var + EPS).sqrt()).clamp(-CLIP, CLIP)
    }

    /// Counts one observation (len,) into the running statistics (Welford).
    pub fn update(&mut self, obs: &Tensor) {
        if !self.enabled {
            return;
        }
        tch::no_grad(|| {
            let n = self.count.double_value(&[0]);
            let x = obs.to_kind(Kind::Float).to_device(self.mean.device());
            let delta = &x - &self.mean;
            let mean = &self.mean + &delta / (n + 1.0);
            // Running population variance: var_{n+1} = (n·var_n + δ·(x − mean_{n+1})) / (n + 1),
            // from the unit prior at n = 0 (so the first observation does not give 0).
            let var = if n == 0.0 {
                Tensor::ones_like(&self.var)
            } else {
                (&self.var * n + &delta * (&x - &mean)) / (n + 1.0)
            };
            self.mean.copy_(&mean);
            self.var.copy_(&var);
            let _ = self.count.fill_(n + 1.0);
        });
    }
}
