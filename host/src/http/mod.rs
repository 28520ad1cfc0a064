//! HTTP for every remote service (chat completions, embeddings, model and
//! dataset downloads): one TLS set-up that trusts the CAs a machine names
//! ([`tls`]), one way to POST JSON and say why it failed, one retry loop,
//! API keys that never show.

mod key;
pub(crate) mod pip;
mod post;
mod retry;
pub mod tls;

pub use key::ApiKey;
pub(crate) use pip::pip_config;
pub(crate) use post::{
    Failure, FailureKind, error_chain, http_client, parse_json, post_json, snippet,
};
pub(crate) use retry::{Backoff, with_retries};
pub use retry::{MAX_RETRY_AFTER, Refused, is_refused};

/// A URL as it may be shown or written down: credentials in it
/// (`https://user:password@host/...`) replaced by `***`. Text that is not
/// such a URL comes back unchanged.
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            let _ = u.set_username("***");
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// `text` with the credentials of every URL in it redacted ([`redact_url`]):
/// a command-line argument such as `--set=llm.executor.base_url="https://u:p@h/v1"`.
pub fn redact_urls_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let scheme = rest[..at]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || "+.-".contains(c)))
            .map_or(0, |i| i + 1);
        let end = rest[at..]
            .find(|c: char| c.is_whitespace() || "\"'<>,".contains(c))
            .map_or(rest.len(), |i| at + i);
        out.push_str(&rest[..scheme]);
        out.push_str(&redact_url(&rest[scheme..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Every string in a JSON value that is a URL with credentials, redacted
/// ([`redact_url`]): what run.json and summary.json hold of a config.
pub fn redact_urls(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(s) if s.contains('@') && s.contains("://") => {
            *s = redact_url(s);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_urls),
        serde_json::Value::Object(map) => map.values_mut().for_each(redact_urls),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_urls_never_show() {
        assert_eq!(
            redact_url("https://alice:s3cret@llm.example.org/v1"),
            "https://***:***@llm.example.org/v1"
        );
        assert_eq!(
            redact_url("http://127.0.0.1:8000/v1"),
            "http://127.0.0.1:8000/v1"
        );
        assert_eq!(
            redact_urls_in("--set=llm.executor.base_url=\"https://alice:s3cret@h/v1\""),
            "--set=llm.executor.base_url=\"https://***:***@h/v1\""
        );
        assert_eq!(redact_urls_in("run --config c.toml"), "run --config c.toml");
        let mut v = serde_json::json!({"llm": {"base_urls": ["http://u:p@h/v1"]}, "n": 3});
        redact_urls(&mut v);
        assert!(!v.to_string().contains("u:p@"), "{v}");
    }
}
