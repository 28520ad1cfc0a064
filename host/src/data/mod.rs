//! Dataset sources -> adapter plugin -> problems, split into train and test.
//!
//! The `[dataset]` section names an adapter plugin and one source: a local
//! file or folder (`path`; formats in [`files`]) or a Hugging Face dataset
//! (`hf_id`, read from the hub cache; see [`hf`]). Test problems come from a
//! separate source (`test_path` / `test_hf_split`) or are held out of the one
//! source (`test_fraction`).
//!
//! The same config gives the same splits, always — the test command recomputes
//! them after training:
//! - files are read in name order; each source is shuffled (`shuffle`) with
//!   [`SplitMix64`] seeded from `seed` (Fisher–Yates). Changing that generator
//!   changes every run's split: don't.
//! - held out: the last `ceil(test_fraction * n)` problems of the shuffled
//!   source (at least 1 and at most n - 1 when n >= 2; none when n < 2).
//! - validation (`validation_fraction`): the last `ceil(validation_fraction * m)`
//!   of the m training problems left, before `train_limit`. The test phase
//!   runs on it instead of the test problems with `evaluate_on = "validation"`:
//!   tune on validation, and meet the test problems once.
//!
//! Nothing is dropped silently: every record left out is in `skipped`, as
//! "file:line: why" — adapter errors, problems over `max_question_length` /
//! `max_answer_length` characters, a repeated id within a split (the later one
//! goes), and train problems that are also test problems (same id, or the same
//! question up to case and whitespace): those leave train.
//!
//! Ids: when a run reads more than one file, each id is prefixed with its
//! file's name (the path inside the folder or repository, without extension),
//! e.g. `test-00000-of-00001:gsm8k-7`: adapters number records by line, and
//! line 7 of two files is not one problem.

mod files;
mod hf;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};

use crate::config::Config;
use crate::error::bad_input;
use crate::plugins::DatasetAdapterPlugin;
use crate::plugins::dataset_adapter::{Problem, RawRecord};

pub use files::Format;
pub use hf::default_cache as default_hf_cache;
pub(crate) use hf::{endpoint as hf_endpoint, token as hf_token};

/// Problems of one source, plus the records the adapter refused.
pub struct Loaded {
    pub problems: Vec<Problem>,
    /// "file:line: why" for every record that was skipped.
    pub skipped: Vec<String>,
}

/// The held-out set a test phase runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeldOut {
    Test,
    Validation,
}

/// The problems of a run.
pub struct Splits {
    pub train: Vec<Problem>,
    /// The held-out problems the test phase runs on: the test set, or the
    /// validation set where `dataset.evaluate_on = "validation"`.
    pub test: Vec<Problem>,
    /// Which of the two `test` holds.
    pub held_out: HeldOut,
    /// "file:line: why" for every record left out of both.
    pub skipped: Vec<String>,
    /// One line for logs and the summary: sources, counts, seed.
    pub source: String,
}

/// Records handed to the adapter in one call (keeps each call well inside
/// the plugin's fuel and memory limits).
const ADAPT_BATCH: usize = 1000;

/// A problem and where it came from ("file:line").
struct Item {
    problem: Problem,
    origin: String,
}

/// One file of a source.
struct SourceFile {
    path: PathBuf,
    format: Format,
    /// Prefix of its problems' ids when a run reads several files.
    label: String,
}

/// The files of one source and a short description of it.
struct Source {
    files: Vec<SourceFile>,
    description: String,
}

/// Read one file (or a folder of files) through the adapter; the format comes
/// from each file's extension.
pub fn load_file(
    path: &Path,
    adapter: &DatasetAdapterPlugin,
    options: &[(String, String)],
) -> Result<Loaded> {
    let source = local_source(path, None).map_err(bad_input)?;
    adapter.check_dataset_options(options).map_err(bad_input)?;
    let mut skipped = Vec::new();
    let items = adapt(&source.files, false, adapter, options, &mut skipped)?;
    Ok(Loaded {
        problems: items.into_iter().map(|i| i.problem).collect(),
        skipped,
    })
}

/// The train and test problems of `config.dataset`.
// Long on purpose: the dataset keys in the order a user sets them: source, format, adapter,
// test split, limits, shuffle; each step names its key in errors.
pub fn load_splits(config: &Config, adapter: &DatasetAdapterPlugin) -> Result<Splits> {
    let d = &config.dataset;
    let format = match &d.format {
        Some(name) => Some(
            Format::from_name(name)
                .with_context(|| format!("key dataset.format: {name:?} is not a known format"))
                .map_err(bad_input)?,
        ),
        None => None,
    };
    let hf_cache = || match &d.hf_cache {
        Some(dir) => config.resolve(dir),
        None => hf::default_cache(),
    };
    let mut train_source = match (&d.path, &d.hf_id) {
        (Some(path), None) => local_source(&config.resolve(path), format)
            .context("key dataset.path")
            .map_err(bad_input)?,
        (None, Some(id)) => {
            hf_source(&hf_cache(), id, d.hf_revision(), d.hf_split()).map_err(bad_input)?
        }
        _ => {
            return Err(bad_input(anyhow!(
                "keys dataset.path and dataset.hf_id: set exactly one"
            )));
        }
    };
    let mut test_source = match (&d.test_path, &d.test_hf_split, &d.hf_id) {
        (Some(path), None, _) => Some(
            local_source(&config.resolve(path), format)
                .context("key dataset.test_path")
                .map_err(bad_input)?,
        ),
        (None, Some(split), Some(id)) => {
            Some(hf_source(&hf_cache(), id, d.hf_revision(), split).map_err(bad_input)?)
        }
        (None, None, _) => None,
        _ => {
            return Err(bad_input(anyhow!(
                "key dataset.test_hf_split: only used with dataset.hf_id, and not with dataset.test_path"
            )));
        }
    };
    let mut all: Vec<&mut SourceFile> = train_source.files.iter_mut().collect();
    if let Some(source) = &mut test_source {
        all.extend(source.files.iter_mut());
    }
    let qualify = all.len() > 1;
    unique_labels(&mut all);
    let options = d.adapter_options();
    adapter.check_dataset_options(&options).map_err(bad_input)?;
    let mut skipped = Vec::new();

    let read = |source: &Source, stream: u64, skipped: &mut Vec<String>| -> Result<Vec<Item>> {
        let before = skipped.len();
        let mut items = adapt(&source.files, qualify, adapter, &options, skipped)?;
        items = within_limits(items, d.max_question_length, d.max_answer_length, skipped);
        items = unique_ids(items, skipped);
        if items.is_empty() {
            let first: Vec<&str> = skipped[before..]
                .iter()
                .take(3)
                .map(String::as_str)
                .collect();
            return Err(bad_input(anyhow!(
                "dataset {}: no problems ({} records skipped{}{})",
                source.description,
                skipped.len() - before,
                if first.is_empty() { "" } else { "; first: " },
                first.join("; ")
            )));
        }
        if d.shuffle {
            shuffle(&mut items, config.seed, stream);
        }
        Ok(items)
    };
    let mut train = read(&train_source, 0, &mut skipped)?;
    let (test, mut how) = match &test_source {
        Some(source) => (
            read(source, 1, &mut skipped)?,
            format!("test: {}", source.description),
        ),
        None => {
            let k = held_out(train.len(), d.test_fraction());
            let test = train.split_off(train.len() - k);
            (
                test,
                format!("test: {k} held out (test_fraction {})", d.test_fraction()),
            )
        }
    };
    remove_overlap(&mut train, &test, &mut skipped);
    let validation = match d.validation_fraction {
        Some(f) => {
            let k = held_out(train.len(), f);
            let validation = train.split_off(train.len() - k);
            // A training problem that repeats a validation one leaves train, as for test.
            remove_overlap(&mut train, &validation, &mut skipped);
            how.push_str(&format!(
                "; validation: {k} held out (validation_fraction {f})"
            ));
            Some(validation)
        }
        None => None,
    };
    let (test, held_out) = match validation {
        Some(validation) if d.evaluates_validation() => (validation, HeldOut::Validation),
        _ => (test, HeldOut::Test),
    };
    if let Some(limit) = d.train_limit {
        train.truncate(limit);
    }
    const LOGGED: usize = 20;
    for s in skipped.iter().take(LOGGED) {
        tracing::warn!("skipped record {s}");
    }
    if skipped.len() > LOGGED {
        tracing::warn!("... and {} more skipped records", skipped.len() - LOGGED);
    }
    let info = adapter.info();
    let source = format!(
        "{} train / {} {} problems; train: {}; {how}; adapter {}@{}; seed {}{}; {} skipped",
        train.len(),
        test.len(),
        match held_out {
            HeldOut::Test => "test",
            HeldOut::Validation => "validation",
        },
        train_source.description,
        info.name,
        info.version,
        config.seed,
        if d.shuffle {
            ", shuffled"
        } else {
            ", in file order"
        },
        skipped.len()
    );
    Ok(Splits {
        train: train.into_iter().map(|i| i.problem).collect(),
        test: test.into_iter().map(|i| i.problem).collect(),
        held_out,
        skipped,
        source,
    })
}

fn local_source(path: &Path, format: Option<Format>) -> Result<Source> {
    let listed = files::list(path, format)?;
    let folder = path.is_dir();
    let files: Vec<SourceFile> = listed
        .into_iter()
        .map(|(file, format)| {
            let label = file
                .file_stem()
                .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
            SourceFile {
                path: file,
                format,
                label,
            }
        })
        .collect();
    let description = if folder {
        format!("{} ({} files)", path.display(), files.len())
    } else {
        path.display().to_string()
    };
    Ok(Source { files, description })
}

fn hf_source(cache: &Path, id: &str, revision: &str, split: &str) -> Result<Source> {
    let found = hf::split_files(cache, id, revision, split)?;
    let description = format!(
        "Hugging Face {id}@{revision} split {split} ({} file{})",
        found.len(),
        if found.len() == 1 { "" } else { "s" }
    );
    let files = found
        .into_iter()
        .map(|f| {
            let label = match f.name.rsplit_once('.') {
                Some((stem, _)) => stem.to_string(),
                None => f.name.clone(),
            };
            SourceFile {
                path: f.path,
                format: f.format,
                label,
            }
        })
        .collect();
    Ok(Source { files, description })
}

/// When two files of a run share a label (`train/data.jsonl` and
/// `test/data.jsonl`), every label becomes the file's path below the folder
/// the files share, without extension (`train/data`, `test/data`).
fn unique_labels(files: &mut [&mut SourceFile]) {
    let mut seen = HashSet::new();
    if files.iter().all(|f| seen.insert(f.label.clone())) {
        return;
    }
    let mut common: Option<PathBuf> = None;
    for f in files.iter() {
        let parent = f.path.parent().map(Path::to_path_buf).unwrap_or_default();
        common = Some(match common {
            None => parent,
            Some(c) => {
                let shared: PathBuf = c
                    .components()
                    .zip(parent.components())
                    .take_while(|(a, b)| a == b)
                    .map(|(a, _)| a)
                    .collect();
                shared
            }
        });
    }
    let common = common.unwrap_or_default();
    for f in files.iter_mut() {
        let relative = f
            .path
            .strip_prefix(&common)
            .unwrap_or(&f.path)
            .with_extension("");
        let parts: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        f.label = parts.join("/");
    }
}

/// Every file's records through the adapter; refused records go to `skipped`.
fn adapt(
    files: &[SourceFile],
    qualify: bool,
    adapter: &DatasetAdapterPlugin,
    options: &[(String, String)],
    skipped: &mut Vec<String>,
) -> Result<Vec<Item>> {
    let mut items = Vec::new();
    for file in files {
        let records: Vec<RawRecord> =
            files::read_records(&file.path, file.format).map_err(bad_input)?;
        for batch in records.chunks(ADAPT_BATCH) {
            let results = match adapter.adapt(batch, options) {
                Ok(results) => results,
                Err(e) => one_by_one(adapter, batch, options, e)
                    .with_context(|| format!("adapting dataset {}", file.path.display()))?,
            };
            for (record, result) in batch.iter().zip(results) {
                let origin = format!("{}:{}", file.path.display(), record.line);
                match result {
                    Ok(mut problem) => {
                        if qualify {
                            problem.id = format!("{}:{}", file.label, problem.id);
                        }
                        items.push(Item { problem, origin });
                    }
                    Err(e) => {
                        // Adapters start their messages with "line N: "; the origin says it.
                        let prefix = format!("line {}: ", record.line);
                        let why = e.strip_prefix(&prefix).unwrap_or(&e);
                        skipped.push(format!("{origin}: {why}"));
                    }
                }
            }
        }
    }
    Ok(items)
}

/// After a batch call failed (a trap, a deadline, a wrong count): each
/// record alone, so that the records the plugin fails on are skipped with its
/// error and the others still load. Three failures in a row mean the plugin
/// fails on everything: the batch's error, not thousands of deadlines.
fn one_by_one(
    adapter: &DatasetAdapterPlugin,
    batch: &[RawRecord],
    options: &[(String, String)],
    batch_error: anyhow::Error,
) -> Result<Vec<Result<Problem, String>>> {
    const GIVE_UP_AFTER: usize = 3;
    tracing::warn!(
        "{batch_error:#}; converting its {} records one at a time to skip the ones it fails on",
        batch.len()
    );
    let mut in_a_row = 0;
    let mut out = Vec::with_capacity(batch.len());
    for record in batch {
        match adapter.adapt(std::slice::from_ref(record), options) {
            Ok(mut one) => {
                in_a_row = 0;
                out.push(one.pop().unwrap_or_else(|| Err("no result".into())));
            }
            Err(e) => {
                in_a_row += 1;
                if in_a_row >= GIVE_UP_AFTER {
                    return Err(batch_error.context(format!(
                        "the adapter also failed on {GIVE_UP_AFTER} records in a row on their own \
                         (last: line {}: {e:#})",
                        record.line
                    )));
                }
                out.push(Err(format!("the adapter failed on this record: {e:#}")));
            }
        }
    }
    Ok(out)
}

fn within_limits(
    items: Vec<Item>,
    max_question: Option<usize>,
    max_answer: Option<usize>,
    skipped: &mut Vec<String>,
) -> Vec<Item> {
    items
        .into_iter()
        .filter(|item| {
            for (what, text, limit) in [
                ("question", &item.problem.question, max_question),
                ("answer", &item.problem.answer, max_answer),
            ] {
                let Some(limit) = limit else { continue };
                let n = text.chars().count();
                if n > limit {
                    skipped.push(format!(
                        "{}: {what} is {n} characters, over dataset.max_{what}_length = {limit}",
                        item.origin
                    ));
                    return false;
                }
            }
            true
        })
        .collect()
}

/// The first problem of each id; later ones are reported.
fn unique_ids(items: Vec<Item>, skipped: &mut Vec<String>) -> Vec<Item> {
    let mut first: std::collections::HashMap<String, String> = Default::default();
    items
        .into_iter()
        .filter(|item| match first.get(&item.problem.id) {
            Some(origin) => {
                skipped.push(format!(
                    "{}: id {:?} repeats the problem at {origin}",
                    item.origin, item.problem.id
                ));
                false
            }
            None => {
                first.insert(item.problem.id.clone(), item.origin.clone());
                true
            }
        })
        .collect()
}

/// How many of `n` problems to hold out for test.
fn held_out(n: usize, fraction: f64) -> usize {
    if n < 2 {
        return 0;
    }
    // The small epsilon keeps 0.3 * 10 = 3.0000000000000004 at 3.
    let k = (fraction * n as f64 - 1e-9).ceil().max(0.0) as usize;
    k.clamp(1, n - 1)
}

/// Lower case, single spaces.
fn normalise(question: &str) -> String {
    question
        .split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Train problems that are test problems too leave train.
fn remove_overlap(train: &mut Vec<Item>, test: &[Item], skipped: &mut Vec<String>) {
    let ids: HashSet<&str> = test.iter().map(|i| i.problem.id.as_str()).collect();
    let questions: std::collections::HashMap<String, &str> = test
        .iter()
        .map(|i| (normalise(&i.problem.question), i.origin.as_str()))
        .collect();
    train.retain(|item| {
        let why = if ids.contains(item.problem.id.as_str()) {
            format!("id {:?} is a test problem's id too", item.problem.id)
        } else if let Some(origin) = questions.get(&normalise(&item.problem.question)) {
            format!("same question as the test problem at {origin}")
        } else {
            return true;
        };
        skipped.push(format!("{}: {why}; left out of train", item.origin));
        false
    });
}

/// The shared generator; it decides the dataset order, so it must never change.
pub use crate::rng::SplitMix64;

/// Fisher–Yates with [`SplitMix64`]; `stream` tells the sources of one seed apart.
fn shuffle<T>(items: &mut [T], seed: u64, stream: u64) {
    let mut rng = SplitMix64::new(seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03));
    for i in (1..items.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        items.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_is_the_published_sequence() {
        // Reference values of SplitMix64 seeded with 1234567.
        let mut rng = SplitMix64::new(1234567);
        let got: Vec<u64> = (0..3).map(|_| rng.next_u64()).collect();
        assert_eq!(
            got,
            vec![
                6457827717110365317,
                3203168211198807973,
                9817491932198370423
            ]
        );
    }

    #[test]
    fn shuffle_is_fixed_by_seed_and_stream() {
        let order = |seed, stream| {
            let mut v: Vec<u32> = (0..20).collect();
            shuffle(&mut v, seed, stream);
            v
        };
        assert_eq!(order(42, 0), order(42, 0));
        assert_ne!(order(42, 0), order(43, 0));
        assert_ne!(order(42, 0), order(42, 1));
        let mut sorted = order(42, 0);
        sorted.sort();
        assert_eq!(sorted, (0..20).collect::<Vec<_>>());
    }

    #[test]
    fn held_out_counts() {
        assert_eq!(held_out(0, 0.3), 0);
        assert_eq!(held_out(1, 0.3), 0);
        assert_eq!(held_out(2, 0.01), 1);
        assert_eq!(held_out(10, 0.3), 3);
        assert_eq!(held_out(11, 0.3), 4);
        assert_eq!(held_out(10, 0.99), 9);
    }

    #[test]
    fn questions_match_up_to_case_and_spaces() {
        assert_eq!(
            normalise("  How  many\napples?\t"),
            normalise("how many APPLES?")
        );
    }
}
