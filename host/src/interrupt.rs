//! Ctrl-C and SIGTERM during `run`, `train` and `test`.
//!
//! The first signal asks the run to stop: episodes in flight are abandoned
//! (a training episode is redone by `train --resume`, which replays what the
//! traces hold), what is finished is checkpointed and summarised, and the
//! process exits with 130. A second signal exits at once — nothing finished
//! is lost then either, since every episode's trace line is written when it
//! ends. Cluster schedulers send SIGTERM before they kill a job, so it is
//! treated like Ctrl-C.

use std::sync::{Once, OnceLock};

use tokio::sync::watch;

/// The exit status of an interrupted run (128 + SIGINT, as shells report it).
pub const EXIT_CODE: i32 = 130;

static STOP: OnceLock<watch::Sender<bool>> = OnceLock::new();

fn stop() -> &'static watch::Sender<bool> {
    STOP.get_or_init(|| watch::channel(false).0)
}

/// Listen for Ctrl-C / SIGTERM for the rest of the process (once; later
/// calls do nothing). The listener has its own thread and runtime, so it
/// outlives any job's runtime: a signal is never swallowed unheard.
pub fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        if let Err(e) = start_listener() {
            tracing::warn!("Ctrl-C is not caught (an interrupt ends the run at once): {e}");
        }
    });
}

fn start_listener() -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // Registered here, so a signal from now on is heard.
    let signals = rt.block_on(async { Signals::new() })?;
    std::thread::Builder::new()
        .name("econ-host-signals".into())
        .spawn(move || rt.block_on(listen(signals)))?;
    Ok(())
}

async fn listen(mut signals: Signals) {
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

/// Resolves once a stop is asked for (at once if it already was).
pub async fn requested() {
    let mut rx = stop().subscribe();
    // The sender lives in a static, so the channel never closes.
    let _ = rx.wait_for(|stop| *stop).await;
}
