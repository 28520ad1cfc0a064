//! Brace-level helpers for LaTeX fragments.
//!
//! Every index here is a byte offset of an ASCII byte, so slicing with it can
//! never split a UTF-8 character, whatever the input.

/// Byte index of the `}` that closes the group opened at `open`.
///
/// `\{` and `\}` are literal braces in LaTeX, so an escaped byte is skipped
/// rather than counted; an unclosed group (a truncated output) gives `None`.
pub fn matching_brace(s: &str, open: usize) -> Option<usize> {
    let b = s.as_bytes();
    if b.get(open) != Some(&b'{') {
        return None;
    }
    let mut depth = 0usize;
    let mut i = open;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Index of the first non-whitespace byte at or after `i`.
pub(crate) fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

/// Byte index of the `{` of every box opening, in text order.
///
/// Besides `\boxed{` and `\fbox{` this accepts a bare `boxed{` and a
/// backspace + `oxed{`: small models drop the backslash, and a `"\boxed"`
/// that went through a JSON decoder arrives as `\u{8}oxed`.
fn box_openings(s: &str) -> Vec<usize> {
    let b = s.as_bytes();
    let mut opens = Vec::new();
    for (i, _) in s.match_indices("oxed") {
        let bare_b = i > 0 && b[i - 1] == b'b' && (i == 1 || !b[i - 2].is_ascii_alphanumeric());
        let prefixed = bare_b || (i > 0 && b[i - 1] == 0x08);
        let open = skip_ws(b, i + 4);
        if prefixed && b.get(open) == Some(&b'{') {
            opens.push(open);
        }
    }
    for (i, _) in s.match_indices("\\fbox") {
        let open = skip_ws(b, i + 5);
        if b.get(open) == Some(&b'{') {
            opens.push(open);
        }
    }
    opens.sort_unstable();
    opens
}

/// Contents of every top-level box, in text order.
///
/// A box nested in another is part of the outer one's contents (the
/// normaliser unwraps it); an unclosed box is ignored.
pub fn boxed_contents(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut resume = 0;
    for open in box_openings(s) {
        if open < resume {
            continue;
        }
        if let Some(close) = matching_brace(s, open) {
            out.push(&s[open + 1..close]);
            resume = close + 1;
        }
    }
    out
}

/// The argument of `s` when `s` is exactly one box, `\cmd{...}` or `{...}`.
pub fn unwrap_whole(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    let open = if s.starts_with('{') {
        0
    } else if let Some(open) = box_openings(s).first().copied() {
        // Only a box that starts the string counts as wrapping all of it.
        let head = s[..open].trim_end();
        let is_prefix = matches!(head, "\\boxed" | "boxed" | "\\fbox" | "\u{8}oxed");
        if !is_prefix {
            return None;
        }
        open
    } else {
        return None;
    };
    let close = matching_brace(s, open)?;
    (close + 1 == b.len()).then(|| &s[open + 1..close])
}

/// End of the letters of the command whose backslash is at `backslash`.
pub(crate) fn command_name_end(b: &[u8], backslash: usize) -> usize {
    (backslash + 1..b.len())
        .find(|&j| !b[j].is_ascii_alphabetic())
        .unwrap_or(b.len())
}

/// Top-level `\name{...}` groups for the given command names:
/// `(backslash index, open-brace index, close-brace index)`.
pub fn command_groups(s: &str, names: &[&str]) -> Vec<(usize, usize, usize)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        let name_end = command_name_end(b, i);
        let name = &s[i + 1..name_end];
        let open = skip_ws(b, name_end);
        if names.contains(&name)
            && let Some(close) = matching_brace(s, open)
        {
            out.push((i, open, close));
            i = close + 1;
        } else {
            i = name_end.max(i + 2);
        }
    }
    out
}

/// `s` without the listed commands' names (`\left(` becomes `(`).
pub fn remove_commands(s: &str, names: &[&str]) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        let name_end = command_name_end(b, i);
        if names.contains(&&s[i + 1..name_end]) {
            out.push_str(&s[copied..i]);
            copied = name_end;
        }
        i = name_end.max(i + 1);
    }
    out.push_str(&s[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_brace_handles_nesting_and_escapes() {
        let s = r"{a{b}c\}d}e";
        assert_eq!(matching_brace(s, 0), Some(9));
        assert_eq!(matching_brace("{unclosed", 0), None);
        assert_eq!(matching_brace("x", 0), None);
        assert_eq!(matching_brace("", 3), None);
    }

    #[test]
    fn boxes_are_top_level_and_in_order() {
        let s = r"\boxed{1} then \fbox{2} and \boxed{\boxed{3}} and \boxed{4";
        assert_eq!(boxed_contents(s), vec!["1", "2", r"\boxed{3}"]);
        assert_eq!(boxed_contents("boxed{7} or \u{8}oxed{8}"), vec!["7", "8"]);
        assert_eq!(boxed_contents(r"\boxed {9}"), vec!["9"]);
        assert!(boxed_contents("an unboxed{answer}").is_empty());
    }

    #[test]
    fn unwrap_whole_only_when_it_spans_everything() {
        assert_eq!(unwrap_whole(r"\boxed{\frac{1}{2}}"), Some(r"\frac{1}{2}"));
        assert_eq!(unwrap_whole("{12}"), Some("12"));
        assert_eq!(unwrap_whole(r"\boxed{1}+\boxed{2}"), None);
        assert_eq!(unwrap_whole(r"x\boxed{1}"), None);
        assert_eq!(unwrap_whole("{1}{2}"), None);
    }

    #[test]
    fn command_groups_and_removal() {
        let s = r"18\text{ dollars} \mbox{x}";
        let groups = command_groups(s, &["text", "mbox"]);
        assert_eq!(groups, vec![(2, 7, 16), (18, 23, 25)]);
        assert_eq!(
            remove_commands(r"\left(3\right)\leftarrow", &["left", "right"]),
            r"(3)\leftarrow"
        );
    }
}
