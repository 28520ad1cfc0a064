//! Tests that change what a whole process shares — an environment variable
//! read by the code under test, the global log subscriber — cannot share a
//! process with the others: `setenv` while another thread reads the
//! environment is undefined behaviour, and a global subscriber would log every
//! other test. Such a test is `#[ignore]`d here and run by a spawner test in a
//! child process of this same binary, with its environment set from the start.

use std::ffi::OsStr;
use std::process::Command;

/// Set in the child; its value is the filter the child was started with.
const CHILD: &str = "ECON_TEST_CHILD";

/// Inside a child started by [`run_in_child`].
pub fn in_child() -> bool {
    std::env::var_os(CHILD).is_some()
}

/// Run the tests whose names contain `filter` (ignored ones included) in a
/// child process with `env` added; fails with the child's output if any of
/// them fails or none ran. In the child itself (where the spawner matches its
/// own filter) it does nothing.
pub fn run_in_child(filter: &str, env: &[(&str, &OsStr)]) {
    if in_child() {
        return;
    }
    // libtest names a test's thread after the test: the spawner skips itself.
    let me = std::thread::current()
        .name()
        .unwrap_or_default()
        .to_string();
    let mut child = Command::new(std::env::current_exe().unwrap());
    child.args([filter, "--include-ignored"]);
    if me.contains("::") {
        child.args(["--skip", &me]);
    }
    let out = child
        .env(CHILD, filter)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "tests matching {filter:?} failed in their own process:\n{stdout}\n{stderr}"
    );
    let passed: usize = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("test result: ok. "))
        .filter_map(|l| l.split(' ').next()?.parse::<usize>().ok())
        .sum();
    assert!(passed > 0, "no test matching {filter:?} ran:\n{stdout}");
    println!("{filter}: {passed} tests passed in their own process");
}
