//! CloudEvents over HTTP (CNCF, v1.0): binary and structured content modes read into the
//! event, and the CloudEvents Webhook specification's abuse-protection handshake, on top of any
//! signing scheme.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use serde::Deserialize;

use crate::error::VerifyError;
use crate::event::{Field, Handshake, Verified};
use crate::request::{RequestHead, WebhookRequest};
use crate::scheme::verifier::{Answers, Check, Scheme, SchemeInfo, Verifier};
use crate::verify::Header;

static REQUEST_ORIGIN: Header = Header::new("webhook-request-origin", "WebHook-Request-Origin");
static REQUEST_RATE: Header = Header::new("webhook-request-rate", "WebHook-Request-Rate");
static SPECVERSION: Header = Header::new("ce-specversion", "ce-specversion");
static CE_ID: Header = Header::new("ce-id", "ce-id");
static CE_TYPE: Header = Header::new("ce-type", "ce-type");

/// The media type of a structured-mode CloudEvent in JSON.
pub const STRUCTURED_JSON: &str = "application/cloudevents+json";

/// Receives CloudEvents over HTTP from a sender that signs them with `S` (a CloudEvent signed
/// as Standard Webhooks is the common case).
///
/// * **Authenticity** is the inner scheme's: every request but the handshake is verified by it
///   first, exactly as without this wrapper.
/// * **Structured mode** (the body is a JSON CloudEvent, sent as
///   `Content-Type: application/cloudevents+json`): the event's id is the CloudEvent's `source`
///   and `id` (`"<source> <id>"`, so two sources never collide) and its type the CloudEvent's
///   `type`, read from the body, so signed whenever the inner scheme signs the body; that id
///   de-duplicates. Read the whole envelope with `event.json::<StructuredEvent<T>>()`.
/// * **Binary mode** (`ce-specversion`, `ce-id`, `ce-source`, `ce-type` headers, the data as
///   the body): those headers are not covered by the usual signatures, so the type is
///   reported from `ce-type` as unsigned (and, being unsigned, is part of the idempotency
///   key), and the inner scheme's signed id (Standard Webhooks' `webhook-id`) still
///   de-duplicates; without one, `ce-id` is reported, unsigned.
/// * **The mode is read from the signed body, never from a header**: a body that is a JSON
///   object with `specversion` 1.x, `id`, `source` (no white space) and `type` is structured,
///   whatever `Content-Type` says, and its `ce-*` headers are ignored. A captured delivery
///   replayed with another `Content-Type` or with `ce-type` added keeps its key and its route.
/// * **Abuse protection** (CloudEvents Webhook spec, section 4): an `OPTIONS` request with
///   `WebHook-Request-Origin` is answered `200` with `WebHook-Allowed-Origin` when that origin
///   is allowed ([`allow_origin`](Self::allow_origin); `*` allows any) and, if set,
///   `WebHook-Allowed-Rate`; any other origin gets `403` and no grant. This check is unsigned by
///   design (it only grants permission to send): route `OPTIONS` to the receiver as well as
///   `POST`.
///
/// ```
/// use verihook::scheme::cloudevents::CloudEvents;
/// use verihook::testing::StandardSigner;
/// use verihook::{scheme::FixedClock, providers::standard::StandardVerifier, event::Verified, WebhookRequest, RequestHead};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// let scheme = CloudEvents::new(StandardVerifier::new(secret)?.with_clock(FixedClock::at_unix(1_700_000_001)))
///     .allow_origin("eventemitter.example.com");
/// let body = br#"{"specversion":"1.0","id":"A234-1234-1234","source":"https://github.com/cloudevents/spec/pull","type":"com.github.pull_request.opened","data":{}}"#;
/// let mut headers = StandardSigner::new(secret)?.sign("msg_1", 1_700_000_000, body)?;
/// headers.insert("content-type", "application/cloudevents+json".parse()?);
/// let body = bytes::Bytes::from_static(body);
/// let verified = scheme.verify_request(&WebhookRequest::new(RequestHead::post(&headers), &body))?;
/// let Verified::Event(event) = verified else { panic!() };
/// assert_eq!(event.id().as_deref(), Some("https://github.com/cloudevents/spec/pull A234-1234-1234"));
/// assert_eq!(event.event_type().as_deref(), Some("com.github.pull_request.opened"));
/// assert!(event.signed().id());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct CloudEvents<S> {
    inner: S,
    /// The inner scheme's, plus `WebHook-Request-Origin` (the handshake) among its headers.
    info: SchemeInfo,
    origins: Arc<[String]>,
    rate: Option<u32>,
}

impl<S: Scheme> CloudEvents<S> {
    /// CloudEvents signed with the scheme of `inner`, under its policy (clock, tolerance); no
    /// origin allowed until [`allow_origin`](Verifier::allow_origin).
    // A verifier in, a verifier out: the wrapper changes the scheme, not the policy.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(inner: Verifier<S>) -> Verifier<CloudEvents<S>> {
        Verifier {
            scheme: Self::wrap(inner.scheme),
            options: inner.options,
        }
    }

    /// CloudEvents signed with the scheme `inner` (its policy is the verifier's that holds the
    /// wrapper).
    pub fn wrap(inner: S) -> Self {
        let mut headers = inner.info().signature_headers.to_vec();
        headers.push(REQUEST_ORIGIN.wire.clone());
        let info = SchemeInfo::named(inner.info().name.clone(), headers)
            .with_body_limit(inner.info().body_limit)
            .with_tolerance(inner.info().tolerance);
        Self {
            inner,
            info,
            origins: Arc::from([]),
            rate: None,
        }
    }

    /// Grants `origin` (the sender's host, as it sends `WebHook-Request-Origin`; `*` for any)
    /// permission to deliver.
    #[must_use]
    pub fn allow_origin(mut self, origin: impl Into<String>) -> Self {
        let mut origins = self.origins.to_vec();
        origins.push(origin.into());
        self.origins = origins.into();
        self
    }

    /// The request rate granted, per minute (`WebHook-Allowed-Rate`); none by default, which
    /// the specification reads as "no limit stated".
    #[must_use]
    pub fn allowed_rate(mut self, per_minute: u32) -> Self {
        self.rate = Some(per_minute);
        self
    }

    /// The abuse-protection answer for `headers`.
    fn validation(&self, headers: &HeaderMap) -> Result<Handshake, VerifyError> {
        let origin = REQUEST_ORIGIN.require(headers)?;
        let origin_text = REQUEST_ORIGIN.text(origin)?;
        let allowed = self
            .origins
            .iter()
            .any(|allowed| allowed == "*" || allowed.as_bytes().eq_ignore_ascii_case(origin_text));
        if !allowed {
            return Ok(Handshake::new(
                StatusCode::FORBIDDEN,
                "text/plain",
                "origin not allowed",
            ));
        }
        let mut answer = Handshake::new(StatusCode::OK, "text/plain", "")
            .with_header(
                HeaderName::from_static("webhook-allowed-origin"),
                origin.clone(),
            )
            .with_header(
                HeaderName::from_static("allow"),
                HeaderValue::from_static("POST"),
            );
        if let Some(rate) = self.rate {
            answer = answer.with_header(
                HeaderName::from_static("webhook-allowed-rate"),
                HeaderValue::from(rate),
            );
        } else if let Some(requested) = REQUEST_RATE.get(headers) {
            // No limit of our own: the rate the sender asked for is granted.
            answer = answer.with_header(
                HeaderName::from_static("webhook-allowed-rate"),
                requested.clone(),
            );
        }
        Ok(answer)
    }
}

impl<S: Scheme> Verifier<CloudEvents<S>> {
    /// Grants `origin` (the sender's host, as it sends `WebHook-Request-Origin`; `*` for any)
    /// permission to deliver.
    #[must_use]
    pub fn allow_origin(mut self, origin: impl Into<String>) -> Self {
        self.scheme = self.scheme.allow_origin(origin);
        self
    }

    /// The request rate granted, per minute (`WebHook-Allowed-Rate`); none by default, which
    /// the specification reads as "no limit stated".
    #[must_use]
    pub fn allowed_rate(mut self, per_minute: u32) -> Self {
        self.scheme = self.scheme.allowed_rate(per_minute);
        self
    }
}

impl<S: Scheme> Answers for CloudEvents<S> {
    type Answer = Verified;
    fn answer(verified: Verified) -> Result<Verified, VerifyError> {
        Ok(verified)
    }
}

/// The attributes read from a structured-mode body.
#[derive(Deserialize)]
struct Attributes<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    source: Cow<'a, str>,
    #[serde(borrow, rename = "type")]
    event_type: Cow<'a, str>,
    #[serde(borrow)]
    specversion: Cow<'a, str>,
}

/// A structured-mode CloudEvent (JSON) with its data as `T`: read it with
/// [`Event::json`](crate::Event::json).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct StructuredEvent<T> {
    /// `specversion` (`1.0`).
    pub specversion: String,
    /// `id`, unique within its `source`.
    pub id: String,
    /// `source`, a URI reference.
    pub source: String,
    /// `type` (`com.github.pull_request.opened`).
    #[serde(rename = "type")]
    pub event_type: String,
    /// `time`, RFC 3339, if sent.
    #[serde(default)]
    pub time: Option<String>,
    /// `subject`, if sent.
    #[serde(default)]
    pub subject: Option<String>,
    /// `datacontenttype`, if sent.
    #[serde(default)]
    pub datacontenttype: Option<String>,
    /// `data`, if sent.
    #[serde(default = "Option::default")]
    pub data: Option<T>,
}

impl<S: Scheme> Scheme for CloudEvents<S> {
    fn info(&self) -> &SchemeInfo {
        &self.info
    }

    fn check_head(&self, head: &RequestHead<'_>, at: &Check<'_>) -> Result<(), VerifyError> {
        if *head.method() == Method::OPTIONS {
            return REQUEST_ORIGIN.require(head.headers()).map(|_| ());
        }
        self.inner.check_head(head, at)
    }

    fn verify(
        &self,
        request: &WebhookRequest<'_>,
        at: &Check<'_>,
    ) -> Result<Verified, VerifyError> {
        if *request.head().method() == Method::OPTIONS {
            return self.validation(request.headers()).map(Verified::Handshake);
        }
        let mut event = match self.inner.verify(request, at)? {
            Verified::Event(event) => event,
            handshake => return Ok(handshake),
        };
        let headers = request.headers();
        let body_signed = event.signed.body();
        // Which mode a request is in is read from the signed body, never from the unsigned
        // `Content-Type`: a captured delivery replayed with other headers keeps its key and type.
        let structured = serde_json::from_slice::<Attributes<'_>>(&event.body)
            .ok()
            .filter(|attributes| {
                attributes.specversion.starts_with("1.")
                    && !attributes.source.bytes().any(|b| b.is_ascii_whitespace())
            });
        if let Some(attributes) = structured {
            let id = format!("{} {}", attributes.source, attributes.id);
            event.id = Field::Text(id.into());
            event.signed.id = body_signed;
            event.event_type = Field::Text(attributes.event_type.as_ref().into());
            event.signed.event_type = body_signed;
        } else if SPECVERSION.get(headers).is_some() {
            if let Some(value) = CE_TYPE.get(headers).filter(|v| CE_TYPE.text(v).is_ok()) {
                event.event_type = Field::Header(value.clone());
                event.signed.event_type = false;
            }
            if !event.signed.id {
                if let Some(value) = CE_ID.get(headers).filter(|v| CE_ID.text(v).is_ok()) {
                    event.id = Field::Header(value.clone());
                }
            }
        }
        Ok(Verified::Event(event))
    }
}

impl<S: fmt::Debug> fmt::Debug for CloudEvents<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloudEvents")
            .field("inner", &self.inner)
            .field("origins", &self.origins)
            .field("rate", &self.rate)
            .finish()
    }
}
