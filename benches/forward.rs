//! Forwarding against its floor: events per second that inbox workers forward to NATS JetStream
//! and RabbitMQ, next to the same publisher publishing the same messages directly, at 1 and 16
//! in flight.
//!
//! Per broker and number in flight, interleaved in rounds so that a busy machine slows all
//! alike:
//!
//! * `direct` (the floor): `Publisher::publish` of prepared messages (each a 1 KiB Stripe
//!   event, made by the forwarder's own `Message::from_delivery`), `n` at a time, each awaiting
//!   the broker's confirmation;
//! * `forwarded`: a `Worker` of concurrency `n` with `Forwarder::handler` draining an inbox
//!   holding as many events: lease, publish, confirmation, complete. On a `MemoryInbox` (what
//!   forwarding itself costs) and on a `PostgresInbox` (with `TEST_DATABASE_URL`: the durable
//!   path, whose lease and completion are PostgreSQL round trips).
//!
//! Each round's events have ids of their own, so the stream's duplicate window never drops one.
//! Prints events per second per round and the median of the per-round ratios.
//!
//! Run: `TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench forward
//! --all-features` (`FORWARD_BENCH_EVENTS`, default 4000 per measurement; `FORWARD_BENCH_ROUNDS`,
//! default 3; `FORWARD_BENCH_BROKERS`, default `nats,amqp`; `FORWARD_BENCH_INBOXES`, default
//! `memory,postgres`).
#![allow(clippy::unwrap_used)] // a benchmark that cannot set up should fail loudly

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use verihook::forward::{amqp::AmqpPublisher, nats::NatsPublisher, Forwarder, Message, Publisher};
use verihook::inbox::{Inbox, MemoryInbox, PostgresInbox, Worker};
use verihook::testing::StripeSigner;

#[path = "../tests/support/brokers.rs"]
mod brokers;
#[path = "../tests/support/inbox_kit.rs"]
#[allow(dead_code)] // `delivery` and `drain` are the inbox suites'
mod inbox_kit;

use inbox_kit::NOW;
const STREAM: &str = "VH_FORWARD_BENCH";
const EXCHANGE: &str = "vh_forward_bench";

fn setting(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn wanted(list: &str, default: &str, item: &str) -> bool {
    setting(list, default).split(',').any(|b| b.trim() == item)
}

/// Stores `events` Stripe events of round `round` (1 KiB bodies, 50 subscriptions) in `inbox`.
async fn fill(inbox: Arc<dyn Inbox>, round: &str, events: usize) {
    let receiver = inbox_kit::receiver(inbox);
    let signer = StripeSigner::new(inbox_kit::SECRET).unwrap();
    for i in 0..events {
        let mut body = serde_json::json!({
            "id": format!("evt_{round}_{i}"),
            "type": "customer.subscription.updated",
            "created": NOW + i as u64,
            "data": { "object": { "id": format!("sub_{}", i % 50), "note": "" } },
        })
        .to_string();
        let pad = 1024usize.saturating_sub(body.len());
        body = body.replacen(
            "\"note\":\"\"",
            &format!("\"note\":\"{}\"", "x".repeat(pad)),
            1,
        );
        let headers = signer.sign(NOW, body.as_bytes());
        let outcome = receiver.handle(&headers, body.into()).await;
        assert_eq!(outcome.code(), "queued");
    }
}

/// The messages the forwarder would publish for `events` events of round `round`.
async fn messages(round: &str, events: usize) -> Vec<Message> {
    let inbox = Arc::new(MemoryInbox::new());
    fill(inbox.clone(), round, events).await;
    let made = Arc::new(Mutex::new(Vec::with_capacity(events)));
    let worker = {
        let made = made.clone();
        Worker::builder(inbox)
            .handler(move |delivery| {
                made.lock().unwrap().push(Message::from_delivery(&delivery));
                async { Ok(()) }
            })
            .concurrency(64)
            .build()
            .unwrap()
    };
    while worker.run_once().await.unwrap() > 0 {}
    let made = std::mem::take(&mut *made.lock().unwrap());
    made
}

/// Events per second publishing `messages` directly, `in_flight` at a time.
async fn direct(publisher: &Arc<dyn Publisher>, messages: &[Message], in_flight: usize) -> f64 {
    let started = Instant::now();
    futures_util::stream::iter(messages)
        .map(|message| async move { publisher.publish(message).await.unwrap() })
        .buffer_unordered(in_flight)
        .collect::<Vec<()>>()
        .await;
    messages.len() as f64 / started.elapsed().as_secs_f64()
}

/// Events per second that one worker of concurrency `in_flight` forwards from `inbox`, which
/// holds `events` events.
async fn forwarded(
    publisher: &Arc<dyn Publisher>,
    inbox: Arc<dyn Inbox>,
    events: usize,
    in_flight: usize,
) -> f64 {
    let worker = Worker::builder(inbox.clone())
        .handler(Forwarder::from_arc(publisher.clone()).handler())
        .concurrency(in_flight)
        .poll_interval(Duration::from_millis(5))
        .build()
        .unwrap();
    let started = Instant::now();
    let drained = async {
        loop {
            let stats = inbox.stats().await.unwrap();
            assert_eq!(stats.dead, 0, "a publish failed for good");
            if stats.done >= events as u64 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    worker.run(drained, Duration::from_secs(5)).await;
    events as f64 / started.elapsed().as_secs_f64()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

async fn publisher(broker: &str) -> Arc<dyn Publisher> {
    if broker == "nats" {
        return Arc::new(
            NatsPublisher::builder()
                .subject("vhbench.{sender}.{type}")
                .unwrap()
                .create_stream(STREAM, ["vhbench.>"])
                .connect(&brokers::nats_url())
                .await
                .unwrap(),
        );
    }
    let publisher = AmqpPublisher::builder()
        .exchange(EXCHANGE)
        .declare_exchange(true)
        .connect(&brokers::amqp_url())
        .await
        .unwrap();
    let (_connection, channel) = brokers::amqp_channel().await;
    brokers::declare_queue(&channel, EXCHANGE).await;
    brokers::bind_all(&channel, EXCHANGE, EXCHANGE)
        .await
        .unwrap();
    Arc::new(publisher)
}

/// Removes what the benchmark made on `broker`.
async fn clean(broker: &str) {
    if broker == "nats" {
        let _ = brokers::jetstream().await.delete_stream(STREAM).await;
    } else {
        brokers::remove_amqp(EXCHANGE).await;
    }
}

async fn new_inbox(kind: &str, table: &str) -> Arc<dyn Inbox> {
    if kind == "memory" {
        return Arc::new(MemoryInbox::new());
    }
    let inbox = PostgresInbox::connect(&std::env::var("TEST_DATABASE_URL").unwrap())
        .await
        .unwrap()
        .with_table(table)
        .unwrap();
    drop_tables(table).await;
    inbox.create_table().await.unwrap();
    Arc::new(inbox)
}

/// Drops the inbox table `table` and the table of applied stamps beside it.
async fn drop_tables(table: &str) {
    let pool = sqlx::PgPool::connect(&std::env::var("TEST_DATABASE_URL").unwrap())
        .await
        .unwrap();
    sqlx::query(&format!("DROP TABLE IF EXISTS {table}, {table}_applied"))
        .execute(&pool)
        .await
        .unwrap();
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing and should be quick.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let events: usize = setting("FORWARD_BENCH_EVENTS", "4000").parse().unwrap();
    let rounds: usize = setting("FORWARD_BENCH_ROUNDS", "3").parse().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let table = format!("vh_forward_bench_{}", std::process::id());
        let mut inboxes = vec![];
        if wanted("FORWARD_BENCH_INBOXES", "memory,postgres", "memory") {
            inboxes.push("memory");
        }
        if wanted("FORWARD_BENCH_INBOXES", "memory,postgres", "postgres")
            && std::env::var("TEST_DATABASE_URL").is_ok()
        {
            inboxes.push("postgres");
        }
        for broker in ["nats", "amqp"] {
            if !wanted("FORWARD_BENCH_BROKERS", "nats,amqp", broker) {
                continue;
            }
            clean(broker).await;
            let publisher = publisher(broker).await;
            for in_flight in [1, 16] {
                for &kind in &inboxes {
                    let mut ratios = Vec::new();
                    for round in 0..rounds {
                        let tag = format!("{broker}{in_flight}{kind}{round}");
                        let prepared = messages(&format!("{tag}d"), events).await;
                        let inbox = new_inbox(kind, &table).await;
                        fill(inbox.clone(), &format!("{tag}f"), events).await;
                        // Alternate which goes first, so that drift hits both alike.
                        let (floor, rate) = if round % 2 == 0 {
                            let floor = direct(&publisher, &prepared, in_flight).await;
                            (floor, forwarded(&publisher, inbox, events, in_flight).await)
                        } else {
                            let rate = forwarded(&publisher, inbox, events, in_flight).await;
                            (direct(&publisher, &prepared, in_flight).await, rate)
                        };
                        println!(
                            "{broker} in_flight={in_flight:>2} inbox={kind:<8} round {round}: \
                             direct {floor:>8.0}/s  forwarded {rate:>8.0}/s  ({:.0}%)",
                            100.0 * rate / floor
                        );
                        ratios.push(rate / floor);
                    }
                    println!(
                        "{broker} in_flight={in_flight:>2} inbox={kind:<8} median: forwarded \
                         {:.0}% of direct",
                        100.0 * median(ratios)
                    );
                }
            }
            clean(broker).await;
        }
        if inboxes.contains(&"postgres") {
            drop_tables(&table).await;
        }
    });
}
