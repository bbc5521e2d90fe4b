//! The brokers the forwarding suites and benchmark talk to: their URLs, and the streams,
//! exchanges and queues they make and remove.
//!
//! Used by `tests/forward.rs`, `benches/forward.rs` and verihook-cli's `tests/forward.rs`.
#![allow(dead_code)] // each suite uses part of it

/// `TEST_NATS_URL`, default `nats://127.0.0.1:4222`.
pub(crate) fn nats_url() -> String {
    std::env::var("TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// `TEST_AMQP_URL`, default RabbitMQ's guest on 127.0.0.1.
pub(crate) fn amqp_url() -> String {
    std::env::var("TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// A JetStream context on [`nats_url`].
pub(crate) async fn jetstream() -> async_nats::jetstream::Context {
    let client = async_nats::connect(nats_url())
        .await
        .unwrap_or_else(|e| panic!("NATS at {} is unreachable: {e}", nats_url()));
    async_nats::jetstream::new(client)
}

/// A connection to [`amqp_url`] and a channel on it.
pub(crate) async fn amqp_channel() -> (lapin::Connection, lapin::Channel) {
    let connection =
        lapin::Connection::connect(&amqp_url(), lapin::ConnectionProperties::default())
            .await
            .unwrap_or_else(|e| panic!("RabbitMQ is unreachable: {e}"));
    let channel = connection
        .create_channel()
        .await
        .unwrap_or_else(|e| panic!("no AMQP channel: {e}"));
    (connection, channel)
}

/// Declares the durable queue `queue`.
pub(crate) async fn declare_queue(channel: &lapin::Channel, queue: &str) {
    let durable = lapin::options::QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    channel
        .queue_declare(queue.into(), durable, Default::default())
        .await
        .unwrap_or_else(|e| panic!("cannot declare the queue {queue}: {e}"));
}

/// Binds `queue` to every routing key of `exchange`.
pub(crate) async fn bind_all(
    channel: &lapin::Channel,
    queue: &str,
    exchange: &str,
) -> Result<(), lapin::Error> {
    channel
        .queue_bind(
            queue.into(),
            exchange.into(),
            "#".into(),
            Default::default(),
            Default::default(),
        )
        .await
}

/// Removes the queue and the exchange `name` (the suites name both alike).
pub(crate) async fn remove_amqp(name: &str) {
    let (_connection, channel) = amqp_channel().await;
    let _ = channel.queue_delete(name.into(), Default::default()).await;
    let _ = channel
        .exchange_delete(name.into(), Default::default())
        .await;
}
