//! Train and test loops: problems through episodes, traces, learner updates,
//! checkpoints, early stopping, `--resume`, progress.
//!
//! Resuming loses no finished episode: a training trace line holds every text
//! an episode produced and every action it took, so the episodes finished
//! after the newest checkpoint are re-embedded and fed to the learner again
//! (no LLM call) before training goes on.

mod clients;
pub use clients::Role;
pub mod curve;
pub mod dry_run;
mod open;
pub use open::{Pin, Pins};
mod requeue;
mod resume;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result};
use futures_util::stream::{self, StreamExt};

use crate::config::Config;
use crate::data::Splits;
use crate::episode::summary::{ModeSummary, TrainSummary};
use crate::episode::trace::{self, Trace, TraceWriter};
use crate::episode::{Episode, Mode, Outcome, Phase, Resources};
use crate::error::bad_input;
use crate::interrupt;
use crate::learn::early_stop::EarlyStopper;
use crate::learn::{Learner, RunInfo};
use crate::runlog::metrics::MetricsLog;
use crate::runlog::{lock, provenance};

use crate::plugins::dataset_adapter::Problem;
use crate::plugins::{LiveRegistry, WatchGuard};
use crate::progress::Progress;

/// Everything a run needs, set up once: config, plugins (watched for
/// changes), data, LLM roles, the sentence encoder, an async runtime.
pub struct Job {
    pub config: Config,
    pub live: Arc<LiveRegistry>,
    _watch: Option<WatchGuard>,
    pub res: Resources,
    pub splits: Splits,
    pub log_dir: PathBuf,
    /// This process is the only one writing `log_dir`.
    _log_lock: lock::FolderLock,
    /// Tests keep the finished episodes of their mode's trace (`test --resume`).
    pub resume_tests: bool,
    /// The curves as TensorBoard event files in LOG_DIR/tensorboard/, when
    /// `--tensorboard` asked for them ([`Job::enable_tensorboard`]).
    board: Mutex<Option<crate::runlog::tensorboard::EventWriter>>,
    /// Tokens and USD this job's episodes have used, against `[budget]`.
    spent: Mutex<(u64, f64)>,
    /// run.json: written at the start, its end time at the end.
    run: provenance::RunRecord,
    /// The simulated world's rule, when a role is simulated: test summaries
    /// then break results down by the kind of problem.
    pub sim_world: Option<Arc<crate::sim::World>>,
    /// Always `Some` until dropped (see `Drop`).
    rt: Option<tokio::runtime::Runtime>,
}

impl Drop for Job {
    fn drop(&mut self) {
        // Episodes abandoned by Ctrl-C may leave an LLM call on a blocking
        // thread; do not wait for it on the way out.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
        self.run.finished = Some(provenance::now_utc());
        // Fields a server refused during the run are recorded too.
        for (role, client) in [
            ("coordinator", &self.res.coordinator),
            ("executor", &self.res.executor),
        ] {
            if let Some(d) = client.dialect() {
                self.run.llm_dialects.insert(role.to_string(), d);
            }
        }
        match provenance::plugins_served(&self.log_dir) {
            Ok(served) => self.run.plugins_served = served,
            Err(e) => tracing::warn!("run.json: the plugins each episode ran with: {e:#}"),
        }
        if let Err(e) = provenance::write(&self.log_dir, &self.run) {
            tracing::warn!("run.json: {e:#}");
        }
    }
}

impl Job {
    fn rt(&self) -> &tokio::runtime::Runtime {
        self.rt
            .as_ref()
            .expect("the runtime lives as long as the job")
    }

    /// Fresh networks (seeded by `seed`).
    pub fn new_learner(&self) -> Result<Learner> {
        Learner::new(self.config.nets.clone(), crate::torch_device())
    }

    fn trace_path(&self, phase: Phase, mode: Mode) -> PathBuf {
        self.log_dir
            .join(crate::runlog::traces_file(phase.as_str(), mode.as_str()))
    }

    fn train_mode(&self) -> Mode {
        train_mode(&self.config)
    }

    /// Train until `episodes` training episodes are done in total, writing
    /// checkpoints to `model_dir`. With `resume`, continue from the newest
    /// checkpoint there.
    // Long on purpose: the training loop read top to bottom: start or resume, run an
    // episode, learn, checkpoint, early stop; the pieces share the writer, metrics and
    // stopper.
    pub fn train(
        &self,
        learner: Learner,
        episodes: u64,
        model_dir: &Path,
        start: Start,
    ) -> Result<(Learner, TrainSummary)> {
        let resume = start == Start::Resume;
        if self.splits.train.is_empty() {
            return Err(bad_input(anyhow::anyhow!(
                "dataset {}: no training problems",
                self.splits.source
            )));
        }
        // The log folder is locked for the job; the model folder for training,
        // unless it is the same folder.
        let _model_lock = match same_folder(model_dir, &self.log_dir) {
            true => None,
            false => Some(lock::FolderLock::acquire(model_dir, "model folder")?),
        };
        if start == Start::Fresh
            && let Some((at, dir)) = crate::learn::newest_checkpoint(model_dir)?
        {
            return Err(bad_input(anyhow::anyhow!(
                "model folder {} holds checkpoints of a run (newest: {}, episode {at}): \
                 --resume goes on with it, --force starts afresh (its checkpoints are \
                 replaced as training goes), or choose another --model-dir",
                model_dir.display(),
                dir.display()
            )));
        }
        let mode = self.train_mode();
        let trace_path = self.trace_path(Phase::Train, mode);
        let mut summary = TrainSummary::default();
        let mut stopper = EarlyStopper::new(&self.config.early_stopping);
        let mut learner = learner;
        let mut start = 0u64;
        let mut writer;
        let mut metrics;
        if resume {
            let state = self.resume(learner, model_dir, &trace_path, episodes, &mut stopper)?;
            learner = state.learner;
            start = state.done;
            summary = state.summary;
            writer = TraceWriter::resume(&trace_path, state.done as usize)?;
            metrics = MetricsLog::open(&self.log_dir)?;
            if let Some(decision) = state.stopped {
                tracing::warn!("training had already stopped early: {}", decision.reason);
                summary.early_stop = Some(decision);
                return self.finish_training(learner, summary, model_dir);
            }
        } else {
            writer = TraceWriter::create(&trace_path)?;
            let path = self.log_dir.join(crate::runlog::METRICS_FILE);
            if path.exists() {
                std::fs::remove_file(&path)
                    .with_context(|| format!("starting {} afresh", path.display()))?;
            }
            metrics = MetricsLog::open(&self.log_dir)?;
        }
        if start >= episodes {
            tracing::info!("already trained {start} episodes (asked for {episodes})");
            return self.finish_training(learner, summary, model_dir);
        }

        let learner = Mutex::new(learner);
        let bar = Progress::new(episodes, "train");
        bar.set_position(start);
        let phase_start = Instant::now();
        let mut completion_tokens = 0u64;
        let mut finished = start;
        let mut interrupted = false;
        let mut stopped_by = None;
        let requeue = requeue::Requeue::new(&self.config.runner);
        for k in start + 1..=episodes {
            let problem = &self.splits.train[((k - 1) as usize) % self.splits.train.len()];
            let registry = self.live.snapshot();
            let episode = Episode {
                res: &self.res,
                registry: &registry,
                learner: &learner,
                problem,
                index: k,
                phase: Phase::Train,
                mode,
                fixed_actions: None,
            };
            // Ctrl-C abandons the episode in flight: it is neither traced nor
            // learned from, so `--resume` simply runs it again. So does an LLM
            // outage, after the episode's attempts (requeue.rs).
            let what = format!("training episode {k}");
            let outcome = self.rt().block_on(async {
                tokio::select! {
                    biased;
                    _ = interrupt::requested() => None,
                    outcome = requeue.run(&what, || episode.run()) => Some(outcome),
                }
            });
            let outcome = match outcome {
                None => {
                    interrupted = true;
                    break;
                }
                Some(Err(e)) => {
                    summary.results.refused = crate::http::is_refused(&e);
                    stopped_by = Some(format!("{e:#}"));
                    interrupted = true;
                    break;
                }
                Some(Ok(outcome)) => outcome,
            };
            let mut outcome = outcome;
            self.categorise(&mut outcome.trace);
            writer.append(&outcome.trace)?;
            summary.results.add(&outcome.trace);
            completion_tokens += outcome.trace.tokens.total().completion;
            let over_budget = self.spend(&outcome.trace);
            {
                let mut l = learner.lock().unwrap_or_else(|e| e.into_inner());
                for record in outcome.records {
                    for m in l.observe(record)? {
                        if let Some(loss) = m.get("loss_total") {
                            stopper.observe_loss(*loss);
                        }
                        metrics.append(k, l.counters().train_steps, &m)?;
                        let terms = m.iter().map(|(n, v)| (format!("learner/{n}"), *v));
                        self.board(k, terms)?;
                    }
                }
                if k % self.config.runner.save_interval == 0 && k < episodes {
                    let dir = model_dir.join(format!("checkpoint_{k}"));
                    l.save(&dir, &self.checkpoint_extra(k))?;
                    tracing::info!("saved {}", dir.display());
                }
                summary.updates = l.counters().train_steps;
            }
            finished = k;
            // The message first: the line the step prints must already count it.
            bar.set_message(running(&summary.results, completion_tokens, phase_start));
            bar.set_position(k);
            let r = &summary.results;
            self.board(
                k,
                [
                    ("train/reward", f64::from(outcome.trace.reward)),
                    ("train/correct", f64::from(u8::from(outcome.trace.correct))),
                    (
                        "train/accuracy_so_far",
                        r.correct as f64 / r.episodes.max(1) as f64,
                    ),
                    (
                        "train/completion_tokens",
                        outcome.trace.tokens.total().completion as f64,
                    ),
                ],
            )?;
            if let Some(why) = over_budget {
                if k < episodes {
                    stopped_by = Some(why);
                    interrupted = true;
                }
                break;
            }
            let decision = stopper.observe_episode(
                k,
                f64::from(outcome.trace.reward),
                outcome.trace.correct,
                outcome.commitment_cos,
            );
            if let Some(d) = decision {
                tracing::warn!("early stopping after episode {k}: {}", d.reason);
                bar.println(format!("Early stopping after episode {k}: {}", d.reason));
                summary.early_stop = Some(d);
                break;
            }
        }
        bar.finish_and_clear();
        let learner = learner.into_inner().unwrap_or_else(|e| e.into_inner());
        if interrupted {
            summary.results.stopped_by = stopped_by;
            return self.interrupted_training(learner, summary, model_dir, finished);
        }
        self.finish_training(learner, summary, model_dir)
    }

    fn finish_training(
        &self,
        learner: Learner,
        mut summary: TrainSummary,
        model_dir: &Path,
    ) -> Result<(Learner, TrainSummary)> {
        let final_dir = model_dir.join("final");
        let done = summary.results.episodes;
        learner.save(&final_dir, &self.checkpoint_extra(done))?;
        summary.updates = learner.counters().train_steps;
        summary.final_checkpoint = Some(final_dir.display().to_string());
        Ok((learner, summary))
    }

    /// After Ctrl-C: a checkpoint of the `finished` episodes (unless one is
    /// there already), for `train --resume`; no "final" model.
    fn interrupted_training(
        &self,
        learner: Learner,
        mut summary: TrainSummary,
        model_dir: &Path,
        finished: u64,
    ) -> Result<(Learner, TrainSummary)> {
        let dir = model_dir.join(format!("checkpoint_{finished}"));
        if finished > 0 && !dir.join("meta.json").is_file() {
            learner.save(&dir, &self.checkpoint_extra(finished))?;
            tracing::info!("saved {}", dir.display());
        }
        summary.updates = learner.counters().train_steps;
        summary.results.interrupted = true;
        summary.last_checkpoint = (finished > 0).then(|| dir.display().to_string());
        Ok((learner, summary))
    }

    /// The category a trace carries: in a simulated world, the kind the
    /// world gives its question (the kind the networks must learn, and what
    /// the report breaks accuracy and actions down by); else the dataset's.
    fn categorise(&self, trace: &mut Trace) {
        if let Some(world) = &self.sim_world {
            let kind = world.kind_of(&trace.question);
            trace.category = Some(world.kind_name(kind).to_string());
        }
    }

    /// Count a finished episode against `[budget]`; why the job must stop
    /// now, if it must.
    fn spend(&self, trace: &Trace) -> Option<String> {
        let mut spent = self.spent.lock().unwrap_or_else(|e| e.into_inner());
        spent.0 += trace.tokens.total().prompt + trace.tokens.total().completion;
        spent.1 += trace.cost_usd.unwrap_or(0.0);
        self.config.budget.exceeded(spent.0, spent.1)
    }

    fn checkpoint_extra(&self, episode: u64) -> RunInfo {
        let registry = self.live.snapshot();
        let plugins: Vec<String> = registry
            .plugins()
            .map(|p| p.info().id().to_string())
            .collect();
        RunInfo {
            run_id: self.run.run_id.clone(),
            config_sha256: self.run.config_sha256.clone(),
            seed: self.config.seed,
            episode,
            train_ids: self.splits.train.iter().map(|p| p.id.clone()).collect(),
            data: self.splits.source.clone(),
            plugins,
            run_config: serde_json::to_value(&self.config).unwrap_or_default(),
        }
    }

    /// Test `problems` in `mode` with the learner's current networks (no
    /// exploration, no learning); several episodes in flight at once.
    pub fn test(
        &self,
        learner: &Mutex<Learner>,
        problems: &[Problem],
        mode: Mode,
    ) -> Result<ModeSummary> {
        self.test_with(learner, problems, mode, None)
    }

    /// `test --resume`: the finished prefix of this mode's trace (written in
    /// problem order) is kept and counted into `summary`; how many.
    fn kept_tests(
        &self,
        path: &Path,
        problems: &[Problem],
        mode: Mode,
        summary: &mut ModeSummary,
    ) -> Result<usize> {
        let kept: Vec<Trace> = trace::read_traces(path)?
            .into_iter()
            .zip(problems)
            .take_while(|(t, p)| t.id == p.id)
            .map(|(t, _)| t)
            .collect();
        for t in &kept {
            summary.add(t);
        }
        if !kept.is_empty() {
            tracing::info!("{}: {} finished episodes kept", mode.as_str(), kept.len());
        }
        Ok(kept.len())
    }

    /// `test`, with the executors' actions from `fixed` instead of the
    /// networks when given.
    // Long on purpose: the test loop read top to bottom (kept episodes,
    // episodes in flight each re-run on LLM faults, Ctrl-C, outage and budget
    // stops); the steps share the writer, the summary and the progress bar.
    pub fn test_with(
        &self,
        learner: &Mutex<Learner>,
        problems: &[Problem],
        mode: Mode,
        fixed: Option<crate::episode::FixedActions>,
    ) -> Result<ModeSummary> {
        let path = self.trace_path(Phase::Test, mode);
        let mut summary = ModeSummary::default();
        let done = match self.resume_tests {
            true => self.kept_tests(&path, problems, mode, &mut summary)?,
            false => 0,
        };
        let mut writer = match done {
            0 => TraceWriter::create(&path)?,
            n => TraceWriter::resume(&path, n)?,
        };
        let bar = Progress::new(problems.len() as u64, mode.as_str());
        bar.set_position(done as u64);
        let started = Instant::now();
        let mut completion_tokens = 0u64;
        let concurrency = self.config.runner.concurrency;
        let requeue = requeue::Requeue::new(&self.config.runner);
        self.rt().block_on(async {
            let mut outcomes = stream::iter(problems.iter().enumerate().skip(done))
                .map(|(i, problem)| {
                    let registry = self.live.snapshot();
                    let fixed = fixed.clone();
                    let requeue = &requeue;
                    async move {
                        let index = i as u64 + 1;
                        let what = format!("{} test episode {index}", mode.as_str());
                        requeue
                            .run(&what, || {
                                let (registry, fixed) = (&registry, fixed.clone());
                                async move {
                                    if !mode.is_econ() {
                                        return crate::episode::comparisons::Comparison {
                                            res: &self.res,
                                            registry,
                                            problem,
                                            index,
                                            mode,
                                        }
                                        .run()
                                        .await;
                                    }
                                    Episode {
                                        res: &self.res,
                                        registry,
                                        learner,
                                        problem,
                                        index,
                                        phase: Phase::Test,
                                        mode,
                                        fixed_actions: fixed,
                                    }
                                    .run()
                                    .await
                                }
                            })
                            .await
                    }
                })
                .buffered(concurrency);
            loop {
                // Ctrl-C: episodes in flight are dropped, finished ones kept.
                let next = tokio::select! {
                    biased;
                    _ = interrupt::requested() => {
                        summary.interrupted = true;
                        break;
                    }
                    next = outcomes.next() => next,
                };
                let Some(outcome) = next else { break };
                // An outage after the episode's attempts: keep what finished.
                let mut outcome: Outcome = match outcome {
                    Ok(outcome) => outcome,
                    Err(e) => {
                        summary.interrupted = true;
                        summary.refused = crate::http::is_refused(&e);
                        summary.stopped_by = Some(format!("{e:#}"));
                        break;
                    }
                };
                self.categorise(&mut outcome.trace);
                writer.append(&outcome.trace)?;
                summary.add(&outcome.trace);
                completion_tokens += outcome.trace.tokens.total().completion;
                // The message first: the line the step prints must already
                // count this episode.
                bar.set_message(running(&summary, completion_tokens, started));
                bar.inc(1);
                if let Some(why) = self.spend(&outcome.trace)
                    && summary.episodes < problems.len() as u64
                {
                    summary.interrupted = true;
                    summary.stopped_by = Some(why);
                    break;
                }
            }
            anyhow::Ok(())
        })?;
        bar.finish_and_clear();
        // One point per mode and test: its accuracy at the episodes trained.
        let trained = learner.lock().map_or(0, |l| l.counters().episodes_seen);
        let accuracy = summary.correct as f64 / summary.episodes.max(1) as f64;
        self.board(
            trained,
            [(format!("test/{}/accuracy", mode.as_str()), accuracy)],
        )?;
        Ok(summary)
    }
}

impl Job {
    /// Write the curves to LOG_DIR/tensorboard/ too (`--tensorboard`).
    pub fn enable_tensorboard(&mut self) -> Result<()> {
        let dir = self.log_dir.join("tensorboard");
        let writer = crate::runlog::tensorboard::EventWriter::create(&dir)?;
        *self.board.get_mut().unwrap_or_else(|e| e.into_inner()) = Some(writer);
        Ok(())
    }

    /// Scalars at `step` for TensorBoard, when enabled.
    fn board<T: Into<String>>(
        &self,
        step: u64,
        scalars: impl IntoIterator<Item = (T, f64)>,
    ) -> Result<()> {
        let mut board = self.board.lock().unwrap_or_else(|e| e.into_inner());
        match board.as_mut() {
            Some(writer) => writer.scalars(step, scalars),
            None => Ok(()),
        }
    }
}

/// The mode training episodes run in: BNE unless the config turns it off.
pub fn train_mode(config: &Config) -> Mode {
    if config.nets.bne.enabled {
        Mode::Bne
    } else {
        Mode::Baseline
    }
}

/// How training begins in its model folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// A new run: refused where checkpoints already are.
    Fresh,
    /// A new run that replaces the checkpoints already there (`--force`).
    Force,
    /// Go on from the newest checkpoint of this run (`--resume`).
    Resume,
}

/// Whether two paths name one folder (both exist: they are created before).
fn same_folder(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

fn running(s: &ModeSummary, completion_tokens: u64, since: Instant) -> String {
    let secs = since.elapsed().as_secs_f64().max(1e-3);
    format!(
        "acc {:.1}% | {:.0} tok/s",
        s.accuracy * 100.0,
        completion_tokens as f64 / secs
    )
}
