//! `plugins lock` and `run --locked`: a config's plugin files pinned by
//! sha256, and a run refused when one differs.

use std::path::Path;
use std::process::{Command, Output};

use crate::common::{self, text};

fn econ_host(plugins: &Path, args: &[&str]) -> Output {
    Command::new(common::binary())
        .arg("--plugins")
        .arg(plugins)
        .args(args)
        .output()
        .expect("running econ-host")
}

#[test]
fn a_lock_file_pins_the_plugins_a_run_uses_and_a_changed_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = common::repo_root();
    // configs/sim.toml in a folder of its own, so its lock lands there.
    let config_text = std::fs::read_to_string(root.join("configs/sim.toml"))
        .unwrap()
        .replace("\"../data/", &format!("\"{}/data/", root.display()));
    let config = dir.path().join("sim.toml");
    std::fs::write(&config, config_text).unwrap();
    let config = config.to_str().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    let file = plugins.join("test-misbehave.wasm");
    std::fs::copy(common::test_plugin("test-misbehave"), &file).unwrap();
    let parser = "plugins.parser=\"test-misbehave\"";
    let run = |logs: &Path, locked: bool| {
        let mut args = vec![
            "run",
            "--config",
            config,
            "--train-eps",
            "2",
            "--test-eps",
            "2",
            "--modes",
            "baseline",
            "--set",
            parser,
            "--log-dir",
            logs.to_str().unwrap(),
        ];
        if locked {
            args.push("--locked");
        }
        econ_host(&plugins, &args)
    };

    // No lock yet.
    let out = run(&dir.path().join("no-lock"), true);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("plugins lock"), "{}", text(&out));

    let out = econ_host(
        &plugins,
        &["plugins", "lock", "--config", config, "--set", parser],
    );
    assert!(out.status.success(), "{}", text(&out));
    let lock = std::fs::read_to_string(dir.path().join("sim.plugins.lock")).unwrap();
    for want in [
        "key = \"plugins.parser\"",
        "name = \"test-misbehave\"",
        "version = \"0.1.0\"",
        "key = \"plugins.reward\"",
        "built-in",
        "--plugins",
    ] {
        assert!(lock.contains(want), "{want} not in\n{lock}");
    }

    let out = run(&dir.path().join("locked"), true);
    assert!(out.status.success(), "{}", text(&out));

    // The same name, another file: refused before anything is written.
    std::fs::copy(common::test_plugin("test-misbehave-v2"), &file).unwrap();
    let refused = dir.path().join("refused");
    let out = run(&refused, true);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains("plugins.parser")
            && said.contains("test-misbehave@0.2.0")
            && said.contains("test-misbehave@0.1.0")
            && said.contains("sim.plugins.lock"),
        "{said}"
    );
    assert!(!refused.exists(), "a refused run left its folder");
    // Without --locked the same run goes on.
    let out = run(&dir.path().join("unlocked"), false);
    assert!(out.status.success(), "{}", text(&out));
}
