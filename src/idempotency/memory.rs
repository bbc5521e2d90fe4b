//! The in-process store: sharded, bounded, with lease and retention expiry.

use hashbrown::hash_table::{self, HashTable};
use siphasher::sip128::SipHasher13;
use std::fmt;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, UNIX_EPOCH};

use super::{
    BoxFuture, Claim, ClaimToken, IdempotencyStore, StoreError, GENERATED_BYTES, MAX_HOLD,
};
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
/// entries ([`DEFAULT_CAPACITY`] by default): when a shard is full, expired claims and done keys
/// are evicted first, and if it is still full of live entries the claim fails with
/// [`StoreError::Full`] rather than forget one (the adapter answers 503 and the provider
/// retries).
///
/// An entry takes 48 bytes in its table (about 60 to 110 bytes per entry with the table's free
/// room), whatever the key's length: the store keeps a 128-bit fingerprint of each key (SipHash-1-3
/// under a key drawn at random for each store), not the key itself. Two different keys would be
/// taken for one only if their fingerprints collided: for ten million remembered keys the chance
/// of that happening at all is about 10⁻²⁵, and without the store's random key nobody can pick
/// keys that collide.
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

struct Inner {
    shards: Vec<Mutex<Table>>,
    fingerprints: SipHasher13,
    capacity: usize,
    per_shard: usize,
    clock: Arc<dyn Clock>,
}

/// One shard: entries found by the first half of their key's fingerprint.
type Table = HashTable<Entry>;

/// One remembered key.
struct Entry {
    /// The key's fingerprint: the first half is also its hash in the table, so growing the
    /// table moves entries without hashing anything again.
    fingerprint: [u64; 2],
    /// When the lease or the retention ends, in milliseconds since the Unix epoch.
    expires: u64,
    /// What the [`ClaimToken`] holding the claim was written from.
    token: [u8; GENERATED_BYTES],
    done: bool,
}

impl Entry {
    /// A live claim on the key until `expires`, and the token that holds it.
    fn claimed(fingerprint: [u64; 2], expires: u64) -> (Self, ClaimToken) {
        let (token, bytes) = ClaimToken::generate_with_bytes();
        let entry = Self {
            fingerprint,
            expires,
            token: bytes,
            done: false,
        };
        (entry, token)
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

    /// A store holding at most `capacity` entries whose tables are allocated and touched now,
    /// at start-up, instead of as they fill.
    ///
    /// A table that grows copies itself under its shard's lock, and the first write to each
    /// fresh page of memory costs a page fault (on a virtual machine, a costly one): a store
    /// built with [`with_capacity`](Self::with_capacity) pays both on the request path while it
    /// fills, which one load test measured as a third of the receiver's time. This one pays them
    /// once here (about 100 ms and 100 MB for two million entries) and then never again.
    ///
    /// ```
    /// let store = verihook::idempotency::MemoryStore::preallocated(10_000);
    /// assert!(store.is_empty());
    /// ```
    #[must_use]
    pub fn preallocated(capacity: usize) -> Self {
        let store = Self::with_capacity(capacity);
        for i in 0..SHARDS {
            let mut table = store.inner.lock(i);
            table.reserve(store.inner.per_shard, |e| e.fingerprint[0]);
            // Writing every slot once faults its pages in; clearing keeps the allocation.
            for n in 0..store.inner.per_shard as u64 {
                let entry = Entry {
                    fingerprint: [n.wrapping_mul(0x9E37_79B9_7F4A_7C15), n],
                    expires: 0,
                    token: [0; GENERATED_BYTES],
                    done: false,
                };
                table.insert_unique(entry.fingerprint[0], entry, |e| e.fingerprint[0]);
            }
            table.clear();
        }
        store
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
                fingerprints: random_sip_key(),
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

    /// The key's fingerprint and its locked shard. Bits of the second half pick the shard,
    /// since the table inside uses the first half's low bits for buckets and top seven for tags.
    fn shard(&self, key: &str) -> ([u64; 2], MutexGuard<'_, Table>) {
        let hash = self.inner.fingerprints.hash(key.as_bytes());
        // The modulus keeps the index below SHARDS, so the cast cannot truncate a valid index.
        #[allow(clippy::cast_possible_truncation)]
        let index = (hash.h2 % SHARDS as u64) as usize;
        ([hash.h1, hash.h2], self.inner.lock(index))
    }
}

/// A SipHash key drawn from the OS-seeded keys of `RandomState` (std's own source of hash-
/// flooding protection), different for every store.
fn random_sip_key() -> SipHasher13 {
    let random = std::collections::hash_map::RandomState::new();
    SipHasher13::new_with_keys(random.hash_one(0_u8), random.hash_one(1_u8))
}

impl Inner {
    /// Milliseconds since the Unix epoch (0 for a clock set before it).
    fn now(&self) -> u64 {
        self.clock
            .now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, as_millis)
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

impl MemoryStore {
    fn claim_now(&self, key: &str, lease: Duration) -> Result<Claim, StoreError> {
        let lease = lease.min(MAX_HOLD);
        let now = self.inner.now();
        let expires = millis_after(now, lease);
        let (fingerprint, mut shard) = self.shard(key);
        let room = shard.len() < self.inner.per_shard;
        // One probe finds the key or the free slot for it.
        match shard.entry(
            fingerprint[0],
            |e| e.fingerprint == fingerprint,
            |e| e.fingerprint[0],
        ) {
            hash_table::Entry::Occupied(mut found) => {
                let entry = found.get_mut();
                if entry.expires > now {
                    return Ok(if entry.done {
                        Claim::Done
                    } else {
                        Claim::InFlight
                    });
                }
                let (claimed, token) = Entry::claimed(fingerprint, expires);
                *entry = claimed;
                return Ok(Claim::Acquired(token));
            }
            hash_table::Entry::Vacant(slot) if room => {
                let (claimed, token) = Entry::claimed(fingerprint, expires);
                slot.insert(claimed);
                return Ok(Claim::Acquired(token));
            }
            hash_table::Entry::Vacant(_) => {}
        }
        // A new key and a full shard: make room from expired entries, or refuse.
        shard.retain(|e| e.expires > now);
        if shard.len() >= self.inner.per_shard {
            return Err(StoreError::Full {
                capacity: self.inner.capacity,
            });
        }
        let (claimed, token) = Entry::claimed(fingerprint, expires);
        shard.insert_unique(fingerprint[0], claimed, |e| e.fingerprint[0]);
        Ok(Claim::Acquired(token))
    }

    fn complete_now(
        &self,
        key: &str,
        token: &ClaimToken,
        retain: Duration,
    ) -> Result<(), StoreError> {
        let retain = retain.min(MAX_HOLD);
        let now = self.inner.now();
        let (fingerprint, mut shard) = self.shard(key);
        match shard.find_mut(fingerprint[0], |e| e.fingerprint == fingerprint) {
            Some(entry) if token.is_written_from(&entry.token) && entry.done => Ok(()),
            Some(entry) if token.is_written_from(&entry.token) && entry.expires > now => {
                entry.done = true;
                entry.expires = millis_after(now, retain);
                Ok(())
            }
            _ => Err(StoreError::LeaseLost),
        }
    }

    fn extend_now(&self, key: &str, token: &ClaimToken, lease: Duration) -> Result<(), StoreError> {
        let lease = lease.min(MAX_HOLD);
        let now = self.inner.now();
        let (fingerprint, mut shard) = self.shard(key);
        match shard.find_mut(fingerprint[0], |e| e.fingerprint == fingerprint) {
            Some(entry)
                if token.is_written_from(&entry.token) && !entry.done && entry.expires > now =>
            {
                entry.expires = millis_after(now, lease);
                Ok(())
            }
            _ => Err(StoreError::LeaseLost),
        }
    }

    fn release_now(&self, key: &str, token: &ClaimToken) -> Result<(), StoreError> {
        let now = self.inner.now();
        let (fingerprint, mut shard) = self.shard(key);
        match shard.find_entry(fingerprint[0], |e| e.fingerprint == fingerprint) {
            Ok(found) => {
                let entry = found.get();
                if token.is_written_from(&entry.token) && !entry.done && entry.expires > now {
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

/// `span` in whole milliseconds, saturating at `u64::MAX`.
fn as_millis(span: Duration) -> u64 {
    u64::try_from(span.as_millis()).unwrap_or(u64::MAX)
}

/// `now` plus `span` in milliseconds, saturating instead of overflowing.
fn millis_after(now: u64, span: Duration) -> u64 {
    now.saturating_add(as_millis(span))
}

impl IdempotencyStore for MemoryStore {
    fn claim<'a>(
        &'a self,
        key: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Claim, StoreError>> {
        Box::pin(std::future::ready(self.claim_now(key, lease)))
    }

    fn complete<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
        retain: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(std::future::ready(self.complete_now(key, token, retain)))
    }

    fn release<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(std::future::ready(self.release_now(key, token)))
    }

    fn extend<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
        lease: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(std::future::ready(self.extend_now(key, token, lease)))
    }
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
    fn an_entry_is_48_bytes_whatever_the_key() {
        assert_eq!(std::mem::size_of::<Entry>(), 48);
        let store = MemoryStore::new();
        let long = "k".repeat(100_000);
        let lease = Duration::from_secs(10);
        let Claim::Acquired(token) = block_on(store.claim(&long, lease)).unwrap() else {
            panic!("first claim")
        };
        assert_eq!(
            block_on(store.claim(&long, lease)).unwrap(),
            Claim::InFlight
        );
        let shorter = &long[..long.len() - 1];
        assert!(matches!(
            block_on(store.claim(shorter, lease)),
            Ok(Claim::Acquired(_))
        ));
        block_on(store.complete(&long, &token, lease)).unwrap();
        assert_eq!(block_on(store.claim(&long, lease)).unwrap(), Claim::Done);
    }

    #[test]
    fn stores_fingerprint_keys_differently() {
        // Each store draws its own SipHash key, so a colliding pair (if one were ever found)
        // would collide in one store only.
        let (a, b) = (MemoryStore::new(), MemoryStore::new());
        // Each guard is dropped before the next lock of the same shard.
        let fingerprint = |store: &MemoryStore| store.shard("github:1").0;
        assert_ne!(fingerprint(&a), fingerprint(&b));
        assert_eq!(fingerprint(&a), fingerprint(&a));
    }

    #[test]
    fn debug_shows_no_keys() {
        let store = MemoryStore::new();
        block_on(store.claim("stripe:evt_secretive", Duration::from_secs(1))).unwrap();
        assert!(!format!("{store:?}").contains("evt_secretive"));
    }
}
