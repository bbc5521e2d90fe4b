//! Linear: `Linear-Signature`, hex HMAC-SHA256 of the body, and the body's signed
//! `webhookTimestamp` (milliseconds) within a minute.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use hmac::Hmac;
use http::HeaderMap;
use sha2::Sha256;

use crate::error::VerifyError;
use crate::event::{Event, Field, Verified};
use crate::request::{RequestHead, WebhookRequest};
use crate::scheme::text_secret_scheme;
use crate::scheme::{hex_array, last_member_integer, reported, MacKeys, Scheme};
use crate::verify::{check_freshness_millis, verifier_options, Header, VerifyOptions};

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
#[derive(Clone)]
pub struct LinearVerifier {
    keys: MacKeys<Hmac<Sha256>>,
    options: VerifyOptions,
}

impl LinearVerifier {
    /// The signature header: 64 hex digits.
    fn signature(headers: &HeaderMap) -> Result<[u8; 32], VerifyError> {
        hex_array(SIGNATURE.require(headers)?.as_bytes())
            .ok_or_else(|| SIGNATURE.malformed("expected 64 hex digits"))
    }

    fn check(
        &self,
        headers: &HeaderMap,
        body: Bytes,
        now: SystemTime,
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
        check_freshness_millis(millis, now, self.options.tolerance_or(LINEAR_TOLERANCE))?;
        Ok(Event::builder("linear", body)
            .id(id, false)
            .event_type(Field::Body("type"), true)
            .timestamp(millis / 1000)
            .build())
    }
}

verifier_options!(LinearVerifier);
text_secret_scheme!(
    LinearVerifier,
    "linear",
    "the webhook's signing secret, as Linear shows it",
    "linear-signature"
);

impl Scheme for LinearVerifier {
    fn name(&self) -> &'static str {
        "linear"
    }

    fn recognizes(&self, headers: &HeaderMap) -> bool {
        SIGNATURE.get(headers).is_some()
    }

    fn precheck(&self, head: &RequestHead<'_>, _now: SystemTime) -> Result<(), VerifyError> {
        Self::signature(head.headers()).map(|_| ())
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
