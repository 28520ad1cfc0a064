//! One POST of a JSON body, and why it failed: the status, a body snippet,
//! a timeout, an untrusted certificate; whether that is worth a retry.

use std::fmt;
use std::time::Duration;

use anyhow::{Context, Result};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};

/// How much of an error response's body goes into an error message.
const BODY_SNIPPET: usize = 300;

/// The HTTP client of an API client whose attempts time out after `timeout`.
pub(crate) fn http_client(timeout: Duration) -> Result<reqwest::Client> {
    super::tls::client_builder()
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .tcp_nodelay(true)
        .build()
        .context("building the HTTP client")
}

/// POST a JSON `body` to `url` and read the whole response within `timeout`:
/// the body of a 2xx answer, else why not (429, 408, 409 and 5xx, connection
/// errors, unreadable bodies and timeouts are retryable; any other 4xx is the
/// request's fault, and sending it again cannot help).
pub(crate) async fn post_json(
    http: &reqwest::Client,
    url: &str,
    auth: Option<&HeaderValue>,
    body: &[u8],
    timeout: Duration,
) -> Result<Vec<u8>, Failure> {
    let fail = |kind, retryable| Failure::new(url, kind, retryable);
    let exchange = async {
        let mut post = http
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_vec());
        if let Some(auth) = auth {
            post = post.header(AUTHORIZATION, auth.clone());
        }
        let response = post.send().await.map_err(|e| {
            let chain = error_chain(&e);
            // An untrusted certificate stays untrusted: say so at once.
            match super::tls::untrusted_certificate(&chain) {
                Some(why) => fail(FailureKind::Certificate(why), false),
                None => fail(FailureKind::Send(chain), true),
            }
        })?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let bytes = response
            .bytes()
            .await
            .map_err(|e| fail(FailureKind::Body(status, error_chain(&e)), true))?;
        if !status.is_success() {
            let retryable = status == StatusCode::TOO_MANY_REQUESTS
                || status == StatusCode::REQUEST_TIMEOUT
                || status == StatusCode::CONFLICT
                || status.is_server_error();
            let mut failure = fail(FailureKind::Status(status, snippet(&bytes)), retryable);
            failure.retry_after = retry_after;
            return Err(failure);
        }
        Ok(Vec::from(bytes))
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(result) => result,
        Err(_) => Err(fail(FailureKind::Timeout(timeout), true)),
    }
}

/// Why one attempt failed.
pub(crate) struct Failure {
    pub(crate) url: String,
    pub(crate) kind: FailureKind,
    pub(crate) retryable: bool,
    pub(crate) retry_after: Option<Duration>,
}

impl Failure {
    pub(crate) fn new(url: &str, kind: FailureKind, retryable: bool) -> Self {
        Failure {
            url: url.to_string(),
            kind,
            retryable,
            retry_after: None,
        }
    }
}

/// A 2xx body from `url` as JSON of type `T`; `what` names it in the error
/// (retryable: a truncated or garbled body may come right next time).
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    url: &str,
    bytes: &[u8],
    what: &'static str,
) -> Result<T, Failure> {
    serde_json::from_slice(bytes).map_err(|e| {
        let kind = FailureKind::InvalidJson(what, e.to_string(), snippet(bytes));
        Failure::new(url, kind, true)
    })
}

pub(crate) enum FailureKind {
    /// Connecting or sending failed (refused, reset, DNS, TLS).
    Send(String),
    /// The server's TLS certificate is not trusted (not retried): what to
    /// do about it, with the error chain.
    Certificate(String),
    /// The body could not be read (connection closed early, truncated).
    Body(StatusCode, String),
    Status(StatusCode, String),
    /// HTTP 200 but not the JSON expected: what was expected, the parse
    /// error, the body's start.
    InvalidJson(&'static str, String, String),
    NoChoices(String),
    Timeout(Duration),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = &super::redact_url(&self.url);
        match &self.kind {
            FailureKind::Send(e) => write!(f, "POST {url}: could not send the request: {e}"),
            FailureKind::Certificate(why) => write!(f, "POST {url}: {why}"),
            FailureKind::Body(status, e) => write!(
                f,
                "POST {url}: HTTP {status}, but the response body could not be read: {e}"
            ),
            FailureKind::Status(status, body) => {
                write!(f, "POST {url}: HTTP {status}")?;
                if let Some(after) = self.retry_after {
                    write!(f, " (Retry-After {} s)", after.as_secs_f64())?;
                }
                if !body.is_empty() {
                    write!(f, ": {body}")?;
                }
                Ok(())
            }
            FailureKind::InvalidJson(what, e, body) => write!(
                f,
                "POST {url}: HTTP 200 but the body is not a valid {what} ({e}); it starts: {body}"
            ),
            FailureKind::NoChoices(body) => {
                write!(f, "POST {url}: the response has no choices: {body}")
            }
            FailureKind::Timeout(t) => write!(
                f,
                "POST {url}: no complete response within the timeout of {} ms",
                t.as_millis()
            ),
        }
    }
}

/// `Retry-After` in its seconds form (`120`, also `1.5`); the HTTP-date form
/// is ignored (the backoff applies).
fn parse_retry_after(value: &str) -> Option<Duration> {
    let secs: f64 = value.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(1e6)))
}

/// The first bytes of a body, as text on one line.
pub(crate) fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(BODY_SNIPPET * 4)]);
    let mut out: String = text
        .chars()
        .take(BODY_SNIPPET)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().count() > BODY_SNIPPET || bytes.len() > BODY_SNIPPET * 4 {
        out.push('…');
    }
    if out.trim().is_empty() {
        return "(empty body)".into();
    }
    out
}

/// An error and its causes on one line ("error sending request: connection refused").
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds() {
        assert_eq!(parse_retry_after(" 2 "), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }
}
