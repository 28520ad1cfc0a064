//! Properties over arbitrary input: the parser must never panic (a trap
//! fails the whole host call), and its own answers must match themselves.

use answer_core::{equivalent, extract, normalize};
use proptest::prelude::*;

/// Text biased towards the syntax the parser reacts to, so random cases
/// reach the deep paths instead of the "no number" exit.
fn answerish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("\\boxed{".to_string()),
        Just("\\fbox{".to_string()),
        Just("}".to_string()),
        Just("{".to_string()),
        Just("\\frac".to_string()),
        Just("\\dfrac{1}{".to_string()),
        Just("\\text{ ".to_string()),
        Just("#### ".to_string()),
        Just("The answer is ".to_string()),
        Just("Answer: ".to_string()),
        Just("{\"final_value\": \"".to_string()),
        Just("\\$".to_string()),
        Just("\\,".to_string()),
        Just("^\\circ".to_string()),
        Just(",000".to_string()),
        Just("/".to_string()),
        Just("=".to_string()),
        Just("-".to_string()),
        Just(".".to_string()),
        Just(" dollars".to_string()),
        "[0-9]{1,4}",
        "\\PC{0,6}",
        "[\\\\ ${}.,\u{8}°−]{1,3}",
    ];
    prop::collection::vec(piece, 0..12).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn extract_never_panics_on_any_string(text in "\\PC*") {
        let _ = extract(&text);
    }

    #[test]
    fn extracted_answers_are_equivalent_to_themselves(text in answerish()) {
        let found = extract(&text);
        if let Some(answer) = found.answer {
            prop_assert!(!answer.is_empty());
            prop_assert!(equivalent(&answer, &answer), "{answer:?} from {text:?}");
            prop_assert_eq!(normalize(&answer), answer.clone(), "not idempotent: {:?}", text);
        } else {
            prop_assert_eq!(found.method.as_str(), "none");
        }
    }

    #[test]
    fn equivalent_never_panics_and_is_symmetric(a in answerish(), b in answerish()) {
        prop_assert_eq!(equivalent(&a, &b), equivalent(&b, &a));
    }
}
