//! Paddle Billing: `Paddle-Signature: ts=<unix>;h1=<hex>[;h1=<hex>...]` over `{ts}:{body}`.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use hmac::Hmac;
use http::HeaderMap;
use sha2::Sha256;

use crate::error::VerifyError;
use crate::event::{Event, Field, Verified};
use crate::request::{RequestHead, WebhookRequest};
use crate::scheme::text_secret_scheme;
use crate::scheme::{with_signed_content, ListedSignatures, MacKeys, Scheme, SignatureList};
use crate::verify::{check_freshness, verifier_options, Header, VerifyOptions};

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
/// keys are ignored; more than [`MAX_SIGNATURES`](crate::scheme::MAX_SIGNATURES) entries are
/// refused. The signed `ts` must be within the tolerance of now — by default
/// [`PADDLE_TOLERANCE`], the 5 seconds Paddle's SDKs allow — checked before any signature
/// work, in either direction (Paddle's SDKs bound only the past; a future timestamp beyond the
/// window means a clock is wrong, and is refused here). Widen it with
/// [`with_tolerance`](Self::with_tolerance) if your clock drifts. The event id and type are the
/// body's `event_id` and `event_type`, signed.
///
/// ```
/// use verihook::{testing::PaddleSigner, FixedClock, PaddleVerifier};
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
#[derive(Clone)]
pub struct PaddleVerifier {
    keys: MacKeys<Hmac<Sha256>>,
    options: VerifyOptions,
}

impl PaddleVerifier {
    /// The parsed header, once its timestamp is known to be fresh.
    #[inline]
    fn fresh_header<'a>(
        &self,
        headers: &'a HeaderMap,
        now: SystemTime,
    ) -> Result<ListedSignatures<'a>, VerifyError> {
        let header = FORMAT.parse(headers)?;
        let tolerance = self.options.tolerance_or(PADDLE_TOLERANCE);
        check_freshness(header.timestamp, now, tolerance)?;
        Ok(header)
    }

    fn check(
        &self,
        headers: &HeaderMap,
        body: Bytes,
        now: SystemTime,
    ) -> Result<Event, VerifyError> {
        let header = self.fresh_header(headers, now)?;
        let matched = with_signed_content([header.digits, b":"], &body, |parts| {
            self.keys.matches_any(parts, || header.signatures::<32>())
        });
        if !matched {
            return Err(VerifyError::SignatureMismatch {
                secrets: self.keys.len(),
                signatures: header.count,
            });
        }
        Ok(Event::builder("paddle", body)
            .id(Field::Body("event_id"), true)
            .event_type(Field::Body("event_type"), true)
            .timestamp(header.timestamp)
            .build())
    }
}

verifier_options!(PaddleVerifier);
text_secret_scheme!(
    PaddleVerifier,
    "paddle",
    "the notification destination's secret key, as Paddle shows it",
    "paddle-signature"
);

impl Scheme for PaddleVerifier {
    fn name(&self) -> &'static str {
        "paddle"
    }

    fn recognizes(&self, headers: &HeaderMap) -> bool {
        SIGNATURE.get(headers).is_some()
    }

    fn precheck(&self, head: &RequestHead<'_>, now: SystemTime) -> Result<(), VerifyError> {
        self.fresh_header(head.headers(), now).map(|_| ())
    }

    fn now(&self) -> SystemTime {
        self.options.clock.now()
    }

    fn verify_request(
        &self,
        request: &WebhookRequest<'_>,
        now: SystemTime,
    ) -> Result<Verified, VerifyError> {
        self.check(request.headers(), request.body().clone(), now)
            .map(Verified::Event)
    }
}
