//! Plain decimal numbers: finding them in text and writing them canonically.
//!
//! Canonical forms are built on the digits, not through `f64`, so a 30-digit
//! answer survives unchanged and `1234.00` and `1234` become the same string.

/// `-1,234.50` -> `-1234.50` when the commas are real thousands separators
/// (groups of exactly three); anything else comes back unchanged, since
/// `1,2,3` is a list and `1,5` may be a decimal comma.
pub fn strip_thousands(s: &str) -> std::borrow::Cow<'_, str> {
    let body = s.strip_prefix('-').unwrap_or(s);
    let int = body.split('.').next().unwrap_or("");
    let mut groups = int.split(',');
    let first = groups.next().unwrap_or("");
    let grouped = int.contains(',')
        && (1..=3).contains(&first.len())
        && first.bytes().all(|b| b.is_ascii_digit())
        && groups.all(|g| g.len() == 3 && g.bytes().all(|b| b.is_ascii_digit()));
    if grouped {
        s.replace(',', "").into()
    } else {
        s.into()
    }
}

/// Canonical form of a plain decimal (`-?digits[.digits]`, either side may be
/// empty but not both): no leading zeros, no trailing fractional zeros, no
/// `-0`. `None` for anything else, exponents and `inf` included.
pub fn canonical_decimal(s: &str) -> Option<String> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if int.len() + frac.len() == 0 || !all_digits(int) || !all_digits(frac) {
        return None;
    }
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let mut out = String::with_capacity(s.len());
    if neg && !(int.is_empty() && frac.is_empty()) {
        out.push('-');
    }
    out.push_str(if int.is_empty() { "0" } else { int });
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    Some(out)
}

/// The value of a canonical (or any plain) decimal, if it is one and finite.
pub fn value(s: &str) -> Option<f64> {
    let canon = canonical_decimal(s)?;
    canon.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// A plain decimal possibly written with thousands separators, as a value.
pub fn loose_value(s: &str) -> Option<f64> {
    value(&strip_thousands(s.trim()))
}

/// Canonical text of a computed value; `None` for NaN and infinities.
pub fn format_value(v: f64) -> Option<String> {
    // `Display` for f64 never uses an exponent and prints the shortest
    // round-trip digits, so the result is a plain decimal.
    v.is_finite()
        .then(|| canonical_decimal(&format!("{v}")))
        .flatten()
}

/// Whether a canonical decimal has no fractional part.
pub fn is_integer(canon: &str) -> bool {
    !canon.contains('.')
}

/// Byte ranges of the numbers in `text`: `-?\d{1,3}(,\d{3})+(\.\d+)?`,
/// `-?\d+(\.\d+)?` or `-?\.\d+`.
///
/// A `-` counts as a sign only where it cannot be a binary minus, so
/// `5-3` yields `5` and `3`, while `x = -4` yields `-4`.
pub fn number_spans(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let mut spans = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let starts_int = digit(i);
        let starts_frac = b[i] == b'.' && digit(i + 1) && (i == 0 || !digit(i - 1));
        if !starts_int && !starts_frac {
            i += 1;
            continue;
        }
        let start = i;
        while digit(i) {
            i += 1;
        }
        // Thousands groups: a comma followed by exactly three digits, after
        // a leading group of at most three.
        if i - start <= 3 {
            while b.get(i) == Some(&b',') && (1..=3).all(|k| digit(i + k)) && !digit(i + 4) {
                i += 4;
            }
        }
        if b.get(i) == Some(&b'.') && digit(i + 1) {
            i += 1;
            while digit(i) {
                i += 1;
            }
        }
        let signed = start > 0
            && b[start - 1] == b'-'
            && (start == 1 || !(b[start - 2].is_ascii_alphanumeric() || b[start - 2] == b')'));
        spans.push((if signed { start - 1 } else { start }, i));
    }
    spans
}

/// The first number in `text`, as written.
pub fn first_number(text: &str) -> Option<&str> {
    number_spans(text).first().map(|&(a, b)| &text[a..b])
}

/// The last number in `text`, as written.
pub fn last_number(text: &str) -> Option<&str> {
    number_spans(text).last().map(|&(a, b)| &text[a..b])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_only_in_groups_of_three() {
        assert_eq!(strip_thousands("1,234"), "1234");
        assert_eq!(strip_thousands("-12,345,678.90"), "-12345678.90");
        assert_eq!(strip_thousands("1,2,3"), "1,2,3");
        assert_eq!(strip_thousands("1,5"), "1,5");
        assert_eq!(strip_thousands("1234,567"), "1234,567");
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(canonical_decimal("18.00").as_deref(), Some("18"));
        assert_eq!(canonical_decimal("007").as_deref(), Some("7"));
        assert_eq!(canonical_decimal("-0.0").as_deref(), Some("0"));
        assert_eq!(canonical_decimal(".50").as_deref(), Some("0.5"));
        assert_eq!(canonical_decimal("5.").as_deref(), Some("5"));
        assert_eq!(canonical_decimal("-2.50").as_deref(), Some("-2.5"));
        let big = "123456789012345678901234567890";
        assert_eq!(canonical_decimal(big).as_deref(), Some(big));
        for bad in ["", "-", ".", "1e5", "inf", "NaN", "1.2.3", "+1", "1 2"] {
            assert_eq!(canonical_decimal(bad), None, "{bad}");
        }
    }

    #[test]
    fn values_and_formatting() {
        assert_eq!(loose_value(" 1,234.5 "), Some(1234.5));
        assert_eq!(format_value(0.5).as_deref(), Some("0.5"));
        assert_eq!(format_value(-0.0).as_deref(), Some("0"));
        assert_eq!(format_value(3.0).as_deref(), Some("3"));
        assert_eq!(format_value(f64::NAN), None);
        assert!(is_integer("42") && !is_integer("4.2"));
    }

    #[test]
    fn finds_numbers_in_prose() {
        let text = "She paid $1,234.50, then 5-3 apples, x = -4, and .5 of it; 1,2345 and 3.14.";
        let found: Vec<&str> = number_spans(text)
            .iter()
            .map(|&(a, b)| &text[a..b])
            .collect();
        assert_eq!(
            found,
            ["1,234.50", "5", "3", "-4", ".5", "1", "2345", "3.14"]
        );
        assert_eq!(first_number("no digits"), None);
        assert_eq!(last_number("(-7)"), Some("-7"));
        assert_eq!(last_number("-7"), Some("-7"));
    }
}
