//! The in-memory inbox: for development and tests. Everything in it is lost when the process
//! ends.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::Notify;

use super::log::group_issues;
use super::{
    bounded_error, hold, BoxFuture, ClaimToken, DeadLetter, Enqueued, Entry, Filter, Inbox,
    InboxStats, Issue, Leased, Status, StoreError, Stored, MAX_BATCH,
};

/// An inbox in this process's memory, for development and tests: **lost on restart**, and not
/// shared with other processes. Use `PostgresInbox` for anything a provider has been told was
/// received.
#[derive(Debug, Default)]
pub struct MemoryInbox {
    entries: Mutex<HashMap<String, Slot>>,
    /// The greatest stamp applied per ordering key.
    applied: Mutex<HashMap<String, u64>>,
    /// Arrival order.
    arrivals: std::sync::atomic::AtomicU64,
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
    finished_at: Option<SystemTime>,
    last_error: Option<String>,
    /// Arrival order, after the stamp.
    seq: u64,
    replays: u32,
    replayed_at: Option<SystemTime>,
    replay_reason: Option<String>,
    /// Whether the current run comes from a replay (it yields to fresh entries).
    replayed: bool,
    issue: Option<String>,
}

type State = Status;

impl Slot {
    fn stored(&self) -> Stored {
        Stored {
            key: self.entry.key.clone(),
            sender: self.entry.sender.clone(),
            id: self.entry.id.clone(),
            event_type: self.entry.event_type.clone(),
            ordering_key: self.entry.ordering_key.clone(),
            status: self.state,
            attempts: self.attempts,
            enqueued_at: self.enqueued_at,
            replays: self.replays,
            replayed_at: self.replayed_at,
            replay_reason: self.replay_reason.clone(),
            last_error: self.last_error.clone(),
            issue: self.issue.clone(),
            redacted: self.entry.redacted,
        }
    }

    /// Its place among the events of its ordering key.
    fn order(&self) -> (u64, u64) {
        (self.entry.stamp.unwrap_or(0), self.seq)
    }

    fn finish(&mut self, state: State) {
        self.state = state;
        self.finished = Some(Instant::now());
        self.finished_at = Some(SystemTime::now());
    }
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

    fn applied_lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        self.applied
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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
                        finished_at: None,
                        last_error: None,
                        seq: self
                            .arrivals
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                        replays: 0,
                        replayed_at: None,
                        replay_reason: None,
                        replayed: false,
                        issue: None,
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
        // One pass: due unordered events are candidates at once; per ordering key, its first
        // unsettled event (by stamp, then arrival) and whether one is under a live lease.
        struct Head<'s> {
            slot: &'s Slot,
            busy: bool,
        }
        let mut heads: HashMap<&str, Head<'_>> = HashMap::new();
        let mut chosen: Vec<(bool, Instant, &str)> = Vec::new();
        for slot in entries.values() {
            if !matches!(slot.state, State::Pending | State::Leased) {
                continue;
            }
            let Some(ordering) = slot.entry.ordering_key.as_deref() else {
                if slot.due <= now {
                    chosen.push((slot.replayed, slot.due, &slot.entry.key));
                }
                continue;
            };
            let busy = slot.state == State::Leased && slot.due > now;
            let head = heads.entry(ordering).or_insert(Head { slot, busy: false });
            head.busy |= busy;
            if slot.order() < head.slot.order() {
                head.slot = slot;
            }
        }
        chosen.extend(
            heads
                .values()
                .filter(|head| !head.busy && head.slot.due <= now)
                .map(|head| {
                    (
                        head.slot.replayed,
                        head.slot.due,
                        head.slot.entry.key.as_str(),
                    )
                }),
        );
        chosen.sort_unstable();
        let chosen: Vec<String> = chosen
            .into_iter()
            .take(max)
            .map(|(_, _, key)| key.to_owned())
            .collect();
        let applied = self.applied_lock();
        let leased = chosen
            .into_iter()
            .filter_map(|key| {
                let slot = entries.get_mut(&key)?;
                let token = ClaimToken::generate();
                slot.state = State::Leased;
                slot.token = Some(token);
                slot.attempts = slot.attempts.saturating_add(1);
                slot.due = later(now, lease);
                Some(Leased {
                    entry: slot.entry.clone(),
                    token,
                    attempt: slot.attempts,
                    enqueued_at: slot.enqueued_at,
                    applied_stamp: slot
                        .entry
                        .ordering_key
                        .as_ref()
                        .and_then(|ordering| applied.get(ordering).copied()),
                    replay_reason: slot.replay_reason.clone().filter(|_| slot.replayed),
                })
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
                    slot.finish(State::Done);
                    if let (Some(ordering), Some(stamp)) =
                        (&slot.entry.ordering_key, slot.entry.stamp)
                    {
                        let mut applied = self.applied_lock();
                        let last = applied.entry(ordering.clone()).or_insert(stamp);
                        *last = (*last).max(stamp);
                    }
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
        issue: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let result = self.with_held(key, token, |slot| {
            slot.finish(State::Dead);
            slot.token = None;
            slot.last_error = Some(bounded_error(error).to_owned());
            slot.issue = Some(issue.to_owned());
        });
        Box::pin(std::future::ready(result))
    }

    fn supersede<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let result = self.with_held(key, token, |slot| slot.finish(State::Superseded));
        Box::pin(std::future::ready(result))
    }

    fn find<'a>(&'a self, filter: &'a Filter) -> BoxFuture<'a, Result<Vec<Stored>, StoreError>> {
        let entries = self.lock();
        let mut found: Vec<&Slot> = entries
            .values()
            .filter(|slot| filter.matches(&slot.stored()))
            .collect();
        found.sort_by_key(|slot| (slot.enqueued_at, slot.seq));
        let found = found
            .into_iter()
            .take(filter.bounded_limit())
            .map(Slot::stored)
            .collect();
        Box::pin(std::future::ready(Ok(found)))
    }

    fn replay<'a>(
        &'a self,
        filter: &'a Filter,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, StoreError>> {
        let mut entries = self.lock();
        let mut chosen: Vec<(SystemTime, u64, String)> = entries
            .values()
            .filter(|slot| slot.state.is_settled() && filter.matches(&slot.stored()))
            .map(|slot| (slot.enqueued_at, slot.seq, slot.entry.key.clone()))
            .collect();
        chosen.sort();
        chosen.truncate(filter.bounded_limit());
        let now = Instant::now();
        let keys: Vec<String> = chosen
            .into_iter()
            .filter_map(|(_, _, key)| {
                let slot = entries.get_mut(&key)?;
                slot.state = State::Pending;
                slot.attempts = 0;
                slot.due = now;
                slot.token = None;
                slot.finished = None;
                slot.finished_at = None;
                slot.issue = None;
                slot.replays = slot.replays.saturating_add(1);
                slot.replayed_at = Some(SystemTime::now());
                slot.replay_reason = Some(bounded_error(reason).to_owned());
                slot.replayed = true;
                Some(key)
            })
            .collect();
        drop(entries);
        if !keys.is_empty() {
            self.wake.notify_waiters();
            self.wake.notify_one();
        }
        Box::pin(std::future::ready(Ok(keys)))
    }

    fn purge<'a>(
        &'a self,
        filter: &'a Filter,
        age: Duration,
        except: &'a [(String, Option<String>)],
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        let mut entries = self.lock();
        let old: Vec<String> = entries
            .values()
            .filter(|slot| {
                slot.state.is_settled()
                    && slot.finished.is_some_and(|at| at.elapsed() >= age)
                    && filter.matches(&slot.stored())
                    && !excepted(except, &slot.entry)
            })
            .map(|slot| slot.entry.key.clone())
            .take(MAX_BATCH)
            .collect();
        for key in &old {
            entries.remove(key);
        }
        Box::pin(std::future::ready(Ok(old.len() as u64)))
    }

    fn issues(&self, limit: usize) -> BoxFuture<'_, Result<Vec<Issue>, StoreError>> {
        let entries = self.lock();
        let dead = entries
            .values()
            .filter(|slot| slot.state == State::Dead)
            .map(|slot| {
                (
                    slot.stored(),
                    slot.entry.route_key.as_ref().map(|r| r.as_str().to_owned()),
                    slot.finished_at.unwrap_or(slot.enqueued_at),
                )
            });
        let mut issues = group_issues(dead);
        issues.truncate(limit);
        Box::pin(std::future::ready(Ok(issues)))
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
                State::Done | State::Superseded => stats.done += 1,
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
                slot.finished_at = None;
                slot.issue = None;
                true
            }
            _ => false,
        };
        if requeued {
            self.wake.notify_one();
        }
        Box::pin(std::future::ready(Ok(requeued)))
    }
}

/// Whether `entry`'s sender (and type, where the pair names one) is in `except`.
pub(crate) fn excepted(except: &[(String, Option<String>)], entry: &Entry) -> bool {
    except.iter().any(|(sender, event_type)| {
        *sender == entry.sender
            && event_type
                .as_ref()
                .is_none_or(|t| Some(t) == entry.event_type.as_ref())
    })
}
