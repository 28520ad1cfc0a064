//! A sweep's table: per cell (arm × grid values) and test mode, the mean over
//! seeds with a 95% interval, from each run's summary.json.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::episode::summary::ModeSummary;

pub const SWEEP_FILE: &str = "sweep.json";
pub const TABLE_FILE: &str = "sweep.md";

/// One run of a sweep: a cell at one seed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SweepRun {
    pub seed: u64,
    /// Its run folder, relative to the sweep's.
    pub dir: PathBuf,
    /// Why the run did not finish, if it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One cell: an arm's overrides plus one value of each grid key.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SweepCell {
    pub name: String,
    /// Every `--set` of the cell (the sweep's own, the arm's, the grid's).
    pub overrides: Vec<String>,
    pub runs: Vec<SweepRun>,
}

/// A number over seeds: mean, 95% interval (Student's t) and each seed's value.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OverSeeds {
    pub n: usize,
    pub mean: f64,
    pub lo: f64,
    pub hi: f64,
    pub values: Vec<f64>,
}

impl OverSeeds {
    pub fn of(values: Vec<f64>) -> OverSeeds {
        let n = values.len();
        if n == 0 {
            return OverSeeds::default();
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let half = if n > 1 {
            let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            t_975(n - 1) * (var / n as f64).sqrt()
        } else {
            0.0
        };
        OverSeeds {
            n,
            mean,
            lo: mean - half,
            hi: mean + half,
            values,
        }
    }

    /// `0.512 [0.471, 0.553]`
    pub fn show(&self) -> String {
        if self.n > 1 {
            format!("{:.3} [{:.3}, {:.3}]", self.mean, self.lo, self.hi)
        } else {
            format!("{:.3}", self.mean)
        }
    }
}

/// The 97.5 % quantile of Student's t with `df` degrees of freedom.
pub fn t_975(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::NAN,
        1..=30 => T[df - 1],
        _ => 1.96,
    }
}

/// One row of the table: a cell in one test mode.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SweepRow {
    pub cell: String,
    pub mode: String,
    pub accuracy: OverSeeds,
    /// The executors' majority on the same outputs (ECON modes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub majority_accuracy: Option<OverSeeds>,
    /// BNE refinement rounds run per episode (ECON's modes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refinements: Option<OverSeeds>,
    /// Mean round-0 temperature per kind of problem (a simulated world's
    /// kinds, a dataset's categories).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub temperature_by_kind: BTreeMap<String, OverSeeds>,
    /// Runs of the cell that failed.
    pub failed: usize,
}

/// sweep.json: the cells and the table.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Sweep {
    pub config: PathBuf,
    pub train_eps: u64,
    pub cells: Vec<SweepCell>,
    pub rows: Vec<SweepRow>,
}

/// The test modes of a run's summary.json.
fn run_modes(dir: &Path) -> Result<BTreeMap<String, ModeSummary>> {
    let path = dir.join(crate::runlog::SUMMARY_FILE);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let modes = v.get("modes").cloned().unwrap_or_default();
    serde_json::from_value(modes).with_context(|| format!("{}: \"modes\"", path.display()))
}

/// The table of finished cells (`root`: the sweep's folder).
pub fn rows(root: &Path, cells: &[SweepCell]) -> Vec<SweepRow> {
    let mut out = Vec::new();
    for cell in cells {
        let mut per_mode: BTreeMap<String, Vec<ModeSummary>> = BTreeMap::new();
        let mut failed = 0;
        for run in &cell.runs {
            match run.error.is_none().then(|| run_modes(&root.join(&run.dir))) {
                Some(Ok(modes)) => {
                    for (mode, s) in modes {
                        per_mode.entry(mode).or_default().push(s);
                    }
                }
                _ => failed += 1,
            }
        }
        for (mode, summaries) in per_mode {
            let of =
                |f: &dyn Fn(&ModeSummary) -> f64| OverSeeds::of(summaries.iter().map(f).collect());
            let majority = summaries.iter().all(|s| s.consensus.is_some()).then(|| {
                of(&|s| {
                    s.consensus
                        .as_ref()
                        .map_or(f64::NAN, |c| c.majority_accuracy)
                })
            });
            // Only ECON's modes act through the belief networks: the
            // comparison modes have no actions to show.
            let econ = matches!(mode.as_str(), "baseline" | "bne" | "majority");
            let kinds: Vec<String> = summaries
                .iter()
                .filter(|_| econ)
                .flat_map(|s| s.by_kind.keys().cloned())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            let temperature_by_kind = kinds
                .into_iter()
                .filter_map(|k| {
                    let values: Vec<f64> = summaries
                        .iter()
                        .filter_map(|s| s.by_kind.get(&k))
                        .filter(|ks| ks.episodes > 0)
                        .map(|ks| ks.temperature_mean)
                        .collect();
                    (!values.is_empty()).then(|| (k, OverSeeds::of(values)))
                })
                .collect();
            out.push(SweepRow {
                cell: cell.name.clone(),
                mode,
                accuracy: of(&|s| s.accuracy),
                majority_accuracy: majority,
                refinements: econ.then(|| of(&|s| (s.rounds_mean - 1.0).max(0.0))),
                temperature_by_kind,
                failed,
            });
        }
    }
    out
}

/// The table in Markdown, one line per cell and mode.
pub fn markdown(sweep: &Sweep) -> String {
    let kinds: Vec<String> = sweep
        .rows
        .iter()
        .flat_map(|r| r.temperature_by_kind.keys().cloned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut head = vec![
        "cell".to_string(),
        "mode".into(),
        "seeds".into(),
        "accuracy (95% CI)".into(),
        "executors' majority".into(),
        "BNE rounds".into(),
    ];
    head.extend(kinds.iter().map(|k| format!("T {k}")));
    let mut out = format!("| {} |\n|{}\n", head.join(" | "), "---|".repeat(head.len()));
    for r in &sweep.rows {
        let mut cells = vec![
            r.cell.clone(),
            r.mode.clone(),
            if r.failed > 0 {
                format!("{} ({} failed)", r.accuracy.n, r.failed)
            } else {
                r.accuracy.n.to_string()
            },
            r.accuracy.show(),
            r.majority_accuracy
                .as_ref()
                .map_or("–".into(), OverSeeds::show),
            r.refinements
                .as_ref()
                .map_or("–".into(), |o| format!("{:.2}", o.mean)),
        ];
        cells.extend(kinds.iter().map(|k| {
            r.temperature_by_kind.get(k).map_or("–".into(), |t| {
                format!("{:.2} ± {:.2}", t.mean, (t.hi - t.mean).max(0.0))
            })
        }));
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out
}

/// Reads LOG_DIR/sweep.json, if the folder is a sweep's.
pub fn read(dir: &Path) -> Result<Option<Sweep>> {
    let path = dir.join(SWEEP_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("parsing {}", path.display()))
        .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_widen_with_spread_and_shrink_with_seeds() {
        let a = OverSeeds::of(vec![0.5, 0.6, 0.7]);
        assert!((a.mean - 0.6).abs() < 1e-12);
        // t(2) = 4.303, sd 0.1, n 3.
        assert!((a.hi - a.mean - 4.303 * 0.1 / 3f64.sqrt()).abs() < 1e-9);
        let b = OverSeeds::of(vec![0.5, 0.6, 0.7, 0.5, 0.6, 0.7]);
        assert!(b.hi - b.mean < a.hi - a.mean);
        let one = OverSeeds::of(vec![0.4]);
        assert_eq!((one.lo, one.hi), (0.4, 0.4));
        assert_eq!(one.show(), "0.400");
    }
}
