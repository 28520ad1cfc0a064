//! The reward weights alpha = (AL, TS, CC).

/// ECON's initial weights (`env_args.reward.initial_weights`).
pub const INITIAL: Weights = Weights {
    al: 0.4,
    ts: 0.4,
    cc: 0.2,
};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Weights {
    pub al: f64,
    pub ts: f64,
    pub cc: f64,
}

impl Weights {
    /// Scaled to sum to 1, as ECON renormalises the learner's alpha.
    ///
    /// Weights that cannot be a mixture (a NaN or infinity, a negative entry,
    /// or a sum <= 0) fall back to [`INITIAL`]: the learner's softmax never
    /// produces them, so they mean a broken config, and a total outside
    /// the range of its terms would be worse than ECON's defaults.
    pub fn normalised(al: f32, ts: f32, cc: f32) -> Weights {
        let w = [al, ts, cc].map(f64::from);
        let sum: f64 = w.iter().sum();
        let valid = w.iter().all(|x| x.is_finite() && *x >= 0.0) && sum > 0.0 && sum.is_finite();
        if !valid {
            return INITIAL;
        }
        Weights {
            al: w[0] / sum,
            ts: w[1] / sum,
            cc: w[2] / sum,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Weights, b: Weights) -> bool {
        (a.al - b.al).abs() < 1e-9 && (a.ts - b.ts).abs() < 1e-9 && (a.cc - b.cc).abs() < 1e-9
    }

    #[test]
    fn renormalises_to_one() {
        assert!(close(Weights::normalised(2.0, 2.0, 1.0), INITIAL));
        let w = Weights::normalised(1.0, 1.0, 2.0);
        assert!(close(
            w,
            Weights {
                al: 0.25,
                ts: 0.25,
                cc: 0.5
            }
        ));
        assert!(close(
            Weights::normalised(0.0, 3.0, 0.0),
            Weights {
                al: 0.0,
                ts: 1.0,
                cc: 0.0
            }
        ));
        // Summed in f64, so huge f32 weights do not overflow to infinity.
        let third = 1.0 / 3.0;
        let w = Weights::normalised(f32::MAX, f32::MAX, f32::MAX);
        assert!(close(
            w,
            Weights {
                al: third,
                ts: third,
                cc: third
            }
        ));
    }

    #[test]
    fn broken_weights_fall_back_to_econ_initial() {
        for (al, ts, cc) in [
            (0.0, 0.0, 0.0),
            (f32::NAN, 1.0, 1.0),
            (f32::INFINITY, 1.0, 1.0),
            (-1.0, 1.0, 1.0),
            (-0.5, -0.5, 0.0),
        ] {
            assert_eq!(Weights::normalised(al, ts, cc), INITIAL, "{al} {ts} {cc}");
        }
    }
}
