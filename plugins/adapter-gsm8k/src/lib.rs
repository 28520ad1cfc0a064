//! adapter-gsm8k: GSM8K rows (`question`, `answer` ending in `#### n`) to
//! problems. The logic is in [`convert`]; this file wires it into the SDK.

pub mod convert;

use econ_plugin_sdk::dataset_adapter::{DatasetAdapter, Manifest, Options, Problem};
use econ_plugin_sdk::serde_json::Value;

/// The plugin: [`convert::convert`] behind the SDK trait.
pub struct Gsm8k;

impl DatasetAdapter for Gsm8k {
    fn manifest() -> Manifest {
        Manifest::new(
            "adapter-gsm8k",
            env!("CARGO_PKG_VERSION"),
            "GSM8K rows: question, answer = text after ####; options question_field, answer_field, id_field",
        )
        .text_option("question_field", "question", "record field that holds the question")
        .text_option("answer_field", "answer", "record field that holds the reference answer")
        .text_option("id_field", "id", "record field that holds the problem id")
    }

    fn adapt(record: &Value, line: u32, options: &Options) -> Result<Problem, String> {
        convert::convert(record, line, &convert::Fields::from_options(options.0))
    }
}

econ_plugin_sdk::dataset_adapter!(Gsm8k);

#[cfg(test)]
mod tests {
    use super::*;
    use econ_plugin_sdk::dataset_adapter::{RawRecord, adapt_all};

    /// Rows from the GSM8K train set, calculator annotations included.
    const ROWS: [&str; 3] = [
        r#"{"question": "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did Natalia sell altogether in April and May?", "answer": "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.\n#### 72"}"#,
        r#"{"question": "Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting. How much did she earn?", "answer": "Weng earns 12/60 = $<<12/60=0.2>>0.2 per minute.\nWorking 50 minutes, she earned 0.2 x 50 = $<<0.2*50=10>>10.\n#### 10"}"#,
        r#"{"question": "Betty is saving money for a new wallet which costs $100. Betty has only half of the money she needs. Her parents decided to give her $15 for that purpose, and her grandparents twice as much as her parents. How much more money does Betty need to buy the wallet?", "answer": "In the beginning, Betty has only 100 / 2 = $<<100/2=50>>50.\nBetty's grandparents gave her 15 * 2 = $<<15*2=30>>30.\nThis means, Betty needs 100 - 50 - 30 - 15 = $<<100-50-30-15=5>>5 more.\n#### 5"}"#,
    ];

    /// Not from GSM8K: a made-up row with an `id` and a thousands separator.
    const WITH_ID: &str = r#"{"id": 2, "question": "A store sells 1,250 pens a week at $2 each. How much money does it make in 4 weeks?", "answer": "Each week it makes 1,250 * 2 = $<<1250*2=2500>>2,500.\nIn 4 weeks it makes 2,500 * 4 = $<<2500*4=10000>>10,000.\n#### 10,000"}"#;

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
    fn real_rows_convert() {
        let rows = [ROWS[0], ROWS[1], ROWS[2], WITH_ID];
        let problems: Vec<Problem> = adapt_all::<Gsm8k>(records(&rows), vec![])
            .into_iter()
            .collect::<Result<_, _>>()
            .unwrap();
        let summary: Vec<(&str, &str)> = problems
            .iter()
            .map(|p| (p.id.as_str(), p.answer.as_str()))
            .collect();
        let want = [
            ("gsm8k-1", "72"),
            ("gsm8k-2", "10"),
            ("gsm8k-3", "5"),
            ("2", "10000"),
        ];
        assert_eq!(summary, want);
        assert!(problems[0].question.starts_with("Natalia sold clips"));
        let (key, solution) = &problems[1].metadata[0];
        assert_eq!(key, "solution");
        assert!(solution.starts_with("Weng earns") && solution.ends_with("#### 10"));
    }

    #[test]
    fn a_bad_row_fails_alone_with_its_line() {
        let rows = [ROWS[0], "not json", r#"{"question": "q"}"#, ROWS[1]];
        let out = adapt_all::<Gsm8k>(records(&rows), vec![]);
        assert!(out[0].is_ok() && out[3].is_ok());
        let bad = out[1].as_ref().unwrap_err();
        assert!(bad.starts_with("line 2: not valid JSON"), "{bad}");
        let missing = out[2].as_ref().unwrap_err();
        assert_eq!(missing, "line 3: missing field \"answer\"");
    }

    #[test]
    fn manifest_names_the_plugin() {
        assert_eq!(Gsm8k::manifest().name, "adapter-gsm8k");
    }
}
