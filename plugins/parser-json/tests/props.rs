//! parser-json over arbitrary input: never panics (a trap fails the whole
//! host call), its answers are never empty, normalised and equivalent to
//! themselves, and a JSON answer is found wherever the object is put.

use parser_json::{equivalent, extract, normalize};
use proptest::prelude::*;

/// Text biased towards JSON, fences and LaTeX so random cases reach the
/// object scanner's deep paths.
fn jsonish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("{".to_string()),
        Just("}".to_string()),
        Just("\"".to_string()),
        Just("\\\"".to_string()),
        Just(":".to_string()),
        Just(",".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("```".to_string()),
        Just("```json\n".to_string()),
        Just("\n".to_string()),
        Just("{\"final_value\": \"".to_string()),
        Just("\"final\": ".to_string()),
        Just("\"answer\": ".to_string()),
        Just("\\boxed{".to_string()),
        Just("\\frac{1}{2}".to_string()),
        Just("#### ".to_string()),
        Just("null".to_string()),
        "[0-9]{1,4}(\\.[0-9]{1,2})?",
        "\\PC{0,6}",
    ];
    prop::collection::vec(piece, 0..16).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn extract_never_panics_on_any_string(text in "\\PC*") {
        let _ = extract(&text);
    }

    #[test]
    fn answers_are_normalised_and_equivalent_to_themselves(text in jsonish()) {
        let found = extract(&text);
        match found.answer {
            Some(answer) => {
                prop_assert!(!answer.is_empty());
                prop_assert!(equivalent(&answer, &answer), "{answer:?} from {text:?}");
                prop_assert_eq!(normalize(&answer), answer.clone(), "not idempotent: {:?}", text);
            }
            None => prop_assert_eq!(found.method.as_str(), "none"),
        }
    }

    #[test]
    fn an_answer_object_is_found_anywhere(
        before in "[a-zA-Z .,]{0,40}",
        after in "[a-zA-Z .,]{0,40}",
        n in 0u32..100_000,
        key in prop::sample::select(vec!["final_value", "final", "answer"]),
        fenced in any::<bool>(),
    ) {
        let object = format!("{{\"{key}\": \"{n}\", \"confidence\": 0.5}}");
        let object = if fenced { format!("\n```json\n{object}\n```\n") } else { object };
        let found = extract(&format!("{before}{object}{after}"));
        prop_assert_eq!(found.method.as_str(), "json");
        prop_assert_eq!(found.answer, Some(n.to_string()));
    }
}
