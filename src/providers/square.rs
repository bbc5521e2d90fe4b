//! Square: `x-square-hmacsha256-signature`, base64 HMAC-SHA256 of the notification URL followed
//! by the body.

use hmac::Hmac;
use http::HeaderName;
use sha2::Sha256;

use crate::error::VerifyError;
use crate::event::{Event, Field, Verified};
use crate::providers::configured;
use crate::providers::BuildArgs;
use crate::request::{RequestHead, WebhookRequest};
use crate::scheme::verifier::{event_only, Answers, Check, Scheme, SchemeInfo, Verifier};
use crate::verify::Header;
use crate::verify::VerifyOptions;
use crate::wire::mac::{MacKeys, MIN_RAW_SECRET_LEN};
use crate::wire::url::PublicUrl;

static HEADERS: [HeaderName; 1] = [HeaderName::from_static("x-square-hmacsha256-signature")];
static INFO: SchemeInfo = SchemeInfo::new("square", &HEADERS);

pub(crate) static SIGNATURE: Header = Header::new(
    "x-square-hmacsha256-signature",
    "x-square-hmacsha256-signature",
);

/// Verifies Square webhooks: `x-square-hmacsha256-signature`, the base64 HMAC-SHA256 of the
/// notification URL followed by the raw body, under the subscription's signature key.
///
/// Square signs the URL it posted to, so the verifier is built with the notification URL
/// exactly as configured in Square; the request's path must be that URL's path (behind a
/// proxy, the scheme and host come from the configured URL). Square signs no timestamp: the
/// body's `event_id` (signed) de-duplicates, so a replay is a duplicate for as long as the
/// store retains the key. The type is the body's `type`.
///
/// ```
/// use verihook::{testing::SquareSigner, providers::square::SquareVerifier};
/// # fn main() -> Result<(), verihook::VerifyError> {
/// let url = "https://example.com/webhooks/square";
/// let body = br#"{"event_id":"e-1","type":"payment.updated"}"#;
/// let headers = SquareSigner::new("signature-key")?.sign(url, body)?;
/// let request = http::Request::post("/webhooks/square").body(bytes::Bytes::from_static(body)).unwrap();
/// let (mut parts, body) = request.into_parts();
/// parts.headers = headers;
/// let request = http::Request::from_parts(parts, body);
/// let verifier = SquareVerifier::new("signature-key", url)?;
/// let event = verifier.verify_http(&request)?;
/// assert_eq!(event.id().as_deref(), Some("e-1"));
/// # Ok(()) }
/// ```
pub type SquareVerifier = Verifier<Square>;

/// Square's scheme: the keys and the public URL they sign. Its policy is the [`SquareVerifier`]'s
/// (this scheme signs no timestamp: it never reads the clock).
#[derive(Clone, Debug)]
pub struct Square {
    keys: MacKeys<Hmac<Sha256>>,
    url: PublicUrl,
}

impl SquareVerifier {
    /// A verifier for the signature key and the notification URL, both as Square shows them.
    ///
    /// # Errors
    ///
    /// [`VerifyError::BadSecret`] when the key is empty or shorter than 8 bytes, or the URL is
    /// not an absolute `https://` or `http://` URL.
    pub fn new(key: impl AsRef<[u8]>, notification_url: &str) -> Result<Self, VerifyError> {
        Self::with_secrets([key], notification_url)
    }

    /// A verifier that accepts a signature from any of `keys` (rotation).
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new), or when there are no keys.
    pub fn with_secrets<I>(keys: I, notification_url: &str) -> Result<Self, VerifyError>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        Self::with_min(keys, notification_url, MIN_RAW_SECRET_LEN)
    }

    fn with_min<I>(keys: I, notification_url: &str, min: usize) -> Result<Self, VerifyError>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        Ok(Verifier::for_scheme(Square {
            keys: MacKeys::from_secrets(keys, min)?,
            url: PublicUrl::parse(notification_url)?,
        }))
    }
}

impl Answers for Square {
    type Answer = Event;
    fn answer(verified: Verified) -> Result<Event, VerifyError> {
        event_only(verified)
    }
}

impl Scheme for Square {
    fn info(&self) -> &SchemeInfo {
        &INFO
    }

    fn check_head(&self, head: &RequestHead<'_>, _at: &Check<'_>) -> Result<(), VerifyError> {
        SIGNATURE.require(head.headers())?;
        self.url.signed(head.uri()).map(|_| ())
    }

    /// Square signs no timestamp, so `now` is not read.
    fn verify(
        &self,
        request: &WebhookRequest<'_>,
        _at: &Check<'_>,
    ) -> Result<Verified, VerifyError> {
        let signature = SIGNATURE.require(request.headers())?.as_bytes();
        let [url, _] = self.url.signed(request.head().uri())?;
        let body = request.body();
        let [origin, path, mark, query] = url;
        let parts: [&[u8]; 5] = [origin, path, mark, query, body];
        if !self
            .keys
            .matches_any_base64(&parts, || std::iter::once(signature))
        {
            return Err(self.keys.mismatch(1));
        }
        Ok(Verified::Event(
            Event::builder("square", body.clone())
                .id(Field::Body("event_id"), true)
                .event_type(Field::Body("type"), true)
                .build(),
        ))
    }
}
// Everything else verihook knows about Square: its signer (for tests and the CLI), its
// typed envelope, its route key, its samples and its registry entry.

/// Signs requests as Square does.
#[derive(Clone)]
pub struct SquareSigner {
    keys: crate::wire::mac::MacKeys<hmac::Hmac<sha2::Sha256>>,
}

impl SquareSigner {
    /// A signer for the subscription's signature key.
    ///
    /// # Errors
    ///
    /// [`SecretError`](crate::error::SecretError) when the key is empty.
    pub fn new(key: impl AsRef<[u8]>) -> Result<Self, crate::error::SecretError> {
        Ok(Self {
            keys: crate::wire::mac::MacKeys::new([key.as_ref()], crate::sample::ANY_LENGTH)?,
        })
    }

    /// The `x-square-hmacsha256-signature` value for `body` posted to `notification_url`.
    #[must_use]
    pub fn signature(&self, notification_url: &str, body: &[u8]) -> String {
        let tag = self
            .keys
            .sign(&[notification_url.as_bytes(), body])
            .unwrap_or_default();
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, tag)
    }

    /// The `x-square-hmacsha256-signature` header.
    ///
    /// # Errors
    ///
    /// Never in practice (base64 is always a valid header value).
    pub fn sign(
        &self,
        notification_url: &str,
        body: &[u8],
    ) -> Result<http::HeaderMap, crate::error::VerifyError> {
        let mut headers = http::HeaderMap::new();
        crate::sample::insert(
            &mut headers,
            &SIGNATURE,
            &self.signature(notification_url, body),
        )?;
        Ok(headers)
    }
}

crate::sample::redacted_debug!(SquareSigner);

/// A Square notification (`merchant_id`, `type`, `event_id`, `created_at`, `data`), with
/// `data.object` as `T`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SquareEvent<T> {
    /// `merchant_id`.
    pub merchant_id: Option<String>,
    /// `type` (`payment.created`).
    pub event_type: String,
    /// `event_id`.
    pub event_id: String,
    /// `created_at` (RFC 3339).
    pub created_at: String,
    /// `data.type`: the object's type (`payment`).
    pub object_type: String,
    /// `data.id`: the object's id.
    pub object_id: String,
    /// `data.object` (absent on test notifications).
    pub object: Option<T>,
}

#[derive(serde::Deserialize)]
struct SquareWire<T> {
    #[serde(default)]
    merchant_id: Option<String>,
    #[serde(rename = "type")]
    event_type: String,
    event_id: String,
    created_at: String,
    data: SquareData<T>,
}

#[derive(serde::Deserialize)]
struct SquareData<T> {
    #[serde(rename = "type")]
    object_type: String,
    id: String,
    #[serde(default = "Option::default")]
    object: Option<T>,
}

impl<S, T: serde::de::DeserializeOwned> crate::router::FromRouted<S> for SquareEvent<T> {
    fn from_routed(
        routed: &crate::router::Routed,
        _: &S,
    ) -> Result<Self, crate::handler::HandlerError> {
        crate::router::from_wire(routed, |w: SquareWire<T>, _| Self {
            merchant_id: w.merchant_id,
            event_type: w.event_type,
            event_id: w.event_id,
            created_at: w.created_at,
            object_type: w.data.object_type,
            object_id: w.data.id,
            object: w.data.object,
        })
    }
}

fn build(args: BuildArgs<'_>, options: VerifyOptions) -> Result<Verifier, VerifyError> {
    configured(
        SquareVerifier::with_min(args.bytes(), args.require_url()?, args.min_raw()),
        options,
    )
}

/// A payment created.
fn sample_body(id: &str, event: &str) -> String {
    serde_json::json!({
        "merchant_id": "MLEFBHHSJGVHD",
        "type": event,
        "event_id": id,
        "created_at": "2026-11-30T12:00:00Z",
        "data": { "type": "payment", "id": "KkAkhdMsgzn59SM8A89WgKwekxLZY" }
    })
    .to_string()
}

fn sign_sample(
    request: &crate::providers::SignRequest<'_>,
) -> Result<crate::providers::SignedHeaders, crate::providers::SignError> {
    let url = request.url.ok_or(crate::providers::SignError::NeedsUrl)?;
    let headers = SquareSigner::new(request.secret)?.sign(url, request.body)?;
    Ok(crate::providers::SignedHeaders::new(headers))
}

/// `type` and `data.object`, posted to [`TEST_URL`](crate::sample::TEST_URL).
fn sample_event(
    sample: &crate::providers::EventSample<'_>,
) -> Result<crate::providers::SampleRequest, crate::error::VerifyError> {
    let target = format!("{}/square", crate::sample::TEST_URL);
    let body = crate::sample::to_vec(&serde_json::json!({
        "merchant_id": "MVERIHOOK",
        "type": sample.event_type,
        "event_id": sample.uuid,
        "created_at": crate::sample::rfc3339(sample.secs),
        "data": { "type": sample.kind, "id": sample.unique, "object": sample.payload },
    }));
    let headers = SquareSigner::new(sample.secret)?.sign(&target, &body)?;
    let mut request = crate::providers::SampleRequest::new(body, headers);
    request.url = Some(target);
    Ok(request)
}
/// Ordered by the payment, order or customer (`data.id`), stamped by `created_at`.
fn ordering(event: &crate::event::Event) -> Option<crate::ordering::Order> {
    crate::ordering::from_body(event, "/data/id", "/created_at")
}

pub(crate) static PROVIDER: crate::providers::Provider = crate::providers::Provider {
    name: "square",
    aliases: &[],
    signs_url: true,
    headers: &["x-square-hmacsha256-signature"],
    build,
    route_key: crate::event::reported_route_key,
    ordering,
    sample: crate::providers::Sample {
        event_type: "payment.created",
        header_event: "ping",
        id_note: None,
        spelled: &["x-square-hmacsha256-signature"],
        forms: false,
        body: sample_body,
        sign: sign_sample,
        event: sample_event,
    },
};
