//! prompts-econ: ECON's coordinator-strategy, executor and
//! coordinator-commitment prompts, with the reference's defects fixed
//! (strategy within 50 tokens and without the answer, a real `\boxed`).
//! The logic is in [`render`]; this file wires it into the SDK.

pub mod render;
mod text;

use econ_plugin_sdk::prompt_template::{ChatMessage, Manifest, PromptContext, PromptTemplate};

/// The plugin: [`render::render`] behind the SDK trait.
pub struct EconPrompts;

impl PromptTemplate for EconPrompts {
    fn manifest() -> Manifest {
        Manifest::new(
            "prompts-econ",
            env!("CARGO_PKG_VERSION"),
            "ECON prompts: coordinator-strategy, executor, coordinator-commitment (JSON); baselines cot, sc, debate",
        )
        .text_option(
            "system",
            "",
            "a system message sent before every prompt (none by default, as in ECON)",
        )
        .text_option(
            "strategy_prompt",
            "econ",
            "the coordinator's strategy prompt: \"econ\" (three steps within 50 tokens, never the \
             answer) or \"reference\" (the reference code's: three steps under 80 tokens, no ban \
             on the answer)",
        )
    }

    fn render(ctx: &PromptContext) -> Result<Vec<ChatMessage>, String> {
        render::render(ctx)
    }
}

econ_plugin_sdk::prompt_template!(EconPrompts);
