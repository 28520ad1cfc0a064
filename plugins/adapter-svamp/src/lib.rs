//! adapter-svamp: SVAMP rows (`Body`, `Question`, numeric `Answer`, or HF
//! ChilleD/SVAMP's `question_concat`) to problems. The logic is in
//! [`convert`]; this file wires it into the SDK.

pub mod convert;

use answer_core::record::FieldOptions;
use econ_plugin_sdk::dataset_adapter::{DatasetAdapter, Manifest, Options, Problem};
use econ_plugin_sdk::serde_json::Value;

/// The plugin: [`convert::convert`] behind the SDK trait.
pub struct Svamp;

impl DatasetAdapter for Svamp {
    fn manifest() -> Manifest {
        Manifest::new(
            "adapter-svamp",
            env!("CARGO_PKG_VERSION"),
            "SVAMP rows: question = question_concat or Body + Question, answer = Answer as a number; \
             options question_field, answer_field, id_field",
        )
        .text_option("question_field", "question_concat, else Body + Question", "record field that holds the question")
        .text_option("answer_field", "Answer", "record field that holds the reference answer")
        .text_option("id_field", "ID", "record field that holds the problem id")
    }

    fn adapt(record: &Value, line: u32, options: &Options) -> Result<Problem, String> {
        convert::convert(record, line, &FieldOptions::from_options(options.0))
    }
}

econ_plugin_sdk::dataset_adapter!(Svamp);

#[cfg(test)]
mod tests {
    use super::*;
    use econ_plugin_sdk::dataset_adapter::{RawRecord, adapt_all};

    /// Made up for this test, in the original SVAMP layout and in HF
    /// ChilleD/SVAMP's (with `question_concat`).
    const ROWS: [&str; 2] = [
        r#"{"ID": "chal-1", "Body": "Ann had 12 stickers. She gave 5 of them to her brother.", "Question": "How many stickers does Ann have now?", "Equation": "( 12.0 - 5.0 )", "Answer": 7.0, "Type": "Subtraction"}"#,
        r#"{"ID": "chal-2", "Body": "A box holds 6 pens.", "Question": "How many pens are in 4 boxes?", "Equation": "( 6.0 * 4.0 )", "Answer": 24.0, "Type": "Multiplication", "question_concat": "A box holds 6 pens. How many pens are in 4 boxes?"}"#,
    ];

    fn records(rows: &[&str]) -> Vec<RawRecord> {
        rows.iter()
            .enumerate()
            .map(|(i, json)| RawRecord {
                line: i as u32 + 1,
                json: json.to_string(),
            })
            .collect()
    }

    #[test]
    fn rows_convert_and_bad_rows_name_their_line() {
        let rows = [ROWS[0], ROWS[1], "{", r#"{"Body": "b", "Question": "q"}"#];
        let out = adapt_all::<Svamp>(records(&rows), vec![]);
        let first = out[0].as_ref().unwrap();
        assert_eq!((first.id.as_str(), first.answer.as_str()), ("chal-1", "7"));
        assert_eq!(
            first.question,
            "Ann had 12 stickers. She gave 5 of them to her brother. How many stickers does Ann have now?"
        );
        let second = out[1].as_ref().unwrap();
        assert_eq!(
            second.question,
            "A box holds 6 pens. How many pens are in 4 boxes?"
        );
        assert_eq!(second.answer, "24");
        assert!(
            out[2]
                .as_ref()
                .unwrap_err()
                .starts_with("line 3: not valid JSON")
        );
        assert_eq!(
            out[3].as_ref().unwrap_err(),
            "line 4: missing field \"Answer\""
        );
    }

    #[test]
    fn manifest_names_the_plugin() {
        assert_eq!(Svamp::manifest().name, "adapter-svamp");
    }
}
