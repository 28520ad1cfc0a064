//! The ECON networks in tch: one BeliefNetwork per agent, the shared BeliefEncoder
//! and RefineModule, and the Mixer (docs/method.md).
//!
//! Shapes: B = batch, N = n_agents, d_b = belief_dim, d_c = commitment_embedding_dim.
//! - observation: (B, obs_dim) — the sentence embedding of question + strategy, the
//!   same for every agent — or (B, N, obs_dim) per agent;
//! - beliefs (B, N, d_b); group representation E (B, d_b);
//! - actions e (B, N, 2) = (temperature, repetition penalty), always within bounds;
//! - local values Q (B, N); Q_tot (B,).
//!
//! Variable names (checkpoints, per-component learning rates) start with
//! `belief.` (the n agents' networks, stacked: leading dimension n), `encoder.`,
//! `refine.` or `mixer.`.

pub mod action;
pub mod adam;
pub mod belief;
pub mod config;
pub mod encoder;
pub mod layers;
pub mod mixer;
pub mod obs_norm;
pub mod refine;

use tch::{Device, Kind, Tensor, nn};

pub use action::{Action, action_delta};
pub use belief::BeliefNetwork;
pub use config::NetsConfig;
pub use encoder::BeliefEncoder;
pub use mixer::{MixInput, MixOutput, Mixer};
pub use refine::RefineModule;

/// Action bounds as tensors: e = lo + span·σ(z).
#[derive(Debug)]
pub struct Bounds {
    lo: Tensor,
    hi: Tensor,
    span: Tensor,
}

impl Bounds {
    pub fn new(cfg: &NetsConfig, device: Device) -> Self {
        let s = &cfg.sampling;
        let lo = Tensor::from_slice(&[s.temperature_min as f32, s.p_min as f32]).to_device(device);
        let hi = Tensor::from_slice(&[s.temperature_max as f32, s.p_max as f32]).to_device(device);
        let span = &hi - &lo;
        Bounds { lo, hi, span }
    }

    /// Actions from pre-sigmoid logits (any shape ending in 2).
    pub fn from_logits(&self, z: &Tensor) -> Tensor {
        &self.lo + &self.span * z.sigmoid()
    }

    /// Actions rescaled to [0, 1] (network inputs).
    pub fn unit(&self, e: &Tensor) -> Tensor {
        (e - &self.lo) / &self.span
    }

    /// `e` with each agent's action replaced, with probability `p`, by one
    /// drawn uniformly within the bounds (ε-greedy exploration: unlike noise on
    /// the logits it still reaches the whole range when the sigmoid saturates).
    pub fn uniform_where(&self, e: &Tensor, p: f64) -> Tensor {
        let shape = e.size();
        let pick = Tensor::rand(&shape[..shape.len() - 1], (e.kind(), e.device()))
            .lt(p)
            .unsqueeze(-1);
        let uniform = &self.lo + &self.span * e.rand_like();
        uniform.where_self(&pick, e)
    }

    /// Out-of-place clamp into the bounds (keeps the autograd graph intact).
    pub fn clamp(&self, e: &Tensor) -> Tensor {
        e.maximum(&self.lo).minimum(&self.hi)
    }
}

/// The state after one BNE round (round 0 = the initial actions).
#[derive(Debug)]
pub struct RoundState {
    /// (B, N, d_b)
    pub beliefs: Tensor,
    /// E (B, d_b)
    pub group: Tensor,
    /// e (B, N, 2)
    pub actions: Tensor,
    /// Δe of this round before η and the clamp (None in round 0).
    pub delta: Option<Tensor>,
}

/// All networks of one ECON model (the learner holds two: online and target).
#[derive(Debug)]
pub struct Nets {
    /// Running standardisation of the observations (`observation_norm`).
    pub obs_norm: obs_norm::ObsNorm,
    /// The n agents' belief networks (independent weights, evaluated together).
    pub agents: BeliefNetwork,
    pub encoder: BeliefEncoder,
    pub refine: RefineModule,
    pub mixer: Mixer,
    pub bounds: Bounds,
    n_agents: usize,
    update_rate: f64,
    belief_update: bool,
    /// `mixer.input_gradient`: which mixer inputs keep their gradient.
    input_gradient: InputGradient,
}

/// Which of the mixer's inputs carry gradient back (`mixer.input_gradient`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum InputGradient {
    None,
    Group,
    All,
}

impl Nets {
    /// Builds every network under `p` (the config must be validated).
    pub fn new(p: &nn::Path, cfg: &NetsConfig) -> Self {
        Nets {
            obs_norm: obs_norm::ObsNorm::new(
                p / "obs_norm",
                cfg.observation_len() as i64,
                cfg.observation_norm,
            ),
            agents: BeliefNetwork::new(p / "belief", cfg),
            encoder: BeliefEncoder::new(p / "encoder", cfg),
            refine: RefineModule::new(p / "refine", cfg),
            mixer: Mixer::new(p / "mixer", cfg),
            bounds: Bounds::new(cfg, p.device()),
            n_agents: cfg.n_agents,
            update_rate: cfg.bne.update_rate,
            belief_update: cfg.bne.belief_update,
            input_gradient: match cfg.mixer.input_gradient.as_str() {
                "none" => InputGradient::None,
                "all" => InputGradient::All,
                _ => InputGradient::Group,
            },
        }
    }

    pub fn n_agents(&self) -> usize {
        self.n_agents
    }

    /// Whether BNE rounds recompute the beliefs from outputs and commitment.
    pub fn belief_update(&self) -> bool {
        self.belief_update
    }

    /// Beliefs (B, N, d_b) from the observation and, in rounds ≥ 1, the agents' last
    /// outputs (B, N, d_c) and the last commitment (B, d_c).
    pub fn beliefs(
        &self,
        obs: &Tensor,
        context: Option<(&Tensor, &Tensor)>,
        train: bool,
    ) -> Tensor {
        self.agents
            .beliefs(&self.obs_norm.apply(obs), context, train)
    }

    /// Pre-sigmoid action logits (B, N, 2).
    pub fn action_logits(&self, beliefs: &Tensor) -> Tensor {
        self.agents.action_logits(beliefs)
    }

    /// The agents' actions (B, N, 2); `noise_std` > 0 adds Gaussian exploration noise
    /// to the logits (training episodes only). Always within bounds.
    pub fn policy_actions(&self, beliefs: &Tensor, noise_std: f64) -> Tensor {
        let z = self.action_logits(beliefs);
        let z = if noise_std > 0.0 {
            &z + z.randn_like() * noise_std
        } else {
            z
        };
        self.bounds.from_logits(&z)
    }

    /// Local values Q_i(b_i, e_i) (B, N) for actions e (B, N, 2).
    pub fn q_values(&self, beliefs: &Tensor, actions: &Tensor) -> Tensor {
        self.agents.q_values(beliefs, &self.bounds.unit(actions))
    }

    /// Group representation E (B, d_b).
    pub fn group(&self, beliefs: &Tensor, train: bool) -> Tensor {
        self.encoder.forward_t(beliefs, train)
    }

    /// Round 0: beliefs, E and the initial actions.
    pub fn initial(&self, obs: &Tensor, train: bool, noise_std: f64) -> RoundState {
        let beliefs = self.beliefs(obs, None, train);
        let group = self.group(&beliefs, train);
        let actions = self.policy_actions(&beliefs, noise_std);
        RoundState {
            beliefs,
            group,
            actions,
            delta: None,
        }
    }

    /// The refine step of a BNE round for given beliefs and E:
    /// (e^k = clamp(e^{k−1} + η·Δe), Δe), Δe = Refine(b, u, c, E, e^{k−1}).
    pub fn refine_step(
        &self,
        beliefs: &Tensor,
        group: &Tensor,
        outputs: &Tensor,
        commitment: &Tensor,
        prev_actions: &Tensor,
        train: bool,
    ) -> (Tensor, Tensor) {
        let delta = self.refine.delta(
            beliefs,
            outputs,
            commitment,
            group,
            &self.bounds.unit(prev_actions),
            train,
        );
        let actions = self
            .bounds
            .clamp(&(prev_actions + &delta * self.update_rate));
        (actions, delta)
    }

    /// One BNE round k ≥ 1 from the previous round's state and its outputs
    /// (B, N, d_c) and commitment (B, d_c): (with `bne.belief_update`) new beliefs
    /// and E, then e^k = clamp(e^{k−1} + η·Refine(b, u, c, E, e^{k−1})).
    pub fn bne_round(
        &self,
        obs: &Tensor,
        prev: &RoundState,
        outputs: &Tensor,
        commitment: &Tensor,
        train: bool,
    ) -> RoundState {
        let (beliefs, group) = if self.belief_update {
            let b = self.beliefs(obs, Some((outputs, commitment)), train);
            let g = self.group(&b, train);
            (b, g)
        } else {
            (prev.beliefs.shallow_clone(), prev.group.shallow_clone())
        };
        let (actions, delta) =
            self.refine_step(&beliefs, &group, outputs, commitment, &prev.actions, train);
        RoundState {
            beliefs,
            group,
            actions,
            delta: Some(delta),
        }
    }

    /// Q_tot for beliefs (B, N, d_b), E (B, d_b), actions, output embeddings and
    /// commitment. By default (`mixer.input_gradient = "group"`) the actions
    /// reach Q_tot only through the local values Q_i: the mixer sees them
    /// detached, so an actor climbing Q_tot moves along ∂Q_tot/∂Q_i · ∂Q_i/∂e_i
    /// (≥ 0 times its own Q_i's slope) and not along the attention mixer's
    /// weights, which would reward shifting the mixing weight between agents
    /// rather than acting better. E keeps its gradient, so the BeliefEncoder
    /// learns from the team TD through the mixer's conditioning; the beliefs
    /// enter detached, so the mixer cannot reshape them to memorise rewards.
    pub fn q_tot(
        &self,
        beliefs: &Tensor,
        group: &Tensor,
        actions: &Tensor,
        outputs: &Tensor,
        commitment: &Tensor,
        train: bool,
    ) -> (Tensor, MixOutput) {
        let q = self.q_values(beliefs, actions);
        let unit = self.bounds.unit(actions);
        let keep = |t: &Tensor, kept: bool| if kept { t.shallow_clone() } else { t.detach() };
        let all = self.input_gradient == InputGradient::All;
        let mix = self.mixer.forward_t(
            &MixInput {
                q: &q,
                beliefs: &keep(beliefs, all),
                unit_actions: &keep(&unit, all),
                group: &keep(group, self.input_gradient != InputGradient::None),
                outputs,
                commitment,
            },
            train,
        );
        (q, mix)
    }
}

/// Parameter counts per network for a config: `belief_network` (one agent),
/// `belief_networks` (all n), `encoder`, `refine`, `mixer`, `total`.
pub fn param_counts(cfg: &NetsConfig) -> Vec<(&'static str, i64)> {
    let vs = nn::VarStore::new(Device::Cpu);
    let _nets = Nets::new(&vs.root(), cfg);
    let count = |prefix: &str| layers::count_params(&vs, prefix);
    let agents = count("belief.");
    vec![
        ("belief_network", agents / cfg.n_agents as i64),
        ("belief_networks", agents),
        ("encoder", count("encoder.")),
        ("refine", count("refine.")),
        ("mixer", count("mixer.")),
        ("total", count("")),
    ]
}

/// Float32 tensor of the given shape from a slice, on `device`.
pub(crate) fn tensor_from(data: &[f32], shape: &[i64], device: Device) -> Tensor {
    Tensor::from_slice(data)
        .view(shape)
        .to_kind(Kind::Float)
        .to_device(device)
}
