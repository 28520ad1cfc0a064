//! A mistyped key in a config: the line it stands on and the key it was
//! probably meant to be ("did you mean"), beside the keys that section takes.

use anyhow::anyhow;

/// `error` (serde's "unknown field `X`, expected one of `a`, `b`, ...") with
/// the line of `text` that holds the key and the closest key it may mean;
/// other errors unchanged.
pub fn explain(error: toml::de::Error, text: &str) -> anyhow::Error {
    let message = error.to_string();
    let Some(key) = between(&message, "unknown field `", "`") else {
        return error.into();
    };
    // "... expected one of `a`, `b`\nin `llm.executor`": the section last.
    let (head, section) = match message.rsplit_once("in `") {
        Some((head, rest)) => (head, rest.split('`').next().unwrap_or("")),
        None => (message.as_str(), ""),
    };
    let expected: Vec<&str> = head
        .split_once("expected ")
        .map(|(_, rest)| rest.split('`').skip(1).step_by(2).collect())
        .unwrap_or_default();
    let closest = expected
        .iter()
        .map(|k| (strsim::jaro_winkler(key, k), *k))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k);
    let place = match line_of(text, section, key) {
        Some(n) => format!("line {n}: "),
        None => String::new(),
    };
    let table = if section.is_empty() {
        "at the top level".to_string()
    } else {
        format!("in [{section}]")
    };
    let hint = match closest {
        Some(k) => format!("; did you mean `{k}`?"),
        None => String::new(),
    };
    anyhow!(
        "{place}unknown key `{key}` {table}{hint} (keys there: {})",
        expected.join(", ")
    )
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let rest = &text[text.find(start)? + start.len()..];
    Some(&rest[..rest.find(end)?])
}

/// The 1-based line where `key = ...` stands in `[section]` (or anywhere,
/// when no line of that section has it: a dotted or inline key).
fn line_of(text: &str, section: &str, key: &str) -> Option<usize> {
    let mut current = String::new();
    let mut anywhere = None;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if let Some(header) = line.strip_prefix('[') {
            current = header
                .trim_matches(|c| c == '[' || c == ']')
                .trim()
                .to_string();
            continue;
        }
        let Some((name, _)) = line.split_once('=') else {
            continue;
        };
        let name = name.trim().trim_matches('"');
        if name == key || name.ends_with(&format!(".{key}")) {
            if current == section {
                return Some(i + 1);
            }
            anywhere.get_or_insert(i + 1);
        }
    }
    anywhere
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Llm {
        context: Option<u32>,
        threads: Option<u32>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Top {
        seed: Option<u64>,
        llm: Option<Llm>,
    }

    fn error_of(text: &str) -> String {
        let value: toml::Table = toml::from_str(text).unwrap();
        let e = value.try_into::<Top>().unwrap_err();
        format!("{:#}", explain(e, text))
    }

    #[test]
    fn a_typo_gets_its_line_and_the_key_it_meant() {
        let e = error_of("seed = 1\n\n[llm]\nthreads = 2\ncontxt = 4096\n");
        assert!(
            e.starts_with("line 5: unknown key `contxt` in [llm]; did you mean `context`?"),
            "{e}"
        );
        assert!(e.ends_with("(keys there: context, threads)"), "{e}");
    }

    #[test]
    fn a_key_like_none_of_them_gets_no_guess() {
        let e = error_of("zzz = 1\n");
        assert!(
            e.starts_with("line 1: unknown key `zzz` at the top level (keys there:"),
            "{e}"
        );
        assert!(!e.contains("did you mean"), "{e}");
    }
}
