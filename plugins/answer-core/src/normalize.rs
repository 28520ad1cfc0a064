//! Reduce an answer to the form that is compared: `$1,234.00` -> `1234`,
//! `\dfrac{1}{2}` -> `0.5`, `18\text{ dollars}` -> `18`.

use crate::latex::{command_groups, remove_commands, unwrap_whole};
use crate::number::{canonical_decimal, format_value, loose_value, strip_thousands};

/// Literal rewrites, for numbers and for MATH's LaTeX alike: currency,
/// percent and degree marks carry no value; `{,}` is a thousands separator;
/// display variants become the plain command.
pub(crate) const REWRITES: &[(&str, &str)] = &[
    ("\\$", ""),
    ("$", ""),
    ("\\%", ""),
    ("%", ""),
    ("^{\\circ}", ""),
    ("^\\circ", ""),
    ("\u{b0}", ""),
    ("{,}", ","),
    ("\\dfrac", "\\frac"),
    ("\\tfrac", "\\frac"),
    ("\\dbinom", "\\binom"),
    ("\\tbinom", "\\binom"),
    ("\\varnothing", "\\emptyset"),
    ("\u{2212}", "-"),
];

/// LaTeX spacing and math delimiters, dropped from a number's answer (MATH's
/// normaliser drops them itself, keeping a `\\` line break).
const SPACING: &[(&str, &str)] = &[
    ("\\!", ""),
    ("\\,", ""),
    ("\\;", ""),
    ("\\:", ""),
    ("\\(", ""),
    ("\\)", ""),
    ("\\[", ""),
    ("\\]", ""),
];

/// Commands that only style or size what follows.
const NOISE_COMMANDS: &[&str] = &["left", "right", "displaystyle", "degree"];

/// Text wrappers: units when next to a number, the answer itself otherwise.
pub(crate) const TEXT_COMMANDS: &[&str] = &[
    "text",
    "textbf",
    "textit",
    "textrm",
    "textnormal",
    "mbox",
    "mathrm",
    "mathbf",
];

/// Passes before giving up on a fixpoint; real answers settle in one or two.
const MAX_PASSES: usize = 8;

/// The comparable form of an answer; empty when nothing is left.
pub fn normalize(raw: &str) -> String {
    fixpoint(raw, pass)
}

/// `pass` repeated until the text stops changing. One rewrite can expose
/// another (removing spaces turns `\ ,` into `\,`), so repeating keeps a
/// normaliser idempotent.
pub(crate) fn fixpoint(raw: &str, pass: fn(&str) -> String) -> String {
    let mut s = raw.to_string();
    for _ in 0..MAX_PASSES {
        let next = pass(&s);
        if next == s {
            break;
        }
        s = next;
    }
    s
}

fn pass(raw: &str) -> String {
    let mut s = raw.trim().to_string();
    for (from, to) in REWRITES.iter().chain(SPACING) {
        if s.contains(from) {
            s = s.replace(from, to);
        }
    }
    s = remove_commands(&s, NOISE_COMMANDS);
    s = unwrap_all(&s).to_string();
    s = strip_text_wrappers(&s);
    let s = strip_unit_words(s.trim().trim_end_matches('.'));
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let s = s.strip_prefix('+').unwrap_or(&s);
    let s = unwrap_all(s);
    let s = drop_variable(s);
    numeric_form(s).unwrap_or_else(|| s.to_string())
}

/// Peel `\boxed{...}`, `{...}` and markdown `**` that wrap the whole answer.
pub(crate) fn unwrap_all(mut s: &str) -> &str {
    loop {
        let t = s.trim().trim_matches('*').trim();
        match unwrap_whole(t) {
            Some(inner) => s = inner,
            None => return t,
        }
    }
}

/// Drop `\text{...}` groups that sit next to a number (units), otherwise keep
/// their contents (`\text{east}` is the answer).
fn strip_text_wrappers(s: &str) -> String {
    let groups = command_groups(s, TEXT_COMMANDS);
    if groups.is_empty() {
        return s.to_string();
    }
    let (mut outside, mut unwrapped) = (String::new(), String::new());
    let mut copied = 0;
    for &(start, open, close) in &groups {
        outside.push_str(&s[copied..start]);
        unwrapped.push_str(&s[copied..start]);
        unwrapped.push_str(&s[open + 1..close]);
        copied = close + 1;
    }
    outside.push_str(&s[copied..]);
    unwrapped.push_str(&s[copied..]);
    if outside.bytes().any(|b| b.is_ascii_digit()) {
        outside
    } else {
        unwrapped
    }
}

/// `18 dollars` -> `18`, `2.5 sq. ft` -> `2.5`: a number followed by words.
///
/// At least two letters are required so `3 x` (algebra) is left alone.
pub(crate) fn strip_unit_words(s: &str) -> &str {
    let Some(split) = s.find(char::is_whitespace) else {
        return s;
    };
    let (head, rest) = (&s[..split], s[split..].trim());
    let numeric_head = head.bytes().any(|b| b.is_ascii_digit())
        && head
            .bytes()
            .all(|b| b.is_ascii_digit() || b",.-+/".contains(&b));
    if numeric_head && is_unit_words(rest) {
        head
    } else {
        s
    }
}

fn is_unit_words(rest: &str) -> bool {
    let mut prev = ' ';
    let mut letters = 0;
    for c in rest.chars() {
        let ok = match c {
            c if c.is_ascii_alphabetic() => {
                letters += 1;
                true
            }
            c if c.is_ascii_digit() => prev == '^',
            ' ' | '.' | '\'' | '-' | '/' | '^' | '\u{b2}' | '\u{b3}' => true,
            _ => false,
        };
        if !ok {
            return false;
        }
        prev = c;
    }
    letters >= 2 && rest.starts_with(|c: char| c.is_ascii_alphabetic())
}

/// `x=5` -> `5`: models often box an equation for a single unknown.
pub(crate) fn drop_variable(s: &str) -> &str {
    match s.split_once('=') {
        Some((lhs, rhs))
            if !rhs.is_empty()
                && !rhs.contains('=')
                && (1..=3).contains(&lhs.len())
                && lhs.bytes().all(|b| b.is_ascii_alphabetic()) =>
        {
            rhs
        }
        _ => s,
    }
}

/// Canonical decimal for numbers, fractions `\frac{a}{b}` / `a/b` evaluated.
fn numeric_form(s: &str) -> Option<String> {
    canonical_decimal(&strip_thousands(s)).or_else(|| format_value(fraction_value(s)?))
}

/// Value of `-?\frac{a}{b}`, `\frac12` or `a/b` with plain numeric a and b.
fn fraction_value(s: &str) -> Option<f64> {
    let (sign, body) = match s.strip_prefix('-') {
        Some(rest) => (-1.0, rest),
        None => (1.0, s),
    };
    let (num, den) = if let Some(args) = body.strip_prefix("\\frac") {
        frac_args(args)?
    } else {
        let (a, b) = s.split_once('/')?;
        return ratio(loose_value(a)?, loose_value(b)?);
    };
    Some(sign * ratio(loose_value(num)?, loose_value(den)?)?)
}

/// The two arguments of `\frac`: braced groups, or two single digits.
fn frac_args(args: &str) -> Option<(&str, &str)> {
    let b = args.as_bytes();
    if b.first() == Some(&b'{') {
        let close = crate::latex::matching_brace(args, 0)?;
        let rest = &args[close + 1..];
        let close2 = crate::latex::matching_brace(rest, 0)?;
        (close2 + 1 == rest.len()).then(|| (&args[1..close], &rest[1..close2]))
    } else {
        (b.len() == 2 && b.iter().all(u8::is_ascii_digit)).then(|| (&args[..1], &args[1..]))
    }
}

fn ratio(a: f64, b: f64) -> Option<f64> {
    (b != 0.0).then(|| a / b).filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::normalize;

    fn check(cases: &[(&str, &str)]) {
        for (raw, want) in cases {
            assert_eq!(normalize(raw), *want, "normalize({raw:?})");
        }
    }

    #[test]
    fn money_percent_and_separators() {
        check(&[
            ("$1,234.00", "1234"),
            ("\\$18", "18"),
            ("\\$ 1,000,000", "1000000"),
            ("25\\%", "25"),
            ("25 %", "25"),
            ("1\\,234", "1234"),
            // LaTeX's thousands separator (MATH and MATH-style GSM8K answers).
            ("1{,}234", "1234"),
            ("1,2,3", "1,2,3"),
            ("+7", "7"),
            ("-0.50", "-0.5"),
            ("\u{2212}3", "-3"),
        ]);
    }

    #[test]
    fn units_and_text_wrappers() {
        check(&[
            ("18 dollars", "18"),
            ("5 apples.", "5"),
            ("18\\text{ dollars}", "18"),
            ("\\text{18 dollars}", "18"),
            ("12\\mbox{ cm}", "12"),
            ("\\text{east}", "east"),
            ("90^\\circ", "90"),
            ("90^{\\circ}", "90"),
            ("45\u{b0}", "45"),
            ("3 x", "3x"),
            ("2.5 sq. ft", "2.5"),
        ]);
    }

    #[test]
    fn fractions_and_wrappers() {
        check(&[
            ("\\frac{1}{2}", "0.5"),
            ("\\dfrac{3}{4}", "0.75"),
            ("\\tfrac12", "0.5"),
            ("-\\frac{1}{4}", "-0.25"),
            ("\\frac{-6}{3}", "-2"),
            ("3/4", "0.75"),
            ("-3/4", "-0.75"),
            ("1/0", "1/0"),
            ("\\frac{\\pi}{2}", "\\frac{\\pi}{2}"),
            ("\\boxed{\\boxed{5}}", "5"),
            ("{42}", "42"),
            ("**42**", "42"),
            ("$\\boxed{7}$", "7"),
            ("\\left( 3, 4 \\right)", "(3,4)"),
            ("x = 5", "5"),
            ("y=\\frac{1}{2}", "0.5"),
            ("2 \\sqrt{2}", "2\\sqrt{2}"),
        ]);
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        check(&[
            ("", ""),
            ("   ", ""),
            ("$$", ""),
            ("\\", "\\"),
            ("{", "{"),
            ("\\frac{1}", "\\frac{1}"),
        ]);
    }

    #[test]
    fn is_idempotent_on_tricky_rewrites() {
        for raw in ["\\ ,5", "\\\\$!", "{ {\\boxed{ 3 } } }", "\\$\\,1,000"] {
            let once = normalize(raw);
            assert_eq!(normalize(&once), once, "{raw:?}");
        }
    }
}
