//! The BNE stop rules (docs/method.md, step 8): after each refinement round,
//! stop when the commitment repeats, the commitments oscillate, or the
//! executors' actions barely moved; at test, before refining, also when the
//! executors all gave the commitment's answer.
//!
//! "The same commitment" means the same *answer*, as the answer-parser plugin
//! judges equivalence (18 and 18.0 are one answer, 18 and 19 are two); only a
//! commitment without a parsed answer falls back to its text, or to its
//! embedding's cosine (`bne.commitment_match_threshold`). The reference
//! compared embeddings of `\boxed{v}` strings, where 18 and 19 can look alike.

use serde::{Deserialize, Serialize};

use crate::nets::config::BneConfig;

/// Why a decision step's BNE rounds ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// Round budget used up (or none allowed: baseline mode).
    MaxRounds,
    /// The commitment's answer equals the previous round's.
    CommitmentUnchanged,
    /// The commitment went back to the answer of two rounds before.
    Oscillation,
    /// The refined actions moved less than bne.convergence_threshold
    /// (‖e^k − e^{k−1}‖_F): checked before the round (`bne.action_delta_check =
    /// "before"`), round k was not run; checked after it, it was.
    ActionDelta,
    /// The RefineModule proposed a move of at least the threshold, but the
    /// agents' critics kept their previous actions (`bne.critic_veto`), so
    /// round k was not run. Not a convergence.
    CriticVeto,
    /// Every executor of the last round gave the commitment's answer
    /// (`bne.unanimous_stop`, test only): no refinement round was run.
    Unanimous,
}

impl StopReason {
    /// Converged (as opposed to stopped by the budget or an oscillation).
    pub fn converged(self) -> bool {
        matches!(
            self,
            StopReason::CommitmentUnchanged | StopReason::ActionDelta | StopReason::Unanimous
        )
    }
}

/// Texts equal up to case and whitespace (and not empty).
pub fn same_text(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    let (a, b) = (norm(a), norm(b));
    !a.is_empty() && a == b
}

/// Decide after the last of `rounds` rounds (round 0 included, so
/// `rounds >= 2`). `same(i, j)` says whether rounds i and j committed to the
/// same answer. Rules in the reference's order: commitment unchanged, then
/// oscillation. The oscillation rule (A, B, A: back to the answer of two
/// rounds before) needs `max(3, bne.oscillation_min_history)` rounds, so
/// with the paper's K = 3 refinements it can fire; the reference's
/// four-round pattern with a minimum history of 5 never could.
pub fn stop_after_round(
    rounds: usize,
    same: impl Fn(usize, usize) -> bool,
    cfg: &BneConfig,
) -> Option<StopReason> {
    if rounds < 2 {
        return None;
    }
    let last = rounds - 1;
    if same(last, last - 1) {
        return Some(StopReason::CommitmentUnchanged);
    }
    if cfg.detect_oscillation
        && rounds >= cfg.oscillation_min_history.max(3)
        && same(last, last - 2)
    {
        return Some(StopReason::Oscillation);
    }
    None
}

/// Whether refined actions that moved by `delta` = ‖e^k − e^{k−1}‖_F have
/// settled (`bne.convergence_threshold`; ≤ 0 disables the rule). With
/// `bne.action_delta_check = "before"` (test only) it is checked before
/// round k is run: a round whose actions did not move would only resample
/// the last one, and its commitment would replace a converged one by chance;
/// with "after" (the reference) round k runs, then the rule stops.
pub fn actions_settled(delta: f64, cfg: &BneConfig) -> bool {
    cfg.convergence_threshold > 0.0 && delta < cfg.convergence_threshold
}

/// Whether the action-delta rule is checked before a round runs.
pub fn check_before(cfg: &BneConfig) -> bool {
    cfg.action_delta_check == "before"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> BneConfig {
        crate::nets::config::NetsConfig::default().bne
    }

    /// Sameness of answers given as letters.
    fn by(answers: &'static str) -> impl Fn(usize, usize) -> bool {
        move |i, j| answers.as_bytes()[i] == answers.as_bytes()[j]
    }

    #[test]
    fn same_answer_stops_before_anything_else() {
        assert_eq!(
            stop_after_round(2, by("AA"), &cfg()),
            Some(StopReason::CommitmentUnchanged)
        );
        assert!(same_text("\\boxed{18}", " \\Boxed{18} "));
        assert!(!same_text("", " "));
    }

    #[test]
    fn a_different_answer_goes_on() {
        // 18 -> 19 is a change, however alike the texts or embeddings look.
        assert_eq!(stop_after_round(2, by("AB"), &cfg()), None);
    }

    #[test]
    fn small_action_delta_settles_and_large_does_not() {
        let c = cfg();
        assert!(actions_settled(c.convergence_threshold / 2.0, &c));
        assert!(!actions_settled(1.0, &c));
        let mut off = c.clone();
        off.convergence_threshold = 0.0;
        assert!(!actions_settled(0.0, &off));
    }

    #[test]
    fn returning_to_an_earlier_answer_is_an_oscillation_within_k_3() {
        // Rounds 0, 1, 2 (two refinements): A, B, A.
        assert_eq!(
            stop_after_round(3, by("ABA"), &cfg()),
            Some(StopReason::Oscillation)
        );
        assert_eq!(
            stop_after_round(4, by("CABA"), &cfg()),
            Some(StopReason::Oscillation)
        );
        assert_eq!(stop_after_round(3, by("ABC"), &cfg()), None);
        let mut off = cfg();
        off.detect_oscillation = false;
        assert_eq!(stop_after_round(3, by("ABA"), &off), None);
        let mut longer = cfg();
        longer.oscillation_min_history = 4;
        assert_eq!(stop_after_round(3, by("ABA"), &longer), None);
    }
}
