//! Transient LLM faults never end a run. An episode whose LLM call still
//! fails after the client's own retries goes back in the queue and runs
//! again (same problem, same seeds), up to `runner.episode_attempts` times;
//! only an LLM failing for `runner.outage_s` (or an episode failing every
//! attempt) stops the run, and then with what finished kept.

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::config::RunnerConfig;

/// Pause before an episode runs again: the client already waited its
/// backoff; this only keeps a failing server from being hammered.
const PAUSE: Duration = Duration::from_millis(500);

pub(crate) struct Requeue {
    attempts: u32,
    outage: Duration,
    /// Since when every episode attempt has failed (none while they succeed).
    failing_since: Mutex<Option<Instant>>,
}

impl Requeue {
    pub(crate) fn new(config: &RunnerConfig) -> Self {
        Requeue {
            attempts: config.episode_attempts.max(1),
            outage: Duration::from_secs_f64(config.outage_s),
            failing_since: Mutex::new(None),
        }
    }

    /// `episode()` until it succeeds, the episode has had its attempts, or
    /// the LLM has been failing for the outage time. `what` names the episode.
    pub(crate) async fn run<T, Fut>(
        &self,
        what: &str,
        mut episode: impl FnMut() -> Fut,
    ) -> Result<T>
    where
        Fut: Future<Output = Result<T>>,
    {
        let mut attempt = 1;
        loop {
            match episode().await {
                Ok(done) => {
                    *self.failing_since.lock().unwrap_or_else(|e| e.into_inner()) = None;
                    return Ok(done);
                }
                // A request the server refused fails the same way every time.
                Err(error) if crate::http::is_refused(&error) => return Err(error),
                Err(error) => {
                    let since = *self
                        .failing_since
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .get_or_insert_with(Instant::now);
                    let failing = since.elapsed();
                    if attempt >= self.attempts || failing >= self.outage {
                        return Err(error.context(format!(
                            "{what} failed {attempt} time(s) and the LLM has been failing for \
                             {:.0} s (runner.episode_attempts = {}, runner.outage_s = {})",
                            failing.as_secs_f64(),
                            self.attempts,
                            self.outage.as_secs_f64()
                        )));
                    }
                    tracing::warn!(
                        "{what}: {error:#}; it runs again (attempt {} of {})",
                        attempt + 1,
                        self.attempts
                    );
                    tokio::time::sleep(PAUSE).await;
                    attempt += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn requeue(attempts: u32, outage_s: f64) -> Requeue {
        Requeue::new(&RunnerConfig {
            episode_attempts: attempts,
            outage_s,
            ..RunnerConfig::default()
        })
    }

    #[tokio::test]
    async fn a_transient_fault_runs_the_episode_again() {
        let r = requeue(3, 300.0);
        let mut calls = 0;
        let out = r
            .run("episode 1", || {
                calls += 1;
                let n = calls;
                async move {
                    if n < 3 {
                        anyhow::bail!("HTTP 500")
                    } else {
                        Ok(n)
                    }
                }
            })
            .await
            .unwrap();
        assert_eq!(out, 3);
    }

    #[tokio::test]
    async fn attempts_are_bounded_and_the_error_says_so() {
        let r = requeue(2, 300.0);
        let e = r
            .run("episode 4", || async {
                anyhow::bail!("HTTP 503") as Result<()>
            })
            .await
            .unwrap_err();
        let text = format!("{e:#}");
        assert!(
            text.contains("episode 4 failed 2 time(s)") && text.contains("503"),
            "{text}"
        );
    }
}
