//! Forward verified events to a broker: the inbox as an outbox.
//!
//! Past one service, the events a provider sends belong on the event bus every service already
//! consumes. A [`Forwarder`] is an inbox [`Worker`](crate::inbox::Worker)'s handler that
//! publishes each verified event and lets the worker complete the inbox entry only once the
//! broker **confirmed** it. A broker that is down, slow or refusing leaves the event in the
//! inbox: retried with the worker's backoff, a dead letter after its last attempt, never lost.
//!
//! - **No duplicates on the broker** where it can drop them: each message carries the event's
//!   idempotency key as the broker's own de-duplication id (NATS JetStream's `Nats-Msg-Id`,
//!   AMQP's `message_id`), so a re-publish after a crash or a lost confirmation is dropped by a
//!   JetStream stream's duplicate window, and recognised by any consumer.
//! - **Exactly once at the consumer**: [`Consumer`] reads a message back into an
//!   [`Event`](crate::Event) ([`Message::read`]) and runs the consumer's handler once per key
//!   through an [`IdempotencyStore`](crate::idempotency::IdempotencyStore).
//! - **In order per key**: with ordering keys (see [`OrderBy`](crate::inbox::OrderBy)) the inbox
//!   leases one event of a key at a time, and the forwarder completes it only after the
//!   broker's confirmation, so the events of one key are published one after another, in the
//!   provider's order; the key travels in the `Verihook-Ordering-Key` header and, when the
//!   template names it, in the subject or routing key.
//!
//! | broker | feature | publisher | confirmed when | de-duplicates by |
//! |---|---|---|---|---|
//! | NATS JetStream | `nats` | [`nats::NatsPublisher`] | the stream's publish ack | `Nats-Msg-Id` within the stream's duplicate window |
//! | RabbitMQ (AMQP 0-9-1) | `amqp` | [`amqp::AmqpPublisher`] | the publisher confirm (`basic.ack`), routed to at least one queue | `message_id`, by the consumer ([`Consumer`]) |
//! | anything else | — | your own [`Publisher`] | what your broker calls durable | the [`key`](Message::key) |
//!
//! The message format (the same for every broker, documented for consumers in any language in
//! the guide's forwarding chapter) is the body exactly as received plus headers ([`header`]):
//!
//! ```
//! use std::sync::Arc;
//! use verihook::forward::{BoxFuture, Forwarder, Message, PublishError, Publisher};
//! use verihook::inbox::{MemoryInbox, Worker};
//! use verihook::{testing::StripeSigner, Receiver, providers::stripe::StripeVerifier};
//!
//! /// A broker of one's own: confirms once the message is stored.
//! #[derive(Debug, Default)]
//! struct Log(std::sync::Mutex<Vec<Message>>);
//!
//! impl Publisher for Log {
//!     fn publish<'a>(&'a self, message: &'a Message) -> BoxFuture<'a, Result<(), PublishError>> {
//!         Box::pin(async move {
//!             self.0.lock().map_err(|_| PublishError::unavailable("poisoned"))?.push(message.clone());
//!             Ok(())
//!         })
//!     }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let inbox = Arc::new(MemoryInbox::new());
//! let receiver = Receiver::builder()
//!     .sender("stripe", StripeVerifier::new("whsec_test_secret")?)
//!     .inbox(inbox.clone())
//!     .build()?;
//! let broker = Arc::new(Log::default());
//! let worker = Worker::builder(inbox)
//!     .handler(Forwarder::from_arc(broker.clone()).handler())
//!     .build()?;
//!
//! let body = br#"{"id":"evt_1","type":"invoice.paid","created":1700000000,"data":{"object":{"id":"in_1"}}}"#;
//! let unix = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
//! let headers = StripeSigner::new("whsec_test_secret")?.sign(unix, body);
//! assert_eq!(receiver.handle(&headers, body.as_slice().into()).await.code(), "queued");
//! assert_eq!(worker.run_once().await?, 1);
//!
//! let published = broker.0.lock().unwrap();
//! assert_eq!(published[0].key, "stripe:evt_1");
//! assert_eq!(published[0].ordering_key.as_deref(), Some("in_1"));
//! assert_eq!(published[0].body.as_ref(), body.as_slice());
//! # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
//! ```

#[cfg(feature = "amqp")]
#[cfg_attr(docsrs, doc(cfg(feature = "amqp")))]
pub mod amqp;
mod consumer;
mod message;
#[cfg(feature = "nats")]
#[cfg_attr(docsrs, doc(cfg(feature = "nats")))]
pub mod nats;
mod template;

use std::error::Error;
use std::fmt;
use std::sync::Arc;

use crate::handler::{Delivery, HandlerError};
pub use crate::idempotency::BoxFuture;
pub use consumer::{ConsumeError, Consumed, Consumer};
pub use message::{header, FormatError, Message, Style};
pub use template::{Template, TemplateError};

/// A broker the [`Forwarder`] publishes to: object-safe, so that an app can add its own
/// (Kafka, SQS, Pub/Sub; the guide says how the contract maps onto each).
///
/// The contract: [`publish`](Self::publish) resolves `Ok` only once the broker has taken the
/// message durably (a confirmation, an ack, a committed offset). Publishing the same
/// [`key`](Message::key) again must be harmless: use it as the broker's de-duplication id where
/// the broker has one, and carry it to consumers in any case.
pub trait Publisher: Send + Sync + fmt::Debug {
    /// Publishes `message`; `Ok` once the broker confirmed it.
    ///
    /// # Errors
    ///
    /// A [`PublishError`] when the broker cannot be reached, refuses the message, or does not
    /// confirm in time: the inbox keeps the event and retries it.
    fn publish<'a>(&'a self, message: &'a Message) -> BoxFuture<'a, Result<(), PublishError>>;
}

impl<T: Publisher + ?Sized> Publisher for Arc<T> {
    fn publish<'a>(&'a self, message: &'a Message) -> BoxFuture<'a, Result<(), PublishError>> {
        (**self).publish(message)
    }
}

/// Why a broker did not confirm a message. The message never carries a secret (broker URLs are
/// shown without their password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishError {
    kind: PublishErrorKind,
    detail: String,
}

/// What kind of failure a [`PublishError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublishErrorKind {
    /// The broker could not be reached, or the connection broke.
    Unavailable,
    /// The broker answered and refused the message (no stream or queue takes it, a negative
    /// acknowledgement, a limit).
    Refused,
    /// The broker did not confirm in time: the message may or may not be stored. A retry
    /// publishes it again under the same key, which the broker or the consumer drops.
    TimedOut,
}

impl PublishError {
    /// The broker could not be reached.
    #[must_use]
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(PublishErrorKind::Unavailable, detail)
    }

    /// The broker refused the message.
    #[must_use]
    pub fn refused(detail: impl Into<String>) -> Self {
        Self::new(PublishErrorKind::Refused, detail)
    }

    /// The broker did not confirm in time.
    #[must_use]
    pub fn timed_out(detail: impl Into<String>) -> Self {
        Self::new(PublishErrorKind::TimedOut, detail)
    }

    fn new(kind: PublishErrorKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
        }
    }

    /// What kind of failure it is.
    #[must_use]
    pub fn kind(&self) -> PublishErrorKind {
        self.kind
    }
}

impl fmt::Display for PublishError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            PublishErrorKind::Unavailable => "broker unavailable",
            PublishErrorKind::Refused => "broker refused the message",
            PublishErrorKind::TimedOut => "broker did not confirm in time",
        };
        write!(f, "{kind}: {}", self.detail)
    }
}

impl Error for PublishError {}

/// Why a publisher could not be set up: the broker cannot be reached, or the stream, exchange
/// or queue it needs is missing or cannot be declared. The message says which and what to do;
/// it never carries a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupError(String);

impl SetupError {
    /// An error saying `message`.
    #[must_use]
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for SetupError {}

/// An inbox worker's handler that publishes each event to a broker and succeeds only once the
/// broker confirmed it: give [`handler`](Self::handler) to
/// [`WorkerBuilder::handler`](crate::inbox::WorkerBuilder::handler).
///
/// Run any number of workers, in any number of processes, on one inbox: each event is leased by
/// one of them at a time, and events of one ordering key one at a time.
#[derive(Debug, Clone)]
pub struct Forwarder {
    publisher: Arc<dyn Publisher>,
}

impl Forwarder {
    /// A forwarder to `publisher`.
    #[must_use]
    pub fn new(publisher: impl Publisher + 'static) -> Self {
        Self {
            publisher: Arc::new(publisher),
        }
    }

    /// A forwarder to a shared `publisher`.
    #[must_use]
    pub fn from_arc(publisher: Arc<dyn Publisher>) -> Self {
        Self { publisher }
    }

    /// Publishes one delivery and waits for the broker's confirmation.
    ///
    /// # Errors
    ///
    /// The broker's [`PublishError`].
    pub async fn forward(&self, delivery: &Delivery) -> Result<(), PublishError> {
        let message = Message::from_delivery(delivery);
        // What a consumer could not read back is refused here, where it stays a visible
        // failure (and at last a dead letter) instead of a message nobody can read.
        message
            .readable()
            .map_err(|e| PublishError::refused(e.to_string()))?;
        self.publisher.publish(&message).await
    }

    /// The worker's handler: publishes each delivery; a failure is the worker's retry.
    pub fn handler(
        &self,
    ) -> impl Fn(Delivery) -> BoxFuture<'static, Result<(), HandlerError>> + Send + Sync + Clone + 'static
    {
        let forwarder = self.clone();
        move |delivery| {
            let forwarder = forwarder.clone();
            Box::pin(async move {
                forwarder
                    .forward(&delivery)
                    .await
                    .map_err(HandlerError::from)
            })
        }
    }
}

/// A broker URL (or a comma-separated list of them, as NATS takes) with every
/// `user:password@` taken out, for errors and logs; with or without a scheme.
#[cfg(any(feature = "nats", feature = "amqp"))]
pub(crate) fn without_password(url: &str) -> String {
    let one = |url: &str| {
        let (scheme, rest) = match url.find("://") {
            Some(at) => url.split_at(at + 3),
            None => ("", url),
        };
        // The user information ends at the last `@` before the path.
        let authority = rest.split('/').next().unwrap_or_default();
        match authority.rfind('@') {
            Some(at) => format!("{scheme}…@{}", &rest[at + 1..]),
            None => url.to_owned(),
        }
    };
    url.split(',').map(one).collect::<Vec<_>>().join(",")
}

#[cfg(all(test, any(feature = "nats", feature = "amqp")))]
mod tests {
    use super::without_password;

    #[test]
    fn passwords_never_reach_a_message() {
        for (url, shown) in [
            (
                "amqp://guest:guest@127.0.0.1:5672/%2f",
                "amqp://…@127.0.0.1:5672/%2f",
            ),
            (
                "nats://u:p@a:4222,nats://u:p@b:4222",
                "nats://…@a:4222,nats://…@b:4222",
            ),
            ("user:pw@host:4222", "…@host:4222"),
            ("nats://127.0.0.1:4222", "nats://127.0.0.1:4222"),
            ("amqp://h/vhost@x", "amqp://h/vhost@x"),
        ] {
            assert_eq!(without_password(url), shown);
        }
    }
}
