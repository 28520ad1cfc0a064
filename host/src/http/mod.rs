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
pub use retry::{MAX_RETRY_AFTER, Refused, is_refused};
pub(crate) use retry::{Backoff, with_retries};
