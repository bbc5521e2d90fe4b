//! The in-memory inbox: for development and tests. Everything in it is lost when the process
//! ends.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::Notify;

use super::{
    bounded_error, hold, BoxFuture, ClaimToken, DeadLetter, Enqueued, Entry, Inbox, InboxStats,
    Leased, StoreError,
};

/// An inbox in this process's memory, for development and tests: **lost on restart**, and not
/// shared with other processes. Use `PostgresInbox` for anything a provider has been told was
/// received.
#[derive(Debug, Default)]
pub struct MemoryInbox {
    entries: Mutex<HashMap<String, Slot>>,
    wake: Notify,
}

#[derive(Debug)]
struct Slot {
    entry: Entry,
    state: State,
    attempts: u32,
    enqueued_at: SystemTime,
    /// When a pending entry is due, or a leased one's lease ends.
    due: Instant,
    token: Option<ClaimToken>,
    finished: Option<Instant>,
    last_error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Pending,
    Leased,
    Done,
    Dead,
}

/// `after` from `now`, shortened to [`MAX_HOLD`](crate::idempotency::MAX_HOLD) (`Duration::MAX`
/// would overflow the clock).
fn later(now: Instant, after: Duration) -> Instant {
    let after = hold(after);
    now.checked_add(after)
        .or_else(|| now.checked_add(Duration::from_secs(365 * 24 * 60 * 60)))
        .unwrap_or(now)
}

impl MemoryInbox {
    /// An empty inbox.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn with_held<T>(
        &self,
        key: &str,
        token: &ClaimToken,
        change: impl FnOnce(&mut Slot) -> T,
    ) -> Result<T, StoreError> {
        let mut entries = self.lock();
        match entries.get_mut(key) {
            Some(slot)
                if slot.state == State::Leased
                    && slot.token.as_ref().map(ClaimToken::as_str) == Some(token.as_str()) =>
            {
                Ok(change(slot))
            }
            _ => Err(StoreError::LeaseLost),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Inbox for MemoryInbox {
    fn enqueue<'a>(&'a self, entry: &'a Entry) -> BoxFuture<'a, Result<Enqueued, StoreError>> {
        let enqueued = {
            let mut entries = self.lock();
            if entries.contains_key(&entry.key) {
                Enqueued::Duplicate
            } else {
                entries.insert(
                    entry.key.clone(),
                    Slot {
                        entry: entry.clone(),
                        state: State::Pending,
                        attempts: 0,
                        enqueued_at: SystemTime::now(),
                        due: Instant::now(),
                        token: None,
                        finished: None,
                        last_error: None,
                    },
                );
                Enqueued::New
            }
        };
        if enqueued == Enqueued::New {
            self.wake.notify_waiters();
            self.wake.notify_one();
        }
        Box::pin(std::future::ready(Ok(enqueued)))
    }

    fn lease<'a>(
        &'a self,
        max: usize,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Vec<Leased>, StoreError>> {
        let now = Instant::now();
        let mut entries = self.lock();
        let mut due: Vec<&mut Slot> = entries
            .values_mut()
            .filter(|slot| matches!(slot.state, State::Pending | State::Leased) && slot.due <= now)
            .collect();
        due.sort_by_key(|slot| slot.due);
        let leased = due
            .into_iter()
            .take(max)
            .map(|slot| {
                let token = ClaimToken::generate();
                slot.state = State::Leased;
                slot.token = Some(token);
                slot.attempts = slot.attempts.saturating_add(1);
                slot.due = later(now, lease);
                Leased {
                    entry: slot.entry.clone(),
                    token,
                    attempt: slot.attempts,
                    enqueued_at: slot.enqueued_at,
                }
            })
            .collect();
        Box::pin(std::future::ready(Ok(leased)))
    }

    fn extend<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
        lease: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let result = self.with_held(key, token, |slot| slot.due = later(Instant::now(), lease));
        Box::pin(std::future::ready(result))
    }

    fn complete<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let mut entries = self.lock();
        let result = match entries.get_mut(key) {
            // Completing twice with the same token succeeds (the token stays on a done entry).
            Some(slot)
                if matches!(slot.state, State::Leased | State::Done)
                    && slot.token.as_ref().map(ClaimToken::as_str) == Some(token.as_str()) =>
            {
                if slot.state == State::Leased {
                    slot.state = State::Done;
                    slot.finished = Some(Instant::now());
                }
                Ok(())
            }
            _ => Err(StoreError::LeaseLost),
        };
        drop(entries);
        Box::pin(std::future::ready(result))
    }

    fn retry<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
        delay: Duration,
        error: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let result = self.with_held(key, token, |slot| {
            slot.state = State::Pending;
            slot.token = None;
            slot.due = later(Instant::now(), delay);
            slot.last_error = Some(bounded_error(error).to_owned());
        });
        Box::pin(std::future::ready(result))
    }

    fn bury<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
        error: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let result = self.with_held(key, token, |slot| {
            slot.state = State::Dead;
            slot.token = None;
            slot.finished = Some(Instant::now());
            slot.last_error = Some(bounded_error(error).to_owned());
        });
        Box::pin(std::future::ready(result))
    }

    fn forget<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let result = self.with_held(key, token, |_| ()).map(|()| {
            self.lock().remove(key);
        });
        Box::pin(std::future::ready(result))
    }

    fn wait<'a>(&'a self, timeout: Duration) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let _ = tokio::time::timeout(timeout, self.wake.notified()).await;
        })
    }

    fn stats(&self) -> BoxFuture<'_, Result<InboxStats, StoreError>> {
        let now = Instant::now();
        let wall = SystemTime::now();
        let mut stats = InboxStats::default();
        for slot in self.lock().values() {
            match slot.state {
                State::Leased if slot.due > now => stats.in_flight += 1,
                State::Pending | State::Leased => stats.pending += 1,
                State::Done => stats.done += 1,
                State::Dead => stats.dead += 1,
            }
            if matches!(slot.state, State::Pending | State::Leased) {
                let age = wall
                    .duration_since(slot.enqueued_at)
                    .unwrap_or_default()
                    .as_secs();
                stats.oldest_pending_secs = Some(stats.oldest_pending_secs.unwrap_or(0).max(age));
            }
        }
        Box::pin(std::future::ready(Ok(stats)))
    }

    fn dead_letters(&self, limit: usize) -> BoxFuture<'_, Result<Vec<DeadLetter>, StoreError>> {
        let entries = self.lock();
        let mut dead: Vec<&Slot> = entries
            .values()
            .filter(|slot| slot.state == State::Dead)
            .collect();
        dead.sort_by_key(|slot| slot.finished);
        let letters = dead
            .into_iter()
            .take(limit)
            .map(|slot| DeadLetter {
                key: slot.entry.key.clone(),
                sender: slot.entry.sender.clone(),
                attempts: slot.attempts,
                last_error: slot.last_error.clone().unwrap_or_default(),
            })
            .collect();
        Box::pin(std::future::ready(Ok(letters)))
    }

    fn requeue<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        let requeued = match self.lock().get_mut(key) {
            Some(slot) if slot.state == State::Dead => {
                slot.state = State::Pending;
                slot.attempts = 0;
                slot.due = Instant::now();
                slot.finished = None;
                true
            }
            _ => false,
        };
        if requeued {
            self.wake.notify_one();
        }
        Box::pin(std::future::ready(Ok(requeued)))
    }

    fn purge_done(&self, age: Duration) -> BoxFuture<'_, Result<u64, StoreError>> {
        let mut entries = self.lock();
        let before = entries.len();
        entries.retain(|_, slot| {
            !(slot.state == State::Done && slot.finished.is_some_and(|at| at.elapsed() >= age))
        });
        let purged = (before - entries.len()) as u64;
        Box::pin(std::future::ready(Ok(purged)))
    }
}
