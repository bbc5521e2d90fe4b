//! Signing schemes: the open [`Scheme`] trait, what a scheme declares about itself, and the one
//! [`Verifier`] that adds the app's policy.
//!
//! An app's own scheme, written with the public API alone: Acme signs the raw body with
//! HMAC-SHA512 and sends `X-Signature: sha512=<hex>`; the body's `id` is the event id.
//!
//! ```
//! use hmac::{Hmac, KeyInit, Mac};
//! use verihook::bytes::Bytes;
//! use verihook::http::{HeaderMap, HeaderName, HeaderValue};
//! use verihook::scheme::{Check, SchemeInfo, Verifier};
//! use verihook::event::{Field, Verified};
//! use verihook::{Event, RequestHead, Scheme, VerifyError, WebhookRequest};
//!
//! #[derive(Debug)]
//! struct Acme {
//!     key: Vec<u8>,
//! }
//!
//! static HEADERS: [HeaderName; 1] = [HeaderName::from_static("x-signature")];
//! static INFO: SchemeInfo = SchemeInfo::new("acme", &HEADERS).with_body_limit(64 * 1024);
//!
//! impl Acme {
//!     fn mac(&self) -> Hmac<sha2::Sha512> {
//!         Hmac::new_from_slice(&self.key).expect("HMAC takes a key of any length")
//!     }
//! }
//!
//! impl Scheme for Acme {
//!     fn info(&self) -> &SchemeInfo {
//!         &INFO
//!     }
//!
//!     // Before the body is read: the header is there and well formed.
//!     fn check_head(&self, head: &RequestHead<'_>, _at: &Check<'_>) -> Result<(), VerifyError> {
//!         signature(head.headers()).map(|_| ())
//!     }
//!
//!     fn verify(&self, request: &WebhookRequest<'_>, _at: &Check<'_>) -> Result<Verified, VerifyError> {
//!         let sent = signature(request.headers())?;
//!         let mut mac = self.mac();
//!         mac.update(request.body()); // the raw bytes, as received
//!         mac.verify_slice(&sent) // constant time
//!             .map_err(|_| VerifyError::SignatureMismatch { secrets: 1, signatures: 1 })?;
//!         let event = Event::builder(INFO.name.clone(), request.body().clone())
//!             .id(Field::Body("id"), true) // signed: it de-duplicates
//!             .build();
//!         Ok(Verified::Event(event))
//!     }
//! }
//!
//! fn signature(headers: &HeaderMap) -> Result<[u8; 64], VerifyError> {
//!     let malformed = VerifyError::MalformedHeader { name: "X-Signature", reason: "expected sha512=<128 hex digits>" };
//!     let value = headers.get("x-signature").ok_or(VerifyError::MissingHeader { name: "X-Signature" })?;
//!     let hex = value.as_bytes().strip_prefix(b"sha512=").ok_or(malformed.clone())?;
//!     let mut signature = [0u8; 64];
//!     const_hex::decode_to_slice(hex, &mut signature).map_err(|_| malformed)?;
//!     Ok(signature)
//! }
//!
//! fn main() -> Result<(), VerifyError> {
//!     let acme = Acme { key: b"an in-house secret".to_vec() };
//!     // What Acme would send.
//!     let body = Bytes::from_static(br#"{"id":"a1","type":"order.paid"}"#);
//!     let mut mac = acme.mac();
//!     mac.update(&body);
//!     let sent = format!("sha512={}", const_hex::encode(mac.finalize().into_bytes()));
//!     let mut headers = HeaderMap::new();
//!     headers.insert("x-signature", HeaderValue::from_str(&sent).expect("hex is a header value"));
//!
//!     // A verifier adds the policy (clock, tolerance); a `Receiver` takes `Acme` as a sender.
//!     let verifier = Verifier::for_scheme(acme);
//!     let verified = verifier.verify_request(&WebhookRequest::new(RequestHead::post(&headers), &body))?;
//!     assert_eq!(verified.into_event().map(|event| event.idempotency_key()).as_deref(), Some("acme:a1"));
//!
//!     let forged = Bytes::from_static(br#"{"id":"a2","type":"order.paid"}"#);
//!     let refused = verifier.verify_request(&WebhookRequest::new(RequestHead::post(&headers), &forged));
//!     assert_eq!(refused.err().map(|err| err.code()), Some("bad_signature"));
//!     Ok(())
//! }
//! ```
//!
//! A scheme declares what it is once, as data ([`SchemeInfo`]), and writes two functions: a
//! cheap check of the head and the verification of the whole request (method, URL, headers,
//! raw body), which answers with a [`Verified`](crate::event::Verified) event or handshake. The policy — clock,
//! tolerance — lives apart, in one generic [`Verifier`]: `StripeVerifier` is
//! `Verifier<Stripe>`. Each built-in scheme is its provider's file in
//! [`providers`](crate::providers) plus one line in [`providers::ALL`](crate::providers::ALL).
//! The [`Scheme`] docs have a scheme with a signed timestamp; the guide's
//! [schemes](crate::guide) chapter covers declared schemes (JSON, no code) and CloudEvents.

pub mod cloudevents;
pub mod declared;
pub(crate) mod verifier;

pub use crate::event::SchemeName;
pub use crate::verify::{Clock, FixedClock, SystemClock, VerifyOptions, DEFAULT_TOLERANCE};
pub use crate::wire::header::MAX_SIGNATURES;
pub use verifier::{
    Answers, Check, Events, IntoVerifier, Scheme, SchemeInfo, TextKeyed, TextKeys, Verifier,
    DEFAULT_BODY_LIMIT,
};

use http::HeaderMap;

/// A built-in scheme, as configuration and the CLI name it: now [`providers::Provider`](crate::providers::Provider).
#[deprecated(note = "use verihook::providers::Provider")]
pub type Builtin = crate::providers::Provider;

/// Every built-in scheme: now [`providers::ALL`](crate::providers::ALL).
#[deprecated(note = "use verihook::providers::ALL")]
pub static BUILTINS: &[&crate::providers::Provider] = crate::providers::ALL;

/// The built-in scheme called `name` (or one of its aliases), ignoring case: now
/// [`providers::find`](crate::providers::find).
#[deprecated(note = "use verihook::providers::find")]
#[must_use]
pub fn builtin(name: &str) -> Option<&'static crate::providers::Provider> {
    crate::providers::find(name)
}

/// The built-in scheme whose signature (or token) header `headers` carry: now
/// [`providers::detect`](crate::providers::detect).
#[deprecated(note = "use verihook::providers::detect")]
#[must_use]
pub fn detect(headers: &HeaderMap) -> Option<&'static crate::providers::Provider> {
    crate::providers::detect(headers)
}
