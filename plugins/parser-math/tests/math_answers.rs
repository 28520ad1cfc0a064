//! parser-math against answers as MATH's solutions box them and as models
//! write them back: a table of equivalent and non-equivalent pairs, the
//! canonical forms adapter-math stores, extraction from whole solutions, and
//! properties over arbitrary input (no panic, symmetry, idempotence).

use parser_math::{equivalent, extract, normalize};
use proptest::prelude::*;

/// (reference as MATH boxes it, candidate as a model may write it).
const EQUIVALENT: &[(&str, &str)] = &[
    // Fractions, decimals, signs.
    ("\\frac{1}{2}", "0.5"),
    ("\\frac{1}{2}", "1/2"),
    ("\\frac{1}{2}", "\\dfrac{1}{2}"),
    ("\\frac{1}{2}", "\\tfrac12"),
    ("\\frac{1}{2}", "\\frac12"),
    ("\\frac{1}{2}", ".5"),
    ("-\\frac{7}{2}", "\\frac{-7}{2}"),
    ("-\\frac{7}{2}", "-3.5"),
    ("\\frac{3}{8}", "0.375"),
    ("\\frac{1}{3}", "0.3333333333333"),
    ("\\frac{14}{3}", "4\\frac{2}{3}"),
    ("2\\frac{1}{4}", "\\frac{9}{4}"),
    ("1{,}000", "1000"),
    ("10,\\!000", "10000"),
    ("1.50", "1.5"),
    ("+3", "3"),
    // Radicals.
    ("\\sqrt{2}", "\\sqrt2"),
    ("2\\sqrt{3}", "2 \\sqrt 3"),
    ("\\frac{\\sqrt{3}}{2}", "\\frac{\\sqrt3}2"),
    ("\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}"),
    ("3\\sqrt{2}", "\\sqrt{18}"),
    ("\\sqrt[3]{2}", "2^{1/3}"),
    ("4\\sqrt{2}-4", "-4+4\\sqrt{2}"),
    // Constants.
    ("\\frac{\\pi}{3}", "\\frac{1}{3}\\pi"),
    ("36\\pi", "36 \\pi"),
    ("2\\pi r", "2 \\pi r"),
    // Units, degrees, money, percent.
    ("9\\text{ inches}", "9"),
    ("25 \\mbox{ cm}^2", "25"),
    ("48\\text{ square feet}", "48"),
    ("60^\\circ", "60"),
    ("60^{\\circ}", "60 degrees"),
    ("\\$32.50", "32.5"),
    ("\\$18", "18 dollars"),
    ("30\\%", "30"),
    ("\\$\\,1{,}250", "1250"),
    // Delimiters and spacing.
    ("\\left( 2, \\frac{1}{3} \\right)", "(2,1/3)"),
    ("(3, -1)", "\\left(3,-1\\right)"),
    ("\\displaystyle \\frac{5}{9}", "5/9"),
    ("\\boxed{7}", "7"),
    ("$7$", "7"),
    // Tuples, intervals, unions, sets, lists.
    ("(1, 2, 3)", "(1,2,3)"),
    ("(-\\infty, 3]", "(-\\infty,3]"),
    ("[2, 5)", "[2, 5)"),
    (
        "(-\\infty,-2)\\cup(3,\\infty)",
        "(-\\infty, -2) \\cup (3, \\infty)",
    ),
    ("(0, \\tfrac{1}{2}]", "(0, 0.5]"),
    ("\\{-1, 4\\}", "\\{4, -1\\}"),
    ("\\{-1, 4\\}", "4, -1"),
    ("-2, 1", "1, -2"),
    ("1 \\text{ and } 2", "1, 2"),
    ("x \\in [-1, 1]", "[-1,1]"),
    // Equations and expressions.
    ("x = 4", "4"),
    ("y = 2x + 3", "y = 3 + 2x"),
    ("y=-\\frac{1}{2}x+2", "y = 2 - x/2"),
    ("x^2+7x+10", "(x+5)(x+2)"),
    ("6x^2+4x-10", "2(3x+5)(x-1)"),
    ("a^{2}b", "ba^2"),
    ("\\frac{x+1}{x-1}", "(x+1)/(x-1)"),
    ("3+4i", "4i+3"),
    ("2x^{3}", "2x^3"),
    // Text answers.
    ("\\text{(C)}", "C"),
    ("\\text{(C)}", "(C)"),
    ("\\text{Devon}", "Devon"),
    ("\\text{odd}", "odd"),
    ("\\text{Monday}", "monday"),
    // Bases and other notations compared as text.
    ("1011_2", "1011_{2}"),
    ("\\infty", "\\infty"),
    (
        "\\begin{pmatrix} 1 \\\\ -2 \\end{pmatrix}",
        "\\begin{pmatrix}1\\\\-2\\end{pmatrix}",
    ),
];

/// (reference, a wrong or differently-meant candidate).
const DIFFERENT: &[(&str, &str)] = &[
    // The reference normaliser's "last number" bug.
    ("2\\sqrt{3}", "3"),
    ("2\\sqrt{3}", "2"),
    ("\\frac{\\sqrt{3}}{2}", "2"),
    ("\\sqrt{2}", "2"),
    ("5\\pi", "5"),
    ("\\frac{1}{2}", "2"),
    // Near misses.
    ("\\frac{1}{3}", "0.33"),
    ("\\frac{1}{2}", "\\frac{1}{3}"),
    ("-\\frac{7}{2}", "\\frac{7}{2}"),
    ("1000000", "1000001"),
    ("12345678901234567", "12345678901234568"),
    ("3\\sqrt{2}", "2\\sqrt{3}"),
    ("\\sqrt[3]{2}", "\\sqrt{2}"),
    ("2\\frac{1}{4}", "\\frac{1}{2}"),
    // Structure matters.
    ("(1, 2)", "(2, 1)"),
    ("(1, 2)", "1, 2"),
    ("(1, 2)", "(1, 2, 3)"),
    ("[0, 1)", "[0, 1]"),
    ("(0, 1)", "[0, 1]"),
    ("(-\\infty, 3]", "(-\\infty, 3)"),
    ("(-\\infty,-2)\\cup(3,\\infty)", "(-\\infty, -2)"),
    ("-2, 1", "-2"),
    ("-2, 1", "-2, 1, 3"),
    // Expressions.
    ("x^2+7x+10", "(x+5)(x+3)"),
    ("x^2", "x^3"),
    ("2x", "2y"),
    ("3+4i", "3-4i"),
    ("y = 2x + 3", "y = 2x - 3"),
    // Text.
    ("\\text{(C)}", "D"),
    ("\\text{Devon}", "Evan"),
    ("\\infty", "-\\infty"),
    ("1011_2", "1011_3"),
    // Nothing is never an answer.
    ("5", ""),
    ("", ""),
    ("\\text{}", "\\text{}"),
];

#[test]
fn equivalent_pairs() {
    let mut wrong = Vec::new();
    for &(a, b) in EQUIVALENT {
        if !equivalent(a, b) || !equivalent(b, a) {
            wrong.push(format!(
                "{a:?} should equal {b:?} ({:?} / {:?})",
                normalize(a),
                normalize(b)
            ));
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

#[test]
fn different_pairs() {
    let mut wrong = Vec::new();
    for &(a, b) in DIFFERENT {
        if equivalent(a, b) || equivalent(b, a) {
            wrong.push(format!(
                "{a:?} should differ from {b:?} ({:?} / {:?})",
                normalize(a),
                normalize(b)
            ));
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

#[test]
fn every_answer_matches_itself() {
    for &(a, b) in EQUIVALENT.iter().chain(DIFFERENT) {
        for s in [a, b] {
            if !normalize(s).is_empty() {
                assert!(equivalent(s, s), "{s:?}");
            }
        }
    }
}

#[test]
fn extraction_from_whole_solutions() {
    let cases = [
        (
            "The roots are $x = 2$ and $x = -5$, so the answer is $\\boxed{-5, 2}$.",
            "-5,2",
            "boxed",
        ),
        (
            "Thus $\\boxed{\\frac{\\sqrt{5}}{5}}$ is the sine.",
            "\\frac{\\sqrt{5}}{5}",
            "boxed",
        ),
        (
            "We have $r = \\boxed{\\dfrac{3}{2}}$ inches, i.e. $\\boxed{1.5\\text{ in}}$.",
            "1.5",
            "boxed",
        ),
        (
            "**Final Answer:** $\\frac{2}{9}$",
            "\\frac{2}{9}",
            "answer-phrase",
        ),
        ("Answer: (B)", "B", "answer-phrase"),
        ("So the total is 540 degrees.", "540", "last-number"),
    ];
    for (text, answer, method) in cases {
        let found = extract(text);
        assert_eq!(
            (found.answer.as_deref(), found.method.as_str()),
            (Some(answer), method),
            "{text}"
        );
    }
}

/// Text biased towards the LaTeX the normaliser and comparison react to.
fn latexish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("\\frac".to_string()),
        Just("\\sqrt".to_string()),
        Just("\\sqrt[".to_string()),
        Just("\\text{".to_string()),
        Just("\\left(".to_string()),
        Just("\\right]".to_string()),
        Just("\\{".to_string()),
        Just("\\}".to_string()),
        Just("\\cup".to_string()),
        Just("\\infty".to_string()),
        Just("\\pi".to_string()),
        Just("^\\circ".to_string()),
        Just("\\boxed{".to_string()),
        Just("{".to_string()),
        Just("}".to_string()),
        Just("(".to_string()),
        Just(")".to_string()),
        Just(",".to_string()),
        Just("=".to_string()),
        Just("^".to_string()),
        Just("_".to_string()),
        Just("-".to_string()),
        Just("/".to_string()),
        Just(" ".to_string()),
        "[0-9]{1,3}",
        "[a-zA-Z]{1,2}",
        "\\PC{0,3}",
    ];
    prop::collection::vec(piece, 0..14).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn never_panics_and_is_symmetric(a in latexish(), b in latexish()) {
        prop_assert_eq!(equivalent(&a, &b), equivalent(&b, &a), "{:?} / {:?}", a, b);
        let _ = extract(&a);
    }

    #[test]
    fn normal_forms_are_stable_and_match_themselves(a in latexish()) {
        let n = normalize(&a);
        prop_assert_eq!(normalize(&n), n.clone(), "not idempotent: {:?}", a);
        if !n.is_empty() {
            prop_assert!(equivalent(&a, &n), "{:?} vs its normal form {:?}", a, n);
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC*") {
        let _ = extract(&text);
        let _ = equivalent(&text, "1");
    }
}
