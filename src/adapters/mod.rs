//! What the framework adapters share: the verifier kept in app state, the sender a route
//! names, and why an extractor refused a request. Each framework module re-exports these and
//! adds its own trait impls.

use std::fmt;
use std::sync::Arc;

use http::StatusCode;

use crate::error::{PayloadError, VerifyError};
use crate::event::{Event, Handshake, Verified};
use crate::receiver::{json_object, Outcome};
use crate::request::{RequestHead, WebhookRequest};
use crate::scheme::verifier::{IntoVerifier, Verifier};

/// The name of the sender a route receives from, for a [`Receiver`](crate::Receiver) with
/// several: an Axum request extension (`.layer(Extension(SenderName::new("clerk")))`) or
/// Actix-web route data (`.app_data(SenderName::new("clerk"))`). Without one, the sender is
/// found by the signature header the request carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SenderName(Arc<str>);

impl SenderName {
    /// The sender called `name`.
    pub fn new(name: impl Into<Arc<str>>) -> Self {
        Self(name.into())
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A scheme and a body limit, kept in the app's state for the `Webhook` and `TypedWebhook`
/// extractors.
#[derive(Clone)]
pub struct WebhookVerifier {
    pub(crate) verifier: Arc<Verifier>,
    pub(crate) body_limit: usize,
}

impl WebhookVerifier {
    /// Wraps `scheme` (a verifier, or a bare scheme under the default policy), reading bodies
    /// up to its own [`SchemeInfo::body_limit`](crate::scheme::verifier::SchemeInfo::body_limit).
    pub fn new(scheme: impl IntoVerifier) -> Self {
        let verifier = scheme.into_verifier();
        let body_limit = verifier.body_limit();
        Self {
            verifier: Arc::new(verifier),
            body_limit,
        }
    }

    /// Checks the head before the body is read.
    pub(crate) fn precheck(&self, head: &RequestHead<'_>) -> Result<(), WebhookRejection> {
        self.verifier
            .check_head(head)
            .map_err(WebhookRejection::Verify)
    }

    /// Verifies the whole request: an event, or a handshake answered as a "rejection".
    pub(crate) fn verify(&self, request: &WebhookRequest<'_>) -> Result<Event, WebhookRejection> {
        match self.verifier.verify_request(request) {
            Ok(Verified::Event(event)) => Ok(event),
            Ok(Verified::Handshake(answer)) => Err(WebhookRejection::Handshake(answer)),
            Err(err) => Err(WebhookRejection::Verify(err)),
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
    /// A provider's endpoint check: answered with the scheme's own answer, not an error.
    Handshake(Handshake),
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
            Self::Handshake(_) => "handshake",
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
            Self::Handshake(answer) => answer.status(),
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

    /// The JSON body answered (a handshake answers its own body instead).
    #[must_use]
    pub fn json_body(&self) -> String {
        let message = match self {
            Self::Verify(err) => err.answer(),
            Self::Payload(err) => err.answer().into(),
            other => other.to_string().into(),
        };
        json_object([("error", self.code()), ("message", &message)])
    }

    /// With the `tracing` feature, records this refusal as one event (target `verihook`), naming
    /// the sender: `WARN` for a request refused, `ERROR` for a misfit payload (the app's type
    /// does not fit an authentic event: serde's detail is logged here, never answered) and for
    /// a missing app state. A handshake is `INFO`.
    pub(crate) fn logged(self, sender: &str) -> Self {
        #[cfg(feature = "tracing")]
        {
            use crate::observe::Capped;
            let code = self.code();
            let status = self.status().as_u16();
            match &self {
                Self::Payload(error) => tracing::error!(
                    target: "verihook", sender, code, status,
                    path = %Capped(error.path().unwrap_or("")), error = %Capped(error),
                    "webhook payload does not fit the extractor's type"
                ),
                Self::NotConfigured(_) => tracing::error!(
                    target: "verihook", sender, code, status, error = %self,
                    "webhook extractor not configured"
                ),
                Self::Handshake(_) => tracing::info!(
                    target: "verihook", sender, code, status,
                    "answered the provider's handshake"
                ),
                Self::Verify(error) => tracing::warn!(
                    target: "verihook", sender, code, status, error = %Capped(error),
                    "webhook rejected"
                ),
                Self::Unreadable => tracing::warn!(
                    target: "verihook", sender, code, status, error = %self,
                    "webhook rejected"
                ),
            }
        }
        #[cfg(not(feature = "tracing"))]
        let _ = sender;
        self
    }

    /// The headers a handshake answers with, besides `Content-Type` (none for a rejection).
    pub(crate) fn handshake_headers(&self) -> &[(http::HeaderName, http::HeaderValue)] {
        match self {
            Self::Handshake(answer) => answer.headers(),
            _ => &[],
        }
    }

    /// The status, content type and body answered.
    pub(crate) fn response(&self) -> (StatusCode, &'static str, bytes::Bytes) {
        match self {
            Self::Handshake(answer) => answer.response(),
            _ => (self.status(), "application/json", self.json_body().into()),
        }
    }
}

impl fmt::Display for WebhookRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Verify(err) => err.fmt(f),
            Self::Payload(err) => err.fmt(f),
            Self::Unreadable => f.write_str("the request body could not be read to its end"),
            Self::NotConfigured(what) => write!(f, "the app registered no {what} for this route"),
            Self::Handshake(_) => f.write_str("a provider's handshake, answered"),
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

/// The [`Outcome`] of running the app's [`Receiver`](crate::Receiver) on the request; as a
/// response, the outcome's status with [`Outcome::response`]. A request refused before its
/// body was read is answered with `Connection: close`, so the rest of the body is never read.
pub struct Received {
    outcome: Outcome,
    /// Answered before the body was read to its end.
    pub(crate) early: bool,
}

impl Received {
    pub(crate) fn new(outcome: Outcome, early: bool) -> Self {
        Self { outcome, early }
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

impl fmt::Debug for Received {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Received").field(&self.outcome).finish()
    }
}

/// The body length the request announces, if it announces a valid one.
pub(crate) fn content_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// Whether a `Content-Length` value announces more than `limit` bytes.
pub(crate) fn declared_too_large(content_length: Option<u64>, limit: usize) -> bool {
    content_length.is_some_and(|len| len > limit as u64)
}

#[cfg(feature = "actix")]
pub mod actix;
#[cfg(feature = "axum")]
pub mod axum;
