//! Phases (train, test) and modes (the ECON modes and the comparisons):
//! how many BNE rounds each may run and which seeds each draws.

use crate::config::Config;

/// BNE refinements after round 0 an episode of `mode` may run in `phase`.
pub fn refinements(bne: &crate::nets::config::BneConfig, phase: Phase, mode: Mode) -> usize {
    match (phase, mode) {
        (_, Mode::Bne) if !bne.enabled => 0,
        (Phase::Train, Mode::Bne) => bne.max_iterations_train,
        (Phase::Test, Mode::Bne) if bne.refine_at_infer => bne.max_iterations_infer,
        _ => 0,
    }
}

/// The seed stream of a phase and mode (`CallSite::stream`): training, and
/// each test mode, draw seeds of their own; with `llm.pair_econ_modes`
/// baseline and bne share theirs.
pub fn seed_stream(config: &Config, phase: Phase, mode: Mode) -> u64 {
    match (phase, mode) {
        (Phase::Train, _) => 1,
        (Phase::Test, Mode::Baseline | Mode::Bne) if config.llm.pair_econ_modes => 2,
        (Phase::Test, Mode::Baseline) => 3,
        (Phase::Test, Mode::Bne) => 4,
        (Phase::Test, Mode::Majority) => 5,
        (Phase::Test, Mode::Cot) => 6,
        (Phase::Test, Mode::Sc) => 7,
        (Phase::Test, Mode::Debate) => 8,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Train,
    Test,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Train => "train",
            Phase::Test => "test",
        }
    }
}

/// Baseline: round 0 only (the belief networks' first actions, no BNE
/// refinement). Bne: up to K refinement rounds with the convergence guard.
/// Majority: baseline's round 0 decided by the executors' parsed majority
/// instead of the coordinator's commitment (the control for what the
/// commitment adds). Cot, Sc, Debate: the comparison methods of
/// comparisons.rs (no coordinator, no networks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Baseline,
    Bne,
    Majority,
    Cot,
    Sc,
    Debate,
}

impl Mode {
    /// Every test mode, in the order `--mode all` runs them.
    pub const ALL: [Mode; 6] = [
        Mode::Baseline,
        Mode::Bne,
        Mode::Majority,
        Mode::Cot,
        Mode::Sc,
        Mode::Debate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Baseline => "baseline",
            Mode::Bne => "bne",
            Mode::Majority => "majority",
            Mode::Cot => "cot",
            Mode::Sc => "sc",
            Mode::Debate => "debate",
        }
    }

    /// The modes that run the belief networks (and need a checkpoint).
    pub fn is_econ(self) -> bool {
        matches!(self, Mode::Baseline | Mode::Bne | Mode::Majority)
    }

    /// Whether the coordinator commits (every ECON mode but majority).
    pub fn commits(self) -> bool {
        matches!(self, Mode::Baseline | Mode::Bne)
    }
}
