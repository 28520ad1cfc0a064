//! summary.json: each command adds its part (train, each test mode, the
//! data, the plugins) to what earlier commands wrote.

use std::path::Path;

use anyhow::Result;

use crate::atomic::write_atomic;

/// Write `value`'s keys into `path` (a JSON object), keeping keys already
/// there that `value` does not set and merging the "modes" maps, so that
/// `test --mode baseline` then `test --mode bne` build one summary. Atomic.
pub fn merge_into(path: &Path, value: serde_json::Value) -> Result<serde_json::Value> {
    let mut merged = match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .filter(serde_json::Value::is_object)
            .unwrap_or_else(|| serde_json::json!({})),
        Err(_) => serde_json::json!({}),
    };
    let (serde_json::Value::Object(target), serde_json::Value::Object(new)) = (&mut merged, value)
    else {
        anyhow::bail!("summary values must be JSON objects");
    };
    for (key, v) in new {
        match (key.as_str(), target.get_mut(&key), v) {
            ("modes", Some(serde_json::Value::Object(old)), serde_json::Value::Object(modes)) => {
                old.extend(modes);
            }
            (_, _, v) => {
                target.insert(key, v);
            }
        }
    }
    write_atomic(path, serde_json::to_string_pretty(&merged)?.as_bytes())?;
    Ok(merged)
}
