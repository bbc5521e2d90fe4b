//! Zoom: `x-zm-signature: v0=<hex>`, HMAC-SHA256 of `v0:{x-zm-request-timestamp}:{body}`, and
//! the `endpoint.url_validation` handshake.

use std::time::SystemTime;

use hmac::{Hmac, Mac};
use http::HeaderMap;
use serde::Deserialize;
use sha2::Sha256;

use crate::error::VerifyError;
use crate::event::{Event, Field, Handshake, Verified};
use crate::request::{RequestHead, WebhookRequest};
use crate::scheme::text_secret_scheme;
use crate::scheme::{with_signed_content, MacKeys, Scheme};
use crate::verify::{verifier_options, Header, VerifyOptions};

pub(crate) static SIGNATURE: Header = Header::new("x-zm-signature", "x-zm-signature");
pub(crate) static TIMESTAMP: Header =
    Header::new("x-zm-request-timestamp", "x-zm-request-timestamp");

/// The largest body looked at for a URL validation (Zoom's is about 150 bytes).
const HANDSHAKE_MAX: usize = 4096;

/// The event type of Zoom's URL validation request.
pub(crate) const URL_VALIDATION: &str = "endpoint.url_validation";

/// Verifies Zoom webhooks: `x-zm-signature: v0=<hex>`, the HMAC-SHA256 of
/// `v0:{x-zm-request-timestamp}:{body}` under the app's secret token, with the timestamp
/// within the tolerance (default 5 minutes) in either direction, checked before any
/// signature work.
///
/// Zoom's URL validation (`"event":"endpoint.url_validation"`) is answered by the scheme
/// itself once its signature passed, as Zoom's own sample does: [`Verified::Handshake`] with
/// `{"plainToken":..,"encryptedToken":..}`, the hex HMAC-SHA256 of the plain token under the
/// secret that signed the request. The type is the body's `event` (`meeting.started`), signed.
/// Zoom sends no event id: a digest of the signed timestamp and body de-duplicates.
///
/// ```
/// use verihook::{testing::ZoomSigner, FixedClock, Verified, ZoomVerifier};
/// # fn main() -> Result<(), verihook::VerifyError> {
/// let secret = "zoom_secret_token_123";
/// let body = br#"{"event":"endpoint.url_validation","payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680}"#;
/// let headers = ZoomSigner::new(secret)?.sign(1_700_000_000, body);
/// let verifier = ZoomVerifier::new(secret)?.with_clock(FixedClock::at_unix(1_700_000_001));
/// let Verified::Handshake(answer) = verifier.verify(&headers, body.as_slice().into())? else { panic!() };
/// assert!(answer.body().starts_with(br#"{"plainToken":"qgg8vlvZRS6UYooatFL8Aw","encryptedToken":""#));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ZoomVerifier {
    keys: MacKeys<Hmac<Sha256>>,
    options: VerifyOptions,
}

impl ZoomVerifier {
    /// The timestamp's digits and value, and the signature, once the timestamp is fresh.
    fn parse<'a>(
        &self,
        headers: &'a HeaderMap,
        now: SystemTime,
    ) -> Result<(&'a [u8], u64, [u8; 32]), VerifyError> {
        crate::scheme::v0_signed(
            headers,
            [&SIGNATURE, &TIMESTAMP],
            self.options.tolerance(),
            now,
        )
    }
}

verifier_options!(ZoomVerifier, handshakes);
text_secret_scheme!(
    ZoomVerifier,
    "zoom",
    "the app's secret token (the app's \"Feature\" page in the Zoom Marketplace)",
    "x-zm-signature"
);

/// The part of a URL validation request the answer needs.
#[derive(Deserialize)]
struct Validation<'a> {
    event: &'a str,
    #[serde(borrow)]
    payload: ValidationPayload<'a>,
}

#[derive(Deserialize)]
struct ValidationPayload<'a> {
    #[serde(rename = "plainToken")]
    plain_token: std::borrow::Cow<'a, str>,
}

/// The answer to a URL validation signed with `key`, when `body` is one.
pub(crate) fn validation_answer(key: &Hmac<Sha256>, body: &[u8]) -> Option<Handshake> {
    // Built once: building a substring finder costs more than searching a small body.
    static FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(URL_VALIDATION.as_bytes()));
    if body.len() > HANDSHAKE_MAX || FINDER.find(body).is_none() {
        return None;
    }
    let request: Validation<'_> = serde_json::from_slice(body).ok()?;
    if request.event != URL_VALIDATION {
        return None;
    }
    let plain = request.payload.plain_token;
    let mut mac = key.clone();
    mac.update(plain.as_bytes());
    let encrypted = const_hex::encode(mac.finalize().into_bytes());
    // In the order Zoom's own sample answers; the token is escaped as JSON text.
    let plain = serde_json::to_string(&plain).ok()?;
    Some(Handshake::json(format!(
        r#"{{"plainToken":{plain},"encryptedToken":"{encrypted}"}}"#
    )))
}

impl Scheme for ZoomVerifier {
    fn name(&self) -> &'static str {
        "zoom"
    }

    fn recognizes(&self, headers: &HeaderMap) -> bool {
        SIGNATURE.get(headers).is_some()
    }

    fn precheck(&self, head: &RequestHead<'_>, now: SystemTime) -> Result<(), VerifyError> {
        self.parse(head.headers(), now).map(|_| ())
    }

    fn now(&self) -> SystemTime {
        self.options.clock.now()
    }

    fn verify_request(
        &self,
        request: &WebhookRequest<'_>,
        now: SystemTime,
    ) -> Result<Verified, VerifyError> {
        let (digits, seconds, signature) = self.parse(request.headers(), now)?;
        let body = request.body();
        let key = with_signed_content([b"v0:", digits, b":"], body, |parts| {
            self.keys.matching_key(parts, || std::iter::once(signature))
        })
        .ok_or(VerifyError::SignatureMismatch {
            secrets: self.keys.len(),
            signatures: 1,
        })?;
        if let Some(answer) = validation_answer(key, body) {
            return Ok(Verified::Handshake(answer));
        }
        Ok(Verified::Event(
            Event::builder("zoom", body.clone())
                .event_type(Field::Body("event"), true)
                .timestamp(seconds)
                .build(),
        ))
    }
}
