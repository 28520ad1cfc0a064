//! Whether two answers mean the same value.

use crate::normalize::normalize;
use crate::number::{is_integer, value};

const REL_TOL: f64 = 1e-6;
const ABS_TOL: f64 = 1e-9;

/// Both sides normalised; numbers within tolerance, anything else equal as
/// strings. An empty answer never matches, not even another empty one.
pub fn equivalent(reference: &str, candidate: &str) -> bool {
    let (r, c) = (normalize(reference), normalize(candidate));
    if r.is_empty() || c.is_empty() {
        return false;
    }
    if r == c {
        return true;
    }
    // Two different integers are different answers, however large: a
    // relative tolerance alone would accept 1000001 for 1000000.
    if is_integer(&r) && is_integer(&c) {
        return false;
    }
    match (value(&r), value(&c)) {
        (Some(a), Some(b)) => {
            let diff = (a - b).abs();
            diff <= ABS_TOL || diff <= REL_TOL * a.abs().max(b.abs())
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::equivalent;

    #[test]
    fn numbers_match_across_notations() {
        assert!(equivalent("1234", "$1,234.00"));
        assert!(equivalent("0.5", "\\frac{1}{2}"));
        assert!(equivalent("0.5", "1/2"));
        assert!(equivalent("18", "18 dollars"));
        assert!(equivalent("-3", "\\boxed{-3}"));
        assert!(equivalent("0.3333333", "\\dfrac{1}{3}"));
        assert!(equivalent("0", "-0.0"));
        assert!(equivalent("1e-10", "1e-10"));
    }

    #[test]
    fn near_misses_do_not_match() {
        assert!(!equivalent("1000000", "1000001"));
        assert!(!equivalent("0.33", "\\frac{1}{3}"));
        assert!(!equivalent("18", "-18"));
        assert!(!equivalent("18", "180"));
        assert!(!equivalent("", ""));
        assert!(!equivalent("18", ""));
    }

    #[test]
    fn tolerance_near_zero_and_large() {
        assert!(equivalent("0.0000000001", "0"));
        assert!(!equivalent("0.00001", "0"));
        assert!(equivalent("1000000.0000001", "1000000"));
    }

    #[test]
    fn symbolic_answers_compare_as_strings() {
        assert!(equivalent("\\frac{\\pi}{2}", "\\dfrac{\\pi}{2}"));
        assert!(equivalent("(3,4)", "\\left( 3, 4 \\right)"));
        assert!(!equivalent("\\sqrt{2}", "\\sqrt{3}"));
    }
}
