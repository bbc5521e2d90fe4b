//! Axum integration (feature `axum`): extractors that verify, and a handler that runs the whole
//! [`Receiver`] pipeline.
//!
//! * [`Received`] runs verify → claim → your handler → complete/release and answers the
//!   [`Outcome`](crate::Outcome)'s status with a JSON body (or a handshake's own answer). Route it with
//!   [`receive`], the receiver taken from state through `FromRef`.
//! * [`Webhook`] only verifies and yields the [`Event`](crate::Event); [`TypedWebhook`] also
//!   deserialises the payload (after the signature passed). Both take a [`WebhookVerifier`] from
//!   state.
//!
//! The head is checked first: the sender's required headers present and well formed, its
//! timestamp fresh, the announced `Content-Length` within the sender's body limit (each
//! scheme's default, e.g. 25 MiB for GitHub, 1 MiB for most others). A request that fails is
//! answered at once with `Connection: close`, without reading its body. The body is then read
//! up to the limit, collected without a second copy. Rejections answer
//! [`VerifyError::status`] with `{"error":"<code>","message":"..."}`.
//!
//! A route names its sender with a [`SenderName`] extension; without one, the sender is found by
//! the signature header present.
//!
//! ```no_run
//! use std::sync::Arc;
//! use axum::{routing::post, Extension, Router};
//! use verihook::{axum::{receive, SenderName}, Receiver, providers::github::GithubVerifier, providers::standard::StandardVerifier};
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let receiver = Arc::new(
//!     Receiver::builder()
//!         .verifier(GithubVerifier::new("my webhook secret")?)
//!         .sender("clerk", StandardVerifier::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?)
//!         .sender("resend", StandardVerifier::new("whsec_c2VuZGVyLXR3by1zZWNyZXQtMTIzNDU2")?)
//!         .handler(|delivery| async move {
//!             println!("{} {:?} {:?}", delivery.sender(), delivery.id(), delivery.event_type());
//!             Ok(())
//!         })
//!         .build()?,
//! );
//! let app = Router::new()
//!     .route("/webhooks/github", post(receive))
//!     .route("/webhooks/clerk", post(receive).layer(Extension(SenderName::new("clerk"))))
//!     .route("/webhooks/resend", post(receive).layer(Extension(SenderName::new("resend"))))
//!     .with_state(receiver);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```

use std::sync::Arc;

use axum_core::body::Body;
use axum_core::extract::{FromRef, FromRequest, Request};
use axum_core::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use http::{header, HeaderValue, StatusCode};
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;

use super::{content_length, declared_too_large};
pub use super::{Received, SenderName, TypedWebhook, Webhook, WebhookRejection, WebhookVerifier};
use crate::error::VerifyError;
use crate::observe::RequestWatch;
use crate::receiver::{rejected_early, Receiver};
use crate::request::{RequestHead, WebhookRequest};

impl IntoResponse for WebhookRejection {
    fn into_response(self) -> Response {
        let (status, content_type, body) = self.response();
        let early = !matches!(self, Self::Payload(_) | Self::Handshake(_));
        let mut answer = response(status, content_type, body, early);
        answer.headers_mut().extend(
            self.handshake_headers()
                .iter()
                .cloned()
                .map(|(n, v)| (Some(n), v)),
        );
        answer
    }
}

fn response(status: StatusCode, content_type: &'static str, body: Bytes, close: bool) -> Response {
    // Built directly: `(status, body).into_response()` would set `text/plain` first, only for
    // it to be replaced.
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if close {
        // The body may not have been read: do not wait for the rest of it.
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Why a body could not be read.
enum ReadError {
    TooLarge,
    Unreadable,
}

/// The most reserved up front from an announced `Content-Length`: the announcement is
/// unauthenticated, and a client that announces the limit and then stalls must not make us hold
/// the limit in memory. A larger body grows the buffer as its bytes actually arrive.
const RESERVE_MAX: usize = 64 * 1024;

/// Reads `body` up to `limit` bytes: a body sent in one piece is kept as it is, a longer one is
/// gathered into one buffer sized from `Content-Length` up to [`RESERVE_MAX`] (one copy, and no
/// regrowth for bodies up to that size).
async fn read_body(
    mut body: Body,
    limit: usize,
    declared: Option<u64>,
) -> Result<Bytes, ReadError> {
    let mut first: Option<Bytes> = None;
    let mut gathered: Option<BytesMut> = None;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| ReadError::Unreadable)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let so_far =
            first.as_ref().map_or(0, Bytes::len) + gathered.as_ref().map_or(0, BytesMut::len);
        if so_far + data.len() > limit {
            return Err(ReadError::TooLarge);
        }
        match (&mut first, &mut gathered) {
            (None, None) => first = Some(data),
            (Some(_), None) => {
                let capacity = declared
                    .and_then(|n| usize::try_from(n).ok())
                    .unwrap_or(0)
                    .min(limit)
                    .min(RESERVE_MAX);
                let mut buffer = BytesMut::with_capacity(capacity);
                buffer.extend_from_slice(&first.take().unwrap_or_default());
                buffer.extend_from_slice(&data);
                gathered = Some(buffer);
            }
            (_, Some(buffer)) => buffer.extend_from_slice(&data),
        }
    }
    Ok(match gathered {
        Some(buffer) => buffer.freeze(),
        None => first.unwrap_or_default(),
    })
}

impl<S> FromRequest<S> for Webhook
where
    S: Send + Sync,
    WebhookVerifier: FromRef<S>,
{
    type Rejection = WebhookRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let config = WebhookVerifier::from_ref(state);
        extract(request, &config)
            .await
            .map_err(|refused| refused.logged(config.verifier.name()))
    }
}

/// The `Webhook` extractor's steps: head check, bounded body read, verification.
async fn extract(request: Request, config: &WebhookVerifier) -> Result<Webhook, WebhookRejection> {
    let (parts, body) = request.into_parts();
    let head = RequestHead::new(&parts.method, &parts.uri, &parts.headers);
    config.precheck(&head)?;
    let declared = content_length(&parts.headers);
    let too_large = WebhookRejection::Verify(VerifyError::BodyTooLarge {
        limit: config.body_limit,
    });
    if declared_too_large(declared, config.body_limit) {
        return Err(too_large);
    }
    let body = match read_body(body, config.body_limit, declared).await {
        Ok(body) => body,
        Err(ReadError::TooLarge) => return Err(too_large),
        Err(ReadError::Unreadable) => return Err(WebhookRejection::Unreadable),
    };
    config
        .verify(&WebhookRequest::new(head, &body))
        .map(Webhook)
}

impl<S, T> FromRequest<S> for TypedWebhook<T>
where
    S: Send + Sync,
    WebhookVerifier: FromRef<S>,
    T: DeserializeOwned,
{
    type Rejection = WebhookRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Webhook(event) = Webhook::from_request(request, state).await?;
        let payload = event
            .json()
            .map_err(|misfit| WebhookRejection::Payload(misfit).logged(event.sender()))?;
        Ok(Self { event, payload })
    }
}

impl<S> FromRequest<S> for Received
where
    S: Send + Sync,
    Arc<Receiver>: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let receiver = Arc::<Receiver>::from_ref(state);
        let (parts, body) = request.into_parts();
        let sender = parts.extensions.get::<SenderName>().map(SenderName::as_str);
        let head = RequestHead::new(&parts.method, &parts.uri, &parts.headers);
        let watch = RequestWatch::start();
        let early = |err| Ok(Self::new(rejected_early(sender, err, &watch), true));
        let limit = match receiver.precheck(sender, &head) {
            Ok(limit) => limit,
            Err(err) => return early(err),
        };
        let declared = content_length(&parts.headers);
        if declared_too_large(declared, limit) {
            return early(VerifyError::BodyTooLarge { limit });
        }
        let body = match read_body(body, limit, declared).await {
            Ok(body) => body,
            Err(ReadError::TooLarge) => return early(VerifyError::BodyTooLarge { limit }),
            Err(ReadError::Unreadable) => {
                return early(VerifyError::MalformedHeader {
                    name: "Content-Length",
                    reason: "the body ended before its declared length",
                })
            }
        };
        let outcome = receiver.handle_watched(sender, head, body, &watch).await;
        Ok(Self::new(outcome, false))
    }
}

impl IntoResponse for Received {
    fn into_response(self) -> Response {
        let (status, content_type, body) = self.outcome.response();
        let mut answer = response(status, content_type, body, self.early);
        answer.headers_mut().extend(
            self.outcome
                .handshake_headers()
                .iter()
                .cloned()
                .map(|(n, v)| (Some(n), v)),
        );
        answer
    }
}

/// A ready handler: `post(receive)` with an `Arc<Receiver>` state.
pub async fn receive(received: Received) -> Received {
    received
}
