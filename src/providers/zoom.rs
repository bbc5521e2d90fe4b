//! Zoom: `x-zm-signature: v0=<hex>`, HMAC-SHA256 of `v0:{x-zm-request-timestamp}:{body}`, and
//! the `endpoint.url_validation` handshake.

use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderName};
use serde::Deserialize;
use sha2::Sha256;

use crate::error::VerifyError;
use crate::event::{Event, Field, Handshake, Verified};
use crate::request::{RequestHead, WebhookRequest};
use crate::scheme::verifier::{Answers, Check, Scheme, SchemeInfo, Verifier};
use crate::scheme::verifier::{TextKeyed, TextKeys};
use crate::verify::Header;
use crate::wire::mac::{with_signed_content, MacKeys};

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
/// [`ZoomVerifier::new`](Verifier::new) takes the app's secret token (the app's "Feature" page in the Zoom Marketplace).
///
/// ```
/// use verihook::{testing::ZoomSigner, scheme::FixedClock, event::Verified, providers::zoom::ZoomVerifier};
/// # fn main() -> Result<(), verihook::VerifyError> {
/// let secret = "zoom_secret_token_123";
/// let body = br#"{"event":"endpoint.url_validation","payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680}"#;
/// let headers = ZoomSigner::new(secret)?.sign(1_700_000_000, body);
/// let verifier = ZoomVerifier::new(secret)?.with_clock(FixedClock::at_unix(1_700_000_001));
/// let Verified::Handshake(answer) = verifier.verify(&headers, body.as_slice().into())? else { panic!() };
/// assert!(answer.body().starts_with(br#"{"plainToken":"qgg8vlvZRS6UYooatFL8Aw","encryptedToken":""#));
/// # Ok(()) }
/// ```
pub type ZoomVerifier = Verifier<Zoom>;

/// Zoom's scheme: the secrets, keyed once. Its policy (clock, tolerance) is the
/// [`ZoomVerifier`]'s.
#[derive(Clone, Debug)]
pub struct Zoom {
    keys: MacKeys<Hmac<Sha256>>,
}

impl Zoom {
    /// The timestamp's digits and value, and the signature, once the timestamp is fresh.
    fn parse<'a>(
        headers: &'a HeaderMap,
        at: &Check<'_>,
    ) -> Result<(&'a [u8], u64, [u8; 32]), VerifyError> {
        crate::wire::header::v0_signed(headers, [&SIGNATURE, &TIMESTAMP], at)
    }
}

const HEADER: &str = "x-zm-signature";
static HEADERS: [HeaderName; 1] = [HeaderName::from_static(HEADER)];
/// The provider's one name: its scheme's, its events' sender's and its registry entry's.
const NAME: &str = "zoom";

static INFO: SchemeInfo = SchemeInfo::new(NAME, &HEADERS);

impl TextKeyed for Zoom {
    const NAME: &'static str = NAME;

    fn from_keys(keys: TextKeys) -> Self {
        Self { keys: keys.0 }
    }
}

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

impl Answers for Zoom {
    type Answer = Verified;
    fn answer(verified: Verified) -> Result<Verified, VerifyError> {
        Ok(verified)
    }
}

impl Scheme for Zoom {
    fn info(&self) -> &SchemeInfo {
        &INFO
    }

    fn check_head(&self, head: &RequestHead<'_>, at: &Check<'_>) -> Result<(), VerifyError> {
        Self::parse(head.headers(), at).map(|_| ())
    }

    fn verify(
        &self,
        request: &WebhookRequest<'_>,
        at: &Check<'_>,
    ) -> Result<Verified, VerifyError> {
        let (digits, seconds, signature) = Self::parse(request.headers(), at)?;
        let body = request.body();
        let key = with_signed_content([b"v0:", digits, b":"], body, |parts| {
            self.keys.matching_key(parts, || std::iter::once(signature))
        })
        .ok_or(self.keys.mismatch(1))?;
        if let Some(answer) = validation_answer(key, body) {
            return Ok(Verified::Handshake(answer));
        }
        Ok(Verified::Event(
            Event::builder(NAME, body.clone())
                .event_type(Field::Body("event"), true)
                .timestamp(seconds)
                .build(),
        ))
    }
}

// Everything else verihook knows about Zoom: its signer (for tests and the CLI), its
// typed envelope, its route key, its samples and its registry entry.

/// Signs requests as Zoom does.
#[derive(Clone)]
pub struct ZoomSigner {
    keys: crate::wire::mac::MacKeys<hmac::Hmac<sha2::Sha256>>,
}

impl ZoomSigner {
    /// A signer for the app's secret token.
    ///
    /// # Errors
    ///
    /// [`SecretError`](crate::error::SecretError) when the secret is empty.
    pub fn new(secret_token: impl AsRef<[u8]>) -> Result<Self, crate::error::SecretError> {
        Ok(Self {
            keys: crate::wire::mac::MacKeys::new(
                [secret_token.as_ref()],
                crate::sample::ANY_LENGTH,
            )?,
        })
    }

    /// The `x-zm-signature` value: `v0=<hex>`.
    #[must_use]
    pub fn signature(&self, timestamp: u64, body: &[u8]) -> String {
        crate::sample::v0_signature(&self.keys, timestamp, body)
    }

    /// `x-zm-signature` and `x-zm-request-timestamp` for `body` sent at `timestamp`.
    #[must_use]
    pub fn sign(&self, timestamp: u64, body: &[u8]) -> http::HeaderMap {
        crate::sample::v0_headers(&self.keys, [&SIGNATURE, &TIMESTAMP], timestamp, body)
    }
}

crate::sample::redacted_debug!(ZoomSigner);

/// A Zoom event (`event`, `event_ts`, `payload`), with `payload` as `T`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ZoomEvent<T> {
    /// `event` (`meeting.started`).
    pub event: String,
    /// `event_ts`, Unix milliseconds.
    pub event_ts: u64,
    /// `payload` (`account_id`, `object`).
    pub payload: T,
}

#[derive(serde::Deserialize)]
struct ZoomWire<T> {
    event: String,
    event_ts: u64,
    payload: T,
}

impl<S, T: serde::de::DeserializeOwned> crate::router::FromRouted<S> for ZoomEvent<T> {
    fn from_routed(
        routed: &crate::router::Routed,
        _: &S,
    ) -> Result<Self, crate::handler::HandlerError> {
        crate::router::from_wire(routed, |w: ZoomWire<T>, _| Self {
            event: w.event,
            event_ts: w.event_ts,
            payload: w.payload,
        })
    }
}

/// A meeting started.
fn sample_body(id: &str, event: &str) -> String {
    serde_json::json!({
        "event": event,
        "event_ts": crate::sample::unix_now() * 1000,
        "payload": { "account_id": "AAAAAABBBB", "object": { "id": "1234567890", "uuid": id, "topic": "verihook demo", "type": 2, "duration": 60 } }
    })
    .to_string()
}

fn sign_sample(
    request: &crate::providers::SignRequest<'_>,
) -> Result<crate::providers::SignedHeaders, crate::providers::SignError> {
    let headers = ZoomSigner::new(request.secret)?.sign(request.timestamp, request.body);
    Ok(crate::providers::SignedHeaders::new(headers))
}

/// `event`, `event_ts` and the payload as `payload`.
fn sample_event(
    sample: &crate::providers::EventSample<'_>,
) -> Result<crate::providers::SampleRequest, crate::error::VerifyError> {
    let body = crate::sample::to_vec(&serde_json::json!({
        "event": sample.event_type,
        "event_ts": sample.millis,
        "payload": sample.payload,
    }));
    let headers = ZoomSigner::new(sample.secret)?.sign(sample.secs, &body);
    Ok(crate::providers::SampleRequest::new(body, headers))
}
/// Ordered by the meeting or webinar (`payload.object.id`), stamped by `event_ts`.
fn ordering(event: &crate::event::Event) -> Option<crate::ordering::Order> {
    crate::ordering::from_body(event, "/payload/object/id", "/event_ts")
}

pub(crate) static PROVIDER: crate::providers::Provider = crate::providers::Provider {
    name: NAME,
    aliases: &[],
    signs_url: false,
    headers: &["x-zm-signature"],
    build: crate::providers::build_text_keyed::<Zoom>,
    route_key: crate::event::reported_route_key,
    ordering,
    sample: crate::providers::Sample {
        event_type: "meeting.started",
        header_event: "ping",
        id_note: None,
        spelled: &["x-zm-signature", "x-zm-request-timestamp"],
        forms: false,
        body: sample_body,
        sign: sign_sample,
        event: sample_event,
    },
};
