//! RabbitMQ and other AMQP 0-9-1 brokers (feature `amqp`): each event published persistent,
//! `mandatory`, with `message_id` = its idempotency key, confirmed by a publisher confirm.
//!
//! A message counts as published only when the broker acknowledged it **and** routed it to at
//! least one queue: a message no queue takes is returned (`mandatory`) and the publish fails, so
//! that the inbox keeps the event until a queue is bound. AMQP brokers do not de-duplicate: a
//! re-publish after a crash or a lost confirm reaches the queue twice, and
//! [`Consumer`](super::Consumer) runs it once.
//!
//! The connection is opened on first use and again after any failure, so a broker restart or
//! a cut connection costs the events in flight one retry each.
//!
//! ```no_run
//! use verihook::forward::{amqp::AmqpPublisher, Forwarder};
//! use verihook::inbox::{MemoryInbox, Worker};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let publisher = AmqpPublisher::builder()
//!     .exchange("webhooks")
//!     .declare_exchange(true)
//!     .routing_key("{sender}.{type}")?
//!     .connect("amqp://guest:guest@127.0.0.1:5672/%2f")
//!     .await?;
//! let worker = Worker::builder(MemoryInbox::new())
//!     .handler(Forwarder::new(publisher).handler())
//!     .build()?;
//! # let _ = worker; Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use lapin::message::Delivery as AmqpDelivery;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use tokio::sync::Mutex;

use super::{
    without_password, BoxFuture, FormatError, Message, PublishError, Publisher, SetupError, Style,
    Template, TemplateError,
};

/// The routing-key template unless one is given: `{sender}.{type}`.
pub const DEFAULT_ROUTING_KEY: &str = "{sender}.{type}";

/// The exchange unless one is named: `webhooks`.
pub const DEFAULT_EXCHANGE: &str = "webhooks";

/// Publishes forwarded events to an AMQP exchange. Build with [`builder`](Self::builder).
pub struct AmqpPublisher {
    url: String,
    settings: AmqpPublisherBuilder,
    style: Style,
    /// The open connection and its confirm-mode channel; `None` after a failure.
    link: Mutex<Option<Arc<Link>>>,
}

struct Link {
    // Kept so that the connection lives as long as its channel.
    _connection: Connection,
    channel: Channel,
}

impl fmt::Debug for AmqpPublisher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AmqpPublisher")
            .field("url", &without_password(&self.url))
            .field("exchange", &self.settings.exchange)
            .field("routing_key", &self.settings.routing_key.to_string())
            .finish_non_exhaustive()
    }
}

/// How an [`AmqpPublisher`] is set up.
#[derive(Debug, Clone)]
pub struct AmqpPublisherBuilder {
    exchange: String,
    declare: bool,
    routing_key: Template,
    cloudevents: bool,
    confirm_timeout: Duration,
}

impl AmqpPublisher {
    /// A builder: exchange [`DEFAULT_EXCHANGE`] required to exist, routing key
    /// [`DEFAULT_ROUTING_KEY`], no CloudEvents headers, confirms awaited 5 seconds.
    #[must_use]
    pub fn builder() -> AmqpPublisherBuilder {
        AmqpPublisherBuilder {
            exchange: DEFAULT_EXCHANGE.to_owned(),
            declare: false,
            routing_key: Template::builtin(DEFAULT_ROUTING_KEY),
            cloudevents: false,
            confirm_timeout: Duration::from_secs(5),
        }
    }

    /// The routing key `message` is published with.
    #[must_use]
    pub fn routing_key_for(&self, message: &Message) -> String {
        self.settings.routing_key.render(message)
    }

    /// The open link, or a new one.
    async fn link(&self) -> Result<Arc<Link>, SetupError> {
        let mut link = self.link.lock().await;
        if let Some(open) = link.as_ref().filter(|l| l.channel.status().connected()) {
            return Ok(open.clone());
        }
        let open = Arc::new(open_link(&self.url, &self.settings).await?);
        *link = Some(open.clone());
        Ok(open)
    }

    /// Forgets `failed`, unless another publish already replaced it.
    async fn drop_link(&self, failed: &Arc<Link>) {
        let mut link = self.link.lock().await;
        if link.as_ref().is_some_and(|l| Arc::ptr_eq(l, failed)) {
            *link = None;
        }
    }
}

impl AmqpPublisherBuilder {
    /// The exchange to publish to.
    #[must_use]
    pub fn exchange(mut self, name: &str) -> Self {
        name.clone_into(&mut self.exchange);
        self
    }

    /// Declares the exchange (durable, `topic`) when connecting, instead of requiring it to
    /// exist (the default).
    #[must_use]
    pub fn declare_exchange(mut self, on: bool) -> Self {
        self.declare = on;
        self
    }

    /// The routing-key template ([`Template`]).
    ///
    /// # Errors
    ///
    /// [`TemplateError`] for a template that is not one.
    pub fn routing_key(mut self, template: &str) -> Result<Self, TemplateError> {
        self.routing_key = Template::new(template)?;
        Ok(self)
    }

    /// Adds the CloudEvents attributes as `cloudEvents_*` headers (the AMQP protocol binding,
    /// binary content mode).
    #[must_use]
    pub fn cloudevents(mut self, on: bool) -> Self {
        self.cloudevents = on;
        self
    }

    /// How long a publish waits for the broker's confirm before it fails as
    /// [`TimedOut`](super::PublishErrorKind::TimedOut). Default 5 seconds.
    #[must_use]
    pub fn confirm_timeout(mut self, timeout: Duration) -> Self {
        self.confirm_timeout = timeout;
        self
    }

    /// Connects to `url` (`amqp://user:password@host:5672/vhost`), turns on publisher confirms
    /// and declares or checks the exchange.
    ///
    /// # Errors
    ///
    /// [`SetupError`] when the broker cannot be reached or the exchange is missing (or cannot
    /// be declared).
    pub async fn connect(self, url: &str) -> Result<AmqpPublisher, SetupError> {
        let link = open_link(url, &self).await?;
        Ok(AmqpPublisher {
            url: url.to_owned(),
            style: if self.cloudevents {
                Style::CloudEvents {
                    prefix: "cloudEvents_",
                }
            } else {
                Style::Plain
            },
            settings: self,
            link: Mutex::new(Some(Arc::new(link))),
        })
    }
}

/// A connection and a confirm-mode channel, the exchange checked or declared.
async fn open_link(url: &str, settings: &AmqpPublisherBuilder) -> Result<Link, SetupError> {
    let shown = without_password(url);
    tokio::time::timeout(
        Duration::from_secs(10),
        open_link_now(url, &shown, settings),
    )
    .await
    .map_err(|_| SetupError::new(format!("the AMQP broker at {shown} did not set up in 10 s")))?
}

async fn open_link_now(
    url: &str,
    shown: &str,
    settings: &AmqpPublisherBuilder,
) -> Result<Link, SetupError> {
    let connect = Connection::connect(url, ConnectionProperties::default());
    let connection = tokio::time::timeout(Duration::from_secs(5), connect)
        .await
        .map_err(|_| SetupError::new(format!("no answer from the AMQP broker at {shown}")))?
        .map_err(|e| {
            SetupError::new(format!("cannot connect to the AMQP broker at {shown}: {e}"))
        })?;
    let failed = |what: &str, e: lapin::Error| SetupError::new(format!("{what} at {shown}: {e}"));
    let channel = connection
        .create_channel()
        .await
        .map_err(|e| failed("cannot open a channel", e))?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(|e| failed("cannot turn on publisher confirms", e))?;
    let exchange = &settings.exchange;
    let options = ExchangeDeclareOptions {
        durable: true,
        passive: !settings.declare,
        ..ExchangeDeclareOptions::default()
    };
    channel
        .exchange_declare(
            ShortString::from(exchange.as_str()),
            ExchangeKind::Topic,
            options,
            FieldTable::default(),
        )
        .await
        .map_err(|e| {
            if settings.declare {
                failed(&format!("cannot declare the exchange {exchange:?}"), e)
            } else {
                failed(
                    &format!(
                        "the exchange {exchange:?} is required and was not found (declare it, \
                         or ask for it to be declared: `declare_exchange(true)`, \
                         `verihook forward --declare-exchange`)"
                    ),
                    e,
                )
            }
        })?;
    Ok(Link {
        _connection: connection,
        channel,
    })
}

impl Publisher for AmqpPublisher {
    fn publish<'a>(&'a self, message: &'a Message) -> BoxFuture<'a, Result<(), PublishError>> {
        Box::pin(async move {
            // Opening the link counts against the same time as the confirm: a broker that
            // accepts the connection and then stalls cannot hold a publish (and its lease) up.
            let link = match tokio::time::timeout(self.settings.confirm_timeout, self.link()).await
            {
                Ok(Ok(link)) => link,
                Ok(Err(error)) => return Err(PublishError::unavailable(error.to_string())),
                Err(_) => {
                    return Err(PublishError::timed_out(
                        "the connection to the broker was not ready in time",
                    ))
                }
            };
            let mut headers = FieldTable::default();
            for (name, value) in message.headers(self.style) {
                headers.insert(
                    ShortString::from(name),
                    AMQPValue::LongString(LongString::from(value.into_bytes())),
                );
            }
            let properties = BasicProperties::default()
                .with_message_id(ShortString::from(message.key.as_str()))
                .with_delivery_mode(2)
                .with_content_type(ShortString::from(message.content_type()))
                .with_headers(headers);
            let routing_key = self.settings.routing_key.render(message);
            // AMQP short strings hold 255 bytes: say so rather than fail on the wire.
            if routing_key.len() > 255 || message.key.len() > 255 {
                return Err(PublishError::refused(
                    "the routing key or the event's key is longer than AMQP's 255 bytes",
                ));
            }
            let publish = async {
                let confirm = link
                    .channel
                    .basic_publish(
                        ShortString::from(self.settings.exchange.as_str()),
                        ShortString::from(routing_key.as_str()),
                        BasicPublishOptions {
                            mandatory: true,
                            ..BasicPublishOptions::default()
                        },
                        &message.body,
                        properties,
                    )
                    .await?;
                confirm.await
            };
            let confirmation =
                match tokio::time::timeout(self.settings.confirm_timeout, publish).await {
                    Ok(Ok(confirmation)) => confirmation,
                    Ok(Err(error)) => {
                        self.drop_link(&link).await;
                        return Err(PublishError::unavailable(error.to_string()));
                    }
                    Err(_) => {
                        self.drop_link(&link).await;
                        return Err(PublishError::timed_out(format!(
                            "no confirm for routing key {routing_key:?}"
                        )));
                    }
                };
            if !confirmation.is_ack() {
                return Err(PublishError::refused(format!(
                    "the broker nacked routing key {routing_key:?}"
                )));
            }
            match confirmation.take_message() {
                None => Ok(()),
                Some(returned) => Err(PublishError::refused(format!(
                    "no queue is bound for routing key {routing_key:?} on exchange {:?} ({} {})",
                    self.settings.exchange, returned.reply_code, returned.reply_text
                ))),
            }
        })
    }
}

/// Reads a forwarded message an AMQP consumer received.
///
/// # Errors
///
/// [`FormatError`] when it is not a forwarded webhook.
pub fn read(delivery: &AmqpDelivery) -> Result<Message, FormatError> {
    let headers = delivery.properties.headers().iter().flat_map(|table| {
        table
            .inner()
            .iter()
            .filter_map(|(name, value)| match value {
                AMQPValue::LongString(text) => Some((name.as_str(), text.as_bytes())),
                _ => None,
            })
    });
    Message::read(headers, bytes::Bytes::copy_from_slice(&delivery.data))
}
