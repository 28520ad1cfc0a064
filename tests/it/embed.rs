//! The local sentence encoder against sentence-transformers' own vectors
//! (tests/fixtures/minilm_reference.json, made by scripts/make_embedding_fixture.py),
//! batching, normalisation, truncation and the errors for broken folders.
//!
//! Needs the packaged all-MiniLM-L6-v2 in the model cache (`scripts/dev setup`).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};

use econ_host::embed::{BertEmbedder, Embedder, LoadOptions, Pooling, cosine};
use serde::Deserialize;

const FIXTURE: &str = include_str!("../fixtures/minilm_reference.json");
const MIN_COSINE: f32 = 0.999;

#[derive(Deserialize)]
struct Fixture {
    max_seq_length: usize,
    dim: usize,
    sentences: Vec<Reference>,
}

#[derive(Deserialize)]
struct Reference {
    text: String,
    tokens: usize,
    vector: Vec<f32>,
    cls_vector: Vec<f32>,
}

fn fixture() -> Fixture {
    serde_json::from_str(FIXTURE).expect("tests/fixtures/minilm_reference.json")
}

fn model_dir() -> PathBuf {
    let dir = econ_host::models::cache_dir().join("all-MiniLM-L6-v2");
    assert!(
        dir.join("model.safetensors").is_file(),
        "the sentence encoder all-MiniLM-L6-v2 is not in {}: run scripts/dev setup / \
         python3 scripts/fetch_models.py all-minilm-l6-v2",
        dir.display()
    );
    dir
}

fn device() -> tch::Device {
    econ_host::torch_device()
}

/// The encoder as its folder says (mean pooling + Normalize), loaded once.
fn minilm() -> MutexGuard<'static, BertEmbedder> {
    static MODEL: OnceLock<Mutex<BertEmbedder>> = OnceLock::new();
    MODEL
        .get_or_init(|| Mutex::new(BertEmbedder::load(&model_dir(), device()).unwrap()))
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

fn texts(fixture: &Fixture) -> Vec<String> {
    fixture.sentences.iter().map(|s| s.text.clone()).collect()
}

fn short(text: &str) -> String {
    text.chars().take(40).collect()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn norm(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}

fn check_against(got: &[Vec<f32>], fixture: &Fixture, cls: bool, what: &str) {
    assert_eq!(got.len(), fixture.sentences.len());
    let mut worst = 1.0f32;
    for (v, reference) in got.iter().zip(&fixture.sentences) {
        let want = if cls {
            &reference.cls_vector
        } else {
            &reference.vector
        };
        assert_eq!(v.len(), fixture.dim);
        let c = cosine(v, want);
        println!(
            "{what}: cosine {c:.7} (1 - cos {:.1e}), max |diff| {:.2e}, {} tokens: {:?}",
            1.0 - c,
            max_abs_diff(v, want),
            reference.tokens,
            short(&reference.text)
        );
        assert!(
            c > MIN_COSINE,
            "{what}: cosine {c} <= {MIN_COSINE} for {:?}",
            short(&reference.text)
        );
        worst = worst.min(c);
    }
    println!(
        "{what}: worst cosine {worst:.7} (1 - cos {:.1e})",
        1.0 - worst
    );
}

#[test]
fn batch_matches_sentence_transformers() {
    let fixture = fixture();
    let model = minilm();
    assert_eq!(model.dim(), fixture.dim);
    assert_eq!(model.pooling(), Pooling::Mean);
    assert!(model.normalizes());
    assert_eq!(model.max_seq_length(), fixture.max_seq_length);
    let got = model.embed(&texts(&fixture)).unwrap();
    check_against(&got, &fixture, false, "mean, batched");
}

#[test]
fn one_at_a_time_matches_sentence_transformers() {
    let fixture = fixture();
    let model = minilm();
    let got: Vec<Vec<f32>> = texts(&fixture)
        .into_iter()
        .map(|t| model.embed(&[t]).unwrap().remove(0))
        .collect();
    check_against(&got, &fixture, false, "mean, one at a time");
}

#[test]
fn cls_pooling_override_matches_sentence_transformers() {
    // bge-large-en-v1.5 pools the [CLS] token; checked here on MiniLM's weights
    // against sentence-transformers with a CLS Pooling module.
    let fixture = fixture();
    let options = LoadOptions {
        pooling: Some(Pooling::Cls),
        ..Default::default()
    };
    let model = BertEmbedder::load_with(&model_dir(), device(), &options).unwrap();
    assert_eq!(model.pooling(), Pooling::Cls);
    let got = model.embed(&texts(&fixture)).unwrap();
    check_against(&got, &fixture, true, "cls, batched");
}

#[test]
fn batch_equals_one_at_a_time() {
    let fixture = fixture();
    let model = minilm();
    let texts = texts(&fixture);
    let batched = model.embed(&texts).unwrap();
    let mut worst = 0f32;
    for (text, b) in texts.iter().zip(&batched) {
        let single = model.embed(std::slice::from_ref(text)).unwrap().remove(0);
        let diff = max_abs_diff(b, &single);
        worst = worst.max(diff);
        assert!(
            diff < 1e-5,
            "batched and single differ by {diff} for {:?}",
            short(text)
        );
    }
    println!("batched vs one at a time: max |diff| {worst:.2e}");
    // The same text twice in one batch gives the same vector twice.
    let twice = model
        .embed(&[texts[0].clone(), texts[5].clone(), texts[0].clone()])
        .unwrap();
    assert!(max_abs_diff(&twice[0], &twice[2]) < 1e-6);
}

#[test]
fn vectors_are_unit_length_and_unnormalised_ones_are_not() {
    let fixture = fixture();
    let texts = texts(&fixture);
    for v in minilm().embed(&texts).unwrap() {
        assert!((norm(&v) - 1.0).abs() < 1e-5, "norm {}", norm(&v));
    }
    let options = LoadOptions {
        normalize: Some(false),
        ..Default::default()
    };
    let raw = BertEmbedder::load_with(&model_dir(), device(), &options).unwrap();
    assert!(!raw.normalizes());
    let vectors = raw.embed(&texts).unwrap();
    assert!(vectors.iter().any(|v| (norm(v) - 1.0).abs() > 1e-2));
    // Normalising the raw vectors gives the folder's vectors: same direction.
    for (v, reference) in vectors.iter().zip(&fixture.sentences) {
        assert!(cosine(v, &reference.vector) > MIN_COSINE);
    }
}

#[test]
fn truncates_at_max_seq_length_not_at_the_tokenizers_128() {
    let fixture = fixture();
    let model = minilm();
    let ids = model.tokenize(&texts(&fixture)).unwrap();
    for (ids, reference) in ids.iter().zip(&fixture.sentences) {
        assert_eq!(
            ids.len(),
            reference.tokens.min(fixture.max_seq_length),
            "{:?}",
            short(&reference.text)
        );
    }
    assert!(ids.iter().any(|i| i.len() > 128 && i.len() < 256));
    assert!(ids.iter().any(|i| i.len() == 256));
    // Text past the cut changes nothing.
    let long = &fixture
        .sentences
        .iter()
        .find(|s| s.tokens > 256)
        .unwrap()
        .text;
    let longer = format!("{long} And then a great deal more text that is cut off anyway.");
    let v = model.embed(&[long.clone(), longer]).unwrap();
    assert!(max_abs_diff(&v[0], &v[1]) < 1e-6);
}

#[test]
fn empty_batch_and_empty_text() {
    let model = minilm();
    assert!(model.embed(&[]).unwrap().is_empty());
    let v = model.embed(&[String::new()]).unwrap();
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].len(), 384);
    assert!(v[0].iter().all(|x| x.is_finite()));
}

#[test]
fn load_local_resolves_the_packaged_name() {
    model_dir();
    let model = econ_host::embed::load_local("all-minilm-l6-v2", Path::new("."), device()).unwrap();
    assert_eq!(model.dim(), 384);
}

/// A copy of the model folder made of symlinks, minus `skip`; returns its path.
fn folder_without(skip: &str) -> tempfile::TempDir {
    let src = model_dir();
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&src).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() != skip {
            std::os::unix::fs::symlink(entry.path(), dir.path().join(entry.file_name())).unwrap();
        }
    }
    dir
}

fn load_error(folder: &Path) -> String {
    match BertEmbedder::load(folder, tch::Device::Cpu) {
        Ok(_) => panic!("{} loaded", folder.display()),
        Err(e) => {
            assert_eq!(
                econ_host::error::exit_code(&e),
                2,
                "a bad folder is bad input"
            );
            let message = format!("{e:#}");
            println!("error: {message}");
            message
        }
    }
}

#[test]
fn missing_folder_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-model");
    let err = load_error(&missing);
    assert!(err.contains(&missing.display().to_string()), "{err}");
    assert!(err.contains("does not exist"), "{err}");
    assert!(err.contains("fetch_models.py"), "{err}");
}

#[test]
fn missing_tokenizer_is_named() {
    let dir = folder_without("tokenizer.json");
    let err = load_error(dir.path());
    assert!(err.contains("tokenizer.json"), "{err}");
    assert!(err.contains(&dir.path().display().to_string()), "{err}");
}

#[test]
fn missing_config_is_named() {
    let dir = folder_without("config.json");
    let err = load_error(dir.path());
    assert!(err.contains("config.json"), "{err}");
}

#[test]
fn missing_pooling_config_is_named() {
    let dir = folder_without("1_Pooling");
    let err = load_error(dir.path());
    assert!(err.contains("1_Pooling/config.json"), "{err}");
}

#[test]
fn missing_weights_are_named() {
    let dir = folder_without("model.safetensors");
    let err = load_error(dir.path());
    assert!(err.contains("model.safetensors"), "{err}");
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn corrupt_weights_are_named() {
    let dir = folder_without("model.safetensors");
    let weights = dir.path().join("model.safetensors");
    // A header that promises more than the file holds (a truncated download).
    let original = std::fs::read(model_dir().join("model.safetensors")).unwrap();
    std::fs::write(&weights, &original[..4096]).unwrap();
    let err = load_error(dir.path());
    assert!(err.contains(&weights.display().to_string()), "{err}");
    assert!(err.contains("safetensors"), "{err}");
    // Plain garbage.
    std::fs::write(&weights, b"this is not a safetensors file").unwrap();
    let err = load_error(dir.path());
    assert!(err.contains(&weights.display().to_string()), "{err}");
}

#[test]
fn weights_that_do_not_fit_the_config_are_named() {
    let dir = folder_without("config.json");
    let config = std::fs::read_to_string(model_dir().join("config.json")).unwrap();
    let config = config.replace("\"num_hidden_layers\": 6", "\"num_hidden_layers\": 7");
    std::fs::write(dir.path().join("config.json"), config).unwrap();
    let err = load_error(dir.path());
    assert!(err.contains("model.safetensors"), "{err}");
    assert!(err.contains("encoder.layer.6"), "{err}");
}

#[test]
fn bert_prefixed_keys_load_the_same() {
    // Checkpoints saved from BertForX carry "bert.embeddings.*" keys.
    let src = model_dir();
    let dir = folder_without("model.safetensors");
    let tensors = tch::Tensor::read_safetensors(src.join("model.safetensors")).unwrap();
    let renamed: Vec<(String, tch::Tensor)> = tensors
        .into_iter()
        .map(|(name, t)| (format!("bert.{name}"), t))
        .collect();
    tch::Tensor::write_safetensors(&renamed, dir.path().join("model.safetensors")).unwrap();
    let prefixed = BertEmbedder::load(dir.path(), device()).unwrap();
    let text = vec!["What is the capital of France?".to_string()];
    let a = prefixed.embed(&text).unwrap();
    let b = minilm().embed(&text).unwrap();
    assert!(max_abs_diff(&a[0], &b[0]) < 1e-6);
}

/// The host's cosine (rewards computed by the host, BNE's commitment
/// similarity) and the plugin SDK's (rewards computed by plugins) are one rule.
#[test]
fn host_and_sdk_cosine_agree_on_every_shape() {
    let cases: [(&[f32], &[f32]); 6] = [
        (&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]),
        (&[1.0, 0.0], &[0.0, 1.0]),
        (&[1.0, 2.0], &[1.0, 2.0, 3.0]),
        (&[], &[]),
        (&[0.0, 0.0], &[1.0, 1.0]),
        (&[-1.0, 0.5], &[1.0, -0.5]),
    ];
    for (a, b) in cases {
        assert_eq!(cosine(a, b), econ_plugin_sdk::cosine(a, b), "{a:?} {b:?}");
    }
}
