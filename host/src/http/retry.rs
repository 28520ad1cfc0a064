//! The one retry loop of every HTTP client: exponential backoff with jitter,
//! the server's Retry-After when longer, and an error that says how many
//! attempts were made and why the last one failed.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Result, bail};

use super::{Failure, FailureKind};

/// A server refused a request as malformed or not allowed (a 4xx other than
/// 408, 409 and 429): the configuration must change, sending it again (or
/// resuming) cannot help. Found in an error's chain by [`is_refused`].
#[derive(Debug)]
pub struct Refused {
    pub status: u16,
    /// The server's answer (its start), secrets masked.
    pub message: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the server refused the request (HTTP {}): {}",
            self.status, self.message
        )
    }
}

impl std::error::Error for Refused {}

/// Whether an error comes from a server refusing a request.
pub fn is_refused(error: &anyhow::Error) -> bool {
    error.chain().any(|e| e.is::<Refused>())
}

/// The longest `Retry-After` honoured; a server asking for more gets this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Exponential backoff with equal jitter, shared by the HTTP clients (chat
/// completions here, embeddings in `crate::embed::remote`).
pub(crate) struct Backoff {
    base: Duration,
    cap: Duration,
    rng: AtomicU64,
}

impl Backoff {
    /// `base` before the first retry, doubled per retry up to `cap`.
    pub(crate) fn new(base: Duration, cap: Duration) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9_7f4a_7c15)
            | 1;
        Backoff {
            base,
            cap,
            rng: AtomicU64::new(seed),
        }
    }

    /// Backoff before retry number `retry` (1-based): the doubled delay,
    /// then drawn uniformly from [delay/2, delay].
    pub(crate) fn delay(&self, retry: u32) -> Duration {
        let base = self.base.as_secs_f64();
        let cap = self.cap.as_secs_f64().max(base);
        let delay = (base * 2f64.powi(retry.saturating_sub(1).min(30) as i32)).min(cap);
        // xorshift64*: enough randomness for jitter, no extra dependency.
        let mut x = self.rng.load(Ordering::Relaxed);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.store(x, Ordering::Relaxed);
        let unit = (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64;
        Duration::from_secs_f64(delay * (0.5 + 0.5 * unit))
    }
}

/// After failed attempt number `attempt` (1-based): how long to wait before
/// the next one (the backoff, or the server's Retry-After when longer), or
/// the final error once the failure is not retryable or `max_retries` are
/// spent. `what` is the failure's text, the API key already masked; `service`
/// ("LLM", "embeddings") starts the messages.
fn retry_delay(
    service: &str,
    failure: &Failure,
    what: &str,
    attempt: u32,
    max_retries: u32,
    backoff: &Backoff,
) -> Result<Duration> {
    let attempts = max_retries.saturating_add(1);
    if !failure.retryable {
        if let FailureKind::Status(status, _) = &failure.kind
            && status.is_client_error()
        {
            return Err(anyhow::Error::new(Refused {
                status: status.as_u16(),
                message: what.to_string(),
            })
            .context(format!("{service} request (not retried)")));
        }
        bail!("{service} request failed on attempt {attempt} of {attempts} (not retried): {what}");
    }
    if attempt >= attempts {
        bail!(
            "{service} request failed after {attempt} attempts (max_retries = {max_retries}): {what}"
        );
    }
    let mut delay = backoff.delay(attempt);
    if let Some(after) = failure.retry_after {
        delay = delay.max(after.min(MAX_RETRY_AFTER));
    }
    tracing::warn!(
        "{service} request attempt {attempt} of {attempts} failed: {what}; retrying in {delay:.1?}"
    );
    Ok(delay)
}

/// Run `attempt` (given its 1-based number) until it succeeds, fails in a way
/// not worth retrying, or `max_retries` retries are spent, waiting the
/// backoff between. `service` ("LLM", "embeddings") starts the messages;
/// `mask` hides secrets in the failure's text before it is logged or returned.
pub(crate) async fn with_retries<T, Fut>(
    service: &str,
    max_retries: u32,
    backoff: &Backoff,
    mask: impl Fn(&str) -> String,
    mut attempt: impl FnMut(u32) -> Fut,
) -> Result<T>
where
    Fut: Future<Output = Result<T, Failure>>,
{
    let mut number = 0;
    loop {
        number += 1;
        match attempt(number).await {
            Ok(value) => return Ok(value),
            Err(failure) => {
                let what = mask(&failure.to_string());
                let delay = retry_delay(service, &failure, &what, number, max_retries, backoff)?;
                tokio::time::sleep(delay).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        let backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(1000));
        for _ in 0..50 {
            let d1 = backoff.delay(1).as_secs_f64();
            assert!((0.05..=0.1).contains(&d1), "{d1}");
            let d3 = backoff.delay(3).as_secs_f64();
            assert!((0.2..=0.4).contains(&d3), "{d3}");
            let d9 = backoff.delay(9).as_secs_f64();
            assert!((0.5..=1.0).contains(&d9), "{d9}");
        }
    }
}
