//! Verify → claim → handle → complete or release: the whole pipeline for one request.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};

use crate::error::{ConfigError, PayloadError, SecretError, VerifyError, MAX_SENDER_NAME};
use crate::event::{Event, Handshake, Verified};
use crate::handler::{
    Delivery, Handled, Handler, HandlerError, Settle, DEFAULT_LEASE, DEFAULT_RETAIN,
};
use crate::idempotency::{Claim, IdempotencyStore, MemoryStore, StoreError, MAX_HOLD};
#[cfg(feature = "inbox")]
use crate::inbox::Inbox;
use crate::observe::{self, RequestWatch};
use crate::request::{RequestHead, WebhookRequest};
use crate::router::EventRouter;
use crate::scheme::verifier::{IntoVerifier, Verifier};

/// What happened to one request, and the HTTP status that makes the provider do the right thing.
#[derive(Debug)]
#[non_exhaustive]
pub enum Outcome {
    /// Verified, claimed and handled. `recorded` is false when the handler succeeded but the
    /// done mark could not be written (store down, or the lease expired first): the event is
    /// processed, but a later redelivery would be processed again.
    Processed {
        /// The idempotency key.
        key: String,
        /// Whether the store now remembers the event as done.
        recorded: bool,
    },
    /// Already processed: acknowledged without running the handler.
    Duplicate {
        /// The idempotency key.
        key: String,
    },
    /// Written into the inbox: a worker will process it.
    Queued {
        /// The idempotency key.
        key: String,
    },
    /// Another worker is processing this event now; the provider should retry later.
    InFlight {
        /// The idempotency key.
        key: String,
    },
    /// Not authentic, not fresh or malformed.
    Rejected(VerifyError),
    /// The handler returned an error or panicked; the claim was released.
    HandlerFailed {
        /// The idempotency key.
        key: String,
        /// What the handler said (for a panic, its message).
        error: HandlerError,
    },
    /// The idempotency store could not be used; nothing was run or marked.
    StoreUnavailable(StoreError),
    /// A provider's endpoint check, answered by the scheme (the handler did not run).
    Handshake(Handshake),
    /// No route of the [`EventRouter`] takes the event's type: acknowledged (`200`)
    /// and marked done, by the default [`UnroutedPolicy`](crate::router::UnroutedPolicy).
    Unrouted {
        /// The idempotency key.
        key: String,
        /// The event's route key, when it has one.
        event_type: Option<String>,
    },
    /// No route takes the event's type and the router rejects such events
    /// ([`UnroutedPolicy::Reject`](crate::router::UnroutedPolicy::Reject)): `501`, claim released, so
    /// that the provider retries.
    NoRoute {
        /// The idempotency key.
        key: String,
        /// The event's route key, when it has one.
        event_type: Option<String>,
    },
    /// Authentic, but its payload does not fit the type its route (or handler) expects: `422`,
    /// claim released. The same bytes will never fit, so the provider's retries meet the same
    /// answer until the app is fixed; [`PayloadError::path`](crate::error::PayloadError::path) says
    /// where it failed.
    InvalidPayload {
        /// The idempotency key.
        key: String,
        /// What did not fit, and where.
        error: PayloadError,
    },
}

impl Outcome {
    /// `200` processed, queued, duplicate or unrouted, `409` in flight, `400`/`401`/`413`
    /// rejected (from [`VerifyError::status`]), `422` invalid payload, `500` handler failed,
    /// `501` no route (when the router rejects unrouted events), `503` store unavailable.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Processed { .. }
            | Self::Queued { .. }
            | Self::Duplicate { .. }
            | Self::Unrouted { .. } => StatusCode::OK,
            Self::InFlight { .. } => StatusCode::CONFLICT,
            Self::NoRoute { .. } => StatusCode::NOT_IMPLEMENTED,
            Self::InvalidPayload { error, .. } => error.status(),
            Self::Rejected(err) => err.status(),
            Self::HandlerFailed { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            Self::StoreUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Handshake(answer) => answer.status(),
        }
    }

    /// A stable code: `processed`, `queued`, `duplicate`, `in_flight`, `unrouted`, the
    /// [`VerifyError::code`], `invalid_payload`, `no_route`, `handler_failed` or
    /// `store_unavailable`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Processed { .. } => "processed",
            Self::Queued { .. } => "queued",
            Self::Duplicate { .. } => "duplicate",
            Self::InFlight { .. } => "in_flight",
            Self::Rejected(err) => err.code(),
            Self::HandlerFailed { .. } => "handler_failed",
            Self::StoreUnavailable(_) => "store_unavailable",
            Self::Handshake(_) => "handshake",
            Self::Unrouted { .. } => "unrouted",
            Self::NoRoute { .. } => "no_route",
            Self::InvalidPayload { error, .. } => error.code(),
        }
    }

    /// The headers a handshake answers with, besides `Content-Type` (none for the other
    /// outcomes).
    #[must_use]
    pub fn handshake_headers(&self) -> &[(http::HeaderName, http::HeaderValue)] {
        match self {
            Self::Handshake(answer) => answer.headers(),
            _ => &[],
        }
    }

    /// What an adapter answers: the status, the content type and the body (the handshake's
    /// own answer, else [`json_body`](Self::json_body)).
    #[must_use]
    pub fn response(&self) -> (StatusCode, &'static str, Bytes) {
        match self {
            Self::Handshake(answer) => answer.response(),
            _ => (self.status(), "application/json", self.json_body().into()),
        }
    }

    /// The JSON body adapters answer with: `{"outcome":"processed","key":"..."}` (or
    /// `queued`, `duplicate`, `in_flight`) when the request was authentic, else
    /// `{"error":"<code>","message":"..."}`. Handler and store errors are not echoed to the
    /// sender (they may describe the app's internals); log them from the outcome instead. A
    /// handshake's answer is its own body (see [`response`](Self::response)).
    #[must_use]
    pub fn json_body(&self) -> String {
        match self {
            Self::Handshake(answer) => String::from_utf8_lossy(answer.body()).into_owned(),
            Self::Processed { key, .. }
            | Self::Queued { key }
            | Self::Duplicate { key }
            | Self::InFlight { key }
            | Self::Unrouted { key, .. } => json_object([("outcome", self.code()), ("key", key)]),
            Self::Rejected(err) => json_object([("error", err.code()), ("message", &err.answer())]),
            Self::HandlerFailed { .. } => json_object([
                ("error", self.code()),
                ("message", "the webhook handler failed; retry later"),
            ]),
            Self::StoreUnavailable(_) => json_object([
                ("error", self.code()),
                (
                    "message",
                    "the idempotency store or inbox could not be used; retry later",
                ),
            ]),
            Self::NoRoute { .. } => json_object([
                ("error", self.code()),
                (
                    "message",
                    "this receiver does not handle this event type yet",
                ),
            ]),
            Self::InvalidPayload { error, .. } => {
                json_object([("error", self.code()), ("message", error.answer())])
            }
        }
    }

    /// The idempotency key, once the request got that far.
    #[must_use]
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::Processed { key, .. }
            | Self::Queued { key }
            | Self::Duplicate { key }
            | Self::InFlight { key }
            | Self::HandlerFailed { key, .. }
            | Self::Unrouted { key, .. }
            | Self::NoRoute { key, .. }
            | Self::InvalidPayload { key, .. } => Some(key),
            Self::Rejected(_) | Self::StoreUnavailable(_) | Self::Handshake(_) => None,
        }
    }

    /// The answer for an event whose handler ran: what it came to, and for a processed event
    /// whether the store recorded it done.
    pub(crate) fn handled(key: String, handled: Handled, recorded: bool) -> Self {
        match handled {
            Handled::Processed => Self::Processed { key, recorded },
            Handled::Unrouted(unrouted) if unrouted.acknowledged => Self::Unrouted {
                key,
                event_type: unrouted.event_type,
            },
            Handled::Unrouted(unrouted) => Self::NoRoute {
                key,
                event_type: unrouted.event_type,
            },
            Handled::Misfit(error) => Self::InvalidPayload { key, error },
            Handled::Failed(error) => Self::HandlerFailed { key, error },
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Processed {
                key,
                recorded: true,
            } => write!(f, "processed {key}"),
            Self::Processed {
                key,
                recorded: false,
            } => write!(f, "processed {key}, but the done mark was not recorded"),
            Self::Queued { key } => write!(f, "queued {key} in the inbox"),
            Self::Duplicate { key } => write!(f, "duplicate {key}: already processed"),
            Self::InFlight { key } => write!(f, "{key} is being processed by another worker"),
            Self::Rejected(err) => write!(f, "rejected: {err}"),
            Self::HandlerFailed { key, error } => write!(f, "handler failed for {key}: {error}"),
            Self::StoreUnavailable(err) => write!(f, "{err}"),
            Self::Handshake(_) => f.write_str("answered the provider's handshake"),
            Self::Unrouted { key, event_type } => write!(
                f,
                "acknowledged {key} without a route for its type {}",
                event_type.as_deref().unwrap_or("(none)")
            ),
            Self::NoRoute { key, event_type } => write!(
                f,
                "refused {key}: no route for its type {}",
                event_type.as_deref().unwrap_or("(none)")
            ),
            Self::InvalidPayload { key, error } => write!(f, "{key}: {error}"),
        }
    }
}

/// Receives webhooks end to end: verify, claim, run the handler once, complete or release.
///
/// A receiver holds any number of named senders (several may share a scheme: `"clerk"` and
/// `"resend"`, both Standard Webhooks, each with its own secrets). A request is verified by the
/// sender its route names, or else by the sender whose signature header it carries; its
/// idempotency key is namespaced by the sender's name.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use verihook::{testing::StripeSigner, Receiver, providers::stripe::StripeVerifier};
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let runs = Arc::new(AtomicUsize::new(0));
/// let counter = runs.clone();
/// let receiver = Receiver::builder()
///     .sender("stripe", StripeVerifier::new("whsec_test_secret")?)
///     .handler(move |delivery| {
///         let counter = counter.clone();
///         async move {
///             assert_eq!(delivery.event_type().as_deref(), Some("invoice.paid"));
///             counter.fetch_add(1, Ordering::SeqCst);
///             Ok(())
///         }
///     })
///     .build()?;
///
/// let body = br#"{"id":"evt_1","type":"invoice.paid"}"#;
/// let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
/// let headers = StripeSigner::new("whsec_test_secret")?.sign(now, body);
/// let first = receiver.handle(&headers, body.as_slice().into()).await;
/// let again = receiver.handle(&headers, body.as_slice().into()).await;
/// assert_eq!((first.code(), first.status().as_u16()), ("processed", 200));
/// assert_eq!((again.code(), again.status().as_u16()), ("duplicate", 200));
/// assert_eq!(runs.load(Ordering::SeqCst), 1);
/// # Ok(()) }
/// # block_on(demo()).unwrap();
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let mut f = std::pin::pin!(f);
/// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
/// ```
pub struct Receiver {
    senders: Vec<Sender>,
    store: Arc<dyn IdempotencyStore>,
    mode: Mode,
    lease: Duration,
    retain: Duration,
}

/// What a receiver does with a verified event.
enum Mode {
    /// Claims it in the store and runs the handler in the request.
    Inline(Handler),
    /// Writes it into the inbox for the workers.
    #[cfg(feature = "inbox")]
    Inbox(Queue),
}

/// The inbox a receiver writes into, and how it stores each sender's events.
#[cfg(feature = "inbox")]
struct Queue {
    inbox: Arc<dyn Inbox>,
    /// Each sender's ordering, where the app chose one (else [`OrderBy::Provider`]).
    ordering: Vec<(String, crate::inbox::OrderBy)>,
    redaction: crate::inbox::Redaction,
}

/// One named sender: its scheme and how much body it may send.
#[derive(Debug)]
struct Sender {
    /// Shared with the events it verifies (a thin pointer keeps events small).
    name: Arc<String>,
    /// The sender's keys and policy.
    verifier: Verifier,
    body_limit: usize,
}

/// Builds a [`Receiver`]; finish with [`build`](ReceiverBuilder::build).
#[must_use]
pub struct ReceiverBuilder {
    senders: Vec<(String, Verifier)>,
    limits: Vec<(Option<String>, usize)>,
    store: Option<Arc<dyn IdempotencyStore>>,
    handler: Option<Handler>,
    #[cfg(feature = "inbox")]
    inbox: Option<Arc<dyn Inbox>>,
    #[cfg(feature = "inbox")]
    ordering: Vec<(String, crate::inbox::OrderBy)>,
    #[cfg(feature = "inbox")]
    redaction: crate::inbox::Redaction,
    lease: Duration,
    retain: Duration,
    /// A mistake found while building (a router's bad route), reported by `build`.
    error: Option<ConfigError>,
    /// The sender names the router's routes are for, checked against the senders by `build`.
    route_senders: Vec<String>,
}

impl Receiver {
    /// Starts a receiver with the in-memory store, [`DEFAULT_LEASE`] and [`DEFAULT_RETAIN`].
    pub fn builder() -> ReceiverBuilder {
        ReceiverBuilder {
            senders: Vec::new(),
            limits: Vec::new(),
            store: None,
            handler: None,
            #[cfg(feature = "inbox")]
            inbox: None,
            #[cfg(feature = "inbox")]
            ordering: Vec::new(),
            #[cfg(feature = "inbox")]
            redaction: crate::inbox::Redaction::new(),
            lease: DEFAULT_LEASE,
            retain: DEFAULT_RETAIN,
            error: None,
            route_senders: Vec::new(),
        }
    }
}

impl ReceiverBuilder {
    /// Adds a sender under `name` (`"stripe"`, `"clerk"`, ...), verified by `scheme` (a
    /// verifier such as `StripeVerifier`, or a bare [`Scheme`](crate::Scheme) under the
    /// default policy). Its events' keys are namespaced by `name`; a route may name it.
    pub fn sender(mut self, name: impl Into<String>, scheme: impl IntoVerifier) -> Self {
        self.senders.push((name.into(), scheme.into_verifier()));
        self
    }

    /// Adds a sender named after its scheme (`github`, `stripe`, `standard-webhooks`, ...).
    pub fn verifier(self, scheme: impl IntoVerifier) -> Self {
        let verifier = scheme.into_verifier();
        let name = verifier.name().to_owned();
        self.sender(name, verifier)
    }

    /// Adds a sender whose scheme is already boxed (built from configuration, say).
    pub fn boxed_sender(self, name: impl Into<String>, scheme: impl IntoVerifier) -> Self {
        self.sender(name, scheme)
    }

    /// Uses `store` for idempotency (default: a [`MemoryStore`], this process only).
    pub fn store(mut self, store: impl IdempotencyStore + 'static) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Runs in inbox mode: each verified event is written into `inbox` and answered `200
    /// queued` once the write is durable (`503` when it cannot be written, `200 duplicate`
    /// when its key is already there); [`inbox::Worker`](crate::inbox::Worker)s run the
    /// handler. No [`handler`](Self::handler) is given to such a receiver.
    #[cfg(feature = "inbox")]
    #[cfg_attr(docsrs, doc(cfg(feature = "inbox")))]
    pub fn inbox(mut self, inbox: impl Inbox + 'static) -> Self {
        self.inbox = Some(Arc::new(inbox));
        self
    }

    /// How `sender`'s events are ordered in the inbox (default
    /// [`OrderBy::Provider`](crate::inbox::OrderBy::Provider): the built-in provider's
    /// ordering key, none for other schemes): name a JSON pointer for a declared or custom
    /// scheme, or turn ordering off. Workers run the events of one ordering key one at a time,
    /// in the provider's order.
    ///
    /// ```
    /// use verihook::inbox::{MemoryInbox, OrderBy};
    /// use verihook::providers::standard::StandardVerifier;
    ///
    /// let receiver = verihook::Receiver::builder()
    ///     .sender("clerk", StandardVerifier::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?)
    ///     .ordering("clerk", OrderBy::pointer("/data/id").stamp("/timestamp"))
    ///     .inbox(MemoryInbox::new())
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "inbox")]
    #[cfg_attr(docsrs, doc(cfg(feature = "inbox")))]
    pub fn ordering(mut self, sender: impl Into<String>, order: crate::inbox::OrderBy) -> Self {
        self.ordering.push((sender.into(), order));
        self
    }

    /// Removes the values `redaction` names from each event's body before the inbox stores
    /// it (the signature was checked on the body as received; the stored entry says it was
    /// redacted).
    ///
    /// ```
    /// use verihook::inbox::{MemoryInbox, Redaction};
    /// use verihook::providers::stripe::StripeVerifier;
    ///
    /// let receiver = verihook::Receiver::builder()
    ///     .sender("stripe", StripeVerifier::new("whsec_test_secret")?)
    ///     .redact(Redaction::new().sender("stripe", ["/data/object/customer_email"]))
    ///     .inbox(MemoryInbox::new())
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "inbox")]
    #[cfg_attr(docsrs, doc(cfg(feature = "inbox")))]
    pub fn redact(mut self, redaction: crate::inbox::Redaction) -> Self {
        self.redaction = redaction;
        self
    }

    /// The largest body read for every sender, instead of each scheme's default (see
    /// [`SchemeInfo::body_limit`](crate::scheme::verifier::SchemeInfo::body_limit)); a larger one is answered `413` with `body_too_large`.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.limits.push((None, bytes));
        self
    }

    /// The largest body read for the sender `name`.
    pub fn sender_body_limit(mut self, name: impl Into<String>, bytes: usize) -> Self {
        self.limits.push((Some(name.into()), bytes));
        self
    }

    /// How long a worker may hold an event before another may take it over (default 5
    /// minutes, at most [`MAX_HOLD`]). Set it above the handler's longest run: a handler still
    /// running when its lease ends may see a redelivery processed beside it.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease.min(MAX_HOLD);
        self
    }

    /// How long a processed event is remembered (default 3 days, Stripe's retry horizon; at
    /// most [`MAX_HOLD`]).
    pub fn retain(mut self, retain: Duration) -> Self {
        self.retain = retain.min(MAX_HOLD);
        self
    }

    /// The app's handler, which runs once per event.
    ///
    /// The handler gets a [`Delivery`] (the verified [`Event`] and its claim) and returns
    /// `Ok(())` when the event took effect; an error or a panic releases the claim so that the
    /// provider's retry runs it again.
    ///
    /// Its error type is [`HandlerError`] (any error), so a closure's `Ok(())` needs no
    /// annotation and `?` works on any error, [`Event::json`]'s included:
    ///
    /// ```
    /// # fn main() -> Result<(), verihook::ConfigError> {
    /// #[derive(serde::Deserialize)]
    /// struct Push { after: String }
    ///
    /// let receiver = verihook::Receiver::builder()
    ///     .sender("github", verihook::providers::github::GithubVerifier::new("a long webhook secret").unwrap())
    ///     .handler(|delivery| async move {
    ///         let push: Push = delivery.json()?;
    ///         println!("pushed {}", push.after);
    ///         Ok(())
    ///     })
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    ///
    /// A named function returns `Result<(), HandlerError>`:
    /// `async fn handle(delivery: Delivery) -> Result<(), HandlerError>`.
    pub fn handler<F, Fut>(mut self, handler: F) -> Self
    where
        F: Fn(Delivery) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
    {
        self.handler = Some(Handler::from_fn(handler));
        self
    }

    /// Routes each event by its type to the [`EventRouter`]'s handlers: the handler this receiver
    /// runs. An event no route takes is answered by the router's
    /// [`UnroutedPolicy`](crate::router::UnroutedPolicy) (`200 unrouted` and marked done by default);
    /// a payload that does not fit its route's type is answered `422 invalid_payload` and its
    /// claim released.
    ///
    /// ```
    /// use verihook::envelope::StripeEvent;
    /// use verihook::{HandlerError, Receiver, EventRouter, providers::stripe::StripeVerifier};
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Invoice { amount_paid: u64 }
    ///
    /// async fn invoice_paid(event: StripeEvent<Invoice>) -> Result<(), HandlerError> {
    ///     println!("paid {}", event.object.amount_paid);
    ///     Ok(())
    /// }
    ///
    /// let receiver = Receiver::builder()
    ///     .sender("stripe", StripeVerifier::new("whsec_test_secret")?)
    ///     .router(EventRouter::new().route("invoice.paid", invoice_paid))
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn router(mut self, router: EventRouter) -> Self {
        if let Err(error) = router.check() {
            self.error.get_or_insert(error);
        }
        self.route_senders = router.senders().map(str::to_owned).collect();
        let router = Arc::new(router);
        self.handler = Some(Handler::new(move |delivery| router.run(delivery)));
        self
    }

    /// The receiver.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] when there is no sender or no handler, two senders share a name, a
    /// name is not a plain identifier, a body limit or a route names no sender, or a router's
    /// routes collide.
    pub fn build(self) -> Result<Receiver, ConfigError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        if self.senders.is_empty() {
            return Err(ConfigError::NoSender);
        }
        let mut senders: Vec<Sender> = Vec::with_capacity(self.senders.len());
        for (name, verifier) in self.senders {
            let valid = !name.is_empty()
                && name.len() <= MAX_SENDER_NAME
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
            if !valid {
                return Err(ConfigError::BadSenderName { name });
            }
            if senders.iter().any(|s| s.name.as_str() == name) {
                return Err(ConfigError::DuplicateSender { name });
            }
            let body_limit = verifier.body_limit();
            senders.push(Sender {
                name: Arc::new(name),
                verifier,
                body_limit,
            });
        }
        for (name, bytes) in self.limits {
            match name {
                None => senders.iter_mut().for_each(|s| s.body_limit = bytes),
                Some(name) => match senders.iter_mut().find(|s| s.name.as_str() == name) {
                    Some(sender) => sender.body_limit = bytes,
                    None => return Err(ConfigError::UnknownSender { name }),
                },
            }
        }
        if let Some(name) = self
            .route_senders
            .into_iter()
            .find(|name| !senders.iter().any(|s| s.name.as_str() == name))
        {
            let senders = senders.iter().map(|s| s.name.as_str().to_owned()).collect();
            return Err(ConfigError::RouteForUnknownSender { name, senders });
        }
        #[cfg(feature = "inbox")]
        let mode = match (self.inbox, self.handler) {
            (Some(_), Some(_)) => return Err(ConfigError::HandlerWithInbox),
            (Some(inbox), None) => Mode::Inbox(Queue {
                inbox,
                ordering: self.ordering,
                redaction: self.redaction,
            }),
            (None, handler) => Mode::Inline(handler.ok_or(ConfigError::NoHandler)?),
        };
        #[cfg(not(feature = "inbox"))]
        let mode = Mode::Inline(self.handler.ok_or(ConfigError::NoHandler)?);
        Ok(Receiver {
            senders,
            store: self.store.unwrap_or_else(|| Arc::new(MemoryStore::new())),
            mode,
            lease: self.lease,
            retain: self.retain,
        })
    }
}

/// A result and the name of the sender it came from.
type Named<'a, T, E> = Result<(T, &'a Arc<String>), E>;

impl Receiver {
    /// The one sender a request goes to, chosen before any signature work: the one its route
    /// names, else the only sender, else the one sender whose signature headers the request
    /// carries. Several senders recognising the headers is ambiguous (a request is never
    /// verified with each in turn: that would multiply the work an unauthenticated request can
    /// cause, and lend the largest body limit to every sender).
    fn choose(&self, sender: Option<&str>, headers: &HeaderMap) -> Result<&Sender, VerifyError> {
        match (sender, self.senders.as_slice()) {
            (Some(name), _) => {
                self.senders
                    .iter()
                    .find(|s| s.name.as_str() == name)
                    .ok_or(VerifyError::BadSecret(SecretError::WrongKind {
                        reason: "the route names a sender this receiver does not have",
                    }))
            }
            (None, [only]) => Ok(only),
            (None, senders) => {
                let mut recognising = senders.iter().filter(|s| s.verifier.recognizes(headers));
                match (recognising.next(), recognising.count()) {
                    (Some(sender), 0) => Ok(sender),
                    (Some(_), others) => Err(VerifyError::AmbiguousSender {
                        senders: others + 1,
                    }),
                    (None, _) => Err(VerifyError::MissingHeader {
                        name:
                            "webhook signature (no configured sender's signature header is present)",
                    }),
                }
            }
        }
    }

    /// Checks the head alone, before the body is read: the sender exists, its required headers
    /// are present and well formed and its timestamp fresh. Returns the largest body to read:
    /// the chosen sender's limit.
    ///
    /// # Errors
    ///
    /// The chosen sender's [`VerifyError`], or [`VerifyError::AmbiguousSender`] when the route
    /// names no sender and the headers fit several.
    pub fn precheck(
        &self,
        sender: Option<&str>,
        head: &RequestHead<'_>,
    ) -> Result<usize, VerifyError> {
        let chosen = self.choose(sender, head.headers())?;
        chosen.verifier.check_head(head).map(|()| chosen.body_limit)
    }

    /// Verifies a request with the sender named `sender` (or the one whose headers it
    /// carries), without claiming or handling it.
    ///
    /// # Errors
    ///
    /// The chosen sender's [`VerifyError`], or [`VerifyError::AmbiguousSender`] when the route
    /// names no sender and the headers fit several.
    pub fn verify_request(
        &self,
        sender: Option<&str>,
        request: &WebhookRequest<'_>,
    ) -> Result<Verified, VerifyError> {
        self.verify_named(sender, request)
            .map(|(verified, _)| verified)
            .map_err(|(err, _)| err)
    }

    /// The verified request and its sender's name, or the error and the sender that gave it.
    fn verify_named(
        &self,
        sender: Option<&str>,
        request: &WebhookRequest<'_>,
    ) -> Named<'_, Verified, (VerifyError, Option<&Arc<String>>)> {
        let chosen = self
            .choose(sender, request.headers())
            .map_err(|err| (err, None))?;
        if request.body().len() > chosen.body_limit {
            let limit = chosen.body_limit;
            return Err((VerifyError::BodyTooLarge { limit }, Some(&chosen.name)));
        }
        let started = observe::clock();
        let verified = chosen.verifier.verify_request(request);
        observe::verified_since(&chosen.name, started);
        match verified {
            Ok(Verified::Event(event)) => Ok((
                Verified::Event(event.with_sender(&chosen.name)),
                &chosen.name,
            )),
            Ok(other) => Ok((other, &chosen.name)),
            Err(err) => Err((err, Some(&chosen.name))),
        }
    }

    /// Handles one request (as a `POST /`), choosing the sender by the signature header present
    /// (or the only sender, if there is one). For schemes that sign the URL, use
    /// [`handle_request`](Self::handle_request).
    pub async fn handle(&self, headers: &HeaderMap, body: Bytes) -> Outcome {
        self.handle_request(None, RequestHead::post(headers), body)
            .await
    }

    /// Handles one request with the sender named `sender` (for a route per sender).
    pub async fn handle_as(&self, sender: &str, headers: &HeaderMap, body: Bytes) -> Outcome {
        self.handle_request(Some(sender), RequestHead::post(headers), body)
            .await
    }

    /// Handles a whole `http::Request` whose body has been read.
    pub async fn handle_http(
        &self,
        sender: Option<&str>,
        request: http::Request<Bytes>,
    ) -> Outcome {
        let (parts, body) = request.into_parts();
        let head = RequestHead::new(&parts.method, &parts.uri, &parts.headers);
        self.handle_request(sender, head, body).await
    }

    /// Handles one request: the sender named `sender` (or found by its headers) verifies it,
    /// then the event is claimed, handled once, and completed or released.
    ///
    /// With the `metrics` feature the request is counted and timed; with `tracing` it runs in
    /// a `webhook` span (see the [guide](crate::guide)'s chapter "Metrics and tracing").
    pub async fn handle_request(
        &self,
        sender: Option<&str>,
        head: RequestHead<'_>,
        body: Bytes,
    ) -> Outcome {
        self.handle_watched(sender, head, body, &RequestWatch::start())
            .await
    }

    /// [`handle_request`](Self::handle_request) under a watch the adapter started when the
    /// request arrived.
    pub(crate) async fn handle_watched(
        &self,
        sender: Option<&str>,
        head: RequestHead<'_>,
        body: Bytes,
        watch: &RequestWatch,
    ) -> Outcome {
        let (name, outcome) = watch
            .within(async {
                // Read only in inbox mode (an entry carries it): no lookup on the inline path.
                let headers = head.headers();
                let verified = self.verify_named(sender, &WebhookRequest::new(head, &body));
                // `name` borrows the receiver's own sender entry: no copy, no lookup.
                let (event, name) = match verified {
                    Ok((Verified::Event(event), name)) => (event, name.as_str()),
                    Ok((Verified::Handshake(answer), name)) => {
                        let name = Some(name.as_str());
                        return (name, traced(name, Outcome::Handshake(answer)));
                    }
                    Err((err, name)) => {
                        let name = name.map(|n| n.as_str()).or(sender);
                        return (name, traced(name, Outcome::Rejected(err)));
                    }
                };
                watch.event(name, event.id().as_deref());
                let outcome = self.run(event, name, headers).await;
                (Some(name), traced(Some(name), outcome))
            })
            .await;
        watch.finish(name, outcome.code(), outcome.status());
        outcome
    }

    /// The sender names, in the order they were added.
    #[must_use = "an iterator does nothing unless consumed"]
    pub fn senders(&self) -> impl Iterator<Item = &str> {
        self.senders.iter().map(|s| s.name.as_str())
    }

    /// The store in use.
    #[must_use]
    pub fn store(&self) -> &dyn IdempotencyStore {
        &*self.store
    }

    async fn run(
        &self,
        event: Event,
        sender: &str,
        #[cfg_attr(not(feature = "inbox"), allow(unused_variables))] headers: &HeaderMap,
    ) -> Outcome {
        let key = event.idempotency_key();
        #[allow(clippy::infallible_destructuring_match)] // one arm without the inbox feature
        let handler = match &self.mode {
            Mode::Inline(handler) => handler,
            #[cfg(feature = "inbox")]
            Mode::Inbox(queue) => {
                let order = queue
                    .ordering
                    .iter()
                    .find(|(name, _)| name == sender)
                    .map_or(&crate::inbox::OrderBy::Provider, |(_, order)| order);
                let entry = crate::inbox::Entry::ordered_by(&event, key, order)
                    .traced(
                        headers
                            .get(TRACEPARENT)
                            .and_then(|value| value.to_str().ok()),
                    )
                    .redacted(&queue.redaction);
                return match queue.inbox.enqueue(&entry).await {
                    Ok(crate::inbox::Enqueued::New) => Outcome::Queued { key: entry.key },
                    Ok(crate::inbox::Enqueued::Duplicate) => Outcome::Duplicate { key: entry.key },
                    Err(err) => {
                        observe::inbox_error("enqueue");
                        Outcome::StoreUnavailable(err)
                    }
                };
            }
        };
        let token = match self.store.claim(&key, self.lease).await {
            Ok(Claim::Acquired(token)) => token,
            Ok(Claim::Done) => return Outcome::Duplicate { key },
            Ok(Claim::InFlight) => return Outcome::InFlight { key },
            Err(err) => {
                observe::store_error("claim");
                return Outcome::StoreUnavailable(err);
            }
        };
        let route_key_signed = event.signed().route_key();
        let delivery = Delivery::new(event, key.clone(), token, 1, crate::providers::route_key);
        let (store, lease, beat_key) = (&self.store, self.lease, key.as_str());
        let started = observe::clock();
        let handled = handler
            .run_under_lease(delivery, lease, || async move {
                let _ = store.extend(beat_key, &token, lease).await;
            })
            .await;
        let recorded = match handled.settle(route_key_signed) {
            Settle::Complete => {
                let recorded = self.store.complete(&key, &token, self.retain).await.is_ok();
                if !recorded {
                    observe::store_error("complete");
                }
                recorded
            }
            // Inline, every other fate lets the provider's retry decide: its redelivery runs
            // (or, for a misfit, meets the same answer). If the release fails, the lease
            // expires and the retry is processed then.
            Settle::Forget | Settle::Refuse | Settle::Retry => {
                if self.store.release(&key, &token).await.is_err() {
                    observe::store_error("release");
                }
                false
            }
        };
        let outcome = Outcome::handled(key, handled, recorded);
        observe::handled_since(sender, outcome.code(), started);
        outcome
    }
}

/// The W3C trace context header an inbox entry carries to its worker.
#[cfg(feature = "inbox")]
const TRACEPARENT: http::HeaderName = http::HeaderName::from_static("traceparent");

impl fmt::Debug for Receiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Receiver");
        debug.field("senders", &self.senders);
        match &self.mode {
            Mode::Inline(_) => debug.field("store", &self.store),
            #[cfg(feature = "inbox")]
            Mode::Inbox(queue) => debug.field("inbox", &queue.inbox),
        };
        debug
            .field("lease", &self.lease)
            .field("retain", &self.retain)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for ReceiverBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceiverBuilder")
            .field("senders", &self.senders)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

/// A flat JSON object of string members, written into one allocation. Member names are this
/// crate's own plain identifiers and go in as they are; values are escaped.
pub(crate) fn json_object<const N: usize>(members: [(&'static str, &str); N]) -> String {
    let mut json = Vec::with_capacity(
        2 + members
            .iter()
            .map(|(name, value)| name.len() + value.len() + 8)
            .sum::<usize>(),
    );
    json.push(b'{');
    for (i, (name, value)) in members.into_iter().enumerate() {
        if i > 0 {
            json.push(b',');
        }
        debug_assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
        json.push(b'"');
        json.extend_from_slice(name.as_bytes());
        json.extend_from_slice(b"\":");
        // Writing a string into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut json, value);
    }
    json.push(b'}');
    // serde_json writes UTF-8 only.
    String::from_utf8(json).unwrap_or_default()
}

/// With the `tracing` feature, records the outcome as one event (target `verihook`): `INFO`
/// for processed, duplicate and in-flight requests, `WARN` for rejections, `ERROR` for handler
/// and store failures. Fields: `sender`, `key`, `code`, `status`, and `error` for failures.
/// No secret or signature is ever recorded (errors never contain them).
fn traced(sender: Option<&str>, outcome: Outcome) -> Outcome {
    #[cfg(feature = "tracing")]
    {
        use crate::observe::Capped;
        let sender = sender.unwrap_or("unknown");
        let code = outcome.code();
        let status = outcome.status().as_u16();
        match &outcome {
            Outcome::Processed { key, recorded } => tracing::info!(
                target: "verihook", sender, key = key.as_str(), code, status, recorded,
                "webhook processed"
            ),
            Outcome::Queued { key } => tracing::info!(
                target: "verihook", sender, key = key.as_str(), code, status,
                "webhook queued in the inbox"
            ),
            Outcome::Duplicate { key } | Outcome::InFlight { key } => tracing::info!(
                target: "verihook", sender, key = key.as_str(), code, status,
                "webhook acknowledged without running the handler"
            ),
            Outcome::Rejected(error) => tracing::warn!(
                target: "verihook", sender, code, status, error = %Capped(error),
                "webhook rejected"
            ),
            Outcome::HandlerFailed { key, error } => tracing::error!(
                target: "verihook", sender, key = key.as_str(), code, status, error = %Capped(error),
                "webhook handler failed; the claim was released"
            ),
            Outcome::StoreUnavailable(error) => tracing::error!(
                target: "verihook", sender, code, status, error = %Capped(error),
                "idempotency store could not be used"
            ),
            Outcome::Handshake(_) => tracing::info!(
                target: "verihook", sender, code, status,
                "answered the provider's handshake"
            ),
            Outcome::Unrouted { key, event_type } => tracing::warn!(
                target: "verihook", sender, key = key.as_str(), code, status,
                event_type = %Capped(event_type.as_deref().unwrap_or("")),
                "webhook acknowledged without a route for its type"
            ),
            Outcome::NoRoute { key, event_type } => tracing::warn!(
                target: "verihook", sender, key = key.as_str(), code, status,
                event_type = %Capped(event_type.as_deref().unwrap_or("")),
                "webhook refused: no route for its type"
            ),
            Outcome::InvalidPayload { key, error } => tracing::error!(
                target: "verihook", sender, key = key.as_str(), code, status,
                path = %Capped(error.path().unwrap_or("")), error = %Capped(error),
                "webhook payload does not fit its route's type; the claim was released"
            ),
        }
    }
    #[cfg(not(feature = "tracing"))]
    let _ = sender;
    outcome
}

/// A request refused before its body was read (by an adapter's head check): logged, counted
/// and recorded in its span like any other outcome.
#[cfg(any(feature = "axum", feature = "actix"))]
pub(crate) fn rejected_early(
    sender: Option<&str>,
    error: VerifyError,
    watch: &RequestWatch,
) -> Outcome {
    let outcome = watch.within_now(|| traced(sender, Outcome::Rejected(error)));
    watch.finish(sender, outcome.code(), outcome.status());
    outcome
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn json_object_escapes_every_value() {
        let awkward = "quote \" backslash \\ newline \n nul \u{0} snow ☃";
        let json = json_object([("outcome", "processed"), ("key", awkward)]);
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!({ "outcome": "processed", "key": awkward })
        );
        assert_eq!(json_object([("a", "b")]), r#"{"a":"b"}"#);
    }
}
