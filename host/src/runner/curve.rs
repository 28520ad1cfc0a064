//! `econ-host sim curve`: accuracy on held-out problems against training
//! episodes, for the trained networks (baseline and BNE) beside the
//! references — the untrained networks (episode 0), uniformly random
//! actions, the best constant action (every executor at the one action that
//! did best on training problems: the simplest rival a learner must beat),
//! and the oracle (every executor at its problem's best action).
//! Writes LOG_DIR/learning_curve.jsonl, which `econ-host report` plots.

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::episode::trace::read_traces;
use crate::episode::{FixedActions, Mode};
use crate::learn::Learner;
use crate::nets::Action;
use crate::plugins::dataset_adapter::Problem;
use crate::rng;
use crate::runlog::CURVE_FILE;
use crate::runner::Job;
use crate::sim::World;

/// One point of the curve.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CurvePoint {
    /// Training episodes done (0: untrained).
    pub episodes: u64,
    /// "trained", "random", "constant" or "oracle".
    pub policy: String,
    /// "baseline" or "bne".
    pub mode: String,
    pub problems: u64,
    pub accuracy: f64,
    /// Mean round-0 temperature of the executors, per kind of problem.
    pub temperature_by_kind: Vec<(String, f64)>,
    /// Mean |T − T*| of the round-0 actions from their kind's best temperature.
    pub temperature_distance: f64,
}

/// Train `episodes` with a checkpoint every `every`, then evaluate each on
/// the first `eval` test problems. The job's config must save every `every`.
pub fn run(
    job: &Job,
    episodes: u64,
    every: u64,
    eval: usize,
    model_dir: &Path,
) -> Result<Vec<CurvePoint>> {
    let problems: Vec<Problem> = job.splits.test.iter().take(eval).cloned().collect();
    let world = Arc::new(World::of_splits(job.config.sim.clone(), &job.splits));
    let mut points = Vec::new();

    let learner = job.new_learner()?;
    let learner = Mutex::new(learner);
    points.extend(evaluate(job, &world, &learner, &problems, 0)?);
    let bounds = &job.config.nets.sampling;
    let (t, p) = (
        (bounds.temperature_min, bounds.temperature_max),
        (bounds.p_min, bounds.p_max),
    );
    let seed = job.config.seed;
    let random: FixedActions = Arc::new(move |_, index, agent| {
        let mut r = rng::SplitMix64::new(rng::derive(&[seed, index, agent as u64]));
        Action::new(
            (t.0 + (t.1 - t.0) * r.unit()) as f32,
            (p.0 + (p.1 - p.0) * r.unit()) as f32,
        )
    });
    let oracle_world = Arc::clone(&world);
    let oracle: FixedActions = Arc::new(move |problem, _, _| {
        oracle_world.best_action(oracle_world.kind_of(&problem.question))
    });
    let constant = best_constant(job, &learner)?;
    tracing::info!(
        "best constant action on training problems: T {:.2}, p {:.2}",
        constant.temperature,
        constant.repetition_penalty
    );
    let constant: FixedActions = Arc::new(move |_, _, _| constant);
    for (name, fixed) in [
        ("random", random),
        ("constant", constant),
        ("oracle", oracle),
    ] {
        let summary = job.test_with(&learner, &problems, Mode::Baseline, Some(fixed))?;
        points.push(point(
            job,
            &world,
            0,
            name,
            Mode::Baseline,
            summary.accuracy,
        )?);
    }

    let learner = learner.into_inner().unwrap_or_else(|e| e.into_inner());
    // The curve's own folder: its checkpoints are the curve's points.
    let (_, summary) = job.train(learner, episodes, model_dir, super::Start::Force)?;
    if summary.results.interrupted {
        anyhow::bail!("interrupted while training");
    }
    let mut at: Vec<u64> = (1..)
        .map(|k| k * every)
        .take_while(|&k| k < episodes)
        .collect();
    at.push(episodes);
    for k in at {
        let dir = if k == episodes {
            model_dir.join("final")
        } else {
            model_dir.join(format!("checkpoint_{k}"))
        };
        let learner = Learner::load(&dir, job.config.nets.clone(), crate::torch_device())
            .with_context(|| format!("loading {}", dir.display()))?;
        points.extend(evaluate(job, &world, &Mutex::new(learner), &problems, k)?);
    }
    let text: String = points
        .iter()
        .map(|p| serde_json::to_string(p).map(|l| l + "\n"))
        .collect::<Result<_, _>>()?;
    let path = job.log_dir.join(CURVE_FILE);
    crate::atomic::write_atomic(&path, text.as_bytes())?;
    Ok(points)
}

/// Training problems the constant actions are tried on.
const CONSTANT_TRIALS: usize = 100;

/// The constant action that does best on the first training problems: a
/// grid of 5 temperatures × 3 repetition penalties over the bounds.
fn best_constant(job: &Job, learner: &Mutex<Learner>) -> Result<Action> {
    let b = &job.config.nets.sampling;
    let problems: Vec<Problem> = job
        .splits
        .train
        .iter()
        .take(CONSTANT_TRIALS)
        .cloned()
        .collect();
    let mut best = (Action::default(), -1.0);
    for i in 0..5 {
        for j in 0..3 {
            let t = b.temperature_min + (b.temperature_max - b.temperature_min) * i as f64 / 4.0;
            let p = b.p_min + (b.p_max - b.p_min) * j as f64 / 2.0;
            let action = Action::new(t as f32, p as f32);
            let fixed: FixedActions = Arc::new(move |_, _, _| action);
            let s = job.test_with(learner, &problems, Mode::Baseline, Some(fixed))?;
            if s.accuracy > best.1 {
                best = (action, s.accuracy);
            }
        }
    }
    Ok(best.0)
}

/// The networks in baseline and BNE mode.
fn evaluate(
    job: &Job,
    world: &World,
    learner: &Mutex<Learner>,
    problems: &[Problem],
    episodes: u64,
) -> Result<Vec<CurvePoint>> {
    let mut out = Vec::new();
    for mode in [Mode::Baseline, Mode::Bne] {
        let summary = job.test(learner, problems, mode)?;
        out.push(point(
            job,
            world,
            episodes,
            "trained",
            mode,
            summary.accuracy,
        )?);
    }
    Ok(out)
}

/// A point from the mode's test traces just written.
fn point(
    job: &Job,
    world: &World,
    episodes: u64,
    policy: &str,
    mode: Mode,
    accuracy: f64,
) -> Result<CurvePoint> {
    let path = job
        .log_dir
        .join(crate::runlog::traces_file("test", mode.as_str()));
    let traces = read_traces(&path)?;
    let kinds = world.config.kinds.len();
    let (mut sum, mut count) = (vec![0.0; kinds], vec![0.0; kinds]);
    let mut distance = 0.0;
    for t in &traces {
        let kind = world.kind_of(&t.question);
        let best = world.best_action(kind).temperature as f64;
        let Some(round) = t.steps.first().and_then(|s| s.rounds.first()) else {
            continue;
        };
        for e in &round.executors {
            sum[kind] += e.temperature as f64;
            count[kind] += 1.0;
            distance += (e.temperature as f64 - best).abs();
        }
    }
    let total: f64 = count.iter().sum();
    Ok(CurvePoint {
        episodes,
        policy: policy.into(),
        mode: mode.as_str().into(),
        problems: traces.len() as u64,
        accuracy,
        temperature_by_kind: (0..kinds)
            .filter(|&k| count[k] > 0.0)
            .map(|k| (world.kind_name(k).to_string(), sum[k] / count[k]))
            .collect(),
        temperature_distance: if total > 0.0 { distance / total } else { 0.0 },
    })
}

/// Reads LOG_DIR/learning_curve.jsonl, if there is one.
pub fn read(log_dir: &Path) -> Result<Option<Vec<CurvePoint>>> {
    let path = log_dir.join(CURVE_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    crate::runlog::jsonl::complete_lines(&path)?
        .into_iter()
        .map(|(number, l)| {
            serde_json::from_str(&l).with_context(|| format!("{}:{number}", path.display()))
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}
