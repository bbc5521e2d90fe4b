//! One conformance suite for every idempotency store, through the `Receiver` where the
//! behaviour is the pipeline's (exactly once, release on failure, store down) and through the
//! store directly where it is the store's (leases, tokens, retention).
//!
//! The memory store always runs. The Redis and Postgres suites talk to the real servers named by
//! `TEST_REDIS_URL` and `TEST_DATABASE_URL`; they are `#[ignore]`d so that `cargo test` passes on
//! a machine without them, and `.ci/run` runs them with `--include-ignored`, where a missing
//! variable or an unreachable server fails the run.
#![allow(clippy::unwrap_used)] // a test that cannot set up should fail loudly

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use verihook::idempotency::{Claim, ClaimToken, IdempotencyStore, MemoryStore, StoreError};
use verihook::testing::StripeSigner;
use verihook::{providers::stripe::StripeVerifier, scheme::FixedClock, Outcome, Receiver};

#[cfg(any(feature = "redis", feature = "postgres"))]
#[path = "support/servers.rs"]
mod servers;

const SECRET: &str = "whsec_store_suite_secret";
const NOW: u64 = 1_700_000_000;

/// A fresh prefix per test, so runs against a shared server never see each other's keys.
fn unique(label: &str) -> String {
    format!("{label}-{}", ClaimToken::generate().as_str())
}

fn delivery(id: &str) -> (HeaderMap, Bytes) {
    let body = Bytes::from(format!(r#"{{"id":"{id}","type":"invoice.paid"}}"#));
    let headers = StripeSigner::new(SECRET).unwrap().sign(NOW, &body);
    (headers, body)
}

fn verifier() -> StripeVerifier {
    StripeVerifier::new(SECRET)
        .unwrap()
        .with_clock(FixedClock::at_unix(NOW))
}

/// How many times the handler ran, per event id.
type Runs = Arc<Mutex<HashMap<String, usize>>>;

/// A receiver whose handler counts runs per event id, sleeping `work` in each.
fn counting_receiver<S: IdempotencyStore + 'static>(
    store: S,
    work: Duration,
) -> (Arc<Receiver>, Runs) {
    counting_receiver_with_lease(store, work, verihook::handler::DEFAULT_LEASE)
}

/// [`counting_receiver`] with its own lease.
fn counting_receiver_with_lease<S: IdempotencyStore + 'static>(
    store: S,
    work: Duration,
    lease: Duration,
) -> (Arc<Receiver>, Runs) {
    let runs = Arc::new(Mutex::new(HashMap::new()));
    let seen = runs.clone();
    let receiver = Receiver::builder()
        .verifier(verifier())
        .store(store)
        .lease(lease)
        .handler(move |delivery| {
            let seen = seen.clone();
            async move {
                if !work.is_zero() {
                    tokio::time::sleep(work).await;
                }
                let id = delivery.id().unwrap().into_owned();
                *seen.lock().unwrap().entry(id).or_insert(0) += 1;
                Ok(())
            }
        })
        .build()
        .unwrap();
    (Arc::new(receiver), runs)
}

async fn concurrent_deliveries_run_the_handler_once<S: IdempotencyStore + 'static>(store: S) {
    let (receiver, runs) = counting_receiver(store, Duration::from_millis(200));
    let id = unique("evt_concurrent");
    let (headers, body) = delivery(&id);
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let (receiver, headers, body) = (receiver.clone(), headers.clone(), body.clone());
            tokio::spawn(async move { receiver.handle(&headers, body).await })
        })
        .collect();
    let mut codes = HashMap::new();
    for task in tasks {
        let outcome = task.await.unwrap();
        *codes.entry(outcome.code()).or_insert(0) += 1;
        assert!(matches!(outcome.status().as_u16(), 200 | 409), "{outcome}");
    }
    assert_eq!(runs.lock().unwrap().get(&id), Some(&1), "{codes:?}");
    assert_eq!(codes.get("processed"), Some(&1), "{codes:?}");
    assert_eq!(
        codes.get("in_flight").unwrap_or(&0) + codes.get("duplicate").unwrap_or(&0),
        63,
        "{codes:?}"
    );
    // Once done, a redelivery is a duplicate.
    assert_eq!(receiver.handle(&headers, body).await.code(), "duplicate");
}

async fn a_handler_three_times_slower_than_its_lease_runs_once<S: IdempotencyStore + 'static>(
    store: S,
) {
    // The lease is 300 ms, the handler takes 900 ms; redeliveries keep arriving meanwhile.
    let (receiver, runs) = counting_receiver_with_lease(
        store,
        Duration::from_millis(900),
        Duration::from_millis(300),
    );
    let id = unique("evt_slow");
    let (headers, body) = delivery(&id);
    let first = {
        let (receiver, headers, body) = (receiver.clone(), headers.clone(), body.clone());
        tokio::spawn(async move { receiver.handle(&headers, body).await })
    };
    let mut answers = Vec::new();
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        answers.push(receiver.handle(&headers, body.clone()).await.code());
    }
    assert_eq!(first.await.unwrap().code(), "processed");
    assert_eq!(runs.lock().unwrap().get(&id), Some(&1), "{answers:?}");
    assert!(
        answers
            .iter()
            .all(|code| *code == "in_flight" || *code == "duplicate"),
        "{answers:?}"
    );
    assert!(answers.contains(&"in_flight"), "{answers:?}");
}

async fn an_expired_lease_is_taken_over_and_the_stale_holder_refused<S: IdempotencyStore>(
    store: S,
) {
    let key = unique("lease");
    let Claim::Acquired(stale) = store.claim(&key, Duration::from_millis(300)).await.unwrap()
    else {
        panic!("first claim must be acquired")
    };
    assert_eq!(
        store.claim(&key, Duration::from_secs(60)).await.unwrap(),
        Claim::InFlight
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    let Claim::Acquired(fresh) = store.claim(&key, Duration::from_secs(60)).await.unwrap() else {
        panic!("an expired lease must be taken over")
    };
    assert_ne!(stale, fresh);
    // The crashed worker wakes up: neither its complete nor its release may touch the new claim.
    assert!(matches!(
        store.complete(&key, &stale, Duration::from_secs(60)).await,
        Err(StoreError::LeaseLost)
    ));
    assert!(matches!(
        store.release(&key, &stale).await,
        Err(StoreError::LeaseLost)
    ));
    assert_eq!(
        store.claim(&key, Duration::from_secs(60)).await.unwrap(),
        Claim::InFlight
    );
    store
        .complete(&key, &fresh, Duration::from_secs(60))
        .await
        .unwrap();
    // Completing twice with the same token is harmless.
    store
        .complete(&key, &fresh, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        store.claim(&key, Duration::from_secs(60)).await.unwrap(),
        Claim::Done
    );
}

async fn a_failed_handler_releases_the_claim<S: IdempotencyStore + 'static>(store: S) {
    let attempts = Arc::new(AtomicUsize::new(0));
    let counter = attempts.clone();
    let receiver = Receiver::builder()
        .verifier(verifier())
        .store(store)
        .handler(move |_delivery| {
            let counter = counter.clone();
            async move {
                match counter.fetch_add(1, Ordering::SeqCst) {
                    0 => Err("database is down".into()),
                    1 => panic!("handler bug"),
                    _ => Ok(()),
                }
            }
        })
        .build()
        .unwrap();
    let (headers, body) = delivery(&unique("evt_retry"));
    let first = receiver.handle(&headers, body.clone()).await;
    assert_eq!(
        (first.code(), first.status().as_u16()),
        ("handler_failed", 500)
    );
    assert!(first.to_string().contains("database is down"), "{first}");
    let second = receiver.handle(&headers, body.clone()).await;
    assert_eq!(
        (second.code(), second.status().as_u16()),
        ("handler_failed", 500)
    );
    assert!(
        second.to_string().contains("handler panicked: handler bug"),
        "{second}"
    );
    let third = receiver.handle(&headers, body.clone()).await;
    assert!(
        matches!(third, Outcome::Processed { recorded: true, .. }),
        "{third}"
    );
    assert_eq!(receiver.handle(&headers, body).await.code(), "duplicate");
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
}

async fn a_done_key_is_forgotten_after_retain<S: IdempotencyStore>(store: S) {
    let key = unique("retain");
    let Claim::Acquired(token) = store.claim(&key, Duration::from_secs(60)).await.unwrap() else {
        panic!("first claim must be acquired")
    };
    store
        .complete(&key, &token, Duration::from_millis(300))
        .await
        .unwrap();
    assert_eq!(
        store.claim(&key, Duration::from_secs(60)).await.unwrap(),
        Claim::Done
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert!(matches!(
        store.claim(&key, Duration::from_secs(60)).await.unwrap(),
        Claim::Acquired(_)
    ));
}

async fn ten_thousand_events_delivered_twice_are_each_handled_once<
    S: IdempotencyStore + 'static,
>(
    store: S,
) {
    let (receiver, runs) = counting_receiver(store, Duration::ZERO);
    let run = unique("bulk");
    let mut deliveries: Vec<(HeaderMap, Bytes)> = (0..10_000)
        .map(|n| delivery(&format!("evt_{run}_{n}")))
        .flat_map(|d| [d.clone(), d])
        .collect();
    shuffle(&mut deliveries, 0x9e37_79b9_7f4a_7c15);
    let queue = Arc::new(Mutex::new(deliveries));
    let workers: Vec<_> = (0..16)
        .map(|_| {
            let (receiver, queue) = (receiver.clone(), queue.clone());
            tokio::spawn(async move {
                let mut codes: HashMap<&'static str, usize> = HashMap::new();
                loop {
                    let Some((headers, body)) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let mut outcome = receiver.handle(&headers, body.clone()).await;
                    // A duplicate that arrives while its twin is in flight is retried, as the
                    // provider would after the 409.
                    while outcome.code() == "in_flight" {
                        tokio::task::yield_now().await;
                        outcome = receiver.handle(&headers, body.clone()).await;
                    }
                    *codes.entry(outcome.code()).or_insert(0) += 1;
                }
                codes
            })
        })
        .collect();
    let mut totals: HashMap<&'static str, usize> = HashMap::new();
    for worker in workers {
        for (code, n) in worker.await.unwrap() {
            *totals.entry(code).or_insert(0) += n;
        }
    }
    let runs = runs.lock().unwrap();
    assert_eq!(runs.len(), 10_000, "every event handled: {totals:?}");
    assert!(runs.values().all(|&n| n == 1), "no event handled twice");
    assert_eq!(totals.get("processed"), Some(&10_000), "{totals:?}");
    assert_eq!(totals.get("duplicate"), Some(&10_000), "{totals:?}");
}

/// A store that cannot be reached: 503, and the handler never runs.
async fn an_unreachable_store_answers_503<S: IdempotencyStore + 'static>(store: S) {
    let (receiver, runs) = counting_receiver(store, Duration::ZERO);
    let (headers, body) = delivery(&unique("evt_down"));
    let outcome = receiver.handle(&headers, body).await;
    assert_eq!(
        (outcome.code(), outcome.status().as_u16()),
        ("store_unavailable", 503),
        "{outcome}"
    );
    assert!(runs.lock().unwrap().is_empty());
}

/// Fisher–Yates with xorshift64: a fixed, reproducible order.
fn shuffle<T>(items: &mut [T], mut seed: u64) {
    for i in (1..items.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let j = usize::try_from(seed % (i as u64 + 1)).unwrap();
        items.swap(i, j);
    }
}

/// A lease or retention longer than any store can hold (hole: PostgreSQL answered "interval out
/// of range" to every request) is shortened to `MAX_HOLD`, the same way by every store.
async fn the_longest_lease_and_retention_are_held<S: IdempotencyStore>(store: S) {
    let key = unique("evt_forever");
    let Claim::Acquired(token) = store.claim(&key, Duration::MAX).await.unwrap() else {
        panic!("a new key is acquired")
    };
    assert_eq!(
        store.claim(&key, Duration::MAX).await.unwrap(),
        Claim::InFlight
    );
    store.complete(&key, &token, Duration::MAX).await.unwrap();
    assert_eq!(store.claim(&key, Duration::MAX).await.unwrap(), Claim::Done);
    let other = unique("evt_forever_released");
    let Claim::Acquired(token) = store
        .claim(&other, verihook::idempotency::MAX_HOLD * 2)
        .await
        .unwrap()
    else {
        panic!("a new key is acquired")
    };
    store.release(&other, &token).await.unwrap();
}

/// Hole: an authentic event whose signed id holds NUL could never be claimed in PostgreSQL
/// (text columns refuse it). Every store keeps such keys, apart from keys that differ after
/// the NUL.
async fn keys_with_nul_are_claimed_and_kept_apart<S: IdempotencyStore>(store: S) {
    let key = unique("stripe:evt\u{0}");
    let lease = Duration::from_secs(60);
    let Claim::Acquired(token) = store.claim(&format!("{key}1"), lease).await.unwrap() else {
        panic!("a new key is acquired")
    };
    assert!(matches!(
        store.claim(&format!("{key}2"), lease).await.unwrap(),
        Claim::Acquired(_)
    ));
    assert_eq!(
        store.claim(&format!("{key}1"), lease).await.unwrap(),
        Claim::InFlight
    );
    store
        .complete(&format!("{key}1"), &token, lease)
        .await
        .unwrap();
    assert_eq!(
        store.claim(&format!("{key}1"), lease).await.unwrap(),
        Claim::Done
    );
}

macro_rules! conformance {
    ($store:ident, $make:expr $(, #[$attr:meta])*) => {
        mod $store {
            use super::*;

            $(#[$attr])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn concurrent_deliveries_run_the_handler_once() {
                let (store, _cleanup) = $make;
                super::concurrent_deliveries_run_the_handler_once(store).await;
            }

            $(#[$attr])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn an_expired_lease_is_taken_over_and_the_stale_holder_refused() {
                let (store, _cleanup) = $make;
                super::an_expired_lease_is_taken_over_and_the_stale_holder_refused(store).await;
            }

            $(#[$attr])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_handler_three_times_slower_than_its_lease_runs_once() {
                let (store, _cleanup) = $make;
                super::a_handler_three_times_slower_than_its_lease_runs_once(store).await;
            }

            $(#[$attr])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_failed_handler_releases_the_claim() {
                let (store, _cleanup) = $make;
                super::a_failed_handler_releases_the_claim(store).await;
            }

            $(#[$attr])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_done_key_is_forgotten_after_retain() {
                let (store, _cleanup) = $make;
                super::a_done_key_is_forgotten_after_retain(store).await;
            }

            $(#[$attr])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn the_longest_lease_and_retention_are_held() {
                let (store, _cleanup) = $make;
                super::the_longest_lease_and_retention_are_held(store).await;
            }

            $(#[$attr])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn keys_with_nul_are_claimed_and_kept_apart() {
                let (store, _cleanup) = $make;
                super::keys_with_nul_are_claimed_and_kept_apart(store).await;
            }

            $(#[$attr])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn ten_thousand_events_delivered_twice_are_each_handled_once() {
                let (store, _cleanup) = $make;
                super::ten_thousand_events_delivered_twice_are_each_handled_once(store).await;
            }
        }
    };
}

conformance!(memory, (MemoryStore::new(), ()));

#[tokio::test]
async fn memory_store_full_of_live_claims_answers_503() {
    // One entry per shard; enough keys that every shard holds a live claim.
    let store = MemoryStore::with_capacity(1);
    for n in 0..10_000 {
        store
            .claim(&format!("k{n}"), Duration::from_secs(60))
            .await
            .ok();
    }
    assert_eq!(store.len(), store.capacity(), "every shard full");
    an_unreachable_store_answers_503(store).await;
}

#[cfg(feature = "redis")]
mod redis_backend {
    use super::*;
    use verihook::idempotency::RedisStore;

    /// A store under a prefix of this run's, and the guard that deletes its keys.
    pub(super) async fn store() -> (RedisStore, servers::RedisKeys) {
        let url = servers::redis_url();
        let keys = servers::RedisKeys::new("store");
        let store = RedisStore::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("Redis at {url} is unreachable: {e}"))
            .with_prefix(keys.prefix());
        (store, keys)
    }

    /// The suites leave nothing behind: a test's keys are gone once its guard drops.
    #[tokio::test]
    #[ignore = "needs Redis at TEST_REDIS_URL; .ci/run runs it"]
    async fn a_tests_keys_are_deleted_when_its_guard_drops() {
        let (store, keys) = store().await;
        for n in 0..1_200 {
            store
                .claim(&format!("stripe:evt_{n}"), Duration::from_secs(60))
                .await
                .unwrap();
        }
        let prefix = keys.prefix().to_owned();
        assert_eq!(keys.count(), 1_200);
        drop(keys);
        let again = servers::RedisKeys::new("store");
        assert!(again.prefix() != prefix);
        let client = ::redis::Client::open(servers::redis_url()).unwrap();
        let mut connection = client.get_multiplexed_async_connection().await.unwrap();
        let (_, left): (u64, Vec<String>) = ::redis::cmd("SCAN")
            .arg(0)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(100_000)
            .query_async(&mut connection)
            .await
            .unwrap();
        assert_eq!(left, Vec::<String>::new());
    }

    #[tokio::test]
    #[ignore = "needs Redis at TEST_REDIS_URL; .ci/run runs it"]
    async fn unreachable_redis_answers_503() {
        let store = RedisStore::connect_lazy("redis://127.0.0.1:1").unwrap();
        an_unreachable_store_answers_503(store).await;
    }

    /// Hole: a password with a raw `/`, `?` or `#` was printed in full.
    #[tokio::test]
    #[ignore = "needs Redis at TEST_REDIS_URL; .ci/run runs it"]
    async fn connect_errors_never_show_a_password_whatever_it_contains() {
        for url in [
            "redis://:s3cr3t/p4ss@127.0.0.1:1",
            "redis://app:s3cr3t?p4ss@127.0.0.1:1/0",
            "redis://:s3cr3t#p4ss@127.0.0.1:1",
        ] {
            let err = RedisStore::connect(url).await.unwrap_err();
            for shown in [err.to_string(), format!("{err:?}")] {
                assert!(
                    !shown.contains("s3cr3t") && !shown.contains("p4ss"),
                    "{shown}"
                );
            }
        }
    }
}

#[cfg(feature = "redis")]
conformance!(redis, redis_backend::store().await, #[ignore = "needs Redis at TEST_REDIS_URL; .ci/run runs it"]);

#[cfg(feature = "postgres")]
mod postgres_backend {
    use super::*;
    use verihook::idempotency::PostgresStore;

    /// A store in a table of its own (this run's), and the guard that drops the table.
    pub(super) async fn store() -> (PostgresStore, servers::PgTable) {
        let url = servers::database_url();
        let table = servers::PgTable::new("store");
        let store = PostgresStore::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {url} is unreachable: {e}"))
            .with_table(table.name())
            .unwrap();
        store.create_table().await.unwrap();
        (store, table)
    }

    /// The suites leave nothing behind: a test's table, and the tables named after it, are
    /// dropped once its guard drops.
    #[tokio::test]
    #[ignore = "needs PostgreSQL at TEST_DATABASE_URL; .ci/run runs it"]
    async fn a_tests_tables_are_dropped_when_its_guard_drops() {
        let (store, table) = store().await;
        sqlx::query(&format!("CREATE TABLE {}_effects (key text)", table.name()))
            .execute(store.pool())
            .await
            .unwrap();
        let name = table.name().to_owned();
        drop(table);
        let (left,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM pg_tables WHERE tablename = $1 OR tablename = $1 || '_effects'",
        )
        .bind(&name)
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert_eq!(left, 0);
    }

    #[tokio::test]
    #[ignore = "needs PostgreSQL at TEST_DATABASE_URL; .ci/run runs it"]
    async fn unreachable_postgres_answers_503() {
        let store = PostgresStore::connect_lazy("postgres://postgres@127.0.0.1:1/test").unwrap();
        an_unreachable_store_answers_503(store).await;
    }

    #[tokio::test]
    #[ignore = "needs PostgreSQL at TEST_DATABASE_URL; .ci/run runs it"]
    async fn done_mark_commits_with_the_apps_transaction() {
        let (store, _table) = store().await;
        let key = unique("tx");
        let lease = Duration::from_secs(60);
        let Claim::Acquired(token) = store.claim(&key, lease).await.unwrap() else {
            panic!()
        };
        // Rolled back: the event is still only claimed.
        let mut tx = store.pool().begin().await.unwrap();
        store
            .complete_in(&mut *tx, &key, &token, lease)
            .await
            .unwrap();
        tx.rollback().await.unwrap();
        assert_eq!(store.claim(&key, lease).await.unwrap(), Claim::InFlight);
        // Committed: done, and the Receiver's own complete afterwards still succeeds.
        let mut tx = store.pool().begin().await.unwrap();
        store
            .complete_in(&mut *tx, &key, &token, lease)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(store.claim(&key, lease).await.unwrap(), Claim::Done);
        store.complete(&key, &token, lease).await.unwrap();
    }

    #[tokio::test]
    #[ignore = "needs PostgreSQL at TEST_DATABASE_URL; .ci/run runs it"]
    async fn create_table_is_idempotent_and_purge_removes_expired_rows() {
        let (store, _table) = store().await;
        store.create_table().await.unwrap();
        let key = unique("purge");
        let Claim::Acquired(token) = store.claim(&key, Duration::from_secs(60)).await.unwrap()
        else {
            panic!()
        };
        store
            .complete(&key, &token, Duration::from_millis(1))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(store.purge_expired().await.unwrap() >= 1);
        assert!(store.clone().with_table("bad name; drop table x").is_err());
    }

    /// A table from an earlier version (text keys) is migrated by `create_table`: its done keys
    /// stay done.
    #[tokio::test]
    #[ignore = "needs PostgreSQL at TEST_DATABASE_URL; .ci/run runs it"]
    async fn an_earlier_table_is_migrated_and_its_keys_kept() {
        let url = servers::database_url();
        let guard = servers::PgTable::new("migrated");
        let table = guard.name();
        let store = PostgresStore::connect(&url)
            .await
            .unwrap()
            .with_table(table)
            .unwrap();
        for statement in [
            format!(
                "CREATE TABLE {table} (key text PRIMARY KEY, token text NOT NULL,
                    done boolean NOT NULL DEFAULT false, expires_at timestamptz NOT NULL)"
            ),
            format!(
                "INSERT INTO {table} VALUES ('stripe:evt_old', 'abc', true,
                    now() + interval '1 hour')"
            ),
        ] {
            sqlx::query(&statement).execute(store.pool()).await.unwrap();
        }
        store.create_table().await.unwrap();
        store.create_table().await.unwrap();
        let lease = Duration::from_secs(60);
        let old = store.claim("stripe:evt_old", lease).await;
        let fresh = store.claim("stripe:evt\u{0}new", lease).await;
        sqlx::query(&format!("DROP TABLE {table}"))
            .execute(store.pool())
            .await
            .unwrap();
        assert_eq!(old.unwrap(), Claim::Done);
        assert!(matches!(fresh.unwrap(), Claim::Acquired(_)));
    }

    /// Hole: a password with a raw `/`, `?` or `#` was printed in full.
    #[tokio::test]
    #[ignore = "needs PostgreSQL at TEST_DATABASE_URL; .ci/run runs it"]
    async fn connect_errors_never_show_a_password_whatever_it_contains() {
        for url in [
            "postgres://app:s3cr3t/p4ss@127.0.0.1:1/test",
            "postgres://app:s3cr3t?p4ss@127.0.0.1:1/test",
            "postgres://app:s3cr3t#p4ss@127.0.0.1:1/test",
        ] {
            let err = PostgresStore::connect(url).await.unwrap_err();
            for shown in [err.to_string(), format!("{err:?}")] {
                assert!(
                    !shown.contains("s3cr3t") && !shown.contains("p4ss"),
                    "{shown}"
                );
            }
        }
    }
}

#[cfg(feature = "postgres")]
conformance!(postgres, postgres_backend::store().await, #[ignore = "needs PostgreSQL at TEST_DATABASE_URL; .ci/run runs it"]);

#[tokio::test]
async fn a_preallocated_memory_store_starts_empty_and_holds_its_capacity() {
    let store = MemoryStore::preallocated(6_400);
    assert!(store.is_empty());
    assert_eq!(store.capacity(), 6_400);
    let lease = Duration::from_secs(60);
    // Half the capacity: keys spread unevenly over the shards, each bounded on its own.
    for n in 0..3_200 {
        let key = format!("evt_{n}");
        assert!(
            matches!(store.claim(&key, lease).await, Ok(Claim::Acquired(_))),
            "{key}"
        );
    }
    assert_eq!(store.len(), 3_200);
    assert_eq!(store.claim("evt_0", lease).await.unwrap(), Claim::InFlight);
}
