//! adapter-math: MATH rows (`problem`, `solution` ending in `\boxed{...}`,
//! `level`, `type`) to problems whose answer is the last box's contents in
//! parser-math's canonical LaTeX. The logic is in [`convert`]; this file
//! wires it into the SDK.

pub mod convert;

use answer_core::record::FieldOptions;
use econ_plugin_sdk::dataset_adapter::{DatasetAdapter, Manifest, Options, Problem};
use econ_plugin_sdk::serde_json::Value;

/// The plugin: [`convert::convert`] behind the SDK trait.
pub struct Math;

impl DatasetAdapter for Math {
    fn manifest() -> Manifest {
        Manifest::new(
            "adapter-math",
            env!("CARGO_PKG_VERSION"),
            "MATH rows: question = problem, answer = last \\boxed{} of solution as canonical LaTeX; \
             options question_field, answer_field, id_field",
        )
        .text_option("question_field", "problem", "record field that holds the question")
        .text_option("answer_field", "solution", "record field that holds the reference answer")
        .text_option("id_field", "id, then unique_id", "record field that holds the problem id")
    }

    fn adapt(record: &Value, line: u32, options: &Options) -> Result<Problem, String> {
        convert::convert(record, line, &FieldOptions::from_options(options.0))
    }
}

econ_plugin_sdk::dataset_adapter!(Math);

#[cfg(test)]
mod tests {
    use super::*;
    use econ_plugin_sdk::dataset_adapter::{RawRecord, adapt_all};

    #[test]
    fn rows_convert_and_a_row_without_a_box_names_its_line() {
        let rows = [
            r#"{"problem": "What is $\\frac{3}{6}$ in lowest terms?", "solution": "Divide both by 3: $\\frac{3}{6} = \\boxed{\\dfrac{1}{2}}$.", "level": "Level 1", "type": "Prealgebra"}"#,
            r#"{"problem": "What is $2+2$?", "solution": "It is 4.", "level": "Level 1", "type": "Prealgebra"}"#,
        ];
        let records = rows
            .iter()
            .enumerate()
            .map(|(i, json)| RawRecord {
                line: i as u32 + 1,
                json: json.to_string(),
            })
            .collect();
        let out = adapt_all::<Math>(records, vec![]);
        let first = out[0].as_ref().unwrap();
        assert_eq!(
            (first.id.as_str(), first.answer.as_str()),
            ("math-1", "\\frac{1}{2}")
        );
        let err = out[1].as_ref().unwrap_err();
        assert!(
            err.starts_with("line 2: field \"solution\"") && err.contains("boxed"),
            "{err}"
        );
    }

    #[test]
    fn manifest_names_the_plugin() {
        assert_eq!(Math::manifest().name, "adapter-math");
    }
}
