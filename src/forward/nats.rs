//! NATS JetStream (feature `nats`): each event published with `Nats-Msg-Id` = its idempotency
//! key, confirmed by the stream's publish ack.
//!
//! A JetStream stream drops a message whose `Nats-Msg-Id` it stored within its duplicate window
//! (two minutes unless the stream says otherwise), so the re-publish that follows a crash or a
//! lost ack does not reach consumers twice; past the window, [`Consumer`](super::Consumer)
//! recognises it.
//!
//! ```no_run
//! use verihook::forward::{nats::NatsPublisher, Forwarder};
//! use verihook::inbox::{MemoryInbox, Worker};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let publisher = NatsPublisher::builder()
//!     .subject("webhooks.{sender}.{type}")?
//!     // Or `.require_stream("WEBHOOKS")`: the default, which fails when it does not exist.
//!     .create_stream("WEBHOOKS", ["webhooks.>"])
//!     .connect("nats://127.0.0.1:4222")
//!     .await?;
//! let worker = Worker::builder(MemoryInbox::new())
//!     .handler(Forwarder::new(publisher).handler())
//!     .concurrency(16)
//!     .build()?;
//! # let _ = worker; Ok(()) }
//! ```

use std::fmt;
use std::time::Duration;

use async_nats::jetstream::{self, context::PublishErrorKind, stream};
use async_nats::HeaderMap;

use super::{
    without_password, BoxFuture, FormatError, Message, PublishError, Publisher, SetupError, Style,
    Template, TemplateError,
};

/// The header JetStream de-duplicates by.
pub const MSG_ID: &str = "Nats-Msg-Id";

/// The subject template unless one is given: `webhooks.{sender}.{type}`.
pub const DEFAULT_SUBJECT: &str = "webhooks.{sender}.{type}";

/// The stream required unless one is named: `WEBHOOKS`.
pub const DEFAULT_STREAM: &str = "WEBHOOKS";

/// Publishes forwarded events to a JetStream stream. Build with [`builder`](Self::builder).
pub struct NatsPublisher {
    context: jetstream::Context,
    subject: Template,
    style: Style,
}

impl fmt::Debug for NatsPublisher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NatsPublisher")
            .field("subject", &self.subject.to_string())
            .field("style", &self.style)
            .finish_non_exhaustive()
    }
}

/// How a [`NatsPublisher`] is set up.
#[derive(Debug, Clone)]
pub struct NatsPublisherBuilder {
    subject: Template,
    stream: String,
    create: Option<Vec<String>>,
    duplicate_window: Option<Duration>,
    cloudevents: bool,
    ack_timeout: Duration,
}

impl NatsPublisher {
    /// A builder: subject [`DEFAULT_SUBJECT`], stream [`DEFAULT_STREAM`] required to exist,
    /// no CloudEvents headers, acks awaited 5 seconds.
    #[must_use]
    pub fn builder() -> NatsPublisherBuilder {
        NatsPublisherBuilder {
            subject: Template::builtin(DEFAULT_SUBJECT),
            stream: DEFAULT_STREAM.to_owned(),
            create: None,
            duplicate_window: None,
            cloudevents: false,
            ack_timeout: Duration::from_secs(5),
        }
    }

    /// The subject `message` is published on.
    #[must_use]
    pub fn subject_for(&self, message: &Message) -> String {
        self.subject.render(message)
    }
}

impl NatsPublisherBuilder {
    /// The subject template ([`Template`]).
    ///
    /// # Errors
    ///
    /// [`TemplateError`] for a template that is not one.
    pub fn subject(mut self, template: &str) -> Result<Self, TemplateError> {
        self.subject = Template::new(template)?;
        Ok(self)
    }

    /// Requires the stream `name` to exist when connecting (the default, with
    /// [`DEFAULT_STREAM`]): streams are often an operator's to configure.
    #[must_use]
    pub fn require_stream(mut self, name: &str) -> Self {
        name.clone_into(&mut self.stream);
        self.create = None;
        self
    }

    /// Creates the stream `name` on `subjects` (file storage) when connecting, unless it
    /// exists; an existing stream is used as it is.
    #[must_use]
    pub fn create_stream<S: Into<String>>(
        mut self,
        name: &str,
        subjects: impl IntoIterator<Item = S>,
    ) -> Self {
        name.clone_into(&mut self.stream);
        self.create = Some(subjects.into_iter().map(Into::into).collect());
        self
    }

    /// The duplicate window of a stream this builder creates (JetStream's default: 2 minutes).
    /// Keep it longer than the inbox worker's lease plus its first backoff, so that the
    /// re-publish after a crash falls inside it.
    #[must_use]
    pub fn duplicate_window(mut self, window: Duration) -> Self {
        self.duplicate_window = Some(window);
        self
    }

    /// Adds the CloudEvents attributes as `ce-*` headers (the NATS protocol binding, binary
    /// content mode).
    #[must_use]
    pub fn cloudevents(mut self, on: bool) -> Self {
        self.cloudevents = on;
        self
    }

    /// How long a publish waits for the stream's ack before it fails as
    /// [`TimedOut`](super::PublishErrorKind::TimedOut). Default 5 seconds.
    #[must_use]
    pub fn ack_timeout(mut self, timeout: Duration) -> Self {
        self.ack_timeout = timeout;
        self
    }

    /// Connects to the server at `url` (reconnecting by itself for as long as the publisher
    /// lives) and checks or creates the stream.
    ///
    /// # Errors
    ///
    /// [`SetupError`] when the server cannot be reached, has no JetStream, or the required
    /// stream does not exist.
    pub async fn connect(self, url: &str) -> Result<NatsPublisher, SetupError> {
        let shown = without_password(url);
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(5))
            .max_reconnects(None)
            .connect(url)
            .await
            .map_err(|e| SetupError::new(format!("cannot connect to NATS at {shown}: {e}")))?;
        self.with_client(client).await
    }

    /// Uses an existing client, and checks or creates the stream.
    ///
    /// # Errors
    ///
    /// [`SetupError`] when the server has no JetStream, or the required stream does not exist
    /// or cannot be created.
    pub async fn with_client(
        self,
        client: async_nats::Client,
    ) -> Result<NatsPublisher, SetupError> {
        let mut context = jetstream::new(client);
        context.set_timeout(self.ack_timeout);
        let name = &self.stream;
        match &self.create {
            Some(subjects) => {
                let mut config = stream::Config {
                    name: name.clone(),
                    subjects: subjects.clone(),
                    storage: stream::StorageType::File,
                    ..stream::Config::default()
                };
                if let Some(window) = self.duplicate_window {
                    config.duplicate_window = window;
                }
                context.get_or_create_stream(config).await.map_err(|e| {
                    SetupError::new(format!("cannot create the JetStream stream {name:?}: {e}"))
                })?;
            }
            None => {
                context.get_stream(name).await.map_err(|e| {
                    SetupError::new(format!(
                        "the JetStream stream {name:?} is required and was not found ({e}): \
                         create it (`nats stream add {name} --subjects 'webhooks.>'`) or ask \
                         for it to be created (`create_stream`, `verihook forward --create-stream`)"
                    ))
                })?;
            }
        }
        Ok(NatsPublisher {
            context,
            subject: self.subject,
            style: if self.cloudevents {
                Style::CloudEvents { prefix: "ce-" }
            } else {
                Style::Plain
            },
        })
    }
}

impl Publisher for NatsPublisher {
    fn publish<'a>(&'a self, message: &'a Message) -> BoxFuture<'a, Result<(), PublishError>> {
        Box::pin(async move {
            let mut headers = HeaderMap::new();
            for (name, value) in message.headers(self.style) {
                if name == super::header::KEY {
                    headers.insert(MSG_ID, value.as_str());
                }
                headers.insert(name, value);
            }
            let subject = self.subject.render(message);
            let failed = |error: jetstream::context::PublishError| match error.kind() {
                PublishErrorKind::TimedOut => PublishError::timed_out(format!(
                    "no ack from JetStream for subject {subject:?}"
                )),
                PublishErrorKind::StreamNotFound => {
                    PublishError::refused(format!("no JetStream stream takes subject {subject:?}"))
                }
                PublishErrorKind::BrokenPipe => PublishError::unavailable(error.to_string()),
                _ => PublishError::refused(format!("subject {subject:?}: {error}")),
            };
            let ack = self
                .context
                .publish_with_headers(subject.clone(), headers, message.body.clone())
                .await
                .map_err(failed)?;
            ack.await.map_err(failed)?;
            Ok(())
        })
    }
}

/// Reads a forwarded message a JetStream consumer (or a core NATS subscriber) received.
///
/// # Errors
///
/// [`FormatError`] when it is not a forwarded webhook.
pub fn read(message: &async_nats::Message) -> Result<Message, FormatError> {
    let headers = message.headers.iter().flat_map(|headers| {
        headers.iter().flat_map(|(name, values)| {
            let name: &str = name.as_ref();
            values
                .iter()
                .map(move |value| (name, value.as_str().as_bytes()))
        })
    });
    Message::read(headers, message.payload.clone())
}
