//! answer-core: final answers out of model text and dataset records, and
//! whether two answers are the same. Plain Rust, no plugin bindings: the
//! answer parsers (parser-boxed, parser-math) and the dataset adapters link
//! it and wrap it in their world, so both sides of a comparison reduce
//! answers the same way.
//!
//! - [`extract()`] / [`extract_with()`]: the cascade json -> boxed ->
//!   json-field -> hash -> answer-phrase -> last-number.
//! - [`normalize()`] / [`equivalent()`]: numeric answers (GSM8K, SVAMP).
//! - [`math`]: LaTeX answers (MATH): a canonical form and an equivalence
//!   that compares values, tuples, intervals and simple expressions.
//! - [`record`]: reading fields out of dataset records, with errors that
//!   name the field.

mod equiv;
mod extract;
pub mod latex;
pub mod math;
mod normalize;
pub mod number;
pub mod record;

pub use equiv::equivalent;
pub use extract::{Found, Method, Normalizer, extract, extract_with};
pub use normalize::normalize;
