//! Ctrl-C and SIGTERM during `run`, `train` and `test`.
//!
//! The first signal asks the run to stop: episodes in flight are abandoned
//! (a training episode is redone by `train --resume`, which replays what the
//! traces hold), what is finished is checkpointed and summarised, and the
//! process exits with 130. A second signal exits at once — nothing finished
//! is lost then either, since every episode's trace line is written when it
//! ends. Cluster schedulers send SIGTERM before they kill a job, so it is
//! treated like Ctrl-C.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::watch;

/// The exit status of an interrupted run (128 + SIGINT, as shells report it).
pub const EXIT_CODE: i32 = 130;

static STOP: OnceLock<watch::Sender<bool>> = OnceLock::new();
static INSTALLED: AtomicBool = AtomicBool::new(false);

fn stop() -> &'static watch::Sender<bool> {
    STOP.get_or_init(|| watch::channel(false).0)
}

/// Listen for Ctrl-C / SIGTERM for the rest of the process (once; later
/// calls do nothing). The listener has its own thread and runtime, so it
/// outlives any job's runtime: a signal is never swallowed unheard.
pub fn install() {
    if INSTALLED.swap(true, Ordering::SeqCst) {
        return;
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::warn!("Ctrl-C is not caught (an interrupt ends the run at once): {e}");
            return;
        }
    };
    let spawned = std::thread::Builder::new()
        .name("econ-host-signals".into())
        .spawn(move || rt.block_on(listen()));
    if let Err(e) = spawned {
        tracing::warn!("Ctrl-C is not caught (an interrupt ends the run at once): {e}");
    }
}

async fn listen() {
    let mut signals = match Signals::new() {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("Ctrl-C is not caught (an interrupt ends the run at once): {e}");
            return;
        }
    };
    signals.next().await;
    eprintln!(
        "\ninterrupted: stopping after saving what is finished \
         (press Ctrl-C again to quit at once)"
    );
    stop().send_replace(true);
    signals.next().await;
    eprintln!("\ninterrupted again: quitting now");
    std::process::exit(EXIT_CODE);
}

/// Ctrl-C and (on Unix) SIGTERM, registered once.
struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Signals {})
        }
    }

    async fn next(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Whether a stop was asked for.
pub fn requested() -> bool {
    *stop().borrow()
}

/// Resolves once a stop is asked for (at once if it already was).
pub async fn requested_async() {
    let mut rx = stop().subscribe();
    // The sender lives in a static, so the channel never closes.
    let _ = rx.wait_for(|stop| *stop).await;
}

/// Ask for a stop as a signal would (for embedding the runner and tests).
pub fn request() {
    stop().send_replace(true);
}
