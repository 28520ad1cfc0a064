//! Reading fields of dataset records (one JSON object each), with errors that
//! name the field. The SDK's `adapt_all` adds the line to every message.

use serde_json::{Map, Number, Value};

pub type Object = Map<String, Value>;

/// The record as an object, or an error saying what it is instead.
pub fn object(record: &Value) -> Result<&Object, String> {
    record
        .as_object()
        .ok_or_else(|| format!("record is not a JSON object but {}", kind(record)))
}

/// A field by its exact name; JSON `null` counts as absent.
pub fn get<'a>(object: &'a Object, name: &str) -> Option<&'a Value> {
    object.get(name).filter(|v| !v.is_null())
}

/// A field by its exact name, else the first whose name differs only in
/// ASCII case (`answer` for `Answer`); JSON `null` counts as absent.
pub fn get_any_case<'a>(object: &'a Object, name: &str) -> Option<&'a Value> {
    get(object, name).or_else(|| {
        object
            .iter()
            .find(|(k, v)| k.eq_ignore_ascii_case(name) && !v.is_null())
            .map(|(_, v)| v)
    })
}

/// A string field, trimmed; missing, empty or not a string is an error.
pub fn text<'a>(value: Option<&'a Value>, name: &str) -> Result<&'a str, String> {
    match value {
        None | Some(Value::Null) => Err(format!("missing field \"{name}\"")),
        Some(Value::String(s)) if s.trim().is_empty() => Err(format!("field \"{name}\" is empty")),
        Some(Value::String(s)) => Ok(s.trim()),
        Some(other) => Err(format!("field \"{name}\" is {}, not a string", kind(other))),
    }
}

/// A scalar field as text: a string trimmed, a number in canonical form
/// (`15.0` -> `15`), a boolean as `true` / `false`.
pub fn scalar(value: Option<&Value>, name: &str) -> Result<String, String> {
    match value {
        Some(Value::Number(n)) => Ok(number_text(n)),
        Some(Value::Bool(b)) => Ok(b.to_string()),
        Some(Value::Array(_) | Value::Object(_)) => Err(format!(
            "field \"{name}\" is {}, not a string, number or boolean",
            kind(value.unwrap_or(&Value::Null))
        )),
        _ => text(value, name).map(str::to_string),
    }
}

/// A JSON number as a plain decimal: integers as they are, others by their
/// shortest round-trip digits without exponent (`15.0` -> `15`, `1e-3` ->
/// `0.001`).
pub fn number_text(n: &Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    n.as_f64()
        .and_then(crate::number::format_value)
        .unwrap_or_else(|| n.to_string())
}

/// The record's id (a string or a number), else `fallback()` when absent.
pub fn id(
    value: Option<&Value>,
    name: &str,
    fallback: impl FnOnce() -> String,
) -> Result<String, String> {
    match value {
        None | Some(Value::Null) => Ok(fallback()),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        Some(Value::String(_)) => Err(format!("field \"{name}\" is empty")),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(other) => Err(format!(
            "field \"{name}\" is {}, not a string or number",
            kind(other)
        )),
    }
}

/// A field as trace metadata: strings as they are, anything else as JSON;
/// `None` when absent.
pub fn metadata(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(number_text(n)),
        other => Some(other.to_string()),
    }
}

/// The value of option `key`, trimmed, when it is set and not empty (the
/// config section may carry other keys, and an empty value means "default").
pub fn option<'a>(options: &'a [(String, String)], key: &str) -> Option<&'a str> {
    options
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// The adapter options that rename fields: `question_field`, `answer_field`,
/// `id_field`, `category_field`; `None` where the option is absent or empty, so each adapter
/// applies its own default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldOptions {
    pub question: Option<String>,
    pub answer: Option<String>,
    pub id: Option<String>,
    /// The field that names a problem's category (kept as metadata
    /// `category`, for reports; never shown to the agents).
    pub category: Option<String>,
}

impl FieldOptions {
    pub fn from_options(options: &[(String, String)]) -> Self {
        let get = |key| option(options, key).map(str::to_string);
        FieldOptions {
            question: get("question_field"),
            answer: get("answer_field"),
            id: get("id_field"),
            category: get("category_field"),
        }
    }
}

/// "a number", "an array", ... for messages.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_and_their_errors() {
        let v = json!({"Answer": 15.0, "q": " hi ", "e": "", "n": null, "a": [1]});
        let o = object(&v).unwrap();
        assert_eq!(
            object(&json!([1])).unwrap_err(),
            "record is not a JSON object but an array"
        );
        assert_eq!(text(get(o, "q"), "q"), Ok("hi"));
        assert_eq!(text(get(o, "e"), "e").unwrap_err(), "field \"e\" is empty");
        assert_eq!(text(get(o, "n"), "n").unwrap_err(), "missing field \"n\"");
        assert_eq!(
            text(get(o, "Answer"), "Answer").unwrap_err(),
            "field \"Answer\" is a number, not a string"
        );
        assert_eq!(get(o, "answer"), None);
        assert_eq!(get_any_case(o, "answer"), Some(&json!(15.0)));
        assert_eq!(scalar(get(o, "Answer"), "Answer").as_deref(), Ok("15"));
        assert!(
            scalar(get(o, "a"), "a")
                .unwrap_err()
                .contains("is an array")
        );
        assert_eq!(scalar(Some(&json!(true)), "b").as_deref(), Ok("true"));
    }

    #[test]
    fn numbers_ids_metadata_options() {
        let num = |v: Value| number_text(v.as_number().unwrap());
        assert_eq!(num(json!(15.0)), "15");
        assert_eq!(num(json!(-2.50)), "-2.5");
        assert_eq!(num(json!(0.001)), "0.001");
        assert_eq!(num(json!(12345678901234_u64)), "12345678901234");
        assert_eq!(id(None, "id", || "row-3".into()).as_deref(), Ok("row-3"));
        assert_eq!(id(Some(&json!(7)), "id", String::new).as_deref(), Ok("7"));
        assert!(
            id(Some(&json!([])), "id", String::new)
                .unwrap_err()
                .contains("an array")
        );
        assert_eq!(metadata(Some(&json!("x"))).as_deref(), Some("x"));
        assert_eq!(metadata(Some(&json!(3.0))).as_deref(), Some("3"));
        assert_eq!(metadata(Some(&json!(null))), None);
        let opts = vec![
            ("question_field".to_string(), " Body ".to_string()),
            ("id_field".to_string(), " ".to_string()),
        ];
        assert_eq!(option(&opts, "question_field"), Some("Body"));
        assert_eq!(option(&opts, "id_field"), None);
        assert_eq!(option(&opts, "answer_field"), None);
        let fields = FieldOptions::from_options(&opts);
        assert_eq!(fields.question.as_deref(), Some("Body"));
        assert_eq!((fields.answer, fields.id), (None, None));
    }
}
