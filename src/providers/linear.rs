//! Linear: `Linear-Signature`, hex HMAC-SHA256 of the body, and the body's signed
//! `webhookTimestamp` (milliseconds) within a minute.

use std::time::Duration;

use bytes::Bytes;
use hmac::Hmac;
use http::{HeaderMap, HeaderName};
use sha2::Sha256;

use crate::error::VerifyError;
use crate::event::{Event, Field, Verified};
use crate::request::{RequestHead, WebhookRequest};
use crate::scheme::{
    event_only, hex_array, last_member_integer, reported, text_keyed, Answers, Builtin, Check,
    MacKeys, Scheme, SchemeInfo, Verifier, MIN_RAW_SECRET_LEN,
};
use crate::verify::{check_freshness_millis, Header};

pub(crate) static SIGNATURE: Header = Header::new("linear-signature", "Linear-Signature");
pub(crate) static DELIVERY: Header = Header::new("linear-delivery", "Linear-Delivery");
pub(crate) static EVENT: Header = Header::new("linear-event", "Linear-Event");

/// The window Linear's SDK applies to `webhookTimestamp`: one minute.
pub const LINEAR_TOLERANCE: Duration = Duration::from_secs(60);

/// The signed body member that carries the send time, in Unix milliseconds, with its quotes.
const TIMESTAMP_MEMBER: &[u8] = b"\"webhookTimestamp\"";

/// Verifies Linear webhooks: `Linear-Signature`, the hex HMAC-SHA256 of the raw body under the
/// webhook's signing secret, then the body's `webhookTimestamp` (Unix milliseconds, so signed)
/// within the tolerance of now — by default [`LINEAR_TOLERANCE`], the minute Linear's SDK
/// allows — in either direction, as `LinearWebhookClient.verify` checks it.
///
/// The timestamp lives in the body, so it is read after the signature passed (as Linear's SDK
/// does): a stale request costs one MAC. A body without it is refused (`malformed_header`),
/// where Linear's SDK would skip the check. The type is the body's `type` (`Issue`,
/// `Comment`, ...), signed; its `action` (`create`, `update`, `remove`) is in the payload.
/// `Linear-Delivery` is reported as the id, unsigned, so a digest of the signed body
/// de-duplicates.
///
/// ```
/// use verihook::{testing::LinearSigner, FixedClock, LinearVerifier};
/// # fn main() -> Result<(), verihook::VerifyError> {
/// let secret = "lin_wh_verihook_signing_secret";
/// let body = br#"{"action":"create","type":"Issue","data":{"id":"ISS-1"},"webhookTimestamp":1700000000000}"#;
/// let headers = LinearSigner::new(secret)?.sign("Issue", "0d8d6b4c-5a4e-4a7e-8f0e-3c1f2b9d7a10", body)?;
///
/// let verifier = LinearVerifier::new(secret)?.with_clock(FixedClock::at_unix(1_700_000_030));
/// let event = verifier.verify(&headers, body.as_slice().into())?;
/// assert_eq!(event.event_type().as_deref(), Some("Issue"));
/// assert_eq!(event.unix_timestamp(), Some(1_700_000_000));
///
/// let late = verifier.with_clock(FixedClock::at_unix(1_700_000_061));
/// assert_eq!(late.verify(&headers, body.as_slice().into()).unwrap_err().code(), "timestamp_too_old");
/// # Ok(()) }
/// ```
pub type LinearVerifier = Verifier<Linear>;

/// Linear's scheme: the secrets, keyed once. Its policy (clock, tolerance) is the
/// [`LinearVerifier`]'s.
#[derive(Clone, Debug)]
pub struct Linear {
    keys: MacKeys<Hmac<Sha256>>,
}

impl Linear {
    /// The signature header: 64 hex digits.
    fn signature(headers: &HeaderMap) -> Result<[u8; 32], VerifyError> {
        hex_array(SIGNATURE.require(headers)?.as_bytes())
            .ok_or_else(|| SIGNATURE.malformed("expected 64 hex digits"))
    }

    fn check(
        &self,
        headers: &HeaderMap,
        body: Bytes,
        at: &Check<'_>,
    ) -> Result<Event, VerifyError> {
        let signature = Self::signature(headers)?;
        let id = reported(&DELIVERY, DELIVERY.get(headers))?;
        if !self
            .keys
            .matches_any(&[&body], || std::iter::once(signature))
        {
            return Err(VerifyError::SignatureMismatch {
                secrets: self.keys.len(),
                signatures: 1,
            });
        }
        let millis = last_member_integer(&body, TIMESTAMP_MEMBER).ok_or_else(|| {
            SIGNATURE.malformed("the signed body has no webhookTimestamp in milliseconds")
        })?;
        check_freshness_millis(millis, at.now(), at.tolerance())?;
        Ok(Event::builder("linear", body)
            .id(id, false)
            .event_type(Field::Body("type"), true)
            .timestamp(millis / 1000)
            .build())
    }
}

const HEADER: &str = "linear-signature";
static HEADERS: [HeaderName; 1] = [HeaderName::from_static(HEADER)];
static INFO: SchemeInfo = SchemeInfo::new("linear", &HEADERS).with_tolerance(LINEAR_TOLERANCE);

impl LinearVerifier {
    /// A verifier for the webhook's signing secret, as Linear shows it.
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
        text_keyed(secrets, MIN_RAW_SECRET_LEN, |keys| Linear { keys })
    }
}

pub(crate) static BUILTIN: Builtin = Builtin {
    name: "linear",
    aliases: &[],
    signs_url: false,
    headers: &[HEADER],
    build: |args, options| {
        let secrets = args.secrets.iter().map(|s| s.as_bytes());
        let min = args.min(MIN_RAW_SECRET_LEN);
        Ok(text_keyed(secrets, min, |keys| Linear { keys })?
            .with_options(options)
            .boxed())
    },
};

impl Answers for Linear {
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

impl Scheme for Linear {
    fn info(&self) -> &SchemeInfo {
        &INFO
    }

    fn check_head(&self, head: &RequestHead<'_>, _at: &Check<'_>) -> Result<(), VerifyError> {
        Self::signature(head.headers()).map(|_| ())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_member_is_read_and_only_an_integer() {
        let read = |body: &str| last_member_integer(body.as_bytes(), TIMESTAMP_MEMBER);
        assert_eq!(
            read(r#"{"webhookTimestamp":1700000000000}"#),
            Some(1_700_000_000_000)
        );
        assert_eq!(
            read(r#"{"webhookTimestamp" : 17 ,"webhookId":"w"}"#),
            Some(17)
        );
        // A member of that name inside `data` precedes the top-level one.
        assert_eq!(
            read(r#"{"data":{"webhookTimestamp":1},"webhookTimestamp":2}"#),
            Some(2)
        );
        // Inside a string the quotes are escaped: no match.
        assert_eq!(read(r#"{"text":""webhookTimestamp":5"}"#), None);
        for bad in [
            r#"{"webhookTimestamp":"1700000000000"}"#,
            r#"{"webhookTimestamp":-1}"#,
            r#"{"webhookTimestamp":1.5}"#,
            r#"{"webhookTimestamp":1e3}"#,
            r#"{"webhookTimestamp":}"#,
            r#"{"webhookTimestamp":12"#,
            r#"{"webhookTimestamp"}"#,
            r#"{"webhookTimestamp":99999999999999999999999}"#,
        ] {
            assert_eq!(read(bad), None, "{bad}");
        }
    }
}
