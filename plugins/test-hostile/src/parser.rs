//! Answers from the last `\boxed{...}` or a JSON `"final_value"`; the
//! reference or a text holding `HOSTILE:<what>` makes it misbehave.
use econ_plugin_sdk::answer_parser::bindings::exports::econ::plugins::parser::Guest;
use econ_plugin_sdk::answer_parser::*;

struct Hostile;

impl AnswerParser for Hostile {
    fn manifest() -> Manifest {
        Manifest::new(
            "test-hostile-parser",
            "0.1.0",
            "misbehaves on HOSTILE:<what> answers",
        )
    }

    fn extract(text: &str, _: &Options) -> Extraction {
        let boxed = text.rfind("\\boxed{").and_then(|at| {
            let rest = &text[at + "\\boxed{".len()..];
            rest.find('}').map(|end| rest[..end].trim().to_string())
        });
        let json = || {
            let rest = &text[text.find("\"final_value\"")? + "\"final_value\"".len()..];
            let rest = rest.trim_start().strip_prefix(':')?.trim_start();
            Some(match rest.strip_prefix('"') {
                Some(quoted) => quoted[..quoted.find('"')?].to_string(),
                None => rest[..rest.find([',', '}'])?].trim().to_string(),
            })
        };
        match boxed {
            Some(answer) => Extraction {
                answer: Some(answer),
                method: "boxed".into(),
            },
            None => match json() {
                Some(answer) => Extraction {
                    answer: Some(answer),
                    method: "json".into(),
                },
                None => Extraction {
                    answer: None,
                    method: "none".into(),
                },
            },
        }
    }

    fn equivalent(reference: &str, candidate: &str, _: &Options) -> bool {
        reference.trim() == candidate.trim()
    }
}

econ_plugin_sdk::__impl_meta!(answer_parser, AnswerParser, Hostile, AnswerParser);

impl Guest for Hostile {
    fn extract(texts: Vec<String>, options: Vec<(String, String)>) -> Vec<Extraction> {
        let what = crate::first_what(texts.iter().map(String::as_str));
        crate::act(what, "extract");
        let mut out: Vec<_> = texts
            .iter()
            .map(|t| <Hostile as AnswerParser>::extract(t, &Options(&options)))
            .collect();
        match what {
            "short" => {
                out.pop();
            }
            "alias" => {
                for e in &mut out {
                    let mut two = crate::aliases(2);
                    e.method = two.pop().unwrap_or_default();
                    e.answer = two.pop();
                }
            }
            _ => {}
        }
        out
    }

    fn equivalent(
        reference: String,
        candidates: Vec<String>,
        options: Vec<(String, String)>,
    ) -> Vec<bool> {
        let what = crate::what(&reference);
        crate::act(what, "equivalent");
        let mut out: Vec<bool> = candidates
            .iter()
            .map(|c| <Hostile as AnswerParser>::equivalent(&reference, c, &Options(&options)))
            .collect();
        if what == "short" {
            out.pop();
        }
        out
    }
}

econ_plugin_sdk::answer_parser::bindings::__export_answer_parser!(Hostile);
