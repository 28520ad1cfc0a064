//! A feature-hashing embedder (`[embedding] provider = "hash"`): words and
//! word pairs hashed into `dim` signed buckets, L2-normalised. No model, no
//! download, microseconds per text — for the simulated world and quick
//! checks; texts that share words get similar vectors, nothing more. Every
//! number counts as the same word.

use anyhow::Result;

use super::Embedder;

pub struct HashedEmbedder {
    dim: usize,
}

impl HashedEmbedder {
    pub fn new(dim: usize) -> Self {
        assert!(dim > 0, "the hashed embedder needs dim >= 1");
        HashedEmbedder { dim }
    }

    fn one(&self, text: &str) -> Vec<f32> {
        let mut v = vec![0f32; self.dim];
        // Numbers are one word: like a sentence encoder, the bag of words
        // carries what a text is about, not its exact figures.
        let words: Vec<String> = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(|w| {
                if w.chars().all(|c| c.is_ascii_digit()) {
                    "<num>".to_string()
                } else {
                    w.to_lowercase()
                }
            })
            .collect();
        let mut add = |feature: u64| {
            let bucket = (feature % self.dim as u64) as usize;
            v[bucket] += if feature >> 63 == 1 { 1.0 } else { -1.0 };
        };
        for (i, w) in words.iter().enumerate() {
            add(fnv(w.as_bytes(), 0));
            if let Some(next) = words.get(i + 1) {
                add(fnv(next.as_bytes(), fnv(w.as_bytes(), 1)));
            }
        }
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            v.iter_mut().for_each(|x| *x /= norm);
        }
        v
    }
}

impl Embedder for HashedEmbedder {
    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        Ok(texts.iter().map(|t| self.one(t)).collect())
    }

    fn dim(&self) -> usize {
        self.dim
    }
}

/// FNV-1a with a start value, then one avalanche so that the top bit (the
/// sign) and the low bits (the bucket) are both well mixed.
fn fnv(bytes: &[u8], start: u64) -> u64 {
    let h = bytes.iter().fold(0xcbf2_9ce4_8422_2325 ^ start, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    crate::rng::derive(&[h])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::cosine;

    #[test]
    fn shared_words_mean_similar_vectors() {
        let e = HashedEmbedder::new(128);
        let v = e
            .embed(&[
                "The accountant's ledger shows 12 invoices.".into(),
                "The accountant's ledger shows 40 invoices.".into(),
                "Riddle: a dragon hides in the puzzle.".into(),
                String::new(),
            ])
            .unwrap();
        assert_eq!(v[0].len(), 128);
        assert!((v[0].iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-5);
        assert!(cosine(&v[0], &v[1]) > 0.99, "numbers are one word");
        assert!(cosine(&v[0], &v[2]) < 0.3);
        assert!(v[3].iter().all(|&x| x == 0.0));
        assert_eq!(
            e.embed(&["same".into()]).unwrap(),
            e.embed(&["same".into()]).unwrap()
        );
    }
}
