//! The inbox against its floor: how fast a receiver acknowledges webhooks in inbox mode, next
//! to the inline receiver and next to the plainest durable write the backend can do, from 1 to
//! 32 concurrent requests; and how fast workers drain it with a no-op handler.
//!
//! Per backend and concurrency, interleaved in rounds so that a busy machine slows all alike:
//!
//! * `floor`: PostgreSQL, one `INSERT .. ON CONFLICT DO NOTHING` of the same row (key and body)
//!   committed per request from a pool of the same size; Redis, one `XADD` per request,
//!   pipelined by the multiplexed connection;
//! * `inbox`: `Receiver::handle` in inbox mode: verify the Stripe signature, enqueue, answer;
//! * `inline`: `Receiver::handle` with the backend's idempotency store and a no-op handler:
//!   verify, claim, run, complete.
//!
//! * `memory`: the inbox receiver on a `MemoryInbox`: what verifying and enqueueing cost on
//!   this machine without a backend (its ceiling here).
//!
//! Each prints requests per second and the p50 / p99 latency of one request (its
//! acknowledgement), for Redis also the server's main-thread CPU time per request (what an
//! operation costs Redis, which a busy machine changes less than the rates), then worker throughput: events per second for 1 and 4 workers of 32
//! handlers each, draining a full inbox.
//!
//! Run: `TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//!   TEST_REDIS_URL=redis://127.0.0.1:6379 cargo bench --bench inbox --all-features`
//! (`INBOX_BENCH_SECONDS`, default 2, per measurement; `INBOX_BENCH_BACKENDS`, default
//! `memory,postgres,redis`, which to run; `INBOX_BENCH_CLIENTS`, default `1,4,16,32`, the
//! concurrencies; `INBOX_BENCH_DRAIN=0` skips the worker throughput).
#![allow(clippy::unwrap_used)] // a benchmark that cannot set up should fail loudly

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::HeaderMap;
use verihook::idempotency::{ClaimToken, IdempotencyStore, PostgresStore, RedisStore};
use verihook::inbox::{Inbox, PostgresInbox, RedisInbox, Worker};
use verihook::testing::StripeSigner;
use verihook::{providers::stripe::StripeVerifier, scheme::FixedClock, Receiver};

const SECRET: &str = "whsec_inbox_bench_secret";
const NOW: u64 = 1_700_000_000;
const CONCURRENCY: [usize; 4] = [1, 4, 16, 32];

/// The concurrencies to measure: `INBOX_BENCH_CLIENTS` (comma-separated) or [`CONCURRENCY`].
fn concurrencies() -> Vec<usize> {
    std::env::var("INBOX_BENCH_CLIENTS")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| CONCURRENCY.to_vec())
}

/// Whether `INBOX_BENCH_BACKENDS` (comma-separated; all when unset) names `backend`.
fn wanted(backend: &str) -> bool {
    std::env::var("INBOX_BENCH_BACKENDS")
        .map_or(true, |s| s.split(',').any(|b| b.trim() == backend))
}

/// Whether to measure worker throughput (`INBOX_BENCH_DRAIN=0` skips it).
fn drain_wanted() -> bool {
    std::env::var("INBOX_BENCH_DRAIN").map_or(true, |s| s != "0")
}

type Request = (HeaderMap, Bytes);
type Op = Arc<dyn Fn(usize) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// A body the size of a small real event, with a unique id, about an object of its own (the
/// inbox orders Stripe events by object: `INBOX_BENCH_ONE_OBJECT=1` makes every event one
/// object's, all waiting on one ordering key).
fn body(run: &str, n: usize) -> Bytes {
    let object = if std::env::var("INBOX_BENCH_ONE_OBJECT").is_ok_and(|v| v == "1") {
        "in_1QDemoInvoice".to_owned()
    } else {
        format!("in_{run}_{n}")
    };
    Bytes::from(format!(
        r#"{{"id":"evt_{run}_{n}","object":"event","type":"invoice.paid","data":{{"object":{{"id":"{object}","amount_paid":4200,"currency":"eur","customer":"cus_Demo123","status":"paid","lines":{{"total_count":1}}}}}}}}"#
    ))
}

fn signed(run: &str, count: usize) -> Arc<Vec<Request>> {
    let signer = StripeSigner::new(SECRET).unwrap();
    Arc::new(
        (0..count)
            .map(|n| {
                let body = body(run, n);
                (signer.sign(NOW, &body), body)
            })
            .collect(),
    )
}

fn verifier() -> StripeVerifier {
    StripeVerifier::new(SECRET)
        .unwrap()
        .with_clock(FixedClock::at_unix(NOW))
}

struct Measured {
    rate: f64,
    p50: Duration,
    p99: Duration,
    /// Redis's main-thread CPU time per request, in µs, while the Redis rows are measured.
    server: Option<f64>,
}

/// The Redis server whose CPU time `measure` reads (set while the Redis rows are measured):
/// what one request costs the server, whatever the load on the machine does to the rates.
static WATCHED: std::sync::Mutex<Option<::redis::Client>> = std::sync::Mutex::new(None);

/// The watched Redis's main-thread CPU time in seconds (user + system).
async fn server_cpu() -> Option<f64> {
    let client = WATCHED.lock().unwrap().clone()?;
    let mut connection = client.get_multiplexed_async_connection().await.ok()?;
    let info: String = ::redis::cmd("INFO")
        .arg("cpu")
        .query_async(&mut connection)
        .await
        .ok()?;
    Some(
        info.lines()
            .filter_map(|line| {
                line.strip_prefix("used_cpu_sys_main_thread:")
                    .or_else(|| line.strip_prefix("used_cpu_user_main_thread:"))
            })
            .filter_map(|value| value.trim().parse::<f64>().ok())
            .sum(),
    )
}

/// Runs `op(n)` for n = 0, 1, ... from `concurrency` tasks for `seconds`.
async fn measure(op: Op, concurrency: usize, seconds: f64, limit: usize) -> Measured {
    let next = Arc::new(AtomicUsize::new(0));
    let cpu = server_cpu().await;
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (op, next) = (op.clone(), next.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= limit {
                        break;
                    }
                    let at = Instant::now();
                    op(n).await;
                    latencies.push(at.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    let server = match (cpu, server_cpu().await) {
        (Some(before), Some(after)) => Some((after - before) * 1e6 / latencies.len() as f64),
        _ => None,
    };
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Measured {
        rate: latencies.len() as f64 / elapsed,
        p50: at(0.5),
        p99: at(0.99),
        server,
    }
}

fn receiver_op(receiver: Arc<Receiver>, requests: Arc<Vec<Request>>, expect: &'static str) -> Op {
    Arc::new(move |n| {
        let (receiver, requests) = (receiver.clone(), requests.clone());
        Box::pin(async move {
            let (headers, body) = &requests[n];
            let outcome = receiver.handle(headers, body.clone()).await;
            assert_eq!(outcome.code(), expect, "{outcome}");
        })
    })
}

fn print_row(backend: &str, concurrency: usize, name: &str, m: &Measured, floor: f64) {
    println!(
        "{backend:<9} {concurrency:>2} clients  {name:<7} {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  {:>4.0}% of floor",
        m.rate,
        m.p50.as_secs_f64() * 1e3,
        m.p99.as_secs_f64() * 1e3,
        100.0 * m.rate / floor
    );
    if let Some(server) = m.server {
        println!("{:>43} Redis CPU {server:>5.1} µs per request", "");
    }
}

/// Events per second for `workers` workers of 32 handlers draining `events` enqueued events.
async fn drain_rate(inbox: Arc<dyn Inbox>, workers: usize, events: usize, run: &str) -> f64 {
    let requests = signed(run, events);
    let receiver = Arc::new(
        Receiver::builder()
            .verifier(verifier())
            .inbox(inbox.clone())
            .build()
            .unwrap(),
    );
    measure(receiver_op(receiver, requests, "queued"), 32, 600.0, events).await;
    let started = Instant::now();
    let done = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let (inbox, done) = (inbox.clone(), done.clone());
            tokio::spawn(async move {
                let counter = done.clone();
                let worker = Worker::builder(inbox)
                    .concurrency(32)
                    .handler(move |_| {
                        counter.fetch_add(1, Ordering::Relaxed);
                        async { Ok(()) }
                    })
                    .build()
                    .unwrap();
                while done.load(Ordering::Relaxed) < events {
                    if worker.run_once().await.unwrap() == 0 {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    events as f64 / started.elapsed().as_secs_f64()
}

/// For each concurrency, interleaves the floor, the inbox receiver and the inline receiver in
/// two rounds of `count` pre-signed requests each, and prints the better round of each.
async fn compare(
    backend: &str,
    run: &str,
    seconds: f64,
    count: usize,
    floor: &dyn Fn(String, Arc<Vec<Request>>) -> Op,
    inbox: &Arc<dyn Inbox>,
    store: &Arc<dyn IdempotencyStore>,
) {
    for concurrency in concurrencies() {
        let mut best: [Option<Measured>; 3] = [None, None, None];
        for round in 0..2 {
            let tag = format!("{run}_{concurrency}_{round}");
            let requests = signed(&tag, count);
            let floor = measure(
                floor(tag.clone(), requests.clone()),
                concurrency,
                seconds,
                count,
            )
            .await;
            let inbox_receiver = Arc::new(
                Receiver::builder()
                    .verifier(verifier())
                    .inbox(inbox.clone())
                    .build()
                    .unwrap(),
            );
            let queued = measure(
                receiver_op(inbox_receiver, requests, "queued"),
                concurrency,
                seconds,
                count,
            )
            .await;
            let inline_receiver = Arc::new(
                Receiver::builder()
                    .verifier(verifier())
                    .store(store.clone())
                    .handler(|_| async { Ok(()) })
                    .build()
                    .unwrap(),
            );
            let inline = measure(
                receiver_op(
                    inline_receiver,
                    signed(&format!("{tag}_inline"), count),
                    "processed",
                ),
                concurrency,
                seconds,
                count,
            )
            .await;
            for (slot, m) in best.iter_mut().zip([floor, queued, inline]) {
                if slot.as_ref().is_none_or(|kept| m.rate > kept.rate) {
                    *slot = Some(m);
                }
            }
        }
        let floor = best[0].as_ref().map_or(1.0, |m| m.rate);
        for (m, name) in best.iter().zip(["floor", "inbox", "inline"]) {
            print_row(backend, concurrency, name, m.as_ref().unwrap(), floor);
        }
    }
}

/// Worker throughput for 1 and 4 workers of 32 handlers, 20,000 events each time.
async fn print_drain_rates(backend: &str, inbox: Arc<dyn Inbox>, run: &str) {
    for workers in [1, 4] {
        let rate = drain_rate(
            inbox.clone(),
            workers,
            20_000,
            &format!("{run}_drain_{workers}"),
        )
        .await;
        println!(
            "{backend:<9} worker throughput, {workers} worker(s) x 32 handlers: {rate:.0} events/s"
        );
    }
}

async fn postgres(url: &str, seconds: f64) {
    let run = ClaimToken::generate();
    let run = run.as_str();
    let table = format!("bench_inbox_{run}");
    let inbox = Arc::new(
        PostgresInbox::connect(url)
            .await
            .unwrap()
            .with_table(&table)
            .unwrap(),
    );
    inbox.create_table().await.unwrap();
    let pool = inbox.pool().clone();
    let floor_table = format!("bench_floor_{run}");
    sqlx::query(&format!(
        "CREATE TABLE {floor_table} (key text PRIMARY KEY, body bytea NOT NULL)"
    ))
    .execute(&pool)
    .await
    .unwrap();
    let store = PostgresStore::connect(url)
        .await
        .unwrap()
        .with_table(&format!("bench_store_{run}"))
        .unwrap();
    store.create_table().await.unwrap();
    let store: Arc<dyn IdempotencyStore> = Arc::new(store);
    let floor_statement: Arc<str> = Arc::from(format!(
        "INSERT INTO {floor_table} (key, body) VALUES ($1, $2) ON CONFLICT DO NOTHING"
    ));
    let floor = move |tag: String, requests: Arc<Vec<Request>>| -> Op {
        let (pool, statement) = (pool.clone(), floor_statement.clone());
        Arc::new(move |n| {
            let (pool, requests, statement) = (pool.clone(), requests.clone(), statement.clone());
            let key = format!("stripe:evt_{tag}_{n}");
            Box::pin(async move {
                sqlx::query(&statement)
                    .bind(key)
                    .bind(requests[n].1.as_ref())
                    .execute(&pool)
                    .await
                    .unwrap();
            })
        })
    };
    let inbox_dyn: Arc<dyn Inbox> = inbox.clone();
    compare("postgres", run, seconds, 60_000, &floor, &inbox_dyn, &store).await;
    let pool = inbox.pool().clone();
    sqlx::query(&format!("TRUNCATE {table}"))
        .execute(&pool)
        .await
        .unwrap();
    if drain_wanted() {
        print_drain_rates("postgres", inbox.clone(), run).await;
    }
    let applied = format!("{table}_applied");
    for dropped in [table, applied, floor_table, format!("bench_store_{run}")] {
        sqlx::query(&format!("DROP TABLE IF EXISTS {dropped}"))
            .execute(&pool)
            .await
            .unwrap();
    }
}

async fn redis(url: &str, seconds: f64) {
    let run = ClaimToken::generate();
    let run = run.as_str();
    let prefix = format!("bench:{{{run}}}:");
    let inbox = Arc::new(RedisInbox::connect_with_prefix(url, &prefix).await.unwrap());
    let client = ::redis::Client::open(url).unwrap();
    let connection = ::redis::aio::ConnectionManager::new(client).await.unwrap();
    let store: Arc<dyn IdempotencyStore> = Arc::new(
        RedisStore::connect(url)
            .await
            .unwrap()
            .with_prefix(format!("{prefix}store:")),
    );
    let floor_stream = format!("{prefix}floor");
    let floor_connection = connection.clone();
    let floor = move |tag: String, requests: Arc<Vec<Request>>| -> Op {
        let (connection, stream) = (floor_connection.clone(), floor_stream.clone());
        Arc::new(move |n| {
            let (mut connection, requests, stream) =
                (connection.clone(), requests.clone(), stream.clone());
            let key = format!("stripe:evt_{tag}_{n}");
            Box::pin(async move {
                let _: String = ::redis::cmd("XADD")
                    .arg(&stream)
                    .arg("*")
                    .arg("key")
                    .arg(key)
                    .arg("body")
                    .arg(requests[n].1.as_ref())
                    .query_async(&mut connection)
                    .await
                    .unwrap();
            })
        })
    };
    let inbox_dyn: Arc<dyn Inbox> = inbox.clone();
    *WATCHED.lock().unwrap() = Some(::redis::Client::open(url).unwrap());
    compare("redis", run, seconds, 100_000, &floor, &inbox_dyn, &store).await;
    *WATCHED.lock().unwrap() = None;
    if drain_wanted() {
        print_drain_rates("redis", inbox.clone(), run).await;
    }
    // Remove the run's keys, a SCAN page at a time.
    let mut connection = connection.clone();
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = ::redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(5000)
            .query_async(&mut connection)
            .await
            .unwrap();
        if !keys.is_empty() {
            let _: () = ::redis::cmd("UNLINK")
                .arg(&keys)
                .query_async(&mut connection)
                .await
                .unwrap();
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
}

/// What verifying and enqueueing cost without a backend: the receiver's own ceiling.
async fn memory(seconds: f64) {
    for concurrency in concurrencies() {
        let run = ClaimToken::generate();
        let requests = signed(&format!("{}_{concurrency}", run.as_str()), 400_000);
        let receiver = Arc::new(
            Receiver::builder()
                .verifier(verifier())
                .inbox(verihook::inbox::MemoryInbox::new())
                .build()
                .unwrap(),
        );
        let m = measure(
            receiver_op(receiver, requests.clone(), "queued"),
            concurrency,
            seconds,
            requests.len(),
        )
        .await;
        print_row("memory", concurrency, "inbox", &m, m.rate);
    }
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing and should be quick.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let seconds: f64 = std::env::var("INBOX_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        if wanted("memory") {
            memory(seconds).await;
        }
        if wanted("postgres") {
            match std::env::var("TEST_DATABASE_URL") {
                Ok(url) => postgres(&url, seconds).await,
                Err(_) => println!("postgres: skipped (set TEST_DATABASE_URL)"),
            }
        }
        if wanted("redis") {
            match std::env::var("TEST_REDIS_URL") {
                Ok(url) => redis(&url, seconds).await,
                Err(_) => println!("redis: skipped (set TEST_REDIS_URL)"),
            }
        }
    });
}
