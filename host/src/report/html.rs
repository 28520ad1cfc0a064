//! report.html: one page, inline CSS and SVG, no scripts, no external files.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::Result;

use super::{ModeData, Run, pair, plots};

/// The sections, in page order: (id, heading). Tests check for each id.
pub const SECTIONS: [(&str, &str); 12] = [
    ("verdict", "Verdict"),
    ("overview", "Runs"),
    ("provenance", "How each run was made"),
    ("accuracy", "Accuracy per mode"),
    ("rescored", "Judged again by other parsers"),
    ("pareto", "Accuracy vs tokens per episode"),
    ("cost", "Tokens, calls, time and cost per episode"),
    ("bne", "BNE rounds and convergence"),
    ("categories", "By problem category"),
    ("training", "Training curves"),
    ("agreement", "Per-problem agreement between modes"),
    ("significance", "Paired significance (McNemar)"),
];

/// Per-problem rows shown at most.
const MAX_PROBLEM_ROWS: usize = 300;

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}\
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}\
table{border-collapse:collapse;margin:.8em 0;font-size:.9em}th,td{border:1px solid #ddd;padding:.25em .6em;text-align:right}\
th{background:#f4f4f4}td.l,th.l{text-align:left}.ok{color:#067d3a}.no{color:#b3261e}.muted{color:#777}\
.plots{display:flex;flex-wrap:wrap;gap:.6em}.plots svg{border:1px solid #eee}code{background:#f4f4f4;padding:0 .2em}";

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub(super) fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

pub(super) fn heading(page: &mut String, id: &str) {
    let title = SECTIONS.iter().find(|s| s.0 == id).map_or(id, |s| s.1);
    let _ = write!(page, "<section id=\"{id}\"><h2>{}</h2>", escape(title));
}

pub fn render(runs: &[Run]) -> Result<String> {
    let modes: Vec<&ModeData> = runs.iter().flat_map(|r| r.modes.iter()).collect();
    let mut page = String::new();
    let _ = write!(
        page,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>econ-host report</title><style>{STYLE}</style></head><body>\
         <h1>econ-host report</h1><nav><p>"
    );
    for (id, title) in SECTIONS {
        let _ = write!(page, "<a href=\"#{id}\">{}</a> · ", escape(title));
    }
    page.push_str("</p></nav>");
    super::verdict::verdict(&mut page, runs);
    overview(&mut page, runs);
    super::runs::provenance(&mut page, runs);
    accuracy(&mut page, &modes)?;
    super::runs::rescored(&mut page, runs);
    pareto(&mut page, &modes)?;
    cost(&mut page, &modes);
    bne(&mut page, &modes)?;
    super::categories::section(&mut page, &modes);
    super::training::section(&mut page, runs)?;
    agreement(&mut page, &modes);
    significance(&mut page, &modes);
    page.push_str(
        "<p class=\"muted\">Made by <code>econ-host report</code> from the log folders' \
         traces_*.jsonl and metrics.jsonl.</p></body></html>\n",
    );
    Ok(page)
}

fn overview(page: &mut String, runs: &[Run]) {
    heading(page, "overview");
    page.push_str(
        "<table><tr><th class=\"l\">run</th><th class=\"l\">folder</th><th class=\"l\">test modes</th>\
         <th>test problems</th><th>train episodes</th><th>learner updates</th><th class=\"l\">data</th></tr>",
    );
    for run in runs {
        let modes: Vec<String> = run
            .modes
            .iter()
            .map(|m| format!("{} ({})", m.mode, m.stats.episodes))
            .collect();
        let problems = run
            .modes
            .iter()
            .map(|m| m.stats.episodes)
            .max()
            .unwrap_or(0);
        let data = run
            .summary
            .as_ref()
            .and_then(|s| s["data"]["source"].as_str())
            .map(|s| {
                std::path::Path::new(s)
                    .file_name()
                    .map_or(s.to_string(), |n| n.to_string_lossy().into_owned())
            })
            .unwrap_or_default();
        let _ = write!(
            page,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{problems}</td>\
             <td>{}</td><td>{}</td><td class=\"l\">{}</td></tr>",
            escape(&run.label),
            escape(&run.dir.display().to_string()),
            escape(&modes.join(", ")),
            run.train.len(),
            run.metrics.len(),
            escape(&data),
        );
    }
    page.push_str("</table></section>");
}

fn accuracy(page: &mut String, modes: &[&ModeData]) -> Result<()> {
    heading(page, "accuracy");
    if modes.is_empty() {
        page.push_str("<p>No test traces.</p></section>");
        return Ok(());
    }
    let points: Vec<(String, f64, f64, f64)> = modes
        .iter()
        .map(|m| (m.key.clone(), m.stats.accuracy, m.stats.ci.0, m.stats.ci.1))
        .collect();
    page.push_str(&plots::accuracy(&points)?);
    page.push_str(
        "<table><tr><th class=\"l\">mode</th><th>correct</th><th>episodes</th><th>accuracy</th>\
         <th>95% Wilson interval</th><th>answer found</th><th>failed</th></tr>",
    );
    for m in modes {
        let s = &m.stats;
        let _ = write!(
            page,
            "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} – {}</td><td>{}</td><td>{}</td></tr>",
            escape(&m.key),
            s.correct,
            s.episodes,
            pct(s.accuracy),
            pct(s.ci.0),
            pct(s.ci.1),
            pct(s.answer_rate),
            s.failed
        );
    }
    page.push_str("</table></section>");
    Ok(())
}

fn pareto(page: &mut String, modes: &[&ModeData]) -> Result<()> {
    heading(page, "pareto");
    let points: Vec<(String, f64, f64)> = modes
        .iter()
        .map(|m| (m.key.clone(), m.stats.tokens_per_episode, m.stats.accuracy))
        .collect();
    let intervals: Vec<(f64, f64)> = modes.iter().map(|m| m.stats.ci).collect();
    page.push_str(&plots::pareto(&points, &intervals)?);
    let frontier: Vec<String> = plots::pareto_frontier(&points)
        .into_iter()
        .map(|i| escape(&points[i].0))
        .collect();
    let _ = write!(
        page,
        "<p>Bars: 95% Wilson intervals. On the Pareto frontier (no other mode is cheaper and at least as accurate): <b>{}</b>.</p></section>",
        frontier.join(", ")
    );
    Ok(())
}

fn cost(page: &mut String, modes: &[&ModeData]) {
    heading(page, "cost");
    page.push_str(
        "<table><tr><th class=\"l\">mode</th><th>tokens</th><th>prompt</th><th>completion</th>\
         <th>coordinator</th><th>executor</th><th>LLM calls</th><th>wall s</th><th>LLM wait s</th>\
         <th>cost USD</th><th>total cost USD</th></tr>",
    );
    for m in modes {
        let s = &m.stats;
        let usd = |c: Option<f64>| c.map_or("–".into(), |c| format!("{c:.6}"));
        let _ = write!(
            page,
            "<tr><td class=\"l\">{}</td><td>{:.0}</td><td>{:.0}</td><td>{:.0}</td><td>{:.0}</td><td>{:.0}</td>\
             <td>{:.1}</td><td>{:.2}</td><td>{:.2}</td><td>{}</td><td>{}</td></tr>",
            escape(&m.key),
            s.tokens_per_episode,
            s.prompt_per_episode,
            s.completion_per_episode,
            s.coordinator_per_episode,
            s.executor_per_episode,
            s.calls_per_episode,
            s.wall_s_per_episode,
            s.llm_s_per_episode,
            usd(s.cost_per_episode),
            usd(s.cost_total),
        );
    }
    page.push_str(
        "</table><p class=\"muted\">Per episode (means over the mode's episodes). Cost needs \
         <code>llm.&lt;role&gt;.price_prompt_per_mtok</code> / <code>price_completion_per_mtok</code> \
         in the config. Wall time includes waiting for a shared server; episodes may overlap \
         (<code>runner.concurrency</code>).</p></section>",
    );
}

fn bne(page: &mut String, modes: &[&ModeData]) -> Result<()> {
    heading(page, "bne");
    let with_rounds: Vec<&&ModeData> = modes
        .iter()
        .filter(|m| !m.stats.rounds.is_empty())
        .collect();
    if with_rounds.is_empty() {
        page.push_str("<p>No mode with BNE rounds in these logs.</p></section>");
        return Ok(());
    }
    page.push_str("<div class=\"plots\">");
    for m in &with_rounds {
        let bars: Vec<(String, u64)> = m
            .stats
            .rounds
            .iter()
            .map(|(r, c)| (r.to_string(), *c))
            .collect();
        page.push_str(&plots::bars(
            &format!("{}: rounds used", m.key),
            "rounds (round 0 included)",
            &bars,
        )?);
    }
    page.push_str("</div>");
    let mut reasons: Vec<&str> = with_rounds
        .iter()
        .flat_map(|m| m.stats.stop_reasons.keys().map(String::as_str))
        .collect();
    reasons.sort_unstable();
    reasons.dedup();
    page.push_str("<table><tr><th class=\"l\">mode</th><th>mean rounds</th>");
    for r in &reasons {
        let _ = write!(page, "<th>{}</th>", escape(r));
    }
    page.push_str("</tr>");
    for m in &with_rounds {
        let n: u64 = m.stats.rounds.values().sum();
        let mean = m
            .stats
            .rounds
            .iter()
            .map(|(r, c)| *r as f64 * *c as f64)
            .sum::<f64>()
            / n.max(1) as f64;
        let _ = write!(
            page,
            "<tr><td class=\"l\">{}</td><td>{mean:.2}</td>",
            escape(&m.key)
        );
        for r in &reasons {
            let _ = write!(
                page,
                "<td>{}</td>",
                m.stats.stop_reasons.get(*r).copied().unwrap_or(0)
            );
        }
        page.push_str("</tr>");
    }
    page.push_str(
        "</table><p class=\"muted\">Stop reasons: commitment_unchanged, action_delta and unanimous \
         (every executor gave the commitment's answer, no round run) count as converged; \
         max_rounds is the budget (always for baseline); oscillation is the guard; \
         critic_veto: the critics kept the previous actions (not a convergence).</p>",
    );
    consensus(page, &with_rounds);
    page.push_str("</section>");
    Ok(())
}

/// What the coordinator did with its executors' answers, per ECON mode: the
/// executors' parsed majority on the same outputs beside the final answer,
/// and how BNE rounds changed round 0's answer.
fn consensus(page: &mut String, modes: &[&&ModeData]) {
    page.push_str(
        "<h3>Executors' majority and the commitment</h3><table><tr><th class=\"l\">mode</th>\
         <th>episodes</th><th>final right</th><th>majority right</th><th>any executor right</th>\
         <th>overrode a right majority</th><th>rescued a wrong majority</th>\
         <th>round 0 right</th><th>right → wrong</th><th>wrong → right</th></tr>",
    );
    for m in modes {
        let mut s = crate::episode::summary::ModeSummary::default();
        for t in &m.traces {
            s.add(t);
        }
        let Some(c) = &s.consensus else { continue };
        let _ = write!(
            page,
            "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&m.key),
            s.episodes,
            s.correct,
            c.majority_correct,
            c.any_executor_correct,
            c.overrode_right_majority,
            c.rescued_wrong_majority,
            c.round0_correct,
            c.right_to_wrong,
            c.wrong_to_right
        );
    }
    page.push_str(
        "</table><p class=\"muted\">Counts of episodes, on each episode's final round: the \
         majority is the executors' parsed answers (ties: the first seen). Round 0 → final: how \
         the BNE rounds changed the commitment's answer.</p>",
    );
    transitions_by_stop(page, modes);
}

/// Round 0 → final answer, by why the BNE rounds stopped: whether what
/// converged, what the critics vetoed and what ran out of rounds helped.
fn transitions_by_stop(page: &mut String, modes: &[&&ModeData]) {
    let mut rows = String::new();
    for m in modes {
        let mut by_reason: BTreeMap<String, crate::episode::summary::ModeSummary> = BTreeMap::new();
        for t in &m.traces {
            let Some(step) = t.steps.last() else { continue };
            let reason = super::stop_reason_name(step);
            by_reason.entry(reason).or_default().add(t);
        }
        for (reason, s) in &by_reason {
            let Some(c) = &s.consensus else { continue };
            if c.right_to_wrong + c.wrong_to_right == 0 && m.mode != "bne" {
                continue;
            }
            let _ = write!(
                rows,
                "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td>\
                 <td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&m.key),
                escape(reason),
                s.episodes,
                c.round0_correct,
                s.correct,
                c.right_to_wrong,
                c.wrong_to_right
            );
        }
    }
    if rows.is_empty() {
        return;
    }
    let _ = write!(
        page,
        "<h3>Round 0 → final, by stop reason</h3><table><tr><th class=\"l\">mode</th>\
         <th class=\"l\">stopped by</th><th>episodes</th><th>round 0 right</th>\
         <th>final right</th><th>right → wrong</th><th>wrong → right</th></tr>{rows}</table>"
    );
}

// Long on purpose: one section of the report, HTML written in page order.
fn agreement(page: &mut String, modes: &[&ModeData]) {
    heading(page, "agreement");
    if modes.len() < 2 {
        page.push_str("<p>Needs two modes or more.</p>");
    } else {
        page.push_str(
            "<p>Share of the problems both modes ran on which they were both right or both wrong \
             (in brackets: same final answer).</p><table><tr><th></th>",
        );
        for m in modes {
            let _ = write!(page, "<th>{}</th>", escape(&m.key));
        }
        page.push_str("</tr>");
        for a in modes {
            let _ = write!(page, "<tr><th class=\"l\">{}</th>", escape(&a.key));
            for b in modes {
                let p = pair(a, b);
                if p.n == 0 {
                    page.push_str("<td class=\"muted\">–</td>");
                } else {
                    let _ = write!(
                        page,
                        "<td>{} <span class=\"muted\">({})</span></td>",
                        pct(p.agreement()),
                        pct(p.same_answer as f64 / p.n as f64)
                    );
                }
            }
            page.push_str("</tr>");
        }
        page.push_str("</table>");
    }
    // Per problem: ✓ / ✗ and the final answer of every mode.
    let mut order: Vec<&str> = Vec::new();
    let mut cells: BTreeMap<(&str, usize), (bool, Option<&str>)> = BTreeMap::new();
    let mut reference: BTreeMap<&str, &str> = BTreeMap::new();
    for (j, m) in modes.iter().enumerate() {
        for t in &m.traces {
            if !reference.contains_key(t.id.as_str()) {
                order.push(&t.id);
                reference.insert(&t.id, &t.reference);
            }
            cells.insert((t.id.as_str(), j), (t.correct, t.final_answer.as_deref()));
        }
    }
    // Only the problems where the modes that ran them disagree on right or
    // wrong: the rest say nothing a reader needs a row for.
    let disputed: Vec<&str> = order
        .iter()
        .copied()
        .filter(|id| {
            let verdicts: Vec<bool> = (0..modes.len())
                .filter_map(|j| cells.get(&(*id, j)).map(|c| c.0))
                .collect();
            verdicts.iter().any(|&v| v) && verdicts.iter().any(|&v| !v)
        })
        .collect();
    let _ = write!(
        page,
        "<details><summary>Per problem: the {} problems of {} where the modes disagree</summary>\
         <table><tr><th class=\"l\">problem</th><th class=\"l\">reference</th>",
        disputed.len(),
        order.len()
    );
    for m in modes {
        let _ = write!(page, "<th>{}</th>", escape(&m.key));
    }
    page.push_str("</tr>");
    for id in disputed.iter().take(MAX_PROBLEM_ROWS) {
        let _ = write!(
            page,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td>",
            escape(id),
            escape(reference.get(id).copied().unwrap_or(""))
        );
        for j in 0..modes.len() {
            match cells.get(&(*id, j)) {
                Some((true, a)) => {
                    let _ = write!(page, "<td class=\"ok\">✓ {}</td>", escape(a.unwrap_or("")));
                }
                Some((false, a)) => {
                    let _ = write!(page, "<td class=\"no\">✗ {}</td>", escape(a.unwrap_or("–")));
                }
                None => page.push_str("<td class=\"muted\"></td>"),
            }
        }
        page.push_str("</tr>");
    }
    page.push_str("</table>");
    if disputed.len() > MAX_PROBLEM_ROWS {
        let _ = write!(
            page,
            "<p class=\"muted\">First {MAX_PROBLEM_ROWS} of {} problems.</p>",
            disputed.len()
        );
    }
    page.push_str("</details></section>");
}

fn significance(page: &mut String, modes: &[&ModeData]) {
    heading(page, "significance");
    if modes.len() < 2 {
        page.push_str("<p>Needs two modes or more.</p></section>");
        return;
    }
    page.push_str(
        "<details><summary>Every pair of modes</summary>\
         <p>McNemar's test on the problems both modes ran: only the discordant problems count. \
         Exact two-sided binomial test below 25 discordant problems, otherwise chi-square with \
         continuity correction. No correction for multiple comparisons here (the verdict above \
         corrects its contrasts).</p>\
         <table><tr><th class=\"l\">mode A</th><th class=\"l\">mode B</th><th>paired problems</th>\
         <th>both right</th><th>only A right</th><th>only B right</th><th>both wrong</th>\
         <th class=\"l\">test</th><th>statistic</th><th>p-value</th><th class=\"l\">at 5%</th></tr>",
    );
    for (i, a) in modes.iter().enumerate() {
        for b in &modes[i + 1..] {
            let p = pair(a, b);
            let verdict = if p.n == 0 {
                "no common problems".to_string()
            } else if p.test.p_value < 0.05 {
                let better = if p.only_a > p.only_b { &p.a } else { &p.b };
                format!("{} is better", escape(better))
            } else {
                "no significant difference".to_string()
            };
            let _ = write!(
                page,
                "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
                 <td>{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td class=\"l\">{verdict}</td></tr>",
                escape(&p.a),
                escape(&p.b),
                p.n,
                p.both_right,
                p.only_a,
                p.only_b,
                p.both_wrong,
                p.test.method,
                p.test.statistic.map_or("–".into(), |x| format!("{x:.3}")),
                super::verdict::p_text(p.test.p_value),
            );
        }
    }
    page.push_str("</table></details></section>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn an_empty_run_still_renders_every_section() {
        let run = Run {
            label: "empty".into(),
            dir: "logs".into(),
            summary: None,
            modes: Vec::new(),
            train: Vec::new(),
            metrics: Vec::new(),
            curve: None,
            record: None,
            rescored: Vec::new(),
        };
        let page = render(&[run]).unwrap();
        for (id, _) in SECTIONS {
            assert!(page.contains(&format!("<section id=\"{id}\">")), "{id}");
        }
    }
}
