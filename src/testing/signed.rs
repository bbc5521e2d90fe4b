//! A whole signed request for a typed event, in one expression, for the app's handler tests.

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method};
use serde_json::Value;

use crate::error::{SecretError, VerifyError};
use crate::event::Verified;
use crate::handler::Delivery;
use crate::idempotency::ClaimToken;
use crate::providers::{EventSample, SampleRequest};
use crate::receiver::Outcome;
use crate::request::{RequestHead, WebhookRequest};
use crate::router::EventRouter;
use crate::scheme::verifier::{IntoVerifier, Verifier};
use crate::verify::VerifyOptions;

/// A request signed now as a provider would send it, with the verifier (built from the same
/// secret) that accepts it: give it to [`EventRouter::handle`](crate::EventRouter::handle) to run a route
/// without HTTP, or send [`into_http`](Self::into_http) to a receiver or an app.
pub struct SignedRequest {
    pub(crate) sender: Arc<String>,
    pub(crate) verifier: Arc<Verifier>,
    pub(crate) request: http::Request<Bytes>,
}

impl SignedRequest {
    /// A request the app already has (a provider's published example, a captured delivery)
    /// and the verifier that accepts it, from the sender named `sender`.
    pub fn new(sender: &str, scheme: impl IntoVerifier, request: http::Request<Bytes>) -> Self {
        Self {
            sender: Arc::new(sender.to_owned()),
            verifier: Arc::new(scheme.into_verifier()),
            request,
        }
    }

    /// [`new`](Self::new) with a verifier built from configuration (by
    /// [`Builtin::build`](crate::scheme::Builtin::build)).
    pub fn from_boxed(
        sender: &str,
        scheme: impl IntoVerifier,
        request: http::Request<Bytes>,
    ) -> Self {
        Self::new(sender, scheme, request)
    }

    /// Names the sender the request comes from (default: the scheme's name), for routes
    /// registered with [`EventRouter::route_for`](crate::EventRouter::route_for).
    #[must_use]
    pub fn as_sender(mut self, name: &str) -> Self {
        self.sender = Arc::new(name.to_owned());
        self
    }

    /// The sender's name.
    #[must_use]
    pub fn sender(&self) -> &str {
        &self.sender
    }

    /// The request.
    #[must_use]
    pub fn request(&self) -> &http::Request<Bytes> {
        &self.request
    }

    /// The headers, signature included.
    #[must_use]
    pub fn headers(&self) -> &HeaderMap {
        self.request.headers()
    }

    /// The body, exactly as signed.
    #[must_use]
    pub fn body(&self) -> &Bytes {
        self.request.body()
    }

    /// The verifier that accepts this request.
    #[must_use]
    pub fn scheme(&self) -> &Verifier {
        &self.verifier
    }

    /// Verifies the request with its verifier.
    ///
    /// # Errors
    ///
    /// The [`VerifyError`] (only once the request's freshness window has passed).
    pub fn verify(&self) -> Result<Verified, VerifyError> {
        let head = RequestHead::new(
            self.request.method(),
            self.request.uri(),
            self.request.headers(),
        );
        self.verifier
            .verify_request(&WebhookRequest::new(head, self.request.body()))
    }

    /// The request as an `http::Request`, for [`Receiver::handle_http`](crate::Receiver::handle_http)
    /// or an app's router.
    #[must_use]
    pub fn into_http(self) -> http::Request<Bytes> {
        self.request
    }
}

impl fmt::Debug for SignedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedRequest")
            .field("sender", &self.sender)
            .field("verifier", &self.verifier)
            .field("uri", self.request.uri())
            .field("body_len", &self.request.body().len())
            .finish_non_exhaustive()
    }
}

// The test kit's entry into a router, kept here so that the router itself knows nothing of it.
impl EventRouter {
    /// Verifies a request built by [`testing::signed_event`](crate::testing::signed_event) and
    /// runs its route, without HTTP and without a store: for the app's unit tests of its
    /// routes and handlers. The outcome is what a receiver would answer (`processed`,
    /// `unrouted`, `invalid_payload`, `handler_failed`, or the rejection), with `recorded`
    /// false since nothing is stored.
    ///
    /// ```
    /// use verihook::envelope::StripeEvent;
    /// use verihook::{testing, HandlerError, EventRouter};
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Invoice { amount_paid: u64 }
    ///
    /// async fn invoice_paid(event: StripeEvent<Invoice>) -> Result<(), HandlerError> {
    ///     assert_eq!(event.object.amount_paid, 4200);
    ///     Ok(())
    /// }
    ///
    /// # async fn demo() {
    /// let router = EventRouter::new().route("invoice.paid", invoice_paid);
    /// let request = testing::signed_event(
    ///     "stripe", "whsec_test_secret", "invoice.paid", serde_json::json!({ "amount_paid": 4200 }),
    /// ).unwrap();
    /// assert_eq!(router.handle(&request).await.code(), "processed");
    /// # }
    /// # use std::future::Future;
    /// # let mut f = std::pin::pin!(demo());
    /// # let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// # while f.as_mut().poll(&mut cx).is_pending() {}
    /// ```
    pub async fn handle(&self, request: &SignedRequest) -> Outcome {
        if let Err(error) = self.check() {
            return Outcome::HandlerFailed {
                key: String::new(),
                error: Box::new(error),
            };
        }
        let event = match request.verify() {
            Ok(Verified::Event(event)) => event.with_sender(&request.sender),
            Ok(Verified::Handshake(answer)) => return Outcome::Handshake(answer),
            Err(error) => return Outcome::Rejected(error),
        };
        let key = event.idempotency_key();
        let delivery = Delivery::new(
            event,
            key.clone(),
            ClaimToken::generate(),
            1,
            crate::providers::route_key,
        );
        // No lease and no panic caught: a failed assertion in a route fails the app's test.
        Outcome::handled(key, self.run(delivery).await, false)
    }
}

/// A request for one event of type `event_type` with `payload` as its data, from the built-in
/// sender `scheme` (`stripe`, `github`, `standard-webhooks`, ...), wrapped in that provider's
/// envelope and signed now with `secret`, as the provider sends it:
///
/// | `scheme` | `event_type` | `payload` becomes |
/// |---|---|---|
/// | `stripe` | `type` | `data.object` of an event with a fresh `evt_` id |
/// | `standard-webhooks` | `type` | `data`, with a fresh `msg_` id |
/// | `github` | `pull_request.opened`: `X-GitHub-Event` and `action` | the body |
/// | `slack` | the inner `event.type` | `event` of an `event_callback` |
/// | `twilio` | ignored | form parameters (each member), URL [`TEST_URL`](crate::testing::TEST_URL) |
/// | `discord` | `application_command.<name>`, `message_component`, `modal_submit` (interactions) or a webhook event type | `data` (the secret seeds the key pair) |
/// | `square` | `type` | `data.object`, URL [`TEST_URL`](crate::testing::TEST_URL) |
/// | `shopify` | `X-Shopify-Topic` | the body |
/// | `gitlab` | `merge_request.open`: `object_kind` and `object_attributes.action` | the body |
/// | `paddle` | `event_type` | `data` |
/// | `linear` | `Issue.create`: `type` and `action` | `data` |
/// | `zoom` | `event` | `payload` |
///
/// ```
/// let request = verihook::testing::signed_event(
///     "github", "a webhook secret", "pull_request.opened", serde_json::json!({ "number": 7 }),
/// ).unwrap();
/// assert_eq!(request.headers()["x-github-event"], "pull_request");
/// assert!(request.verify().is_ok());
/// ```
///
/// # Errors
///
/// [`VerifyError::BadSecret`] for an unknown scheme, a secret the scheme refuses, or `discord`
/// without the `discord` feature; [`VerifyError::MalformedHeader`] when the event type cannot
/// be a header value.
pub fn signed_event(
    scheme: &str,
    secret: &str,
    event_type: &str,
    payload: Value,
) -> Result<SignedRequest, VerifyError> {
    let provider =
        crate::providers::find(scheme).ok_or(VerifyError::BadSecret(SecretError::WrongKind {
            reason: "signed_event knows the built-in schemes only",
        }))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let unique = ClaimToken::generate();
    let unique = unique.as_str();
    let uuid = crate::sample::uuid_text(unique);
    let (kind, action) = match event_type.split_once('.') {
        Some((kind, action)) => (kind, Some(action)),
        None => (event_type, None),
    };
    let SampleRequest {
        body,
        mut headers,
        url,
        key,
    } = (provider.sample.event)(&EventSample {
        secret,
        event_type,
        kind,
        action,
        payload,
        secs: now.as_secs(),
        millis: u64::try_from(now.as_millis()).unwrap_or(0),
        unique,
        uuid: &uuid,
    })?;
    let content_type = HeaderValue::from_static(provider.content_type(&body));
    headers.insert(header::CONTENT_TYPE, content_type);
    let key = key.as_deref().unwrap_or(secret);
    let verifier = provider.build(&[key], url.as_deref(), VerifyOptions::default())?;
    let target = url.unwrap_or_else(|| format!("/webhooks/{}", provider.name));
    let mut request = http::Request::new(Bytes::from(body));
    *request.method_mut() = Method::POST;
    *request.uri_mut() = target.parse().map_err(|_| VerifyError::UrlMismatch)?;
    *request.headers_mut() = headers;
    Ok(SignedRequest {
        sender: Arc::new(provider.name.to_owned()),
        verifier: Arc::new(verifier),
        request,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_signs_an_event_its_verifier_accepts() {
        for builtin in crate::providers::ALL {
            if cfg!(not(feature = "discord")) && builtin.name == "discord" {
                continue;
            }
            // A whsec_ base64 secret for the two schemes that want one.
            let secret = if matches!(builtin.name, "standard-webhooks" | "stripe") {
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
            } else {
                "a-long-enough-test-secret-0123456789"
            };
            let request = signed_event(
                builtin.name,
                secret,
                "thing.happened",
                serde_json::json!({ "id": "t1" }),
            )
            .unwrap();
            assert!(request.verify().is_ok(), "{}", builtin.name);
            let tampered = SignedRequest {
                sender: request.sender.clone(),
                verifier: request.verifier.clone(),
                request: {
                    let mut copy = http::Request::new(Bytes::from_static(b"{\"id\":\"t2\"}"));
                    *copy.method_mut() = Method::POST;
                    *copy.uri_mut() = request.request.uri().clone();
                    *copy.headers_mut() = request.request.headers().clone();
                    copy
                },
            };
            // GitLab's secret token signs nothing: only the others see the change.
            if builtin.name != "gitlab" {
                assert!(tampered.verify().is_err(), "{}", builtin.name);
            }
        }
    }
}
