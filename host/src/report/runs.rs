//! The report's sections about the runs themselves: how each was made
//! (run.json) and how its test traces fare under other parsers
//! (summary.rescored-*.json).

use std::collections::BTreeMap;
use std::fmt::Write;

use super::Run;
use super::html::{escape, heading, pct};

/// Settings shown first: what decides a result (the rest of the config is
/// in run.json, and the differences between runs below).
const KEY_SETTINGS: [&str; 10] = [
    "seed",
    "n_agents",
    "sampling.temperature_min",
    "sampling.temperature_max",
    "sampling.p_min",
    "sampling.p_max",
    "bne.max_iterations_train",
    "bne.max_iterations_infer",
    "mixer.kind",
    "train.update_interval",
];

/// The value at a dotted path of a JSON config, as text.
fn setting(config: &serde_json::Value, key: &str) -> Option<String> {
    let v = key.split('.').try_fold(config, |v, k| v.get(k))?;
    Some(match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

/// run.json of each run: the command, the models, the key settings and the
/// plugins the episodes ran with first; then, collapsed, the machine, the
/// files with their sha256 and every plugin the folders offered.
// Long on purpose: one table of the report, rows in reading order.
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
        let row = |page: &mut String, k: &str, v: &str| {
            let _ = write!(
                page,
                "<tr><th class=\"l\">{}</th><td class=\"l\">{v}</td></tr>",
                escape(k)
            );
        };
        let _ = write!(page, "<h3>{}</h3><table>", escape(&run.label));
        row(
            page,
            "command",
            &format!(
                "<code>{}</code>",
                escape(&crate::http::redact_urls_in(&r.command.join(" ")))
            ),
        );
        for role in ["coordinator", "executor"] {
            let model = setting(&r.config, &format!("llm.{role}.model")).unwrap_or_default();
            let provider = setting(&r.config, &format!("llm.{role}.provider")).unwrap_or_default();
            row(
                page,
                &format!("{role} model"),
                &escape(&format!("{model} ({provider})")),
            );
        }
        let settings: Vec<String> = KEY_SETTINGS
            .iter()
            .filter_map(|k| setting(&r.config, k).map(|v| format!("{k} = {v}")))
            .collect();
        row(page, "key settings", &escape(&settings.join(", ")));
        row(
            page,
            "problems",
            &escape(&format!(
                "{} train, {} test from {}",
                r.splits.train.len(),
                r.splits.test.len(),
                r.splits.source
            )),
        );
        if r.plugins_served.is_empty() {
            row(
                page,
                "plugins used",
                "(not recorded: the run did not finish)",
            );
        }
        for p in &r.plugins_served {
            let episodes: Vec<String> = p
                .episodes
                .iter()
                .map(|(file, range)| format!("{file} {range}"))
                .collect();
            row(
                page,
                "plugin used",
                &format!(
                    "{} (sha256 <code>{}</code>; {})",
                    escape(&p.plugin),
                    escape(&short(&p.sha256)),
                    escape(&episodes.join("; "))
                ),
            );
        }
        page.push_str("</table>");
        let _ = write!(
            page,
            "<details><summary>econ-host, machine, files and every plugin offered</summary><table>"
        );
        row(
            page,
            "econ-host",
            &escape(&format!("{} {}", r.econ_host_version, short(&r.git_commit))),
        );
        row(
            page,
            "config sha256",
            &format!("<code>{}</code>", escape(&short(&r.config_sha256))),
        );
        row(
            page,
            "started / finished",
            &escape(&format!(
                "{} / {}",
                r.started,
                r.finished.as_deref().unwrap_or("(did not finish)")
            )),
        );
        row(
            page,
            "machine",
            &escape(&format!(
                "{} ({} threads, {} {}, torch {})",
                r.machine.cpu,
                r.machine.threads,
                r.machine.os,
                r.machine.arch,
                r.machine.torch_device
            )),
        );
        for f in &r.files {
            row(
                page,
                &f.role,
                &format!(
                    "{} ({} bytes, sha256 <code>{}</code>)",
                    escape(&f.path.display().to_string()),
                    f.bytes,
                    escape(&short(&f.sha256))
                ),
            );
        }
        for p in &r.plugins {
            row(
                page,
                &format!("plugin ({})", p.kind),
                &format!(
                    "{}@{} (sha256 <code>{}</code>)",
                    escape(&p.name),
                    escape(&p.version),
                    escape(&short(&p.sha256))
                ),
            );
        }
        page.push_str("</table></details>");
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
