//! Verify → claim → handle → complete or release: the whole pipeline for one request.

use std::any::Any;
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use sha2::{Digest, Sha256};

use crate::error::VerifyError;
use crate::event::{Event, Provider};
use crate::idempotency::{Claim, ClaimToken, IdempotencyStore, MemoryStore, StoreError};
use crate::providers;
use crate::verify::Verifier;

/// What a handler returns when it fails: any error. The claim is released and the provider's
/// retry is processed.
pub type HandlerError = Box<dyn Error + Send + Sync>;

type HandlerFuture = Pin<Box<dyn Future<Output = Result<(), HandlerError>> + Send>>;
type Handler = Arc<dyn Fn(Delivery) -> HandlerFuture + Send + Sync>;

/// The default lease: how long one worker may hold an event before another may take it over.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(5 * 60);
/// The default body limit of the framework adapters: 32 MiB, above GitHub's 25 MB payload cap.
pub const DEFAULT_BODY_LIMIT: usize = 32 * 1024 * 1024;
/// The default retention of done keys: Stripe retries for up to 3 days, Svix for about 1.5.
pub const DEFAULT_RETAIN: Duration = Duration::from_secs(3 * 24 * 60 * 60);

/// A verified event handed to the app's handler, with the claim it runs under.
///
/// Derefs to [`Event`]. [`key`](Self::key) and [`token`](Self::token) let a handler mark the
/// event done inside its own database transaction (see `PostgresStore::complete_in`).
#[derive(Debug)]
pub struct Delivery {
    event: Event,
    key: String,
    token: ClaimToken,
}

impl Delivery {
    /// The idempotency key this event was claimed under (`<provider>:<id>`).
    #[must_use]
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The token that holds the claim.
    #[must_use]
    pub fn token(&self) -> &ClaimToken {
        &self.token
    }

    /// The verified event.
    #[must_use]
    pub fn event(&self) -> &Event {
        &self.event
    }

    /// Takes the event out.
    #[must_use]
    pub fn into_event(self) -> Event {
        self.event
    }
}

impl Deref for Delivery {
    type Target = Event;

    fn deref(&self) -> &Event {
        &self.event
    }
}

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
}

impl Outcome {
    /// `200` processed or duplicate, `409` in flight, `400`/`401`/`413` rejected (from
    /// [`VerifyError::status`]), `500` handler failed, `503` store unavailable.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Processed { .. } | Self::Duplicate { .. } => StatusCode::OK,
            Self::InFlight { .. } => StatusCode::CONFLICT,
            Self::Rejected(err) => err.status(),
            Self::HandlerFailed { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            Self::StoreUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// A stable code: `processed`, `duplicate`, `in_flight`, the [`VerifyError::code`],
    /// `handler_failed` or `store_unavailable`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Processed { .. } => "processed",
            Self::Duplicate { .. } => "duplicate",
            Self::InFlight { .. } => "in_flight",
            Self::Rejected(err) => err.code(),
            Self::HandlerFailed { .. } => "handler_failed",
            Self::StoreUnavailable(_) => "store_unavailable",
        }
    }

    /// The JSON body adapters answer with: `{"outcome":"processed","key":"..."}` (or
    /// `duplicate`, `in_flight`) when the request was authentic, else
    /// `{"error":"<code>","message":"..."}`. Handler and store errors are not echoed to the
    /// sender (they may describe the app's internals); log them from the outcome instead.
    #[must_use]
    pub fn json_body(&self) -> String {
        match self {
            Self::Processed { key, .. } | Self::Duplicate { key } | Self::InFlight { key } => {
                json_object([("outcome", self.code()), ("key", key)])
            }
            Self::Rejected(err) => {
                json_object([("error", err.code()), ("message", &err.to_string())])
            }
            Self::HandlerFailed { .. } => json_object([
                ("error", self.code()),
                ("message", "the webhook handler failed; retry later"),
            ]),
            Self::StoreUnavailable(_) => json_object([
                ("error", self.code()),
                (
                    "message",
                    "the idempotency store could not be used; retry later",
                ),
            ]),
        }
    }

    /// The idempotency key, once the request got that far.
    #[must_use]
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::Processed { key, .. }
            | Self::Duplicate { key }
            | Self::InFlight { key }
            | Self::HandlerFailed { key, .. } => Some(key),
            Self::Rejected(_) | Self::StoreUnavailable(_) => None,
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
            Self::Duplicate { key } => write!(f, "duplicate {key}: already processed"),
            Self::InFlight { key } => write!(f, "{key} is being processed by another worker"),
            Self::Rejected(err) => write!(f, "rejected: {err}"),
            Self::HandlerFailed { key, error } => write!(f, "handler failed for {key}: {error}"),
            Self::StoreUnavailable(err) => write!(f, "{err}"),
        }
    }
}

/// Receives webhooks end to end: verify, claim, run the handler once, complete or release.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use verihook::{testing::StripeSigner, Receiver, StripeVerifier};
/// use verihook::idempotency::MemoryStore;
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let runs = Arc::new(AtomicUsize::new(0));
/// let counter = runs.clone();
/// let receiver = Receiver::builder()
///     .verifier(StripeVerifier::new("whsec_test_secret")?)
///     .store(MemoryStore::new())
///     .handler(move |delivery| {
///         let counter = counter.clone();
///         async move {
///             assert_eq!(delivery.event_type().as_deref(), Some("invoice.paid"));
///             counter.fetch_add(1, Ordering::SeqCst);
///             Ok::<(), std::io::Error>(())
///         }
///     });
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
pub struct Receiver<S = MemoryStore> {
    settings: Settings,
    store: S,
    handler: Handler,
}

/// Builds a [`Receiver`]; finish with [`handler`](ReceiverBuilder::handler).
pub struct ReceiverBuilder<S = MemoryStore> {
    settings: Settings,
    store: S,
}

/// What a builder gathers and the receiver keeps, besides the store and the handler.
#[derive(Debug)]
struct Settings {
    verifiers: Vec<Box<dyn Verifier>>,
    lease: Duration,
    retain: Duration,
    body_limit: usize,
}

impl Receiver<MemoryStore> {
    /// Starts a receiver with the in-memory store, [`DEFAULT_LEASE`] and [`DEFAULT_RETAIN`].
    #[must_use]
    pub fn builder() -> ReceiverBuilder<MemoryStore> {
        ReceiverBuilder {
            settings: Settings {
                verifiers: Vec::new(),
                lease: DEFAULT_LEASE,
                retain: DEFAULT_RETAIN,
                body_limit: DEFAULT_BODY_LIMIT,
            },
            store: MemoryStore::new(),
        }
    }
}

impl<S: IdempotencyStore> ReceiverBuilder<S> {
    /// Adds the verifier for one provider (a later one for the same provider replaces it).
    #[must_use]
    pub fn verifier(mut self, verifier: impl Verifier + 'static) -> Self {
        let provider = verifier.provider();
        let verifiers = &mut self.settings.verifiers;
        verifiers.retain(|v| v.provider() != provider);
        verifiers.push(Box::new(verifier));
        self
    }

    /// Uses `store` for idempotency.
    #[must_use]
    pub fn store<T: IdempotencyStore>(self, store: T) -> ReceiverBuilder<T> {
        ReceiverBuilder {
            settings: self.settings,
            store,
        }
    }

    /// The largest body the framework adapters read (default [`DEFAULT_BODY_LIMIT`]); a larger
    /// one is answered `413` with `body_too_large`.
    #[must_use]
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.settings.body_limit = bytes;
        self
    }

    /// How long a worker may hold an event before another may take it over (default 5
    /// minutes). Set it above the handler's longest run: a handler still running when its lease
    /// ends may see a redelivery processed beside it.
    #[must_use]
    pub fn lease(mut self, lease: Duration) -> Self {
        self.settings.lease = lease;
        self
    }

    /// How long a processed event is remembered (default 3 days, Stripe's retry horizon).
    #[must_use]
    pub fn retain(mut self, retain: Duration) -> Self {
        self.settings.retain = retain;
        self
    }

    /// Finishes the receiver with the app's handler, which runs once per event.
    ///
    /// The handler gets a [`Delivery`] (the verified [`Event`] and its claim) and returns
    /// `Ok(())` when the event took effect; an error or a panic releases the claim so that the
    /// provider's retry runs it again.
    #[must_use]
    pub fn handler<F, Fut, E>(self, handler: F) -> Receiver<S>
    where
        F: Fn(Delivery) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<HandlerError>,
    {
        let handler: Handler = Arc::new(move |delivery| {
            let run = handler(delivery);
            Box::pin(async move { run.await.map_err(Into::into) })
        });
        Receiver {
            settings: self.settings,
            store: self.store,
            handler,
        }
    }
}

impl<S: IdempotencyStore> Receiver<S> {
    /// Handles one request, choosing the verifier by the signature header present (or the only
    /// verifier, if there is one).
    pub async fn handle(&self, headers: &HeaderMap, body: Bytes) -> Outcome {
        match self.pick(headers) {
            Ok(verifier) => self.run(verifier, headers, body).await,
            Err(err) => traced(None, Outcome::Rejected(err)),
        }
    }

    /// Handles one request with `provider`'s verifier (for a route per provider).
    pub async fn handle_as(&self, provider: Provider, headers: &HeaderMap, body: Bytes) -> Outcome {
        match self
            .settings
            .verifiers
            .iter()
            .find(|v| v.provider() == provider)
        {
            Some(verifier) => self.run(verifier.as_ref(), headers, body).await,
            None => traced(
                Some(provider),
                Outcome::Rejected(VerifyError::MissingHeader {
                    name: providers::signature_header(provider),
                }),
            ),
        }
    }

    /// Verifies without claiming or handling (for adapters that only extract the event).
    ///
    /// # Errors
    ///
    /// The [`VerifyError`] of the chosen verifier.
    pub fn verify(&self, headers: &HeaderMap, body: Bytes) -> Result<Event, VerifyError> {
        self.pick(headers)?.verify(headers, body)
    }

    /// The store in use.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The providers this receiver verifies, in the order they were added.
    pub fn providers(&self) -> Vec<Provider> {
        self.settings
            .verifiers
            .iter()
            .map(|v| v.provider())
            .collect()
    }

    /// The largest body the framework adapters read.
    pub fn body_limit(&self) -> usize {
        self.settings.body_limit
    }

    fn pick(&self, headers: &HeaderMap) -> Result<&dyn Verifier, VerifyError> {
        if let [only] = self.settings.verifiers.as_slice() {
            return Ok(only.as_ref());
        }
        self.settings
            .verifiers
            .iter()
            .find(|v| providers::carries_signature(v.provider(), headers))
            .map(AsRef::as_ref)
            .ok_or(VerifyError::MissingHeader {
                name: "webhook signature (no configured provider's signature header is present)",
            })
    }

    async fn run(&self, verifier: &dyn Verifier, headers: &HeaderMap, body: Bytes) -> Outcome {
        let outcome = self.run_untraced(verifier, headers, body).await;
        traced(Some(verifier.provider()), outcome)
    }

    async fn run_untraced(
        &self,
        verifier: &dyn Verifier,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Outcome {
        let event = match verifier.verify(headers, body) {
            Ok(event) => event,
            Err(err) => return Outcome::Rejected(err),
        };
        let key = idempotency_key(&event);
        let token = match self.store.claim(&key, self.settings.lease).await {
            Ok(Claim::Acquired(token)) => token,
            Ok(Claim::Done) => return Outcome::Duplicate { key },
            Ok(Claim::InFlight) => return Outcome::InFlight { key },
            Err(err) => return Outcome::StoreUnavailable(err),
        };
        let delivery = Delivery {
            event,
            key: key.clone(),
            token,
        };
        let result = match catch_unwind(AssertUnwindSafe(|| (self.handler)(delivery))) {
            Ok(future) => CatchUnwind(future)
                .await
                .unwrap_or_else(|panic| Err(panic_error(&*panic))),
            Err(panic) => Err(panic_error(&*panic)),
        };
        match result {
            Ok(()) => {
                let recorded = self
                    .store
                    .complete(&key, &token, self.settings.retain)
                    .await
                    .is_ok();
                Outcome::Processed { key, recorded }
            }
            Err(error) => {
                // If the release fails too, the lease expires and the retry is processed then.
                let _ = self.store.release(&key, &token).await;
                Outcome::HandlerFailed { key, error }
            }
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for Receiver<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("settings", &self.settings)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl<S: fmt::Debug> fmt::Debug for ReceiverBuilder<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceiverBuilder")
            .field("settings", &self.settings)
            .field("store", &self.store)
            .finish()
    }
}

/// `<provider>:<event id>`; for an event without an id, `<provider>:sha256:<hex>` of the signed
/// content (timestamp and body), which is what the signature itself is derived from.
pub(crate) fn idempotency_key(event: &Event) -> String {
    let provider = event.provider().as_str();
    // Joined by hand: `format!` costs a few reallocations per request on this hot path.
    match event.id() {
        Some(id) => [provider, ":", &id].concat(),
        None => {
            let mut hash = Sha256::new();
            hash.update(event.unix_timestamp().unwrap_or_default().to_be_bytes());
            hash.update(event.body());
            let mut hex = [0u8; 2 * 32];
            // 32 bytes always fit 64 hex digits, and hex digits are UTF-8.
            let _ = const_hex::encode_to_slice(hash.finalize(), &mut hex);
            let hex = std::str::from_utf8(&hex).unwrap_or_default();
            [provider, ":sha256:", hex].concat()
        }
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
/// and store failures. Fields: `provider`, `key`, `code`, `status`, and `error` for failures.
/// No secret or signature is ever recorded (errors never contain them).
fn traced(provider: Option<Provider>, outcome: Outcome) -> Outcome {
    #[cfg(feature = "tracing")]
    {
        let provider = provider.map_or("unknown", Provider::as_str);
        let code = outcome.code();
        let status = outcome.status().as_u16();
        match &outcome {
            Outcome::Processed { key, recorded } => tracing::info!(
                target: "verihook", provider, key = key.as_str(), code, status, recorded,
                "webhook processed"
            ),
            Outcome::Duplicate { key } | Outcome::InFlight { key } => tracing::info!(
                target: "verihook", provider, key = key.as_str(), code, status,
                "webhook acknowledged without running the handler"
            ),
            Outcome::Rejected(error) => tracing::warn!(
                target: "verihook", provider, code, status, error = %error,
                "webhook rejected"
            ),
            Outcome::HandlerFailed { key, error } => tracing::error!(
                target: "verihook", provider, key = key.as_str(), code, status, error = %error,
                "webhook handler failed; the claim was released"
            ),
            Outcome::StoreUnavailable(error) => tracing::error!(
                target: "verihook", provider, code, status, error = %error,
                "idempotency store could not be used"
            ),
        }
    }
    #[cfg(not(feature = "tracing"))]
    let _ = provider;
    outcome
}

/// Polls the handler's future, turning a panic into an error instead of unwinding the server.
struct CatchUnwind(HandlerFuture);

impl Future for CatchUnwind {
    type Output = Result<Result<(), HandlerError>, Box<dyn Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match catch_unwind(AssertUnwindSafe(|| self.0.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(result)) => Poll::Ready(Ok(result)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

fn panic_error(panic: &(dyn Any + Send)) -> HandlerError {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string payload".to_owned());
    format!("handler panicked: {message}").into()
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

    #[test]
    fn keys_without_an_id_hash_the_signed_content() {
        let body = Bytes::from_static(b"{}");
        let event = |timestamp| Event {
            provider: Provider::Stripe,
            id: crate::event::Field::Absent,
            event_type: crate::event::Field::Absent,
            timestamp: Some(timestamp),
            body: body.clone(),
            signed: crate::event::Signed {
                id: false,
                event_type: false,
                timestamp: true,
            },
        };
        let key = idempotency_key(&event(1));
        assert!(key.starts_with("stripe:sha256:"), "{key}");
        assert_eq!(key.len(), "stripe:sha256:".len() + 64);
        assert_eq!(key, idempotency_key(&event(1)));
        assert_ne!(key, idempotency_key(&event(2)));
    }
}
