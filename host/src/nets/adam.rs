//! Adam with per-parameter learning rates and an inspectable, checkpointable state.
//!
//! tch's optimiser wrapper does not expose its moment buffers, so a checkpoint
//! could not restore it; this one keeps m, v and the step count as named tensors.
//! Update (as torch.optim.Adam, L2 weight decay): g ← g + wd·θ;
//! m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²; θ ← θ − lr·m̂/(√v̂ + ε).
//! A parameter without a gradient (unused this step) keeps its state and step count.

use std::collections::HashMap;

use anyhow::{Result, bail};
use tch::{Kind, Tensor};

#[derive(Debug)]
pub struct Slot {
    pub name: String,
    pub var: Tensor,
    pub lr: f64,
    pub weight_decay: f64,
    m: Tensor,
    v: Tensor,
    step: i64,
}

#[derive(Debug)]
pub struct Adam {
    pub slots: Vec<Slot>,
    beta1: f64,
    beta2: f64,
    eps: f64,
}

impl Adam {
    /// `params`: (name, variable, learning rate, weight decay).
    pub fn new(params: Vec<(String, Tensor, f64, f64)>) -> Self {
        let slots = params
            .into_iter()
            .map(|(name, var, lr, weight_decay)| Slot {
                m: var.zeros_like().detach(),
                v: var.zeros_like().detach(),
                name,
                var,
                lr,
                weight_decay,
                step: 0,
            })
            .collect();
        Adam { slots, beta1: 0.9, beta2: 0.999, eps: 1e-8 }
    }

    /// One step; `grads[i]` belongs to `slots[i]` (None or undefined = skip it).
    pub fn step(&mut self, grads: &[Option<Tensor>]) {
        assert_eq!(grads.len(), self.slots.len());
        let (b1, b2, eps) = (self.beta1, self.beta2, self.eps);
        tch::no_grad(|| {
            for (slot, grad) in self.slots.iter_mut().zip(grads) {
                let Some(g) = grad.as_ref().filter(|g| g.defined()) else { continue };
                slot.step += 1;
                let g = if slot.weight_decay != 0.0 {
                    g + &slot.var * slot.weight_decay
                } else {
                    g.shallow_clone()
                };
                let _ = slot.m.f_mul_scalar_(b1);
                let _ = slot.m.f_add_(&(&g * (1.0 - b1)));
                let _ = slot.v.f_mul_scalar_(b2);
                let _ = slot.v.f_add_(&(g.square() * (1.0 - b2)));
                let bc1 = 1.0 - b1.powi(slot.step as i32);
                let bc2 = 1.0 - b2.powi(slot.step as i32);
                let denom = (&slot.v / bc2).sqrt() + eps;
                let update = (&slot.m / bc1) / denom * slot.lr;
                let _ = slot.var.f_sub_(&update);
            }
        });
    }

    /// The state as named tensors: `<prefix>.m.<name>`, `<prefix>.v.<name>`,
    /// `<prefix>.step.<name>` (int64 scalar).
    pub fn state(&self, prefix: &str) -> Vec<(String, Tensor)> {
        let mut out = Vec::with_capacity(3 * self.slots.len());
        for s in &self.slots {
            out.push((format!("{prefix}.m.{}", s.name), s.m.shallow_clone()));
            out.push((format!("{prefix}.v.{}", s.name), s.v.shallow_clone()));
            out.push((format!("{prefix}.step.{}", s.name), Tensor::from(s.step)));
        }
        out
    }

    /// Restores the state written by [`Adam::state`]; every slot must be present.
    pub fn load_state(&mut self, prefix: &str, tensors: &HashMap<String, Tensor>) -> Result<()> {
        for s in &mut self.slots {
            let get = |what: &str| -> Result<&Tensor> {
                let key = format!("{prefix}.{what}.{}", s.name);
                tensors.get(&key).ok_or_else(|| anyhow::anyhow!("optimiser state {key} is missing"))
            };
            let (m, v, step) = (get("m")?, get("v")?, get("step")?);
            if m.size() != s.m.size() || v.size() != s.v.size() {
                bail!(
                    "optimiser state of {} has shape {:?}, the network has {:?}",
                    s.name,
                    m.size(),
                    s.m.size()
                );
            }
            tch::no_grad(|| {
                s.m.copy_(m);
                s.v.copy_(v);
            });
            s.step = step.to_kind(Kind::Int64).int64_value(&[]);
        }
        Ok(())
    }

    /// Step count of one slot (tests and metrics).
    pub fn steps(&self, index: usize) -> i64 {
        self.slots[index].step
    }
}
