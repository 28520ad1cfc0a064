//! Sentence-transformers pooling (1_Pooling/config.json) and L2 normalisation.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use tch::{Kind, Tensor};

/// How token vectors become one sentence vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pooling {
    /// Mean over the real tokens (all-MiniLM-L6-v2).
    Mean,
    /// The first token, `[CLS]` (BAAI/bge-large-en-v1.5).
    Cls,
    /// Element-wise maximum over the real tokens.
    Max,
    /// Sum over the real tokens divided by sqrt(number of tokens).
    MeanSqrtLen,
}

/// 1_Pooling/config.json as sentence-transformers writes it.
#[derive(Debug, Default, Deserialize)]
struct PoolingConfig {
    word_embedding_dimension: Option<usize>,
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_sqrt_len_tokens: bool,
    #[serde(default)]
    pooling_mode_weightedmean_tokens: bool,
    #[serde(default)]
    pooling_mode_lasttoken: bool,
}

impl Pooling {
    pub fn name(self) -> &'static str {
        match self {
            Pooling::Mean => "mean",
            Pooling::Cls => "cls",
            Pooling::Max => "max",
            Pooling::MeanSqrtLen => "mean_sqrt_len",
        }
    }

    /// Read a pooling config file. Returns the mode and the word-embedding
    /// dimension it declares (if any). Exactly one supported mode must be on.
    pub fn from_config_file(path: &Path) -> Result<(Pooling, Option<usize>)> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading pooling config {}", path.display()))?;
        let config: PoolingConfig = serde_json::from_str(&text).with_context(|| {
            format!(
                "{}: not a sentence-transformers pooling config",
                path.display()
            )
        })?;
        if config.pooling_mode_weightedmean_tokens || config.pooling_mode_lasttoken {
            bail!(
                "{}: weighted-mean and last-token pooling are not supported (mean, cls, max, mean_sqrt_len are)",
                path.display()
            );
        }
        let modes: Vec<Pooling> = [
            (config.pooling_mode_cls_token, Pooling::Cls),
            (config.pooling_mode_mean_tokens, Pooling::Mean),
            (config.pooling_mode_max_tokens, Pooling::Max),
            (
                config.pooling_mode_mean_sqrt_len_tokens,
                Pooling::MeanSqrtLen,
            ),
        ]
        .into_iter()
        .filter_map(|(on, mode)| on.then_some(mode))
        .collect();
        match modes.as_slice() {
            [mode] => Ok((*mode, config.word_embedding_dimension)),
            [] => bail!("{}: no pooling mode is set", path.display()),
            _ => bail!(
                "{}: several pooling modes are set ({}); only one is supported",
                path.display(),
                modes
                    .iter()
                    .map(|m| m.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// Pool `hidden` [batch, seq, dim] under `mask` [batch, seq] (1 for a real
    /// token, 0 for padding) into [batch, dim], as sentence-transformers does.
    pub fn apply(self, hidden: &Tensor, mask: &Tensor) -> Tensor {
        let mask = mask.to_kind(hidden.kind()).unsqueeze(-1); // [b, s, 1]
        match self {
            Pooling::Cls => hidden.select(1, 0),
            Pooling::Mean | Pooling::MeanSqrtLen => {
                let sum = (hidden * &mask).sum_dim_intlist(1, false, hidden.kind());
                let count = mask
                    .sum_dim_intlist(1, false, hidden.kind())
                    .clamp_min(1e-9);
                if self == Pooling::Mean {
                    sum / count
                } else {
                    sum / count.sqrt()
                }
            }
            Pooling::Max => {
                let padded = mask.eq(0.0).expand_as(hidden);
                hidden.masked_fill(&padded, -1e9).amax(1, false)
            }
        }
    }
}

/// Divide each row of [batch, dim] by its L2 norm (at least 1e-12), as
/// `torch.nn.functional.normalize(p=2, dim=1)`.
pub fn l2_normalize(x: &Tensor) -> Tensor {
    let norm = x
        .norm_scalaropt_dim(2, 1, true)
        .clamp_min(1e-12)
        .to_kind(x.kind());
    x / norm
}

/// Copy a [batch, dim] float tensor out as rows.
pub fn to_rows(x: &Tensor) -> Result<Vec<Vec<f32>>> {
    let x = x
        .to_kind(Kind::Float)
        .to_device(tch::Device::Cpu)
        .contiguous();
    let (rows, dim) = x.size2().context("pooled embeddings are not 2-d")?;
    let n = (rows * dim) as usize;
    let mut flat = vec![0f32; n];
    x.f_copy_data(&mut flat, n)
        .context("copying embeddings off the device")?;
    Ok(flat
        .chunks(dim.max(1) as usize)
        .map(<[f32]>::to_vec)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch() -> (Tensor, Tensor) {
        // Two sentences, three positions, dim 2; the second has one pad token.
        let hidden = Tensor::from_slice(&[
            1.0f32, 2.0, 3.0, 4.0, 5.0, -6.0, //
            -1.0, 0.5, 3.0, 1.5, 100.0, 100.0,
        ])
        .view([2, 3, 2]);
        let mask = Tensor::from_slice(&[1i64, 1, 1, 1, 1, 0]).view([2, 3]);
        (hidden, mask)
    }

    fn rows(x: &Tensor) -> Vec<Vec<f32>> {
        to_rows(x).unwrap()
    }

    #[test]
    fn cls_takes_the_first_token() {
        let (hidden, mask) = batch();
        assert_eq!(
            rows(&Pooling::Cls.apply(&hidden, &mask)),
            vec![vec![1.0, 2.0], vec![-1.0, 0.5]]
        );
    }

    #[test]
    fn mean_ignores_padding() {
        let (hidden, mask) = batch();
        assert_eq!(
            rows(&Pooling::Mean.apply(&hidden, &mask)),
            vec![vec![3.0, 0.0], vec![1.0, 1.0]]
        );
    }

    #[test]
    fn max_ignores_padding() {
        let (hidden, mask) = batch();
        assert_eq!(
            rows(&Pooling::Max.apply(&hidden, &mask)),
            vec![vec![5.0, 4.0], vec![3.0, 1.5]]
        );
    }

    #[test]
    fn mean_sqrt_len_divides_by_root_count() {
        let (hidden, mask) = batch();
        let got = rows(&Pooling::MeanSqrtLen.apply(&hidden, &mask));
        let s3 = 3f32.sqrt();
        let s2 = 2f32.sqrt();
        let want = [[9.0 / s3, 0.0], [2.0 / s2, 2.0 / s2]];
        for (g, w) in got.iter().flatten().zip(want.iter().flatten()) {
            assert!((g - w).abs() < 1e-6, "{got:?} vs {want:?}");
        }
    }

    #[test]
    fn normalize_gives_unit_rows_and_keeps_zero_rows() {
        let x = Tensor::from_slice(&[3.0f32, 4.0, 0.0, 0.0]).view([2, 2]);
        assert_eq!(
            rows(&l2_normalize(&x)),
            vec![vec![0.6, 0.8], vec![0.0, 0.0]]
        );
    }

    fn write(dir: &Path, text: &str) -> std::path::PathBuf {
        let path = dir.join("config.json");
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn reads_sentence_transformers_configs() {
        let dir = tempfile::tempdir().unwrap();
        // bge-large-en-v1.5's 1_Pooling/config.json.
        let bge = write(
            dir.path(),
            r#"{"word_embedding_dimension": 1024, "pooling_mode_cls_token": true,
                "pooling_mode_mean_tokens": false, "pooling_mode_max_tokens": false,
                "pooling_mode_mean_sqrt_len_tokens": false}"#,
        );
        assert_eq!(
            Pooling::from_config_file(&bge).unwrap(),
            (Pooling::Cls, Some(1024))
        );
        let mean = write(
            dir.path(),
            r#"{"word_embedding_dimension": 384, "pooling_mode_mean_tokens": true}"#,
        );
        assert_eq!(
            Pooling::from_config_file(&mean).unwrap(),
            (Pooling::Mean, Some(384))
        );
        let none = write(dir.path(), r#"{"word_embedding_dimension": 384}"#);
        let err = format!("{:#}", Pooling::from_config_file(&none).unwrap_err());
        assert!(
            err.contains("config.json") && err.contains("no pooling mode"),
            "{err}"
        );
        let two = write(
            dir.path(),
            r#"{"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": true}"#,
        );
        let err = format!("{:#}", Pooling::from_config_file(&two).unwrap_err());
        assert!(err.contains("cls, mean"), "{err}");
        let bad = write(dir.path(), "{not json");
        let err = format!("{:#}", Pooling::from_config_file(&bad).unwrap_err());
        assert!(err.contains("config.json"), "{err}");
    }
}
