//! Dataset sources through the real adapter-gsm8k plugin: every file format,
//! folders, a pre-filled Hugging Face cache, deterministic shuffles, train and
//! test that never overlap, length limits, and errors that say what is wrong.

use crate::common;

use std::path::Path;
use std::sync::Arc;

use econ_host::config::Config;
use econ_host::data::{HeldOut, Splits, load_file, load_splits};
use econ_host::plugins::{DatasetAdapterPlugin, Limits, PluginEngine, PluginRegistry};
use serde_json::json;

fn adapter() -> DatasetAdapterPlugin {
    let engine = PluginEngine::new(None).unwrap();
    let registry =
        PluginRegistry::load(&engine, &[common::plugin_dir()], Limits::default()).unwrap();
    registry.dataset_adapter("adapter-gsm8k").unwrap().clone()
}

/// A GSM8K-style row whose question and answer carry `i`.
fn row(i: usize) -> serde_json::Value {
    json!({
        "question": format!("Ann has {i} apples and eats none. How many apples does she have?"),
        "answer": format!("She still has {i}.\n#### {i}"),
    })
}

fn write_jsonl(path: &Path, rows: &[serde_json::Value]) {
    let text: Vec<String> = rows.iter().map(|r| r.to_string()).collect();
    std::fs::write(path, text.join("\n") + "\n").unwrap();
}

fn write_csv(path: &Path, rows: &[serde_json::Value]) {
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut text = String::from("question,answer\n");
    for r in rows {
        text += &format!(
            "{},{}\n",
            quote(r["question"].as_str().unwrap()),
            quote(r["answer"].as_str().unwrap())
        );
    }
    std::fs::write(path, text).unwrap();
}

/// A snappy-compressed Parquet file with string columns question and answer.
fn write_parquet(path: &Path, rows: &[serde_json::Value]) {
    use parquet::basic::Compression;
    use parquet::data_type::{ByteArray, ByteArrayType};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;

    let schema = parse_message_type(
        "message schema { REQUIRED BYTE_ARRAY question (UTF8); REQUIRED BYTE_ARRAY answer (UTF8); }",
    )
    .unwrap();
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let file = std::fs::File::create(path).unwrap();
    let mut writer = SerializedFileWriter::new(file, Arc::new(schema), Arc::new(props)).unwrap();
    let mut group = writer.next_row_group().unwrap();
    for name in ["question", "answer"] {
        let values: Vec<ByteArray> = rows
            .iter()
            .map(|r| ByteArray::from(r[name].as_str().unwrap()))
            .collect();
        let mut column = group.next_column().unwrap().unwrap();
        column
            .typed::<ByteArrayType>()
            .write_batch(&values, None, None)
            .unwrap();
        column.close().unwrap();
    }
    group.close().unwrap();
    writer.close().unwrap();
}

/// Write c.toml in `dir` with these `[dataset]` lines (adapter-gsm8k) and load it.
fn config(dir: &Path, seed: u64, dataset: &str) -> anyhow::Result<Config> {
    let path = dir.join("c.toml");
    std::fs::write(
        &path,
        format!(
            "seed = {seed}\n\
             [llm.coordinator]\nprovider = \"local\"\nmodel = \"m\"\n\
             [llm.executor]\nprovider = \"local\"\nmodel = \"m\"\n\
             [dataset]\nadapter = \"adapter-gsm8k\"\n{dataset}\n"
        ),
    )
    .unwrap();
    Config::load(&path, &[])
}

fn splits(dir: &Path, seed: u64, dataset: &str, adapter: &DatasetAdapterPlugin) -> Splits {
    load_splits(&config(dir, seed, dataset).unwrap(), adapter).unwrap()
}

/// The message of a config or data error; such errors exit with code 2.
fn error(dir: &Path, dataset: &str, adapter: &DatasetAdapterPlugin) -> String {
    let result = config(dir, 42, dataset).and_then(|c| load_splits(&c, adapter));
    match result {
        Ok(s) => panic!("expected an error, got {}", s.source),
        Err(e) => {
            let message = format!("{e:#}");
            let data_error = e.chain().any(|e| e.is::<econ_host::error::BadInput>());
            let config_error = message.starts_with("config ");
            assert!(
                data_error || config_error,
                "neither bad input nor config: {message}"
            );
            message
        }
    }
}

fn ids(problems: &[econ_host::plugins::dataset_adapter::Problem]) -> Vec<String> {
    problems.iter().map(|p| p.id.clone()).collect()
}

#[test]
fn every_format_reads_the_same_problems() {
    let adapter = adapter();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rows: Vec<_> = (1..=5).map(row).collect();
    write_jsonl(&d.join("a.jsonl"), &rows);
    std::fs::write(
        d.join("array.json"),
        serde_json::to_string_pretty(&rows).unwrap(),
    )
    .unwrap();
    std::fs::write(
        d.join("object.json"),
        json!({"version": 1, "data": rows}).to_string(),
    )
    .unwrap();
    std::fs::write(d.join("rows.json"), json!({"rows": rows}).to_string()).unwrap();
    write_jsonl(&d.join("lines.json"), &rows);
    write_csv(&d.join("a.csv"), &rows);
    write_parquet(&d.join("a.parquet"), &rows);
    for name in [
        "a.jsonl",
        "array.json",
        "object.json",
        "rows.json",
        "lines.json",
        "a.csv",
        "a.parquet",
    ] {
        let loaded = load_file(&d.join(name), &adapter, &[]).unwrap();
        assert!(loaded.skipped.is_empty(), "{name}: {:?}", loaded.skipped);
        let got: Vec<(String, String)> = loaded
            .problems
            .iter()
            .map(|p| (p.question.clone(), p.answer.clone()))
            .collect();
        let want: Vec<(String, String)> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                (
                    r["question"].as_str().unwrap().to_string(),
                    (i + 1).to_string(),
                )
            })
            .collect();
        assert_eq!(got, want, "{name}");
    }
    // The record's line: the line in JSONL and CSV (header = line 1, and the
    // answers span two lines), the row in Parquet.
    let line_ids = |name: &str| ids(&load_file(&d.join(name), &adapter, &[]).unwrap().problems);
    assert_eq!(line_ids("a.jsonl")[..2], ["gsm8k-1", "gsm8k-2"]);
    assert_eq!(line_ids("a.csv")[..2], ["gsm8k-2", "gsm8k-4"]);
    assert_eq!(line_ids("a.parquet")[..2], ["gsm8k-1", "gsm8k-2"]);
    // `format` reads a file whatever its extension.
    write_jsonl(&d.join("rows.txt"), &rows);
    let s = splits(d, 1, "path = \"rows.txt\"\nformat = \"jsonl\"", &adapter);
    assert_eq!(s.train.len() + s.test.len(), 5);
}

#[test]
fn a_folder_reads_every_data_file_in_name_order_with_file_qualified_ids() {
    let adapter = adapter();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    write_jsonl(&data.join("b.jsonl"), &(1..=3).map(row).collect::<Vec<_>>());
    write_csv(&data.join("a.csv"), &(4..=5).map(row).collect::<Vec<_>>());
    write_parquet(
        &data.join("c.parquet"),
        &(6..=7).map(row).collect::<Vec<_>>(),
    );
    std::fs::write(data.join("notes.txt"), "not data").unwrap();
    write_jsonl(&data.join(".hidden.jsonl"), &[row(99)]);
    let s = splits(
        dir.path(),
        7,
        "path = \"data\"\nshuffle = false\ntest_fraction = 0.25",
        &adapter,
    );
    let mut all = ids(&s.train);
    all.extend(ids(&s.test));
    assert_eq!(
        all,
        [
            "a:gsm8k-2",
            "a:gsm8k-4",
            "b:gsm8k-1",
            "b:gsm8k-2",
            "b:gsm8k-3",
            "c:gsm8k-1",
            "c:gsm8k-2"
        ]
    );
    assert_eq!(s.test.len(), 2, "ceil(0.25 * 7)");
    assert!(s.skipped.is_empty(), "{:?}", s.skipped);
    assert!(s.source.contains("(3 files)"), "{}", s.source);
    // Files of one name in two folders keep apart by their folder.
    for (folder, rows) in [("tr", 1..=2), ("te", 3..=3)] {
        std::fs::create_dir(dir.path().join(folder)).unwrap();
        write_jsonl(
            &dir.path().join(folder).join("d.jsonl"),
            &rows.map(row).collect::<Vec<_>>(),
        );
    }
    let s = splits(
        dir.path(),
        7,
        "path = \"tr\"\ntest_path = \"te\"\nshuffle = false",
        &adapter,
    );
    assert_eq!(
        (ids(&s.train), ids(&s.test)),
        (
            vec!["tr/d:gsm8k-1".to_string(), "tr/d:gsm8k-2".into()],
            vec!["te/d:gsm8k-1".to_string()]
        )
    );
    // `format` narrows a folder to one kind of file.
    let s = splits(dir.path(), 7, "path = \"data\"\nformat = \"csv\"", &adapter);
    assert_eq!(s.train.len() + s.test.len(), 2);
    let message = error(dir.path(), "path = \"data\"\nformat = \"json\"", &adapter);
    assert!(message.contains("has no .json files"), "{message}");
}

/// `{hub}/datasets--openai--gsm8k` as huggingface_hub leaves it.
fn fake_hub(hub: &Path) {
    let hash = "0123456789abcdef0123456789abcdef01234567";
    let repo = hub.join("datasets--openai--gsm8k");
    let snapshot = repo.join("snapshots").join(hash);
    for folder in ["main", "socratic"] {
        std::fs::create_dir_all(snapshot.join(folder)).unwrap();
    }
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), hash).unwrap();
    std::fs::write(snapshot.join("README.md"), "# gsm8k").unwrap();
    write_parquet(
        &snapshot.join("main/train-00000-of-00001.parquet"),
        &(1..=8).map(row).collect::<Vec<_>>(),
    );
    write_parquet(
        &snapshot.join("main/test-00000-of-00001.parquet"),
        &(101..=104).map(row).collect::<Vec<_>>(),
    );
    write_jsonl(
        &snapshot.join("socratic/train.jsonl"),
        &(201..=202).map(row).collect::<Vec<_>>(),
    );
}

#[test]
fn hugging_face_datasets_come_from_a_prefilled_hub_cache() {
    let adapter = adapter();
    let dir = tempfile::tempdir().unwrap();
    fake_hub(&dir.path().join("hub"));
    let s = splits(
        dir.path(),
        42,
        "hf_id = \"openai/gsm8k\"\nhf_split = \"main/train\"\ntest_hf_split = \"main/test\"\nhf_cache = \"hub\"",
        &adapter,
    );
    assert_eq!((s.train.len(), s.test.len()), (8, 4));
    assert!(
        s.test
            .iter()
            .all(|p| p.id.starts_with("main/test-00000-of-00001:gsm8k-"))
    );
    assert!(
        s.train
            .iter()
            .all(|p| p.id.starts_with("main/train-00000-of-00001:gsm8k-"))
    );
    assert!(
        s.source.contains("openai/gsm8k@main split main/train"),
        "{}",
        s.source
    );
    // One folder's split, held out.
    let s = splits(
        dir.path(),
        42,
        "hf_id = \"openai/gsm8k\"\nhf_split = \"socratic/train\"\nhf_cache = \"hub\"",
        &adapter,
    );
    assert_eq!((s.train.len(), s.test.len()), (1, 1));
    // "train" alone names files of two configs: refused, with the fix.
    let message = error(
        dir.path(),
        "hf_id = \"openai/gsm8k\"\nhf_cache = \"hub\"",
        &adapter,
    );
    assert!(
        message.contains("several folders") && message.contains("\"main/train\""),
        "{message}"
    );
    assert!(
        !message.contains("Pre-fill"),
        "a config mistake, not a missing download: {message}"
    );
    // A cached dataset without the split: what is there, and how to fill it.
    let message = error(
        dir.path(),
        "hf_id = \"openai/gsm8k\"\nhf_split = \"validation\"\nhf_cache = \"hub\"",
        &adapter,
    );
    assert!(
        message.contains("no data file names split \"validation\"")
            && message.contains("main/test-00000-of-00001.parquet")
            && message.contains("Pre-fill"),
        "{message}"
    );
}

#[test]
fn a_dataset_missing_from_the_hub_cache_is_a_clear_error() {
    let adapter = adapter();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("hub")).unwrap();
    let message = error(
        dir.path(),
        "hf_id = \"nobody-here/no-such-dataset\"\nhf_cache = \"hub\"",
        &adapter,
    );
    for part in [
        "nobody-here/no-such-dataset",
        "hub",
        "not in the Hugging Face hub cache",
        "datasets--nobody-here--no-such-dataset",
        "Pre-fill the cache",
    ] {
        assert!(message.contains(part), "{part:?} missing from: {message}");
    }
}

#[test]
fn shuffles_are_fixed_by_the_seed() {
    let adapter = adapter();
    let dir = tempfile::tempdir().unwrap();
    write_jsonl(
        &dir.path().join("d.jsonl"),
        &(1..=20).map(row).collect::<Vec<_>>(),
    );
    let run = |seed, extra: &str| {
        let s = splits(
            dir.path(),
            seed,
            &format!("path = \"d.jsonl\"\n{extra}"),
            &adapter,
        );
        (ids(&s.train), ids(&s.test))
    };
    assert_eq!(run(42, ""), run(42, ""));
    assert_ne!(run(42, ""), run(43, ""));
    let (train, test) = run(42, "shuffle = false");
    assert_eq!(
        train,
        (1..=14).map(|i| format!("gsm8k-{i}")).collect::<Vec<_>>()
    );
    assert_eq!(
        test,
        (15..=20).map(|i| format!("gsm8k-{i}")).collect::<Vec<_>>()
    );
    let (train, test) = run(42, "");
    assert_eq!(
        (train.len(), test.len()),
        (14, 6),
        "ceil(0.3 * 20) held out"
    );
    assert_ne!(
        train,
        (1..=14).map(|i| format!("gsm8k-{i}")).collect::<Vec<_>>()
    );
    let (train, test) = run(42, "test_fraction = 0.5");
    assert_eq!((train.len(), test.len()), (10, 10));
}

#[test]
fn train_and_test_never_overlap() {
    let adapter = adapter();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Held out from one file that repeats questions (case and spaces aside).
    let mut rows: Vec<_> = (1..=12).map(row).collect();
    for i in 1..=4 {
        let q = rows[i - 1]["question"]
            .as_str()
            .unwrap()
            .to_uppercase()
            .replace(' ', "  ");
        rows.push(json!({"question": q, "answer": format!("#### {i}")}));
    }
    write_jsonl(&d.join("d.jsonl"), &rows);
    let norm = |q: &str| {
        q.split_whitespace()
            .map(str::to_lowercase)
            .collect::<Vec<_>>()
            .join(" ")
    };
    for seed in 0..5 {
        let s = splits(d, seed, "path = \"d.jsonl\"", &adapter);
        let test_q: Vec<String> = s.test.iter().map(|p| norm(&p.question)).collect();
        let test_ids = ids(&s.test);
        for p in &s.train {
            assert!(
                !test_q.contains(&norm(&p.question)) && !test_ids.contains(&p.id),
                "{}",
                p.id
            );
        }
        let left_out = s
            .skipped
            .iter()
            .filter(|m| m.contains("left out of train"))
            .count();
        assert_eq!(
            s.train.len() + s.test.len() + left_out,
            16,
            "{:?}",
            s.skipped
        );
    }
    // A separate test file: a shared id and a shared question leave train.
    write_jsonl(
        &d.join("train.jsonl"),
        &[
            json!({"id": "a", "question": "What is 1 + 1?", "answer": "#### 2"}),
            json!({"id": "b", "question": "What is 2 + 2?", "answer": "#### 4"}),
            json!({"id": "c", "question": "What is 3 + 3?", "answer": "#### 6"}),
            json!({"id": "c", "question": "What is 4 + 4?", "answer": "#### 8"}),
        ],
    );
    write_jsonl(
        &d.join("test.jsonl"),
        &[
            json!({"id": "a", "question": "Another question entirely?", "answer": "#### 0"}),
            json!({"id": "z", "question": "what is 2 +   2?", "answer": "#### 4"}),
        ],
    );
    let s = splits(
        d,
        42,
        "path = \"train.jsonl\"\ntest_path = \"test.jsonl\"",
        &adapter,
    );
    let mut train = ids(&s.train);
    train.sort();
    // Ids are qualified by file when a run reads several files ("a" of
    // train.jsonl is not "a" of test.jsonl); the same question is the same problem.
    assert_eq!(train, ["train:a", "train:c"]);
    assert_eq!(ids(&s.test).len(), 2);
    let skipped = s.skipped.join("\n");
    assert!(
        skipped.contains("train.jsonl:4: id \"train:c\" repeats the problem at"),
        "{skipped}"
    );
    assert!(
        skipped.contains("train.jsonl:2: same question as the test problem at")
            && skipped.contains("test.jsonl:2; left out of train"),
        "{skipped}"
    );
    assert_eq!(s.skipped.len(), 2, "{skipped}");
    // The same file as train and test: every problem is a test problem.
    let s = splits(
        d,
        42,
        "path = \"test.jsonl\"\ntest_path = \"test.jsonl\"",
        &adapter,
    );
    assert_eq!((s.train.len(), s.test.len()), (0, 2));
    assert!(
        s.skipped
            .iter()
            .all(|m| m.contains("is a test problem's id too")),
        "{:?}",
        s.skipped
    );
}

#[test]
fn a_validation_set_is_held_out_of_training_and_can_stand_in_for_test() {
    let adapter = adapter();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_jsonl(&d.join("d.jsonl"), &(1..=40).map(row).collect::<Vec<_>>());
    let plain = splits(d, 7, "path = \"d.jsonl\"\ntrain_limit = 10", &adapter);
    let with = "path = \"d.jsonl\"\ntrain_limit = 10\nvalidation_fraction = 0.25";
    let held = splits(d, 7, with, &adapter);
    // The validation set leaves the training problems the limit keeps, and
    // the test problems, as they were.
    assert_eq!(ids(&held.train), ids(&plain.train));
    assert_eq!(ids(&held.test), ids(&plain.test));
    assert_eq!(held.held_out, HeldOut::Test);
    let on_validation = splits(
        d,
        7,
        &format!("{with}\nevaluate_on = \"validation\""),
        &adapter,
    );
    assert_eq!(on_validation.held_out, HeldOut::Validation);
    assert_eq!(ids(&on_validation.train), ids(&plain.train));
    // 40 problems: 12 test, 28 left, 7 of them validation.
    assert_eq!(on_validation.test.len(), 7);
    for p in &on_validation.test {
        assert!(!ids(&plain.test).contains(&p.id) && !ids(&plain.train).contains(&p.id));
    }
    assert!(
        on_validation.source.contains("7 validation problems"),
        "{}",
        on_validation.source
    );
    let err = error(
        d,
        "path = \"d.jsonl\"\nevaluate_on = \"validation\"",
        &adapter,
    );
    assert!(
        err.contains("dataset.evaluate_on") && err.contains("validation_fraction"),
        "{err}"
    );
    let err = error(d, "path = \"d.jsonl\"\nevaluate_on = \"dev\"", &adapter);
    assert!(err.contains("dataset.evaluate_on"), "{err}");
}

#[test]
fn over_long_problems_are_skipped_and_reported() {
    let adapter = adapter();
    let dir = tempfile::tempdir().unwrap();
    let long = json!({"question": "x".repeat(200) + "?", "answer": "#### 1"});
    let long_answer = json!({"question": "Short?", "answer": "#### 123456789"});
    write_jsonl(
        &dir.path().join("d.jsonl"),
        &[row(1), long, row(2), long_answer, row(3)],
    );
    let s = splits(
        dir.path(),
        42,
        "path = \"d.jsonl\"\nmax_question_length = 100\nmax_answer_length = 5",
        &adapter,
    );
    assert_eq!(s.train.len() + s.test.len(), 3);
    let skipped = s.skipped.join("\n");
    assert!(
        skipped.contains(
            "d.jsonl:2: question is 201 characters, over dataset.max_question_length = 100"
        ),
        "{skipped}"
    );
    assert!(
        skipped.contains("d.jsonl:4: answer is 9 characters, over dataset.max_answer_length = 5"),
        "{skipped}"
    );
    assert!(s.source.contains("2 skipped"), "{}", s.source);
}

#[test]
fn bad_input_errors_name_the_file_line_or_key() {
    let adapter = adapter();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_jsonl(&d.join("ok.jsonl"), &[row(1), row(2)]);
    std::fs::write(
        d.join("bad.jsonl"),
        format!("{}\n{{\"question\": \n{}\n", row(1), row(2)),
    )
    .unwrap();
    std::fs::write(
        d.join("bad.json"),
        "[\n  {\"question\": \"q\", \"answer\": \"#### 1\"},\n  {\"question\" \"q\"}\n]",
    )
    .unwrap();
    std::fs::write(d.join("data.txt"), "x").unwrap();
    std::fs::write(d.join("wrong.jsonl"), "{\"q\": 1}\n{\"q\": 2}\n").unwrap();

    // A bad line is skipped and named; the rest loads.
    let s = splits(d, 42, "path = \"bad.jsonl\"", &adapter);
    assert_eq!(s.train.len() + s.test.len(), 2);
    assert!(
        s.skipped[0].contains("bad.jsonl:2: not valid JSON"),
        "{:?}",
        s.skipped
    );

    for (dataset, expected) in [
        (
            "path = \"missing.jsonl\"",
            vec![
                "key dataset.path",
                "missing.jsonl",
                "no such file or folder",
            ],
        ),
        (
            "path = \"data.txt\"",
            vec!["data.txt", "unknown file extension", "dataset.format"],
        ),
        (
            "path = \"bad.json\"",
            vec!["bad.json", "not valid JSON", "line 3"],
        ),
        (
            "path = \"wrong.jsonl\"",
            vec![
                "wrong.jsonl",
                "no problems",
                "wrong.jsonl:1: missing field \"question\"",
            ],
        ),
        (
            "path = \"ok.jsonl\"\nhf_id = \"openai/gsm8k\"",
            vec!["keys dataset.path and dataset.hf_id: set one, not both"],
        ),
        (
            "adapter_options = 1\npath = \"ok.jsonl\"",
            vec!["adapter_options"],
        ),
        ("", vec!["key dataset.path: required"]),
        (
            "path = \"ok.jsonl\"\nformat = \"xml\"",
            vec!["key dataset.format"],
        ),
        (
            "path = \"ok.jsonl\"\nhf_split = \"test\"",
            vec!["key dataset.hf_split: only used with dataset.hf_id"],
        ),
        (
            "path = \"ok.jsonl\"\ntest_fraction = 1.0",
            vec!["key dataset.test_fraction"],
        ),
        (
            "path = \"ok.jsonl\"\ntest_path = \"ok.jsonl\"\ntest_fraction = 0.2",
            vec!["key dataset.test_fraction: only used without"],
        ),
        ("hf_id = \"a/b/c\"", vec!["key dataset.hf_id"]),
        (
            "hf_id = \"a/b\"\ntest_path = \"t.jsonl\"\ntest_hf_split = \"test\"",
            vec!["keys dataset.test_path and dataset.test_hf_split"],
        ),
        (
            "path = \"ok.jsonl\"\nmax_question_length = 0",
            vec!["key dataset.max_question_length"],
        ),
    ] {
        let message = error(d, dataset, &adapter);
        for part in expected {
            assert!(
                message.contains(part),
                "{dataset:?}: {part:?} missing from: {message}"
            );
        }
    }
}

#[test]
fn the_default_config_loads_its_sample() {
    let adapter = adapter();
    let config = Config::load(&common::repo_root().join("configs/default.toml"), &[]).unwrap();
    let s = load_splits(&config, &adapter).unwrap();
    assert_eq!((s.train.len(), s.test.len()), (7, 3));
    assert!(s.skipped.is_empty(), "{:?}", s.skipped);
    let again = load_splits(&config, &adapter).unwrap();
    assert_eq!(ids(&s.test), ids(&again.test));
}
