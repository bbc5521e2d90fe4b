//! Axum integration (feature `axum`): extractors that verify, and a handler that runs the whole
//! [`Receiver`] pipeline.
//!
//! * [`Received`] runs verify → claim → your handler → complete/release and answers the
//!   [`Outcome`]'s status with a JSON body. Route it with [`receive`], the receiver taken from
//!   state through `FromRef`.
//! * [`Webhook`] only verifies and yields the [`Event`](crate::Event); [`TypedWebhook`] also deserialises the
//!   payload (after the signature passed). Both take a [`WebhookVerifier`] from state.
//!
//! Bodies are read up to a limit (default [`DEFAULT_BODY_LIMIT`], 32 MiB, above GitHub's 25 MB
//! cap): a larger one is answered `413` `body_too_large` without reading the rest. Rejections
//! answer [`VerifyError::status`] with `{"error":"<code>","message":"..."}`.
//!
//! ```no_run
//! use std::sync::Arc;
//! use axum::{routing::post, Router};
//! use verihook::{axum::receive, idempotency::MemoryStore, Receiver, GithubVerifier};
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let receiver = Arc::new(
//!     Receiver::builder()
//!         .verifier(GithubVerifier::new("my webhook secret")?)
//!         .handler(|delivery| async move {
//!             println!("{:?} {:?}", delivery.id(), delivery.event_type());
//!             Ok::<(), std::io::Error>(())
//!         }),
//! );
//! let app = Router::new()
//!     .route("/webhooks/github", post(receive::<MemoryStore>))
//!     .with_state(receiver);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```

use std::sync::Arc;

use axum_core::body::Body;
use axum_core::extract::{FromRef, FromRequest, Request};
use axum_core::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::de::DeserializeOwned;

use super::declared_too_large;
pub use super::{Received, TypedWebhook, Webhook, WebhookRejection, WebhookVerifier};
use crate::error::VerifyError;
use crate::idempotency::IdempotencyStore;
#[cfg(doc)]
use crate::receiver::DEFAULT_BODY_LIMIT;
use crate::receiver::{Outcome, Receiver};

impl IntoResponse for WebhookRejection {
    fn into_response(self) -> Response {
        json_response(self.status(), self.json_body())
    }
}

fn json_response(status: StatusCode, body: String) -> Response {
    // Built directly: `(status, body).into_response()` would set `text/plain` first, only for
    // it to be replaced.
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Splits the request into headers and the body, read up to `limit` bytes.
async fn read(request: Request, limit: usize) -> Result<(HeaderMap, Bytes), WebhookRejection> {
    let (parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .map(HeaderValue::as_bytes);
    if declared_too_large(declared, limit) {
        return Err(WebhookRejection::Verify(VerifyError::BodyTooLarge {
            limit,
        }));
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok((parts.headers, collected.to_bytes())),
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => {
            Err(WebhookRejection::Verify(VerifyError::BodyTooLarge {
                limit,
            }))
        }
        Err(_) => Err(WebhookRejection::Unreadable),
    }
}

impl<S> FromRequest<S> for Webhook
where
    S: Send + Sync,
    WebhookVerifier: FromRef<S>,
{
    type Rejection = WebhookRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let config = WebhookVerifier::from_ref(state);
        let (headers, body) = read(request, config.body_limit).await?;
        config
            .verifier
            .verify(&headers, body)
            .map(Webhook)
            .map_err(WebhookRejection::Verify)
    }
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
        let payload = event.json().map_err(WebhookRejection::Payload)?;
        Ok(Self { event, payload })
    }
}

impl<S, St> FromRequest<S> for Received<St>
where
    S: Send + Sync,
    St: IdempotencyStore + 'static,
    Arc<Receiver<St>>: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let receiver = Arc::<Receiver<St>>::from_ref(state);
        let outcome = match read(request, receiver.body_limit()).await {
            Ok((headers, body)) => receiver.handle(&headers, body).await,
            Err(WebhookRejection::Verify(err)) => Outcome::Rejected(err),
            Err(_) => Outcome::Rejected(VerifyError::MalformedHeader {
                name: "Content-Length",
                reason: "the body ended before its declared length",
            }),
        };
        Ok(Self::new(outcome))
    }
}

impl<St> IntoResponse for Received<St> {
    fn into_response(self) -> Response {
        json_response(self.outcome.status(), self.outcome.json_body())
    }
}

/// A ready handler: `post(receive::<MemoryStore>)` with an `Arc<Receiver<MemoryStore>>` state.
pub async fn receive<St>(received: Received<St>) -> Received<St> {
    received
}
