//! Actix-web integration (feature `actix`): the same extractors and pipeline as the Axum
//! adapter, through `FromRequest` and `ResponseError`.
//!
//! * [`Received`] runs the [`Receiver`] kept as `web::Data<Receiver<St>>` and answers the
//!   [`Outcome`]'s status with [`Outcome::json_body`]; route it with [`receive`].
//! * [`Webhook`] only verifies, with a [`WebhookVerifier`] kept as `web::Data`;
//!   [`TypedWebhook`] also deserialises the payload after the signature passed.
//!
//! Bodies are read up to the receiver's (or verifier's) limit, default [`DEFAULT_BODY_LIMIT`];
//! a larger one is answered `413` `body_too_large`. Actix keeps headers in its own map, so they
//! are copied once into an `http::HeaderMap` before verifying.
//!
//! ```no_run
//! use actix_web::{web, App, HttpServer};
//! use verihook::{actix::receive, idempotency::MemoryStore, Receiver, StripeVerifier};
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let receiver = web::Data::new(
//!     Receiver::builder()
//!         .verifier(StripeVerifier::new("whsec_...")?)
//!         .handler(|delivery| async move {
//!             println!("{:?}", delivery.event_type());
//!             Ok::<(), std::io::Error>(())
//!         }),
//! );
//! HttpServer::new(move || {
//!     App::new()
//!         .app_data(receiver.clone())
//!         .route("/webhooks/stripe", web::post().to(receive::<MemoryStore>))
//! })
//! .bind(("127.0.0.1", 3000))?
//! .run()
//! .await?;
//! # Ok(()) }
//! ```

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode as ActixStatus;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, Responder, ResponseError};
use bytes::Bytes;
use futures_core::Stream;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde::de::DeserializeOwned;

use super::declared_too_large;
pub use super::{Received, TypedWebhook, Webhook, WebhookRejection, WebhookVerifier};
use crate::error::VerifyError;
use crate::idempotency::IdempotencyStore;
#[cfg(doc)]
use crate::receiver::DEFAULT_BODY_LIMIT;
use crate::receiver::{Outcome, Receiver};

impl ResponseError for WebhookRejection {
    fn status_code(&self) -> ActixStatus {
        actix_status(self.status())
    }

    fn error_response(&self) -> HttpResponse {
        json_response(self.status(), self.json_body())
    }
}

fn actix_status(status: StatusCode) -> ActixStatus {
    ActixStatus::from_u16(status.as_u16()).unwrap_or(ActixStatus::INTERNAL_SERVER_ERROR)
}

fn json_response(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(actix_status(status))
        .content_type("application/json")
        .body(body)
}

/// Copies Actix's headers into an `http::HeaderMap` (Actix keeps its own map type).
fn headers(request: &HttpRequest) -> HeaderMap {
    let mut map = HeaderMap::with_capacity(request.headers().len());
    for (name, value) in request.headers() {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            map.append(name, value);
        }
    }
    map
}

/// Reads the body up to `limit` bytes, stopping as soon as it is over.
async fn read(mut payload: Payload, limit: usize) -> Result<Bytes, WebhookRejection> {
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = std::future::poll_fn(|cx| Pin::new(&mut payload).poll_next(cx)).await {
        let chunk = chunk.map_err(|_| WebhookRejection::Unreadable)?;
        if body.len() + chunk.len() > limit {
            return Err(WebhookRejection::Verify(VerifyError::BodyTooLarge {
                limit,
            }));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

fn declared(request: &HttpRequest) -> Option<&[u8]> {
    request
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .map(actix_web::http::header::HeaderValue::as_bytes)
}

type Extracting<T> = Pin<Box<dyn Future<Output = Result<T, WebhookRejection>>>>;

impl FromRequest for Webhook {
    type Error = WebhookRejection;
    type Future = Extracting<Self>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let config = request.app_data::<web::Data<WebhookVerifier>>().cloned();
        let headers = headers(request);
        let payload = payload.take();
        let too_large = config
            .as_ref()
            .is_some_and(|c| declared_too_large(declared(request), c.body_limit));
        Box::pin(async move {
            let config = config.ok_or(WebhookRejection::NotConfigured(
                "web::Data<WebhookVerifier>",
            ))?;
            if too_large {
                return Err(WebhookRejection::Verify(VerifyError::BodyTooLarge {
                    limit: config.body_limit,
                }));
            }
            let body = read(payload, config.body_limit).await?;
            config
                .verifier
                .verify(&headers, body)
                .map(Webhook)
                .map_err(WebhookRejection::Verify)
        })
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for TypedWebhook<T> {
    type Error = WebhookRejection;
    type Future = Extracting<Self>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let verified = Webhook::from_request(request, payload);
        Box::pin(async move {
            let Webhook(event) = verified.await?;
            let payload = event.json().map_err(WebhookRejection::Payload)?;
            Ok(Self { event, payload })
        })
    }
}

impl<St: IdempotencyStore + 'static> FromRequest for Received<St> {
    type Error = WebhookRejection;
    type Future = Extracting<Self>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let receiver = request.app_data::<web::Data<Receiver<St>>>().cloned();
        let headers = headers(request);
        let payload = payload.take();
        let too_large = receiver
            .as_ref()
            .is_some_and(|r| declared_too_large(declared(request), r.body_limit()));
        Box::pin(async move {
            let receiver =
                receiver.ok_or(WebhookRejection::NotConfigured("web::Data<Receiver>"))?;
            let limit = receiver.body_limit();
            let outcome = if too_large {
                Outcome::Rejected(VerifyError::BodyTooLarge { limit })
            } else {
                match read(payload, limit).await {
                    Ok(body) => receiver.handle(&headers, body).await,
                    Err(WebhookRejection::Verify(err)) => Outcome::Rejected(err),
                    Err(err) => return Err(err),
                }
            };
            Ok(Self::new(outcome))
        })
    }
}

impl<St> Responder for Received<St> {
    type Body = actix_web::body::BoxBody;

    fn respond_to(self, _request: &HttpRequest) -> HttpResponse {
        json_response(self.outcome.status(), self.outcome.json_body())
    }
}

/// A ready handler: `web::post().to(receive::<MemoryStore>)` with `web::Data<Receiver<_>>`.
pub async fn receive<St>(received: Received<St>) -> Received<St> {
    received
}
