//! Actix-web integration (feature `actix`): the same extractors and pipeline as the Axum
//! adapter, through `FromRequest` and `ResponseError`.
//!
//! * [`Received`] runs the [`Receiver`] kept as `web::Data<Receiver<St>>` and answers the
//!   [`Outcome`](crate::Outcome)'s status with [`Outcome::json_body`](crate::Outcome::json_body); route it with [`receive`].
//! * [`Webhook`] only verifies, with a [`WebhookVerifier`] kept as `web::Data`;
//!   [`TypedWebhook`] also deserialises the payload after the signature passed.
//!
//! The head is checked before the body is read (headers present and well formed, timestamp
//! fresh, `Content-Length` within the sender's limit); a request that fails is answered at once
//! with `Connection: close`. The body is read up to the limit and no further by this adapter;
//! what happens to the rest of the connection is actix-http's: for a chunked body refused
//! early (`413`), it writes the answer at once and then keeps reading and discarding whatever
//! the client still sends on that connection (measured: another 32 MiB, the test's cap, taken
//! within 40 ms of the answer, `tests/security.rs`), closing once the client stops or its
//! client timeouts expire.
//! The app's handler and the verifier do no work on those bytes; Axum (hyper) closes the
//! connection at once instead. Put a reverse proxy's request-size limit in front of Actix when
//! that matters. Actix keeps
//! headers in its own map, so they are copied once into an `http::HeaderMap` before verifying.
//! A route names its sender with [`SenderName`] route data.
//!
//! ```no_run
//! use actix_web::{web, App, HttpServer};
//! use verihook::{actix::{receive, SenderName}, Receiver, providers::stripe::StripeVerifier};
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let receiver = web::Data::new(
//!     Receiver::builder()
//!         .sender("stripe", StripeVerifier::new("whsec_test_secret")?)
//!         .handler(|delivery| async move {
//!             println!("{:?}", delivery.event_type());
//!             Ok(())
//!         })
//!         .build()?,
//! );
//! HttpServer::new(move || {
//!     App::new().app_data(receiver.clone()).service(
//!         web::resource("/webhooks/stripe")
//!             .app_data(SenderName::new("stripe"))
//!             .route(web::post().to(receive)),
//!     )
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
use actix_web::{
    web, FromRequest, HttpMessage, HttpRequest, HttpResponse, Responder, ResponseError,
};
use bytes::Bytes;
use futures_core::Stream;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use serde::de::DeserializeOwned;

use super::{content_length, declared_too_large};
pub use super::{Received, SenderName, TypedWebhook, Webhook, WebhookRejection, WebhookVerifier};
use crate::error::VerifyError;
use crate::observe::RequestWatch;
use crate::receiver::{rejected_early, Receiver};
use crate::request::{RequestHead, WebhookRequest};

impl ResponseError for WebhookRejection {
    fn status_code(&self) -> ActixStatus {
        actix_status(self.status())
    }

    fn error_response(&self) -> HttpResponse {
        let (status, content_type, body) = self.response();
        let early = !matches!(self, Self::Payload(_) | Self::Handshake(_));
        with_headers(
            response(status, content_type, body, early),
            self.handshake_headers(),
        )
    }
}

fn actix_status(status: StatusCode) -> ActixStatus {
    ActixStatus::from_u16(status.as_u16()).unwrap_or(ActixStatus::INTERNAL_SERVER_ERROR)
}

fn response(
    status: StatusCode,
    content_type: &'static str,
    body: Bytes,
    close: bool,
) -> HttpResponse {
    let mut builder = HttpResponse::build(actix_status(status));
    builder.content_type(content_type);
    if close {
        // The body may not have been read: do not wait for the rest of it.
        builder.force_close();
    }
    builder.body(body)
}

/// `answer` with a handshake's response headers added.
fn with_headers(
    mut answer: HttpResponse,
    headers: &[(http::HeaderName, http::HeaderValue)],
) -> HttpResponse {
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            actix_web::http::header::HeaderName::from_bytes(name.as_str().as_bytes()),
            actix_web::http::header::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            answer.headers_mut().append(name, value);
        }
    }
    answer
}

/// The request's method, target and headers as `http` types (Actix keeps its own).
struct Head {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
}

impl Head {
    fn of(request: &HttpRequest) -> Self {
        let mut headers = HeaderMap::with_capacity(request.headers().len());
        for (name, value) in request.headers() {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_str().as_bytes()),
                HeaderValue::from_bytes(value.as_bytes()),
            ) {
                headers.append(name, value);
            }
        }
        let target = request
            .uri()
            .path_and_query()
            .map_or("/", |target| target.as_str());
        Self {
            method: Method::from_bytes(request.method().as_str().as_bytes())
                .unwrap_or(Method::POST),
            uri: Uri::try_from(target).unwrap_or_else(|_| Uri::from_static("/")),
            headers,
        }
    }

    fn view(&self) -> RequestHead<'_> {
        RequestHead::new(&self.method, &self.uri, &self.headers)
    }

    fn content_length(&self) -> Option<u64> {
        content_length(&self.headers)
    }
}

/// Reads the body up to `limit` bytes, stopping as soon as it is over.
async fn read(payload: &mut Payload, limit: usize) -> Result<Bytes, WebhookRejection> {
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = std::future::poll_fn(|cx| Pin::new(&mut *payload).poll_next(cx)).await {
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

/// The payload of a request answered before its body was read, held by the answer.
struct Unread(#[allow(dead_code)] Payload);

type Extracting<T> = Pin<Box<dyn Future<Output = Result<T, WebhookRejection>>>>;

impl FromRequest for Webhook {
    type Error = WebhookRejection;
    type Future = Extracting<Self>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let config = request.app_data::<web::Data<WebhookVerifier>>().cloned();
        let head = Head::of(request);
        let mut payload = payload.take();
        Box::pin(async move {
            let Some(config) = config else {
                let missing = WebhookRejection::NotConfigured("web::Data<WebhookVerifier>");
                return Err(missing.logged("unknown"));
            };
            let extracted = async {
                config.precheck(&head.view())?;
                if declared_too_large(head.content_length(), config.body_limit) {
                    return Err(WebhookRejection::Verify(VerifyError::BodyTooLarge {
                        limit: config.body_limit,
                    }));
                }
                let body = read(&mut payload, config.body_limit).await?;
                config
                    .verify(&WebhookRequest::new(head.view(), &body))
                    .map(Webhook)
            };
            extracted
                .await
                .map_err(|refused| refused.logged(config.verifier.name()))
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
            let payload = event
                .json()
                .map_err(|misfit| WebhookRejection::Payload(misfit).logged(event.sender()))?;
            Ok(Self { event, payload })
        })
    }
}

impl FromRequest for Received {
    type Error = WebhookRejection;
    type Future = Extracting<Self>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let receiver = request.app_data::<web::Data<Receiver>>().cloned();
        let sender = request.app_data::<SenderName>().cloned();
        let head = Head::of(request);
        let mut payload = payload.take();
        let request = request.clone();
        Box::pin(async move {
            let sender = sender.as_ref().map(SenderName::as_str);
            let Some(receiver) = receiver else {
                let missing = WebhookRejection::NotConfigured("web::Data<Receiver>");
                return Err(missing.logged(sender.unwrap_or("unknown")));
            };
            let watch = RequestWatch::start();
            let early = |err, payload| {
                // Kept until the answer is written: Actix then closes the connection instead of
                // reading (draining) the rest of a body nobody wants.
                request.extensions_mut().insert(Unread(payload));
                Ok(Self::new(rejected_early(sender, err, &watch), true))
            };
            let limit = match receiver.precheck(sender, &head.view()) {
                Ok(limit) => limit,
                Err(err) => return early(err, payload),
            };
            if declared_too_large(head.content_length(), limit) {
                return early(VerifyError::BodyTooLarge { limit }, payload);
            }
            let body = match read(&mut payload, limit).await {
                Ok(body) => body,
                Err(WebhookRejection::Verify(err)) => return early(err, payload),
                Err(err) => return Err(err.logged(sender.unwrap_or("unknown"))),
            };
            let outcome = receiver
                .handle_watched(sender, head.view(), body, &watch)
                .await;
            Ok(Self::new(outcome, false))
        })
    }
}

impl Responder for Received {
    type Body = actix_web::body::BoxBody;

    fn respond_to(self, request: &HttpRequest) -> HttpResponse {
        let (status, content_type, body) = self.outcome.response();
        let mut answer = with_headers(
            response(status, content_type, body, self.early),
            self.outcome.handshake_headers(),
        );
        if let Some(unread) = request.extensions_mut().remove::<Unread>() {
            answer.extensions_mut().insert(unread);
        }
        answer
    }
}

/// A ready handler: `web::post().to(receive)` with `web::Data<Receiver>`.
pub async fn receive(received: Received) -> Received {
    received
}
