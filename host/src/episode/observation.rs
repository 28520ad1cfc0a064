//! What the belief networks observe: the question and the strategy as
//! texts, embedded by the sentence encoder.

use std::sync::Mutex;

use anyhow::{Context, Result};

use crate::embed::Embedder;

/// The observation's texts: question and strategy apart (`observation =
/// "separate"`) or the one joint text (`"joint"`).
pub fn observation_texts(
    nets: &crate::nets::NetsConfig,
    question: &str,
    strategy: &str,
) -> Vec<String> {
    if nets.observation_tokens() == 2 {
        vec![question.to_string(), strategy.to_string()]
    } else {
        vec![observation_text(question, strategy)]
    }
}

/// The observation as one text (what traces show).
pub fn observation_text(question: &str, strategy: &str) -> String {
    format!("{question}\n\nStrategy:\n{strategy}")
}

/// The observation vector: the embeddings of its texts, one after another.
pub fn observe(embedder: &dyn Embedder, texts: &[String]) -> Result<Vec<f32>> {
    Ok(embedder
        .embed(texts)
        .context("computing sentence embeddings")?
        .concat())
}

/// Embed on the calling thread, holding the encoder for the call.
pub fn embed_with(embedder: &Mutex<Box<dyn Embedder>>, texts: &[String]) -> Result<Vec<Vec<f32>>> {
    let embedder = embedder.lock().unwrap_or_else(|e| e.into_inner());
    embedder
        .embed(texts)
        .context("computing sentence embeddings")
}
