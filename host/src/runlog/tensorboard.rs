//! LOG_DIR/tensorboard/: the run's curves as TensorBoard event files
//! (`--tensorboard`; `tensorboard --logdir runs/` shows every run).
//!
//! An event file is a TFRecord stream of `Event` protobufs: the first says
//! which format (`brain.Event:2`), each later one holds scalars at a step.
//! Only the messages and fields a scalar needs are declared here (tags as in
//! tensorflow/core/util/event.proto and framework/summary.proto).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use prost::Message;

#[derive(Clone, PartialEq, prost::Message)]
pub struct Event {
    #[prost(double, tag = "1")]
    pub wall_time: f64,
    #[prost(int64, tag = "2")]
    pub step: i64,
    #[prost(oneof = "What", tags = "3, 5")]
    pub what: Option<What>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub enum What {
    #[prost(string, tag = "3")]
    FileVersion(String),
    #[prost(message, tag = "5")]
    Summary(Summary),
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Summary {
    #[prost(message, repeated, tag = "1")]
    pub value: Vec<SummaryValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SummaryValue {
    #[prost(string, tag = "1")]
    pub tag: String,
    /// In the proto a member of a oneof: present even when 0.
    #[prost(float, optional, tag = "2")]
    pub simple_value: Option<f32>,
}

/// One event file, appended to as the run goes.
pub struct EventWriter {
    out: BufWriter<File>,
    path: PathBuf,
}

impl EventWriter {
    /// A new file in `dir` (a resumed run adds a file; TensorBoard reads
    /// every file of the folder as one run).
    pub fn create(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating TensorBoard folder {}", dir.display()))?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        // The name TensorBoard looks for; the pid keeps two files of one
        // second apart.
        let name = format!(
            "events.out.tfevents.{}.econ-host.{}",
            now.as_secs(),
            std::process::id()
        );
        let path = dir.join(name);
        let file = crate::atomic::create(&path)?;
        let mut writer = EventWriter {
            out: BufWriter::new(file),
            path,
        };
        writer.write(0, What::FileVersion("brain.Event:2".into()))?;
        Ok(writer)
    }

    /// `scalars` (tag, value) at `step`, flushed so a live TensorBoard sees
    /// them; non-finite values are left out.
    pub fn scalars<T: Into<String>>(
        &mut self,
        step: u64,
        scalars: impl IntoIterator<Item = (T, f64)>,
    ) -> Result<()> {
        let value: Vec<SummaryValue> = scalars
            .into_iter()
            .filter(|(_, v)| v.is_finite())
            .map(|(tag, v)| SummaryValue {
                tag: tag.into(),
                simple_value: Some(v as f32),
            })
            .collect();
        if value.is_empty() {
            return Ok(());
        }
        self.write(step, What::Summary(Summary { value }))
    }

    fn write(&mut self, step: u64, what: What) -> Result<()> {
        let wall_time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let event = Event {
            wall_time,
            step: step as i64,
            what: Some(what),
        };
        let record = tf_record(&event.encode_to_vec());
        self.out
            .write_all(&record)
            .and_then(|()| self.out.flush())
            .with_context(|| format!("writing {}", self.path.display()))
    }
}

/// TFRecord framing: length, its masked CRC-32C, the data, its masked CRC-32C.
pub fn tf_record(data: &[u8]) -> Vec<u8> {
    let len = (data.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(data.len() + 16);
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc(&len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc(data).to_le_bytes());
    out
}

fn masked_crc(bytes: &[u8]) -> u32 {
    let crc = crc32c::crc32c(bytes);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// The events of one file, each record's checksums verified (for tests and
/// for whoever wants to read the curves back without TensorBoard).
pub fn read_events(path: &Path) -> Result<Vec<Event>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut events = Vec::new();
    let mut rest = bytes.as_slice();
    while !rest.is_empty() {
        let bad = || anyhow::anyhow!("{}: a torn or corrupt record", path.display());
        let header = rest.get(..12).ok_or_else(bad)?;
        let len = u64::from_le_bytes(header[..8].try_into()?) as usize;
        anyhow::ensure!(
            masked_crc(&header[..8]).to_le_bytes() == header[8..12],
            bad()
        );
        let data = rest.get(12..12 + len).ok_or_else(bad)?;
        let crc = rest.get(12 + len..16 + len).ok_or_else(bad)?;
        anyhow::ensure!(masked_crc(data).to_le_bytes() == crc, bad());
        events.push(Event::decode(data)?);
        rest = &rest[16 + len..];
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    // The mask spelled as TensorFlow's record writer spells it.
    #[allow(clippy::manual_rotate)]
    fn the_masked_crc_matches_tensorflow() {
        // CRC-32C of "123456789" is 0xE3069283 (RFC 3720); TFRecord masks it.
        let crc: u32 = 0xE306_9283;
        assert_eq!(crc32c::crc32c(b"123456789"), crc);
        assert_eq!(
            masked_crc(b"123456789"),
            ((crc >> 15) | (crc << 17)).wrapping_add(0xa282_ead8)
        );
    }

    #[test]
    fn scalars_read_back_with_their_steps_and_zeros_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = EventWriter::create(dir.path()).unwrap();
        w.scalars(3, [("train/reward", 0.0), ("train/accuracy", 0.5)])
            .unwrap();
        w.scalars(4, [("learner/loss_total", f64::NAN)]).unwrap();
        w.scalars(5, [("learner/loss_total", 1.25)]).unwrap();
        let file = std::fs::read_dir(dir.path())
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        assert!(
            file.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("events.out.tfevents.")
        );
        let events = read_events(&file).unwrap();
        assert_eq!(events.len(), 3, "{events:?}");
        assert_eq!(
            events[0].what,
            Some(What::FileVersion("brain.Event:2".into()))
        );
        let Some(What::Summary(s)) = &events[1].what else {
            panic!("{events:?}")
        };
        assert_eq!(events[1].step, 3);
        assert_eq!(s.value[0].tag, "train/reward");
        assert_eq!(s.value[0].simple_value, Some(0.0));
        assert_eq!(s.value[1].simple_value, Some(0.5));
        assert_eq!(events[2].step, 5);

        // A torn last record is reported, not decoded as garbage.
        let mut bytes = std::fs::read(&file).unwrap();
        bytes.truncate(bytes.len() - 3);
        std::fs::write(&file, bytes).unwrap();
        assert!(read_events(&file).is_err());
    }
}
