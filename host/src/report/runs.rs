//! The report's sections about the runs themselves: how each was made
//! (run.json) and how its test traces fare under other parsers
//! (summary.rescored-*.json).

use std::collections::BTreeMap;
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
    config_differences(page, runs);
    page.push_str("</section>");
}

/// Where the compared runs' configs differ, key by key (a seed, an arm's
/// switch), instead of two hashes to compare by eye.
fn config_differences(page: &mut String, runs: &[Run]) {
    let configs: Vec<(&str, BTreeMap<String, String>)> = runs
        .iter()
        .filter_map(|r| {
            let record = r.record.as_ref()?;
            let mut flat = BTreeMap::new();
            flatten("", &record.config, &mut flat);
            Some((r.label.as_str(), flat))
        })
        .collect();
    if configs.len() < 2 {
        return;
    }
    let keys: std::collections::BTreeSet<&String> =
        configs.iter().flat_map(|(_, c)| c.keys()).collect();
    let differing: Vec<&String> = keys
        .into_iter()
        .filter(|k| {
            let first = configs[0].1.get(*k);
            configs.iter().any(|(_, c)| c.get(*k) != first)
        })
        .collect();
    let _ = write!(page, "<h3>Config differences</h3>");
    if differing.is_empty() {
        page.push_str("<p>The runs' configs are the same in every key.</p>");
        return;
    }
    page.push_str("<table><tr><th class=\"l\">key</th>");
    for (label, _) in &configs {
        let _ = write!(page, "<th class=\"l\">{}</th>", escape(label));
    }
    page.push_str("</tr>");
    for key in differing {
        let _ = write!(
            page,
            "<tr><td class=\"l\"><code>{}</code></td>",
            escape(key)
        );
        for (_, c) in &configs {
            let _ = write!(
                page,
                "<td class=\"l\">{}</td>",
                escape(c.get(key).map_or("–", String::as_str))
            );
        }
        page.push_str("</tr>");
    }
    page.push_str("</table>");
}

/// `a.b.c = value` for every leaf of a JSON config.
fn flatten(prefix: &str, value: &serde_json::Value, out: &mut BTreeMap<String, String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_flatten_to_dotted_keys() {
        let mut out = BTreeMap::new();
        flatten(
            "",
            &serde_json::json!({"seed": 1, "bne": {"critic_veto": true}}),
            &mut out,
        );
        assert_eq!(out["seed"], "1");
        assert_eq!(out["bne.critic_veto"], "true");
    }
}
