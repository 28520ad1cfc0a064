//! The extraction cascade: the most explicit marker of a final answer wins.
//!
//! json -> boxed -> json-field -> hash -> answer-phrase -> last-number -> none.
//! The JSON steps come from ECON's commitment parser: a coordinator answers
//! with `{"final_value": ..., "confidence": 0.9}`, where the last number would
//! be the confidence. They only fire on JSON, so executor text is unaffected.

use crate::latex::boxed_contents;
use crate::normalize::normalize;
use crate::number;
use serde_json::{self, Value};

/// How an answer was found; the host counts these for parse rates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Json,
    Boxed,
    JsonField,
    Hash,
    AnswerPhrase,
    LastNumber,
    None,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Json => "json",
            Method::Boxed => "boxed",
            Method::JsonField => "json-field",
            Method::Hash => "hash",
            Method::AnswerPhrase => "answer-phrase",
            Method::LastNumber => "last-number",
            Method::None => "none",
        }
    }
}

/// A normalised answer (never empty) and how it was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub answer: Option<String>,
    pub method: Method,
}

/// Turns a raw answer into its comparable form (see [`normalize`]).
pub type Normalizer = fn(&str) -> String;

type Step = fn(&str, Normalizer) -> Option<String>;

const CASCADE: &[(Method, Step)] = &[
    (Method::Json, from_json),
    (Method::Boxed, from_boxes),
    (Method::JsonField, from_json_field),
    (Method::Hash, from_hashes),
    (Method::AnswerPhrase, from_answer_phrase),
    (Method::LastNumber, from_last_number),
];

/// The cascade with the numeric normaliser of [`normalize`].
pub fn extract(text: &str) -> Found {
    extract_with(text, normalize)
}

/// The cascade, each answer reduced by `norm` (a parser for other answer
/// styles, e.g. LaTeX, brings its own); `norm` must be idempotent.
pub fn extract_with(text: &str, norm: Normalizer) -> Found {
    for &(method, step) in CASCADE {
        if let Some(answer) = step(text, norm) {
            return Found {
                answer: Some(answer),
                method,
            };
        }
    }
    Found {
        answer: None,
        method: Method::None,
    }
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

/// The whole text (code fences allowed) is an object with `final_value`/`final`.
fn from_json(text: &str, norm: Normalizer) -> Option<String> {
    let t = text.trim();
    if !t.starts_with('{') && !t.starts_with("```") {
        return None;
    }
    let body: Vec<&str> = t
        .lines()
        .filter(|l| !l.trim_start().starts_with("```"))
        .collect();
    let value: Value = serde_json::from_str(&body.join("\n")).ok()?;
    let object = value.as_object()?;
    let raw = match object.get("final_value").or_else(|| object.get("final"))? {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    non_empty(norm(&raw))
}

/// The last box whose contents normalise to something.
fn from_boxes(text: &str, norm: Normalizer) -> Option<String> {
    boxed_contents(text)
        .into_iter()
        .rev()
        .find_map(|c| non_empty(norm(c)))
}

/// `"final_value": "..."` in JSON that did not parse (cut off by max_tokens).
fn from_json_field(text: &str, norm: Normalizer) -> Option<String> {
    for (i, _) in text.match_indices("\"final") {
        let rest = &text[i + "\"final".len()..];
        let Some(rest) = rest
            .strip_prefix("_value\"")
            .or_else(|| rest.strip_prefix('"'))
        else {
            continue;
        };
        let Some(rest) = rest.trim_start().strip_prefix(':') else {
            continue;
        };
        let Some(rest) = rest.trim_start().strip_prefix('"') else {
            continue;
        };
        if let Some((value, _)) = rest.split_once('"')
            && let Some(answer) = non_empty(norm(value))
        {
            return Some(answer);
        }
    }
    None
}

/// GSM8K style `#### 72`, the last marker with something after it.
fn from_hashes(text: &str, norm: Normalizer) -> Option<String> {
    text.rmatch_indices("####").find_map(|(i, _)| {
        let tail = text[i + 4..].trim_start_matches('#');
        pick(tail.lines().next().unwrap_or(""), norm)
    })
}

/// The last `answer is X` / `Answer: X` / `answer = X` that yields an answer.
fn from_answer_phrase(text: &str, norm: Normalizer) -> Option<String> {
    let b = text.as_bytes();
    let mut found = None;
    for i in 0..b.len().saturating_sub(5) {
        if !b[i..i + 6].eq_ignore_ascii_case(b"answer") {
            continue;
        }
        if i > 0 && b[i - 1].is_ascii_alphanumeric() {
            continue;
        }
        if let Some(start) = phrase_end(b, i + 6)
            && let Some(answer) = pick(sentence(&text[start..]), norm)
        {
            found = Some(answer);
        }
    }
    found
}

/// Where the answer starts after `answer`, if a copula or `:`/`=` follows.
fn phrase_end(b: &[u8], mut j: usize) -> Option<usize> {
    let skip = |j: &mut usize, set: &[u8]| {
        while b.get(*j).is_some_and(|c| set.contains(c)) {
            *j += 1;
        }
    };
    // Markdown bold is common: `**Final Answer:** 18`, `**Answer**: 18`.
    skip(&mut j, b"*_ \t");
    let is = b
        .get(j..j + 2)
        .is_some_and(|w| w.eq_ignore_ascii_case(b"is"))
        && !b.get(j + 2).is_some_and(u8::is_ascii_alphanumeric);
    if is {
        j += 2;
        skip(&mut j, b"*_ \t:");
    } else if matches!(b.get(j), Some(b':' | b'=')) {
        j += 1;
        skip(&mut j, b"*_ \t");
    } else {
        return None;
    }
    Some(j)
}

/// The rest of the line, up to the end of its sentence.
fn sentence(tail: &str) -> &str {
    let line = tail.lines().next().unwrap_or("");
    let end = [". ", ".\t"].iter().filter_map(|p| line.find(p)).min();
    end.map_or(line, |e| &line[..e])
}

/// The answer in a phrase's tail: the whole tail if it is a number or a short
/// formula, else the first number in it.
fn pick(candidate: &str, norm: Normalizer) -> Option<String> {
    let c = candidate
        .trim()
        .trim_end_matches(['.', '*', ',', ';'])
        .trim();
    if c.is_empty() {
        return None;
    }
    let n = norm(c);
    if number::value(&n).is_some() {
        return Some(n);
    }
    let words = c.split_whitespace().count();
    let formula = words <= 4 && c.contains(|ch: char| ch.is_ascii_digit() || ch == '\\');
    // `(B)`, `no`: a short token is an answer, `clear` or `simple` is prose.
    let token = words == 1 && (c.chars().count() <= 3 || !c.chars().all(char::is_alphabetic));
    if (formula || token) && !n.is_empty() {
        return Some(n);
    }
    number::first_number(c).and_then(|x| non_empty(norm(x)))
}

fn from_last_number(text: &str, norm: Normalizer) -> Option<String> {
    number::last_number(text).and_then(|x| non_empty(norm(x)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, answer: Option<&str>, method: &str) {
        let f = extract(text);
        assert_eq!(
            (f.answer.as_deref(), f.method.as_str()),
            (answer, method),
            "{text:?}"
        );
    }

    #[test]
    fn each_step_of_the_cascade() {
        check(
            r#"{"final_value": "18", "confidence": 0.9}"#,
            Some("18"),
            "json",
        );
        check("so \\boxed{18} dollars", Some("18"), "boxed");
        check(
            r#"{"final_value": "18", "reasoning": "cut o"#,
            Some("18"),
            "json-field",
        );
        check("5 + 13 = 18\n#### 18", Some("18"), "hash");
        check("The answer is 18.", Some("18"), "answer-phrase");
        check("5 + 13 = 18", Some("18"), "last-number");
        check("I cannot tell.", None, "none");
        check("", None, "none");
    }

    #[test]
    fn json_variants() {
        let fenced = "```json\n{\"final\": 42, \"reasoning\": \"all agree\"}\n```";
        check(fenced, Some("42"), "json");
        check(
            r#"{"final_value": "\\boxed{7}", "confidence": 1.0}"#,
            Some("7"),
            "json",
        );
        // No final value: a box in the reasoning is the next best thing.
        check(
            r#"{"reasoning": "all gave \\boxed{3}", "confidence": 1.0}"#,
            Some("3"),
            "boxed",
        );
        check("[1, 2]", Some("2"), "last-number");
    }

    #[test]
    fn answer_phrases() {
        check("**Final Answer:** $1,234", Some("1234"), "answer-phrase");
        check("Answer: 18 dollars", Some("18"), "answer-phrase");
        check("the answer = -3.50", Some("-3.5"), "answer-phrase");
        check("The answer is (B)", Some("(B)"), "answer-phrase");
        let prose = "So the answer is that Janet makes $18 every day at the market.";
        check(prose, Some("18"), "answer-phrase");
        check("The answer is 7. Then 9 more.", Some("7"), "answer-phrase");
        // Prose after the phrase is not an answer; the last number is used.
        check(
            "Check: 4 + 5 = 9. The answer is clear now.",
            Some("9"),
            "last-number",
        );
        check("She answered: 3 then 4", Some("4"), "last-number");
    }
}
