//! The BNE convergence guard (ECON-SPEC.md 7.3): after each refinement round,
//! stop when the commitment repeats, the commitments oscillate, or the
//! executors' actions barely moved.

use serde::{Deserialize, Serialize};

use crate::embed::cosine;
use crate::nets::config::BneConfig;

/// Why a decision step's BNE rounds ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// Round budget used up (or none allowed: baseline mode).
    MaxRounds,
    /// The commitment equals the previous round's (text or embedding).
    CommitmentUnchanged,
    /// The commitment alternates between two values.
    Oscillation,
    /// ‖e^k − e^{k−1}‖_F fell below bne.convergence_threshold.
    ActionDelta,
}

impl StopReason {
    /// Converged (as opposed to stopped by the budget or an oscillation).
    pub fn converged(self) -> bool {
        matches!(
            self,
            StopReason::CommitmentUnchanged | StopReason::ActionDelta
        )
    }
}

/// One round's commitment as the guard sees it.
pub struct Commitment<'a> {
    /// The commitment in canonical form (`\boxed{v}`, or the raw text when no
    /// answer was found).
    pub text: &'a str,
    pub embedding: &'a [f32],
}

fn same_text(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    let (a, b) = (norm(a), norm(b));
    !a.is_empty() && a == b
}

/// Decide after round k ≥ 1 (history holds rounds 0..=k) whose actions moved
/// by `delta` from round k − 1. Rules in the reference's order: commitment
/// unchanged, oscillation, action delta.
pub fn stop_after_round(
    history: &[Commitment<'_>],
    delta: f64,
    cfg: &BneConfig,
) -> Option<StopReason> {
    let k = history.len();
    if k >= 2 {
        let (prev, last) = (&history[k - 2], &history[k - 1]);
        if same_text(prev.text, last.text)
            || (!prev.embedding.is_empty()
                && f64::from(cosine(prev.embedding, last.embedding))
                    >= cfg.commitment_match_threshold)
        {
            return Some(StopReason::CommitmentUnchanged);
        }
    }
    if cfg.detect_oscillation && k >= cfg.oscillation_min_history.max(4) {
        let h = |i: usize| &history[k - i];
        let texts = same_text(h(1).text, h(3).text)
            && same_text(h(2).text, h(4).text)
            && !same_text(h(1).text, h(2).text);
        let tau = cfg.commitment_osc_threshold;
        let cos = |a: usize, b: usize| f64::from(cosine(h(a).embedding, h(b).embedding));
        let embeddings =
            !h(1).embedding.is_empty() && cos(1, 3) >= tau && cos(2, 4) >= tau && cos(1, 2) < tau;
        if texts || embeddings {
            return Some(StopReason::Oscillation);
        }
    }
    if cfg.convergence_threshold > 0.0 && delta < cfg.convergence_threshold {
        return Some(StopReason::ActionDelta);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> BneConfig {
        let mut c = crate::nets::config::NetsConfig::default().bne;
        c.oscillation_min_history = 4;
        c
    }

    fn commits<'a>(texts: &'a [&'a str], embs: &'a [Vec<f32>]) -> Vec<Commitment<'a>> {
        texts
            .iter()
            .zip(embs)
            .map(|(t, e)| Commitment {
                text: t,
                embedding: e,
            })
            .collect()
    }

    #[test]
    fn same_answer_stops_before_anything_else() {
        let e = vec![vec![1.0, 0.0], vec![0.0, 1.0]];
        let h = commits(&["\\boxed{18}", "\\Boxed{18} "], &e);
        assert_eq!(
            stop_after_round(&h, 0.0, &cfg()),
            Some(StopReason::CommitmentUnchanged)
        );
    }

    #[test]
    fn near_identical_embeddings_count_as_unchanged() {
        let e = vec![vec![1.0, 0.0], vec![1.0, 0.01]];
        let h = commits(&["\\boxed{18}", "\\boxed{19}"], &e);
        assert_eq!(
            stop_after_round(&h, 1.0, &cfg()),
            Some(StopReason::CommitmentUnchanged)
        );
    }

    #[test]
    fn small_action_delta_stops_and_large_does_not() {
        let e = vec![vec![1.0, 0.0], vec![0.0, 1.0]];
        let h = commits(&["\\boxed{1}", "\\boxed{2}"], &e);
        let c = cfg();
        assert_eq!(
            stop_after_round(&h, c.convergence_threshold / 2.0, &c),
            Some(StopReason::ActionDelta)
        );
        assert_eq!(stop_after_round(&h, 1.0, &c), None);
        let mut off = c.clone();
        off.convergence_threshold = 0.0;
        assert_eq!(stop_after_round(&h, 0.0, &off), None);
    }

    #[test]
    fn alternating_commitments_are_an_oscillation() {
        let a = vec![1.0, 0.0];
        let b = vec![0.0, 1.0];
        let e = vec![a.clone(), b.clone(), a, b];
        let h = commits(
            &["\\boxed{1}", "\\boxed{2}", "\\boxed{1}", "\\boxed{2}"],
            &e,
        );
        assert_eq!(
            stop_after_round(&h, 1.0, &cfg()),
            Some(StopReason::Oscillation)
        );
        let mut off = cfg();
        off.detect_oscillation = false;
        assert_eq!(stop_after_round(&h, 1.0, &off), None);
        // Three rounds are too short a history to call an oscillation.
        assert_eq!(stop_after_round(&h[1..], 1.0, &cfg()), None);
    }
}
