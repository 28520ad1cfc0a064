//! What counts as an answer hidden in a coordinator's strategy: every number
//! in it once list markers ("1.", "2.") are gone. The leak check compares
//! them with the reference.

/// Drop list markers: tokens "1." / "2)" / "3:" that open a line or follow a
/// sentence end and count up from 1 in order. Other numbers stay.
pub(super) fn strip_enumeration(text: &str) -> String {
    let mut next = 1u32;
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let mut at_start = true;
        for token in line.split_inclusive(char::is_whitespace) {
            let word = token.trim_end();
            let marker = word
                .strip_suffix(['.', ')', ':'])
                .and_then(|n| n.parse::<u32>().ok());
            if marker == Some(next) && at_start {
                next += 1;
                out.push_str(&token[word.len()..]);
                continue;
            }
            if !word.is_empty() {
                at_start = word.ends_with(['.', ';', ':', ')', '!', '?']);
            }
            out.push_str(token);
        }
    }
    out
}

/// The numbers written in a text ("12", "-3", "1,000", "2.5", "3/4"), as
/// they stand, for the parser to compare with the reference.
pub(super) fn numbers_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = if i > 0 && chars[i - 1] == '-' {
            i - 1
        } else {
            i
        };
        let mut end = i;
        while end < chars.len() {
            let c = chars[end];
            let joins = matches!(c, ',' | '.' | '/')
                && chars.get(end + 1).is_some_and(|n| n.is_ascii_digit());
            if c.is_ascii_digit() || joins {
                end += if joins { 2 } else { 1 };
            } else {
                break;
            }
        }
        out.push(chars[start..end].iter().collect());
        i = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{numbers_in, strip_enumeration};

    #[test]
    fn every_number_of_a_strategy_is_a_candidate() {
        assert_eq!(
            numbers_in("Add 12 and -3, then 1,000 or 2.5 and 3/4. End."),
            ["12", "-3", "1,000", "2.5", "3/4"]
        );
        assert!(numbers_in("No numbers here.").is_empty());
    }

    #[test]
    fn list_markers_are_not_answers() {
        let s = strip_enumeration("1. Count the eggs.\n2. Subtract 3.\n3. Multiply by 2.");
        assert!(
            !s.contains("1.") && !s.contains("2.\n") && s.contains("Subtract 3."),
            "{s}"
        );
        let inline = strip_enumeration("1. Read. 2. Add them. 3. Check the sum of 18.");
        assert_eq!(
            inline.split_whitespace().collect::<Vec<_>>(),
            ["Read.", "Add", "them.", "Check", "the", "sum", "of", "18."]
        );
        // Out of order: a number, not a marker.
        assert_eq!(strip_enumeration("The answer is 7."), "The answer is 7.");
    }
}
