//! Dataset files to raw records (one JSON object text each) for the adapter.
//!
//! - JSONL: one record a line; blank lines are ignored; `line` is the line.
//! - JSON: an array of records, an object holding one under "data", "rows" or
//!   "examples", or JSON lines; `line` is the record's 1-based index in the
//!   array (the line for JSON lines). Any other object is one record.
//! - CSV: a header row, then one record a row, keyed by the header's names;
//!   `line` is the row's line in the file (the header is line 1). A cell that is
//!   a JSON number (`12`, `-3.5`, `1e3`; not `007`, `1,000` or `+5`) becomes a
//!   number, every other cell a string (empty cells too).
//! - Parquet: one record a row, columns by name (nested groups, lists and maps
//!   as JSON, binary as base64); `line` is the 1-based row. Pages may be
//!   uncompressed, snappy or gzip (the codecs of pyarrow and `datasets`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::plugins::dataset_adapter::RawRecord;

/// A dataset file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Format {
    Jsonl,
    Json,
    Csv,
    Parquet,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::Jsonl, Format::Json, Format::Csv, Format::Parquet];

    /// The config name, also the file extension.
    pub fn name(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Parquet => "parquet",
        }
    }

    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == name)
    }

    /// By extension, case-insensitively.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Format::from_name(&ext)
    }
}

/// The records of one file.
pub fn read_records(path: &Path, format: Format) -> Result<Vec<RawRecord>> {
    match format {
        Format::Jsonl => Ok(json_lines(&read_text(path)?)),
        Format::Json => json(&read_text(path)?, path),
        Format::Csv => csv(path),
        Format::Parquet => parquet(path),
    }
}

/// The files of a source: a file is itself; a folder gives every file in it
/// (not in sub-folders) of `format`, or of any known format, in name order.
pub fn list(path: &Path, format: Option<Format>) -> Result<Vec<(PathBuf, Format)>> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("dataset {}: no such file or folder", path.display())
        }
        Err(e) => return Err(e).with_context(|| format!("dataset {}", path.display())),
    };
    if !meta.is_dir() {
        let format = match format.or_else(|| Format::from_path(path)) {
            Some(f) => f,
            None => bail!(
                "dataset {}: unknown file extension (known: .jsonl, .json, .csv, .parquet); \
                 set dataset.format to read it anyway",
                path.display()
            ),
        };
        return Ok(vec![(path.to_path_buf(), format)]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).with_context(|| format!("listing {}", path.display()))? {
        let file = entry
            .with_context(|| format!("listing {}", path.display()))?
            .path();
        let hidden = file
            .file_name()
            .and_then(|n| n.to_str())
            .is_none_or(|n| n.starts_with('.'));
        if hidden || !file.is_file() {
            continue;
        }
        if let Some(f) = Format::from_path(&file)
            && format.is_none_or(|want| want == f)
        {
            files.push((file, f));
        }
    }
    files.sort();
    if files.is_empty() {
        let what = match format {
            Some(f) => format!(".{}", f.name()),
            None => ".jsonl, .json, .csv or .parquet".into(),
        };
        bail!("dataset folder {} has no {what} files", path.display());
    }
    Ok(files)
}

fn read_text(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading dataset {}", path.display()))?;
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    })
}

/// Every non-blank line; the adapter reports a line that is not JSON.
fn json_lines(text: &str) -> Vec<RawRecord> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| RawRecord {
            line: i as u32 + 1,
            json: l.trim().to_string(),
        })
        .collect()
}

fn numbered(values: Vec<Value>) -> Vec<RawRecord> {
    values
        .into_iter()
        .enumerate()
        .map(|(i, v)| RawRecord {
            line: i as u32 + 1,
            json: v.to_string(),
        })
        .collect()
}

fn json(text: &str, path: &Path) -> Result<Vec<RawRecord>> {
    let whole: Result<Value, _> = serde_json::from_str(text);
    match whole {
        Ok(Value::Array(items)) => Ok(numbered(items)),
        Ok(Value::Object(mut object)) => {
            for key in ["data", "rows", "examples"] {
                if let Some(Value::Array(_)) = object.get(key)
                    && let Some(Value::Array(items)) = object.remove(key)
                {
                    return Ok(numbered(items));
                }
            }
            Ok(numbered(vec![Value::Object(object)]))
        }
        Ok(other) => bail!(
            "dataset {}: a JSON file holds an array of records, an object with a \"data\", \
             \"rows\" or \"examples\" array, or JSON lines; this one holds {}",
            path.display(),
            match other {
                Value::Null => "null",
                Value::Bool(_) => "a boolean",
                Value::Number(_) => "a number",
                _ => "a string",
            }
        ),
        Err(whole_error) => {
            // JSON lines when the first record is one whole line of JSON.
            let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            if whole_error.is_syntax() && serde_json::from_str::<Value>(first).is_ok() {
                Ok(json_lines(text))
            } else {
                bail!("dataset {}: not valid JSON: {whole_error}", path.display())
            }
        }
    }
}

/// A CSV cell as JSON: a number when it is one in JSON's own syntax (and an
/// integer fits 64 bits), else the text.
fn csv_cell(cell: &str) -> Value {
    if cell.trim() != cell {
        return Value::String(cell.to_string());
    }
    if let Ok(n) = serde_json::from_str::<serde_json::Number>(cell) {
        let integer = !cell.contains(['.', 'e', 'E']);
        if !integer || n.is_i64() || n.is_u64() {
            return Value::Number(n);
        }
    }
    Value::String(cell.to_string())
}

fn csv(path: &Path) -> Result<Vec<RawRecord>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("reading dataset {}", path.display()))?;
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(file);
    let headers = reader
        .headers()
        .with_context(|| format!("dataset {}: reading the CSV header row", path.display()))?
        .clone();
    if headers.is_empty() {
        bail!("dataset {}: empty CSV file (no header row)", path.display());
    }
    let mut out = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let row = row.with_context(|| format!("dataset {}: CSV", path.display()))?;
        let line = row.position().map_or(i as u64 + 2, |p| p.line());
        let object: serde_json::Map<String, Value> = headers
            .iter()
            .zip(row.iter())
            .map(|(name, cell)| (name.to_string(), csv_cell(cell)))
            .collect();
        out.push(RawRecord {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            json: Value::Object(object).to_string(),
        });
    }
    Ok(out)
}

fn parquet(path: &Path) -> Result<Vec<RawRecord>> {
    use ::parquet::file::reader::{FileReader, SerializedFileReader};
    let context = || format!("dataset {}: Parquet", path.display());
    let file =
        std::fs::File::open(path).with_context(|| format!("reading dataset {}", path.display()))?;
    let reader = SerializedFileReader::new(file).with_context(context)?;
    let mut out = Vec::new();
    for (i, row) in reader.get_row_iter(None).with_context(context)?.enumerate() {
        let row =
            row.with_context(|| format!("dataset {}: Parquet row {}", path.display(), i + 1))?;
        out.push(RawRecord {
            line: u32::try_from(i + 1).unwrap_or(u32::MAX),
            json: row.to_json_value().to_string(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_become_numbers_only_in_json_syntax() {
        assert_eq!(csv_cell("12"), Value::from(12));
        assert_eq!(csv_cell("-3.5"), Value::from(-3.5));
        assert!(csv_cell("1e3").is_number());
        for text in [
            "007",
            "1,000",
            "+5",
            " 3",
            "",
            "12 apples",
            "99999999999999999999999",
        ] {
            assert_eq!(csv_cell(text), Value::from(text), "{text:?}");
        }
    }

    #[test]
    fn json_shapes() {
        let p = Path::new("x.json");
        let lines = |t: &str| {
            json(t, p)
                .unwrap()
                .iter()
                .map(|r| (r.line, r.json.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            lines(r#"[{"a":1},{"a":2}]"#),
            vec![(1, r#"{"a":1}"#.into()), (2, r#"{"a":2}"#.into())]
        );
        assert_eq!(
            lines(r#"{"rows": [{"a":1}], "n": 1}"#),
            vec![(1, r#"{"a":1}"#.into())]
        );
        assert_eq!(
            lines("{\"a\":1}\n\n{\"a\":2}\n"),
            vec![(1, r#"{"a":1}"#.into()), (3, r#"{"a":2}"#.into())]
        );
        assert_eq!(lines(r#"{"a":1}"#).len(), 1);
        let err = format!("{:#}", json("[\n{\"a\":1},\n{\"a\" 2}\n]", p).unwrap_err());
        assert!(err.contains("x.json") && err.contains("line 3"), "{err}");
        assert!(json("42", p).is_err());
    }
}
