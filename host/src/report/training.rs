//! The report's "Training curves" section: per run, the learner's losses
//! (smoothed, early spikes clipped) and reward weights over updates, the
//! training episodes' windowed accuracy and reward, the executors' actions
//! over training (per agent, and per problem category where the problems
//! have one), and the learning curve when the run measured one. A series of
//! one point is a number in a table, not a panel.

use std::fmt::Write as _;

use anyhow::Result;

use super::html::{escape, heading, pct};
use super::{Run, categories, plots};

/// Points a smoothed curve averages over: a twentieth of the series.
fn window(points: usize) -> usize {
    (points / 20).max(1)
}

// Long on purpose: one section of the report, HTML written in page order.
pub(super) fn section(page: &mut String, runs: &[Run]) -> Result<()> {
    heading(page, "training");
    let mut any = false;
    for run in runs {
        if run.metrics.is_empty() && run.train.is_empty() && run.curve.is_none() {
            continue;
        }
        any = true;
        let _ = write!(
            page,
            "<h3>{}</h3><p>{} training episodes, {} learner updates.</p><div class=\"plots\">",
            escape(&run.label),
            run.train.len(),
            run.metrics.len()
        );
        let series = |key: &str| -> Vec<(f64, f64)> {
            run.metrics
                .iter()
                .enumerate()
                .filter_map(|(i, m)| {
                    let x = m
                        .get("update")
                        .and_then(|v| v.as_f64())
                        .unwrap_or(i as f64 + 1.0);
                    m.get(key).and_then(|v| v.as_f64()).map(|y| (x, y))
                })
                .collect()
        };
        let mut keys: Vec<&String> = run
            .metrics
            .iter()
            .flat_map(|m| m.keys())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        keys.sort();
        // One learner update: its values as numbers, not single-dot panels.
        let single: Vec<(&String, f64)> = if run.metrics.len() == 1 {
            keys.iter()
                .filter_map(|k| series(k).first().map(|p| (*k, p.1)))
                .collect()
        } else {
            Vec::new()
        };
        if !single.is_empty() {
            page.push_str(
                "</div><table><tr><th class=\"l\">after the one update</th><th>value</th></tr>",
            );
            for (k, v) in &single {
                let _ = write!(
                    page,
                    "<tr><td class=\"l\">{}</td><td>{v:.4}</td></tr>",
                    escape(k)
                );
            }
            page.push_str("</table><div class=\"plots\">");
        } else {
            for key in keys.iter().filter(|k| k.starts_with("loss_")) {
                let s = series(key);
                if !s.is_empty() {
                    let w = window(s.len());
                    page.push_str(&plots::smoothed(
                        key,
                        "learner update",
                        &[((*key).clone(), s)],
                        w,
                        true,
                    )?);
                }
            }
            // Every non-empty series whose key starts with `prefix`.
            let group = |prefix: &str| -> Vec<(String, Vec<(f64, f64)>)> {
                keys.iter()
                    .filter(|k| k.starts_with(prefix))
                    .map(|k| ((*k).clone(), series(k)))
                    .filter(|s| !s.1.is_empty())
                    .collect()
            };
            let rewards = group("reward");
            if !rewards.is_empty() {
                let w = window(rewards[0].1.len());
                page.push_str(&plots::smoothed(
                    "rewards",
                    "learner update",
                    &rewards,
                    w,
                    false,
                )?);
            }
            let alpha = group("alpha_");
            if !alpha.is_empty() {
                page.push_str(&plots::lines(
                    "alpha weights (AL, TS, CC)",
                    "learner update",
                    &alpha,
                )?);
            }
        }
        if let Some(curve) = &run.curve {
            learning_curve(page, curve)?;
        }
        if run.train.len() > 1 {
            training_episodes(page, &run.train)?;
        }
        page.push_str("</div>");
    }
    if !any {
        page.push_str("<p>No metrics.jsonl or training traces in these logs.</p>");
    }
    page.push_str("</section>");
    Ok(())
}

/// The training episodes: accuracy over a trailing window (not since the
/// start, which hides trends), the episode reward smoothed over the raw,
/// and the executors' round-0 actions per agent and per category.
fn training_episodes(page: &mut String, train: &[crate::episode::trace::Trace]) -> Result<()> {
    let w = (train.len() / 10).max(10).min(train.len());
    let correct: Vec<(f64, f64)> = train
        .iter()
        .map(|t| (t.episode as f64, f64::from(u8::from(t.correct))))
        .collect();
    let accuracy = plots::moving_average(&correct, w);
    page.push_str(&plots::lines(
        &format!("training accuracy, last {w} episodes"),
        "episode",
        &[("accuracy".into(), accuracy)],
    )?);
    let reward: Vec<(f64, f64)> = train
        .iter()
        .map(|t| (t.episode as f64, f64::from(t.reward)))
        .collect();
    page.push_str(&plots::smoothed(
        "episode reward",
        "episode",
        &[("reward".into(), reward)],
        w,
        false,
    )?);
    let [temperature, penalty] = categories::training_actions(train);
    if !temperature.is_empty() {
        page.push_str(&plots::smoothed(
            "round-0 temperature per agent",
            "episode",
            &temperature,
            w,
            false,
        )?);
        page.push_str(&plots::smoothed(
            "round-0 repetition penalty per agent",
            "episode",
            &penalty,
            w,
            false,
        )?);
    }
    let by_category = categories::training_temperatures(train);
    if by_category.len() > 1 {
        let w = (w / by_category.len()).max(1);
        page.push_str(&plots::smoothed(
            "round-0 temperature per category",
            "episode",
            &by_category,
            w,
            false,
        )?);
    }
    Ok(())
}

/// `econ-host sim curve`: held-out accuracy against training episodes for
/// the networks (baseline, bne) beside random and oracle actions, and how far
/// the executors' temperatures are from each kind's best.
fn learning_curve(page: &mut String, curve: &[crate::runner::curve::CurvePoint]) -> Result<()> {
    let last = curve.iter().map(|p| p.episodes).max().unwrap_or(0) as f64;
    let mut accuracy: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    let mut distance: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for p in curve {
        let name = if p.policy == "trained" {
            format!("networks, {}", p.mode)
        } else {
            format!("{} actions", p.policy)
        };
        // Fixed policies do not train: a flat line over the whole run.
        let xs: Vec<f64> = if p.policy == "trained" {
            vec![p.episodes as f64]
        } else {
            vec![0.0, last]
        };
        for (series, y) in [
            (&mut accuracy, p.accuracy),
            (&mut distance, p.temperature_distance),
        ] {
            let at = match series.iter().position(|(n, _)| *n == name) {
                Some(i) => i,
                None => {
                    series.push((name.clone(), Vec::new()));
                    series.len() - 1
                }
            };
            series[at].1.extend(xs.iter().map(|&x| (x, y)));
        }
    }
    page.push_str(&plots::lines(
        "held-out accuracy (sim curve)",
        "training episodes",
        &accuracy,
    )?);
    page.push_str(&plots::lines(
        "mean |T - T*| of round-0 actions",
        "training episodes",
        &distance,
    )?);
    page.push_str("</div><table><tr><th>episodes</th><th class=\"l\">policy</th><th class=\"l\">mode</th><th>accuracy</th><th>|T &minus; T*|</th><th class=\"l\">T by kind</th></tr>");
    for p in curve {
        let kinds: Vec<String> = p
            .temperature_by_kind
            .iter()
            .map(|(k, t)| format!("{} {t:.2}", escape(k)))
            .collect();
        let _ = write!(
            page,
            "<tr><td>{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{:.3}</td><td class=\"l\">{}</td></tr>",
            p.episodes,
            escape(&p.policy),
            escape(&p.mode),
            pct(p.accuracy),
            p.temperature_distance,
            kinds.join(", ")
        );
    }
    page.push_str("</table><div class=\"plots\">");
    Ok(())
}
