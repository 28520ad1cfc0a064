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

/// Text from outside (a plugin's version, description or error, a server's
/// answer) as it may reach a terminal: control characters — an escape
/// sequence that moves the cursor or rewrites a line — written out as
/// `\u{1b}`, line breaks and tabs kept.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.chars()
            .map(|c| {
                if c.is_control() && c != '\n' && c != '\t' {
                    c.escape_unicode().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn control_characters_are_written_out_and_lines_kept() {
        assert_eq!(printable("plain\nline"), "plain\nline");
        assert_eq!(
            printable("x\u{1b}[1A\u{1b}[2K\r  sha256 000"),
            "x\\u{1b}[1A\\u{1b}[2K\\u{d}  sha256 000"
        );
    }
}
