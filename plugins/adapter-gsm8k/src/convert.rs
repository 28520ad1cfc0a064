//! One GSM8K record to one problem.

use answer_core::record;
use econ_plugin_sdk::dataset_adapter::Problem;
use econ_plugin_sdk::serde_json::Value;

/// Where the fields live in a record; renamed through adapter options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fields {
    pub question: String,
    pub answer: String,
    pub id: String,
}

impl Default for Fields {
    fn default() -> Self {
        Fields {
            question: "question".into(),
            answer: "answer".into(),
            id: "id".into(),
        }
    }
}

impl Fields {
    /// Option keys `question_field`, `answer_field`, `id_field`; other keys
    /// are ignored (the config section may carry the host's own settings),
    /// and an empty value keeps the default name.
    pub fn from_options(options: &[(String, String)]) -> Self {
        let mut fields = Fields::default();
        for (key, value) in options {
            let slot = match key.as_str() {
                "question_field" => &mut fields.question,
                "answer_field" => &mut fields.answer,
                "id_field" => &mut fields.id,
                _ => continue,
            };
            if !value.trim().is_empty() {
                *slot = value.trim().to_string();
            }
        }
        fields
    }
}

/// GSM8K marks the final answer of a solution with a line `#### 72`.
const MARKER: &str = "####";

/// `{"question", "answer": "...\n#### 72"}` -> problem with answer `72` and
/// the full solution kept as metadata for traces.
pub fn convert(record: &Value, line: u32, fields: &Fields) -> Result<Problem, String> {
    let object = record::object(record)?;
    let question = record::text(record::get(object, &fields.question), &fields.question)?;
    let solution = record::text(record::get(object, &fields.answer), &fields.answer)?;
    let answer = final_answer(solution).map_err(|e| format!("field \"{}\": {e}", fields.answer))?;
    // The record's own id (string or number), else one made from the line,
    // so traces still point at the source row.
    let id = record::id(record::get(object, &fields.id), &fields.id, || {
        format!("gsm8k-{line}")
    })?;

    Ok(Problem {
        id,
        question: question.to_string(),
        answer,
        metadata: vec![("solution".into(), solution.to_string())],
    })
}

/// The text after the last `####`, first line only, without thousands commas.
pub fn final_answer(solution: &str) -> Result<String, String> {
    let (_, tail) = solution
        .rsplit_once(MARKER)
        .ok_or_else(|| format!("no \"{MARKER}\" final-answer marker"))?;
    let first_line = tail.trim().lines().next().unwrap_or("");
    let answer = first_line.replace(',', "").trim().to_string();
    if answer.is_empty() {
        return Err(format!("nothing after \"{MARKER}\""));
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use econ_plugin_sdk::serde_json::json;

    #[test]
    fn final_answer_takes_the_line_after_the_marker() {
        assert_eq!(final_answer("so 72\n#### 72").as_deref(), Ok("72"));
        assert_eq!(final_answer("#### 1,600 ").as_deref(), Ok("1600"));
        assert_eq!(final_answer("#### -5\nextra").as_deref(), Ok("-5"));
        assert_eq!(final_answer("a #### 1\n#### 2").as_deref(), Ok("2"));
        assert!(final_answer("72").unwrap_err().contains("####"));
        assert!(
            final_answer("#### , ")
                .unwrap_err()
                .contains("nothing after")
        );
    }

    #[test]
    fn ids_from_string_number_or_line() {
        let f = Fields::default();
        let row = |id| json!({"question": "q?", "answer": "#### 1", "id": id});
        assert_eq!(
            convert(&row(json!("train-7")), 3, &f).unwrap().id,
            "train-7"
        );
        assert_eq!(convert(&row(json!(42)), 3, &f).unwrap().id, "42");
        assert_eq!(convert(&row(json!(null)), 3, &f).unwrap().id, "gsm8k-3");
        let err = convert(&row(json!(true)), 3, &f).unwrap_err();
        assert!(err.contains("\"id\"") && err.contains("boolean"), "{err}");
        assert!(
            convert(&row(json!(" ")), 3, &f)
                .unwrap_err()
                .contains("empty")
        );
    }

    #[test]
    fn errors_name_the_field() {
        let f = Fields::default();
        let err = |v| convert(&v, 1, &f).unwrap_err();
        assert!(err(json!([1, 2])).contains("not a JSON object but an array"));
        assert!(err(json!({"answer": "#### 1"})).contains("missing field \"question\""));
        assert!(err(json!({"question": "q"})).contains("missing field \"answer\""));
        assert!(
            err(json!({"question": 5, "answer": "#### 1"})).contains("\"question\" is a number")
        );
        assert!(
            err(json!({"question": "  ", "answer": "#### 1"})).contains("\"question\" is empty")
        );
        let no_marker = err(json!({"question": "q", "answer": "it is 5"}));
        assert!(
            no_marker.contains("\"answer\"") && no_marker.contains("####"),
            "{no_marker}"
        );
    }

    #[test]
    fn options_rename_fields() {
        let opts = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let f = Fields::from_options(&opts(&[
            ("question_field", "problem"),
            ("answer_field", "solution"),
            ("split", "train"),
            ("id_field", ""),
        ]));
        assert_eq!(
            (f.question.as_str(), f.answer.as_str(), f.id.as_str()),
            ("problem", "solution", "id")
        );
        let p = convert(&json!({"problem": " q? ", "solution": "#### 3"}), 9, &f).unwrap();
        assert_eq!(
            (p.question.as_str(), p.answer.as_str(), p.id.as_str()),
            ("q?", "3", "gsm8k-9")
        );
        let err = convert(&json!({"question": "q?", "answer": "#### 3"}), 9, &f).unwrap_err();
        assert!(err.contains("missing field \"problem\""), "{err}");
    }
}
