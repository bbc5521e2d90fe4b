//! Forwarding to brokers on the real NATS JetStream and RabbitMQ: 2,000 Stripe events through
//! the receiver into a PostgreSQL inbox and on to each broker by forwarding workers in two other
//! processes, one of which is SIGKILLed mid-run and restarted, while a TCP proxy this test controls cuts
//! the worker's broker connection for a few seconds. Then every acknowledged event is on the
//! broker, and a consumer using `verihook::forward::Consumer` runs each key exactly once, per
//! ordering key in the provider's order. Also: the clear errors of a missing stream or
//! exchange, and a message no queue takes.
//!
//! Needs `TEST_DATABASE_URL`, and NATS (`TEST_NATS_URL`, default `nats://127.0.0.1:4222`) and
//! RabbitMQ (`TEST_AMQP_URL`, default `amqp://guest:guest@127.0.0.1:5672/%2f`); `.ci/run`
//! runs it with `--ignored`.
#![allow(clippy::unwrap_used)] // a test that cannot set up should fail loudly

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt as _;
use http::HeaderMap;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;
use verihook::forward::{
    amqp::AmqpPublisher, nats::NatsPublisher, Consumed, Consumer, Forwarder, Message,
    PublishErrorKind, Publisher,
};
use verihook::idempotency::MemoryStore;
use verihook::inbox::{Backoff, Inbox, OrderBy, PostgresInbox, Worker};
use verihook::scheme::FixedClock;
use verihook::testing::StripeSigner;
use verihook::{providers::stripe::StripeVerifier, Receiver};

#[path = "support/servers.rs"]
mod servers;

#[path = "support/brokers.rs"]
mod brokers;
use brokers::{amqp_url, nats_url};

const SECRET: &str = "whsec_forward_suite_secret";
const NOW: u64 = 1_700_000_000;
const EVENTS: usize = 2_000;
const KEYS: usize = 50;

/// `host:port` of a broker URL.
fn address(url: &str) -> SocketAddr {
    let rest = url.split("://").nth(1).unwrap();
    let rest = rest.rsplit('@').next().unwrap();
    let host_port = rest.split('/').next().unwrap();
    let host_port = host_port.replace("localhost", "127.0.0.1");
    host_port.parse().unwrap()
}

/// A signed Stripe event `i`: about subscription `i % KEYS`, created at `NOW - EVENTS + i`.
fn stripe(i: usize) -> (HeaderMap, Bytes) {
    let body = Bytes::from(
        serde_json::json!({
            "id": format!("evt_{i}"),
            "type": "customer.subscription.updated",
            "created": NOW - EVENTS as u64 + i as u64,
            "data": { "object": { "id": format!("sub_{}", i % KEYS) } },
        })
        .to_string(),
    );
    let headers = StripeSigner::new(SECRET).unwrap().sign(NOW, &body);
    (headers, body)
}

/// A TCP proxy between the forwarding worker and the broker that the test can cut: every
/// open connection is dropped, and new ones are closed at once, until it is restored.
struct Proxy {
    port: u16,
    cut: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<AbortHandle>>>,
    accept: AbortHandle,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let connections: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let accept = {
            let (cut, connections) = (cut.clone(), connections.clone());
            tokio::spawn(async move {
                loop {
                    let Ok((mut inbound, _)) = listener.accept().await else {
                        continue;
                    };
                    if cut.load(Ordering::SeqCst) {
                        drop(inbound);
                        continue;
                    }
                    let task = tokio::spawn(async move {
                        if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    connections.lock().unwrap().push(task.abort_handle());
                }
            })
            .abort_handle()
        };
        Self {
            port,
            cut,
            connections,
            accept,
        }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Broker {
    Nats,
    Amqp,
}

/// The forwarding worker in another process: this test binary again, running only
/// `child_forwarding_worker`, publishing through the proxy on `port`.
fn spawn_worker(broker: Broker, table: &str, name: &str, port: u16) -> std::process::Child {
    std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_forwarding_worker",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("VERIHOOK_FORWARD_BROKER", format!("{broker:?}"))
        .env("VERIHOOK_FORWARD_TABLE", table)
        .env("VERIHOOK_FORWARD_NAME", name)
        .env("VERIHOOK_FORWARD_PORT", port.to_string())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// The publisher a forwarding worker uses: through `port` (the proxy) to the stream or
/// exchange `name`, which must exist (the test created it).
async fn publisher(broker: Broker, name: &str, port: u16) -> Arc<dyn Publisher> {
    match broker {
        Broker::Nats => Arc::new(
            NatsPublisher::builder()
                .subject(&format!("{name}.{{sender}}.{{type}}"))
                .unwrap()
                .require_stream(name)
                .ack_timeout(Duration::from_secs(2))
                .connect(&format!("nats://127.0.0.1:{port}"))
                .await
                .unwrap(),
        ),
        Broker::Amqp => Arc::new(
            AmqpPublisher::builder()
                .exchange(name)
                .routing_key("{sender}.{ordering_key}")
                .unwrap()
                .confirm_timeout(Duration::from_secs(2))
                .connect(&format!("amqp://guest:guest@127.0.0.1:{port}/%2f"))
                .await
                .unwrap(),
        ),
    }
}

/// The second process (run by `forwarded_exactly_once_in_order` through this test binary;
/// does nothing when run on its own): one forwarding worker, 16 in flight, until killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the forwarding worker process of the broker tests"]
async fn child_forwarding_worker() {
    let Ok(broker) = std::env::var("VERIHOOK_FORWARD_BROKER") else {
        return;
    };
    let broker = if broker == "Nats" {
        Broker::Nats
    } else {
        Broker::Amqp
    };
    let table = std::env::var("VERIHOOK_FORWARD_TABLE").unwrap();
    let name = std::env::var("VERIHOOK_FORWARD_NAME").unwrap();
    let port: u16 = std::env::var("VERIHOOK_FORWARD_PORT")
        .unwrap()
        .parse()
        .unwrap();
    let inbox = PostgresInbox::connect(&servers::database_url())
        .await
        .unwrap()
        .with_table(&table)
        .unwrap();
    let worker = Worker::builder(inbox)
        .handler(Forwarder::from_arc(publisher(broker, &name, port).await).handler())
        .concurrency(16)
        .lease(Duration::from_secs(2))
        .backoff(Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_millis(1_000),
        })
        .max_attempts(1_000)
        .poll_interval(Duration::from_millis(50))
        .build()
        .unwrap();
    // Until the test kills it; never longer than the test could last.
    worker
        .run(tokio::time::sleep(Duration::from_secs(300)), Duration::ZERO)
        .await;
}

/// What the consumer saw: each run of its handler (key, ordering key, stamp), and how many
/// messages the broker held.
struct Consumption {
    runs: Vec<(String, String, u64)>,
    messages: usize,
}

/// Consumes every message of the stream `name` in order, through `Consumer`.
async fn consume_nats(name: &str) -> Consumption {
    let stream = brokers::jetstream().await.get_stream(name).await.unwrap();
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            ack_policy: async_nats::jetstream::consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut messages = consumer
        .stream()
        .heartbeat(Duration::from_secs(1))
        .expires(Duration::from_secs(2))
        .messages()
        .await
        .unwrap();
    let mut read = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let next = tokio::time::timeout(Duration::from_secs(3), messages.next()).await;
        match next {
            Ok(Some(Ok(message))) => read.push(verihook::forward::nats::read(&message).unwrap()),
            Ok(Some(Err(error))) => panic!("reading the stream: {error}"),
            Ok(None) | Err(_) => break,
        }
        assert!(Instant::now() < deadline, "the stream never ended");
    }
    consume(read).await
}

/// Consumes every message of the queue `name` in order, through `Consumer`.
async fn consume_amqp(name: &str) -> Consumption {
    let (_connection, channel) = brokers::amqp_channel().await;
    let mut read = Vec::new();
    while let Some(message) = channel
        .basic_get(
            name.into(),
            lapin::options::BasicGetOptions { no_ack: true },
        )
        .await
        .unwrap()
    {
        read.push(verihook::forward::amqp::read(&message.delivery).unwrap());
    }
    consume(read).await
}

async fn consume(read: Vec<Message>) -> Consumption {
    let consumer = Consumer::new(MemoryStore::new()).namespace("suite");
    let runs = Arc::new(Mutex::new(Vec::new()));
    for message in &read {
        let runs = runs.clone();
        let (ordering_key, stamp) = (message.ordering_key.clone(), message.stamp);
        let consumed = consumer
            .consume(message, |event| async move {
                runs.lock().unwrap().push((
                    event.idempotency_key(),
                    ordering_key.unwrap(),
                    stamp.unwrap(),
                ));
                Ok(())
            })
            .await
            .unwrap();
        assert!(matches!(consumed, Consumed::Ran | Consumed::Duplicate));
    }
    let runs = runs.lock().unwrap().clone();
    Consumption {
        runs,
        messages: read.len(),
    }
}

/// The stream or exchange-and-queue `name`, created for one test and removed after it.
struct Destination {
    broker: Broker,
    name: String,
}

impl Destination {
    async fn create(broker: Broker) -> Self {
        let name = format!(
            "vh_fwd_{}_{}",
            servers::run_id(),
            format!("{broker:?}").to_lowercase()
        );
        match broker {
            Broker::Nats => {
                let jetstream = brokers::jetstream().await;
                let _ = jetstream.delete_stream(&name).await;
                jetstream
                    .create_stream(async_nats::jetstream::stream::Config {
                        name: name.clone(),
                        subjects: vec![format!("{name}.>")],
                        duplicate_window: Duration::from_secs(120),
                        ..Default::default()
                    })
                    .await
                    .unwrap();
            }
            Broker::Amqp => {
                let (_connection, channel) = brokers::amqp_channel().await;
                let durable = lapin::options::ExchangeDeclareOptions {
                    durable: true,
                    ..Default::default()
                };
                channel
                    .exchange_declare(
                        name.as_str().into(),
                        lapin::ExchangeKind::Topic,
                        durable,
                        Default::default(),
                    )
                    .await
                    .unwrap();
                brokers::declare_queue(&channel, &name).await;
                brokers::bind_all(&channel, &name, &name).await.unwrap();
            }
        }
        Self { broker, name }
    }

    async fn remove(&self) {
        match self.broker {
            Broker::Nats => {
                let jetstream = brokers::jetstream().await;
                jetstream.delete_stream(&self.name).await.unwrap();
            }
            Broker::Amqp => brokers::remove_amqp(&self.name).await,
        }
    }
}

/// Waits until `done` of the inbox's events are done.
async fn until_done(inbox: &PostgresInbox, done: u64, within: Duration) -> u64 {
    let deadline = Instant::now() + within;
    loop {
        let stats = inbox.stats().await.unwrap();
        assert_eq!(stats.dead, 0, "no event may become a dead letter");
        if stats.done >= done {
            return stats.done;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {done} events done in {within:?}: {stats:?}",
            stats.done
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn forwarded_exactly_once_in_order(broker: Broker) {
    let table = servers::PgTable::new("fwd");
    let inbox = PostgresInbox::connect(&servers::database_url())
        .await
        .unwrap()
        .with_table(table.name())
        .unwrap();
    inbox.create_table().await.unwrap();
    let inbox = Arc::new(inbox);
    let destination = Destination::create(broker).await;
    let upstream = address(&match broker {
        Broker::Nats => nats_url(),
        Broker::Amqp => amqp_url(),
    });
    let proxy = Proxy::start(upstream).await;
    let receiver = Receiver::builder()
        .sender(
            "stripe",
            StripeVerifier::new(SECRET)
                .unwrap()
                .with_clock(FixedClock::at_unix(NOW)),
        )
        .ordering("stripe", OrderBy::Provider)
        .inbox(inbox.clone())
        .build()
        .unwrap();

    // Two forwarding processes on the one inbox; the first is killed and restarted mid-run.
    let spawn = || spawn_worker(broker, table.name(), &destination.name, proxy.port);
    let mut workers = [spawn(), spawn()];
    // Events in each subscription's order, subscriptions interleaved; every event delivered
    // twice (the second time a few events later), as a provider that retries does.
    let mut acknowledged = HashSet::new();
    let mut killed_at = None;
    let mut cut_at = None;
    let mut cut_until = None;
    for i in 0..EVENTS + 7 {
        for n in [Some(i), i.checked_sub(7)].into_iter().flatten() {
            if n >= EVENTS {
                continue;
            }
            let (headers, body) = stripe(n);
            let outcome = receiver.handle(&headers, body).await;
            assert_eq!(outcome.status().as_u16(), 200, "{outcome:?}");
            acknowledged.insert(format!("stripe:evt_{n}"));
        }
        let done = inbox.stats().await.unwrap().done;
        if killed_at.is_none() && done >= 300 {
            workers[0].kill().unwrap();
            workers[0].wait().unwrap();
            killed_at = Some(done);
            workers[0] = spawn();
        }
        if killed_at.is_some() && cut_at.is_none() && done >= 900 {
            proxy.cut();
            cut_at = Some(done);
            cut_until = Some(Instant::now() + Duration::from_secs(3));
        }
        if cut_until.is_some_and(|until| Instant::now() >= until) {
            proxy.restore();
            cut_until = None;
        }
        // Paced like a provider's traffic, so that the kill and the cut fall mid-run.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    if let Some(until) = cut_until {
        tokio::time::sleep(until.saturating_duration_since(Instant::now())).await;
        proxy.restore();
    }
    let killed_at = killed_at.expect("the worker was never killed: it forwarded too slowly");
    let cut_at = cut_at.expect("the connection was never cut: the worker forwarded too slowly");
    assert!(killed_at < EVENTS as u64 && cut_at < EVENTS as u64);
    assert_eq!(acknowledged.len(), EVENTS);
    until_done(&inbox, EVENTS as u64, Duration::from_secs(120)).await;
    for worker in &mut workers {
        worker.kill().unwrap();
        worker.wait().unwrap();
    }
    // The kill and the cut cost attempts: the events they caught were published again.
    let pool = sqlx::PgPool::connect(&servers::database_url())
        .await
        .unwrap();
    let retried: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM {} WHERE attempts > 1",
        table.name()
    ))
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(
        retried > 0,
        "neither the kill nor the cut made a publish fail"
    );

    let consumption = match broker {
        Broker::Nats => consume_nats(&destination.name).await,
        Broker::Amqp => consume_amqp(&destination.name).await,
    };
    destination.remove().await;
    eprintln!(
        "{broker:?}: killed after {killed_at} done, cut after {cut_at}; {retried} events \
         published more than once; {} messages on the broker, {} consumer runs",
        consumption.messages,
        consumption.runs.len()
    );
    // Every acknowledged event reached the broker, and the consumer ran each key once.
    let ran: HashSet<&String> = consumption.runs.iter().map(|(key, _, _)| key).collect();
    assert_eq!(ran.len(), consumption.runs.len(), "a key ran twice");
    assert_eq!(
        ran,
        acknowledged.iter().collect(),
        "the consumer ran every acknowledged event"
    );
    if broker == Broker::Nats {
        // Nats-Msg-Id: the stream dropped every re-publish.
        assert_eq!(consumption.messages, EVENTS, "the stream holds duplicates");
    }
    // Per ordering key, in the provider's order.
    let mut last: HashMap<&str, u64> = HashMap::new();
    for (key, ordering_key, stamp) in &consumption.runs {
        if let Some(before) = last.insert(ordering_key, *stamp) {
            assert!(
                before < *stamp,
                "{key} ({ordering_key}) came after a later event"
            );
        }
    }
    assert_eq!(last.len(), KEYS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL, NATS JetStream; .ci/run runs it"]
async fn nats_gets_every_acknowledged_event_once_in_order_through_a_kill_and_a_cut() {
    forwarded_exactly_once_in_order(Broker::Nats).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL, RabbitMQ; .ci/run runs it"]
async fn rabbitmq_gets_every_acknowledged_event_once_in_order_through_a_kill_and_a_cut() {
    forwarded_exactly_once_in_order(Broker::Amqp).await;
}

#[tokio::test]
#[ignore = "needs NATS JetStream and RabbitMQ; .ci/run runs it"]
async fn a_missing_stream_or_exchange_is_a_clear_error() {
    let missing = format!("vh_missing_{}", servers::run_id());
    let error = NatsPublisher::builder()
        .require_stream(&missing)
        .connect(&nats_url())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(&missing) && error.contains("create_stream"),
        "{error}"
    );
    let error = AmqpPublisher::builder()
        .exchange(&missing)
        .connect(&amqp_url())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(&missing)
            && error.contains("declare_exchange")
            && !error.contains("guest:guest"),
        "{error}"
    );
    let error = NatsPublisher::builder()
        .connect("nats://127.0.0.1:1")
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("cannot connect to NATS"), "{error}");
}

/// A message no queue takes is not confirmed: the inbox keeps the event.
#[tokio::test]
#[ignore = "needs NATS JetStream and RabbitMQ; .ci/run runs it"]
async fn a_message_no_queue_or_stream_takes_is_refused() {
    let name = format!("vh_unbound_{}", servers::run_id());
    let amqp = AmqpPublisher::builder()
        .exchange(&name)
        .declare_exchange(true)
        .connect(&amqp_url())
        .await
        .unwrap();
    let message = Message::read(
        [
            ("Verihook-Key", b"stripe:evt_1".as_slice()),
            ("Verihook-Sender", b"stripe"),
            ("Verihook-Scheme", b"stripe"),
            ("Verihook-Signed", b"body,id,type,timestamp"),
        ],
        Bytes::from_static(b"{}"),
    )
    .unwrap();
    let error = amqp.publish(&message).await.unwrap_err();
    assert_eq!(error.kind(), PublishErrorKind::Refused, "{error}");
    assert!(error.to_string().contains("no queue is bound"), "{error}");
    brokers::remove_amqp(&name).await;

    let nats = NatsPublisher::builder()
        .subject(&format!("{name}.{{sender}}"))
        .unwrap()
        .create_stream(&name, [format!("{name}.other.>")])
        .ack_timeout(Duration::from_secs(2))
        .connect(&nats_url())
        .await
        .unwrap();
    let error = nats.publish(&message).await.unwrap_err();
    assert_ne!(error.kind(), PublishErrorKind::Unavailable, "{error}");
    brokers::jetstream()
        .await
        .delete_stream(&name)
        .await
        .unwrap();
}
