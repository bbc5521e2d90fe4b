//! Square: `x-square-hmacsha256-signature`, base64 HMAC-SHA256 of the notification URL followed
//! by the body.

use hmac::Hmac;
use http::HeaderName;
use sha2::Sha256;

use crate::error::VerifyError;
use crate::event::{Event, Field, Verified};
use crate::request::{RequestHead, WebhookRequest};
use crate::scheme::{
    event_only, Answers, Builtin, Check, MacKeys, PublicUrl, Scheme, SchemeInfo, Verifier,
    MIN_RAW_SECRET_LEN,
};
use crate::verify::Header;

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
/// use verihook::{testing::SquareSigner, SquareVerifier};
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

pub(crate) static BUILTIN: Builtin = Builtin {
    name: "square",
    aliases: &[],
    signs_url: true,
    headers: &["x-square-hmacsha256-signature"],
    build: |args, options| {
        let url = args.require_url()?;
        let keys = args.secrets.iter().map(|s| s.as_bytes());
        Ok(
            SquareVerifier::with_min(keys, url, args.min(MIN_RAW_SECRET_LEN))?
                .with_options(options)
                .boxed(),
        )
    },
};

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
            return Err(VerifyError::SignatureMismatch {
                secrets: self.keys.len(),
                signatures: 1,
            });
        }
        Ok(Verified::Event(
            Event::builder("square", body.clone())
                .id(Field::Body("event_id"), true)
                .event_type(Field::Body("type"), true)
                .build(),
        ))
    }
}
