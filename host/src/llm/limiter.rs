//! How many requests one server gets at once: at most the configured
//! concurrency, and less while the server says it is busy (AIMD, as TCP
//! does with its window). A 429 or 503 halves the endpoint's limit and puts
//! a ceiling just below the limit that drew it; each `limit` answers in a row
//! raise the limit by one up to the ceiling, and the ceiling itself rises by
//! one only after 16 × `limit` calm answers (a rare probe: each probe that
//! finds the server still full costs one request a retry). Without this a client that sends more than a
//! server's capacity gets its excess turned away and waits out backoffs
//! while the server idles: requests spread over seconds and fail once
//! their retries are spent.

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::oneshot;

pub struct Limiter {
    state: Mutex<State>,
    max: usize,
}

struct State {
    limit: usize,
    /// The limit's upper end since the server last said it was busy.
    ceiling: usize,
    active: usize,
    /// Answers since the limit last changed.
    calm: usize,
    /// Requests waiting for a place, first come first served: a freed place
    /// goes to the oldest, never to a request that just arrived.
    waiting: VecDeque<oneshot::Sender<()>>,
    /// Counts the limit's cuts: a 503 answered to a request sent before the
    /// last cut says nothing new (one burst, one cut).
    epoch: u64,
}

impl State {
    /// Hand free places to the oldest waiters; a place handed over stays
    /// counted in `active`.
    fn hand_over(&mut self) {
        while self.active < self.limit {
            let Some(next) = self.waiting.pop_front() else {
                break;
            };
            if next.send(()).is_ok() {
                self.active += 1;
            }
        }
    }
}

/// One request's place in the limit, given back when dropped.
pub struct Slot<'a> {
    limiter: &'a Limiter,
    /// The limit's epoch when the place was taken.
    epoch: u64,
}

impl Slot<'_> {
    /// The server said it was busy when answering this request: fewer places
    /// (once per cut: see [`State::epoch`]).
    pub fn busy(&self) {
        self.limiter.busy(self.epoch);
    }

    /// The server answered this request.
    pub fn answered(&self) {
        self.limiter.answered();
    }

    /// Other requests hold places beside this one: a "busy" answered now
    /// says the server is full, not that it is broken.
    pub fn shared(&self) -> bool {
        self.limiter.lock().active > 1
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.limiter.release();
    }
}

/// A request waiting for its place; if it goes away after being handed one,
/// the place is given back.
struct Waiting<'a> {
    limiter: &'a Limiter,
    place: Option<oneshot::Receiver<()>>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let Some(mut rx) = self.place.take()
            && rx.try_recv().is_ok()
        {
            self.limiter.release();
        }
    }
}

impl Limiter {
    pub fn new(max: usize) -> Self {
        let max = max.max(1);
        Limiter {
            state: Mutex::new(State {
                limit: max,
                ceiling: max,
                active: 0,
                calm: 0,
                waiting: VecDeque::new(),
                epoch: 0,
            }),
            max,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn release(&self) {
        let mut s = self.lock();
        s.active -= 1;
        s.hand_over();
    }

    /// Wait for a place under the current limit, in arrival order.
    pub async fn acquire(&self) -> Slot<'_> {
        let rx = {
            let mut s = self.lock();
            if s.active < s.limit && s.waiting.is_empty() {
                s.active += 1;
                return Slot {
                    limiter: self,
                    epoch: s.epoch,
                };
            }
            let (tx, rx) = oneshot::channel();
            s.waiting.push_back(tx);
            rx
        };
        let mut waiting = Waiting {
            limiter: self,
            place: Some(rx),
        };
        let rx = waiting.place.as_mut().expect("set above");
        // The sender lives in the queue until it hands the place over.
        let _ = rx.await;
        waiting.place = None;
        Slot {
            limiter: self,
            epoch: self.lock().epoch,
        }
    }

    /// Places free now (the limit less those in use).
    pub fn free(&self) -> usize {
        let s = self.lock();
        s.limit.saturating_sub(s.active)
    }

    pub fn limit(&self) -> usize {
        self.lock().limit
    }

    /// The server answered; after `limit` answers in a row, one more place
    /// (up to the ceiling; the ceiling after 16 × `limit`).
    pub fn answered(&self) {
        let mut s = self.lock();
        s.calm += 1;
        if s.limit < s.ceiling && s.calm >= s.limit {
            s.limit += 1;
            s.calm = 0;
            s.hand_over();
        } else if s.limit == s.ceiling && s.ceiling < self.max && s.calm >= 16 * s.limit {
            s.ceiling += 1;
            s.calm = 0;
        }
    }

    /// The server said it is busy (429, 503) to a request sent in `epoch`:
    /// half the places, and no more than one below the limit that drew it
    /// until calm answers say so — unless the limit was cut since.
    pub fn busy(&self, epoch: u64) {
        let mut s = self.lock();
        if epoch != s.epoch {
            return;
        }
        s.ceiling = s.limit.saturating_sub(1).max(1);
        s.limit = (s.limit / 2).max(1);
        s.calm = 0;
        s.epoch += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn busy_halves_and_calm_answers_raise_back_to_the_maximum() {
        let l = Limiter::new(8);
        l.busy(0);
        // A second 503 of the same burst (sent before the cut) cuts nothing.
        l.busy(0);
        assert_eq!(l.limit(), 4);
        // Up to the ceiling (7, just below the 8 that drew the 503) quickly ...
        for _ in 0..4 + 5 + 6 {
            l.answered();
        }
        assert_eq!(l.limit(), 7);
        // ... then one more place only after a long calm.
        for _ in 0..16 * 7 - 1 {
            l.answered();
        }
        assert_eq!(l.limit(), 7);
        for _ in 0..1 + 7 {
            l.answered();
        }
        assert_eq!(l.limit(), 8);
        for epoch in 1..5 {
            l.busy(epoch);
        }
        assert_eq!(l.limit(), 1);
    }

    #[tokio::test]
    async fn the_limit_holds_requests_back_until_a_place_is_free() {
        let l = std::sync::Arc::new(Limiter::new(2));
        let a = l.acquire().await;
        let _b = l.acquire().await;
        assert_eq!(l.free(), 0);
        let waiting = {
            let l = std::sync::Arc::clone(&l);
            tokio::spawn(async move {
                let _c = l.acquire().await;
            })
        };
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(a);
        waiting.await.unwrap();
    }

    #[tokio::test]
    async fn places_go_in_arrival_order_and_a_cancelled_waiter_gives_its_back() {
        let l = std::sync::Arc::new(Limiter::new(1));
        let first = l.acquire().await;
        let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..3 {
            let (l, order) = (std::sync::Arc::clone(&l), std::sync::Arc::clone(&order));
            tasks.push(tokio::spawn(async move {
                let _s = l.acquire().await;
                order.lock().unwrap().push(i);
            }));
            tokio::task::yield_now().await;
        }
        // A waiter that gives up holds nothing.
        let gone = {
            let l = std::sync::Arc::clone(&l);
            tokio::spawn(async move {
                let _s = l.acquire().await;
            })
        };
        tokio::task::yield_now().await;
        gone.abort();
        drop(first);
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), [0, 1, 2]);
        assert_eq!(l.free(), 1);
    }
}
