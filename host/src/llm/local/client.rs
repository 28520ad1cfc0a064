//! The embedded model as an [`LlmClient`]: callers queue their requests and
//! one thread per model decodes whatever waits as the next batch.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, anyhow};

use super::LocalModel;
use crate::llm::{BoxFuture, ChatRequest, Completion, LlmClient};

/// [`LlmClient`] over a shared [`LocalModel`]. Decoding runs on one blocking
/// thread per model (one decode already uses every llama.cpp thread), and
/// the requests of every caller waiting meanwhile (the episodes in flight,
/// coordinator and executors alike) are decoded together as the next batch:
/// `runner.concurrency` episodes share one decode loop.
pub struct LocalClient {
    model: Arc<LocalModel>,
    name: String,
}

impl LocalClient {
    pub fn new(model: Arc<LocalModel>) -> Self {
        // The file name, not the path: a recording replays on another machine.
        let name = model
            .path()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| model.path().display().to_string());
        LocalClient { model, name }
    }

    /// Queue `requests` for the model's next batch and wait for their
    /// completions. Dropping the future (a cancelled episode) withdraws them;
    /// a batch stops between two decoding steps once all its callers are gone.
    async fn decode(&self, requests: Vec<ChatRequest>) -> Result<Vec<Completion>> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let _on_drop = CancelOnDrop(Arc::clone(&cancel));
        let start_worker = {
            let mut queue = self.model.queue.lock().unwrap_or_else(|e| e.into_inner());
            queue.waiting.push(Waiting {
                requests,
                reply,
                cancel,
            });
            !std::mem::replace(&mut queue.decoding, true)
        };
        if start_worker {
            let model = Arc::clone(&self.model);
            tokio::task::spawn_blocking(move || decode_queued(&model));
        }
        answer
            .await
            .context("the embedded model's decoding thread failed")?
    }
}

/// Callers waiting for the model's next batch.
#[derive(Default)]
pub(crate) struct Queue {
    waiting: Vec<Waiting>,
    /// A thread is decoding (and will take what waits when it is done).
    decoding: bool,
}

struct Waiting {
    requests: Vec<ChatRequest>,
    reply: tokio::sync::oneshot::Sender<Result<Vec<Completion>>>,
    cancel: Arc<AtomicBool>,
}

/// How long an idle model waits for more callers before its first batch:
/// nothing against a decode step (tens of milliseconds and up).
const GATHER: std::time::Duration = std::time::Duration::from_millis(2);

/// The decoding thread: everything waiting as one batch, until nothing waits.
fn decode_queued(model: &LocalModel) {
    // A panic below must not leave the queue believing a thread decodes. Only
    // a panic: a normal return clears the flag under the lock that saw the
    // queue empty, and clearing it again here could clear the flag of a
    // thread started since, letting a second one decode beside it.
    struct Idle<'a>(&'a Mutex<Queue>);
    impl Drop for Idle<'_> {
        fn drop(&mut self) {
            if std::thread::panicking() {
                self.0.lock().unwrap_or_else(|e| e.into_inner()).decoding = false;
            }
        }
    }
    let _idle = Idle(&model.queue);
    // Callers that start together (the episodes in flight asking for their
    // strategies at once) arrive within a moment of the first: let them join
    // its batch instead of waiting for the next one.
    std::thread::sleep(GATHER);
    loop {
        let jobs: Vec<Waiting> = {
            let mut queue = model.queue.lock().unwrap_or_else(|e| e.into_inner());
            std::mem::take(&mut queue.waiting)
        };
        let jobs: Vec<Waiting> = jobs
            .into_iter()
            .filter(|j| !j.cancel.load(Ordering::Relaxed))
            .collect();
        if jobs.is_empty() {
            let mut queue = model.queue.lock().unwrap_or_else(|e| e.into_inner());
            if queue.waiting.is_empty() {
                queue.decoding = false;
                return;
            }
            continue;
        }
        let all: Vec<ChatRequest> = jobs
            .iter()
            .flat_map(|j| j.requests.iter().cloned())
            .collect();
        model.queued_batches.fetch_add(1, Ordering::Relaxed);
        let abandoned = || jobs.iter().all(|j| j.cancel.load(Ordering::Relaxed));
        match model.decode_chats(&all, &abandoned) {
            Ok(mut completions) => {
                for job in jobs.into_iter().rev() {
                    let mine = completions.split_off(completions.len() - job.requests.len());
                    let _ = job.reply.send(Ok(mine));
                }
            }
            Err(e) => {
                // One batch: its failure is every caller's.
                for job in jobs {
                    let _ = job.reply.send(Err(anyhow!("{e:#}")));
                }
            }
        }
    }
}

/// Sets its flag when dropped: tells a blocking decode nobody waits for it.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl LlmClient for LocalClient {
    fn model(&self) -> &str {
        &self.name
    }

    fn chat<'a>(&'a self, request: &'a ChatRequest) -> BoxFuture<'a, Result<Completion>> {
        Box::pin(async move {
            let mut out = self.decode(vec![request.clone()]).await?;
            Ok(out.remove(0))
        })
    }

    fn chat_many<'a>(
        &'a self,
        requests: &'a [ChatRequest],
    ) -> BoxFuture<'a, Vec<Result<Completion>>> {
        Box::pin(async move {
            let n = requests.len();
            match self.decode(requests.to_vec()).await {
                Ok(completions) => completions.into_iter().map(Ok).collect(),
                Err(e) => (0..n).map(|_| Err(anyhow::anyhow!("{e:#}"))).collect(),
            }
        })
    }
}
