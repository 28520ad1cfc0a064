//! The report's "By problem category" section: per test mode, accuracy and
//! the executors' round-0 actions for each category of problem (the
//! simulated world's kind, a dataset's subject or type). Whether the agents
//! learned to act differently on different kinds of problem is read here.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::ModeData;
use super::html::{escape, heading, pct};
use crate::episode::summary::{MAX_KINDS, OTHER_KINDS};
use crate::episode::trace::Trace;

/// Per category: episodes, right answers, and per agent the sums of its
/// round-0 temperature and repetition penalty with their count.
#[derive(Default)]
struct Tally {
    episodes: u64,
    correct: u64,
    /// agent -> (sum T, sum p, n)
    actions: BTreeMap<u32, (f64, f64, u64)>,
}

fn tally<'a>(traces: impl Iterator<Item = &'a Trace>) -> BTreeMap<String, Tally> {
    let mut out: BTreeMap<String, Tally> = BTreeMap::new();
    for t in traces {
        let Some(category) = &t.category else {
            continue;
        };
        // As summary.json counts them: a field of ids would add a row a problem.
        let category = if out.len() >= MAX_KINDS && !out.contains_key(category) {
            OTHER_KINDS.to_string()
        } else {
            category.clone()
        };
        let c = out.entry(category).or_default();
        c.episodes += 1;
        c.correct += u64::from(t.correct);
        let round0 = t.steps.first().and_then(|s| s.rounds.first());
        for e in round0.map(|r| r.executors.as_slice()).unwrap_or_default() {
            let a = c.actions.entry(e.agent).or_default();
            a.0 += f64::from(e.temperature);
            a.1 += f64::from(e.repetition_penalty);
            a.2 += 1;
        }
    }
    out
}

pub(super) fn section(page: &mut String, modes: &[&ModeData]) {
    heading(page, "categories");
    let mut any = false;
    for m in modes {
        let by = tally(m.traces.iter());
        if by.is_empty() {
            continue;
        }
        any = true;
        let agents: Vec<u32> = by
            .values()
            .flat_map(|c| c.actions.keys().copied())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let _ = write!(
            page,
            "<h3>{}</h3><table><tr><th class=\"l\">category</th><th>problems</th><th>accuracy</th>",
            escape(&m.key)
        );
        for a in &agents {
            let _ = write!(page, "<th>agent {a}: T, p</th>");
        }
        page.push_str("</tr>");
        for (category, c) in &by {
            let _ = write!(
                page,
                "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td>",
                escape(category),
                c.episodes,
                pct(c.correct as f64 / c.episodes.max(1) as f64)
            );
            for a in &agents {
                match c.actions.get(a) {
                    Some(&(t, p, n)) if n > 0 => {
                        let _ = write!(page, "<td>{:.2}, {:.2}</td>", t / n as f64, p / n as f64);
                    }
                    _ => page.push_str("<td>&ndash;</td>"),
                }
            }
            page.push_str("</tr>");
        }
        page.push_str("</table>");
    }
    if any {
        page.push_str(
            "<p class=\"muted\">T, p: the mean round-0 temperature and repetition penalty each \
             executor chose for the category's problems (comparison modes, which choose no \
             actions, show their fixed sampling).</p>",
        );
    } else {
        page.push_str(
            "<p>No categories in these traces: a simulated world gives its kinds; a dataset \
             gives one through metadata <code>category</code> (adapter-jsonl's \
             <code>category_field</code> option), <code>type</code> or <code>Type</code>.</p>",
        );
    }
    page.push_str("</section>");
}

/// Round-0 temperature per training episode, averaged over the executors,
/// by category: (category, [(episode, T)]).
pub(super) fn training_temperatures(train: &[Trace]) -> Vec<(String, Vec<(f64, f64)>)> {
    let mut out: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for t in train {
        let (Some(category), Some(r)) =
            (&t.category, t.steps.first().and_then(|s| s.rounds.first()))
        else {
            continue;
        };
        if r.executors.is_empty() {
            continue;
        }
        let mean = r
            .executors
            .iter()
            .map(|e| f64::from(e.temperature))
            .sum::<f64>()
            / r.executors.len() as f64;
        out.entry(category.clone())
            .or_default()
            .push((t.episode as f64, mean));
    }
    out.into_iter().collect()
}

/// Round-0 temperature and repetition penalty per training episode, one
/// series per executor: ("agent i", [(episode, value)]) for each.
pub(super) fn training_actions(train: &[Trace]) -> [Vec<(String, Vec<(f64, f64)>)>; 2] {
    let mut t_by: BTreeMap<u32, Vec<(f64, f64)>> = BTreeMap::new();
    let mut p_by: BTreeMap<u32, Vec<(f64, f64)>> = BTreeMap::new();
    for t in train {
        let Some(r) = t.steps.first().and_then(|s| s.rounds.first()) else {
            continue;
        };
        for e in &r.executors {
            let x = t.episode as f64;
            t_by.entry(e.agent)
                .or_default()
                .push((x, f64::from(e.temperature)));
            p_by.entry(e.agent)
                .or_default()
                .push((x, f64::from(e.repetition_penalty)));
        }
    }
    let named = |m: BTreeMap<u32, Vec<(f64, f64)>>| {
        m.into_iter()
            .map(|(a, s)| (format!("agent {a}"), s))
            .collect()
    };
    [named(t_by), named(p_by)]
}
