//! `econ-host report LOG_DIR [--compare LOG_DIR2 ...]`: one self-contained
//! report.html (inline SVG plots, no scripts, no external files) from the
//! log folders' traces, summary.json and metrics.jsonl.
//!
//! Every number comes from the trace files, so the report matches what the
//! episodes did even when summary.json was merged from several commands.

mod categories;
pub mod html;
pub mod plots;
mod runs;
pub mod stats;
pub mod sweep;
mod training;
pub mod verdict;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::episode::Mode;
use crate::episode::trace::{Trace, read_traces};
use crate::error::bad_input;

/// One log folder.
pub struct Run {
    pub label: String,
    pub dir: PathBuf,
    pub summary: Option<serde_json::Value>,
    /// Test modes in the order of [`Mode::ALL`], then any others by name.
    pub modes: Vec<ModeData>,
    pub train: Vec<Trace>,
    /// metrics.jsonl, one map per learner update.
    pub metrics: Vec<serde_json::Map<String, serde_json::Value>>,
    /// learning_curve.jsonl of `econ-host sim curve`, if any.
    pub curve: Option<Vec<crate::runner::curve::CurvePoint>>,
    /// run.json: how the run was made (absent in older log folders).
    pub record: Option<crate::runlog::provenance::RunRecord>,
    /// summary.rescored-*.json: the test traces judged by other parsers.
    pub rescored: Vec<crate::episode::rescore::Rescored>,
}

/// One test mode of one run.
pub struct ModeData {
    pub mode: String,
    /// The name shown: the mode, prefixed by the run's label when several
    /// runs are compared.
    pub key: String,
    pub traces: Vec<Trace>,
    pub stats: ModeStats,
}

#[derive(Clone, Debug, Default)]
pub struct ModeStats {
    pub episodes: u64,
    pub correct: u64,
    pub accuracy: f64,
    /// 95% Wilson interval of the accuracy.
    pub ci: (f64, f64),
    /// Share of episodes with a final answer found.
    pub answer_rate: f64,
    pub tokens_per_episode: f64,
    pub prompt_per_episode: f64,
    pub completion_per_episode: f64,
    pub coordinator_per_episode: f64,
    pub executor_per_episode: f64,
    pub calls_per_episode: f64,
    pub wall_s_per_episode: f64,
    pub llm_s_per_episode: f64,
    /// None unless every episode has a cost.
    pub cost_per_episode: Option<f64>,
    pub cost_total: Option<f64>,
    pub failed: u64,
    /// BNE rounds used (last step, round 0 included) -> episodes; empty for
    /// modes without BNE rounds.
    pub rounds: BTreeMap<usize, u64>,
    /// Stop reason of the last step -> episodes.
    pub stop_reasons: BTreeMap<String, u64>,
}

impl ModeStats {
    pub fn from_traces(traces: &[Trace]) -> ModeStats {
        let n = traces.len() as u64;
        let nf = n.max(1) as f64;
        let correct = traces.iter().filter(|t| t.correct).count() as u64;
        let sum = |f: &dyn Fn(&Trace) -> f64| traces.iter().map(f).sum::<f64>() / nf;
        let costs: Vec<f64> = traces.iter().filter_map(|t| t.cost_usd).collect();
        let cost_total =
            (!costs.is_empty() && costs.len() == traces.len()).then(|| costs.iter().sum::<f64>());
        let mut rounds = BTreeMap::new();
        let mut stop_reasons = BTreeMap::new();
        for t in traces {
            if let Some(step) = t.steps.last() {
                *rounds.entry(step.rounds.len()).or_default() += 1;
                let reason = stop_reason_name(step);
                *stop_reasons.entry(reason).or_default() += 1;
            }
        }
        ModeStats {
            episodes: n,
            correct,
            accuracy: correct as f64 / nf,
            ci: stats::wilson(correct, n, stats::Z95),
            answer_rate: sum(&|t| f64::from(u8::from(t.final_answer.is_some()))),
            tokens_per_episode: sum(&|t| t.tokens.total().total() as f64),
            prompt_per_episode: sum(&|t| t.tokens.total().prompt as f64),
            completion_per_episode: sum(&|t| t.tokens.total().completion as f64),
            coordinator_per_episode: sum(&|t| t.tokens.coordinator.total() as f64),
            executor_per_episode: sum(&|t| t.tokens.executor.total() as f64),
            calls_per_episode: sum(&|t| t.calls.total() as f64),
            wall_s_per_episode: sum(&|t| t.wall_ms as f64 / 1000.0),
            llm_s_per_episode: sum(&|t| t.llm_ms as f64 / 1000.0),
            cost_per_episode: cost_total.map(|c| c / nf),
            cost_total,
            failed: traces.iter().filter(|t| t.error.is_some()).count() as u64,
            rounds,
            stop_reasons,
        }
    }
}

/// Why a step's BNE rounds stopped, as traces write it ("critic_veto").
pub(crate) fn stop_reason_name(step: &crate::episode::trace::StepTrace) -> String {
    serde_json::to_value(step.stop_reason)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

/// Two modes on the problems both ran (matched by problem id).
pub struct Paired {
    pub a: String,
    pub b: String,
    pub n: u64,
    pub both_right: u64,
    pub only_a: u64,
    pub only_b: u64,
    pub both_wrong: u64,
    /// Problems where both gave the same final answer.
    pub same_answer: u64,
    pub test: stats::McNemar,
}

impl Paired {
    /// Share of paired problems where both were right or both wrong.
    pub fn agreement(&self) -> f64 {
        if self.n == 0 {
            return 0.0;
        }
        (self.both_right + self.both_wrong) as f64 / self.n as f64
    }
}

pub fn pair(a: &ModeData, b: &ModeData) -> Paired {
    let by_id: BTreeMap<&str, &Trace> = b.traces.iter().map(|t| (t.id.as_str(), t)).collect();
    let (mut n, mut rr, mut rw, mut wr, mut ww, mut same) = (0, 0, 0, 0, 0, 0);
    for ta in &a.traces {
        let Some(tb) = by_id.get(ta.id.as_str()) else {
            continue;
        };
        n += 1;
        match (ta.correct, tb.correct) {
            (true, true) => rr += 1,
            (true, false) => rw += 1,
            (false, true) => wr += 1,
            (false, false) => ww += 1,
        }
        same += u64::from(ta.final_answer.is_some() && ta.final_answer == tb.final_answer);
    }
    Paired {
        a: a.key.clone(),
        b: b.key.clone(),
        n,
        both_right: rr,
        only_a: rw,
        only_b: wr,
        both_wrong: ww,
        same_answer: same,
        test: stats::mcnemar(rw, wr),
    }
}

/// Read every folder; labels are folder names, made unique.
pub fn load(dirs: &[PathBuf]) -> Result<Vec<Run>> {
    let mut runs = Vec::new();
    for dir in dirs {
        runs.push(load_run(dir)?);
    }
    let labels: Vec<String> = runs.iter().map(|r| r.label.clone()).collect();
    for (i, run) in runs.iter_mut().enumerate() {
        if labels.iter().filter(|l| **l == run.label).count() > 1 {
            run.label = format!("{}#{}", run.label, i + 1);
        }
    }
    let several = runs.len() > 1;
    for run in &mut runs {
        for m in &mut run.modes {
            m.key = if several {
                format!("{}/{}", run.label, m.mode)
            } else {
                m.mode.clone()
            };
        }
    }
    Ok(runs)
}

fn load_run(dir: &Path) -> Result<Run> {
    if !dir.is_dir() {
        return Err(bad_input(anyhow::anyhow!(
            "{}: not a log folder",
            dir.display()
        )));
    }
    let label = dir
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| dir.display().to_string());
    let summary_path = dir.join(crate::runlog::SUMMARY_FILE);
    let summary = match std::fs::read_to_string(&summary_path) {
        Ok(text) => Some(
            serde_json::from_str(&text)
                .map_err(|e| bad_input(anyhow::anyhow!("{}: {e}", summary_path.display())))?,
        ),
        Err(_) => None,
    };
    let mut test: Vec<(String, Vec<Trace>)> = Vec::new();
    let mut train = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some(stem) = name.strip_suffix(".jsonl") else {
            continue;
        };
        if let Some(mode) = stem.strip_prefix(crate::runlog::TEST_TRACES_PREFIX) {
            let traces = read_traces(&path).map_err(bad_input)?;
            test.push((mode.to_string(), traces));
        } else if stem.starts_with(crate::runlog::TRAIN_TRACES_PREFIX) {
            train.extend(read_traces(&path).map_err(bad_input)?);
        }
    }
    if test.is_empty() && train.is_empty() && summary.is_none() {
        return Err(bad_input(anyhow::anyhow!(
            "{}: no summary.json and no traces_*.jsonl (is it a log folder?)",
            dir.display()
        )));
    }
    let rank = |m: &str| {
        Mode::ALL
            .iter()
            .position(|x| x.as_str() == m)
            .unwrap_or(Mode::ALL.len())
    };
    test.sort_by(|a, b| rank(&a.0).cmp(&rank(&b.0)).then(a.0.cmp(&b.0)));
    let modes = test
        .into_iter()
        .map(|(mode, traces)| ModeData {
            key: mode.clone(),
            stats: ModeStats::from_traces(&traces),
            mode,
            traces,
        })
        .collect();
    let metrics = read_metrics(&dir.join(crate::runlog::METRICS_FILE))?;
    Ok(Run {
        label,
        dir: dir.to_path_buf(),
        summary,
        modes,
        train,
        metrics,
        curve: crate::runner::curve::read(dir).map_err(bad_input)?,
        record: read_record(dir),
        rescored: read_rescored(dir),
    })
}

fn read_rescored(dir: &Path) -> Vec<crate::episode::rescore::Rescored> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("summary.rescored-") && n.ends_with(".json"))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
        .into_iter()
        .filter_map(|p| {
            let text = std::fs::read_to_string(&p).ok()?;
            serde_json::from_str(&text)
                .map_err(|e| tracing::warn!("{}: {e}; left out of the report", p.display()))
                .ok()
        })
        .collect()
}

fn read_record(dir: &Path) -> Option<crate::runlog::provenance::RunRecord> {
    crate::runlog::provenance::read_run_record(dir).unwrap_or_else(|e| {
        tracing::warn!("{e:#}; left out of the report");
        None
    })
}

fn read_metrics(path: &Path) -> Result<Vec<serde_json::Map<String, serde_json::Value>>> {
    let mut out = Vec::new();
    for (number, line) in crate::runlog::jsonl::complete_lines(path)? {
        match serde_json::from_str::<serde_json::Value>(&line) {
            Ok(serde_json::Value::Object(m)) => out.push(m),
            _ => tracing::warn!(
                "{} line {number}: not a JSON object, skipped",
                path.display()
            ),
        }
    }
    Ok(out)
}

/// Build the report of `dirs` into `out`; returns how many runs it holds.
pub fn write(dirs: &[PathBuf], out: &Path) -> Result<usize> {
    let runs = load(dirs)?;
    let page = html::render(&runs)?;
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    crate::atomic::write_atomic(out, page.as_bytes())?;
    Ok(runs.len())
}
