//! Record / replay: a content-addressed cache of chat requests -> completions
//! in an append-only JSONL file, so that a run can be repeated exactly and
//! offline, and tests are deterministic.
//!
//! The key is the sha256 of a canonical JSON of the request: a format
//! version, the model, the messages and every sampling parameter, in a fixed
//! field order. Each line of the file is one record,
//! `{"key": ..., "request": {...}, "completion": {...}}`, written whole and
//! flushed to the OS under a mutex, so concurrent requests never interleave
//! and a crash loses at most the line being written. On load, a torn last
//! line is skipped with a warning (and cut off before anything is appended);
//! any other bad line is an error naming the file and line.
//!
//! Modes: `off` passes requests through; `record` answers from the file when
//! it can and otherwise asks the inner client and appends the answer (so a
//! resumed run does not pay twice); `replay` answers only from the file, and
//! a missing entry is an error naming its key.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{BoxFuture, ChatRequest, Completion, LlmClient, Message};

/// Bumped when the key material changes meaning.
const KEY_VERSION: u32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheMode {
    Off,
    Record,
    Replay,
}

impl FromStr for CacheMode {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "off" => Ok(CacheMode::Off),
            "record" => Ok(CacheMode::Record),
            "replay" => Ok(CacheMode::Replay),
            other => bail!("cache mode {other:?} is not one of \"off\", \"record\", \"replay\""),
        }
    }
}

/// What the key is the hash of, in this field order.
#[derive(Serialize)]
struct KeyMaterial<'a> {
    v: u32,
    model: &'a str,
    messages: &'a [Message],
    temperature: f32,
    top_p: f32,
    repetition_penalty: f32,
    max_tokens: u32,
    stop: &'a [String],
    seed: Option<u32>,
}

impl<'a> KeyMaterial<'a> {
    fn new(model: &'a str, request: &'a ChatRequest) -> Self {
        KeyMaterial {
            v: KEY_VERSION,
            model,
            messages: &request.messages,
            temperature: request.temperature,
            top_p: request.top_p,
            repetition_penalty: request.repetition_penalty,
            max_tokens: request.max_tokens,
            stop: &request.stop,
            seed: request.seed,
        }
    }

    fn canonical(&self) -> String {
        serde_json::to_string(self).expect("a request always serialises")
    }
}

/// The cache key of `request` sent to `model`: 64 hex digits.
pub fn cache_key(model: &str, request: &ChatRequest) -> String {
    hex::encode(Sha256::digest(
        KeyMaterial::new(model, request).canonical().as_bytes(),
    ))
}

#[derive(Serialize)]
struct RecordOut<'a> {
    key: &'a str,
    request: &'a KeyMaterial<'a>,
    completion: &'a Completion,
}

#[derive(Deserialize)]
struct RecordIn {
    key: String,
    completion: Completion,
}

struct Store {
    entries: HashMap<String, Completion>,
    /// Open for appending in record mode.
    file: Option<File>,
}

/// A client that records its inner client's answers, or replays them.
pub struct CachedClient<C: LlmClient> {
    inner: C,
    mode: CacheMode,
    path: PathBuf,
    store: Mutex<Store>,
}

impl<C: LlmClient> CachedClient<C> {
    /// Wrap `inner`. `record` creates `path` (and its folder) when missing;
    /// `replay` needs it to exist; `off` does not touch it.
    pub fn new(inner: C, mode: CacheMode, path: &Path) -> Result<Self> {
        let mut store = Store {
            entries: HashMap::new(),
            file: None,
        };
        match mode {
            CacheMode::Off => {}
            CacheMode::Replay => {
                if !path.is_file() {
                    bail!(
                        "replay: the recording {} does not exist (record one with llm.cache.mode = \"record\")",
                        path.display()
                    );
                }
                store.entries = load(path, false)?;
            }
            CacheMode::Record => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("creating {}", dir.display()))?;
                }
                store.entries = if path.exists() {
                    load(path, true)?
                } else {
                    HashMap::new()
                };
                let file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("opening {} to record into", path.display()))?;
                store.file = Some(file);
            }
        }
        Ok(CachedClient {
            inner,
            mode,
            path: path.to_path_buf(),
            store: Mutex::new(store),
        })
    }

    pub fn mode(&self) -> CacheMode {
        self.mode
    }

    pub fn inner(&self) -> &C {
        &self.inner
    }

    /// Records loaded or written so far.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Store> {
        // A panic elsewhere while holding the lock leaves the map whole.
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn chat_cached(&self, request: &ChatRequest) -> Result<Completion> {
        if self.mode == CacheMode::Off {
            return self.inner.chat(request).await;
        }
        let model = self.inner.model();
        let key = cache_key(model, request);
        if let Some(hit) = self.lock().entries.get(&key) {
            tracing::trace!(key = %key, "LLM cache hit");
            return Ok(hit.clone());
        }
        if self.mode == CacheMode::Replay {
            bail!(
                "replay: no recorded response for request key {key} (model {model:?}) in {}",
                self.path.display()
            );
        }
        let completion = self.inner.chat(request).await?;
        self.record(&key, request, completion)
    }

    /// Hits come from the recording; the misses go to the inner client as
    /// one `chat_many` (so the embedded engine still decodes them as a batch).
    async fn chat_many_cached(&self, requests: &[ChatRequest]) -> Vec<Result<Completion>> {
        if self.mode == CacheMode::Off {
            return self.inner.chat_many(requests).await;
        }
        let model = self.inner.model();
        let keys: Vec<String> = requests.iter().map(|r| cache_key(model, r)).collect();
        let mut out: Vec<Option<Result<Completion>>> = {
            let store = self.lock();
            keys.iter()
                .map(|k| store.entries.get(k).cloned().map(Ok))
                .collect()
        };
        let missing: Vec<usize> = (0..requests.len()).filter(|&i| out[i].is_none()).collect();
        if self.mode == CacheMode::Replay {
            for i in missing {
                out[i] = Some(Err(anyhow!(
                    "replay: no recorded response for request key {} (model {model:?}) in {}",
                    keys[i],
                    self.path.display()
                )));
            }
        } else if !missing.is_empty() {
            let batch: Vec<ChatRequest> = missing.iter().map(|&i| requests[i].clone()).collect();
            let answers = self.inner.chat_many(&batch).await;
            for (&i, answer) in missing.iter().zip(answers) {
                out[i] = Some(answer.and_then(|c| self.record(&keys[i], &requests[i], c)));
            }
        }
        out.into_iter()
            .map(|o| o.unwrap_or_else(|| Err(anyhow!("internal: no answer for a request"))))
            .collect()
    }

    /// Append one answer to the recording (record mode) and remember it.
    fn record(
        &self,
        key: &str,
        request: &ChatRequest,
        completion: Completion,
    ) -> Result<Completion> {
        let model = self.inner.model();
        let material = KeyMaterial::new(model, request);
        let mut line = serde_json::to_string(&RecordOut {
            key,
            request: &material,
            completion: &completion,
        })
        .context("encoding a cache record")?;
        line.push('\n');
        let mut store = self.lock();
        // Two identical requests in flight at once: the first recorded answer
        // is the one both get, so that a replay gives the same.
        if let Some(first) = store.entries.get(key) {
            return Ok(first.clone());
        }
        let file = store
            .file
            .as_mut()
            .ok_or_else(|| anyhow!("the cache file is not open"))?;
        file.write_all(line.as_bytes())
            .and_then(|()| file.flush())
            .with_context(|| format!("appending to {}", self.path.display()))?;
        store.entries.insert(key.to_string(), completion.clone());
        Ok(completion)
    }
}

impl<C: LlmClient> LlmClient for CachedClient<C> {
    fn model(&self) -> &str {
        self.inner.model()
    }

    fn dialect(&self) -> Option<super::dialect::Resolved> {
        self.inner.dialect()
    }

    fn probe(&self) -> BoxFuture<'_, ()> {
        self.inner.probe()
    }

    fn chat<'a>(&'a self, request: &'a ChatRequest) -> BoxFuture<'a, Result<Completion>> {
        Box::pin(self.chat_cached(request))
    }

    fn chat_many<'a>(
        &'a self,
        requests: &'a [ChatRequest],
    ) -> BoxFuture<'a, Vec<Result<Completion>>> {
        Box::pin(self.chat_many_cached(requests))
    }
}

/// Read a recording. A torn last line (a crash mid-write) is skipped with a
/// warning; with `repair` it is also cut off so that appends start on a line
/// of their own. The first record of a key wins.
fn load(path: &Path, repair: bool) -> Result<HashMap<String, Completion>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut entries = HashMap::new();
    let mut offset = 0usize;
    let mut number = 0usize;
    while offset < bytes.len() {
        number += 1;
        let end = bytes[offset..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|i| offset + i);
        let line = &bytes[offset..end.unwrap_or(bytes.len())];
        let is_last = end.is_none_or(|e| e + 1 >= bytes.len());
        let parsed = std::str::from_utf8(line)
            .map_err(anyhow::Error::from)
            .and_then(|text| {
                if text.trim().is_empty() {
                    Ok(None)
                } else {
                    Ok(Some(serde_json::from_str::<RecordIn>(text)?))
                }
            });
        match parsed {
            Ok(Some(record)) => {
                entries.entry(record.key).or_insert(record.completion);
            }
            Ok(None) => {}
            Err(e) if is_last => {
                tracing::warn!(
                    "{} line {number}: skipping a torn last record ({e}); a run probably stopped while writing it",
                    path.display()
                );
                if repair {
                    let file = OpenOptions::new()
                        .write(true)
                        .open(path)
                        .with_context(|| format!("opening {} to repair", path.display()))?;
                    file.set_len(offset as u64)
                        .with_context(|| format!("cutting the torn line off {}", path.display()))?;
                }
                break;
            }
            Err(e) => bail!("{} line {number}: not a cache record: {e}", path.display()),
        }
        offset = end.map_or(bytes.len(), |e| e + 1);
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    use super::*;

    /// Answers with a counter, so that a second real call would show.
    struct Counter {
        calls: AtomicU32,
    }

    impl LlmClient for Counter {
        fn model(&self) -> &str {
            "counter-model"
        }
        fn chat<'a>(&'a self, request: &'a ChatRequest) -> BoxFuture<'a, Result<Completion>> {
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(1)).await;
                let n = self.calls.fetch_add(1, Ordering::SeqCst);
                Ok(Completion {
                    text: format!("{} #{n}", request.messages[0].content),
                    prompt_tokens: 3,
                    completion_tokens: n,
                    usage_estimated: false,
                    latency: Duration::from_nanos(1_234_567 + n as u64),
                })
            })
        }
    }

    fn counter() -> Counter {
        Counter {
            calls: AtomicU32::new(0),
        }
    }

    fn request(text: &str, temperature: f32) -> ChatRequest {
        ChatRequest {
            messages: vec![Message::new("user", text)],
            temperature,
            repetition_penalty: 1.1,
            top_p: 0.9,
            max_tokens: 16,
            stop: vec![],
            seed: Some(1),
        }
    }

    #[test]
    fn keys_cover_model_and_every_parameter() {
        let base = request("q", 0.5);
        let k = cache_key("m", &base);
        assert_eq!(k.len(), 64);
        assert_eq!(k, cache_key("m", &base.clone()));
        assert_ne!(k, cache_key("other", &base));
        let variants = [
            ChatRequest {
                temperature: 0.6,
                ..base.clone()
            },
            ChatRequest {
                top_p: 0.8,
                ..base.clone()
            },
            ChatRequest {
                repetition_penalty: 1.0,
                ..base.clone()
            },
            ChatRequest {
                max_tokens: 17,
                ..base.clone()
            },
            ChatRequest {
                seed: Some(2),
                ..base.clone()
            },
            ChatRequest {
                stop: vec!["x".into()],
                ..base.clone()
            },
            request("q2", 0.5),
        ];
        for v in &variants {
            assert_ne!(k, cache_key("m", v), "{v:?}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn record_then_replay_concurrently_and_survive_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/rec.jsonl");
        let recorder = Arc::new(CachedClient::new(counter(), CacheMode::Record, &path).unwrap());
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..32 {
            let c = Arc::clone(&recorder);
            tasks.spawn(async move {
                let r = request(&format!("q{i}"), 0.5);
                (i, c.chat(&r).await.unwrap())
            });
        }
        let mut recorded = HashMap::new();
        while let Some(done) = tasks.join_next().await {
            let (i, c) = done.unwrap();
            recorded.insert(i, c);
        }
        // A second call is answered from the recording.
        let again = recorder.chat(&request("q3", 0.5)).await.unwrap();
        assert_eq!(again, recorded[&3]);
        assert_eq!(recorder.inner().calls.load(Ordering::SeqCst), 32);
        drop(recorder);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 32);

        let replayer = CachedClient::new(counter(), CacheMode::Replay, &path).unwrap();
        for (i, c) in &recorded {
            assert_eq!(
                &replayer
                    .chat(&request(&format!("q{i}"), 0.5))
                    .await
                    .unwrap(),
                c
            );
        }
        assert_eq!(replayer.inner().calls.load(Ordering::SeqCst), 0);
        let missing = request("never asked", 0.5);
        let err = format!("{:#}", replayer.chat(&missing).await.unwrap_err());
        assert!(err.contains(&cache_key("counter-model", &missing)), "{err}");
        assert!(err.contains("rec.jsonl"), "{err}");

        // A crash mid-write leaves a torn last line: skipped, then cut off
        // before the next record is appended.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"key\":\"abc\",\"request\":{\"v\":1,\"mo")
            .unwrap();
        drop(file);
        assert_eq!(load(&path, false).unwrap().len(), 32);
        let recorder = CachedClient::new(counter(), CacheMode::Record, &path).unwrap();
        assert_eq!(recorder.len(), 32);
        recorder.chat(&request("new", 0.5)).await.unwrap();
        drop(recorder);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 33);
        assert!(text.ends_with('\n'));
        assert_eq!(load(&path, false).unwrap().len(), 33);

        // A bad line in the middle is an error that names the line.
        let mut lines: Vec<&str> = text.lines().collect();
        lines[4] = "not json";
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        let err = format!(
            "{:#}",
            CachedClient::new(counter(), CacheMode::Replay, &path)
                .err()
                .unwrap()
        );
        assert!(err.contains("line 5"), "{err}");
    }

    #[tokio::test]
    async fn off_passes_through_and_replay_needs_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("none.jsonl");
        let off = CachedClient::new(counter(), CacheMode::Off, &path).unwrap();
        off.chat(&request("a", 0.1)).await.unwrap();
        off.chat(&request("a", 0.1)).await.unwrap();
        assert_eq!(off.inner().calls.load(Ordering::SeqCst), 2);
        assert!(!path.exists());
        let err = CachedClient::new(counter(), CacheMode::Replay, &path)
            .err()
            .unwrap();
        assert!(format!("{err:#}").contains("does not exist"));
        assert_eq!("record".parse::<CacheMode>().unwrap(), CacheMode::Record);
        assert!("sometimes".parse::<CacheMode>().is_err());
    }
}
