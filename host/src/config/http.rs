//! The one validator of HTTP and retry settings, shared by every section that
//! talks to a server (`[llm.<role>]` with provider "openai", `[embedding]`).

use anyhow::{Result, bail};

/// `key` (e.g. "key llm.executor.base_url") holds an http(s) URL.
pub(crate) fn check_http_url(key: &str, url: &str) -> Result<()> {
    let url = url.trim();
    if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() <= "https://".len()
    {
        bail!("{key}: {url:?} is not an http:// or https:// URL");
    }
    Ok(())
}

/// `key` names an environment variable, not an API key.
pub(crate) fn check_api_key_env(key: &str, var: &str) -> Result<()> {
    // The message must not echo the value: it may be a pasted key.
    let is_name = !var.is_empty()
        && !var.starts_with(|c: char| c.is_ascii_digit())
        && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !is_name {
        bail!(
            "{key}: must be the name of an environment variable (letters, digits, _), \
             e.g. \"TOGETHER_API_KEY\", not the key itself"
        );
    }
    Ok(())
}

/// `key` holds a per-attempt HTTP timeout in seconds.
pub(crate) fn check_timeout_s(key: &str, timeout_s: f64) -> Result<()> {
    if !(timeout_s.is_finite() && timeout_s > 0.0 && timeout_s <= 86400.0) {
        bail!("{key}: {timeout_s} is outside (0, 86400] seconds");
    }
    Ok(())
}

/// `prefix` (e.g. "llm.executor", "embedding") retries back off from
/// `backoff_ms` up to `backoff_max_ms`.
pub(crate) fn check_remote_retries(
    prefix: &str,
    backoff_ms: u64,
    backoff_max_ms: u64,
) -> Result<()> {
    if backoff_ms > backoff_max_ms {
        bail!(
            "keys {prefix}.retry_backoff_ms/retry_backoff_max_ms: need first <= max, got {backoff_ms} > {backoff_max_ms}"
        );
    }
    Ok(())
}
