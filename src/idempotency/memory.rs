//! The in-process store: sharded, bounded, with lease and retention expiry.

use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use super::{Claim, ClaimToken, IdempotencyStore, StoreError};
use crate::verify::{Clock, SystemClock};

/// The default bound on remembered keys (live claims plus done keys).
pub const DEFAULT_CAPACITY: usize = 500_000;
const SHARDS: usize = 16;

/// An idempotency store in this process's memory.
///
/// **One process only**: two replicas each with a `MemoryStore` each process every event once,
/// so the event is processed twice. Use `RedisStore` or `PostgresStore` for several replicas.
/// Keys are also forgotten when the process restarts.
///
/// The keys are spread over 16 independently locked shards, so concurrent requests for
/// different events rarely wait on each other. Memory is bounded by a maximum number of
/// entries ([`DEFAULT_CAPACITY`] by default, roughly 150 bytes each): when a shard is full,
/// expired claims and done keys are evicted first, and if it is still full of live entries the
/// claim fails with [`StoreError::Full`] rather than forget one (the adapter answers 503 and the
/// provider retries).
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

struct Inner {
    shards: Vec<Mutex<HashMap<Box<str>, Entry>>>,
    hasher: std::collections::hash_map::RandomState,
    capacity: usize,
    per_shard: usize,
    clock: Arc<dyn Clock>,
}

#[derive(Debug)]
struct Entry {
    token: ClaimToken,
    done: bool,
    expires: SystemTime,
}

impl MemoryStore {
    /// A store holding at most [`DEFAULT_CAPACITY`] entries.
    #[must_use]
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }

    /// A store holding at most `capacity` entries (at least one per shard).
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        Self::build(capacity, Arc::new(SystemClock))
    }

    /// Reads time from `clock` instead of the system clock (for tests).
    #[must_use]
    pub fn with_clock(self, clock: impl Clock + 'static) -> Self {
        Self::build(self.inner.capacity, Arc::new(clock))
    }

    fn build(capacity: usize, clock: Arc<dyn Clock>) -> Self {
        let per_shard = capacity.div_ceil(SHARDS).max(1);
        Self {
            inner: Arc::new(Inner {
                shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
                hasher: std::collections::hash_map::RandomState::new(),
                capacity: per_shard * SHARDS,
                per_shard,
                clock,
            }),
        }
    }

    /// The number of entries held now, expired ones included until evicted.
    #[must_use]
    pub fn len(&self) -> usize {
        (0..SHARDS).map(|i| self.inner.lock(i).len()).sum()
    }

    /// Whether the store holds no entries.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The maximum number of entries.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.inner.capacity
    }

    /// Drops every expired entry now (claims also do this when a shard fills up).
    pub fn purge_expired(&self) {
        let now = self.inner.clock.now();
        for i in 0..SHARDS {
            self.inner.lock(i).retain(|_, e| e.expires > now);
        }
    }

    fn shard(&self, key: &str) -> MutexGuard<'_, HashMap<Box<str>, Entry>> {
        let hash = self.inner.hasher.hash_one(key);
        // The modulus keeps the index below SHARDS, so the cast cannot truncate a valid index.
        #[allow(clippy::cast_possible_truncation)]
        self.inner.lock((hash % SHARDS as u64) as usize)
    }
}

impl Inner {
    fn lock(&self, i: usize) -> MutexGuard<'_, HashMap<Box<str>, Entry>> {
        // A panic while holding the lock cannot leave an entry half-written (every update is a
        // single assignment), so a poisoned shard is still consistent.
        self.shards[i]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("capacity", &self.inner.capacity)
            .field("shards", &SHARDS)
            .finish_non_exhaustive()
    }
}

impl IdempotencyStore for MemoryStore {
    async fn claim(&self, key: &str, lease: Duration) -> Result<Claim, StoreError> {
        let now = self.inner.clock.now();
        let expires = now
            .checked_add(lease)
            .unwrap_or(now + Duration::from_secs(86_400 * 365));
        let mut shard = self.shard(key);
        if let Some(entry) = shard.get_mut(key) {
            if entry.expires > now {
                return Ok(if entry.done {
                    Claim::Done
                } else {
                    Claim::InFlight
                });
            }
            let token = ClaimToken::generate();
            *entry = Entry {
                token: token.clone(),
                done: false,
                expires,
            };
            return Ok(Claim::Acquired(token));
        }
        if shard.len() >= self.inner.per_shard {
            shard.retain(|_, e| e.expires > now);
            if shard.len() >= self.inner.per_shard {
                return Err(StoreError::Full {
                    capacity: self.inner.capacity,
                });
            }
        }
        let token = ClaimToken::generate();
        shard.insert(
            key.into(),
            Entry {
                token: token.clone(),
                done: false,
                expires,
            },
        );
        Ok(Claim::Acquired(token))
    }

    async fn complete(
        &self,
        key: &str,
        token: &ClaimToken,
        retain: Duration,
    ) -> Result<(), StoreError> {
        let now = self.inner.clock.now();
        let mut shard = self.shard(key);
        match shard.get_mut(key) {
            Some(entry) if entry.token == *token && entry.done => Ok(()),
            Some(entry) if entry.token == *token && entry.expires > now => {
                entry.done = true;
                entry.expires = now.checked_add(retain).unwrap_or(entry.expires);
                Ok(())
            }
            _ => Err(StoreError::LeaseLost),
        }
    }

    async fn release(&self, key: &str, token: &ClaimToken) -> Result<(), StoreError> {
        let now = self.inner.clock.now();
        let mut shard = self.shard(key);
        match shard.get(key) {
            Some(entry) if entry.token == *token && !entry.done && entry.expires > now => {
                shard.remove(key);
                Ok(())
            }
            _ => Err(StoreError::LeaseLost),
        }
    }
}
