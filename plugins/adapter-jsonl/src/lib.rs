//! adapter-jsonl: any data set with one question field and one answer field
//! per record; field names come from the options. The logic is in
//! [`convert`]; this file wires it into the SDK.

pub mod convert;

use answer_core::record::FieldOptions;
use econ_plugin_sdk::dataset_adapter::{DatasetAdapter, Manifest, Options, Problem};
use econ_plugin_sdk::serde_json::Value;

/// The plugin: [`convert::convert`] behind the SDK trait.
pub struct Jsonl;

impl DatasetAdapter for Jsonl {
    fn manifest() -> Manifest {
        Manifest::new(
            "adapter-jsonl",
            env!("CARGO_PKG_VERSION"),
            "generic rows: options question_field (question), answer_field (answer; a string, number or \
             boolean, text after #### if present), id_field (default row-<line>), category_field",
        )
        .text_option("question_field", "question", "record field that holds the question")
        .text_option("answer_field", "answer", "record field that holds the reference answer")
        .text_option("id_field", "", "record field that holds the problem id (without it: row-<line>)")
        .text_option(
            "category_field",
            "",
            "record field that names the problem's category: metadata `category`, for the report's \
             accuracy and actions by category; never shown to the agents",
        )
    }

    fn adapt(record: &Value, line: u32, options: &Options) -> Result<Problem, String> {
        convert::convert(record, line, &FieldOptions::from_options(options.0))
    }
}

econ_plugin_sdk::dataset_adapter!(Jsonl);

#[cfg(test)]
mod tests {
    use super::*;
    use econ_plugin_sdk::dataset_adapter::{RawRecord, adapt_all};

    #[test]
    fn rows_convert_with_options_and_bad_rows_name_their_line() {
        let rows = [
            r#"{"prompt": "Is 7 prime?", "target": true}"#,
            r#"{"prompt": "2+2?", "target": [4]}"#,
            r#"{"prompt": "Capital of France?", "target": " Paris "}"#,
        ];
        let records = rows
            .iter()
            .enumerate()
            .map(|(i, json)| RawRecord {
                line: i as u32 + 1,
                json: json.to_string(),
            })
            .collect();
        let options = vec![
            ("question_field".to_string(), "prompt".to_string()),
            ("answer_field".to_string(), "target".to_string()),
        ];
        let out = adapt_all::<Jsonl>(records, options);
        let first = out[0].as_ref().unwrap();
        assert_eq!(
            (first.id.as_str(), first.answer.as_str()),
            ("row-1", "true")
        );
        let err = out[1].as_ref().unwrap_err();
        assert!(
            err.starts_with("line 2: field \"target\" is an array"),
            "{err}"
        );
        assert_eq!(out[2].as_ref().unwrap().answer, "Paris");
    }

    #[test]
    fn manifest_names_the_plugin() {
        assert_eq!(Jsonl::manifest().name, "adapter-jsonl");
    }
}
