//! `econ-host plugins install` and `plugins list` with a temporary user
//! plugin folder (ECON_HOST_PLUGIN_DIR or a temporary HOME).

use crate::common::{self, text};

use std::path::Path;
use std::process::{Command, Output};

/// econ-host with `home` as HOME (so no real user folder or cache is
/// touched) and, if given, ECON_HOST_PLUGIN_DIR.
fn econ_host(args: &[&str], home: &Path, plugin_dir: Option<&Path>) -> Output {
    let mut cmd = Command::new(common::binary());
    cmd.args(args)
        .current_dir(home)
        .env("HOME", home)
        .env_remove("XDG_DATA_HOME")
        .env_remove("XDG_CACHE_HOME")
        .env_remove("ECON_HOST_PLUGIN_DIR")
        .env_remove("ECON_HOST_WIT");
    if let Some(dir) = plugin_dir {
        cmd.env("ECON_HOST_PLUGIN_DIR", dir);
    }
    cmd.output().expect("running econ-host")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn listed(home: &Path, plugin_dir: &Path) -> serde_json::Value {
    let out = econ_host(&["plugins", "list", "--json"], home, Some(plugin_dir));
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn install_verifies_copies_by_name_and_refuses_a_different_plugin_without_force() {
    let home = tempfile::tempdir().unwrap();
    let user = home.path().join("my-plugins");
    let v1 = common::test_plugin("test-misbehave");
    let v2 = common::test_plugin("test-misbehave-v2");

    let out = econ_host(&["plugins", "install", s(&v1)], home.path(), Some(&user));
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("installed test-misbehave@0.1.0"),
        "{}",
        text(&out)
    );
    let dest = user.join("test-misbehave.wasm");
    assert_eq!(std::fs::read(&dest).unwrap(), std::fs::read(&v1).unwrap());

    // The same file again: nothing to do (said as JSON for a script).
    let out = econ_host(
        &["plugins", "install", "--json", s(&v1)],
        home.path(),
        Some(&user),
    );
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["files"][0]["outcome"], "unchanged", "{v}");
    assert_eq!(v["files"][0]["plugin"]["name"], "test-misbehave", "{v}");
    let out = econ_host(&["plugins", "install", s(&v1)], home.path(), Some(&user));
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("unchanged test-misbehave@0.1.0"),
        "{}",
        text(&out)
    );

    // Another build of the same name: refused, saying which replaces which.
    let out = econ_host(&["plugins", "install", s(&v2)], home.path(), Some(&user));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("test-misbehave@0.1.0")
            && t.contains("test-misbehave@0.2.0")
            && t.contains("--force"),
        "{t}"
    );
    assert_eq!(std::fs::read(&dest).unwrap(), std::fs::read(&v1).unwrap());

    let out = econ_host(
        &["plugins", "install", "--force", s(&v2)],
        home.path(),
        Some(&user),
    );
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("replaced") && t.contains("test-misbehave@0.1.0"),
        "{t}"
    );
    assert!(t.contains("with test-misbehave@0.2.0"), "{t}");
    assert_eq!(std::fs::read(&dest).unwrap(), std::fs::read(&v2).unwrap());
    // Written atomically: no temporary file left beside it.
    assert_eq!(files_in(&user), ["test-misbehave.wasm"]);

    // `plugins list` shows it, from the user folder.
    let v = listed(home.path(), &user);
    let p = v["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "test-misbehave")
        .unwrap_or_else(|| panic!("not listed: {v}"));
    assert_eq!(p["version"], "0.2.0");
    assert_eq!(p["origin"], "user");
    assert_eq!(p["file"], s(&dest));

    // Garbage and a plugin built for another WIT are refused with a reason.
    let garbage = home.path().join("garbage.wasm");
    std::fs::write(&garbage, b"\0asm\x0d\0\x01\0 not really").unwrap();
    let out = econ_host(
        &["plugins", "install", s(&garbage)],
        home.path(),
        Some(&user),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("garbage.wasm"), "{}", text(&out));
    let out = econ_host(
        &[
            "plugins",
            "install",
            s(&common::test_plugin("test-future-wit")),
        ],
        home.path(),
        Some(&user),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("0.1"), "{}", text(&out));
    assert_eq!(files_in(&user), ["test-misbehave.wasm"]);
}

#[test]
fn an_installed_plugin_overrides_the_builtin_and_list_says_so() {
    let home = tempfile::tempdir().unwrap();
    let user = home.path().join("user-plugins");
    let builtin = common::plugin_dir().join("reward-econ.wasm");
    let out = econ_host(
        &["plugins", "install", s(&builtin)],
        home.path(),
        Some(&user),
    );
    assert!(out.status.success(), "{}", text(&out));

    let v = listed(home.path(), &user);
    let winner = v["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "reward-econ")
        .unwrap();
    assert_eq!(winner["origin"], "user");
    assert_eq!(winner["file"], s(&user.join("reward-econ.wasm")));
    let hidden = v["shadowed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "reward-econ")
        .unwrap_or_else(|| panic!("built-in not shown as overridden: {v}"));
    assert_eq!(hidden["origin"], "built-in");

    let out = econ_host(&["plugins", "list"], home.path(), Some(&user));
    let t = text(&out);
    assert!(
        t.contains("(overridden) reward-econ@0.1.0 (built-in)"),
        "{t}"
    );
    assert!(t.contains("user from"), "{t}");

    // A file of another name that declares the same plugin is refused:
    // the registry would load both.
    std::fs::copy(&builtin, user.join("econ-copy.wasm")).unwrap();
    std::fs::remove_file(user.join("reward-econ.wasm")).unwrap();
    let out = econ_host(
        &["plugins", "install", s(&builtin)],
        home.path(),
        Some(&user),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("econ-copy.wasm already provides reward-econ"),
        "{}",
        text(&out)
    );
}

#[test]
fn installing_a_folder_reports_each_file() {
    let home = tempfile::tempdir().unwrap();
    // Two good plugins and one broken file.
    let src = home.path().join("shared");
    std::fs::create_dir(&src).unwrap();
    for name in ["parser-boxed", "adapter-gsm8k"] {
        std::fs::copy(
            common::plugin_dir().join(format!("{name}.wasm")),
            src.join(format!("renamed-{name}.wasm")),
        )
        .unwrap();
    }
    std::fs::write(src.join("broken.wasm"), b"not wasm").unwrap();
    std::fs::write(src.join("notes.txt"), b"ignored").unwrap();

    // --dir wins over ECON_HOST_PLUGIN_DIR.
    let dest = home.path().join("chosen");
    let env_dir = home.path().join("env-dir");
    let out = econ_host(
        &["plugins", "install", s(&src), "--dir", s(&dest)],
        home.path(),
        Some(&env_dir),
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("installed parser-boxed@"), "{t}");
    assert!(t.contains("installed adapter-gsm8k@"), "{t}");
    assert!(t.contains("refused") && t.contains("broken.wasm"), "{t}");
    assert!(t.contains("1 of 3 plugin files not installed"), "{t}");
    assert_eq!(files_in(&dest), ["adapter-gsm8k.wasm", "parser-boxed.wasm"]);
    assert!(!env_dir.exists());

    // Without ECON_HOST_PLUGIN_DIR: the user folder under HOME.
    let out = econ_host(
        &[
            "plugins",
            "install",
            s(&src.join("renamed-parser-boxed.wasm")),
        ],
        home.path(),
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        home.path()
            .join(".local/share/econ-host/plugins/parser-boxed.wasm")
            .is_file(),
        "{}",
        text(&out)
    );

    let out = econ_host(
        &["plugins", "install", s(&home.path().join("nothing"))],
        home.path(),
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

/// A plugin file is read only once it is a regular file of a plugin's size
/// with a component's header: `plugins check` of a FIFO does not hang, and a
/// 3 GB sparse `.wasm` in a plugin folder costs nothing.
#[cfg(unix)]
#[test]
fn only_regular_files_of_a_plugins_size_are_read() {
    let home = tempfile::tempdir().unwrap();
    let fifo = home.path().join("fifo.wasm");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let (tx, rx) = std::sync::mpsc::channel();
    let (h, f) = (home.path().to_path_buf(), fifo.clone());
    std::thread::spawn(move || {
        let _ = tx.send(econ_host(
            &["plugins", "check", f.to_str().unwrap()],
            &h,
            None,
        ));
    });
    let out = rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("plugins check of a FIFO hung");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("not a regular file"), "{}", text(&out));

    let folder = home.path().join("plugins");
    std::fs::create_dir(&folder).unwrap();
    let sparse = folder.join("x.wasm");
    std::fs::File::create(&sparse)
        .unwrap()
        .set_len(3 << 30)
        .unwrap();
    // Refused by its size, before a byte is read (reading it would have
    // ended in "not a WebAssembly file" instead).
    let out = econ_host(&["plugins", "list"], home.path(), Some(&folder));
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("more than a plugin may have"),
        "{}",
        text(&out)
    );
}
