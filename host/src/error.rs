//! Exit codes: 2 for bad usage, config or input (the message names the file,
//! key or line), 130 for a run stopped by Ctrl-C / SIGTERM, 1 for failures at
//! run time.

use std::fmt;

/// Marks an error as the user's input being wrong (exit code 2).
#[derive(Debug)]
pub struct BadInput(pub String);

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// Turn any error into a bad-input error, keeping its whole message.
pub fn bad_input(error: anyhow::Error) -> anyhow::Error {
    anyhow::Error::new(BadInput(format!("{error:#}")))
}

/// A run stopped by Ctrl-C / SIGTERM after saving what was finished; the
/// message says what was kept and how to go on.
#[derive(Debug)]
pub struct Interrupted(pub String);

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Interrupted {}

pub fn exit_code(error: &anyhow::Error) -> i32 {
    if error.chain().any(|e| e.is::<Interrupted>()) {
        crate::interrupt::EXIT_CODE
    } else if error.chain().any(|e| e.is::<BadInput>()) {
        2
    } else {
        1
    }
}
