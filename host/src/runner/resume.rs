//! `train --resume`: the newest checkpoint of this run (or the run's initial
//! networks when it was killed before its first), the finished episodes of
//! the trace replayed into the learner, metrics kept up to the checkpoint.

use std::path::Path;

use anyhow::{Context, Result};

use super::Job;
use crate::episode::summary::TrainSummary;
use crate::episode::trace::{self, Trace};
use crate::error::bad_input;
use crate::learn::early_stop::{EarlyStopper, StopDecision};
use crate::learn::{Learner, StepRecord};
use crate::runlog::metrics::MetricsLog;

impl Job {
    /// A checkpoint resumes only the run it was saved by, under the same
    /// config and seed: anything else would load other weights and skip
    /// episodes silently.
    pub(super) fn check_belongs(&self, dir: &Path) -> Result<()> {
        let meta = Learner::read_meta(dir).map_err(bad_input)?;
        let info = &meta.extra;
        if info.run_id.is_empty() {
            tracing::warn!(
                "{}: saved before checkpoints named their run; resuming without checking it",
                dir.display()
            );
            return Ok(());
        }
        let refuse = |what: String| {
            Err(bad_input(anyhow::anyhow!(
                "--resume: checkpoint {} {what}; resume it with that run's --log-dir, or train \
                 afresh with --force",
                dir.display()
            )))
        };
        if info.run_id != self.run.run_id {
            return refuse(format!(
                "belongs to run {} but {} holds run {}",
                info.run_id,
                self.log_dir.display(),
                self.run.run_id
            ));
        }
        if info.config_sha256 != self.run.config_sha256 || info.seed != self.config.seed {
            return refuse("was saved under another config or seed".to_string());
        }
        Ok(())
    }

    /// Load the newest checkpoint and bring the learner up to the last
    /// finished episode in the trace file.
    // Long on purpose: resume is one consistency check of checkpoint, traces and metrics;
    // splitting it would hide which of them disagreed.
    /// `fresh`: this job's new networks, seeded as the run's were; a run
    /// killed before its first checkpoint goes on from them, replaying its
    /// finished episodes, so nothing it finished is lost either.
    pub(super) fn resume(
        &self,
        fresh: Learner,
        model_dir: &Path,
        trace_path: &Path,
        episodes: u64,
        stopper: &mut EarlyStopper,
    ) -> Result<Resumed> {
        let traces = trace::read_traces(trace_path)?;
        let (at, mut learner) = match crate::learn::newest_checkpoint(model_dir)? {
            Some((at, dir)) => {
                self.check_belongs(&dir)?;
                let learner = Learner::load(&dir, self.config.nets.clone(), crate::torch_device())
                    .with_context(|| format!("resuming from {}", dir.display()))?;
                (at, learner)
            }
            None if !traces.is_empty() => {
                tracing::warn!(
                    "no checkpoint in {} yet: starting from the run's initial networks and \
                     replaying its {} finished episodes",
                    model_dir.display(),
                    traces.len()
                );
                (0, fresh)
            }
            None => {
                return Err(bad_input(anyhow::anyhow!(
                    "--resume: no checkpoint in {} and no finished episode in {} (train \
                     without --resume first)",
                    model_dir.display(),
                    trace_path.display()
                )));
            }
        };
        let mut kept: Vec<Trace> = Vec::new();
        for t in traces {
            if t.episode != kept.len() as u64 + 1 || t.episode > episodes {
                break;
            }
            kept.push(t);
        }
        if (kept.len() as u64) < at {
            tracing::warn!(
                "{} holds {} episodes but the checkpoint is at {at}: the replay buffer starts empty",
                trace_path.display(),
                kept.len()
            );
        }
        let done = (kept.len() as u64).max(at);
        let buffer_from = at.saturating_sub(self.config.nets.train.buffer_size as u64);
        let mut buffer = Vec::new();
        for t in kept
            .iter()
            .filter(|t| t.episode > buffer_from && t.episode <= at)
        {
            buffer.extend(self.records_from_trace(t)?);
        }
        learner.restore_replay_buffer(buffer)?;

        // metrics.jsonl: keep what the checkpoint knew; the replay below
        // writes the updates after it again.
        let metrics_path = self.log_dir.join(crate::runlog::METRICS_FILE);
        let old_losses = truncate_metrics(&metrics_path, at)?;
        let mut metrics = MetricsLog::open(&self.log_dir)?;
        let mut summary = TrainSummary {
            resumed_from: Some(at),
            ..Default::default()
        };
        let mut stopped = None;
        let replayed = kept.iter().filter(|t| t.episode > at).count();
        if replayed > 0 {
            tracing::info!(
                "resuming at episode {at}: replaying {replayed} finished episodes from {}",
                trace_path.display()
            );
        }
        for t in &kept {
            if t.episode <= at {
                for (_, loss) in old_losses.iter().filter(|(e, _)| *e == t.episode) {
                    stopper.observe_loss(*loss);
                }
            } else {
                for record in self.records_from_trace(t)? {
                    for m in learner.observe(record)? {
                        if let Some(loss) = m.get("loss_total") {
                            stopper.observe_loss(*loss);
                        }
                        metrics.append(t.episode, learner.counters().train_steps, &m)?;
                    }
                }
            }
            summary.results.add(t);
            let cos = commitment_cos_of(t);
            if stopped.is_none() {
                stopped = stopper.observe_episode(t.episode, f64::from(t.reward), t.correct, cos);
            }
        }
        Ok(Resumed {
            learner,
            done,
            summary,
            stopped,
        })
    }

    /// The learner's records of a training episode, rebuilt from its trace.
    pub(super) fn records_from_trace(&self, t: &Trace) -> Result<Vec<StepRecord>> {
        if t.error.is_some() {
            return Ok(Vec::new());
        }
        let embedder = self.res.embedder.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        let texts = crate::episode::observation_texts(&self.config.nets, &t.question, &t.strategy);
        let obs = crate::episode::observe(&**embedder, &texts)?;
        for step in &t.steps {
            let mut rounds = Vec::new();
            for r in &step.rounds {
                let mut texts: Vec<String> = r.executors.iter().map(|e| e.output.clone()).collect();
                texts.push(r.commitment_canonical.clone());
                let mut emb = embedder.embed(&texts)?;
                let commitment = emb.pop().expect("n + 1 embeddings");
                // Traces written before rounds were scored one by one hold
                // the step's components only.
                rounds.push(r.record(emb, commitment, r.components.unwrap_or(step.components)));
            }
            out.push(StepRecord {
                next_obs: (!step.done).then(|| obs.clone()),
                obs: obs.clone(),
                rounds,
                done: step.done,
            });
        }
        Ok(out)
    }
}

pub(super) struct Resumed {
    pub(super) learner: Learner,
    pub(super) done: u64,
    pub(super) summary: TrainSummary,
    pub(super) stopped: Option<StopDecision>,
}

fn commitment_cos_of(t: &Trace) -> Option<f64> {
    t.steps.last()?.commitment_cos
}

/// Keep metrics.jsonl lines of episodes up to `episode`; return their
/// (episode, loss_total).
fn truncate_metrics(path: &Path, episode: u64) -> Result<Vec<(u64, f64)>> {
    let mut kept = String::new();
    let mut losses = Vec::new();
    for (_, line) in crate::runlog::jsonl::complete_lines(path)? {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        let e = v["episode"].as_u64().unwrap_or(u64::MAX);
        if e <= episode {
            kept.push_str(&line);
            kept.push('\n');
            if let Some(loss) = v["loss_total"].as_f64() {
                losses.push((e, loss));
            }
        }
    }
    crate::atomic::write_atomic(path, kept.as_bytes())?;
    Ok(losses)
}
