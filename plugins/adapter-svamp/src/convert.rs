//! One SVAMP record to one problem.
//!
//! SVAMP rows carry `ID`, `Body`, `Question`, `Equation`, `Answer` (a number)
//! and `Type`; HF ChilleD/SVAMP adds `question_concat` (Body + Question). Field
//! names are matched exactly first, then ignoring case (`body`, `answer`), as
//! copies of the data set differ.

use answer_core::number::canonical_decimal;
use answer_core::record::{self, FieldOptions, Object};
use econ_plugin_sdk::dataset_adapter::Problem;
use econ_plugin_sdk::serde_json::Value;

/// Field names when the options do not rename them. Without
/// `question_field` the question is `question_concat`, else `Body` + " " +
/// `Question`; without `id_field` a missing `ID` gives `svamp-<line>`.
const ANSWER: &str = "Answer";
const ID: &str = "ID";

/// Metadata kept for traces, when present.
const METADATA: [&str; 2] = ["Equation", "Type"];

pub fn convert(record: &Value, line: u32, fields: &FieldOptions) -> Result<Problem, String> {
    let object = record::object(record)?;
    let question = match &fields.question {
        Some(name) => record::text(record::get_any_case(object, name), name)?.to_string(),
        None => question(object)?,
    };
    let name = fields.answer.as_deref().unwrap_or(ANSWER);
    let raw = record::scalar(record::get_any_case(object, name), name)?;
    let answer =
        number(&raw).ok_or_else(|| format!("field \"{name}\" is not a number: {raw:?}"))?;
    let id_field = fields.id.as_deref().unwrap_or(ID);
    let id = record::id(record::get_any_case(object, id_field), id_field, || {
        format!("svamp-{line}")
    })?;
    let metadata = METADATA
        .iter()
        .filter_map(|&key| {
            let value = record::metadata(record::get_any_case(object, key))?;
            Some((key.to_lowercase(), value))
        })
        .collect();
    Ok(Problem {
        id,
        question,
        answer,
        metadata,
    })
}

/// `question_concat` when it holds text, else `Body` + " " + `Question`.
fn question(object: &Object) -> Result<String, String> {
    if let Ok(whole) = record::text(
        record::get_any_case(object, "question_concat"),
        "question_concat",
    ) {
        return Ok(whole.to_string());
    }
    let body = record::text(record::get_any_case(object, "Body"), "Body")?;
    let question = record::text(record::get_any_case(object, "Question"), "Question")?;
    Ok(format!("{body} {question}"))
}

/// The answer reduced as parser-boxed compares it (`15.0` -> `15`,
/// `"1,200"` -> `1200`); `None` unless that is a plain number.
pub fn number(raw: &str) -> Option<String> {
    let reduced = answer_core::normalize(raw);
    canonical_decimal(&reduced)
}

#[cfg(test)]
mod tests {
    use super::*;
    use econ_plugin_sdk::serde_json::json;

    fn opts(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn answers_reduce_to_numbers() {
        assert_eq!(number("15.0").as_deref(), Some("15"));
        assert_eq!(number("0.50").as_deref(), Some("0.5"));
        assert_eq!(number("1,200").as_deref(), Some("1200"));
        assert_eq!(number("-3").as_deref(), Some("-3"));
        assert_eq!(number("five"), None);
        let f = FieldOptions::default();
        let row = |a: Value| json!({"Body": "b.", "Question": "q?", "Answer": a});
        assert_eq!(convert(&row(json!(2.5)), 1, &f).unwrap().answer, "2.5");
        assert_eq!(convert(&row(json!("8.0")), 1, &f).unwrap().answer, "8");
        let err = convert(&row(json!("many")), 1, &f).unwrap_err();
        assert_eq!(err, "field \"Answer\" is not a number: \"many\"");
        let err = convert(&row(json!([1])), 1, &f).unwrap_err();
        assert!(err.contains("\"Answer\" is an array"), "{err}");
    }

    #[test]
    fn question_id_and_metadata() {
        let f = FieldOptions::default();
        let p = convert(
            &json!({"body": " Tom has 3 cars. ", "question": "How many?", "answer": 3, "type": "Common-Division", "Equation": "( 6.0 / 2.0 )"}),
            4,
            &f,
        )
        .unwrap();
        assert_eq!(p.question, "Tom has 3 cars. How many?");
        assert_eq!(p.id, "svamp-4");
        assert_eq!(
            p.metadata,
            vec![
                ("equation".to_string(), "( 6.0 / 2.0 )".to_string()),
                ("type".to_string(), "Common-Division".to_string()),
            ]
        );
        // An empty question_concat falls back to Body + Question.
        let p = convert(
            &json!({"ID": 12, "question_concat": "", "Body": "B.", "Question": "Q?", "Answer": 1}),
            1,
            &f,
        )
        .unwrap();
        assert_eq!((p.id.as_str(), p.question.as_str()), ("12", "B. Q?"));
        let err = convert(&json!({"Body": "B.", "Answer": 1}), 1, &f).unwrap_err();
        assert_eq!(err, "missing field \"Question\"");
        let err = convert(&json!("text"), 1, &f).unwrap_err();
        assert!(err.contains("not a JSON object but a string"), "{err}");
    }

    #[test]
    fn options_rename_fields() {
        let f = FieldOptions::from_options(&opts(&[
            ("question_field", "text"),
            ("answer_field", "result"),
            ("id_field", "uid"),
            ("split", "test"),
        ]));
        let p = convert(&json!({"text": "q?", "result": 4.0, "uid": "a"}), 2, &f).unwrap();
        assert_eq!(
            (p.question.as_str(), p.answer.as_str(), p.id.as_str()),
            ("q?", "4", "a")
        );
        let err = convert(&json!({"Body": "b", "Question": "q", "result": 1}), 2, &f).unwrap_err();
        assert_eq!(err, "missing field \"text\"");
        assert_eq!(
            FieldOptions::from_options(&opts(&[("answer_field", " ")])),
            FieldOptions::default()
        );
    }
}
