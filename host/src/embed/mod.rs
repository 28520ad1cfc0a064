//! Sentence embeddings: the observation an agent's belief network reads and
//! what the reward plugin compares. The local encoder is a BERT-family model
//! in tch, read from a sentence-transformers folder (bert.rs); the remote
//! one any OpenAI-compatible `/embeddings` route (remote.rs).

pub mod bert;
pub mod cache;
pub mod hashed;
pub mod pooling;
pub mod remote;

use std::path::Path;

use anyhow::{Context, Result};

pub use bert::{BertEmbedder, LoadOptions};
pub use hashed::HashedEmbedder;
pub use pooling::Pooling;
pub use remote::{RemoteEmbedder, RemoteOptions};

use crate::config::EmbeddingConfig;

/// Turns texts into fixed-size vectors.
pub trait Embedder: Send {
    /// One vector of `dim()` floats per text, in order. All texts go through
    /// the model together (one forward pass): an episode's n + 1 texts are
    /// one call.
    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>>;

    /// Length of every vector `embed` returns.
    fn dim(&self) -> usize;
}

/// Load a local encoder from a packaged model name (configs/models.toml, e.g.
/// "all-minilm-l6-v2") or a folder path (relative to `base_dir`).
pub fn load_local(model: &str, base_dir: &Path, device: tch::Device) -> Result<BertEmbedder> {
    let folder = crate::models::resolve(model, base_dir).map_err(crate::error::bad_input)?;
    BertEmbedder::load(&folder, device)
}

/// The embedder `[embedding]` configures: the local encoder on
/// [`crate::torch_device`], a remote `/embeddings` server (probed once), or
/// the hashed bag of words (`dim` wide).
pub fn load(config: &EmbeddingConfig, base_dir: &Path) -> Result<Box<dyn Embedder>> {
    let inner: Box<dyn Embedder> = match config.provider.as_str() {
        "hash" => return Ok(Box::new(HashedEmbedder::new(config.dim))),
        "openai" => {
            let options = RemoteOptions::from_config(config).map_err(crate::error::bad_input)?;
            Box::new(RemoteEmbedder::new(options)?)
        }
        _ => {
            let local = load_local(&config.model, base_dir, crate::torch_device())
                .with_context(|| format!("key embedding.model ({})", config.model))?;
            Box::new(local)
        }
    };
    Ok(match config.cache_texts {
        0 => inner,
        n => Box::new(cache::CachedEmbedder::new(inner, n)),
    })
}

/// Cosine similarity of two vectors: 0 when either is zero, empty, or their
/// lengths differ — the same rule as the plugin SDK's `cosine`, so a reward
/// computed in a plugin and one computed here agree.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() || a.is_empty() {
        return 0.0;
    }
    let (mut dot, mut na, mut nb) = (0f64, 0f64, 0f64);
    for (&x, &y) in a.iter().zip(b) {
        dot += x as f64 * y as f64;
        na += x as f64 * x as f64;
        nb += y as f64 * y as f64;
    }
    if na == 0.0 || nb == 0.0 {
        return 0.0;
    }
    (dot / (na.sqrt() * nb.sqrt())) as f32
}
