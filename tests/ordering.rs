//! Ordering keys end to end: what the receiver stores (the provider's ordering key and
//! stamp, the app's pointer, redacted bodies, trace context), what workers do with it (one
//! at a time per key, in the provider's order, the stale-event guard, replays), and the same
//! with four workers in two processes on the real PostgreSQL and Redis.
#![allow(clippy::unwrap_used)] // a test that cannot set up should fail loudly
#![cfg(feature = "inbox")]

#[cfg(any(feature = "postgres", feature = "redis"))]
use std::collections::HashMap;
#[cfg(any(feature = "postgres", feature = "redis"))]
use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;
#[cfg(any(feature = "postgres", feature = "redis"))]
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::HeaderMap;
use verihook::inbox::{
    Fate, Filter, Inbox, MemoryInbox, OrderBy, Redaction, Status, Worker, REDACTED,
};
use verihook::scheme::FixedClock;
use verihook::testing::StripeSigner;
use verihook::{providers::stripe::StripeVerifier, HandlerError, Receiver};

#[cfg(any(feature = "redis", feature = "postgres"))]
#[path = "support/servers.rs"]
mod servers;

const SECRET: &str = "whsec_ordering_suite_secret";
const NOW: u64 = 1_700_000_000;

/// A signed Stripe event `id` about subscription `object`, created at `created`.
fn stripe(id: &str, object: &str, created: u64, email: &str) -> (HeaderMap, Bytes) {
    let body = Bytes::from(
        serde_json::json!({
            "id": id,
            "type": "customer.subscription.updated",
            "created": created,
            "data": { "object": { "id": object, "customer_email": email } },
        })
        .to_string(),
    );
    let headers = StripeSigner::new(SECRET).unwrap().sign(NOW, &body);
    (headers, body)
}

fn receiver(
    inbox: Arc<dyn Inbox>,
    configure: impl FnOnce(verihook::receiver::ReceiverBuilder) -> verihook::receiver::ReceiverBuilder,
) -> Receiver {
    let builder = Receiver::builder().sender(
        "stripe",
        StripeVerifier::new(SECRET)
            .unwrap()
            .with_clock(FixedClock::at_unix(NOW)),
    );
    configure(builder).inbox(inbox).build().unwrap()
}

#[cfg(any(feature = "postgres", feature = "redis"))]
/// The object id and `created` of a Stripe body.
fn object_and_created(body: &[u8]) -> (String, u64) {
    let value: serde_json::Value = serde_json::from_slice(body).unwrap();
    (
        value["data"]["object"]["id"].as_str().unwrap().to_owned(),
        value["created"].as_u64().unwrap(),
    )
}

#[tokio::test]
async fn stripe_events_are_ordered_by_their_object_and_created() {
    let inbox = Arc::new(MemoryInbox::new());
    let receiver = receiver(inbox.clone(), |b| b);
    let (headers, body) = stripe("evt_1", "sub_42", NOW - 5, "a@example.com");
    assert_eq!(receiver.handle(&headers, body).await.code(), "queued");
    let leased = inbox.lease(1, Duration::from_secs(60)).await.unwrap();
    assert_eq!(leased[0].entry.ordering_key.as_deref(), Some("sub_42"));
    assert_eq!(leased[0].entry.stamp, Some((NOW - 5) * 1000));
}

#[tokio::test]
async fn the_app_names_its_own_ordering_or_turns_it_off() {
    let inbox = Arc::new(MemoryInbox::new());
    let pointer = receiver(inbox.clone(), |b| {
        b.ordering("stripe", OrderBy::pointer("/data/object/customer_email"))
    });
    let (headers, body) = stripe("evt_p", "sub_1", NOW, "who@example.com");
    pointer.handle(&headers, body).await;
    let off_inbox = Arc::new(MemoryInbox::new());
    let off = receiver(off_inbox.clone(), |b| b.ordering("stripe", OrderBy::Off));
    let (headers, body) = stripe("evt_o", "sub_1", NOW, "who@example.com");
    off.handle(&headers, body).await;
    let by_pointer = inbox.lease(1, Duration::from_secs(60)).await.unwrap();
    assert_eq!(
        by_pointer[0].entry.ordering_key.as_deref(),
        Some("who@example.com")
    );
    assert_eq!(
        by_pointer[0].entry.stamp,
        Some(NOW * 1000),
        "no stamp pointer: the signed timestamp"
    );
    let unordered = off_inbox.lease(1, Duration::from_secs(60)).await.unwrap();
    assert_eq!(unordered[0].entry.ordering_key, None);
}

#[tokio::test]
async fn a_valid_traceparent_is_kept_and_anything_else_dropped() {
    let inbox = Arc::new(MemoryInbox::new());
    let receiver = receiver(inbox.clone(), |b| b);
    let valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    for (id, traceparent) in [
        ("evt_t1", valid),
        (
            "evt_t2",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\nforged log line",
        ),
        (
            "evt_t3",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        ),
    ] {
        let (mut headers, body) = stripe(id, id, NOW, "x@example.com");
        headers.insert(
            "traceparent",
            traceparent
                .parse()
                .unwrap_or_else(|_| http::HeaderValue::from_static("bad")),
        );
        receiver.handle(&headers, body).await;
    }
    let mut leased = inbox.lease(5, Duration::from_secs(60)).await.unwrap();
    leased.sort_by(|a, b| a.entry.key.cmp(&b.entry.key));
    let kept: Vec<Option<&str>> = leased
        .iter()
        .map(|l| l.entry.traceparent.as_deref())
        .collect();
    assert_eq!(kept, [Some(valid), None, None]);
}

/// Redaction happens before the write: the store never holds the value.
async fn redacted_fields_never_reach_the_store(
    inbox: Arc<dyn Inbox>,
    raw: impl AsyncFn(&str) -> Vec<u8>,
) {
    let receiver = receiver(inbox.clone(), |b| {
        b.redact(Redaction::new().sender("stripe", ["/data/object/customer_email"]))
    });
    let (headers, body) = stripe("evt_r", "sub_r", NOW, "private@example.com");
    assert_eq!(receiver.handle(&headers, body).await.code(), "queued");
    let stored = raw("stripe:evt_r").await;
    let text = String::from_utf8_lossy(&stored);
    assert!(!text.contains("private@example.com"), "{text}");
    assert!(text.contains(REDACTED), "{text}");
    let found = inbox.find(&Filter::new()).await.unwrap();
    assert!(found[0].redacted);
    let leased = inbox.lease(1, Duration::from_secs(60)).await.unwrap();
    let value: serde_json::Value = serde_json::from_slice(&leased[0].entry.body).unwrap();
    assert_eq!(value["data"]["object"]["customer_email"], REDACTED);
    assert_eq!(value["data"]["object"]["id"], "sub_r");
}

#[tokio::test]
async fn redacted_fields_never_reach_memory() {
    let inbox = Arc::new(MemoryInbox::new());
    let reader = inbox.clone();
    redacted_fields_never_reach_the_store(inbox, async move |key: &str| {
        let leased = reader.lease(1, Duration::from_millis(1)).await.unwrap();
        assert_eq!(leased[0].entry.key, key);
        tokio::time::sleep(Duration::from_millis(5)).await; // the lease ends: leased again later
        leased[0].entry.body.to_vec()
    })
    .await;
}

/// What a test's handler or observer saw, in order.
type Seen<T> = Arc<Mutex<Vec<T>>>;

/// A worker that records what its handler saw, and what became of each attempt.
fn recording_worker(
    inbox: Arc<dyn Inbox>,
    stale_guard: bool,
) -> (Worker, Seen<String>, Seen<Fate>) {
    let seen: Seen<String> = Arc::default();
    let fates: Seen<Fate> = Arc::default();
    let (handled, settled) = (seen.clone(), fates.clone());
    let worker = Worker::builder(inbox)
        .stale_guard(stale_guard)
        .on_attempt(move |attempt| settled.lock().unwrap().push(attempt.fate.clone()))
        .handler(move |delivery| {
            let handled = handled.clone();
            async move {
                handled
                    .lock()
                    .unwrap()
                    .push(delivery.id().unwrap_or_default().into_owned());
                Ok::<(), HandlerError>(())
            }
        })
        .build()
        .unwrap();
    (worker, seen, fates)
}

/// With the guard on, an event older than one already applied for its object is settled
/// as superseded without the handler; a replay of it runs anyway; with the guard off, it runs.
async fn the_stale_guard_supersedes_an_older_event_after_a_newer_one(inbox: Arc<dyn Inbox>) {
    let receiver = receiver(inbox.clone(), |b| b);
    let (worker, seen, fates) = recording_worker(inbox.clone(), true);
    let (headers, body) = stripe("evt_new", "sub_s", NOW - 10, "x@example.com");
    receiver.handle(&headers, body).await;
    assert_eq!(worker.run_once().await.unwrap(), 1);
    let (headers, body) = stripe("evt_old", "sub_s", NOW - 20, "x@example.com");
    receiver.handle(&headers, body).await;
    assert_eq!(worker.run_once().await.unwrap(), 1);
    assert_eq!(
        *seen.lock().unwrap(),
        ["evt_new"],
        "the older event did not run"
    );
    assert!(
        matches!(
            fates.lock().unwrap().last(),
            Some(Fate::Superseded { stamp, applied }) if *stamp == (NOW - 20) * 1000 && *applied == (NOW - 10) * 1000
        ),
        "{:?}",
        fates.lock().unwrap()
    );
    let superseded = inbox
        .find(&Filter::new().status(Status::Superseded))
        .await
        .unwrap();
    assert_eq!(superseded.len(), 1);
    assert_eq!(superseded[0].key, "stripe:evt_old");
    // A redelivery is a duplicate.
    let (headers, body) = stripe("evt_old", "sub_s", NOW - 20, "x@example.com");
    assert_eq!(receiver.handle(&headers, body).await.code(), "duplicate");
    // A replay runs it through today's handler even so.
    let replayed = inbox
        .replay(&Filter::new().status(Status::Superseded), "audit")
        .await
        .unwrap();
    assert_eq!(replayed, ["stripe:evt_old"]);
    assert_eq!(worker.run_once().await.unwrap(), 1);
    assert_eq!(*seen.lock().unwrap(), ["evt_new", "evt_old"]);
    // Without the guard, an older event runs.
    let (plain, seen_plain, _) = recording_worker(inbox.clone(), false);
    let (headers, body) = stripe("evt_older", "sub_s", NOW - 30, "x@example.com");
    receiver.handle(&headers, body).await;
    assert_eq!(plain.run_once().await.unwrap(), 1);
    assert_eq!(*seen_plain.lock().unwrap(), ["evt_older"]);
}

#[tokio::test]
async fn the_stale_guard_on_memory() {
    the_stale_guard_supersedes_an_older_event_after_a_newer_one(Arc::new(MemoryInbox::new())).await;
}

#[cfg(any(feature = "postgres", feature = "redis"))]
/// What one handler run recorded: the ordering key, the stamp, when it started and ended
/// (nanoseconds since the epoch).
#[derive(Debug, Clone)]
struct Run {
    object: String,
    created: u64,
    start: u128,
    end: u128,
}

#[cfg(any(feature = "postgres", feature = "redis"))]
fn nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

#[cfg(any(feature = "postgres", feature = "redis"))]
/// Two workers of 4 handlers each on `inbox`, appending each run to the file `log` (shared
/// by both processes' workers through the file), until nothing is pending or in flight for
/// a while, or `within` passes.
async fn run_workers(inbox: Arc<dyn Inbox>, log: &std::path::Path, within: Duration) {
    let file = Arc::new(Mutex::new(
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap(),
    ));
    let make = || {
        let file = file.clone();
        Worker::builder(inbox.clone())
            .concurrency(4)
            .lease(Duration::from_secs(10))
            .poll_interval(Duration::from_millis(20))
            .handler(move |delivery| {
                let file = file.clone();
                async move {
                    let (object, created) = object_and_created(delivery.event().body());
                    let start = nanos();
                    tokio::time::sleep(handler_time()).await;
                    let end = nanos();
                    writeln!(file.lock().unwrap(), "{object} {created} {start} {end}").unwrap();
                    Ok::<(), HandlerError>(())
                }
            })
            .build()
            .unwrap()
    };
    let workers = [Arc::new(make()), Arc::new(make())];
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running: Vec<_> = workers
        .iter()
        .map(|worker| {
            let (worker, mut stopped) = (worker.clone(), stopped.clone());
            tokio::spawn(async move {
                worker
                    .run(
                        async move {
                            let _ = stopped.wait_for(|s| *s).await;
                        },
                        Duration::from_secs(5),
                    )
                    .await;
            })
        })
        .collect();
    let deadline = Instant::now() + within;
    let mut idle_since: Option<Instant> = None;
    while Instant::now() < deadline {
        let stats = inbox.stats().await.unwrap();
        if stats.pending == 0 && stats.in_flight == 0 {
            let since = *idle_since.get_or_insert_with(Instant::now);
            if since.elapsed() > Duration::from_millis(500) {
                break;
            }
        } else {
            idle_since = None;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    stop.send(true).unwrap();
    for task in running {
        task.await.unwrap();
    }
}

/// How long each handler run takes: `VERIHOOK_ORDERING_HANDLER_MS` (default 2), so that the
/// throughput comparison can be repeated with handlers that do real work.
#[cfg(any(feature = "postgres", feature = "redis"))]
fn handler_time() -> Duration {
    let ms = std::env::var("VERIHOOK_ORDERING_HANDLER_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(2);
    Duration::from_millis(ms)
}

#[cfg(any(feature = "postgres", feature = "redis"))]
fn read_runs(log: &std::path::Path) -> Vec<Run> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|line| {
            let parts: Vec<&str> = line.split(' ').collect();
            Run {
                object: parts[0].to_owned(),
                created: parts[1].parse().unwrap(),
                start: parts[2].parse().unwrap(),
                end: parts[3].parse().unwrap(),
            }
        })
        .collect()
}

#[cfg(any(feature = "postgres", feature = "redis"))]
/// How many events, over how many ordering keys.
const EVENTS: usize = 2000;
#[cfg(any(feature = "postgres", feature = "redis"))]
const KEYS: usize = 50;

#[cfg(any(feature = "postgres", feature = "redis"))]
/// Delivers `EVENTS` events over `KEYS` subscriptions, shuffled, each twice, through a
/// receiver into `inbox`; gives how long the workers then took.
async fn ordering_across_two_processes(
    inbox: Arc<dyn Inbox>,
    order: OrderBy,
    child_env: (&str, String),
) -> Duration {
    let receiver = Arc::new(receiver(inbox.clone(), |b| {
        b.ordering("stripe", order.clone())
    }));
    // Event i is about subscription i % KEYS, created at NOW - EVENTS + i (distinct stamps,
    // in order of i); delivered shuffled, each twice.
    let mut plan: Vec<usize> = (0..EVENTS).chain(0..EVENTS).collect();
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for i in (1..plan.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        plan.swap(i, usize::try_from(state % (i as u64 + 1)).unwrap());
    }
    let chunks: Vec<Vec<usize>> = plan
        .chunks(plan.len() / 16 + 1)
        .map(<[usize]>::to_vec)
        .collect();
    let mut tasks = Vec::new();
    for chunk in chunks {
        let receiver = receiver.clone();
        tasks.push(tokio::spawn(async move {
            let mut queued = 0;
            for i in chunk {
                let (headers, body) = stripe(
                    &format!("evt_{i}"),
                    &format!("sub_{}", i % KEYS),
                    NOW - EVENTS as u64 + i as u64,
                    "x@example.com",
                );
                let outcome = receiver.handle(&headers, body).await;
                assert!(
                    matches!(outcome.code(), "queued" | "duplicate"),
                    "{outcome:?}"
                );
                queued += usize::from(outcome.code() == "queued");
            }
            queued
        }));
    }
    let mut queued = 0;
    for task in tasks {
        queued += task.await.unwrap();
    }
    assert_eq!(
        queued, EVENTS,
        "each event stored once, its duplicate answered duplicate"
    );

    let dir = std::env::temp_dir().join(format!(
        "verihook-ordering-{}-{}",
        std::process::id(),
        nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let (parent_log, child_log) = (dir.join("parent.log"), dir.join("child.log"));
    // The second process: this test binary again, running only `child_process_workers`.
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_process_workers",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(child_env.0, child_env.1)
        .env("VERIHOOK_ORDERING_LOG", &child_log)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    run_workers(inbox.clone(), &parent_log, Duration::from_secs(120)).await;
    let status = child.wait().unwrap();
    assert!(status.success(), "the child process failed: {status}");

    let parent_runs = read_runs(&parent_log);
    let child_runs = read_runs(&child_log);
    assert!(
        !parent_runs.is_empty() && !child_runs.is_empty(),
        "both processes worked: {} and {}",
        parent_runs.len(),
        child_runs.len()
    );
    let mut runs: Vec<Run> = parent_runs.into_iter().chain(child_runs).collect();
    assert_eq!(runs.len(), EVENTS, "each event ran exactly once");
    let _ = std::fs::remove_dir_all(&dir);
    // From the first handler's start to the last one's end: the processes' start-up and the
    // wait for an idle inbox are not the inbox's throughput.
    let first = runs.iter().map(|run| run.start).min().unwrap_or_default();
    let last = runs.iter().map(|run| run.end).max().unwrap_or_default();
    let took = Duration::from_nanos(u64::try_from(last - first).unwrap_or(u64::MAX));
    if order == OrderBy::Off {
        return took;
    }
    runs.sort_by_key(|run| run.start);
    let mut by_key: HashMap<String, Vec<Run>> = HashMap::new();
    for run in runs {
        by_key.entry(run.object.clone()).or_default().push(run);
    }
    assert_eq!(by_key.len(), KEYS);
    for (object, runs) in &by_key {
        for pair in runs.windows(2) {
            assert!(
                pair[0].end <= pair[1].start,
                "{object}: two runs at once: {pair:?}"
            );
            assert!(
                pair[0].created < pair[1].created,
                "{object}: out of the provider's order: {pair:?}"
            );
        }
    }
    took
}

#[cfg(any(feature = "postgres", feature = "redis"))]
/// The second process's two workers (run by `ordering_across_two_processes` through this
/// test binary; does nothing when run on its own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the second process of the two-process ordering tests"]
async fn child_process_workers() {
    let Ok(log) = std::env::var("VERIHOOK_ORDERING_LOG") else {
        return;
    };
    let log = std::path::PathBuf::from(log);
    #[cfg(feature = "postgres")]
    if let Ok(table) = std::env::var("VERIHOOK_ORDERING_PG_TABLE") {
        let inbox = verihook::inbox::PostgresInbox::connect(&servers::database_url())
            .await
            .unwrap()
            .with_table(&table)
            .unwrap();
        run_workers(Arc::new(inbox), &log, Duration::from_secs(120)).await;
        return;
    }
    #[cfg(feature = "redis")]
    if let Ok(prefix) = std::env::var("VERIHOOK_ORDERING_REDIS_PREFIX") {
        let inbox =
            verihook::inbox::RedisInbox::connect_with_prefix(&servers::redis_url(), &prefix)
                .await
                .unwrap();
        run_workers(Arc::new(inbox), &log, Duration::from_secs(120)).await;
        return;
    }
    panic!("no backend named for the child process");
}

#[cfg(feature = "postgres")]
mod postgres_backend {
    use super::*;
    use verihook::inbox::PostgresInbox;

    async fn inbox() -> (Arc<PostgresInbox>, servers::PgTable) {
        let url = servers::database_url();
        let table = servers::PgTable::new("order");
        let inbox = PostgresInbox::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {url} is unreachable: {e}"))
            .with_table(table.name())
            .unwrap();
        inbox.create_table().await.unwrap();
        (Arc::new(inbox), table)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs PostgreSQL at TEST_DATABASE_URL; .ci/run runs it"]
    async fn four_workers_in_two_processes_keep_each_key_in_order() {
        let (inbox, table) = inbox().await;
        let env = ("VERIHOOK_ORDERING_PG_TABLE", table.name().to_owned());
        let ordered = ordering_across_two_processes(inbox, OrderBy::Provider, env.clone()).await;
        let (plain_inbox, plain_table) = super::postgres_backend::inbox().await;
        let env = ("VERIHOOK_ORDERING_PG_TABLE", plain_table.name().to_owned());
        let plain = ordering_across_two_processes(plain_inbox, OrderBy::Off, env).await;
        println!(
            "PostgreSQL, {EVENTS} events, handlers of {:?}: ordered over {KEYS} keys {:.0}/s, unordered {:.0}/s, ratio {:.2}",
            handler_time(),
            EVENTS as f64 / ordered.as_secs_f64(),
            EVENTS as f64 / plain.as_secs_f64(),
            plain.as_secs_f64() / ordered.as_secs_f64()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs PostgreSQL at TEST_DATABASE_URL; .ci/run runs it"]
    async fn the_stale_guard_on_postgres() {
        let (inbox, _table) = inbox().await;
        the_stale_guard_supersedes_an_older_event_after_a_newer_one(inbox).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs PostgreSQL at TEST_DATABASE_URL; .ci/run runs it"]
    async fn redacted_fields_never_reach_postgres() {
        let (inbox, table) = inbox().await;
        let pool = inbox.pool().clone();
        let name = table.name().to_owned();
        redacted_fields_never_reach_the_store(inbox, async move |key: &str| {
            let row: (Vec<u8>,) =
                sqlx::query_as(&format!("SELECT body FROM {name} WHERE key = $1"))
                    .bind(key.as_bytes())
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            row.0
        })
        .await;
    }
}

#[cfg(feature = "redis")]
mod redis_backend {
    use super::*;
    use verihook::inbox::RedisInbox;

    async fn inbox() -> (Arc<RedisInbox>, servers::RedisKeys) {
        let url = servers::redis_url();
        let keys = servers::RedisKeys::new("order");
        let inbox = RedisInbox::connect_with_prefix(&url, keys.prefix())
            .await
            .unwrap_or_else(|e| panic!("Redis at {url} is unreachable: {e}"));
        (Arc::new(inbox), keys)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs Redis at TEST_REDIS_URL; .ci/run runs it"]
    async fn four_workers_in_two_processes_keep_each_key_in_order() {
        let (inbox, keys) = inbox().await;
        let env = ("VERIHOOK_ORDERING_REDIS_PREFIX", keys.prefix().to_owned());
        let ordered = ordering_across_two_processes(inbox, OrderBy::Provider, env).await;
        let (plain_inbox, plain_keys) = super::redis_backend::inbox().await;
        let env = (
            "VERIHOOK_ORDERING_REDIS_PREFIX",
            plain_keys.prefix().to_owned(),
        );
        let plain = ordering_across_two_processes(plain_inbox, OrderBy::Off, env).await;
        println!(
            "Redis, {EVENTS} events, handlers of {:?}: ordered over {KEYS} keys {:.0}/s, unordered {:.0}/s, ratio {:.2}",
            handler_time(),
            EVENTS as f64 / ordered.as_secs_f64(),
            EVENTS as f64 / plain.as_secs_f64(),
            plain.as_secs_f64() / ordered.as_secs_f64()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs Redis at TEST_REDIS_URL; .ci/run runs it"]
    async fn the_stale_guard_on_redis() {
        let (inbox, _keys) = inbox().await;
        the_stale_guard_supersedes_an_older_event_after_a_newer_one(inbox).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs Redis at TEST_REDIS_URL; .ci/run runs it"]
    async fn redacted_fields_never_reach_redis() {
        let (inbox, keys) = inbox().await;
        let url = servers::redis_url();
        let prefix = keys.prefix().to_owned();
        redacted_fields_never_reach_the_store(inbox, async move |key: &str| {
            // Every value stored under the prefix: the entry's hash, the stream, the sets.
            let client = redis::Client::open(url.as_str()).unwrap();
            let mut conn = client.get_multiplexed_async_connection().await.unwrap();
            let names: Vec<String> = redis::cmd("KEYS")
                .arg(format!("{prefix}*"))
                .query_async(&mut conn)
                .await
                .unwrap();
            let mut all = Vec::new();
            for name in names {
                let kind: String = redis::cmd("TYPE")
                    .arg(&name)
                    .query_async(&mut conn)
                    .await
                    .unwrap();
                if kind == "hash" {
                    let fields: Vec<Vec<u8>> = redis::cmd("HVALS")
                        .arg(&name)
                        .query_async(&mut conn)
                        .await
                        .unwrap();
                    for field in fields {
                        all.extend(field);
                        all.push(b' ');
                    }
                }
            }
            assert!(!all.is_empty(), "nothing stored for {key}");
            all
        })
        .await;
    }
}

/// Each built-in provider's ordering key, read from an event signed as it sends them.
#[test]
fn every_provider_declares_its_ordering_key() {
    use serde_json::json;
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let cases = [
        (
            "stripe",
            "customer.subscription.updated",
            json!({"id": "sub_9"}),
            Some("sub_9"),
        ),
        (
            "github",
            "pull_request.opened",
            json!({"action": "opened", "number": 7, "pull_request": {"number": 7, "updated_at": "2026-12-06T10:00:00Z"}, "repository": {"full_name": "octo/app"}}),
            Some("octo/app#7"),
        ),
        (
            "github",
            "workflow_job.completed",
            json!({"action": "completed", "workflow_job": {"id": 41}, "repository": {"full_name": "octo/app"}}),
            Some("octo/app/workflow_job/41"),
        ),
        (
            "github",
            "push",
            json!({"ref": "refs/heads/main", "repository": {"full_name": "octo/app"}}),
            Some("octo/app"),
        ),
        (
            "shopify",
            "orders/updated",
            json!({"id": 820982911946154508_u64, "updated_at": "2026-12-06T10:00:00-05:00"}),
            Some("820982911946154508"),
        ),
        (
            "gitlab",
            "merge_request.update",
            json!({"object_kind": "merge_request", "project": {"id": 15}, "object_attributes": {"iid": 3, "action": "update", "updated_at": "2026-12-06 10:00:00 UTC"}}),
            Some("15/merge_request/3"),
        ),
        (
            "paddle",
            "subscription.updated",
            json!({"id": "sub_01h"}),
            Some("sub_01h"),
        ),
        (
            "linear",
            "Issue.update",
            json!({"id": "2174add1"}),
            Some("2174add1"),
        ),
        (
            "zoom",
            "meeting.updated",
            json!({"object": {"id": "1234567890"}}),
            Some("1234567890"),
        ),
        // Square names the object in `data.id` (the kit writes one), its fields in `data.object`.
        (
            "square",
            "payment.updated",
            json!({"payment": {"id": "KkAkhd"}}),
            Some("data.id"),
        ),
        (
            "standard-webhooks",
            "user.updated",
            json!({"id": "user_1"}),
            None,
        ),
        ("slack", "app_mention", json!({"type": "app_mention"}), None),
    ];
    for (provider, event_type, payload, expected) in cases {
        let request =
            verihook::testing::signed_event(provider, secret, event_type, payload).unwrap();
        let verihook::event::Verified::Event(event) = request.verify().unwrap() else {
            panic!("{provider}: a handshake")
        };
        let entry = verihook::inbox::Entry::new(&event, "k".to_owned());
        let body: serde_json::Value = serde_json::from_slice(request.body()).unwrap();
        let expected = match expected {
            Some("data.id") => body["data"]["id"].as_str(),
            other => other,
        };
        assert_eq!(
            entry.ordering_key.as_deref(),
            expected,
            "{provider} {event_type}"
        );
        if expected.is_some() && provider != "github" || event_type.starts_with("pull_request") {
            assert!(entry.stamp.is_some(), "{provider} {event_type}: no stamp");
        }
    }
}
