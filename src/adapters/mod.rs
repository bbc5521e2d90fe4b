//! What the framework adapters share: the verifier kept in app state, and why an extractor
//! refused a request. Each framework module re-exports these and adds its own trait impls.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use http::StatusCode;

use crate::error::{PayloadError, VerifyError};
use crate::event::Event;
use crate::idempotency::MemoryStore;
use crate::receiver::DEFAULT_BODY_LIMIT;
use crate::receiver::{json_object, Outcome};
use crate::verify::Verifier;

/// A verifier and a body limit, kept in the app's state for the `Webhook` and `TypedWebhook`
/// extractors.
#[derive(Clone)]
pub struct WebhookVerifier {
    pub(crate) verifier: Arc<dyn Verifier>,
    pub(crate) body_limit: usize,
}

impl WebhookVerifier {
    /// Wraps `verifier`, with the [`DEFAULT_BODY_LIMIT`].
    pub fn new(verifier: impl Verifier + 'static) -> Self {
        Self {
            verifier: Arc::new(verifier),
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }

    /// Reads bodies up to `bytes`; larger ones are answered `413`.
    #[must_use]
    pub fn with_body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }
}

impl fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookVerifier")
            .field("verifier", &self.verifier)
            .field("body_limit", &self.body_limit)
            .finish()
    }
}

/// Why a `Webhook` or `TypedWebhook` extractor refused a request; answers its
/// [`status`](Self::status) with `{"error":"<code>","message":"..."}`.
#[derive(Debug)]
#[non_exhaustive]
pub enum WebhookRejection {
    /// Not authentic, not fresh, malformed, or too large.
    Verify(VerifyError),
    /// Authentic, but the payload does not fit the requested type (`422`).
    Payload(PayloadError),
    /// The body could not be read to its end (`400` `body_unreadable`).
    Unreadable,
    /// The app registered no state for the extractor (`500` `not_configured`).
    NotConfigured(&'static str),
}

impl WebhookRejection {
    /// The stable error code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Verify(err) => err.code(),
            Self::Payload(err) => err.code(),
            Self::Unreadable => "body_unreadable",
            Self::NotConfigured(_) => "not_configured",
        }
    }

    /// The HTTP status answered.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Verify(err) => err.status(),
            Self::Payload(err) => err.status(),
            Self::Unreadable => StatusCode::BAD_REQUEST,
            Self::NotConfigured(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The [`VerifyError`], for a verification failure.
    #[must_use]
    pub fn error(&self) -> Option<&VerifyError> {
        match self {
            Self::Verify(err) => Some(err),
            _ => None,
        }
    }

    /// The JSON body answered.
    #[must_use]
    pub fn json_body(&self) -> String {
        json_object([("error", self.code()), ("message", &self.to_string())])
    }
}

impl fmt::Display for WebhookRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Verify(err) => err.fmt(f),
            Self::Payload(err) => err.fmt(f),
            Self::Unreadable => f.write_str("the request body could not be read to its end"),
            Self::NotConfigured(what) => write!(f, "the app registered no {what} for this route"),
        }
    }
}

impl std::error::Error for WebhookRejection {}

/// A verified webhook: the extractor fails, answering the right status, unless the request is
/// authentic and fresh.
#[derive(Debug)]
pub struct Webhook(pub Event);

/// A verified webhook whose payload deserialised into `T` (only after the signature passed).
#[derive(Debug)]
pub struct TypedWebhook<T> {
    /// The verified event, raw body included.
    pub event: Event,
    /// The payload as the app's type.
    pub payload: T,
}

/// The [`Outcome`] of running the app's `Receiver<St>` on the request; as a response, the
/// outcome's status with [`Outcome::json_body`].
pub struct Received<St = MemoryStore> {
    outcome: Outcome,
    store: PhantomData<fn() -> St>,
}

impl<St> Received<St> {
    pub(crate) fn new(outcome: Outcome) -> Self {
        Self {
            outcome,
            store: PhantomData,
        }
    }

    /// What happened.
    #[must_use]
    pub fn outcome(&self) -> &Outcome {
        &self.outcome
    }

    /// Takes the outcome out.
    #[must_use]
    pub fn into_outcome(self) -> Outcome {
        self.outcome
    }
}

impl<St> fmt::Debug for Received<St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Received").field(&self.outcome).finish()
    }
}

/// Whether a `Content-Length` value announces more than `limit` bytes.
pub(crate) fn declared_too_large(content_length: Option<&[u8]>, limit: usize) -> bool {
    content_length
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|len| len > limit as u64)
}

#[cfg(feature = "actix")]
pub mod actix;
#[cfg(feature = "axum")]
pub mod axum;
