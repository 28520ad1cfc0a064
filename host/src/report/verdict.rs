//! The report's first section: what the runs answer, before any detail. One
//! table of the modes (accuracy, its 95 % interval, tokens per episode) and
//! one of the contrasts that matter — BNE against round 0, the coordinator's
//! commitment against the executors' vote, each ECON mode against the best
//! comparison method — each as a paired difference with its interval, an
//! exact McNemar p-value and the p-value after Holm's correction for the
//! number of contrasts shown.

use std::fmt::Write;

use super::html::{escape, heading, pct};
use super::sweep::OverSeeds;
use super::{ModeData, Run, pair, stats};

/// One contrast: mode A against mode B on the problems both ran, or, when
/// they share fewer than half of them (runs with different test splits), on
/// all of each, unpaired.
pub struct Contrast {
    pub a: String,
    pub b: String,
    /// Problems paired; 0 when the contrast is unpaired.
    pub n: u64,
    /// Problems of A and of B in an unpaired contrast.
    pub unpaired: Option<(u64, u64)>,
    /// Accuracy of A minus accuracy of B on the paired problems.
    pub difference: f64,
    /// 95 % interval of the difference (paired Wald).
    pub interval: (f64, f64),
    /// Exact two-sided McNemar (binomial on the discordant problems).
    pub p: f64,
    /// `p` after Holm's step-down correction over the contrasts shown.
    pub p_holm: f64,
    pub tokens: (f64, f64),
}

/// The contrasts of one run's modes, Holm-corrected together; the best
/// comparison method may come from any run of the report (`all`), paired
/// on the problems both ran.
pub fn contrasts(modes: &[&ModeData], all: &[&ModeData]) -> Vec<Contrast> {
    let find = |name: &str| modes.iter().copied().find(|m| m.mode == name);
    let mut wanted: Vec<(&ModeData, &ModeData)> = Vec::new();
    if let (Some(bne), Some(base)) = (find("bne"), find("baseline")) {
        wanted.push((bne, base));
    }
    if let (Some(base), Some(vote)) = (find("baseline"), find("majority")) {
        wanted.push((base, vote));
    }
    let best_comparison = all
        .iter()
        .copied()
        .filter(|m| matches!(m.mode.as_str(), "cot" | "sc" | "debate"))
        .max_by(|a, b| a.stats.accuracy.total_cmp(&b.stats.accuracy));
    if let Some(best) = best_comparison {
        for econ in ["bne", "baseline", "majority"] {
            if let Some(m) = find(econ) {
                wanted.push((m, best));
            }
        }
    }
    let mut out: Vec<Contrast> = wanted
        .into_iter()
        .map(|(a, b)| {
            let p = pair(a, b);
            // Paired only where the shared problems are at least half of each
            // mode's: a McNemar on a handful of shared problems would speak for
            // runs that mostly ran other problems.
            if 2 * p.n < a.stats.episodes.max(b.stats.episodes) || p.n == 0 {
                return unpaired(a, b);
            }
            let n = p.n.max(1) as f64;
            let (only_a, only_b) = (p.only_a as f64, p.only_b as f64);
            let difference = (only_a - only_b) / n;
            let se = ((only_a + only_b - (only_a - only_b).powi(2) / n).max(0.0)).sqrt() / n;
            Contrast {
                a: a.key.clone(),
                b: b.key.clone(),
                n: p.n,
                unpaired: None,
                difference,
                interval: (difference - stats::Z95 * se, difference + stats::Z95 * se),
                p: stats::binomial_two_sided(p.only_a.min(p.only_b), p.only_a + p.only_b),
                p_holm: 1.0,
                tokens: (a.stats.tokens_per_episode, b.stats.tokens_per_episode),
            }
        })
        .collect();
    let holm = holm(&out.iter().map(|c| c.p).collect::<Vec<_>>());
    for (c, p) in out.iter_mut().zip(holm) {
        c.p_holm = p;
    }
    out
}

/// A against B when no problem is shared: the difference of the two
/// accuracies, its Wald interval and the two-sided two-proportion z-test.
fn unpaired(a: &ModeData, b: &ModeData) -> Contrast {
    let (na, nb) = (a.stats.episodes, b.stats.episodes);
    let (pa, pb) = (a.stats.accuracy, b.stats.accuracy);
    let difference = pa - pb;
    let (fa, fb) = (na.max(1) as f64, nb.max(1) as f64);
    let se = (pa * (1.0 - pa) / fa + pb * (1.0 - pb) / fb).sqrt();
    let pooled = (a.stats.correct + b.stats.correct) as f64 / (fa + fb);
    let se0 = (pooled * (1.0 - pooled) * (1.0 / fa + 1.0 / fb)).sqrt();
    let p = if se0 > 0.0 {
        stats::erfc((difference / se0).abs() / std::f64::consts::SQRT_2)
    } else {
        1.0
    };
    Contrast {
        a: a.key.clone(),
        b: b.key.clone(),
        n: 0,
        unpaired: Some((na, nb)),
        difference,
        interval: (difference - stats::Z95 * se, difference + stats::Z95 * se),
        p,
        p_holm: 1.0,
        tokens: (a.stats.tokens_per_episode, b.stats.tokens_per_episode),
    }
}

/// Holm's step-down adjusted p-values, in the order given.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&i, &j| p[i].total_cmp(&p[j]));
    let mut adjusted = vec![1.0; m];
    let mut running: f64 = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

/// A p-value as a reader can use it: three decimals, or two significant
/// digits in scientific notation below 0.001 (never "0.0000").
pub fn p_text(p: f64) -> String {
    if p >= 0.001 {
        format!("{p:.3}")
    } else {
        format!("{p:.1e}")
    }
}

fn signed_points(x: f64) -> String {
    format!("{:+.1}", 100.0 * x)
}

pub(super) fn verdict(page: &mut String, runs: &[Run]) {
    heading(page, "verdict");
    if runs.iter().all(|r| r.modes.is_empty()) {
        page.push_str("<p>No test traces.</p></section>");
        return;
    }
    // Several runs (seeds): the aggregate answers first, each run after it.
    over_runs(page, runs);
    page.push_str(
        "<table><tr><th class=\"l\">mode</th><th>correct / problems</th><th>accuracy</th>\
         <th>95% Wilson interval</th><th>tokens / episode</th></tr>",
    );
    for m in runs.iter().flat_map(|r| r.modes.iter()) {
        let s = &m.stats;
        let _ = write!(
            page,
            "<tr><td class=\"l\">{}</td><td>{} / {}</td><td>{}</td><td>{} – {}</td><td>{:.0}</td></tr>",
            escape(&m.key),
            s.correct,
            s.episodes,
            pct(s.accuracy),
            pct(s.ci.0),
            pct(s.ci.1),
            s.tokens_per_episode
        );
    }
    page.push_str("</table>");
    let all: Vec<&ModeData> = runs.iter().flat_map(|r| r.modes.iter()).collect();
    let mut explained = false;
    for run in runs {
        let modes: Vec<&ModeData> = run.modes.iter().collect();
        let contrasts = contrasts(&modes, &all);
        if contrasts.is_empty() {
            continue;
        }
        if !explained {
            page.push_str(
                "<p>Contrasts: accuracy of A minus B on the problems both ran (points), its 95% \
                 interval, the exact McNemar p-value and the same after Holm's correction for \
                 the contrasts of one run; where A and B share fewer than half of their \
                 problems (runs with other test splits) the contrast is unpaired: the two \
                 accuracies' difference and a two-proportion z-test's p.</p>",
            );
            explained = true;
        }
        let _ = write!(
            page,
            "<p>Contrasts{} ({} shown).</p>\
             <table><tr><th class=\"l\">A</th><th class=\"l\">B</th><th>problems</th>\
             <th>A − B</th><th>95% interval</th><th>p</th><th>p (Holm)</th>\
             <th>tokens / episode A, B</th></tr>",
            if runs.len() > 1 {
                format!(" in {}", escape(&run.label))
            } else {
                String::new()
            },
            contrasts.len()
        );
        for c in &contrasts {
            let _ = write!(
                page,
                "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td>\
                 <td>{} – {}</td><td>{}</td><td>{}</td><td>{:.0}, {:.0}</td></tr>",
                escape(&c.a),
                escape(&c.b),
                match c.unpaired {
                    Some((na, nb)) => format!("{na} and {nb}, unpaired"),
                    None => c.n.to_string(),
                },
                signed_points(c.difference),
                signed_points(c.interval.0),
                signed_points(c.interval.1),
                p_text(c.p),
                p_text(c.p_holm),
                c.tokens.0,
                c.tokens.1
            );
        }
        page.push_str("</table>");
    }
    page.push_str("</section>");
}

/// Runs of one config under other seeds: each mode's accuracy over the runs
/// (mean, Student-t interval, each run's value) and BNE minus round 0 within
/// each run, then over runs. A spread between seeds larger than a gap
/// between methods shows here first.
fn over_runs(page: &mut String, runs: &[Run]) {
    if runs.len() < 2 || !differ_only_by_seed(runs) {
        return;
    }
    let mut names: Vec<&str> = Vec::new();
    for m in runs.iter().flat_map(|r| r.modes.iter()) {
        if !names.contains(&m.mode.as_str()) {
            names.push(&m.mode);
        }
    }
    let mut rows = String::new();
    for name in &names {
        let per_run: Vec<(&str, &ModeData)> = runs
            .iter()
            .filter_map(|r| {
                r.modes
                    .iter()
                    .find(|m| m.mode == *name)
                    .map(|m| (r.label.as_str(), m))
            })
            .collect();
        if per_run.len() < 2 {
            continue;
        }
        let over = OverSeeds::of(per_run.iter().map(|(_, m)| m.stats.accuracy).collect());
        let _ = write!(
            rows,
            "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{} – {}</td><td class=\"l\">{}</td></tr>",
            escape(name),
            over.n,
            pct(over.mean),
            pct(over.lo),
            pct(over.hi),
            per_run
                .iter()
                .map(|(label, m)| format!("{} {}", escape(label), pct(m.stats.accuracy)))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    // BNE − round 0 within each run (paired on its own problems), over runs.
    let gains: Vec<(&str, f64)> = runs
        .iter()
        .filter_map(|r| {
            let bne = r.modes.iter().find(|m| m.mode == "bne")?;
            let base = r.modes.iter().find(|m| m.mode == "baseline")?;
            let p = pair(bne, base);
            (p.n > 0).then(|| {
                (
                    r.label.as_str(),
                    (p.only_a as f64 - p.only_b as f64) / p.n as f64,
                )
            })
        })
        .collect();
    if gains.len() >= 2 {
        let over = OverSeeds::of(gains.iter().map(|(_, g)| *g).collect());
        let _ = write!(
            rows,
            "<tr><td class=\"l\">bne − baseline (paired within each run)</td><td>{}</td><td>{}</td>\
             <td>{} – {}</td><td class=\"l\">{}</td></tr>",
            over.n,
            signed_points(over.mean),
            signed_points(over.lo),
            signed_points(over.hi),
            gains
                .iter()
                .map(|(label, g)| format!("{} {}", escape(label), signed_points(*g)))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if rows.is_empty() {
        return;
    }
    let (fewest, most) = shared_problems(runs);
    let shared = if fewest == most {
        format!("Any two of them share {fewest} test problems.")
    } else {
        format!("Two of them share between {fewest} and {most} test problems.")
    };
    let _ = write!(
        page,
        "<h3>Over runs</h3><p>Each mode over the {} runs, whose configs differ only by their \
         seed: the mean accuracy, its 95% interval over runs (Student's t) and each run's \
         value. {shared}</p><table><tr><th class=\"l\">mode</th><th>runs</th><th>mean</th>\
         <th>95% interval over runs</th><th class=\"l\">each run</th></tr>{rows}</table>",
        runs.len(),
    );
}

/// Whether every run has run.json and their configs are the same but for
/// `seed`: only then is a mean over the runs a mean over seeds.
fn differ_only_by_seed(runs: &[Run]) -> bool {
    let without_seed = |r: &Run| {
        r.record.as_ref().map(|rec| {
            let mut c = rec.config.clone();
            if let Some(map) = c.as_object_mut() {
                map.remove("seed");
            }
            c
        })
    };
    let first = without_seed(&runs[0]);
    first.is_some() && runs.iter().all(|r| without_seed(r) == first)
}

/// The fewest and most test problems two runs share (by id, in any mode).
fn shared_problems(runs: &[Run]) -> (usize, usize) {
    let ids: Vec<std::collections::BTreeSet<&str>> = runs
        .iter()
        .map(|r| {
            r.modes
                .iter()
                .flat_map(|m| m.traces.iter().map(|t| t.id.as_str()))
                .collect()
        })
        .collect();
    let mut counts = Vec::new();
    for i in 0..ids.len() {
        for j in i + 1..ids.len() {
            counts.push(ids[i].intersection(&ids[j]).count());
        }
    }
    (
        counts.iter().copied().min().unwrap_or(0),
        counts.iter().copied().max().unwrap_or(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holm_multiplies_by_the_remaining_count_and_stays_monotone() {
        let adjusted = holm(&[0.01, 0.04, 0.03, 0.5]);
        // Sorted: 0.01·4 = 0.04, 0.03·3 = 0.09, 0.04·2 = 0.08 → 0.09, 0.5·1.
        assert_eq!(adjusted, vec![0.04, 0.09, 0.09, 0.5]);
    }

    #[test]
    fn small_p_values_are_never_printed_as_zero() {
        assert_eq!(p_text(0.0312), "0.031");
        assert_eq!(p_text(3.2e-7), "3.2e-7");
        assert_ne!(p_text(1e-12), "0.000");
    }
}
