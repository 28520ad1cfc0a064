//! Records with `id`, `question` and `answer`; a record that holds
//! `HOSTILE:<what>` makes the whole batch misbehave.
use econ_plugin_sdk::dataset_adapter::bindings::exports::econ::plugins::adapter::Guest;
use econ_plugin_sdk::dataset_adapter::*;
use econ_plugin_sdk::serde_json::Value;

struct Hostile;

impl DatasetAdapter for Hostile {
    fn manifest() -> Manifest {
        Manifest::new(
            "test-hostile-adapter",
            "0.1.0",
            "misbehaves on HOSTILE:<what> records",
        )
        // Takes the jsonl adapter's place in the simulated world's config.
        .text_option(
            "id_field",
            "id",
            "accepted for configs written for adapter-jsonl; the id is always `id`",
        )
    }

    fn adapt(record: &Value, line: u32, _options: &Options) -> Result<Problem, String> {
        let field = |name: &str| match record.get(name) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(Value::Number(n)) => Ok(n.to_string()),
            _ => Err(format!("line {line}: no {name}")),
        };
        Ok(Problem {
            id: field("id")?,
            question: field("question")?,
            answer: field("answer")?,
            metadata: Vec::new(),
        })
    }
}

econ_plugin_sdk::__impl_meta!(dataset_adapter, DatasetAdapter, Hostile, DatasetAdapter);

impl Guest for Hostile {
    fn adapt(
        records: Vec<RawRecord>,
        options: Vec<(String, String)>,
    ) -> Vec<Result<Problem, String>> {
        let what = crate::first_what(records.iter().map(|r| r.json.as_str())).to_string();
        crate::act(&what, "adapt");
        let mut out = adapt_all::<Hostile>(records, options);
        match what.as_str() {
            "short" => {
                out.pop();
            }
            "alias" => {
                for problem in out.iter_mut().flatten() {
                    let values = crate::aliases(1000);
                    problem.metadata = values
                        .into_iter()
                        .map(|v| ("alias".to_string(), v))
                        .collect();
                }
            }
            _ => {}
        }
        out
    }
}

econ_plugin_sdk::dataset_adapter::bindings::__export_dataset_adapter!(Hostile);
