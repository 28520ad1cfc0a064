//! Adam over parameter groups, with an inspectable, checkpointable state.
//!
//! tch's optimiser wrapper does not expose its moment buffers, so a checkpoint could
//! not restore it; this one keeps m, v and the step count as named tensors.
//! Each group (one learning rate, one weight decay, one gradient clip) keeps its
//! parameters in one flat buffer: the variables become views into it, so an update is
//! a handful of large ops instead of a handful per parameter tensor.
//! Update (as torch.optim.Adam with L2 weight decay): g ← g + wd·θ;
//! m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²; θ ← θ − lr·m̂/(√v̂ + ε).
//! A group without any gradient this step keeps its state and step count (torch
//! skips parameters whose grad is None).

use std::collections::HashMap;

use anyhow::{Result, bail};
use tch::{Kind, Tensor};

#[derive(Debug)]
struct Param {
    name: String,
    offset: i64,
    shape: Vec<i64>,
}

#[derive(Debug)]
pub struct Group {
    pub name: String,
    pub lr: f64,
    pub weight_decay: f64,
    params: Vec<Param>,
    flat: Tensor,
    m: Tensor,
    v: Tensor,
    denom: Tensor,
    step: i64,
}

impl Group {
    fn numel(p: &Param) -> i64 {
        p.shape.iter().product()
    }

    fn view(&self, t: &Tensor, p: &Param) -> Tensor {
        t.narrow(0, p.offset, Self::numel(p))
            .view(p.shape.as_slice())
    }

    /// Flattens per-parameter gradients (same order as the parameters; None or
    /// undefined = zeros) into one vector; None when no parameter had one.
    pub fn flat_grad(&self, grads: &[Option<Tensor>]) -> Option<Tensor> {
        assert_eq!(grads.len(), self.params.len());
        if grads
            .iter()
            .all(|g| g.as_ref().is_none_or(|g| !g.defined()))
        {
            return None;
        }
        let parts: Vec<Tensor> = grads
            .iter()
            .zip(&self.params)
            .map(|(g, p)| match g {
                Some(g) if g.defined() => g.reshape([-1]),
                _ => Tensor::zeros([Self::numel(p)], (Kind::Float, self.flat.device())),
            })
            .collect();
        Some(Tensor::cat(&parts, 0))
    }

    pub fn param_names(&self) -> impl Iterator<Item = &str> {
        self.params.iter().map(|p| p.name.as_str())
    }

    pub fn steps(&self) -> i64 {
        self.step
    }
}

#[derive(Debug)]
pub struct Adam {
    pub groups: Vec<Group>,
    beta1: f64,
    beta2: f64,
    eps: f64,
}

/// One parameter group: name, learning rate, weight decay, named variables.
pub type ParamGroup = (String, f64, f64, Vec<(String, Tensor)>);

impl Adam {
    /// `groups`: (group name, learning rate, weight decay, [(parameter name, variable)]).
    /// The variables' data move into the group's flat buffer (they stay the same
    /// autograd leaves, and the VarStore still sees them).
    pub fn new(groups: Vec<ParamGroup>) -> Self {
        let groups = groups
            .into_iter()
            .filter(|(_, _, _, vars)| !vars.is_empty())
            .map(|(name, lr, weight_decay, vars)| {
                let flat = Tensor::cat(
                    &vars
                        .iter()
                        .map(|(_, v)| v.detach().reshape([-1]))
                        .collect::<Vec<_>>(),
                    0,
                );
                let mut params = Vec::with_capacity(vars.len());
                let mut offset = 0;
                for (pname, mut var) in vars {
                    let shape = var.size();
                    let numel: i64 = shape.iter().product();
                    tch::no_grad(|| {
                        var.set_data(&flat.narrow(0, offset, numel).view(shape.as_slice()))
                    });
                    params.push(Param {
                        name: pname,
                        offset,
                        shape,
                    });
                    offset += numel;
                }
                Group {
                    m: flat.zeros_like(),
                    v: flat.zeros_like(),
                    denom: flat.zeros_like(),
                    flat,
                    name,
                    lr,
                    weight_decay,
                    params,
                    step: 0,
                }
            })
            .collect();
        Adam {
            groups,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }

    /// One step of group `g` with its flat gradient (consumed: it is scaled in place).
    /// In-place ops on preallocated buffers only: a step is ~10 passes over the group.
    pub fn step_group(&mut self, g: usize, mut grad: Tensor) {
        let (b1, b2, eps) = (self.beta1, self.beta2, self.eps);
        let group = &mut self.groups[g];
        if group.lr == 0.0 {
            return;
        }
        group.step += 1;
        let t = group.step as i32;
        let bc1 = 1.0 - b1.powi(t);
        let bc2 = 1.0 - b2.powi(t);
        tch::no_grad(|| -> Result<(), tch::TchError> {
            if group.weight_decay != 0.0 {
                let wd = Tensor::from(group.weight_decay as f32).to_device(grad.device());
                let _ = grad.f_addcmul_(&group.flat, &wd)?;
            }
            let _ = group.m.f_lerp_(&grad, 1.0 - b1)?;
            let _ = grad.f_mul_scalar_((1.0 - b2).sqrt())?;
            let _ = group.v.f_mul_scalar_(b2)?;
            let _ = group.v.f_addcmul_(&grad, &grad)?;
            // denom = (√v / √bc2 + ε) · (−bc1 / lr), so θ += m / denom is Adam's step.
            let denom = &mut group.denom;
            let _ = group.v.f_sqrt_out(denom)?;
            let _ = denom.f_mul_scalar_(1.0 / bc2.sqrt())?;
            let _ = denom.f_add_scalar_(eps)?;
            let _ = denom.f_mul_scalar_(-bc1 / group.lr)?;
            let _ = group.flat.f_addcdiv_(&group.m, denom)?;
            Ok(())
        })
        .expect("Adam step");
    }

    /// The state as named tensors: `<prefix>.m.<param>`, `<prefix>.v.<param>` and
    /// `<prefix>.step.<group>` (int64 scalar).
    pub fn state(&self, prefix: &str) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        for g in &self.groups {
            for p in &g.params {
                out.push((format!("{prefix}.m.{}", p.name), g.view(&g.m, p)));
                out.push((format!("{prefix}.v.{}", p.name), g.view(&g.v, p)));
            }
            out.push((format!("{prefix}.step.{}", g.name), Tensor::from(g.step)));
        }
        out
    }

    /// Restores the state written by [`Adam::state`]; every entry must be present.
    pub fn load_state(&mut self, prefix: &str, tensors: &HashMap<String, Tensor>) -> Result<()> {
        for g in &mut self.groups {
            let get = |key: String| -> Result<&Tensor> {
                tensors
                    .get(&key)
                    .ok_or_else(|| anyhow::anyhow!("optimiser state {key} is missing"))
            };
            for p in &g.params {
                for (what, buf) in [("m", &g.m), ("v", &g.v)] {
                    let src = get(format!("{prefix}.{what}.{}", p.name))?;
                    if src.size() != p.shape {
                        bail!(
                            "optimiser state {prefix}.{what}.{} has shape {:?}, the network has {:?}",
                            p.name,
                            src.size(),
                            p.shape
                        );
                    }
                    tch::no_grad(|| {
                        let mut dst = g.view(buf, p);
                        dst.copy_(src)
                    });
                }
            }
            g.step = get(format!("{prefix}.step.{}", g.name))?
                .to_kind(Kind::Int64)
                .int64_value(&[]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, nn, nn::OptimizerConfig};

    /// Same trajectory as libtorch's own Adam (L2 weight decay), over a few steps.
    #[test]
    fn matches_torch_adam() {
        let x = Tensor::from_slice(&[0.5f32, -1.0, 2.0, 0.25]);
        let init = Tensor::from_slice(&[0.1f32, 0.2, -0.3, 0.4]);
        let loss = |w: &Tensor| (w * &x).sin().sum(Kind::Float) + w.square().sum(Kind::Float);

        let vs = nn::VarStore::new(Device::Cpu);
        let w_ref = vs.root().var_copy("w", &init);
        let mut reference = nn::adam(0.9, 0.999, 0.01).build(&vs, 0.05).unwrap();

        let mine_vs = nn::VarStore::new(Device::Cpu);
        let w = mine_vs.root().var_copy("w", &init);
        let mut mine = Adam::new(vec![(
            "g".into(),
            0.05,
            0.01,
            vec![("w".into(), w.shallow_clone())],
        )]);

        for _ in 0..6 {
            reference.backward_step(&loss(&w_ref));
            let g = Tensor::run_backward(&[loss(&w)], &[&w], false, false);
            let flat = mine.groups[0]
                .flat_grad(&[Some(g[0].shallow_clone())])
                .unwrap();
            mine.step_group(0, flat);
        }
        let diff = (&w - &w_ref).abs().max().double_value(&[]);
        assert!(diff < 1e-6, "max |Δ| = {diff}: {w} vs {w_ref}");
        assert_eq!(mine.groups[0].steps(), 6);
    }
}
