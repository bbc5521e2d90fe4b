//! Idempotency store throughput: claim + complete per event.
//!
//! * memory: two threads, each claiming and completing distinct keys;
//! * Redis and PostgreSQL (when `TEST_REDIS_URL` / `TEST_DATABASE_URL` are set): one event at a
//!   time (latency) and 32 at a time (throughput), plus the server-side count of commands or
//!   transactions per event, read from the server itself.
//!
//! Run: `TEST_REDIS_URL=redis://127.0.0.1:6379 TEST_DATABASE_URL=postgres://postgres@127.0.0.1/test \
//!   cargo bench --bench store --all-features`
#![allow(clippy::unwrap_used)] // a benchmark that cannot set up should fail loudly

use std::sync::Arc;
use std::time::{Duration, Instant};

use verihook::idempotency::{Claim, ClaimToken, IdempotencyStore, MemoryStore};

const LEASE: Duration = Duration::from_secs(60);
const RETAIN: Duration = Duration::from_secs(600);

async fn claim_and_complete<S: IdempotencyStore>(store: &S, key: &str) {
    let Claim::Acquired(token) = store.claim(key, LEASE).await.unwrap() else {
        panic!("{key} was not new")
    };
    store.complete(key, &token, RETAIN).await.unwrap();
}

/// Events per second with `concurrency` tasks sharing `events` distinct keys.
async fn rate<S: IdempotencyStore + 'static>(
    store: Arc<S>,
    events: usize,
    concurrency: usize,
) -> f64 {
    let run = ClaimToken::generate();
    let start = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|t| {
            let (store, run) = (store.clone(), run);
            tokio::spawn(async move {
                for n in (t..events).step_by(concurrency) {
                    claim_and_complete(&*store, &format!("bench:{}:{n}", run.as_str())).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    events as f64 / start.elapsed().as_secs_f64()
}

fn memory() {
    let store = MemoryStore::with_capacity(4_000_000);
    let per_thread = 500_000;
    let start = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..2 {
            let store = &store;
            scope.spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                runtime.block_on(async {
                    for n in 0..per_thread {
                        claim_and_complete(store, &format!("t{t}:{n}")).await;
                    }
                });
            });
        }
    });
    let elapsed = start.elapsed();
    let events = 2 * per_thread;
    println!(
        "| memory | 2 threads, {events} events | {:.0} events/s | {:.0} ns per claim+complete per thread | 0 (in process) |",
        events as f64 / elapsed.as_secs_f64(),
        elapsed.as_nanos() as f64 / per_thread as f64
    );
}

async fn report<S: IdempotencyStore + 'static>(
    name: &str,
    store: S,
    per_event: impl std::future::Future<Output = String>,
) {
    let store = Arc::new(store);
    let sequential = rate(store.clone(), 2_000, 1).await;
    let concurrent = rate(store, 20_000, 32).await;
    println!(
        "| {name} | 1 at a time | {sequential:.0} events/s | {:.0} µs per event (claim + complete) | {} |",
        1e6 / sequential,
        per_event.await
    );
    println!("| {name} | 32 at a time | {concurrent:.0} events/s | | |");
}

#[cfg(feature = "redis")]
/// Calls so far of the commands a client sends to the store: `SET` (claims) and `EVALSHA`
/// (complete, release). The scripts' own `SET` inside Redis counts under `set` too.
async fn redis_calls(url: &str) -> (u64, u64) {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut conn)
        .await
        .unwrap();
    let calls = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("cmdstat_{name}:calls=")))
            .and_then(|rest| rest.split(',').next())
            .map_or(0, |n| n.parse().unwrap())
    };
    (calls("set"), calls("evalsha"))
}

/// Transactions committed in this database so far, as seen from the probe's one backend (the
/// flush makes that backend's own counts current; the two statements here count as two).
#[cfg(feature = "postgres")]
async fn postgres_transactions(pool: &sqlx::PgPool) -> i64 {
    use sqlx::Row;
    sqlx::query("SELECT pg_stat_force_next_flush()")
        .execute(pool)
        .await
        .unwrap();
    let row = sqlx::query(
        "SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = current_database()",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    row.try_get::<i64, _>("n").unwrap()
}

#[tokio::main]
async fn main() {
    println!("| store | load | rate | per event | server operations per event |");
    println!("|---|---|---|---|---|");
    memory();

    #[cfg(feature = "redis")]
    if let Ok(url) = std::env::var("TEST_REDIS_URL") {
        let store = verihook::idempotency::RedisStore::connect(&url)
            .await
            .unwrap()
            .with_prefix("verihook-bench:");
        let probe = store.clone();
        let url2 = url.clone();
        let per_event = async move {
            let events = 1_000;
            let (set0, eval0) = redis_calls(&url2).await;
            let run = ClaimToken::generate();
            for n in 0..events {
                claim_and_complete(&probe, &format!("probe:{}:{n}", run.as_str())).await;
            }
            let (set1, eval1) = redis_calls(&url2).await;
            let evalsha = (eval1 - eval0) as f64 / events as f64;
            // Each complete's script runs one SET inside Redis: the client's own SETs are the rest.
            let client_set = (set1 - set0) as f64 / events as f64 - evalsha;
            format!(
                "{:.2} round trips ({client_set:.2} SET NX PX GET + {evalsha:.2} EVALSHA)",
                client_set + evalsha
            )
        };
        report("redis", store, per_event).await;
    } else {
        println!("| redis | skipped: TEST_REDIS_URL not set | | | |");
    }

    #[cfg(feature = "postgres")]
    if let Ok(url) = std::env::var("TEST_DATABASE_URL") {
        let store = verihook::idempotency::PostgresStore::connect(&url)
            .await
            .unwrap()
            .with_table("verihook_bench_events")
            .unwrap();
        store.create_table().await.unwrap();
        // One connection, so every statement runs on the backend whose counts are flushed.
        let one = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .unwrap();
        let probe = verihook::idempotency::PostgresStore::from_pool(one.clone())
            .with_table("verihook_bench_events")
            .unwrap();
        let per_event = async move {
            let events = 1_000;
            let before = postgres_transactions(&one).await;
            let run = ClaimToken::generate();
            for n in 0..events {
                claim_and_complete(&probe, &format!("probe:{}:{n}", run.as_str())).await;
            }
            let after = postgres_transactions(&one).await;
            let per_event = (after - before - 2) as f64 / events as f64;
            format!("{per_event:.2} statements, each its own transaction")
        };
        report("postgres", store.clone(), per_event).await;
        sqlx::query("DROP TABLE verihook_bench_events")
            .execute(store.pool())
            .await
            .unwrap();
    } else {
        println!("| postgres | skipped: TEST_DATABASE_URL not set | | | |");
    }
}
