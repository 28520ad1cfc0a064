//! Vectors of texts already encoded, kept so that a text met again is not
//! encoded again: a question and its strategy in every test mode, the same
//! commitment `\boxed{18}` across episodes. The oldest text goes first when
//! the cache is full.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use anyhow::Result;

use super::Embedder;

pub struct CachedEmbedder {
    inner: Box<dyn Embedder>,
    capacity: usize,
    kept: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    vectors: HashMap<String, Vec<f32>>,
    order: VecDeque<String>,
}

impl CachedEmbedder {
    pub fn new(inner: Box<dyn Embedder>, capacity: usize) -> Self {
        CachedEmbedder {
            inner,
            capacity: capacity.max(1),
            kept: Mutex::new(Kept::default()),
        }
    }
}

impl Embedder for CachedEmbedder {
    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        // The texts not kept yet, each once, go to the encoder in one call.
        let mut missing: Vec<String> = Vec::new();
        for t in texts {
            if !kept.vectors.contains_key(t) && !missing.contains(t) {
                missing.push(t.clone());
            }
        }
        if !missing.is_empty() {
            let vectors = self.inner.embed(&missing)?;
            for (t, v) in missing.into_iter().zip(vectors) {
                if kept.vectors.len() >= self.capacity
                    && let Some(old) = kept.order.pop_front()
                {
                    kept.vectors.remove(&old);
                }
                kept.order.push_back(t.clone());
                kept.vectors.insert(t, v);
            }
        }
        Ok(texts
            .iter()
            .map(|t| kept.vectors.get(t).cloned().unwrap_or_default())
            .collect())
    }

    fn dim(&self) -> usize {
        self.inner.dim()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts the texts it encodes; a text's vector is its length.
    struct Counting(std::sync::Arc<AtomicUsize>);
    impl Embedder for Counting {
        fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
            self.0.fetch_add(texts.len(), Ordering::SeqCst);
            Ok(texts.iter().map(|t| vec![t.len() as f32]).collect())
        }
        fn dim(&self) -> usize {
            1
        }
    }

    #[test]
    fn a_text_is_encoded_once_while_kept_and_again_once_evicted() {
        let n = std::sync::Arc::new(AtomicUsize::new(0));
        let c = CachedEmbedder::new(Box::new(Counting(n.clone())), 2);
        let s = |v: &[&str]| v.iter().map(|t| t.to_string()).collect::<Vec<_>>();
        assert_eq!(
            c.embed(&s(&["a", "bb", "a"])).unwrap(),
            [[1.0], [2.0], [1.0]]
        );
        assert_eq!(n.load(Ordering::SeqCst), 2);
        assert_eq!(c.embed(&s(&["bb", "a"])).unwrap(), [[2.0], [1.0]]);
        assert_eq!(n.load(Ordering::SeqCst), 2);
        // A third text evicts the oldest ("a").
        c.embed(&s(&["ccc"])).unwrap();
        c.embed(&s(&["a"])).unwrap();
        assert_eq!(n.load(Ordering::SeqCst), 4);
    }
}
