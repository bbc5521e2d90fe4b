//! Zoom: `x-zm-signature: v0=<hex>`, HMAC-SHA256 of `v0:{x-zm-request-timestamp}:{body}`, and
//! the `endpoint.url_validation` handshake.

use std::fmt;
use std::time::SystemTime;

use hmac::{Hmac, Mac};
use http::HeaderMap;
use serde::Deserialize;
use sha2::Sha256;

use super::{hex_array, with_signed_content, Builtin, MacKeys, Scheme, MIN_RAW_SECRET_LEN};
use crate::error::VerifyError;
use crate::event::{Event, Field, Handshake, Verified};
use crate::request::{RequestHead, WebhookRequest};
use crate::verify::{check_freshness, parse_unix_seconds, verifier_options, Header, VerifyOptions};

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
    /// A verifier for the app's secret token (the app's "Feature" page in the Zoom Marketplace).
    ///
    /// # Errors
    ///
    /// [`VerifyError::BadSecret`] when the secret is empty or shorter than 8 bytes.
    pub fn new(secret_token: impl AsRef<[u8]>) -> Result<Self, VerifyError> {
        Self::with_secrets([secret_token])
    }

    /// A verifier that accepts a signature from any of `secrets` (rotation).
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new), or when there are no secrets.
    pub fn with_secrets<I>(secrets: I) -> Result<Self, VerifyError>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        Self::with_min(secrets, MIN_RAW_SECRET_LEN)
    }

    fn with_min<I>(secrets: I, min: usize) -> Result<Self, VerifyError>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        Ok(Self {
            keys: MacKeys::from_secrets(secrets, min)?,
            options: VerifyOptions::default(),
        })
    }

    /// The timestamp's digits and value, and the signature, once the timestamp is fresh.
    fn parse<'a>(
        &self,
        headers: &'a HeaderMap,
        now: SystemTime,
    ) -> Result<(&'a [u8], u64, [u8; 32]), VerifyError> {
        let [signature, timestamp] = Header::find_all(headers, [&SIGNATURE, &TIMESTAMP]);
        let signature = signature.ok_or_else(|| SIGNATURE.missing())?;
        let digits = timestamp.ok_or_else(|| TIMESTAMP.missing())?.as_bytes();
        let seconds = parse_unix_seconds(digits)
            .ok_or_else(|| TIMESTAMP.malformed("not a Unix time in seconds"))?;
        let signature = signature
            .as_bytes()
            .strip_prefix(b"v0=")
            .and_then(hex_array)
            .ok_or_else(|| SIGNATURE.malformed("expected v0= and 64 hex digits"))?;
        check_freshness(seconds, now, self.options.tolerance())?;
        Ok((digits, seconds, signature))
    }
}

verifier_options!(ZoomVerifier, handshakes);

pub(crate) static BUILTIN: Builtin = Builtin {
    name: "zoom",
    aliases: &[],
    signs_url: false,
    build: |args, options| {
        let secrets = args.secrets.iter().map(|s| s.as_bytes());
        Ok(Box::new(
            ZoomVerifier::with_min(secrets, args.min(MIN_RAW_SECRET_LEN))?.with_options(options),
        ))
    },
};

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

impl fmt::Debug for ZoomVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZoomVerifier")
            .field("secrets", &self.keys.len())
            .field("options", &self.options)
            .finish()
    }
}
