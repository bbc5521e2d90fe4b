//! Paddle Billing: `Paddle-Signature: ts=<unix>;h1=<hex>[;h1=<hex>...]` over `{ts}:{body}`.

use std::time::Duration;

use hmac::Hmac;
use http::{HeaderMap, HeaderName};
use sha2::Sha256;

use bytes::Bytes;

use crate::error::VerifyError;
use crate::event::{Event, Field, Verified};
use crate::request::{RequestHead, WebhookRequest};
use crate::scheme::{
    event_only, text_keyed, with_signed_content, Answers, Builtin, Check, ListedSignatures,
    MacKeys, Scheme, SchemeInfo, SignatureList, Verifier, MIN_RAW_SECRET_LEN,
};
use crate::verify::Header;

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

const HEADER: &str = "paddle-signature";
static HEADERS: [HeaderName; 1] = [HeaderName::from_static(HEADER)];
static INFO: SchemeInfo = SchemeInfo::new("paddle", &HEADERS).with_tolerance(PADDLE_TOLERANCE);

impl PaddleVerifier {
    /// A verifier for the notification destination's secret key, as Paddle shows it.
    ///
    /// # Errors
    ///
    /// [`VerifyError::BadSecret`] when the secret is empty or shorter than 8 bytes.
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, VerifyError> {
        Self::with_secrets([secret])
    }

    /// A verifier that accepts a signature from any of `secrets` (rotation: the sender signs
    /// with the new secret as soon as it is rotated).
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new), or when there are no secrets.
    pub fn with_secrets<I>(secrets: I) -> Result<Self, VerifyError>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        text_keyed(secrets, MIN_RAW_SECRET_LEN, |keys| Paddle { keys })
    }
}

pub(crate) static BUILTIN: Builtin = Builtin {
    name: "paddle",
    aliases: &[],
    signs_url: false,
    headers: &[HEADER],
    build: |args, options| {
        let secrets = args.secrets.iter().map(|s| s.as_bytes());
        let min = args.min(MIN_RAW_SECRET_LEN);
        Ok(text_keyed(secrets, min, |keys| Paddle { keys })?
            .with_options(options)
            .boxed())
    },
};

impl Answers for Paddle {
    type Answer = Event;
    fn answer(verified: Verified) -> Result<Event, VerifyError> {
        event_only(verified)
    }
    fn answer_post(
        &self,
        headers: &HeaderMap,
        body: Bytes,
        at: &Check<'_>,
    ) -> Result<Event, VerifyError> {
        self.check(headers, body, at)
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
