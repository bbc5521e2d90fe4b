//! One conformance suite for every inbox backend: the receiver in inbox mode, the workers, and
//! the inbox's own contract (leases, tokens, retries, dead letters).
//!
//! The memory inbox always runs. The PostgreSQL suite talks to the real server named by
//! `TEST_DATABASE_URL`, each test in a table of its own (dropped at the end); it is `#[ignore]`d
//! so that `cargo test` passes without the server, and `.ci/run` runs it with `--ignored`.
#![allow(clippy::unwrap_used)] // a test that cannot set up should fail loudly
#![cfg(feature = "inbox")]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use verihook::idempotency::{ClaimToken, StoreError};
use verihook::inbox::{Backoff, Enqueued, Entry, Inbox, MemoryInbox, Worker};
use verihook::router::RouteKey;
use verihook::{providers::stripe::StripeVerifier, HandlerError, Receiver};

#[path = "support/inbox_kit.rs"]
mod inbox_kit;
use inbox_kit::{delivery, drain, receiver, NOW, SECRET};

#[cfg(any(feature = "redis", feature = "postgres"))]
#[path = "support/servers.rs"]
mod servers;

/// How many times the handler ran, per event id.
type Runs = Arc<Mutex<HashMap<String, usize>>>;

/// A worker whose handler counts runs per event id, sleeping `work` in each, and failing
/// while `fail` says so.
fn worker(
    inbox: Arc<dyn Inbox>,
    work: Duration,
    fail: impl Fn(&str, u32) -> Option<&'static str> + Send + Sync + 'static,
) -> (Worker, Runs) {
    let runs: Runs = Arc::default();
    let seen = runs.clone();
    let fail = Arc::new(fail);
    let worker = Worker::builder(inbox)
        .concurrency(8)
        .lease(Duration::from_millis(300))
        .backoff(Backoff {
            base: Duration::from_millis(20),
            cap: Duration::from_millis(80),
        })
        .max_attempts(3)
        .poll_interval(Duration::from_millis(50))
        .handler(move |delivery| {
            let seen = seen.clone();
            let fail = fail.clone();
            async move {
                let id = delivery.id().unwrap_or_default().into_owned();
                *seen.lock().unwrap().entry(id.clone()).or_default() += 1;
                if !work.is_zero() {
                    tokio::time::sleep(work).await;
                }
                match fail(&id, delivery.attempt()) {
                    Some("panic") => panic!("the handler panicked on {id}"),
                    Some(message) => Err(HandlerError::from(message)),
                    None => Ok(()),
                }
            }
        })
        .build()
        .unwrap();
    (worker, runs)
}

async fn sixty_four_concurrent_duplicates_enqueue_one_entry(inbox: Arc<dyn Inbox>) {
    let receiver = receiver(inbox.clone());
    let (headers, body) = delivery("evt_dup");
    let answers: Vec<_> = futures_join(
        (0..64)
            .map(|_| {
                let receiver = receiver.clone();
                let (headers, body) = (headers.clone(), body.clone());
                tokio::spawn(async move { receiver.handle(&headers, body).await })
            })
            .collect(),
    )
    .await;
    let mut codes: HashMap<&str, usize> = HashMap::new();
    for answer in &answers {
        assert_eq!(answer.status(), 200, "{answer}");
        *codes.entry(answer.code()).or_default() += 1;
    }
    assert_eq!(codes.get("queued"), Some(&1), "{codes:?}");
    assert_eq!(codes.get("duplicate"), Some(&63), "{codes:?}");
    let stats = inbox.stats().await.unwrap();
    assert_eq!((stats.pending, stats.in_flight, stats.done), (1, 0, 0));
}

async fn each_event_is_processed_once_and_then_a_duplicate(inbox: Arc<dyn Inbox>) {
    let receiver = receiver(inbox.clone());
    for i in 0..50 {
        let (headers, body) = delivery(&format!("evt_{i}"));
        assert_eq!(receiver.handle(&headers, body).await.code(), "queued");
    }
    let (worker, runs) = worker(inbox.clone(), Duration::ZERO, |_, _| None);
    drain(&worker, &*inbox, Duration::from_secs(10)).await;
    let runs = runs.lock().unwrap().clone();
    assert_eq!(runs.len(), 50);
    assert!(runs.values().all(|&n| n == 1), "{runs:?}");
    let stats = inbox.stats().await.unwrap();
    assert_eq!((stats.pending, stats.in_flight, stats.done), (0, 0, 50));
    assert_eq!(stats.oldest_pending_secs, None);
    // A redelivery after processing is acknowledged without a second entry.
    let (headers, body) = delivery("evt_7");
    assert_eq!(receiver.handle(&headers, body).await.code(), "duplicate");
    assert_eq!(inbox.stats().await.unwrap().done, 50);
}

async fn failures_are_retried_with_backoff_then_dead_then_requeued(inbox: Arc<dyn Inbox>) {
    let receiver = receiver(inbox.clone());
    for id in ["evt_fails", "evt_panics", "evt_twice"] {
        let (headers, body) = delivery(id);
        assert_eq!(receiver.handle(&headers, body).await.code(), "queued");
    }
    let healed = Arc::new(AtomicUsize::new(0));
    let healed_seen = healed.clone();
    let (worker, runs) = worker(inbox.clone(), Duration::ZERO, move |id, attempt| {
        match id {
            _ if healed_seen.load(Ordering::SeqCst) == 1 => None,
            "evt_fails" => Some("the payment API said no"),
            "evt_panics" => Some("panic"),
            // Fails its first attempt only: retried, then done.
            _ if attempt == 1 => Some("a passing hiccup"),
            _ => None,
        }
    });
    let started = Instant::now();
    drain(&worker, &*inbox, Duration::from_secs(10)).await;
    let elapsed = started.elapsed();
    assert_eq!(runs.lock().unwrap()["evt_twice"], 2);
    assert_eq!(runs.lock().unwrap()["evt_fails"], 3, "max_attempts is 3");
    assert_eq!(runs.lock().unwrap()["evt_panics"], 3);
    // Two backoffs of at most 20 and 40 ms: retries came back, but not all at once forever.
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    let stats = inbox.stats().await.unwrap();
    assert_eq!((stats.pending, stats.done, stats.dead), (0, 1, 2));
    let mut dead = inbox.dead_letters(10).await.unwrap();
    dead.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(dead[0].key, "stripe:evt_fails");
    assert_eq!(dead[0].sender, "stripe");
    assert_eq!(dead[0].attempts, 3);
    assert_eq!(dead[0].last_error, "the payment API said no");
    assert_eq!(
        dead[1].last_error,
        "handler panicked: the handler panicked on evt_panics"
    );
    // A dead letter brought back runs again from attempt 1.
    healed.store(1, Ordering::SeqCst);
    assert!(inbox.requeue("stripe:evt_fails").await.unwrap());
    assert!(
        !inbox.requeue("stripe:evt_twice").await.unwrap(),
        "not dead"
    );
    assert!(!inbox.requeue("stripe:nothing").await.unwrap());
    drain(&worker, &*inbox, Duration::from_secs(10)).await;
    assert_eq!(runs.lock().unwrap()["evt_fails"], 4);
    let stats = inbox.stats().await.unwrap();
    assert_eq!((stats.done, stats.dead), (2, 1));
}

async fn retries_follow_the_backoff_schedule(inbox: Arc<dyn Inbox>) {
    let receiver = receiver(inbox.clone());
    let (headers, body) = delivery("evt_backoff");
    receiver.handle(&headers, body).await;
    let backoff = Backoff {
        base: Duration::from_millis(100),
        cap: Duration::from_millis(300),
    };
    // When each attempt started, and what the worker reported after it.
    let starts: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let reports: Arc<Mutex<Vec<(u32, verihook::inbox::Fate, Instant)>>> = Arc::default();
    let (started, reported) = (starts.clone(), reports.clone());
    let worker = Worker::builder(inbox.clone())
        .backoff(backoff)
        .max_attempts(5)
        .poll_interval(Duration::from_millis(10))
        .on_attempt(move |attempt| {
            reported
                .lock()
                .unwrap()
                .push((attempt.number, attempt.fate.clone(), Instant::now()));
        })
        .handler(move |_| {
            started.lock().unwrap().push(Instant::now());
            async { Err(HandlerError::from("still failing")) }
        })
        .build()
        .unwrap();
    drain(&worker, &*inbox, Duration::from_secs(10)).await;
    let starts = starts.lock().unwrap().clone();
    let reports = reports.lock().unwrap().clone();
    assert_eq!(starts.len(), 5, "max_attempts");
    for (i, (number, fate, at)) in reports.iter().enumerate() {
        assert_eq!(*number, u32::try_from(i).unwrap() + 1);
        match fate {
            verihook::inbox::Fate::Retry { delay, error } => {
                assert_eq!(error, "still failing");
                assert!(
                    *delay <= backoff.ceiling(*number),
                    "{delay:?} for attempt {number}"
                );
                // Not before the delay: the retry's due time is set after this attempt started
                // (and, on a server, before its report reaches us, so the report is no bound).
                let since_start = starts[i + 1] - starts[i];
                assert!(since_start >= *delay, "{since_start:?} < {delay:?}");
                // And not long after it.
                let since_report = starts[i + 1] - *at;
                assert!(
                    since_report <= *delay + Duration::from_millis(400),
                    "{since_report:?} >> {delay:?}"
                );
            }
            verihook::inbox::Fate::Dead { error } => {
                assert_eq!((i, error.as_str()), (4, "still failing"));
            }
            other => panic!("attempt {number}: {other:?}"),
        }
    }
    // Full jitter: the five delays are not all the ceiling.
    let delays: Vec<Duration> = reports
        .iter()
        .filter_map(|(_, fate, _)| match fate {
            verihook::inbox::Fate::Retry { delay, .. } => Some(*delay),
            _ => None,
        })
        .collect();
    assert_eq!(delays.len(), 4);
    assert!(
        delays
            .iter()
            .zip(1..)
            .any(|(delay, n)| *delay != backoff.ceiling(n)),
        "{delays:?}"
    );
}

async fn an_expired_lease_is_leased_again_and_the_stale_token_refused(inbox: Arc<dyn Inbox>) {
    let receiver = receiver(inbox.clone());
    let (headers, body) = delivery("evt_lease");
    receiver.handle(&headers, body).await;
    let first = inbox.lease(10, Duration::from_millis(100)).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].attempt, 1);
    assert_eq!(first[0].entry.key, "stripe:evt_lease");
    assert!(inbox
        .lease(10, Duration::from_millis(100))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(inbox.stats().await.unwrap().in_flight, 1);
    tokio::time::sleep(Duration::from_millis(250)).await;
    let second = inbox.lease(10, Duration::from_secs(60)).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(
        second[0].attempt, 2,
        "an expired lease counts as an attempt"
    );
    let stale = &first[0].token;
    for refused in [
        inbox.complete("stripe:evt_lease", stale).await,
        inbox
            .retry("stripe:evt_lease", stale, Duration::ZERO, "late")
            .await,
        inbox.bury("stripe:evt_lease", stale, "late", "0").await,
        inbox
            .extend("stripe:evt_lease", stale, Duration::from_secs(1))
            .await,
        inbox
            .complete("stripe:evt_lease", &ClaimToken::generate())
            .await,
    ] {
        assert!(matches!(refused, Err(StoreError::LeaseLost)), "{refused:?}");
    }
    // The event as the receiver verified it.
    let event = second[0].entry.to_event();
    assert_eq!(event.sender(), "stripe");
    assert_eq!(event.scheme(), "stripe");
    assert_eq!(event.id().as_deref(), Some("evt_lease"));
    assert_eq!(event.event_type().as_deref(), Some("invoice.paid"));
    assert_eq!(event.unix_timestamp(), Some(NOW));
    assert!(event.signed().id() && event.signed().timestamp());
    assert_eq!(event.idempotency_key(), "stripe:evt_lease");
    inbox
        .complete("stripe:evt_lease", &second[0].token)
        .await
        .unwrap();
    assert_eq!(inbox.stats().await.unwrap().done, 1);
}

async fn a_handler_three_times_slower_than_its_lease_runs_once(inbox: Arc<dyn Inbox>) {
    let receiver = receiver(inbox.clone());
    let (headers, body) = delivery("evt_slow");
    receiver.handle(&headers, body).await;
    // Two workers on one inbox; the lease is 300 ms and the handler takes 900 ms.
    let (first, runs) = worker(inbox.clone(), Duration::from_millis(900), |_, _| None);
    let (second, second_runs) = worker(inbox.clone(), Duration::from_millis(900), |_, _| None);
    let stop = tokio::time::sleep(Duration::from_millis(2500));
    tokio::join!(
        first.run(
            tokio::time::sleep(Duration::from_millis(2500)),
            Duration::from_secs(2)
        ),
        second.run(stop, Duration::from_secs(2)),
    );
    let total = runs.lock().unwrap().get("evt_slow").copied().unwrap_or(0)
        + second_runs
            .lock()
            .unwrap()
            .get("evt_slow")
            .copied()
            .unwrap_or(0);
    assert_eq!(total, 1, "the heartbeat kept the lease");
    assert_eq!(inbox.stats().await.unwrap().done, 1);
}

async fn a_waiting_worker_starts_a_new_event_at_once(inbox: Arc<dyn Inbox>) {
    let receiver = receiver(inbox.clone());
    let started: Arc<Mutex<Option<Instant>>> = Arc::default();
    let seen = started.clone();
    let worker = Worker::builder(inbox.clone())
        .handler(move |_| {
            seen.lock().unwrap().get_or_insert_with(Instant::now);
            async { Ok(()) }
        })
        .build()
        .unwrap();
    let run = tokio::spawn(async move {
        worker
            .run(
                tokio::time::sleep(Duration::from_secs(3)),
                Duration::from_secs(1),
            )
            .await;
    });
    // Let the worker find the inbox empty and start waiting.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (headers, body) = delivery("evt_wake");
    let sent = Instant::now();
    assert_eq!(receiver.handle(&headers, body).await.code(), "queued");
    let deadline = Instant::now() + Duration::from_secs(2);
    while started.lock().unwrap().is_none() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let latency = started.lock().unwrap().map(|at| at - sent);
    run.await.unwrap();
    let latency = latency.expect("the worker ran the event");
    // Woken by the inbox, not by its one-second poll.
    assert!(latency < Duration::from_millis(500), "{latency:?}");
}

async fn shutdown_hands_unfinished_events_back(inbox: Arc<dyn Inbox>) {
    let receiver = receiver(inbox.clone());
    let (headers, body) = delivery("evt_unfinished");
    receiver.handle(&headers, body).await;
    let (worker, runs) = worker(inbox.clone(), Duration::from_secs(30), |_, _| None);
    worker
        .run(
            tokio::time::sleep(Duration::from_millis(300)),
            Duration::from_millis(100),
        )
        .await;
    assert_eq!(runs.lock().unwrap()["evt_unfinished"], 1);
    let stats = inbox.stats().await.unwrap();
    assert_eq!((stats.pending, stats.in_flight, stats.done), (1, 0, 0));
    // Due again at once, for another worker.
    let again = inbox.lease(1, Duration::from_secs(60)).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempt, 2);
}

async fn entries_round_trip_and_done_ones_are_purged(inbox: Arc<dyn Inbox>) {
    let body = Bytes::from_static(b"\x00\xffnot utf-8 \r\n");
    let event = verihook::Event::builder("acme", body.clone()).build();
    let mut entry = Entry::new(&event, "acme:sha256:00".to_owned());
    entry.sender = "acme-prod".to_owned();
    // A scheme that signs nothing (GitLab's token): the flag survives the inbox.
    entry.signed = verihook::event::Signed::from_bits(8);
    assert!(!entry.signed.body());
    assert_eq!(inbox.enqueue(&entry).await.unwrap(), Enqueued::New);
    assert_eq!(inbox.enqueue(&entry).await.unwrap(), Enqueued::Duplicate);
    let leased = inbox.lease(5, Duration::from_secs(60)).await.unwrap();
    assert_eq!(leased.len(), 1);
    assert_eq!(leased[0].entry, entry, "stored and read back unchanged");
    let event = leased[0].entry.to_event();
    assert_eq!(
        (event.sender(), event.scheme(), event.body()),
        ("acme-prod", "acme", &body)
    );
    assert!(
        !event.signed().body(),
        "stored as not signed, read back as not signed"
    );
    let long_error = "é".repeat(5000);
    inbox
        .bury(&entry.key, &leased[0].token, &long_error, "0")
        .await
        .unwrap();
    let dead = inbox.dead_letters(5).await.unwrap();
    assert_eq!(dead[0].last_error.len(), verihook::inbox::MAX_ERROR_LEN);
    assert!(inbox.requeue(&entry.key).await.unwrap());
    let leased = inbox.lease(5, Duration::from_secs(60)).await.unwrap();
    inbox.complete(&entry.key, &leased[0].token).await.unwrap();
    assert_eq!(
        inbox.purge_done(Duration::from_secs(3600)).await.unwrap(),
        0
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        inbox.purge_done(Duration::from_millis(10)).await.unwrap(),
        1
    );
    // Purged: the key is new again.
    assert_eq!(inbox.enqueue(&entry).await.unwrap(), Enqueued::New);
}

/// An entry for `key` as a scheme that signs nothing would store it, with the route key given.
fn plain_entry(key: &str) -> Entry {
    let event = verihook::Event::builder("acme", Bytes::from_static(b"{}")).build();
    Entry::new(&event, key.to_owned())
}

/// `forget` removes a leased entry without marking it done: nothing is counted, and the same
/// key is stored anew.
async fn a_forgotten_entry_leaves_nothing_and_its_key_is_new_again(inbox: Arc<dyn Inbox>) {
    let entry = plain_entry("acme:forgotten");
    assert_eq!(inbox.enqueue(&entry).await.unwrap(), Enqueued::New);
    let leased = inbox.lease(5, Duration::from_secs(60)).await.unwrap();
    assert_eq!(leased.len(), 1);
    let stale = ClaimToken::generate();
    assert!(matches!(
        inbox.forget(&entry.key, &stale).await,
        Err(StoreError::LeaseLost)
    ));
    inbox.forget(&entry.key, &leased[0].token).await.unwrap();
    let stats = inbox.stats().await.unwrap();
    assert_eq!(
        (stats.pending, stats.in_flight, stats.done, stats.dead),
        (0, 0, 0, 0),
        "{stats:?}"
    );
    assert_eq!(stats.oldest_pending_secs, None);
    assert!(inbox
        .lease(5, Duration::from_secs(60))
        .await
        .unwrap()
        .is_empty());
    assert!(matches!(
        inbox.forget(&entry.key, &leased[0].token).await,
        Err(StoreError::LeaseLost)
    ));
    assert_eq!(inbox.enqueue(&entry).await.unwrap(), Enqueued::New);
    let again = inbox.lease(5, Duration::from_secs(60)).await.unwrap();
    assert_eq!((again.len(), again[0].attempt), (1, 1));
}

/// The route key as the receiver read it, and whether it is signed, come back from the inbox;
/// an entry without one comes back without one.
async fn route_keys_round_trip(inbox: Arc<dyn Inbox>) {
    let mut routed = plain_entry("github:routed");
    routed.route_key = Some(RouteKey::with_action("pull_request", Some("opened")));
    routed.route_key_signed = false;
    let mut signed = plain_entry("stripe:signed");
    signed.route_key = Some(RouteKey::new("invoice.paid"));
    signed.route_key_signed = true;
    let mut none = plain_entry("acme:unrouted");
    none.route_key = None;
    none.route_key_signed = false;
    for entry in [&routed, &signed, &none] {
        assert_eq!(inbox.enqueue(entry).await.unwrap(), Enqueued::New);
    }
    let mut leased = inbox.lease(10, Duration::from_secs(60)).await.unwrap();
    leased.sort_by(|a, b| a.entry.key.cmp(&b.entry.key));
    let entries: Vec<&Entry> = leased.iter().map(|l| &l.entry).collect();
    assert_eq!(entries, [&none, &routed, &signed]);
    let key = leased[1].entry.route_key.as_ref().unwrap();
    assert_eq!(
        (key.as_str(), key.kind(), key.action()),
        ("pull_request.opened", "pull_request", Some("opened"))
    );
    assert!(!leased[1].entry.route_key_signed);
    let key = leased[2].entry.route_key.as_ref().unwrap();
    assert_eq!((key.kind(), key.action()), ("invoice.paid", None));
    assert!(leased[2].entry.route_key_signed);
}

/// An authentic event may carry NUL in its signed id and type (and so in its key and route
/// key): it is stored and read back unchanged, and kept apart from a key that differs after
/// the NUL.
async fn nul_bytes_round_trip(inbox: Arc<dyn Inbox>) {
    let mut entry = plain_entry("acme:evt\u{0}1");
    entry.id = Some("evt\u{0}1".to_owned());
    entry.event_type = Some("invoice\u{0}.paid".to_owned());
    entry.route_key = Some(RouteKey::with_action("issue\u{0}", Some("op\u{0}en")));
    entry.route_key_signed = true;
    let mut other = entry.clone();
    other.key = "acme:evt\u{0}2".to_owned();
    assert_eq!(inbox.enqueue(&entry).await.unwrap(), Enqueued::New);
    assert_eq!(inbox.enqueue(&other).await.unwrap(), Enqueued::New);
    assert_eq!(inbox.enqueue(&entry).await.unwrap(), Enqueued::Duplicate);
    let mut leased = inbox.lease(5, Duration::from_secs(60)).await.unwrap();
    leased.sort_by(|a, b| a.entry.key.cmp(&b.entry.key));
    assert_eq!(leased.len(), 2);
    assert_eq!(leased[0].entry, entry, "stored and read back unchanged");
    assert_eq!(leased[1].entry, other);
    let key = leased[0].entry.route_key.as_ref().unwrap();
    assert_eq!(
        (key.kind(), key.action()),
        ("issue\u{0}", Some("op\u{0}en"))
    );
    inbox
        .bury(&entry.key, &leased[0].token, "bad\u{0}byte", "0")
        .await
        .unwrap();
    let dead = inbox.dead_letters(5).await.unwrap();
    assert_eq!(dead[0].key, entry.key);
    assert!(inbox.requeue(&entry.key).await.unwrap());
    let again = inbox.lease(5, Duration::from_secs(60)).await.unwrap();
    assert_eq!(again.len(), 1);
    inbox.complete(&entry.key, &again[0].token).await.unwrap();
    inbox.complete(&other.key, &leased[1].token).await.unwrap();
    assert_eq!(inbox.stats().await.unwrap().done, 2);
}

/// Durations past what any backend holds (`Duration::MAX`) are shortened, never an error or a
/// panic: lease, extend, retry delay, purge age, and a worker's every setting.
async fn the_longest_durations_are_held(inbox: Arc<dyn Inbox>) {
    let entry = plain_entry("acme:forever");
    inbox.enqueue(&entry).await.unwrap();
    let leased = inbox.lease(5, Duration::MAX).await.unwrap();
    assert_eq!(leased.len(), 1);
    assert_eq!(inbox.stats().await.unwrap().in_flight, 1);
    inbox
        .extend(&entry.key, &leased[0].token, Duration::MAX)
        .await
        .unwrap();
    inbox
        .retry(&entry.key, &leased[0].token, Duration::MAX, "later")
        .await
        .unwrap();
    let stats = inbox.stats().await.unwrap();
    assert_eq!((stats.pending, stats.in_flight), (1, 0), "{stats:?}");
    assert!(
        inbox.lease(5, Duration::MAX).await.unwrap().is_empty(),
        "not due"
    );
    assert_eq!(inbox.purge_done(Duration::MAX).await.unwrap(), 0);

    // A worker built with every duration at its longest: its failing handler's retry is
    // scheduled, nothing panics.
    let other = plain_entry("acme:forever-worker");
    inbox.enqueue(&other).await.unwrap();
    let worker = Worker::builder(inbox.clone())
        .lease(Duration::MAX)
        .backoff(Backoff {
            base: Duration::MAX,
            cap: Duration::MAX,
        })
        .max_age(Duration::MAX)
        .retain(Duration::MAX)
        .poll_interval(Duration::MAX)
        .handler(|_| async { Err(HandlerError::from("not yet")) })
        .build()
        .unwrap();
    assert_eq!(worker.run_once().await.unwrap(), 1);
    let stats = inbox.stats().await.unwrap();
    assert_eq!(
        (stats.pending, stats.in_flight, stats.dead),
        (2, 0, 0),
        "{stats:?}"
    );
    // An idle worker's run stops at shutdown, whatever its poll interval.
    tokio::time::timeout(
        Duration::from_secs(10),
        worker.run(
            tokio::time::sleep(Duration::from_millis(100)),
            Duration::MAX,
        ),
    )
    .await
    .unwrap();
}

/// Awaits every task, in order.
async fn futures_join<T>(tasks: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}

macro_rules! conformance {
    ($backend:ident, $make:expr $(, #[$attr:meta])*) => {
        mod $backend {
            use super::*;

            macro_rules! case {
                ($name:ident) => {
                    $(#[$attr])*
                    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    async fn $name() {
                        // Holds the backend's keys or table until the test ends, passed or not.
                        let (inbox, _cleanup) = $make;
                        super::$name(inbox).await;
                    }
                };
            }

            case!(sixty_four_concurrent_duplicates_enqueue_one_entry);
            case!(each_event_is_processed_once_and_then_a_duplicate);
            case!(failures_are_retried_with_backoff_then_dead_then_requeued);
            case!(an_expired_lease_is_leased_again_and_the_stale_token_refused);
            case!(retries_follow_the_backoff_schedule);
            case!(a_handler_three_times_slower_than_its_lease_runs_once);
            case!(a_waiting_worker_starts_a_new_event_at_once);
            case!(shutdown_hands_unfinished_events_back);
            case!(entries_round_trip_and_done_ones_are_purged);
            case!(a_forgotten_entry_leaves_nothing_and_its_key_is_new_again);
            case!(route_keys_round_trip);
            case!(nul_bytes_round_trip);
            case!(the_longest_durations_are_held);
        }
    };
}

fn memory() -> (Arc<dyn Inbox>, ()) {
    (Arc::new(MemoryInbox::new()), ())
}

conformance!(memory, memory());

#[cfg(feature = "postgres")]
mod postgres_backend {
    use super::*;
    use verihook::inbox::PostgresInbox;

    /// An inbox in a table of its own (created twice: idempotent), and the guard that drops
    /// the table (and the tables named after it) when the test ends.
    pub(super) async fn own_inbox() -> (Arc<PostgresInbox>, servers::PgTable) {
        let url = servers::database_url();
        let table = servers::PgTable::new("inbox");
        let inbox = PostgresInbox::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {url} is unreachable: {e}"))
            .with_table(table.name())
            .unwrap();
        inbox.create_table().await.unwrap();
        inbox.create_table().await.unwrap();
        (Arc::new(inbox), table)
    }

    /// [`own_inbox`], as the conformance suite takes it.
    pub(super) async fn inbox() -> (Arc<dyn Inbox>, servers::PgTable) {
        let (inbox, table) = own_inbox().await;
        (inbox, table)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    #[ignore = "needs PostgreSQL at TEST_DATABASE_URL; .ci/run runs it"]
    async fn effects_commit_with_the_completion_exactly_once() {
        let (inbox, table) = own_inbox().await;
        let effects = format!("{table}_effects");
        let pool = inbox.pool().clone();
        sqlx::query(&format!("CREATE TABLE {effects} (key text NOT NULL)"))
            .execute(&pool)
            .await
            .unwrap();
        let receiver = receiver(inbox.clone());
        for i in 0..100 {
            let (headers, body) = delivery(&format!("evt_{i}"));
            assert_eq!(receiver.handle(&headers, body).await.code(), "queued");
        }
        let workers: Vec<Worker> = (0..2)
            .map(|_| {
                let handle = inbox.clone();
                let effects = effects.clone();
                Worker::builder(inbox.clone())
                    .concurrency(8)
                    .handler(move |delivery| {
                        let inbox = handle.clone();
                        let effects = effects.clone();
                        async move {
                            let mut tx = inbox.pool().begin().await?;
                            sqlx::query(&format!("INSERT INTO {effects} (key) VALUES ($1)"))
                                .bind(delivery.key())
                                .execute(&mut *tx)
                                .await?;
                            inbox
                                .complete_in(&mut *tx, delivery.key(), delivery.token())
                                .await?;
                            tx.commit().await?;
                            Ok(())
                        }
                    })
                    .build()
                    .unwrap()
            })
            .collect();
        let [first, second] = &workers[..] else {
            unreachable!()
        };
        tokio::join!(
            drain(first, &*inbox, Duration::from_secs(20)),
            drain(second, &*inbox, Duration::from_secs(20)),
        );
        let stats = inbox.stats().await.unwrap();
        assert_eq!((stats.pending, stats.in_flight, stats.done), (0, 0, 100));
        let (rows, distinct): (i64, i64) = sqlx::query_as(&format!(
            "SELECT count(*), count(DISTINCT key) FROM {effects}"
        ))
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!((rows, distinct), (100, 100));

        // A holder whose lease was lost cannot commit its effect.
        let (headers, body) = delivery("evt_stale");
        receiver.handle(&headers, body).await;
        let stale = inbox.lease(1, Duration::from_millis(50)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(120)).await;
        let fresh = inbox.lease(1, Duration::from_secs(60)).await.unwrap();
        let mut tx = pool.begin().await.unwrap();
        sqlx::query(&format!("INSERT INTO {effects} (key) VALUES ('stale')"))
            .execute(&mut *tx)
            .await
            .unwrap();
        let refused = inbox
            .complete_in(&mut *tx, "stripe:evt_stale", &stale[0].token)
            .await;
        assert!(matches!(refused, Err(StoreError::LeaseLost)), "{refused:?}");
        tx.rollback().await.unwrap();
        inbox
            .complete_in(&pool, "stripe:evt_stale", &fresh[0].token)
            .await
            .unwrap();
        // The worker's own completion after the handler's: the same token, still fine.
        inbox
            .complete("stripe:evt_stale", &fresh[0].token)
            .await
            .unwrap();
        let (stale_rows,): (i64,) = sqlx::query_as(&format!(
            "SELECT count(*) FROM {effects} WHERE key = 'stale'"
        ))
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(stale_rows, 0);
        for dropped in [effects.as_str(), table.name()] {
            sqlx::query(&format!("DROP TABLE {dropped}"))
                .execute(&pool)
                .await
                .unwrap();
        }
    }

    /// Enqueues 256 entries at once (so that they share group writes), `spoiled` of them
    /// changed by `spoil`; gives how many enqueues failed, and how many entries were stored.
    async fn enqueue_256_at_once(
        inbox: &Arc<PostgresInbox>,
        spoiled: &[usize],
        spoil: fn(&mut Entry),
    ) -> (usize, u64) {
        let barrier = Arc::new(tokio::sync::Barrier::new(256));
        let tasks = (0..256)
            .map(|n| {
                let inbox = inbox.clone();
                let barrier = barrier.clone();
                let mut entry = plain_entry(&format!("acme:evt_{n}"));
                entry.id = Some(format!("evt_{n}"));
                if spoiled.contains(&n) {
                    spoil(&mut entry);
                }
                tokio::spawn(async move {
                    barrier.wait().await;
                    inbox.enqueue(&entry).await
                })
            })
            .collect();
        let results = futures_join(tasks).await;
        let failed = results.iter().filter(|r| r.is_err()).count();
        let stats = inbox.stats().await.unwrap();
        (failed, stats.pending)
    }

    async fn drop_table(inbox: &PostgresInbox, table: &str) {
        sqlx::query(&format!("DROP TABLE IF EXISTS {table}"))
            .execute(inbox.pool())
            .await
            .unwrap();
    }

    /// Hole: text columns refuse NUL, so an authentic event whose signed id contained one was
    /// answered 503 forever, and so was every other enqueue of its group.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    #[ignore = "needs PostgreSQL at TEST_DATABASE_URL; .ci/run runs it"]
    async fn events_with_nul_in_their_signed_fields_are_stored_with_their_group() {
        let (inbox, table) = own_inbox().await;
        let (failed, stored) = enqueue_256_at_once(&inbox, &[3, 64, 128, 255], |entry| {
            entry.key.push('\u{0}');
            entry.id = Some("evt\u{0}".to_owned());
            entry.event_type = Some("invoice.paid\u{0}".to_owned());
            entry.route_key = Some(RouteKey::new("invoice.paid\u{0}"));
        })
        .await;
        drop_table(&inbox, &table).await;
        assert_eq!((failed, stored), (0, 256));
    }

    /// A row the database refuses (a sender name with NUL, which no receiver configures) fails
    /// its own enqueue only, not the others written in the same group.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    #[ignore = "needs PostgreSQL at TEST_DATABASE_URL; .ci/run runs it"]
    async fn a_row_the_database_refuses_fails_only_its_own_enqueue() {
        let (inbox, table) = own_inbox().await;
        let (failed, stored) = enqueue_256_at_once(&inbox, &[3, 64, 128, 255], |entry| {
            entry.sender = "acme\u{0}".to_owned();
        })
        .await;
        drop_table(&inbox, &table).await;
        assert_eq!((failed, stored), (4, 252));
    }

    /// A table created by an earlier version (text key, id and type; no route key) is migrated
    /// by `create_table`: its rows read back with no route key, its keys stay duplicates, and
    /// NUL-bearing events can be stored.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs PostgreSQL at TEST_DATABASE_URL; .ci/run runs it"]
    async fn an_earlier_table_is_migrated_and_its_rows_kept() {
        let url = servers::database_url();
        let table = servers::PgTable::new("migrated");
        let inbox = PostgresInbox::connect(&url)
            .await
            .unwrap()
            .with_table(table.name())
            .unwrap();
        for statement in [
            format!(
                "CREATE TABLE {table} (
                    key text PRIMARY KEY,
                    sender text NOT NULL,
                    scheme text NOT NULL,
                    event_id text,
                    event_type text,
                    event_timestamp bigint,
                    signed smallint NOT NULL,
                    body bytea NOT NULL,
                    state text NOT NULL DEFAULT 'pending'
                        CHECK (state IN ('pending', 'leased', 'done', 'dead')),
                    attempts integer NOT NULL DEFAULT 0,
                    token text,
                    due_at timestamptz NOT NULL DEFAULT now(),
                    enqueued_at timestamptz NOT NULL DEFAULT now(),
                    finished_at timestamptz,
                    last_error text
                )"
            ),
            format!(
                "INSERT INTO {table} (key, sender, scheme, event_id, event_type, signed, body)
                 VALUES ('stripe:evt_old', 'stripe', 'stripe', 'evt_old', 'invoice.paid', 7,
                         '\\x7b7d'::bytea)"
            ),
        ] {
            sqlx::query(&statement).execute(inbox.pool()).await.unwrap();
        }
        inbox.create_table().await.unwrap();
        inbox.create_table().await.unwrap();
        let mut old = plain_entry("stripe:evt_old");
        old.sender = "stripe".to_owned();
        assert_eq!(inbox.enqueue(&old).await.unwrap(), Enqueued::Duplicate);
        let leased = inbox.lease(5, Duration::from_secs(60)).await.unwrap();
        drop_table(&inbox, &table).await;
        assert_eq!(leased.len(), 1);
        let entry = &leased[0].entry;
        assert_eq!(
            (
                entry.key.as_str(),
                entry.id.as_deref(),
                entry.event_type.as_deref()
            ),
            ("stripe:evt_old", Some("evt_old"), Some("invoice.paid"))
        );
        assert_eq!((&entry.route_key, entry.route_key_signed), (&None, false));
    }

    #[tokio::test]
    #[ignore = "needs PostgreSQL at TEST_DATABASE_URL; .ci/run runs it"]
    async fn an_unreachable_inbox_answers_503_and_acknowledges_nothing() {
        let inbox = PostgresInbox::connect_lazy("postgres://postgres@127.0.0.1:1/test").unwrap();
        let receiver = receiver(Arc::new(inbox));
        let (headers, body) = delivery("evt_down");
        let answer = receiver.handle(&headers, body).await;
        assert_eq!(
            (answer.code(), answer.status().as_u16()),
            ("store_unavailable", 503)
        );
    }

    #[tokio::test]
    #[ignore = "needs PostgreSQL at TEST_DATABASE_URL; .ci/run runs it"]
    async fn connect_names_the_server_and_the_cause() {
        let err = PostgresInbox::connect("postgres://app:s3cr3t@127.0.0.1:1/test")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "cannot connect to PostgreSQL at postgres://app:***@127.0.0.1:1/test: "
            ),
            "{err}"
        );
        assert!(!err.contains("s3cr3t"));
    }

    /// Hole: a password with a raw `/`, `?` or `#` was printed in full.
    #[tokio::test]
    #[ignore = "needs PostgreSQL at TEST_DATABASE_URL; .ci/run runs it"]
    async fn connect_errors_never_show_a_password_whatever_it_contains() {
        for url in [
            "postgres://app:s3cr3t/p4ss@127.0.0.1:1/test",
            "postgres://app:s3cr3t?p4ss@127.0.0.1:1/test",
            "postgres://app:s3cr3t#p4ss@127.0.0.1:1/test",
            "postgres://app:s3cr3t@p4ss@127.0.0.1:1/test",
            "postgres://127.0.0.1:1/test?user=app&password=s3cr3t/p4ss",
        ] {
            let err = PostgresInbox::connect(url).await.unwrap_err();
            for shown in [err.to_string(), format!("{err:?}")] {
                assert!(
                    !shown.contains("s3cr3t") && !shown.contains("p4ss"),
                    "{shown}"
                );
            }
            let err = PostgresInbox::connect_lazy(url).err();
            let shown = format!("{err:?}");
            assert!(
                !shown.contains("s3cr3t") && !shown.contains("p4ss"),
                "{shown}"
            );
        }
    }
}

#[cfg(feature = "postgres")]
conformance!(
    postgres,
    postgres_backend::inbox().await,
    #[ignore = "needs PostgreSQL at TEST_DATABASE_URL; .ci/run runs it"]
);

#[cfg(feature = "redis")]
mod redis_backend {
    use super::*;
    use verihook::inbox::RedisInbox;

    /// An inbox under a prefix of this run's, and the guard that deletes its keys.
    pub(super) async fn inbox() -> (Arc<dyn Inbox>, servers::RedisKeys) {
        let url = servers::redis_url();
        let keys = servers::RedisKeys::new("inbox");
        let inbox = RedisInbox::connect_with_prefix(&url, keys.prefix())
            .await
            .unwrap_or_else(|e| panic!("Redis at {url} is unreachable: {e}"));
        (Arc::new(inbox), keys)
    }

    #[tokio::test]
    #[ignore = "needs Redis at TEST_REDIS_URL; .ci/run runs it"]
    async fn connect_names_the_server_and_the_cause() {
        let err = RedisInbox::connect("redis://:s3cr3t@127.0.0.1:1")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("cannot connect to Redis at redis://:***@127.0.0.1:1: "),
            "{err}"
        );
    }

    /// Hole: a password with a raw `/`, `?` or `#` was printed in full.
    #[tokio::test]
    #[ignore = "needs Redis at TEST_REDIS_URL; .ci/run runs it"]
    async fn connect_errors_never_show_a_password_whatever_it_contains() {
        for url in [
            "redis://:s3cr3t/p4ss@127.0.0.1:1",
            "redis://app:s3cr3t?p4ss@127.0.0.1:1/0",
            "redis://:s3cr3t#p4ss@127.0.0.1:1",
            "redis://:s3cr3t@p4ss@127.0.0.1:1",
        ] {
            let err = RedisInbox::connect(url).await.unwrap_err();
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
conformance!(
    redis,
    redis_backend::inbox().await,
    #[ignore = "needs Redis at TEST_REDIS_URL; .ci/run runs it"]
);

#[tokio::test]
async fn a_receiver_with_an_inbox_takes_no_handler() {
    let built = Receiver::builder()
        .sender("stripe", StripeVerifier::new(SECRET).unwrap())
        .inbox(MemoryInbox::new())
        .handler(|_| async { Ok(()) })
        .build();
    assert_eq!(
        built.unwrap_err().to_string(),
        "a receiver with an inbox runs no handler: give the handler to an inbox::Worker"
    );
    let worker = Worker::builder(MemoryInbox::new()).build();
    assert_eq!(worker.unwrap_err(), verihook::ConfigError::NoHandler);
}

/// An inbox whose backend is down: every operation fails.
#[cfg(all(feature = "axum", feature = "actix"))]
#[derive(Debug)]
struct DownInbox;

#[cfg(all(feature = "axum", feature = "actix"))]
impl Inbox for DownInbox {
    fn enqueue<'a>(
        &'a self,
        _: &'a Entry,
    ) -> verihook::idempotency::BoxFuture<'a, Result<Enqueued, StoreError>> {
        Box::pin(async { Err(StoreError::unavailable("connection refused")) })
    }
    fn lease<'a>(
        &'a self,
        _: usize,
        _: Duration,
    ) -> verihook::idempotency::BoxFuture<'a, Result<Vec<verihook::inbox::Leased>, StoreError>>
    {
        Box::pin(async { Err(StoreError::unavailable("connection refused")) })
    }
    fn extend<'a>(
        &'a self,
        _: &'a str,
        _: &'a ClaimToken,
        _: Duration,
    ) -> verihook::idempotency::BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async { Err(StoreError::unavailable("connection refused")) })
    }
    fn complete<'a>(
        &'a self,
        _: &'a str,
        _: &'a ClaimToken,
    ) -> verihook::idempotency::BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async { Err(StoreError::unavailable("connection refused")) })
    }
    fn retry<'a>(
        &'a self,
        _: &'a str,
        _: &'a ClaimToken,
        _: Duration,
        _: &'a str,
    ) -> verihook::idempotency::BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async { Err(StoreError::unavailable("connection refused")) })
    }
    fn bury<'a>(
        &'a self,
        _: &'a str,
        _: &'a ClaimToken,
        _: &'a str,
        _: &'a str,
    ) -> verihook::idempotency::BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async { Err(StoreError::unavailable("connection refused")) })
    }
    fn supersede<'a>(
        &'a self,
        _: &'a str,
        _: &'a ClaimToken,
    ) -> verihook::idempotency::BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async { Err(StoreError::unavailable("connection refused")) })
    }
    fn find<'a>(
        &'a self,
        _: &'a verihook::inbox::Filter,
    ) -> verihook::idempotency::BoxFuture<'a, Result<Vec<verihook::inbox::Stored>, StoreError>>
    {
        Box::pin(async { Err(StoreError::unavailable("connection refused")) })
    }
    fn replay<'a>(
        &'a self,
        _: &'a verihook::inbox::Filter,
        _: &'a str,
    ) -> verihook::idempotency::BoxFuture<'a, Result<Vec<String>, StoreError>> {
        Box::pin(async { Err(StoreError::unavailable("connection refused")) })
    }
    fn purge<'a>(
        &'a self,
        _: &'a verihook::inbox::Filter,
        _: Duration,
        _: &'a [(String, Option<String>)],
    ) -> verihook::idempotency::BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async { Err(StoreError::unavailable("connection refused")) })
    }
    fn issues(
        &self,
        _: usize,
    ) -> verihook::idempotency::BoxFuture<'_, Result<Vec<verihook::inbox::Issue>, StoreError>> {
        Box::pin(async { Err(StoreError::unavailable("connection refused")) })
    }
    fn forget<'a>(
        &'a self,
        _: &'a str,
        _: &'a ClaimToken,
    ) -> verihook::idempotency::BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async { Err(StoreError::unavailable("connection refused")) })
    }
    fn wait<'a>(&'a self, timeout: Duration) -> verihook::idempotency::BoxFuture<'a, ()> {
        Box::pin(tokio::time::sleep(timeout))
    }
    fn stats(
        &self,
    ) -> verihook::idempotency::BoxFuture<'_, Result<verihook::inbox::InboxStats, StoreError>> {
        Box::pin(async { Err(StoreError::unavailable("connection refused")) })
    }
    fn dead_letters(
        &self,
        _: usize,
    ) -> verihook::idempotency::BoxFuture<'_, Result<Vec<verihook::inbox::DeadLetter>, StoreError>>
    {
        Box::pin(async { Err(StoreError::unavailable("connection refused")) })
    }
    fn requeue<'a>(
        &'a self,
        _: &'a str,
    ) -> verihook::idempotency::BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async { Err(StoreError::unavailable("connection refused")) })
    }
}

/// Axum on a port of its own with `/webhooks/stripe` answered from `inbox`; the base URL.
#[cfg(all(feature = "axum", feature = "actix"))]
async fn axum_inbox_server(inbox: Arc<dyn Inbox>) -> String {
    use axum::{routing::post, Extension, Router};
    use verihook::axum::{receive, SenderName};
    let app = Router::new()
        .route(
            "/webhooks/stripe",
            post(receive).layer(Extension(SenderName::new("stripe"))),
        )
        .with_state(receiver(inbox));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

/// The same route on Actix-web, on a thread of its own; the base URL.
#[cfg(all(feature = "axum", feature = "actix"))]
fn actix_inbox_server(inbox: Arc<dyn Inbox>) -> String {
    use actix_web::{web, App, HttpServer};
    use verihook::actix::{receive, SenderName};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let receiver = receiver(inbox);
    std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            let receiver = web::Data::from(receiver);
            HttpServer::new(move || {
                App::new().app_data(receiver.clone()).service(
                    web::resource("/webhooks/stripe")
                        .app_data(SenderName::new("stripe"))
                        .route(web::post().to(receive)),
                )
            })
            .workers(1)
            .listen(listener)
            .unwrap()
            .run()
            .await
            .unwrap();
        });
    });
    base
}

#[cfg(all(feature = "axum", feature = "actix"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_adapters_queue_answer_duplicates_and_refuse_when_the_inbox_is_down() {
    async fn post(base: &str, id: &str) -> (u16, serde_json::Value) {
        let (headers, body) = delivery(id);
        let response = reqwest::Client::new()
            .post(format!("{base}/webhooks/stripe"))
            .headers(headers)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (
            status,
            serde_json::from_str(&response.text().await.unwrap()).unwrap(),
        )
    }
    let inbox: Arc<dyn Inbox> = Arc::new(MemoryInbox::new());
    let axum = axum_inbox_server(inbox.clone()).await;
    let actix = actix_inbox_server(inbox.clone());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, json) = post(&axum, "evt_http").await;
    assert_eq!((status, json["outcome"].as_str()), (200, Some("queued")));
    assert_eq!(json["key"], "stripe:evt_http");
    // The other framework, the same inbox: one entry.
    let (status, json) = post(&actix, "evt_http").await;
    assert_eq!((status, json["outcome"].as_str()), (200, Some("duplicate")));
    let (status, json) = post(&actix, "evt_http_2").await;
    assert_eq!((status, json["outcome"].as_str()), (200, Some("queued")));
    assert_eq!(inbox.stats().await.unwrap().pending, 2);

    // Down: 503, never a 2xx for an event that is not stored.
    let down: Arc<dyn Inbox> = Arc::new(DownInbox);
    for base in [
        axum_inbox_server(down.clone()).await,
        actix_inbox_server(down),
    ] {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (status, json) = post(&base, "evt_lost").await;
        assert_eq!(
            (status, json["error"].as_str()),
            (503, Some("store_unavailable"))
        );
    }
}
