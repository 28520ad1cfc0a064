//! API keys: read from the environment variable a config names, sent as a
//! Bearer token, never shown.

use std::fmt;

use anyhow::{Result, anyhow, bail};
use reqwest::header::HeaderValue;

/// An API key. Debug prints `***`; there is no Display.
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into())
    }

    /// The key in the environment variable `var`; the error names the
    /// variable, never a value.
    pub fn from_env(var: &str) -> Result<Self> {
        match std::env::var(var) {
            Ok(key) if !key.trim().is_empty() => Ok(ApiKey(key.trim().to_string())),
            Ok(_) => bail!("environment variable {var} (the API key) is empty"),
            Err(std::env::VarError::NotPresent) => {
                bail!("environment variable {var} (the API key) is not set")
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                bail!("environment variable {var} (the API key) is not valid UTF-8")
            }
        }
    }

    pub(crate) fn header(&self) -> Result<HeaderValue> {
        let mut value = HeaderValue::from_str(&format!("Bearer {}", self.0))
            .map_err(|_| anyhow!("the API key contains characters not allowed in a header"))?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// `text` with every occurrence of the key replaced by `***`.
    pub(crate) fn mask(&self, text: &str) -> String {
        if self.0.len() < 4 {
            return text.to_string();
        }
        text.replace(&self.0, "***")
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}
