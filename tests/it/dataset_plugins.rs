//! The dataset plugins (adapter-svamp, adapter-math, adapter-jsonl) and
//! parser-math as built components, called through the host library: every
//! shipped sample converts, bad records name their line and field, options
//! rename fields, and parser-math judges LaTeX answers.

use crate::common;

use std::sync::OnceLock;

use econ_host::config::Config;
use econ_host::plugins::dataset_adapter::{Problem, RawRecord};
use econ_host::plugins::{Limits, PluginEngine, PluginKind, PluginRegistry};

/// One registry for every test here: compiling the built-ins once instead
/// of per test keeps this file fast on two cores.
fn registry() -> &'static PluginRegistry {
    static REGISTRY: OnceLock<PluginRegistry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let engine = PluginEngine::new(None).unwrap();
        PluginRegistry::load(&engine, &[common::plugin_dir()], Limits::default()).unwrap()
    })
}

/// Records numbered from 1, as the host numbers lines.
fn records<S: AsRef<str>>(rows: &[S]) -> Vec<RawRecord> {
    rows.iter()
        .enumerate()
        .map(|(i, r)| RawRecord {
            line: i as u32 + 1,
            json: r.as_ref().to_string(),
        })
        .collect()
}

fn options(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The records of a shipped sample file: one per element of a JSON array, or
/// one per non-blank line of a JSONL file (numbered by line).
fn sample(name: &str) -> Vec<RawRecord> {
    let path = common::repo_root().join("data").join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    if name.ends_with(".json") {
        let rows: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        let rows: Vec<String> = rows.iter().map(|r| r.to_string()).collect();
        records(&rows)
    } else {
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| RawRecord {
                line: i as u32 + 1,
                json: l.to_string(),
            })
            .collect()
    }
}

fn all_ok(out: Vec<Result<Problem, String>>) -> Vec<Problem> {
    out.into_iter()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("a sample record was refused: {e}"))
}

fn metadata<'a>(p: &'a Problem, key: &str) -> Option<&'a str> {
    p.metadata
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[test]
fn the_dataset_plugins_are_builtins_with_their_kinds() {
    let registry = registry();
    assert!(registry.failures().is_empty(), "{:?}", registry.failures());
    for (name, kind) in [
        ("adapter-svamp", PluginKind::DatasetAdapter),
        ("adapter-math", PluginKind::DatasetAdapter),
        ("adapter-jsonl", PluginKind::DatasetAdapter),
        ("parser-math", PluginKind::AnswerParser),
    ] {
        let info = registry
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not a built-in"))
            .info();
        assert_eq!(info.kind, kind, "{name}");
        assert_eq!(info.wit_version, econ_host::plugins::WIT_VERSION);
        assert!(!info.description.is_empty(), "{name}");
    }
}

#[test]
fn configs_name_these_plugins_and_their_samples() {
    let registry = registry();
    for (config, adapter, parser, data) in [
        (
            "svamp.toml",
            "adapter-svamp",
            "parser-boxed",
            "svamp-sample.json",
        ),
        (
            "math.toml",
            "adapter-math",
            "parser-math",
            "math-sample.jsonl",
        ),
    ] {
        let path = common::repo_root().join("configs").join(config);
        let c = Config::load(&path, &[]).unwrap_or_else(|e| panic!("{config}: {e:#}"));
        assert_eq!(c.dataset.adapter, adapter);
        assert_eq!(c.plugins.parser, parser);
        let file = c.resolve(c.dataset.path.as_deref().expect("a dataset path"));
        assert!(file.ends_with(data) && file.is_file(), "{}", file.display());
        registry.dataset_adapter(adapter).unwrap();
        registry.answer_parser(parser).unwrap();
    }
}

#[test]
fn svamp_sample_converts_every_record() {
    let registry = registry();
    let adapter = registry.dataset_adapter("adapter-svamp").unwrap();
    let problems = all_ok(adapter.adapt(&sample("svamp-sample.json"), &[]).unwrap());
    let answers: Vec<&str> = problems.iter().map(|p| p.answer.as_str()).collect();
    assert_eq!(
        answers,
        ["23", "15", "56", "9", "28", "37", "57", "9", "15", "172"]
    );
    let first = &problems[0];
    assert_eq!(first.id, "sample-01");
    assert_eq!(
        first.question,
        "Mia has 14 marbles. Her friend gives her 9 more marbles. How many marbles does Mia have now?"
    );
    assert_eq!(metadata(first, "equation"), Some("( 14.0 + 9.0 )"));
    assert_eq!(metadata(first, "type"), Some("Addition"));
    // The reference answers are what parser-boxed extracts from a box.
    let parser = registry.answer_parser("parser-boxed").unwrap();
    for p in &problems {
        let boxed = parser
            .extract(&[format!("so \\boxed{{{}.00}}", p.answer)])
            .unwrap();
        assert_eq!(boxed[0].answer.as_deref(), Some(p.answer.as_str()));
    }
}

#[test]
fn svamp_bad_records_name_line_and_field_and_options_rename_fields() {
    let registry = registry();
    let adapter = registry.dataset_adapter("adapter-svamp").unwrap();
    let rows = [
        r#"{"ID": "a", "Body": "Ann has 3 pens.", "Question": "How many pens?", "Answer": 3.0}"#,
        r#"{"ID": "b", "Body": "Ann has 3 pens.", "Answer": 3.0}"#,
        r#"{"ID": "c", "Body": "B.", "Question": "Q?", "Answer": "lots"}"#,
        r#"[1, 2]"#,
        r#"{"ID": "e", "Body": "B.", "Question": "Q?"#,
    ];
    let out = adapter.adapt(&records(&rows), &[]).unwrap();
    assert_eq!(
        out[0].as_ref().unwrap().question,
        "Ann has 3 pens. How many pens?"
    );
    let errors: Vec<&String> = out[1..].iter().map(|r| r.as_ref().unwrap_err()).collect();
    assert_eq!(errors[0], "line 2: missing field \"Question\"");
    assert_eq!(
        errors[1],
        "line 3: field \"Answer\" is not a number: \"lots\""
    );
    assert!(errors[2].starts_with("line 4: record is not a JSON object"));
    assert!(errors[3].starts_with("line 5: not valid JSON"));

    let renamed = [r#"{"n": 7, "text": "Two boxes of 4. How many?", "result": "8.0"}"#];
    let opts = options(&[
        ("question_field", "text"),
        ("answer_field", "result"),
        ("id_field", "n"),
    ]);
    let p = &all_ok(adapter.adapt(&records(&renamed), &opts).unwrap())[0];
    assert_eq!(
        (p.id.as_str(), p.question.as_str(), p.answer.as_str()),
        ("7", "Two boxes of 4. How many?", "8")
    );
}

/// Canonical forms of the sample's boxed answers, and an answer a model
/// might give for each, written differently.
const MATH_ANSWERS: [(&str, &str); 10] = [
    ("5", "x = 5"),
    ("\\frac{5}{6}", "5/6"),
    ("42", "42"),
    ("(5,3)", "\\left( 5, 3 \\right)"),
    ("2\\sqrt{5}", "\\sqrt{20}"),
    ("(4,\\infty)", "(4, \\infty)"),
    ("120", "120 degrees"),
    ("x^2+x-6", "(x+3)(x-2)"),
    ("10", "\\$10.00"),
    ("\\frac{1}{2}", "0.5"),
];

#[test]
fn math_sample_converts_every_record_and_parser_math_accepts_other_forms() {
    let registry = registry();
    let adapter = registry.dataset_adapter("adapter-math").unwrap();
    let problems = all_ok(adapter.adapt(&sample("math-sample.jsonl"), &[]).unwrap());
    let answers: Vec<&str> = problems.iter().map(|p| p.answer.as_str()).collect();
    let want: Vec<&str> = MATH_ANSWERS.iter().map(|(a, _)| *a).collect();
    assert_eq!(answers, want);
    assert_eq!(problems[0].id, "math-sample-01");
    assert!(problems[1].question.contains("\\frac{2}{3}"));
    for p in &problems {
        let level = metadata(p, "level").unwrap();
        assert!(
            ["Level 1", "Level 2", "Level 3"].contains(&level),
            "{level}"
        );
        assert!(metadata(p, "type").is_some() && metadata(p, "solution").is_some());
    }

    let parser = registry.answer_parser("parser-math").unwrap();
    for (p, (_, other)) in problems.iter().zip(MATH_ANSWERS) {
        // The reference matches itself, the solution's own box, another form...
        let solution = metadata(p, "solution").unwrap().to_string();
        let extracted = parser.extract(&[solution]).unwrap();
        assert_eq!(extracted[0].method, "boxed");
        let extracted = extracted[0].answer.clone().unwrap();
        assert_eq!(extracted, p.answer);
        let verdicts = parser
            .equivalent(&p.answer, &[p.answer.clone(), extracted, other.to_string()])
            .unwrap();
        assert_eq!(verdicts, [true, true, true], "{} vs {other}", p.answer);
        // ...and no other problem's answer.
        let others: Vec<String> = problems
            .iter()
            .filter(|q| q.id != p.id)
            .map(|q| q.answer.clone())
            .collect();
        let verdicts = parser.equivalent(&p.answer, &others).unwrap();
        assert!(verdicts.iter().all(|v| !v), "{}: {verdicts:?}", p.answer);
    }
}

#[test]
fn math_bad_records_name_line_and_field_and_options_rename_fields() {
    let registry = registry();
    let adapter = registry.dataset_adapter("adapter-math").unwrap();
    let rows = [
        r#"{"problem": "What is 1+1?", "solution": "It is $\\boxed{2}$.", "level": "Level 1", "type": "Prealgebra"}"#,
        r#"{"problem": "What is 1+1?", "solution": "It is 2.", "level": "Level 1", "type": "Prealgebra"}"#,
        r#"{"solution": "\\boxed{2}"}"#,
        r#"{"problem": "p", "solution": 2}"#,
    ];
    let out = adapter.adapt(&records(&rows), &[]).unwrap();
    assert_eq!(out[0].as_ref().unwrap().answer, "2");
    let errors: Vec<&String> = out[1..].iter().map(|r| r.as_ref().unwrap_err()).collect();
    assert_eq!(
        errors[0],
        "line 2: field \"solution\": no \\boxed{...} final answer"
    );
    assert_eq!(errors[1], "line 3: missing field \"problem\"");
    assert_eq!(
        errors[2],
        "line 4: field \"solution\" is a number, not a string"
    );

    let renamed = [
        r#"{"uid": "t-1", "q": "Simplify $\\sqrt{8}$.", "worked": "$\\sqrt{8} = \\boxed{2\\sqrt2}$"}"#,
    ];
    let opts = options(&[
        ("question_field", "q"),
        ("answer_field", "worked"),
        ("id_field", "uid"),
    ]);
    let p = &all_ok(adapter.adapt(&records(&renamed), &opts).unwrap())[0];
    assert_eq!(
        (p.id.as_str(), p.question.as_str(), p.answer.as_str()),
        ("t-1", "Simplify $\\sqrt{8}$.", "2\\sqrt{2}")
    );
}

#[test]
fn jsonl_adapter_reads_gsm8k_like_adapter_gsm8k_and_any_scalar_answer() {
    let registry = registry();
    let generic = registry.dataset_adapter("adapter-jsonl").unwrap();
    let gsm8k = registry.dataset_adapter("adapter-gsm8k").unwrap();
    let rows = sample("gsm8k-sample.jsonl");
    let mine = all_ok(generic.adapt(&rows, &[]).unwrap());
    let theirs = all_ok(gsm8k.adapt(&rows, &[]).unwrap());
    assert_eq!(mine.len(), 10);
    for (a, b) in mine.iter().zip(&theirs) {
        assert_eq!((&a.question, &a.answer), (&b.question, &b.answer));
    }
    assert_eq!(mine[0].id, "row-1");
    assert!(metadata(&mine[0], "solution").unwrap().contains("####"));

    let with_id = options(&[("id_field", "id")]);
    let mine = all_ok(generic.adapt(&rows, &with_id).unwrap());
    assert_eq!(mine[0].id, "gsm8k-test-0");

    let rows = [
        r#"{"prompt": "Is 9 prime?", "label": false, "key": 1}"#,
        r#"{"prompt": "Half of 5?", "label": 2.50, "key": 2}"#,
        r#"{"prompt": "Name the colour of the sky.", "label": "blue", "key": 3}"#,
        r#"{"prompt": "List two primes.", "label": [2, 3], "key": 4}"#,
        r#"{"label": 1, "key": 5}"#,
        r#"{"prompt": "Who?", "label": "x", "key": null}"#,
    ];
    let opts = options(&[
        ("question_field", "prompt"),
        ("answer_field", "label"),
        ("id_field", "key"),
    ]);
    let out = generic.adapt(&records(&rows), &opts).unwrap();
    let ok: Vec<(&str, &str)> = out[..3]
        .iter()
        .map(|r| {
            let p = r.as_ref().unwrap();
            (p.id.as_str(), p.answer.as_str())
        })
        .collect();
    assert_eq!(ok, [("1", "false"), ("2", "2.5"), ("3", "blue")]);
    let errors: Vec<&String> = out[3..].iter().map(|r| r.as_ref().unwrap_err()).collect();
    assert_eq!(
        errors[0],
        "line 4: field \"label\" is an array, not a string, number or boolean"
    );
    assert_eq!(errors[1], "line 5: missing field \"prompt\"");
    assert_eq!(errors[2], "line 6: missing field \"key\"");
}

/// Reference, candidate, verdict: answers as MATH writes them and as models
/// write them back.
const EQUIVALENCE: &[(&str, &str, bool)] = &[
    ("\\frac{1}{2}", "1/2", true),
    ("\\frac{1}{2}", "0.5", true),
    ("\\frac{1}{2}", "\\dfrac12", true),
    ("\\frac{3}{4}", "\\tfrac{3}{4}", true),
    ("\\left( 1, -2 \\right)", "(1,-2)", true),
    ("\\sqrt{2}", "\\sqrt2", true),
    ("\\frac{\\sqrt{3}}{2}", "\\frac{\\sqrt3}{2}", true),
    ("10\\text{ inches}", "10", true),
    ("30^\\circ", "30", true),
    ("\\$5.50", "5.5", true),
    ("25\\%", "25", true),
    ("[-2, 5)", "[-2,5)", true),
    ("\\{1, 2, 3\\}", "\\{3, 2, 1\\}", true),
    ("2, -3", "-3, 2", true),
    ("3x^2 + 2x", "2x + 3x^2", true),
    ("\\text{Monday}", "monday", true),
    ("2\\sqrt{3}", "3", false),
    ("2\\sqrt{3}", "\\sqrt{3}", false),
    ("\\frac{1}{2}", "\\frac{1}{3}", false),
    ("(1, 2)", "(2, 1)", false),
    ("[0, 1)", "[0, 1]", false),
    ("(1,2)", "1,2", false),
    ("x^2", "x^3", false),
    ("1000000", "1000001", false),
    ("5", "", false),
];

#[test]
fn parser_math_judges_latex_answers_through_the_component() {
    let registry = registry();
    let parser = registry.answer_parser("parser-math").unwrap();
    for &(reference, candidate, want) in EQUIVALENCE {
        let got = parser
            .equivalent(reference, &[candidate.to_string()])
            .unwrap();
        assert_eq!(got, [want], "{reference} vs {candidate}");
    }
    // parser-boxed reads only numbers: the case parser-math exists for.
    let boxed = registry.answer_parser("parser-boxed").unwrap();
    assert_eq!(
        boxed
            .equivalent("\\frac{\\sqrt{3}}{2}", &["\\frac{\\sqrt3}{2}".into()])
            .unwrap(),
        [false]
    );

    let outputs: Vec<String> = [
        "We need $x^2 = 8$, so $x = \\pm 2\\sqrt{2}$. The positive root is $\\boxed{2\\sqrt{2}}$.",
        "The final answer is $\\frac{7}{3}$.",
        "{\"final_value\": \"\\\\dfrac{1}{4}\", \"confidence\": 0.9}",
        "So the interval is \\boxed{\\left[ -1, \\infty \\right)}.",
        "I am not sure.",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let found = parser.extract(&outputs).unwrap();
    let got: Vec<(Option<&str>, &str)> = found
        .iter()
        .map(|e| (e.answer.as_deref(), e.method.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (Some("2\\sqrt{2}"), "boxed"),
            (Some("\\frac{7}{3}"), "answer-phrase"),
            (Some("\\frac{1}{4}"), "json"),
            (Some("[-1,\\infty)"), "boxed"),
            (None, "none"),
        ]
    );
}
