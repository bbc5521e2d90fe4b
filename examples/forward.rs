//! Verified webhooks onto the event bus: a receiver that writes each verified event into a
//! durable inbox and answers at once, a forwarding worker that publishes it to NATS JetStream
//! or RabbitMQ and completes it only once the broker confirmed, and a consumer that reads the
//! broker's messages back into events and runs each one once.
//!
//! ```sh
//! NATS_URL=nats://127.0.0.1:4222 \
//!   cargo run -p verihook-examples --bin forward --features forward
//! AMQP_URL=amqp://guest:guest@127.0.0.1:5672/%2f DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//!   cargo run -p verihook-examples --bin forward --features forward,postgres
//! ```
//!
//! * `NATS_URL`: publish to the JetStream stream `WEBHOOKS` (created on `webhooks.>` when
//!   missing), subject `webhooks.<sender>.<type>`; or `AMQP_URL`: to the topic exchange
//!   `webhooks` (declared when missing), routing key `<sender>.<ordering key>`, where the
//!   example binds the queue `verihook_example` to `#`;
//! * `DATABASE_URL`: a PostgreSQL inbox (table `verihook_inbox`, feature `postgres`), else
//!   memory;
//! * `PORT` (default 3000), the routes and secret variables of the example receivers
//!   (`/webhooks/github|stripe|standard`, `GITHUB_WEBHOOK_SECRET`, ...);
//! * log lines: `forwarded key=<key> attempt=<k>`, `retry key=<key> ... error=<why>` (the broker
//!   is down or refuses: the event stays in the inbox), and the consumer's `consumed
//!   key=<key> sender=<s> type=<t> ordering_key=<o>` once per event, `redelivered key=<key>`
//!   for a message it had handled;
//! * Ctrl-C or SIGTERM stops all three.

mod common;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use common::StartError;
use futures_util::StreamExt as _;
use verihook::forward::{
    amqp::AmqpPublisher, nats::NatsPublisher, Consumed, Consumer, Forwarder, Message, Publisher,
};
use verihook::idempotency::MemoryStore;
use verihook::inbox::{Attempt, Fate, Inbox, MemoryInbox, Worker};
use verihook::Receiver;

/// The queue the example binds to the exchange, and consumes from.
const QUEUE: &str = "verihook_example";

#[tokio::main]
async fn main() -> ExitCode {
    common::init_logging();
    common::exit(run().await)
}

/// Where the events go.
enum Broker {
    Nats(String),
    Amqp(String),
}

async fn run() -> Result<(), StartError> {
    let broker = match (std::env::var("NATS_URL"), std::env::var("AMQP_URL")) {
        (Ok(url), _) => Broker::Nats(url),
        (Err(_), Ok(url)) => Broker::Amqp(url),
        _ => {
            return Err(StartError::from_message(
                "set NATS_URL (nats://127.0.0.1:4222) or AMQP_URL \
                 (amqp://guest:guest@127.0.0.1:5672/%2f)"
                    .to_owned(),
            ))
        }
    };
    let (inbox, described) = inbox().await?;
    let (publisher, destination) = publisher(&broker).await?;
    let worker = Worker::builder(inbox.clone())
        .handler(Forwarder::from_arc(publisher).handler())
        .concurrency(16)
        .on_attempt(report)
        .build()?;

    let port = common::port()?;
    let receiver = common::with_senders(Receiver::builder())?
        .inbox(inbox)
        .build()?;
    let app = common::axum_app(receiver);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|err| common::bind_error(port, &err))?;
    let address = listener.local_addr()?;
    println!("verihook forwarding receiver listening on http://{address}");
    common::routes_and_try(
        address,
        &format!("inbox: {described}; forwarding to {destination}"),
    );

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let wait = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let consumer = tokio::spawn(consume(broker, wait(stopped.clone())));
    let forwarding = tokio::spawn({
        let stopped = wait(stopped.clone());
        async move { worker.run(stopped, Duration::from_secs(10)).await }
    });
    tokio::spawn(async move {
        common::shutdown_signal().await;
        println!("shutting down");
        let _ = stop.send(true);
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(wait(stopped))
        .await?;
    forwarding
        .await
        .map_err(|err| StartError::from_message(err.to_string()))?;
    consumer
        .await
        .map_err(|err| StartError::from_message(err.to_string()))??;
    println!("stopped");
    Ok(())
}

/// PostgreSQL when `DATABASE_URL` is set (feature `postgres`), else memory.
async fn inbox() -> Result<(Arc<dyn Inbox>, String), StartError> {
    if let Ok(url) = std::env::var("DATABASE_URL") {
        #[cfg(feature = "postgres")]
        {
            let inbox = verihook::inbox::PostgresInbox::connect(&url).await?;
            inbox.create_table().await?;
            return Ok((Arc::new(inbox), "PostgreSQL (DATABASE_URL)".to_owned()));
        }
        #[cfg(not(feature = "postgres"))]
        {
            let _ = url;
            return Err(StartError::from_message(
                "DATABASE_URL is set: run with --features forward,postgres".to_owned(),
            ));
        }
    }
    Ok((
        Arc::new(MemoryInbox::new()),
        "in memory (lost on restart; set DATABASE_URL for PostgreSQL)".to_owned(),
    ))
}

async fn publisher(broker: &Broker) -> Result<(Arc<dyn Publisher>, String), StartError> {
    Ok(match broker {
        Broker::Nats(url) => (
            Arc::new(
                NatsPublisher::builder()
                    .create_stream("WEBHOOKS", ["webhooks.>"])
                    .connect(url)
                    .await?,
            ),
            "the NATS JetStream stream WEBHOOKS (subject webhooks.<sender>.<type>)".to_owned(),
        ),
        Broker::Amqp(url) => {
            let publisher = AmqpPublisher::builder()
                .declare_exchange(true)
                .routing_key("{sender}.{ordering_key}")?
                .connect(url)
                .await?;
            // A queue for the example's consumer: without one, RabbitMQ returns every message
            // and the events wait in the inbox.
            let connection =
                lapin::Connection::connect(url, lapin::ConnectionProperties::default()).await?;
            let channel = connection.create_channel().await?;
            let durable = lapin::options::QueueDeclareOptions {
                durable: true,
                ..Default::default()
            };
            channel
                .queue_declare(QUEUE.into(), durable, Default::default())
                .await?;
            channel
                .queue_bind(
                    QUEUE.into(),
                    verihook::forward::amqp::DEFAULT_EXCHANGE.into(),
                    "#".into(),
                    Default::default(),
                    Default::default(),
                )
                .await?;
            (
                Arc::new(publisher),
                format!("the AMQP exchange webhooks (queue {QUEUE})"),
            )
        }
    })
}

fn report(attempt: &Attempt) {
    match &attempt.fate {
        Fate::Done => println!("forwarded key={} attempt={}", attempt.key, attempt.number),
        Fate::Retry { delay, error } => println!(
            "retry key={} attempt={} next_in_ms={} error={error}",
            attempt.key,
            attempt.number,
            delay.as_millis()
        ),
        Fate::Dead { error } => println!("dead key={} error={error}", attempt.key),
        other => println!("key={} {other:?}", attempt.key),
    }
}

/// Reads what was forwarded and runs each event once (a second consuming service would use a
/// shared store: Redis or PostgreSQL).
async fn consume(
    broker: Broker,
    stopped: impl std::future::Future<Output = ()>,
) -> Result<(), StartError> {
    let consumer = Consumer::new(MemoryStore::new()).namespace("example");
    let mut stopped = std::pin::pin!(stopped);
    match broker {
        Broker::Nats(url) => {
            let jetstream = async_nats::jetstream::new(async_nats::connect(&url).await?);
            let stream = jetstream.get_stream("WEBHOOKS").await?;
            let pull = stream
                .get_or_create_consumer(
                    "verihook-example",
                    async_nats::jetstream::consumer::pull::Config {
                        durable_name: Some("verihook-example".to_owned()),
                        ..Default::default()
                    },
                )
                .await?;
            let mut messages = pull.messages().await?;
            loop {
                let message = tokio::select! {
                    () = &mut stopped => return Ok(()),
                    next = messages.next() => match next {
                        Some(Ok(message)) => message,
                        Some(Err(err)) => return Err(StartError::from_message(err.to_string())),
                        None => return Ok(()),
                    },
                };
                let read = verihook::forward::nats::read(&message);
                if settle(&consumer, read).await {
                    message
                        .ack()
                        .await
                        .map_err(|e| StartError::from_message(e.to_string()))?;
                }
            }
        }
        Broker::Amqp(url) => {
            let connection =
                lapin::Connection::connect(&url, lapin::ConnectionProperties::default()).await?;
            let channel = connection.create_channel().await?;
            let mut deliveries = channel
                .basic_consume(
                    QUEUE.into(),
                    "verihook-example".into(),
                    Default::default(),
                    Default::default(),
                )
                .await?;
            loop {
                let delivery = tokio::select! {
                    () = &mut stopped => return Ok(()),
                    next = deliveries.next() => match next {
                        Some(Ok(delivery)) => delivery,
                        Some(Err(err)) => return Err(err.into()),
                        None => return Ok(()),
                    },
                };
                let read = verihook::forward::amqp::read(&delivery);
                if settle(&consumer, read).await {
                    delivery.ack(Default::default()).await?;
                }
            }
        }
    }
}

/// Runs one message through the consumer; whether to acknowledge it to the broker.
async fn settle(
    consumer: &Consumer,
    read: Result<Message, verihook::forward::FormatError>,
) -> bool {
    let message = match read {
        Ok(message) => message,
        Err(err) => {
            // Not a forwarded webhook: acknowledged, so that it does not come back forever.
            println!("skipped a message: {err}");
            return true;
        }
    };
    let ordering_key = message.ordering_key.clone().unwrap_or_default();
    let consumed = consumer
        .consume(&message, |event| async move {
            println!(
                "consumed key={} sender={} type={} ordering_key={ordering_key}",
                event.idempotency_key(),
                event.sender(),
                event.event_type().unwrap_or_default(),
            );
            Ok(())
        })
        .await;
    match consumed {
        Ok(Consumed::Duplicate) => {
            println!("redelivered key={}", message.key);
            true
        }
        Ok(Consumed::InFlight) => false,
        Ok(_) => true,
        Err(err) => {
            println!("consumer failed key={}: {err}", message.key);
            false
        }
    }
}
