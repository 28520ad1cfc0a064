//! The report's sections about the runs themselves: how each was made
//! (run.json) and how its test traces fare under other parsers
//! (summary.rescored-*.json).

use std::fmt::Write;

use super::Run;
use super::html::{escape, heading, pct};

/// run.json of each run: version, commit, config hash, files and plugins
/// with their sha256, the machine, start and end.
pub(super) fn provenance(page: &mut String, runs: &[Run]) {
    heading(page, "provenance");
    for run in runs {
        let Some(r) = &run.record else {
            let _ = write!(
                page,
                "<p class=\"muted\">{}: no run.json (written by econ-host since run folders \
                 record their provenance).</p>",
                escape(&run.label)
            );
            continue;
        };
        let short = |h: &str| h.chars().take(12).collect::<String>();
        let _ = write!(
            page,
            "<h3>{}</h3><table><tr><th class=\"l\">econ-host</th><td class=\"l\">{} {}</td></tr>\
             <tr><th class=\"l\">config sha256</th><td class=\"l\"><code>{}</code></td></tr>\
             <tr><th class=\"l\">started / finished</th><td class=\"l\">{} / {}</td></tr>\
             <tr><th class=\"l\">machine</th><td class=\"l\">{} ({} threads, {} {}, torch {})</td></tr>\
             <tr><th class=\"l\">problems</th><td class=\"l\">{} train, {} test from {}</td></tr>",
            escape(&run.label),
            escape(&r.econ_host_version),
            escape(&short(&r.git_commit)),
            escape(&short(&r.config_sha256)),
            escape(&r.started),
            escape(r.finished.as_deref().unwrap_or("(did not finish)")),
            escape(&r.machine.cpu),
            r.machine.threads,
            escape(&r.machine.os),
            escape(&r.machine.arch),
            escape(&r.machine.torch_device),
            r.splits.train.len(),
            r.splits.test.len(),
            escape(&r.splits.source),
        );
        for f in &r.files {
            let _ = write!(
                page,
                "<tr><th class=\"l\">{}</th><td class=\"l\">{} ({} bytes, sha256 <code>{}</code>)</td></tr>",
                escape(&f.role),
                escape(&f.path.display().to_string()),
                f.bytes,
                escape(&short(&f.sha256))
            );
        }
        for p in &r.plugins {
            let _ = write!(
                page,
                "<tr><th class=\"l\">plugin ({})</th><td class=\"l\">{}@{} (sha256 <code>{}</code>)</td></tr>",
                escape(&p.kind),
                escape(&p.name),
                escape(&p.version),
                escape(&short(&p.sha256))
            );
        }
        page.push_str("</table>");
    }
    page.push_str("</section>");
}

/// Each mode's accuracy as the run judged it and as `econ-host rescore`
/// judged the same traces with other parsers.
pub(super) fn rescored(page: &mut String, runs: &[Run]) {
    heading(page, "rescored");
    let mut any = false;
    for run in runs.iter().filter(|r| !r.rescored.is_empty()) {
        any = true;
        let _ = write!(
            page,
            "<h3>{}</h3><table><tr><th class=\"l\">mode</th><th>as run</th>",
            escape(&run.label)
        );
        for r in &run.rescored {
            let _ = write!(page, "<th>{}</th>", escape(&r.label()));
        }
        page.push_str("</tr>");
        for m in &run.modes {
            let _ = write!(
                page,
                "<tr><td class=\"l\">{}</td><td>{}/{} ({})</td>",
                escape(&m.mode),
                m.stats.correct,
                m.stats.episodes,
                pct(m.stats.accuracy)
            );
            for r in &run.rescored {
                match r.modes.get(&m.mode) {
                    Some(s) => {
                        let changed = r.changed.get(&m.mode).copied().unwrap_or(0);
                        let reward = match r.reward {
                            Some(_) => format!("; mean reward {:.3}", s.reward_mean),
                            None => String::new(),
                        };
                        let _ = write!(
                            page,
                            "<td>{}/{} ({}; {changed} changed{reward})</td>",
                            s.correct,
                            s.episodes,
                            pct(s.accuracy)
                        );
                    }
                    None => page.push_str("<td>-</td>"),
                }
            }
            page.push_str("</tr>");
        }
        page.push_str("</table>");
    }
    if !any {
        page.push_str(
            "<p class=\"muted\">No rescoring: <code>econ-host rescore LOG_DIR --parser P \
             --reward R</code> judges a run's traces again with another parser or reward \
             plugin, without LLM calls.</p>",
        );
    }
    page.push_str("</section>");
}
