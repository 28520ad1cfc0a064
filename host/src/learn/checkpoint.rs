//! Checkpoints: safetensors of the online and target networks and the
//! optimiser state, meta.json with typed metadata, written atomically.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use serde::{Deserialize, Serialize};
use tch::{Device, Tensor, nn};

use super::{Counters, Learner};
use crate::nets::config::NetsConfig;
use crate::rng::SplitMix64;

impl Learner {
    // ---------------------------------------------------------------- checkpoints

    /// Writes `dir/model.safetensors` (online and target networks, optimiser state,
    /// alpha logits and its optimiser) and `dir/meta.json` (shape keys, config,
    /// counters, α, replay-sampler state, and `extra` from the caller). Atomic: all
    /// files go to a temporary sibling folder that is then renamed to `dir`.
    pub fn save(&self, dir: &Path, extra: &RunInfo) -> Result<()> {
        let parent = dir
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        let name = dir
            .file_name()
            .context("checkpoint path has no folder name")?
            .to_string_lossy();
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let tmp = parent.join(format!(".{name}.tmp-{}-{stamp}", std::process::id()));
        fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let result = self
            .write_into(&tmp, extra)
            .and_then(|()| replace_dir(&tmp, dir));
        if result.is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
        result
    }

    pub(super) fn write_into(&self, tmp: &Path, extra: &RunInfo) -> Result<()> {
        let mut tensors: Vec<(String, Tensor)> = Vec::new();
        let cpu = |t: &Tensor| t.detach().to_device(Device::Cpu).contiguous();
        let add_store = |prefix: &str, vs: &nn::VarStore, tensors: &mut Vec<(String, Tensor)>| {
            let mut vars: Vec<_> = vs.variables().into_iter().collect();
            vars.sort_by(|a, b| a.0.cmp(&b.0));
            for (n, t) in vars {
                tensors.push((format!("{prefix}.{n}"), cpu(&t)));
            }
        };
        add_store("online", &self.vs, &mut tensors);
        add_store("target", &self.target_vs, &mut tensors);
        tensors.push(("alpha.logits".into(), cpu(&self.alpha_logits)));
        for (n, t) in self
            .opt
            .state("optim")
            .into_iter()
            .chain(self.alpha_opt.state("alpha_optim"))
        {
            tensors.push((n, cpu(&t)));
        }
        let model = tmp.join("model.safetensors");
        Tensor::write_safetensors(&tensors, &model)
            .with_context(|| format!("writing {}", model.display()))?;
        let meta = CheckpointMeta {
            format: CHECKPOINT_FORMAT.into(),
            econ_host_version: env!("CARGO_PKG_VERSION").into(),
            n_agents: self.cfg.n_agents,
            belief_dim: self.cfg.belief_dim,
            obs_dim: self.cfg.obs_dim,
            commitment_embedding_dim: self.cfg.commitment_embedding_dim,
            entity_dim: self.cfg.arch.entity_dim,
            mixer_kind: self.cfg.mixer.kind.clone(),
            config: self.cfg.clone(),
            counters: self.counters,
            alpha: self.alpha(),
            replay_rng: self.rng.state(),
            extra: extra.clone(),
        };
        let path = tmp.join("meta.json");
        fs::write(&path, serde_json::to_vec_pretty(&meta)?)
            .with_context(|| format!("writing {}", path.display()))?;
        for f in [&model, &path] {
            fs::File::open(f)
                .and_then(|f| f.sync_all())
                .with_context(|| format!("syncing {}", f.display()))?;
        }
        Ok(())
    }

    /// Reads a checkpoint's meta.json.
    pub fn read_meta(dir: &Path) -> Result<CheckpointMeta> {
        let path = dir.join("meta.json");
        let text =
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let meta: CheckpointMeta =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        ensure!(
            meta.format == CHECKPOINT_FORMAT,
            "{}: format {:?}, this econ-host reads {CHECKPOINT_FORMAT:?}",
            path.display(),
            meta.format
        );
        Ok(meta)
    }

    /// Loads a checkpoint into fresh networks built from `cfg`. A checkpoint whose
    /// shape keys (n_agents, belief_dim, obs_dim, commitment_embedding_dim,
    /// arch.entity_dim, mixer.kind, ...) differ from `cfg` is refused with a message
    /// that names the key. Non-shape settings (learning rates, ...) come from `cfg`.
    pub fn load(dir: &Path, cfg: NetsConfig, device: Device) -> Result<Self> {
        let meta = Self::read_meta(dir)?;
        check_shapes(&meta, &cfg, dir)?;
        let mut learner = Learner::new(cfg, device)?;
        let path = dir.join("model.safetensors");
        let tensors: HashMap<String, Tensor> = Tensor::read_safetensors(&path)
            .with_context(|| format!("reading {}", path.display()))?
            .into_iter()
            .collect();
        let fill = |prefix: &str, vs: &nn::VarStore| -> Result<()> {
            tch::no_grad(|| {
                for (name, mut var) in vs.variables() {
                    let key = format!("{prefix}.{name}");
                    let src = tensors
                        .get(&key)
                        .with_context(|| format!("{}: tensor {key} is missing", path.display()))?;
                    ensure!(
                        src.size() == var.size(),
                        "{}: tensor {key} has shape {:?}, the network has {:?}",
                        path.display(),
                        src.size(),
                        var.size()
                    );
                    var.copy_(src);
                }
                Ok(())
            })
        };
        fill("online", &learner.vs)?;
        fill("target", &learner.target_vs)?;
        let alpha = tensors
            .get("alpha.logits")
            .context("tensor alpha.logits is missing")?;
        tch::no_grad(|| learner.alpha_logits.copy_(alpha));
        learner
            .opt
            .load_state("optim", &tensors)
            .with_context(|| path.display().to_string())?;
        learner
            .alpha_opt
            .load_state("alpha_optim", &tensors)
            .with_context(|| path.display().to_string())?;
        learner.counters = meta.counters;
        learner.rng = SplitMix64::new(meta.replay_rng);
        Ok(learner)
    }
}

/// The keys that decide the networks' shapes must match between the
/// checkpoint and the config, or the tensors cannot be loaded: say which.
fn check_shapes(meta: &CheckpointMeta, cfg: &NetsConfig, dir: &Path) -> Result<()> {
    let saved = &meta.config;
    let pairs = |key, a: usize, b: usize| (key, a.to_string(), b.to_string());
    let shape_keys = [
        pairs("n_agents", meta.n_agents, cfg.n_agents),
        pairs("belief_dim", meta.belief_dim, cfg.belief_dim),
        pairs("obs_dim", meta.obs_dim, cfg.obs_dim),
        pairs(
            "commitment_embedding_dim",
            meta.commitment_embedding_dim,
            cfg.commitment_embedding_dim,
        ),
        pairs("arch.entity_dim", meta.entity_dim, cfg.arch.entity_dim),
        (
            "mixer.kind",
            meta.mixer_kind.clone(),
            cfg.mixer.kind.clone(),
        ),
        pairs(
            "arch.transformer_blocks",
            saved.arch.transformer_blocks,
            cfg.arch.transformer_blocks,
        ),
        pairs(
            "arch.mlp_hidden_size",
            saved.arch.mlp_hidden_size,
            cfg.arch.mlp_hidden_size,
        ),
        pairs(
            "arch.feedforward_size",
            saved.arch.feedforward_size,
            cfg.arch.feedforward_size,
        ),
        pairs(
            "arch.attention_heads",
            saved.arch.attention_heads,
            cfg.arch.attention_heads,
        ),
        pairs(
            "mixer.hypernet_embed",
            saved.mixer.hypernet_embed,
            cfg.mixer.hypernet_embed,
        ),
        (
            "observation",
            saved.observation.clone(),
            cfg.observation.clone(),
        ),
        (
            "arch.q_uses_action",
            saved.arch.q_uses_action.to_string(),
            cfg.arch.q_uses_action.to_string(),
        ),
    ];
    for (key, saved, wanted) in shape_keys {
        if saved != wanted {
            bail!(
                "checkpoint {} was saved with {key} = {saved}, but the config has {key} = {wanted}; \
                 the networks' shapes differ, so it cannot be loaded (set {key} = {saved} or train afresh)",
                dir.display()
            );
        }
    }
    Ok(())
}

/// Renames `tmp` to `dir`, replacing an existing `dir` (moved aside first, then removed).
fn replace_dir(tmp: &Path, dir: &Path) -> Result<()> {
    if dir.exists() {
        let mut old = PathBuf::from(dir);
        old.set_file_name(format!(
            ".{}.old-{}",
            dir.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default(),
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&old);
        fs::rename(dir, &old).with_context(|| format!("moving the old {} aside", dir.display()))?;
        fs::rename(tmp, dir)
            .with_context(|| format!("renaming {} to {}", tmp.display(), dir.display()))?;
        let _ = fs::remove_dir_all(&old);
    } else {
        fs::rename(tmp, dir)
            .with_context(|| format!("renaming {} to {}", tmp.display(), dir.display()))?;
    }
    Ok(())
}

pub const CHECKPOINT_FORMAT: &str = "econ-host-nets/1";

/// meta.json of a checkpoint.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckpointMeta {
    pub format: String,
    pub econ_host_version: String,
    pub n_agents: usize,
    pub belief_dim: usize,
    pub obs_dim: usize,
    pub commitment_embedding_dim: usize,
    pub entity_dim: usize,
    pub mixer_kind: String,
    pub config: NetsConfig,
    pub counters: Counters,
    pub alpha: [f32; 3],
    pub replay_rng: u64,
    /// The run it came from: episode, trained problem ids, data, plugins, config.
    #[serde(default)]
    #[serde(deserialize_with = "null_as_default")]
    pub extra: RunInfo,
}

/// Checkpoints saved with no run information hold `"extra": null`.
fn null_as_default<'de, D: serde::Deserializer<'de>>(d: D) -> Result<RunInfo, D::Error> {
    Ok(Option::<RunInfo>::deserialize(d)?.unwrap_or_default())
}

/// What a training run keeps beside the networks (meta.json `extra`): which
/// episode the checkpoint is after, which problems were trained on (so `test`
/// can refuse them), the data source, the plugins and the run's config.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RunInfo {
    /// The run it belongs to (run.json `run_id`); resume refuses another's.
    pub run_id: String,
    /// sha256 of the run's resolved config (run.json `config_sha256`).
    pub config_sha256: String,
    pub seed: u64,
    pub episode: u64,
    pub train_ids: Vec<String>,
    pub data: String,
    pub plugins: Vec<String>,
    pub run_config: serde_json::Value,
}

/// The newest `checkpoint_<k>` or `final` in `model_dir`, by episode.
pub fn newest_checkpoint(model_dir: &Path) -> Result<Option<(u64, PathBuf)>> {
    let Ok(entries) = std::fs::read_dir(model_dir) else {
        return Ok(None);
    };
    let mut best: Option<(u64, PathBuf)> = None;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !(name == "final" || name.starts_with("checkpoint_")) {
            continue;
        }
        let dir = entry.path();
        let Ok(meta) = Learner::read_meta(&dir) else {
            tracing::warn!("{}: not a readable checkpoint, skipped", dir.display());
            continue;
        };
        let episode = meta.extra.episode;
        if best.as_ref().is_none_or(|(e, _)| episode > *e) {
            best = Some((episode, dir));
        }
    }
    Ok(best)
}

/// A checkpoint folder: `DIR/final` when given a model dir, else `DIR` itself.
pub fn checkpoint_dir(path: &Path) -> Result<PathBuf> {
    if path.join("meta.json").is_file() {
        return Ok(path.to_path_buf());
    }
    if path.join("final").join("meta.json").is_file() {
        return Ok(path.join("final"));
    }
    Err(crate::error::bad_input(anyhow::anyhow!(
        "--checkpoint {}: no meta.json there or in {}/final",
        path.display(),
        path.display()
    )))
}
