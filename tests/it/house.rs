//! The map in host/src/lib.rs stays true: every module imports only modules
//! listed below it there.

use crate::common;

use std::path::Path;

/// Imports allowed to run up the map, each with its reason. None now.
const EXCEPTIONS: &[(&str, &str, &str)] = &[];

/// The `.rs` files of a top-level module (a file or a folder).
fn files(src: &Path, module: &str) -> Vec<std::path::PathBuf> {
    let file = src.join(format!("{module}.rs"));
    if file.is_file() {
        return vec![file];
    }
    let mut out = Vec::new();
    let mut stack = vec![src.join(module)];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out
}

/// The modules `text` names as `crate::X` outside comments.
fn uses(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            out.push(name);
        }
    }
    out
}

#[test]
fn every_module_imports_only_modules_below_it() {
    let src = common::repo_root().join("host/src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let order: Vec<String> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';').to_string())
        .collect();
    assert!(order.len() > 15, "{order:?}");
    let mut up = Vec::new();
    for (i, module) in order.iter().enumerate() {
        for file in files(&src, module) {
            let text = std::fs::read_to_string(&file).unwrap();
            for used in uses(&text) {
                let Some(j) = order.iter().position(|m| *m == used) else {
                    continue;
                };
                let allowed = EXCEPTIONS
                    .iter()
                    .any(|(from, to, _)| from == module && *to == used);
                if j < i && !allowed {
                    up.push(format!(
                        "{} uses {used}, listed above {module}",
                        file.display()
                    ));
                }
            }
        }
    }
    up.sort();
    up.dedup();
    assert!(
        up.is_empty(),
        "imports running up the map:\n{}",
        up.join("\n")
    );
}

#[test]
fn the_map_test_catches_an_import_that_runs_up() {
    assert_eq!(uses("use crate::runner::Job; // crate::cmd"), ["runner"]);
    assert!(uses("// use crate::cmd::x;").is_empty());
}
