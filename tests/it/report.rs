//! `econ-host report` on the committed log folder tests/fixtures/report-logs
//! (made by the real binary against the scripted server: see
//! tests/baselines.rs `regenerate_report_fixture`).

use crate::common::{self, text};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture() -> PathBuf {
    common::repo_root().join("tests/fixtures/report-logs")
}

fn econ_host(args: &[&str], dir: &Path) -> Output {
    Command::new(common::binary())
        .args(args)
        .current_dir(dir)
        .output()
        .expect("running econ-host")
}

const SECTIONS: [&str; 9] = [
    "verdict",
    "overview",
    "accuracy",
    "pareto",
    "cost",
    "bne",
    "training",
    "agreement",
    "significance",
];

const MODES: [&str; 5] = ["baseline", "bne", "cot", "sc", "debate"];

fn build(out_name: &str, extra: &[&str]) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join(out_name);
    let fixture = fixture();
    let mut args = vec!["report", fixture.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--out", out_file.to_str().unwrap()]);
    let out = econ_host(&args, dir.path());
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("report: "), "{}", text(&out));
    let html = std::fs::read_to_string(&out_file).unwrap();
    (dir, html)
}

#[test]
fn the_report_builds_from_the_fixture_with_every_section() {
    let (dir, html) = build("report.html", &[]);
    assert!(html.starts_with("<!DOCTYPE html>"));
    let out_file = dir.path().join("again.html");
    let fixture = fixture();
    let args = [
        "report",
        fixture.to_str().unwrap(),
        "--json",
        "--out",
        out_file.to_str().unwrap(),
    ];
    let out = econ_host(&args, dir.path());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["report"], out_file.to_str().unwrap());
    assert_eq!(v["runs"], 1);
    assert!(html.trim_end().ends_with("</html>"));
    for id in SECTIONS {
        assert!(
            html.contains(&format!("<section id=\"{id}\">")),
            "section {id}"
        );
    }
    // The page opens with the verdict, whose numbers are summary.json's.
    let verdict_at = html.find("<section id=\"verdict\">").unwrap();
    assert!(verdict_at < html.find("<section id=\"overview\">").unwrap());
    let verdict = &html[verdict_at..];
    let verdict = &verdict[..verdict.find("</section>").unwrap()];
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture.join("summary.json")).unwrap()).unwrap();
    for mode in MODES {
        let m = &summary["modes"][mode];
        let row = format!(
            "<td class=\"l\">{mode}</td><td>{} / {}</td><td>{:.1}%</td>",
            m["correct"],
            m["episodes"],
            100.0 * m["accuracy"].as_f64().unwrap()
        );
        assert!(verdict.contains(&row), "{row} in {verdict}");
    }
    // bne vs baseline, and bne and baseline each vs the best comparison mode.
    assert!(
        verdict.contains("<td class=\"l\">bne</td><td class=\"l\">baseline</td>"),
        "{verdict}"
    );
    assert!(verdict.contains("Holm"), "{verdict}");
    // Self-contained: no scripts, no external resources.
    assert!(!html.contains("<script"));
    assert!(!html.contains("src=\"http"));
    assert!(!html.contains("<link"));
    // Plots: accuracy, Pareto, BNE rounds, training curves (loss terms, rewards, alpha).
    assert!(
        html.matches("<svg").count() >= 6,
        "{} plots",
        html.matches("<svg").count()
    );
    assert!(html.contains("Accuracy per mode (95% Wilson interval)"));
    assert!(html.contains("Accuracy vs tokens per episode"));
    assert!(html.contains("loss_td"));
    assert!(html.contains("loss_total"));
    assert!(html.contains("alpha weights"));
    assert!(html.contains("alpha_al"));
    assert!(html.contains("rewards"));
    assert!(html.contains("rounds used"));
    assert!(html.contains("max_rounds") || html.contains("commitment_unchanged"));
    for mode in MODES {
        assert!(html.contains(&format!(">{mode}<")), "mode {mode}");
    }
    // Every pair of the five modes has a McNemar row.
    let rows = html.matches("<td class=\"l\">exact</td>").count()
        + html.matches("<td class=\"l\">chi2</td>").count();
    assert_eq!(rows, 10);
    // The fixture's sc majority is always wrong, cot always right.
    assert!(html.contains("Pareto frontier"));
    assert!(html.contains("✓") && html.contains("✗"));
}

#[test]
fn compare_sets_two_runs_side_by_side() {
    let (_dir, html) = build("both.html", &["--compare", fixture().to_str().unwrap()]);
    // Two runs with the same folder name get unique labels.
    assert!(html.contains("report-logs#1/cot"));
    assert!(html.contains("report-logs#2/cot"));
    // Runs without run.json cannot be shown to differ only by seed: no mean over them.
    assert!(!html.contains("Over runs"));
    // 10 modes: 45 pairs.
    let rows = html.matches("<td class=\"l\">exact</td>").count()
        + html.matches("<td class=\"l\">chi2</td>").count();
    assert_eq!(rows, 45);
}

#[test]
fn a_missing_log_folder_is_bad_usage() {
    let dir = tempfile::tempdir().unwrap();
    let out = econ_host(&["report", "no-such-folder"], dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("no-such-folder"), "{}", text(&out));
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = econ_host(&["report", "empty"], dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

/// Renders the report in headless Chromium when it is installed (Debian's
/// `chromium`) and checks the screenshot is a real picture; skipped otherwise.
#[test]
fn the_report_renders_in_headless_chromium() {
    let Some(chromium) = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find(|b| {
            Command::new("which")
                .arg(b)
                .output()
                .is_ok_and(|o| o.status.success())
        })
    else {
        eprintln!("skipped: no chromium on this machine (apt install chromium to run it)");
        return;
    };
    let (dir, _html) = build("report.html", &[]);
    let page = dir.path().join("report.html");
    let png = dir.path().join("shot.png");
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1200,3000",
        ])
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("running chromium");
    assert!(png.is_file(), "no screenshot: {}", text(&out));
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    // A blank 1200x3000 page compresses to a few KB; plots and tables do not.
    assert!(
        bytes.len() > 30_000,
        "screenshot is only {} bytes",
        bytes.len()
    );
}

/// `report A --compare B` of one config under two seeds: the verdict
/// aggregates each mode over the runs (mean, interval, each run's value),
/// says how many test problems the runs share, and its means are the runs'
/// summary.json accuracies.
#[test]
fn a_compare_of_two_seeds_aggregates_over_the_runs() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::repo_root().join("configs/sim.toml");
    let mut accuracy = Vec::new();
    let mut by_kind = Vec::new();
    let mut ids: Vec<std::collections::BTreeSet<String>> = Vec::new();
    for seed in ["1", "2"] {
        let logs = dir.path().join(format!("seed-{seed}"));
        let out = econ_host(
            &[
                "run",
                "--config",
                config.to_str().unwrap(),
                "--train-eps",
                "30",
                "--test-eps",
                "40",
                "--modes",
                "baseline,bne",
                "--set",
                &format!("seed={seed}"),
                "--log-dir",
                logs.to_str().unwrap(),
            ],
            dir.path(),
        );
        assert!(out.status.success(), "{}", text(&out));
        let summary: serde_json::Value =
            serde_json::from_slice(&std::fs::read(logs.join("summary.json")).unwrap()).unwrap();
        accuracy.push(summary["modes"]["baseline"]["accuracy"].as_f64().unwrap());
        by_kind.push(summary["modes"]["baseline"]["by_kind"].clone());
        let traces = std::fs::read_to_string(logs.join("traces_test_baseline.jsonl")).unwrap();
        ids.push(
            traces
                .lines()
                .map(|l| {
                    serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                        .as_str()
                        .unwrap()
                        .to_string()
                })
                .collect(),
        );
    }
    let out_file = dir.path().join("seeds.html");
    let out = econ_host(
        &[
            "report",
            "seed-1",
            "--compare",
            "seed-2",
            "--out",
            out_file.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let html = std::fs::read_to_string(&out_file).unwrap();
    let verdict =
        &html[html.find("id=\"verdict\"").unwrap()..html.find("id=\"overview\"").unwrap()];
    assert!(verdict.contains("Over runs"), "no aggregate in the verdict");
    let shared = ids[0].intersection(&ids[1]).count();
    assert!(
        verdict.contains(&format!("Any two of them share {shared} test problems")),
        "{verdict}"
    );
    let mean = (accuracy[0] + accuracy[1]) / 2.0;
    let row = format!(
        "<td class=\"l\">baseline</td><td>2</td><td>{:.1}%</td>",
        100.0 * mean
    );
    assert!(verdict.contains(&row), "{row} not in {verdict}");
    assert!(
        verdict.contains(&format!("seed-1 {:.1}%", 100.0 * accuracy[0])),
        "{verdict}"
    );
    assert!(
        verdict.contains("bne − baseline (paired within each run)"),
        "{verdict}"
    );
    // And what BNE did, by stop reason.
    assert!(html.contains("Round 0 → final, by stop reason"));

    // How each run was made: the command, the key settings and the plugins
    // its episodes ran with come first.
    let provenance =
        &html[html.find("id=\"provenance\"").unwrap()..html.find("id=\"accuracy\"").unwrap()];
    let first = &provenance[..provenance.find("<details>").unwrap()];
    assert!(first.contains("econ-host run --config"), "{first}");
    assert!(first.contains("seed = 1"), "{first}");
    assert!(first.contains("n_agents = 3"), "{first}");
    assert!(
        first.contains("plugin used</th><td class=\"l\">parser-boxed@"),
        "{first}"
    );
    assert!(first.contains("executor model"), "{first}");

    // Accuracy and actions by the world's kinds, as summary.json counts them.
    let categories =
        &html[html.find("id=\"categories\"").unwrap()..html.find("id=\"training\"").unwrap()];
    let kinds = by_kind[0].as_object().expect("summary.json has by_kind");
    assert!(kinds.len() >= 2, "{kinds:?}");
    for (kind, k) in kinds {
        let row = format!(
            "<td class=\"l\">{kind}</td><td>{}</td><td>{:.1}%</td>",
            k["episodes"],
            100.0 * k["accuracy"].as_f64().unwrap()
        );
        assert!(categories.contains(&row), "{row} not in {categories}");
    }
    assert!(categories.contains("agent 0: T, p"), "{categories}");
    // The training section follows each agent's and each kind's actions.
    let training = &html[html.find("id=\"training\"").unwrap()..];
    assert!(training.contains("round-0 temperature per category"));
    assert!(training.contains("round-0 temperature per agent"));
    assert!(training.contains("training accuracy, last 10 episodes"));
}
