//! Paddle Billing: `Paddle-Signature: ts=<unix>;h1=<hex>[;h1=<hex>...]` over `{ts}:{body}`.

use std::time::Duration;

use hmac::Hmac;
use http::{HeaderMap, HeaderName};
use sha2::Sha256;

use bytes::Bytes;

use crate::error::VerifyError;
use crate::event::{Event, Field, Verified};
use crate::request::{RequestHead, WebhookRequest};
use crate::scheme::verifier::{Check, Scheme, SchemeInfo, Verifier};
use crate::scheme::verifier::{Events, TextKeyed, TextKeys};
use crate::verify::Header;
use crate::wire::header::{ListedSignatures, SignatureList};
use crate::wire::mac::{with_signed_content, MacKeys};

pub(crate) static SIGNATURE: Header = Header::new("paddle-signature", "Paddle-Signature");

/// How `Paddle-Signature` lists its timestamp and signatures.
pub(crate) static FORMAT: SignatureList = SignatureList {
    header: &SIGNATURE,
    separator: b';',
    timestamp: b"ts",
    signature: b"h1",
};

/// The window Paddle's SDKs apply by default (`MAX_VALID_TIME_DIFFERENCE` in
/// paddle-node-sdk, `time_drift` in paddle-python-sdk): 5 seconds.
pub const PADDLE_TOLERANCE: Duration = Duration::from_secs(5);

/// Verifies Paddle Billing webhooks: `Paddle-Signature: ts=<unix>;h1=<hex>`, the
/// HMAC-SHA256 of `{ts}:{body}` under the notification destination's secret key
/// (`pdl_ntfset_...`), used as text.
///
/// Every `h1` entry is tried against every secret (several while a secret is rotated); other
/// keys are ignored; more than [`MAX_SIGNATURES`](crate::wire::header::MAX_SIGNATURES) entries are
/// refused. The signed `ts` must be within the tolerance of now — by default
/// [`PADDLE_TOLERANCE`], the 5 seconds Paddle's SDKs allow — checked before any signature
/// work, in either direction (Paddle's SDKs bound only the past; a future timestamp beyond the
/// window means a clock is wrong, and is refused here). Widen it with
/// [`with_tolerance`](Self::with_tolerance) if your clock drifts. The event id and type are the
/// body's `event_id` and `event_type`, signed.
///
/// [`PaddleVerifier::new`](Verifier::new) takes the notification destination's secret key, as Paddle shows it.
///
/// ```
/// use verihook::{testing::PaddleSigner, scheme::FixedClock, providers::paddle::PaddleVerifier};
/// # fn main() -> Result<(), verihook::VerifyError> {
/// let secret = "pdl_ntfset_01h8cd_secret_key";
/// let body = br#"{"event_id":"evt_01h8","event_type":"transaction.completed","data":{}}"#;
/// let headers = PaddleSigner::new(secret)?.sign(1_700_000_000, body);
///
/// let verifier = PaddleVerifier::new(secret)?.with_clock(FixedClock::at_unix(1_700_000_003));
/// let event = verifier.verify(&headers, body.as_slice().into())?;
/// assert_eq!(event.event_type().as_deref(), Some("transaction.completed"));
///
/// let late = verifier.with_clock(FixedClock::at_unix(1_700_000_006));
/// assert_eq!(late.verify(&headers, body.as_slice().into()).unwrap_err().code(), "timestamp_too_old");
/// # Ok(()) }
/// ```
pub type PaddleVerifier = Verifier<Paddle>;

/// Paddle's scheme: the secrets, keyed once. Its policy (clock, tolerance) is the
/// [`PaddleVerifier`]'s.
#[derive(Clone, Debug)]
pub struct Paddle {
    keys: MacKeys<Hmac<Sha256>>,
}

impl Paddle {
    /// The parsed header, once its timestamp is known to be fresh.
    #[inline]
    fn fresh_header<'a>(
        headers: &'a HeaderMap,
        at: &Check<'_>,
    ) -> Result<ListedSignatures<'a>, VerifyError> {
        let header = FORMAT.parse(headers)?;
        at.fresh(header.timestamp)?;
        Ok(header)
    }
}

const HEADER: &str = "paddle-signature";
static HEADERS: [HeaderName; 1] = [HeaderName::from_static(HEADER)];
/// The provider's one name: its scheme's, its events' sender's and its registry entry's.
const NAME: &str = "paddle";

static INFO: SchemeInfo = SchemeInfo::new(NAME, &HEADERS).with_tolerance(PADDLE_TOLERANCE);

impl TextKeyed for Paddle {
    const NAME: &'static str = NAME;

    fn from_keys(keys: TextKeys) -> Self {
        Self { keys: keys.0 }
    }
}

impl Events for Paddle {
    fn check(
        &self,
        headers: &HeaderMap,
        body: Bytes,
        at: &Check<'_>,
    ) -> Result<Event, VerifyError> {
        let header = Self::fresh_header(headers, at)?;
        let matched = with_signed_content([header.digits, b":"], &body, |parts| {
            self.keys.matches_any(parts, || header.signatures::<32>())
        });
        if !matched {
            return Err(self.keys.mismatch(header.count));
        }
        Ok(Event::builder(NAME, body)
            .id(Field::Body("event_id"), true)
            .event_type(Field::Body("event_type"), true)
            .timestamp(header.timestamp)
            .build())
    }
}

impl Scheme for Paddle {
    fn info(&self) -> &SchemeInfo {
        &INFO
    }

    fn check_head(&self, head: &RequestHead<'_>, at: &Check<'_>) -> Result<(), VerifyError> {
        Self::fresh_header(head.headers(), at).map(|_| ())
    }

    fn verify(
        &self,
        request: &WebhookRequest<'_>,
        at: &Check<'_>,
    ) -> Result<Verified, VerifyError> {
        self.check(request.headers(), request.body().clone(), at)
            .map(Verified::Event)
    }
}

// Everything else verihook knows about Paddle: its signer (for tests and the CLI), its
// typed envelope, its route key, its samples and its registry entry.

/// Signs requests as Paddle Billing does.
#[derive(Clone)]
pub struct PaddleSigner {
    keys: crate::wire::mac::MacKeys<hmac::Hmac<sha2::Sha256>>,
}

impl PaddleSigner {
    /// A signer for the notification destination's secret key (used as text).
    ///
    /// # Errors
    ///
    /// [`SecretError`](crate::error::SecretError) when the secret is empty.
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, crate::error::SecretError> {
        Ok(Self {
            keys: crate::wire::mac::MacKeys::new([secret.as_ref()], crate::sample::ANY_LENGTH)?,
        })
    }

    /// The `Paddle-Signature` value: `ts=<timestamp>;h1=<hex>`.
    #[must_use]
    pub fn signature(&self, timestamp: u64, body: &[u8]) -> String {
        let t = timestamp.to_string();
        let tag = self
            .keys
            .sign(&[t.as_bytes(), b":", body])
            .unwrap_or_default();
        format!("ts={t};h1={}", const_hex::encode(tag))
    }

    /// The `Paddle-Signature` header for `body` sent at `timestamp` (Unix seconds).
    #[must_use]
    pub fn sign(&self, timestamp: u64, body: &[u8]) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        // Digits, hex and ASCII are always a valid header value.
        let _ = crate::sample::insert(&mut headers, &SIGNATURE, &self.signature(timestamp, body));
        headers
    }
}

crate::sample::redacted_debug!(PaddleSigner);

/// A Paddle Billing notification (`event_id`, `event_type`, `occurred_at`, `data`), with `data`
/// as `T`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PaddleEvent<T> {
    /// `event_id` (`evt_...`).
    pub event_id: String,
    /// `event_type` (`transaction.completed`).
    pub event_type: String,
    /// `occurred_at` (RFC 3339).
    pub occurred_at: String,
    /// `notification_id` (`ntf_...`).
    pub notification_id: Option<String>,
    /// `data`: the entity the event is about.
    pub data: T,
}

#[derive(serde::Deserialize)]
struct PaddleWire<T> {
    event_id: String,
    event_type: String,
    occurred_at: String,
    #[serde(default)]
    notification_id: Option<String>,
    data: T,
}

impl<S, T: serde::de::DeserializeOwned> crate::router::FromRouted<S> for PaddleEvent<T> {
    fn from_routed(
        routed: &crate::router::Routed,
        _: &S,
    ) -> Result<Self, crate::handler::HandlerError> {
        crate::router::from_wire(routed, |w: PaddleWire<T>, _| Self {
            event_id: w.event_id,
            event_type: w.event_type,
            occurred_at: w.occurred_at,
            notification_id: w.notification_id,
            data: w.data,
        })
    }
}

/// A transaction completed.
fn sample_body(id: &str, event: &str) -> String {
    serde_json::json!({
        "event_id": format!("evt_{id}"),
        "event_type": event,
        "occurred_at": "2026-11-30T12:00:00.000000Z",
        "notification_id": format!("ntf_{id}"),
        "data": { "id": "txn_01hv8wptq8987qeep44cyrewp9", "status": "completed", "currency_code": "EUR", "details": { "totals": { "total": "4200" } } }
    })
    .to_string()
}

fn sign_sample(
    request: &crate::providers::SignRequest<'_>,
) -> Result<crate::providers::SignedHeaders, crate::providers::SignError> {
    let headers = PaddleSigner::new(request.secret)?.sign(request.timestamp, request.body);
    Ok(crate::providers::SignedHeaders::new(headers))
}

/// `event_type` and `data`, with fresh `evt_` and `ntf_` ids.
fn sample_event(
    sample: &crate::providers::EventSample<'_>,
) -> Result<crate::providers::SampleRequest, crate::error::VerifyError> {
    let body = crate::sample::to_vec(&serde_json::json!({
        "event_id": format!("evt_{}", sample.unique),
        "event_type": sample.event_type,
        "occurred_at": crate::sample::rfc3339(sample.secs),
        "notification_id": format!("ntf_{}", sample.unique),
        "data": sample.payload,
    }));
    let headers = PaddleSigner::new(sample.secret)?.sign(sample.secs, &body);
    Ok(crate::providers::SampleRequest::new(body, headers))
}
/// Ordered by the transaction or subscription (`data.id`), stamped by `occurred_at`.
fn ordering(event: &crate::event::Event) -> Option<crate::ordering::Order> {
    crate::ordering::from_body(event, "/data/id", "/occurred_at")
}

pub(crate) static PROVIDER: crate::providers::Provider = crate::providers::Provider {
    name: NAME,
    aliases: &[],
    signs_url: false,
    headers: &["paddle-signature"],
    build: crate::providers::build_text_keyed::<Paddle>,
    route_key: crate::event::reported_route_key,
    ordering,
    sample: crate::providers::Sample {
        event_type: "transaction.completed",
        header_event: "ping",
        id_note: None,
        spelled: &["Paddle-Signature"],
        forms: false,
        body: sample_body,
        sign: sign_sample,
        event: sample_event,
    },
};
