//! LOG_DIR/metrics.jsonl: one line per learner update with every loss term,
//! the alpha weights and the rewards, each under its own name.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::learn::Metrics;

pub struct MetricsLog {
    out: BufWriter<File>,
    path: PathBuf,
}

impl MetricsLog {
    /// Append to `dir/metrics.jsonl` (a resumed run continues the file).
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating log folder {}", dir.display()))?;
        let path = dir.join(super::METRICS_FILE);
        let file = crate::atomic::append(&path, true)?;
        Ok(MetricsLog {
            out: BufWriter::new(file),
            path,
        })
    }

    /// One line: `{"episode": e, "update": u, "<term>": value, ...}`, flushed
    /// at once so a crash loses nothing already learned.
    pub fn append(&mut self, episode: u64, update: u64, metrics: &Metrics) -> Result<()> {
        let mut line = serde_json::Map::new();
        line.insert("episode".into(), episode.into());
        line.insert("update".into(), update.into());
        for (name, value) in metrics {
            // JSON has no NaN: a non-finite term is written as null, by name.
            let v =
                serde_json::Number::from_f64(*value).map_or(serde_json::Value::Null, Into::into);
            line.insert(name.clone(), v);
        }
        serde_json::to_writer(&mut self.out, &line)?;
        self.out.write_all(b"\n")?;
        self.out
            .flush()
            .with_context(|| format!("writing {}", self.path.display()))
    }
}
