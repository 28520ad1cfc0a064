//! One record of any layout to one problem.

use answer_core::number::strip_thousands;
use answer_core::record::{self, FieldOptions};
use econ_plugin_sdk::dataset_adapter::Problem;
use econ_plugin_sdk::serde_json::Value;

/// Field names when the options do not rename them; without `id_field`
/// ids are `row-<line>`.
const QUESTION: &str = "question";
const ANSWER: &str = "answer";

/// The GSM8K convention for a worked solution's final answer.
const MARKER: &str = "####";

/// Question and answer from the configured fields. An answer with a `####`
/// line is reduced to what follows it (the whole text is kept as metadata
/// `solution`); any other string, number or boolean is the answer as it is
/// (numbers in canonical form), for the answer parser to judge.
pub fn convert(record: &Value, line: u32, fields: &FieldOptions) -> Result<Problem, String> {
    let object = record::object(record)?;
    let question_field = fields.question.as_deref().unwrap_or(QUESTION);
    let question = record::text(record::get(object, question_field), question_field)?;
    let name = fields.answer.as_deref().unwrap_or(ANSWER);
    let raw = record::scalar(record::get(object, name), name)?;
    let mut metadata = Vec::new();
    let answer = if raw.contains(MARKER) {
        let answer = after_marker(&raw).map_err(|e| format!("field \"{name}\": {e}"))?;
        metadata.push(("solution".to_string(), raw));
        answer
    } else {
        raw
    };
    if let Some(field) = &fields.category {
        let value = record::scalar(record::get(object, field), field)?;
        metadata.push(("category".to_string(), value));
    }
    let id = match &fields.id {
        None => format!("row-{line}"),
        Some(id_field) => match record::get(object, id_field) {
            None => return Err(format!("missing field \"{id_field}\"")),
            value => record::id(value, id_field, || format!("row-{line}"))?,
        },
    };
    Ok(Problem {
        id,
        question: question.to_string(),
        answer,
        metadata,
    })
}

/// The first line after the last `####`, thousands separators removed.
pub fn after_marker(solution: &str) -> Result<String, String> {
    let (_, tail) = solution
        .rsplit_once(MARKER)
        .ok_or_else(|| format!("no \"{MARKER}\" marker"))?;
    let line = tail.trim().lines().next().unwrap_or("").trim();
    if line.is_empty() {
        return Err(format!("nothing after \"{MARKER}\""));
    }
    Ok(strip_thousands(line).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use econ_plugin_sdk::serde_json::json;

    #[test]
    fn answers_of_every_scalar_kind() {
        let f = FieldOptions::default();
        let answer = |a: Value| convert(&json!({"question": "q", "answer": a}), 1, &f);
        assert_eq!(answer(json!(15.0)).unwrap().answer, "15");
        assert_eq!(answer(json!(-0.25)).unwrap().answer, "-0.25");
        assert_eq!(answer(json!(false)).unwrap().answer, "false");
        assert_eq!(
            answer(json!("\\frac{1}{2}")).unwrap().answer,
            "\\frac{1}{2}"
        );
        let p = answer(json!("3 * 400 = 1,200\n#### 1,200")).unwrap();
        assert_eq!(p.answer, "1200");
        assert_eq!(p.metadata[0].0, "solution");
        assert!(p.metadata.len() == 1 && answer(json!(7)).unwrap().metadata.is_empty());
        assert_eq!(
            answer(json!("#### ")).unwrap_err(),
            "field \"answer\": nothing after \"####\""
        );
        assert_eq!(answer(json!(" ")).unwrap_err(), "field \"answer\" is empty");
        assert_eq!(answer(json!(null)).unwrap_err(), "missing field \"answer\"");
        assert!(
            answer(json!({"a": 1}))
                .unwrap_err()
                .contains("is an object")
        );
    }

    #[test]
    fn ids_and_question_errors() {
        let f = FieldOptions::default();
        let p = convert(
            &json!({"question": " q ", "answer": 1, "id": "ignored"}),
            8,
            &f,
        )
        .unwrap();
        assert_eq!((p.id.as_str(), p.question.as_str()), ("row-8", "q"));
        let err = convert(&json!({"question": 3, "answer": 1}), 1, &f).unwrap_err();
        assert_eq!(err, "field \"question\" is a number, not a string");
        let with_id = FieldOptions::from_options(&[("id_field".into(), "uid".into())]);
        let p = convert(
            &json!({"question": "q", "answer": 1, "uid": 42}),
            1,
            &with_id,
        )
        .unwrap();
        assert_eq!(p.id, "42");
        let err = convert(&json!({"question": "q", "answer": 1}), 1, &with_id).unwrap_err();
        assert_eq!(err, "missing field \"uid\"");
    }

    #[test]
    fn a_category_field_becomes_metadata_and_its_absence_an_error() {
        let f = FieldOptions::from_options(&[("category_field".into(), "kind".into())]);
        let p = convert(
            &json!({"question": "q", "answer": 1, "kind": "riddle"}),
            1,
            &f,
        )
        .unwrap();
        assert_eq!(
            p.metadata,
            vec![("category".to_string(), "riddle".to_string())]
        );
        let err = convert(&json!({"question": "q", "answer": 1}), 3, &f).unwrap_err();
        assert!(err.contains("\"kind\""), "{err}");
    }

    #[test]
    fn after_marker_reads_the_last_marker() {
        assert_eq!(after_marker("a\n#### 72").as_deref(), Ok("72"));
        assert_eq!(after_marker("#### 1 \n#### -5\nmore").as_deref(), Ok("-5"));
        assert_eq!(after_marker("#### 1,2").as_deref(), Ok("1,2"));
        assert!(after_marker("72").is_err());
    }
}
