//! Progress of long loops (episodes): a bar on a terminal, and one plain line
//! at a time when stderr is a file or a pipe (nohup, SLURM, CI), where a bar
//! would print nothing for hours.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Without a terminal, at most one line per this interval (and always the last).
const LINE_INTERVAL: Duration = Duration::from_secs(10);

pub struct Progress {
    bar: ProgressBar,
    /// Set when stderr is not a terminal.
    lines: Option<Mutex<Lines>>,
    prefix: String,
}

struct Lines {
    /// The first `set_position` (where the phase starts) was seen.
    positioned: bool,
    len: u64,
    pos: u64,
    first: u64,
    started: Instant,
    printed: Option<Instant>,
    message: String,
}

impl Progress {
    pub fn new(len: u64, prefix: &str) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        let bar = if terminal {
            ProgressBar::new(len)
        } else {
            ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden())
        };
        bar.set_style(
            ProgressStyle::with_template("{prefix:>8} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix(prefix.to_string());
        let lines = (!terminal).then(|| {
            Mutex::new(Lines {
                positioned: false,
                len,
                pos: 0,
                first: 0,
                started: Instant::now(),
                printed: None,
                message: String::new(),
            })
        });
        Progress {
            bar,
            lines,
            prefix: prefix.to_string(),
        }
    }

    pub fn set_position(&self, pos: u64) {
        self.bar.set_position(pos);
        if let Some(lines) = &self.lines {
            let mut l = lines.lock().unwrap_or_else(|e| e.into_inner());
            if !l.positioned {
                l.positioned = true;
                // Where this phase starts (a resumed run starts late): no
                // line, and the ETA counts from here.
                l.first = pos;
                l.pos = pos;
                return;
            }
        }
        self.line(|l| l.pos = pos);
    }

    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
        self.line(|l| l.pos += n);
    }

    /// The message shown after the counts (accuracy, tokens/s).
    pub fn set_message(&self, message: String) {
        if let Some(lines) = &self.lines {
            let mut l = lines.lock().unwrap_or_else(|e| e.into_inner());
            l.message = message.clone();
        }
        self.bar.set_message(message);
        self.line(|_| {});
    }

    /// A line above the bar (or just a line).
    pub fn println(&self, text: String) {
        if self.lines.is_some() {
            eprintln!("{text}");
        } else {
            self.bar.println(text);
        }
    }

    pub fn finish_and_clear(&self) {
        self.bar.finish_and_clear();
    }

    /// Apply `f`, then print a line if it is time to.
    fn line(&self, f: impl FnOnce(&mut Lines)) {
        let Some(lines) = &self.lines else { return };
        let mut l = lines.lock().unwrap_or_else(|e| e.into_inner());
        let before = l.pos;
        f(&mut l);
        let due = l.printed.is_none_or(|t| t.elapsed() >= LINE_INTERVAL);
        if l.pos != before && (due || l.pos >= l.len) {
            eprintln!("{}", l.render(&self.prefix));
            l.printed = Some(Instant::now());
        }
    }
}

impl Lines {
    fn render(&self, prefix: &str) -> String {
        let elapsed = self.started.elapsed();
        let done = self.pos.saturating_sub(self.first);
        let eta = if done > 0 && self.pos < self.len {
            let per = elapsed.as_secs_f64() / done as f64;
            format!(", ETA {}", clock((self.len - self.pos) as f64 * per))
        } else {
            String::new()
        };
        let message = if self.message.is_empty() {
            String::new()
        } else {
            format!(" {}", self.message)
        };
        format!(
            "{prefix} {}/{}{message} ({}{eta})",
            self.pos,
            self.len,
            clock(elapsed.as_secs_f64())
        )
    }
}

/// Seconds as 1h02m03s / 2m03s / 3s.
fn clock(seconds: f64) -> String {
    let s = seconds.round() as u64;
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, m, s) => format!("{h}h{m:02}m{s:02}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_say_where_the_loop_is_and_when_it_ends() {
        let l = Lines {
            positioned: true,
            len: 10,
            pos: 4,
            first: 2,
            started: Instant::now() - Duration::from_secs(20),
            printed: None,
            message: "acc 50.0%".into(),
        };
        let line = l.render("train");
        assert!(
            line.starts_with("train 4/10 acc 50.0% (20s, ETA 1m00s)"),
            "{line}"
        );
        assert_eq!(clock(3725.0), "1h02m05s");
    }
}
