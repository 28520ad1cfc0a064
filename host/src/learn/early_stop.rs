//! Early stopping of training (README.md "Early stopping", with the reference's
//! "same commitment as the previous, different, question" replaced by the
//! episode's own BNE commitments settling).

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::config::EarlyStoppingConfig;

/// Why training stopped early, for logs and summary.json.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StopDecision {
    /// The episode after which training stopped.
    pub episode: u64,
    pub rule: String,
    pub reason: String,
}

pub struct EarlyStopper {
    cfg: EarlyStoppingConfig,
    /// Three-criterion: consecutive episodes all three held.
    streak: u64,
    /// Single metric: best value and episodes since it improved.
    best: Option<f64>,
    since_best: u64,
    /// Recent correctness (the "accuracy" metric's window).
    recent: VecDeque<bool>,
    /// loss_total of the last two learner updates.
    losses: (Option<f64>, Option<f64>),
}

impl EarlyStopper {
    pub fn new(cfg: &EarlyStoppingConfig) -> Self {
        EarlyStopper {
            cfg: cfg.clone(),
            streak: 0,
            best: None,
            since_best: 0,
            recent: VecDeque::new(),
            losses: (None, None),
        }
    }

    /// A learner update's loss_total.
    pub fn observe_loss(&mut self, loss_total: f64) {
        if loss_total.is_finite() {
            self.losses = (self.losses.1, Some(loss_total));
        }
    }

    /// One finished training episode; `Some` when training should stop after it.
    pub fn observe_episode(
        &mut self,
        episode: u64,
        reward: f64,
        correct: bool,
        commitment_cos: Option<f64>,
    ) -> Option<StopDecision> {
        self.recent.push_back(correct);
        while self.recent.len() as u64 > self.cfg.patience {
            self.recent.pop_front();
        }
        if !self.cfg.enabled || episode <= self.cfg.warmup {
            return None;
        }
        match self.cfg.three_criterion() {
            Some(thresholds) => self.three_criterion(episode, reward, commitment_cos, thresholds),
            None => self.single_metric(episode, reward),
        }
    }

    fn three_criterion(
        &mut self,
        episode: u64,
        reward: f64,
        commitment_cos: Option<f64>,
        (commitment_t, reward_t, loss_t): (f64, f64, f64),
    ) -> Option<StopDecision> {
        let settled = commitment_cos.is_some_and(|c| c >= commitment_t);
        let loss_delta = match self.losses {
            (Some(a), Some(b)) => Some((b - a).abs()),
            _ => None,
        };
        let holds = settled && reward >= reward_t && loss_delta.is_some_and(|d| d <= loss_t);
        self.streak = if holds { self.streak + 1 } else { 0 };
        (self.streak >= self.cfg.patience).then(|| StopDecision {
            episode,
            rule: "three-criterion".into(),
            reason: format!(
                "for {} episodes in a row the BNE commitments settled (cos >= {commitment_t}), \
                 reward >= {reward_t} and |delta loss_total| <= {loss_t} (last {:.3e})",
                self.streak,
                loss_delta.unwrap_or(0.0)
            ),
        })
    }

    fn single_metric(&mut self, episode: u64, reward: f64) -> Option<StopDecision> {
        let value = match self.cfg.metric.as_str() {
            "accuracy" => {
                self.recent.iter().filter(|&&c| c).count() as f64 / self.recent.len().max(1) as f64
            }
            _ => reward,
        };
        let sign = if self.cfg.mode == "min" { -1.0 } else { 1.0 };
        let improved = self
            .best
            .is_none_or(|best| sign * (value - best) > self.cfg.min_delta);
        if improved {
            self.best = Some(value);
            self.since_best = 0;
            return None;
        }
        self.since_best += 1;
        (self.since_best >= self.cfg.patience).then(|| StopDecision {
            episode,
            rule: self.cfg.metric.clone(),
            reason: format!(
                "{} did not improve on its best {:.4} ({}) by more than {} for {} episodes",
                self.cfg.metric,
                self.best.unwrap_or(value),
                self.cfg.mode,
                self.cfg.min_delta,
                self.since_best
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> EarlyStoppingConfig {
        EarlyStoppingConfig {
            enabled: true,
            warmup: 2,
            patience: 3,
            ..Default::default()
        }
    }

    #[test]
    fn disabled_never_stops() {
        let mut s = EarlyStopper::new(&EarlyStoppingConfig::default());
        for k in 1..100 {
            assert_eq!(s.observe_episode(k, 0.0, false, None), None);
        }
    }

    #[test]
    fn single_metric_stops_after_patience_without_improvement() {
        let mut s = EarlyStopper::new(&cfg());
        // Warm-up episodes never count.
        assert_eq!(s.observe_episode(1, 9.0, true, None), None);
        assert_eq!(s.observe_episode(2, 9.0, true, None), None);
        assert_eq!(s.observe_episode(3, 0.5, true, None), None); // first best
        assert_eq!(s.observe_episode(4, 0.6, true, None), None); // improves
        assert_eq!(s.observe_episode(5, 0.6, true, None), None);
        assert_eq!(s.observe_episode(6, 0.1, true, None), None);
        let stop = s.observe_episode(7, 0.55, true, None).expect("stops");
        assert_eq!(stop.episode, 7);
        assert_eq!(stop.rule, "reward_mean");
    }

    #[test]
    fn three_criterion_needs_all_three_in_a_row() {
        let mut c = cfg();
        c.commitment_threshold = Some(0.99);
        c.reward_threshold = Some(0.5);
        c.loss_threshold = Some(0.01);
        let mut s = EarlyStopper::new(&c);
        s.observe_loss(1.0);
        s.observe_loss(1.005);
        assert_eq!(s.observe_episode(3, 0.9, true, Some(1.0)), None);
        assert_eq!(s.observe_episode(4, 0.9, true, Some(1.0)), None);
        // Reward drops: the streak restarts.
        assert_eq!(s.observe_episode(5, 0.1, true, Some(1.0)), None);
        assert_eq!(s.observe_episode(6, 0.9, true, Some(1.0)), None);
        assert_eq!(s.observe_episode(7, 0.9, true, Some(1.0)), None);
        // The loss jumps: no stop until it settles again.
        s.observe_loss(2.0);
        assert_eq!(s.observe_episode(8, 0.9, true, Some(1.0)), None);
        s.observe_loss(2.001);
        assert_eq!(s.observe_episode(9, 0.9, true, None), None); // one round: unsettled
        assert_eq!(s.observe_episode(10, 0.9, true, Some(1.0)), None);
        assert_eq!(s.observe_episode(11, 0.9, true, Some(1.0)), None);
        let stop = s
            .observe_episode(12, 0.9, true, Some(0.995))
            .expect("stops");
        assert_eq!(stop.rule, "three-criterion");
    }
}
