//! parser-boxed: final answers out of model text, and answer equivalence.
//!
//! The logic lives in the `answer-core` library ([`extract()`],
//! [`normalize()`], [`equivalent()`]), shared with parser-math and the
//! dataset adapters and tested there; this file only exposes it as the
//! `answer-parser` world.

pub use answer_core::{Found, Method, equivalent, extract, normalize};

use econ_plugin_sdk::answer_parser::{AnswerParser, Extraction, Manifest, Options};

/// The plugin: [`extract()`] and [`equivalent()`] behind the SDK trait.
pub struct BoxedParser;

impl AnswerParser for BoxedParser {
    fn manifest() -> Manifest {
        Manifest::new(
            "parser-boxed",
            env!("CARGO_PKG_VERSION"),
            "final answer from \\boxed{}, ####, 'answer is' or the last number; numeric equivalence",
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

econ_plugin_sdk::answer_parser!(BoxedParser);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trait_wiring() {
        let m = BoxedParser::manifest();
        assert_eq!(m.name, "parser-boxed");
        let e = <BoxedParser as AnswerParser>::extract("so \\boxed{42}", &Options(&[]));
        assert_eq!(
            (e.answer.as_deref(), e.method.as_str()),
            (Some("42"), "boxed")
        );
        let none = <BoxedParser as AnswerParser>::extract("nothing here", &Options(&[]));
        assert_eq!((none.answer, none.method.as_str()), (None, "none"));
        assert!(<BoxedParser as AnswerParser>::equivalent(
            "42",
            "$42.00",
            &Options(&[])
        ));
    }
}
