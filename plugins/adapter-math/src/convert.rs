//! One MATH record to one problem.
//!
//! The reference answer is the contents of the solution's last brace-balanced
//! `\boxed{...}` (or `\fbox{...}`), reduced by
//! `answer_core::math::normalize_math`: the form parser-math compares, still
//! LaTeX (`\dfrac{1}{2}` -> `\frac{1}{2}`), never a number pulled out of it.

use answer_core::latex::boxed_contents;
use answer_core::math::normalize_math;
use answer_core::record::{self, FieldOptions};
use econ_plugin_sdk::dataset_adapter::Problem;
use econ_plugin_sdk::serde_json::Value;

/// Field names when the options do not rename them; the id falls back to
/// MATH-500's `unique_id`, then to `math-<line>`.
const QUESTION: &str = "problem";
const ANSWER: &str = "solution";
const ID: &str = "id";

/// Metadata kept for traces, when present (`subject` is MATH-500's `type`).
const METADATA: [&str; 3] = ["level", "type", "subject"];

pub fn convert(record: &Value, line: u32, fields: &FieldOptions) -> Result<Problem, String> {
    let object = record::object(record)?;
    let question_field = fields.question.as_deref().unwrap_or(QUESTION);
    let question = record::text(record::get(object, question_field), question_field)?;
    let name = fields.answer.as_deref().unwrap_or(ANSWER);
    let solution = record::text(record::get(object, name), name)?;
    let answer = final_answer(solution).map_err(|e| format!("field \"{name}\": {e}"))?;
    let id = match &fields.id {
        Some(id_field) => record::id(record::get(object, id_field), id_field, || {
            format!("math-{line}")
        })?,
        None => {
            let (id_field, value) = match record::get(object, ID) {
                Some(v) => (ID, Some(v)),
                None => ("unique_id", record::get(object, "unique_id")),
            };
            record::id(value, id_field, || format!("math-{line}"))?
        }
    };
    let mut metadata: Vec<(String, String)> = METADATA
        .iter()
        .filter_map(|&key| Some((key.to_string(), record::metadata(record::get(object, key))?)))
        .collect();
    metadata.push(("solution".into(), solution.to_string()));
    Ok(Problem {
        id,
        question: question.to_string(),
        answer,
        metadata,
    })
}

/// The canonical contents of the last box of `solution`.
pub fn final_answer(solution: &str) -> Result<String, String> {
    let boxed = boxed_contents(solution)
        .last()
        .copied()
        .or_else(|| unbraced_box(solution))
        .ok_or("no \\boxed{...} final answer")?;
    let answer = normalize_math(boxed);
    if answer.is_empty() {
        return Err(format!("the final \\boxed{{{boxed}}} is empty"));
    }
    Ok(answer)
}

/// `\boxed 5` (a box without braces, as a few MATH solutions write it): the
/// token after the last one, up to `$` or the end of the line.
fn unbraced_box(solution: &str) -> Option<&str> {
    let (_, tail) = solution.rsplit_once("\\boxed ")?;
    let token = tail.split(['$', '\n']).next()?.trim();
    let token = token.trim_end_matches('.').trim();
    (!token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use econ_plugin_sdk::serde_json::json;

    #[test]
    fn the_last_balanced_box_is_the_answer() {
        let cases = [
            ("So $x = \\boxed{5}$.", "5"),
            (
                "First \\boxed{1}, then \\boxed{\\frac{\\sqrt{3}}{2}}.",
                "\\frac{\\sqrt{3}}{2}",
            ),
            (
                "$\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}$",
                "(3,\\frac{\\pi}{2})",
            ),
            ("The area is $\\boxed{18\\text{ square units}}$.", "18"),
            ("\\fbox{\\$12.50}", "12.5"),
            ("The answer is $\\boxed 7$.", "7"),
            ("$\\boxed{\\text{(B)}}$", "B"),
            ("$\\boxed{x^{2}+\\dfrac12}$", "x^2+\\frac{1}{2}"),
        ];
        for (solution, want) in cases {
            assert_eq!(final_answer(solution).as_deref(), Ok(want), "{solution}");
        }
        assert!(final_answer("It is 4.").unwrap_err().contains("no \\boxed"));
        assert!(final_answer("$\\boxed{ }$").unwrap_err().contains("empty"));
        assert!(
            final_answer("\\boxed{5").is_err(),
            "an unclosed box is not an answer"
        );
    }

    #[test]
    fn ids_metadata_and_errors() {
        let f = FieldOptions::default();
        let row = json!({"problem": "p?", "solution": "\\boxed{2}", "level": "Level 2", "type": "Algebra"});
        let p = convert(&row, 5, &f).unwrap();
        assert_eq!((p.id.as_str(), p.answer.as_str()), ("math-5", "2"));
        assert_eq!(p.metadata[0], ("level".to_string(), "Level 2".to_string()));
        assert_eq!(p.metadata[1], ("type".to_string(), "Algebra".to_string()));
        assert_eq!(p.metadata[2].0, "solution");
        let m500 = json!({"problem": "p", "solution": "\\boxed{3}", "unique_id": "test/algebra/1.json", "level": 3});
        let p = convert(&m500, 1, &f).unwrap();
        assert_eq!(p.id, "test/algebra/1.json");
        assert_eq!(p.metadata[0], ("level".to_string(), "3".to_string()));
        let err = |v: Value| convert(&v, 1, &f).unwrap_err();
        assert_eq!(
            err(json!({"solution": "\\boxed{1}"})),
            "missing field \"problem\""
        );
        assert_eq!(err(json!({"problem": "p"})), "missing field \"solution\"");
        assert_eq!(
            err(json!({"problem": "p", "solution": "no box"})),
            "field \"solution\": no \\boxed{...} final answer"
        );
        assert!(
            err(json!({"problem": "p", "solution": "\\boxed{1}", "id": true}))
                .contains("\"id\" is a boolean")
        );
    }

    #[test]
    fn options_rename_fields() {
        let opts: Vec<(String, String)> = [
            ("question_field", "q"),
            ("answer_field", "a"),
            ("id_field", "n"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let f = FieldOptions::from_options(&opts);
        let p = convert(
            &json!({"q": "Q", "a": "\\boxed{\\sqrt2}", "n": 9, "id": "ignored"}),
            1,
            &f,
        )
        .unwrap();
        assert_eq!(
            (p.question.as_str(), p.answer.as_str(), p.id.as_str()),
            ("Q", "\\sqrt{2}", "9")
        );
        let p = convert(&json!({"q": "Q", "a": "\\boxed{1}"}), 7, &f).unwrap();
        assert_eq!(p.id, "math-7");
    }
}
