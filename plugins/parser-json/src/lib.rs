//! parser-json: final answers out of ECON's JSON-format outputs.
//!
//! ECON asks the coordinator (and, in its JSON prompt variants, the
//! executors) to answer with an object such as
//! `{"final_value": "18", "confidence": 0.9}`. Models wrap it in prose or in
//! a ```json fence, or call the field `final` or `answer`. [`extract()`]
//! looks for that object, in this order:
//!
//! 1. the contents of each ``` fence (```json or plain),
//! 2. the whole text,
//! 3. each balanced `{...}` object in the text, first to last,
//!
//! and takes the first object with a `final_value`, `final` or `answer` field
//! (searched first at its top level, then in nested objects) whose value
//! normalises to something. That answer's method is `"json"`, so it counts
//! toward the JSON parse rate. Failing that, answer-core's cascade (boxed,
//! json-field, `####`, "answer is", last number) decides, exactly as
//! parser-boxed does. Equivalence is parser-boxed's (numeric).

pub use answer_core::{Found, Method, equivalent, normalize};

use econ_plugin_sdk::answer_parser::{AnswerParser, Extraction, Manifest, Options};
use serde_json::{Map, Value};

/// The answer fields, most specific first.
pub const FIELDS: [&str; 3] = ["final_value", "final", "answer"];

/// How many `{` a text may make us try before we give up on objects (a
/// model output is a few KB; this bounds the work on adversarial input).
const MAX_OBJECT_TRIES: usize = 256;

/// How deep nested objects are searched for an answer field.
const MAX_NESTING: usize = 4;

/// The JSON object answer if there is one, else answer-core's cascade.
pub fn extract(text: &str) -> Found {
    match from_json_object(text) {
        Some(answer) => Found {
            answer: Some(answer),
            method: Method::Json,
        },
        None => answer_core::extract(text),
    }
}

/// Step 1-3 of the module docs: the first JSON object carrying an answer.
pub fn from_json_object(text: &str) -> Option<String> {
    fences(text)
        .into_iter()
        .chain(std::iter::once(text.trim()))
        .find_map(|candidate| {
            serde_json::from_str::<Value>(candidate)
                .ok()
                .and_then(|v| answer_in(&v, 0))
        })
        .or_else(|| embedded_objects(text))
}

/// The inside of every ``` fence, in order (an unclosed last fence runs to
/// the end of the text: output cut off by max_tokens).
fn fences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("```") {
        let after = &rest[open + 3..];
        // Skip the info string (`json`, `JSON`, ...) up to the end of its line.
        let body_start = after.find('\n').map_or(after.len(), |i| i + 1);
        let info = &after[..body_start];
        // ```{"final": 1}``` on one line: the "info string" is the body.
        let (body, tail) = if info.trim_start().starts_with('{') {
            match after.find("```") {
                Some(close) => (&after[..close], &after[close + 3..]),
                None => (after, ""),
            }
        } else {
            let body = &after[body_start..];
            match body.find("```") {
                Some(close) => (&body[..close], &body[close + 3..]),
                None => (body, ""),
            }
        };
        out.push(body.trim());
        rest = tail;
    }
    out
}

/// The first balanced object in `text` that parses and carries an answer.
fn embedded_objects(text: &str) -> Option<String> {
    let mut from = 0;
    let mut tries = 0;
    while let Some(offset) = text[from..].find('{') {
        let start = from + offset;
        tries += 1;
        if tries > MAX_OBJECT_TRIES {
            return None;
        }
        let mut stream = serde_json::Deserializer::from_str(&text[start..]).into_iter::<Value>();
        match stream.next() {
            Some(Ok(value)) => {
                if let Some(answer) = answer_in(&value, 0) {
                    return Some(answer);
                }
                // A whole object without an answer: look after it, not inside
                // it again (answer_in already searched its nested objects).
                from = start + stream.byte_offset().max(1);
            }
            _ => from = start + 1,
        }
    }
    None
}

/// The answer field of `value` (an object), or of an object nested in it.
fn answer_in(value: &Value, depth: usize) -> Option<String> {
    let object = value.as_object()?;
    if let Some(answer) = field(object) {
        return Some(answer);
    }
    if depth >= MAX_NESTING {
        return None;
    }
    object.values().find_map(|v| match v {
        Value::Object(_) => answer_in(v, depth + 1),
        _ => None,
    })
}

/// `final_value`, `final` or `answer` (any letter case), normalised.
fn field(object: &Map<String, Value>) -> Option<String> {
    FIELDS.iter().find_map(|name| {
        let value = object.get(*name).or_else(|| {
            object
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })?;
        let raw = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return None,
        };
        let answer = normalize(&raw);
        (!answer.is_empty()).then_some(answer)
    })
}

/// The plugin: [`extract()`] and [`equivalent()`] behind the SDK trait.
pub struct JsonParser;

impl AnswerParser for JsonParser {
    fn manifest() -> Manifest {
        Manifest::new(
            "parser-json",
            env!("CARGO_PKG_VERSION"),
            "ECON JSON outputs: final_value / final / answer of a JSON object (fenced, whole or \
             embedded in prose), then parser-boxed's cascade; numeric equivalence",
        )
    }

    fn extract(text: &str, _: &Options) -> Extraction {
        let found = extract(text);
        Extraction {
            answer: found.answer,
            method: found.method.as_str().into(),
        }
    }

    fn equivalent(reference: &str, candidate: &str, _: &Options) -> bool {
        equivalent(reference, candidate)
    }
}

econ_plugin_sdk::answer_parser!(JsonParser);

#[cfg(test)]
mod tests {
    use super::*;

    fn got(text: &str) -> (Option<String>, &'static str) {
        let f = extract(text);
        (f.answer, f.method.as_str())
    }

    fn json(answer: &str) -> (Option<String>, &'static str) {
        (Some(answer.to_string()), "json")
    }

    #[test]
    fn whole_text_objects() {
        assert_eq!(
            got(r#"{"final_value": "18", "confidence": 0.9}"#),
            json("18")
        );
        assert_eq!(got(r#"  {"final": 42.0}  "#), json("42"));
        assert_eq!(got(r#"{"answer": "$1,234"}"#), json("1234"));
        assert_eq!(got(r#"{"Final_Value": "\\boxed{7}"}"#), json("7"));
    }

    #[test]
    fn final_value_wins_over_answer() {
        assert_eq!(
            got(r#"{"answer": "wrong 3", "final_value": "5", "confidence": 0.2}"#),
            json("5")
        );
    }

    #[test]
    fn fenced_objects() {
        let text = "Here is my answer:\n```json\n{\"final_value\": \"72\", \"confidence\": 0.95}\n```\nThanks.";
        assert_eq!(got(text), json("72"));
        assert_eq!(got("```\n{\"final\": 9}\n```"), json("9"));
        assert_eq!(got("```{\"answer\": 11}```"), json("11"));
        // Cut off before the closing fence.
        assert_eq!(got("```json\n{\"final_value\": \"3\"}\n"), json("3"));
    }

    #[test]
    fn objects_embedded_in_prose() {
        let text = "We add 48 and 24. So the result is {\"final_value\": \"72\", \"confidence\": 0.8} as computed.";
        assert_eq!(got(text), json("72"));
        // LaTeX braces before the object are skipped.
        let text = "Since \\frac{1}{2} of 10 is 5, {\"reasoning\": \"half\", \"final\": \"5\"}";
        assert_eq!(got(text), json("5"));
        // The first object with an answer, after one without.
        let text = "{\"step\": 1} then {\"answer\": \"6\"} then {\"answer\": \"7\"}";
        assert_eq!(got(text), json("6"));
        // Nested.
        assert_eq!(got("{\"result\": {\"final_value\": \"4\"}}"), json("4"));
    }

    #[test]
    fn falls_back_to_the_cascade() {
        assert_eq!(got("so \\boxed{42}"), (Some("42".into()), "boxed"));
        assert_eq!(got("#### 10"), (Some("10".into()), "hash"));
        // Cut off mid-object: answer-core's json-field step.
        assert_eq!(
            got("{\"final_value\": \"15\", \"confidence"),
            (Some("15".into()), "json-field")
        );
        // An object with no answer field: its numbers are not an answer.
        assert_eq!(got("{\"confidence\": 0.9}").1, "last-number");
        assert_eq!(got("nothing here"), (None, "none"));
        // Empty or non-scalar answers do not count.
        assert_eq!(
            got("{\"answer\": \"\"} and \\boxed{3}"),
            (Some("3".into()), "boxed")
        );
        assert_eq!(
            got("{\"answer\": [1, 2]} \\boxed{3}"),
            (Some("3".into()), "boxed")
        );
    }

    #[test]
    fn equivalence_is_numeric() {
        assert!(equivalent("72", "72.00"));
        assert!(equivalent("1234", "$1,234"));
        assert!(!equivalent("72", "27"));
    }

    #[test]
    fn adversarial_braces_are_bounded() {
        let text = "{".repeat(100_000);
        assert_eq!(got(&text), (None, "none"));
        let text = "{\"a\":".repeat(10_000);
        assert_eq!(got(&text).0, None);
    }

    #[test]
    fn trait_wiring() {
        assert_eq!(JsonParser::manifest().name, "parser-json");
        let e = <JsonParser as AnswerParser>::extract("{\"final_value\": \"2\"}", &Options(&[]));
        assert_eq!(
            (e.answer.as_deref(), e.method.as_str()),
            (Some("2"), "json")
        );
        assert!(<JsonParser as AnswerParser>::equivalent(
            "42",
            "$42.00",
            &Options(&[])
        ));
    }
}
