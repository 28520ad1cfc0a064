//! LaTeX answers as in MATH: a canonical form ([`normalize_math`]) and an
//! equivalence ([`equivalent_math`]) that compares what answers mean.
//!
//! The canonical form stays LaTeX (`\dfrac12` -> `\frac{1}{2}`, `\sqrt2` ->
//! `\sqrt{2}`, `5\text{ cm}^2` -> `5`), so a reference shown in a trace still
//! reads as the dataset wrote it. Equivalence then compares, in order:
//! unions of intervals, tuples / intervals / sets element-wise, bare lists as
//! multisets, equations side by side, values (`\frac{1}{2}` = `1/2` = `0.5`,
//! `2\sqrt{3}` != `3`), and expressions in single-letter variables at a few
//! fixed points (`x^2+2x+1` = `(x+1)^2`). Text that none of these read is
//! compared as text, ignoring case for plain words.
//!
//! Unlike the reference's normaliser, nothing is reduced to its last number.

mod expr;

pub use expr::{Expr, parse};

use crate::latex::{command_groups, command_name_end, matching_brace, remove_commands, skip_ws};
use crate::normalize::{
    REWRITES, TEXT_COMMANDS, drop_variable, fixpoint, strip_unit_words, unwrap_all,
};
use crate::number::{canonical_decimal, is_integer, strip_thousands};

/// Commands that only size or style what follows.
const NOISE_COMMANDS: &[&str] = &[
    "left",
    "right",
    "displaystyle",
    "bigl",
    "bigr",
    "Bigl",
    "Bigr",
    "big",
    "Big",
    "degree",
];

/// Relative tolerance for values (and absolute near zero).
const TOL: f64 = 1e-9;

/// Nesting of tuples / unions / equations followed before giving up.
const MAX_NESTING: usize = 8;

/// The canonical LaTeX of an answer; empty when nothing is left.
pub fn normalize_math(raw: &str) -> String {
    fixpoint(raw, pass)
}

fn pass(raw: &str) -> String {
    let mut s = drop_spacing(raw.trim());
    for (from, to) in REWRITES {
        if s.contains(from) {
            s = s.replace(from, to);
        }
    }
    s = remove_commands(&s, NOISE_COMMANDS);
    s = unwrap_all(&s).to_string();
    s = strip_text(&s);
    let s = strip_unit_words(s.trim().trim_end_matches('.').trim_end());
    let s = brace_arguments(s);
    let s = squeeze(&s);
    let s = s.strip_prefix('+').unwrap_or(&s);
    let s = unwrap_all(s);
    let s = drop_variable(s);
    let s = drop_membership(s);
    let s = unbrace_scripts(s);
    let s = choice_letter(&s).unwrap_or(&s);
    number_form(s).unwrap_or_else(|| s.to_string())
}

/// Drop LaTeX spacing (`\,` `\!` `\;` `\:` `\ `) and math delimiters
/// (`\(` `\)` `\[` `\]`); a `\\` line break stays.
fn drop_spacing(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            Some('\\') => {
                out.push_str("\\\\");
                chars.next();
            }
            Some(',' | '!' | ';' | ':' | ' ' | '(' | ')' | '[' | ']') => {
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

/// `\text{...}` next to a number is a unit and goes (with an exponent after
/// it: `\text{ cm}^2`); otherwise its contents are the answer (`\text{(A)}`).
/// `\text{ and }` between answers is a list separator.
fn strip_text(s: &str) -> String {
    let groups = command_groups(s, TEXT_COMMANDS);
    if groups.is_empty() {
        return s.to_string();
    }
    let mut outside = String::new();
    let mut copied = 0;
    for &(start, _, close) in &groups {
        outside.push_str(&s[copied..start]);
        copied = close + 1;
    }
    outside.push_str(&s[copied..]);
    let numeric = outside.bytes().any(|b| b.is_ascii_digit());

    let mut out = String::with_capacity(s.len());
    let mut copied = 0;
    for &(start, open, close) in &groups {
        if start < copied {
            continue;
        }
        out.push_str(&s[copied..start]);
        copied = close + 1;
        let inner = s[open + 1..close].trim();
        if matches!(inner, "and" | "or" | ",") {
            out.push(',');
        } else if numeric && is_unit(inner) {
            copied = skip_exponent(s, copied);
        } else {
            out.push_str(inner);
        }
    }
    out.push_str(&s[copied..]);
    out
}

fn is_unit(text: &str) -> bool {
    text.chars().any(|c| c.is_alphabetic())
        && text
            .chars()
            .all(|c| c.is_alphabetic() || " ./'-".contains(c))
}

/// Index after a `^2` / `^{2}` that starts at `i`, else `i`.
fn skip_exponent(s: &str, i: usize) -> usize {
    let b = s.as_bytes();
    if b.get(i) != Some(&b'^') {
        return i;
    }
    match b.get(i + 1) {
        Some(b'{') => matching_brace(s, i + 1).map_or(i, |c| c + 1),
        Some(c) if c.is_ascii_alphanumeric() => i + 2,
        _ => i,
    }
}

/// Braces around the arguments of `\frac`, `\binom` and `\sqrt`, as LaTeX
/// reads them: `\frac12` -> `\frac{1}{2}`, `\sqrt2` -> `\sqrt{2}`,
/// `\frac1\pi` -> `\frac{1}{\pi}`.
fn brace_arguments(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len() + 8);
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            let c = s[i..].chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
            continue;
        }
        if b.get(i + 1) == Some(&b'\\') {
            out.push_str("\\\\");
            i += 2;
            continue;
        }
        let end = command_name_end(b, i).max(i + 1);
        let name = &s[i + 1..end];
        out.push_str(&s[i..end]);
        i = end;
        let args = match name {
            "frac" | "binom" => 2,
            "sqrt" => 1,
            _ => 0,
        };
        if name == "sqrt" {
            let j = skip_ws(b, i);
            if b.get(j) == Some(&b'[')
                && let Some(k) = s[j..].find(']')
            {
                out.push_str(&s[j..=j + k]);
                i = j + k + 1;
            }
        }
        for _ in 0..args {
            let j = skip_ws(b, i);
            match b.get(j) {
                Some(b'{') => {
                    let Some(close) = matching_brace(s, j) else {
                        break;
                    };
                    out.push('{');
                    out.push_str(&brace_arguments(&s[j + 1..close]));
                    out.push('}');
                    i = close + 1;
                }
                Some(c) if c.is_ascii_alphanumeric() => {
                    out.push('{');
                    out.push(*c as char);
                    out.push('}');
                    i = j + 1;
                }
                Some(b'\\') => {
                    let end = command_name_end(b, j);
                    if end == j + 1 {
                        break;
                    }
                    out.push('{');
                    out.push_str(&s[j..end]);
                    out.push('}');
                    i = end;
                }
                _ => break,
            }
        }
    }
    out
}

/// Remove whitespace, except one space where it ends a command name before
/// a letter (`\pi r` must not become `\pir`).
fn squeeze(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut gap = false;
    for c in s.chars() {
        if c.is_whitespace() {
            gap = true;
            continue;
        }
        if gap && c.is_ascii_alphabetic() && ends_in_command(&out) {
            out.push(' ');
        }
        gap = false;
        out.push(c);
    }
    out
}

fn ends_in_command(s: &str) -> bool {
    let letters = s.bytes().rev().take_while(u8::is_ascii_alphabetic).count();
    letters > 0
        && s.len()
            .checked_sub(letters + 1)
            .is_some_and(|i| s.as_bytes()[i] == b'\\')
}

/// `x\in[1,2]` -> `[1,2]`, as [`drop_variable`] does for `x=5`.
fn drop_membership(s: &str) -> &str {
    match s.split_once("\\in") {
        Some((lhs, rhs))
            if (1..=3).contains(&lhs.len())
                && lhs.bytes().all(|b| b.is_ascii_alphabetic())
                && !rhs.is_empty()
                && !rhs.starts_with(|c: char| c.is_ascii_alphabetic()) =>
        {
            rhs
        }
        _ => s,
    }
}

/// `x^{2}` -> `x^2`, `1011_{2}` -> `1011_2`: one-character scripts unbraced.
fn unbrace_scripts(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        let script = matches!(b[i], b'^' | b'_')
            && b.get(i + 1) == Some(&b'{')
            && b.get(i + 3) == Some(&b'}')
            && b.get(i + 2).is_some_and(u8::is_ascii_alphanumeric);
        if script {
            out.push(b[i] as char);
            out.push(b[i + 2] as char);
            i += 4;
        } else {
            let c = s[i..].chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// `(B)` -> `B`: a multiple-choice letter.
fn choice_letter(s: &str) -> Option<&str> {
    let inner = s.strip_prefix('(')?.strip_suffix(')')?;
    (inner.len() == 1 && inner.bytes().all(|c| c.is_ascii_uppercase())).then_some(inner)
}

/// Plain numbers canonical (`1,000.50` -> `1000.5`), `a/b` of integers as
/// `\frac{a}{b}`.
fn number_form(s: &str) -> Option<String> {
    if let Some(n) = canonical_decimal(&strip_thousands(s)) {
        return Some(n);
    }
    let (sign, body) = match s.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", s),
    };
    let (a, b) = body.split_once('/')?;
    let int = |p: &str| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit());
    (int(a) && int(b)).then(|| format!("{sign}\\frac{{{a}}}{{{b}}}"))
}

/// Whether two LaTeX answers mean the same thing (see the module docs). An
/// empty answer never matches, not even another empty one.
pub fn equivalent_math(reference: &str, candidate: &str) -> bool {
    let (r, c) = (normalize_math(reference), normalize_math(candidate));
    !r.is_empty() && !c.is_empty() && same(&r, &c, 0)
}

fn same(a: &str, b: &str, nesting: usize) -> bool {
    if a == b {
        return true;
    }
    if nesting > MAX_NESTING {
        return false;
    }
    let inner = |x: &str, y: &str| same(x, y, nesting + 1);
    if is_word(a) && is_word(b) {
        return a.eq_ignore_ascii_case(b);
    }
    let (ua, ub) = (split_top(a, "\\cup"), split_top(b, "\\cup"));
    if ua.len() > 1 || ub.len() > 1 {
        return as_multiset(&ua, &ub, &inner);
    }
    match (sequence(a), sequence(b)) {
        (Some(sa), Some(sb)) => {
            if sa.open != sb.open || sa.close != sb.close || sa.items.len() != sb.items.len() {
                return false;
            }
            if sa.open == "\\{" {
                return as_multiset(&sa.items, &sb.items, &inner);
            }
            return sa.items.iter().zip(&sb.items).all(|(x, y)| inner(x, y));
        }
        (Some(s), None) | (None, Some(s)) => {
            // A set may be answered as a bare list, a point never.
            let bare = if sequence(a).is_some() { b } else { a };
            return s.open == "\\{" && as_multiset(&s.items, &split_top(bare, ","), &inner);
        }
        (None, None) => {}
    }
    let (la, lb) = (split_top(a, ","), split_top(b, ","));
    if la.len() > 1 || lb.len() > 1 {
        return as_multiset(&la, &lb, &inner);
    }
    let (ea, eb) = (split_top(a, "="), split_top(b, "="));
    if ea.len() == 2 && eb.len() == 2 {
        return (inner(ea[0], eb[0]) && inner(ea[1], eb[1]))
            || (inner(ea[0], eb[1]) && inner(ea[1], eb[0]));
    }
    if ea.len() > 1 || eb.len() > 1 {
        return false;
    }
    same_value(a, b)
}

/// A plain word (`Sunday`, `east`): compared ignoring case.
fn is_word(s: &str) -> bool {
    s.chars().count() >= 2 && s.chars().all(char::is_alphabetic)
}

/// Each item of `a` matches a different item of `b`, in any order.
fn as_multiset(a: &[&str], b: &[&str], same: &dyn Fn(&str, &str) -> bool) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut used = vec![false; b.len()];
    a.iter().all(|x| {
        let hit = (0..b.len()).find(|&j| !used[j] && same(x, b[j]));
        hit.map(|j| used[j] = true).is_some()
    })
}

struct Sequence<'a> {
    open: &'a str,
    close: &'a str,
    items: Vec<&'a str>,
}

/// `(1,2)`, `[0,1)`, `\{1,2,3\}`: brackets around two or more top-level
/// items. `(x+1)(x-2)` is not one (the brackets do not enclose it all).
fn sequence(s: &str) -> Option<Sequence<'_>> {
    let open = ["\\{", "(", "["].into_iter().find(|o| s.starts_with(o))?;
    let close = ["\\}", ")", "]"].into_iter().find(|c| s.ends_with(c))?;
    if s.len() < open.len() + close.len() {
        return None;
    }
    let body = &s[open.len()..s.len() - close.len()];
    if !balanced(body) {
        return None;
    }
    let items = split_top(body, ",");
    (items.len() >= 2 && items.iter().all(|i| !i.is_empty())).then_some(Sequence {
        open,
        close,
        items,
    })
}

/// Brackets of any kind close in order without going below zero.
fn balanced(s: &str) -> bool {
    let mut depth = 0i32;
    for d in depths(s) {
        depth += d;
        if depth < 0 {
            return false;
        }
    }
    depth == 0
}

/// Per byte: +1 for an opening bracket, -1 for a closing one, else 0
/// (`\{` / `\}` count on their brace; `\\` is skipped).
fn depths(s: &str) -> Vec<i32> {
    let b = s.as_bytes();
    let mut out = vec![0; b.len()];
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' if matches!(b.get(i + 1), Some(b'{' | b'}' | b'\\')) => {
                out[i + 1] = match b[i + 1] {
                    b'{' => 1,
                    b'}' => -1,
                    _ => 0,
                };
                i += 2;
                continue;
            }
            b'(' | b'[' | b'{' => out[i] = 1,
            b')' | b']' | b'}' => out[i] = -1,
            _ => {}
        }
        i += 1;
    }
    out
}

/// `s` split at `sep` where no bracket is open.
fn split_top<'a>(s: &'a str, sep: &str) -> Vec<&'a str> {
    let d = depths(s);
    let mut depth = 0;
    let mut parts = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < s.len() {
        depth += d[i];
        if depth == 0 && d[i] == 0 && s.is_char_boundary(i) && s[i..].starts_with(sep) {
            // `\cup` must not match inside a longer command (`\cupola`).
            let end = i + sep.len();
            let cut_word =
                sep.starts_with('\\') && s.as_bytes().get(end).is_some_and(u8::is_ascii_alphabetic);
            if !cut_word {
                parts.push(&s[start..i]);
                start = end;
                i = end;
                continue;
            }
        }
        i += 1;
    }
    parts.push(&s[start..]);
    parts
}

/// Same value, or the same expression in its variables.
fn same_value(a: &str, b: &str) -> bool {
    // Two different integers are different answers, however large.
    if canonical_decimal(a).is_some_and(|x| is_integer(&x))
        && canonical_decimal(b).is_some_and(|x| is_integer(&x))
    {
        return false;
    }
    if has_word(a) || has_word(b) {
        return false;
    }
    let (Some(ea), Some(eb)) = (parse(a), parse(b)) else {
        return false;
    };
    let vars = ea.vars();
    if vars != eb.vars() {
        return false;
    }
    if vars.is_empty() {
        return close(ea.eval(&|_| f64::NAN), eb.eval(&|_| f64::NAN));
    }
    // At fixed, unremarkable points: a polynomial identity that holds at
    // three such points for every variable is, for answers, the identity.
    let mut compared = 0;
    for k in 0..POINTS {
        let at = |c: char| point(k, vars.iter().position(|&v| v == c).unwrap_or(0));
        let (x, y) = (ea.eval(&at), eb.eval(&at));
        if x.is_finite() != y.is_finite() {
            return false;
        }
        if x.is_finite() {
            if !close(x, y) {
                return false;
            }
            compared += 1;
        }
    }
    compared >= 2
}

const POINTS: usize = 4;

/// The value of variable number `j` at point `k`.
fn point(k: usize, j: usize) -> f64 {
    let (k, j) = (k as f64, j as f64);
    (2.0 + 3.0 * j + 5.0 * k).sqrt() * (1.0 + 0.173 * k) - 0.61 * j
}

/// A run of three letters outside a command name: prose, not algebra.
fn has_word(s: &str) -> bool {
    let b = s.as_bytes();
    let (mut i, mut run) = (0, 0);
    while i < b.len() {
        if b[i] == b'\\' {
            let end = command_name_end(b, i);
            // `\{`, `\\`: the escaped character is not a letter of a word.
            i = if end == i + 1 { i + 2 } else { end };
            run = 0;
            continue;
        }
        run = if b[i].is_ascii_alphabetic() {
            run + 1
        } else {
            0
        };
        if run >= 3 {
            return true;
        }
        i += 1;
    }
    false
}

fn close(x: f64, y: f64) -> bool {
    x.is_finite() && y.is_finite() && (x - y).abs() <= TOL * x.abs().max(y.abs()).max(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        let cases = [
            ("\\dfrac{1}{2}", "\\frac{1}{2}"),
            ("\\tfrac12", "\\frac{1}{2}"),
            ("\\frac 1 2", "\\frac{1}{2}"),
            ("\\sqrt2", "\\sqrt{2}"),
            ("2\\sqrt 3", "2\\sqrt{3}"),
            ("\\frac{\\sqrt3}{2}", "\\frac{\\sqrt{3}}{2}"),
            ("\\sqrt[3]2", "\\sqrt[3]{2}"),
            ("\\left( 3, -\\frac{1}{2} \\right)", "(3,-\\frac{1}{2})"),
            ("\\$18.90", "18.9"),
            ("1{,}000", "1000"),
            ("50\\%", "50"),
            ("90^\\circ", "90"),
            ("5\\text{ cm}^2", "5"),
            ("12 \\mbox{ inches}", "12"),
            ("\\text{(C)}", "C"),
            ("\\textbf{Devon}", "Devon"),
            ("2 \\text{ and } 3", "2,3"),
            ("x^{2}+1", "x^2+1"),
            ("1011_{2}", "1011_2"),
            ("x = 5", "5"),
            ("y = 2x + 3", "2x+3"),
            ("x \\in [1, 2]", "[1,2]"),
            ("3/4", "\\frac{3}{4}"),
            ("-3/4", "-\\frac{3}{4}"),
            ("\\pi r^2", "\\pi r^2"),
            ("\\boxed{\\frac{\\pi}{2}}", "\\frac{\\pi}{2}"),
            ("\\(0.50\\)", "0.5"),
            ("\\displaystyle\\frac{7}{2}.", "\\frac{7}{2}"),
            ("\\varnothing", "\\emptyset"),
        ];
        for (raw, want) in cases {
            assert_eq!(normalize_math(raw), want, "normalize_math({raw:?})");
        }
    }

    #[test]
    fn canonical_form_is_idempotent_and_total() {
        for raw in [
            "",
            "\\",
            "{",
            "}",
            "\\frac",
            "\\sqrt[",
            "\\text{",
            "$$",
            "\\\\",
            "^{",
            "é\\sqrtü",
            "\\frac{1}",
            "((((",
            "\\{1,2\\}",
            "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}",
        ] {
            let once = normalize_math(raw);
            assert_eq!(normalize_math(&once), once, "{raw:?}");
        }
    }

    #[test]
    fn words_and_helpers() {
        assert!(has_word("abc") && has_word("\\frac{x}{yes}"));
        assert!(!has_word("\\frac{\\sqrt{x}}{\\pi}") && !has_word("xy+2x"));
        assert_eq!(split_top("(1,2),[3,4]", ","), vec!["(1,2)", "[3,4]"]);
        assert_eq!(
            split_top("(0,1)\\cup(2,3)", "\\cup"),
            vec!["(0,1)", "(2,3)"]
        );
        assert!(sequence("(x+1)(x-2)").is_none());
        assert!(sequence("(1)").is_none());
        let s = sequence("(0,1]").unwrap();
        assert_eq!((s.open, s.close, s.items), ("(", "]", vec!["0", "1"]));
    }
}
