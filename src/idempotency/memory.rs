//! The in-process store: sharded, bounded, with lease and retention expiry.

use hashbrown::HashTable;
use std::fmt;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, UNIX_EPOCH};

use super::{Claim, ClaimToken, IdempotencyStore, StoreError, GENERATED_LEN};
use crate::verify::{Clock, SystemClock};

/// The default bound on remembered keys (live claims plus done keys).
pub const DEFAULT_CAPACITY: usize = 500_000;
/// Enough shards that two workers rarely want the same lock, and that a shard's table stays
/// small: a table grows by copying itself under its lock, which stalls the requests waiting on
/// that shard for as long as the copy takes.
const SHARDS: usize = 64;

/// An idempotency store in this process's memory.
///
/// **One process only**: two replicas each with a `MemoryStore` each process every event once,
/// so the event is processed twice. Use `RedisStore` or `PostgresStore` for several replicas.
/// Keys are also forgotten when the process restarts.
///
/// The keys are spread over 64 independently locked shards, so concurrent requests for
/// different events rarely wait on each other. Memory is bounded by a maximum number of
/// entries ([`DEFAULT_CAPACITY`] by default, about 100 bytes each plus the key): when a shard is full,
/// expired claims and done keys are evicted first, and if it is still full of live entries the
/// claim fails with [`StoreError::Full`] rather than forget one (the adapter answers 503 and the
/// provider retries).
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

struct Inner {
    shards: Vec<Mutex<Table>>,
    hasher: std::collections::hash_map::RandomState,
    capacity: usize,
    per_shard: usize,
    clock: Arc<dyn Clock>,
}

/// One shard: entries found by a hash computed once per operation.
type Table = HashTable<Entry>;

/// One remembered key. The hash is kept so that growing the table moves entries without
/// hashing their keys again, and so that a lookup compares keys only when the hashes agree.
struct Entry {
    hash: u64,
    /// When the lease or the retention ends, in milliseconds since the Unix epoch.
    expires: u64,
    /// The text of the [`ClaimToken`] that holds the claim (always a generated one).
    token: [u8; GENERATED_LEN],
    done: bool,
    key: Box<str>,
}

impl Entry {
    fn is(&self, hash: u64, key: &str) -> bool {
        self.hash == hash && *self.key == *key
    }

    fn held_by(&self, token: &ClaimToken) -> bool {
        token.generated_text() == Some(self.token)
    }
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

    /// Reads time from `clock` instead of the system clock (for tests). Returns a new, empty
    /// store: call it before claiming anything.
    #[must_use]
    pub fn with_clock(self, clock: impl Clock + 'static) -> Self {
        Self::build(self.inner.capacity, Arc::new(clock))
    }

    fn build(capacity: usize, clock: Arc<dyn Clock>) -> Self {
        let per_shard = capacity.div_ceil(SHARDS).max(1);
        Self {
            inner: Arc::new(Inner {
                shards: (0..SHARDS).map(|_| Mutex::new(HashTable::new())).collect(),
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
        let now = self.inner.now();
        for i in 0..SHARDS {
            self.inner.lock(i).retain(|e| e.expires > now);
        }
    }

    /// The key's hash (SipHash, randomly keyed: keys such as GitHub delivery ids are not
    /// signed) and its locked shard. The middle bits pick the shard, since the table inside uses
    /// the low bits for buckets and the top seven for tags.
    fn shard(&self, key: &str) -> (u64, MutexGuard<'_, Table>) {
        let hash = self.inner.hasher.hash_one(key);
        // The modulus keeps the index below SHARDS, so the cast cannot truncate a valid index.
        #[allow(clippy::cast_possible_truncation)]
        let index = ((hash >> 32) % SHARDS as u64) as usize;
        (hash, self.inner.lock(index))
    }
}

impl Inner {
    /// Milliseconds since the Unix epoch (0 for a clock set before it).
    fn now(&self) -> u64 {
        self.clock
            .now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| millis_after(0, d))
    }

    fn lock(&self, i: usize) -> MutexGuard<'_, Table> {
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
        let now = self.inner.now();
        let expires = millis_after(now, lease);
        let (hash, mut shard) = self.shard(key);
        if let Some(entry) = shard.find_mut(hash, |e| e.is(hash, key)) {
            if entry.expires > now {
                return Ok(if entry.done {
                    Claim::Done
                } else {
                    Claim::InFlight
                });
            }
            let token = ClaimToken::generate();
            entry.token = token.generated_text().unwrap_or_default();
            entry.done = false;
            entry.expires = expires;
            return Ok(Claim::Acquired(token));
        }
        if shard.len() >= self.inner.per_shard {
            shard.retain(|e| e.expires > now);
            if shard.len() >= self.inner.per_shard {
                return Err(StoreError::Full {
                    capacity: self.inner.capacity,
                });
            }
        }
        let token = ClaimToken::generate();
        let entry = Entry {
            hash,
            expires,
            token: token.generated_text().unwrap_or_default(),
            done: false,
            key: key.into(),
        };
        shard.insert_unique(hash, entry, |e| e.hash);
        Ok(Claim::Acquired(token))
    }

    async fn complete(
        &self,
        key: &str,
        token: &ClaimToken,
        retain: Duration,
    ) -> Result<(), StoreError> {
        let now = self.inner.now();
        let (hash, mut shard) = self.shard(key);
        match shard.find_mut(hash, |e| e.is(hash, key)) {
            Some(entry) if entry.held_by(token) && entry.done => Ok(()),
            Some(entry) if entry.held_by(token) && entry.expires > now => {
                entry.done = true;
                entry.expires = millis_after(now, retain);
                Ok(())
            }
            _ => Err(StoreError::LeaseLost),
        }
    }

    async fn release(&self, key: &str, token: &ClaimToken) -> Result<(), StoreError> {
        let now = self.inner.now();
        let (hash, mut shard) = self.shard(key);
        match shard.find_entry(hash, |e| e.is(hash, key)) {
            Ok(found) => {
                let entry = found.get();
                if entry.held_by(token) && !entry.done && entry.expires > now {
                    found.remove();
                    Ok(())
                } else {
                    Err(StoreError::LeaseLost)
                }
            }
            Err(_) => Err(StoreError::LeaseLost),
        }
    }
}

/// `now` plus `span` in milliseconds, saturating instead of overflowing.
fn millis_after(now: u64, span: Duration) -> u64 {
    now.saturating_add(u64::try_from(span.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    /// A clock the test moves by hand.
    #[derive(Debug, Clone)]
    struct StepClock(Arc<Mutex<SystemTime>>);

    impl StepClock {
        fn advance(&self, by: Duration) {
            let mut now = self.0.lock().unwrap();
            *now += by;
        }
    }

    impl Clock for StepClock {
        fn now(&self) -> SystemTime {
            *self.0.lock().unwrap()
        }
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        loop {
            if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    #[test]
    fn a_full_store_evicts_expired_entries_before_refusing() {
        let clock = StepClock(Arc::new(Mutex::new(SystemTime::UNIX_EPOCH)));
        // One entry per shard.
        let store = MemoryStore::with_capacity(SHARDS).with_clock(clock.clone());
        let lease = Duration::from_secs(10);
        let keys: Vec<String> = (0..5_000).map(|n| format!("k{n}")).collect();
        let held: Vec<&String> = keys
            .iter()
            .filter(|k| matches!(block_on(store.claim(k, lease)), Ok(Claim::Acquired(_))))
            .collect();
        assert_eq!(held.len(), SHARDS, "one live claim per shard");
        assert_eq!(store.len(), SHARDS);
        // Full of live claims: a new key is refused, never an old claim forgotten.
        let refused = keys.iter().find(|k| !held.contains(k)).unwrap();
        assert!(matches!(
            block_on(store.claim(refused, lease)),
            Err(StoreError::Full { capacity }) if capacity == SHARDS
        ));
        assert_eq!(
            block_on(store.claim(held[0], lease)).unwrap(),
            Claim::InFlight
        );
        // Once the leases expire, their entries make room.
        clock.advance(Duration::from_secs(11));
        assert!(matches!(
            block_on(store.claim(refused, lease)),
            Ok(Claim::Acquired(_))
        ));
        store.purge_expired();
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn done_keys_count_against_capacity_until_retention_ends() {
        let clock = StepClock(Arc::new(Mutex::new(SystemTime::UNIX_EPOCH)));
        let store = MemoryStore::with_capacity(SHARDS).with_clock(clock.clone());
        let Claim::Acquired(token) = block_on(store.claim("a", Duration::from_secs(10))).unwrap()
        else {
            panic!("first claim")
        };
        block_on(store.complete("a", &token, Duration::from_secs(100))).unwrap();
        clock.advance(Duration::from_secs(50));
        assert_eq!(
            block_on(store.claim("a", Duration::from_secs(10))).unwrap(),
            Claim::Done
        );
        clock.advance(Duration::from_secs(51));
        assert!(matches!(
            block_on(store.claim("a", Duration::from_secs(10))),
            Ok(Claim::Acquired(_))
        ));
    }

    #[test]
    fn debug_shows_no_keys() {
        let store = MemoryStore::new();
        block_on(store.claim("stripe:evt_secretive", Duration::from_secs(1))).unwrap();
        assert!(!format!("{store:?}").contains("evt_secretive"));
    }
}
