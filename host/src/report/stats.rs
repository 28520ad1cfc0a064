//! The report's statistics: Wilson score intervals for accuracies and
//! McNemar's paired test between two modes on the same problems.

/// z for a two-sided 95% interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// Wilson score interval for `k` successes in `n` trials at normal quantile
/// `z` (Wilson 1927); (0, 1) when n = 0. Unlike the normal approximation it
/// stays within [0, 1] and is sensible at 0/n and n/n.
pub fn wilson(k: u64, n: u64, z: f64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let n = n as f64;
    let p = k as f64 / n;
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = z / denom * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// McNemar's test on the discordant pairs: `b` problems only the first mode
/// got right, `c` only the second.
#[derive(Clone, Debug, PartialEq)]
pub struct McNemar {
    pub b: u64,
    pub c: u64,
    /// "exact" (two-sided binomial, b + c < [`EXACT_BELOW`]) or "chi2" (with
    /// Edwards' continuity correction, 1 degree of freedom).
    pub method: &'static str,
    /// The chi-square statistic (none for the exact test).
    pub statistic: Option<f64>,
    pub p_value: f64,
}

/// Below this many discordant pairs the exact binomial test is used.
pub const EXACT_BELOW: u64 = 25;

pub fn mcnemar(b: u64, c: u64) -> McNemar {
    let n = b + c;
    if n < EXACT_BELOW {
        return McNemar {
            b,
            c,
            method: "exact",
            statistic: None,
            p_value: binomial_two_sided(b.min(c), n),
        };
    }
    let diff = (b as f64 - c as f64).abs() - 1.0;
    let x = diff.max(0.0).powi(2) / n as f64;
    McNemar {
        b,
        c,
        method: "chi2",
        statistic: Some(x),
        p_value: chi2_1_sf(x),
    }
}

/// Two-sided exact p-value of k ≤ n/2 successes of n at p = 1/2:
/// min(1, 2 · P(X ≤ k)); 1 when n = 0.
pub fn binomial_two_sided(k: u64, n: u64) -> f64 {
    if n == 0 {
        return 1.0;
    }
    let k = k.min(n - k);
    // Sum C(n, i) / 2^n in log space: exact enough for any n here.
    let mut log_c = 0.0f64; // ln C(n, 0)
    let ln2n = n as f64 * std::f64::consts::LN_2;
    let mut sum = 0.0;
    for i in 0..=k {
        if i > 0 {
            log_c += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        sum += (log_c - ln2n).exp();
    }
    (2.0 * sum).min(1.0)
}

/// P(X > x) for chi-square with one degree of freedom: erfc(sqrt(x / 2)).
pub fn chi2_1_sf(x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    erfc((x / 2.0).sqrt())
}

/// Complementary error function (Numerical Recipes' Chebyshev fit,
/// fractional error below 1.2e-7 everywhere).
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn wilson_matches_published_values() {
        // 7/10: (0.3968, 0.8922) — e.g. Newcombe (1998), Table I, method 3.
        let (lo, hi) = wilson(7, 10, Z95);
        assert!(
            close(lo, 0.3968, 1e-4) && close(hi, 0.8922, 1e-4),
            "{lo} {hi}"
        );
        // 0/10: (0, 0.2775); 10/10: (0.7225, 1).
        let (lo, hi) = wilson(0, 10, Z95);
        assert!(
            close(lo, 0.0, 1e-12) && close(hi, 0.2775, 1e-4),
            "{lo} {hi}"
        );
        let (lo, hi) = wilson(10, 10, Z95);
        assert!(
            close(lo, 0.7225, 1e-4) && close(hi, 1.0, 1e-12),
            "{lo} {hi}"
        );
        // 81/263 (Newcombe's example): (0.2553, 0.3662).
        let (lo, hi) = wilson(81, 263, Z95);
        assert!(
            close(lo, 0.2553, 1e-4) && close(hi, 0.3662, 1e-4),
            "{lo} {hi}"
        );
        assert_eq!(wilson(0, 0, Z95), (0.0, 1.0));
    }

    #[test]
    fn exact_mcnemar_for_few_discordant_pairs() {
        // b = 10, c = 2: 2 · (C(12,0) + C(12,1) + C(12,2)) / 2^12 = 158 / 4096.
        let m = mcnemar(10, 2);
        assert_eq!(m.method, "exact");
        assert!(close(m.p_value, 158.0 / 4096.0, 1e-12), "{m:?}");
        assert_eq!(mcnemar(2, 10).p_value, m.p_value);
        // Balanced or empty: p = 1.
        assert_eq!(mcnemar(3, 3).p_value, 1.0);
        assert_eq!(mcnemar(0, 0).p_value, 1.0);
        // 0 vs 6: 2 / 64.
        assert!(close(mcnemar(0, 6).p_value, 2.0 / 64.0, 1e-12));
    }

    #[test]
    fn chi_square_mcnemar_for_many_discordant_pairs() {
        // b = 30, c = 10: (|30 − 10| − 1)² / 40 = 9.025, p = 0.0026631.
        let m = mcnemar(30, 10);
        assert_eq!(m.method, "chi2");
        assert!(close(m.statistic.unwrap(), 9.025, 1e-12));
        assert!(close(m.p_value, 0.002_663_12, 1e-6), "{m:?}");
        // The 5% critical value 3.841 gives p = 0.05.
        assert!(close(chi2_1_sf(3.841_458_8), 0.05, 1e-6));
    }

    #[test]
    fn erfc_known_values() {
        assert!(close(erfc(0.0), 1.0, 1e-7));
        assert!(close(erfc(1.0), 0.157_299_207, 1e-7));
        assert!(close(erfc(-1.0), 1.842_700_793, 1e-7));
        assert!(close(erfc(3.0), 2.209_049_7e-5, 1e-9));
    }
}
