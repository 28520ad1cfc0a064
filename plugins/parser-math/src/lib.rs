//! parser-math: final answers of MATH-style solutions, judged as LaTeX.
//!
//! Extraction is parser-boxed's cascade (json -> boxed -> json-field -> hash
//! -> answer-phrase -> last-number), each answer reduced to canonical LaTeX
//! by `answer_core::math::normalize_math` instead of to a number; equivalence
//! is `answer_core::math::equivalent_math` (values, tuples, intervals, sets,
//! equations and simple expressions, never "the last number"). The logic
//! lives in answer-core, shared with adapter-math; this file exposes it as
//! the `answer-parser` world.

pub use answer_core::math::{equivalent_math as equivalent, normalize_math as normalize};

use answer_core::{Found, extract_with};
use econ_plugin_sdk::answer_parser::{AnswerParser, Extraction, Manifest, Options};

/// The cascade with the LaTeX normaliser.
pub fn extract(text: &str) -> Found {
    extract_with(text, normalize)
}

/// The plugin: [`extract()`] and [`equivalent()`] behind the SDK trait.
pub struct MathParser;

impl AnswerParser for MathParser {
    fn manifest() -> Manifest {
        Manifest::new(
            "parser-math",
            env!("CARGO_PKG_VERSION"),
            "MATH-style answers: last \\boxed{} (then ####, 'answer is', last number) as canonical LaTeX; \
             equivalence of fractions, decimals, roots, tuples, intervals, sets and simple expressions",
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

econ_plugin_sdk::answer_parser!(MathParser);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trait_wiring() {
        assert_eq!(MathParser::manifest().name, "parser-math");
        let e =
            <MathParser as AnswerParser>::extract("so $\\boxed{\\dfrac{1}{2}}$.", &Options(&[]));
        assert_eq!(
            (e.answer.as_deref(), e.method.as_str()),
            (Some("\\frac{1}{2}"), "boxed")
        );
        let none = <MathParser as AnswerParser>::extract("no idea", &Options(&[]));
        assert_eq!((none.answer, none.method.as_str()), (None, "none"));
        assert!(<MathParser as AnswerParser>::equivalent(
            "\\frac12",
            "0.5",
            &Options(&[])
        ));
        assert!(!<MathParser as AnswerParser>::equivalent(
            "2\\sqrt{3}",
            "3",
            &Options(&[])
        ));
    }
}
