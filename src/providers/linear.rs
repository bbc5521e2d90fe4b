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
use crate::scheme::verifier::{Check, Scheme, SchemeInfo, Verifier};
use crate::scheme::verifier::{Events, TextKeyed, TextKeys};
use crate::verify::{check_freshness_millis, Header};
use crate::wire::header::{hex_array, reported};
use crate::wire::json::last_member_integer;
use crate::wire::mac::MacKeys;

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
/// [`LinearVerifier::new`](Verifier::new) takes the webhook's signing secret, as Linear shows it.
///
/// ```
/// use verihook::{testing::LinearSigner, scheme::FixedClock, providers::linear::LinearVerifier};
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
}

const HEADER: &str = "linear-signature";
static HEADERS: [HeaderName; 1] = [HeaderName::from_static(HEADER)];
/// The provider's one name: its scheme's, its events' sender's and its registry entry's.
const NAME: &str = "linear";

static INFO: SchemeInfo = SchemeInfo::new(NAME, &HEADERS).with_tolerance(LINEAR_TOLERANCE);

impl TextKeyed for Linear {
    const NAME: &'static str = NAME;

    fn from_keys(keys: TextKeys) -> Self {
        Self { keys: keys.0 }
    }
}

impl Events for Linear {
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
            return Err(self.keys.mismatch(1));
        }
        let millis = last_member_integer(&body, TIMESTAMP_MEMBER).ok_or_else(|| {
            SIGNATURE.malformed("the signed body has no webhookTimestamp in milliseconds")
        })?;
        check_freshness_millis(millis, at.now(), at.tolerance())?;
        Ok(Event::builder(NAME, body)
            .id(id, false)
            .event_type(Field::Body("type"), true)
            .timestamp(millis / 1000)
            .build())
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

// Everything else verihook knows about Linear: its signer (for tests and the CLI), its
// typed envelope, its route key, its samples and its registry entry.

/// Signs requests as Linear does. Linear's timestamp is inside the body (`webhookTimestamp`,
/// Unix milliseconds): the body you sign must carry it.
#[derive(Clone)]
pub struct LinearSigner {
    keys: crate::wire::mac::MacKeys<hmac::Hmac<sha2::Sha256>>,
}

impl LinearSigner {
    /// A signer for the webhook's signing secret.
    ///
    /// # Errors
    ///
    /// [`SecretError`](crate::error::SecretError) when the secret is empty.
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, crate::error::SecretError> {
        Ok(Self {
            keys: crate::wire::mac::MacKeys::new([secret.as_ref()], crate::sample::ANY_LENGTH)?,
        })
    }

    /// The `Linear-Signature` value: the hex HMAC-SHA256 of the body.
    #[must_use]
    pub fn signature(&self, body: &[u8]) -> String {
        const_hex::encode(self.keys.sign(&[body]).unwrap_or_default())
    }

    /// The headers of a delivery of `body` for `event` (`Issue`): `Linear-Signature`,
    /// `Linear-Event` and `Linear-Delivery` (`delivery`, a UUID).
    ///
    /// # Errors
    ///
    /// [`VerifyError::MalformedHeader`] when `event` or `delivery` cannot be a header value.
    pub fn sign(
        &self,
        event: &str,
        delivery: &str,
        body: &[u8],
    ) -> Result<http::HeaderMap, crate::error::VerifyError> {
        let mut headers = http::HeaderMap::new();
        crate::sample::insert(&mut headers, &SIGNATURE, &self.signature(body))?;
        crate::sample::insert(&mut headers, &EVENT, event)?;
        crate::sample::insert(&mut headers, &DELIVERY, delivery)?;
        Ok(headers)
    }
}

crate::sample::redacted_debug!(LinearSigner);

/// A Linear webhook (`action`, `type`, `data`, ...), with `data` as `T`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LinearEvent<T> {
    /// `action`: `create`, `update` or `remove`.
    pub action: String,
    /// `type`: the entity (`Issue`, `Comment`, `Project`).
    pub event_type: String,
    /// `createdAt` (ISO 8601).
    pub created_at: Option<String>,
    /// `url` of the entity.
    pub url: Option<String>,
    /// `organizationId`.
    pub organization_id: Option<String>,
    /// `webhookTimestamp`, Unix milliseconds (checked for freshness by the scheme).
    pub webhook_timestamp: Option<u64>,
    /// `webhookId`.
    pub webhook_id: Option<String>,
    /// `updatedFrom`: the changed members' old values, on `update`.
    pub updated_from: Option<serde_json::Map<String, serde_json::Value>>,
    /// `data`: the entity.
    pub data: T,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct LinearWire<T> {
    action: String,
    #[serde(rename = "type")]
    event_type: String,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    organization_id: Option<String>,
    #[serde(default)]
    webhook_timestamp: Option<u64>,
    #[serde(default)]
    webhook_id: Option<String>,
    #[serde(default)]
    updated_from: Option<serde_json::Map<String, serde_json::Value>>,
    data: T,
}

impl<S, T: serde::de::DeserializeOwned> crate::router::FromRouted<S> for LinearEvent<T> {
    fn from_routed(
        routed: &crate::router::Routed,
        _: &S,
    ) -> Result<Self, crate::handler::HandlerError> {
        crate::router::from_wire(routed, |w: LinearWire<T>, _| Self {
            action: w.action,
            event_type: w.event_type,
            created_at: w.created_at,
            url: w.url,
            organization_id: w.organization_id,
            webhook_timestamp: w.webhook_timestamp,
            webhook_id: w.webhook_id,
            updated_from: w.updated_from,
            data: w.data,
        })
    }
}

/// `type` `.` `action` (`Issue.create`). Linear puts both first: the read stops there.
fn route_key(event: &crate::event::Event) -> Option<crate::event::RouteKey> {
    let [kind, action] = crate::event::first_members(&event.body[..], ["type", "action"]);
    Some(crate::event::RouteKey::with_action(
        &kind?,
        action.as_deref(),
    ))
}

/// An issue created, stamped now (Linear signs its timestamp inside the body).
fn sample_body(id: &str, event: &str) -> String {
    serde_json::json!({
        "action": "create",
        "type": event,
        "data": { "id": "2174add1-f7c8-44e3-bbf3-2d60b5ea8bc9", "title": format!("verihook sample {id}"), "identifier": "VH-1" },
        "url": "https://linear.app/verihook/issue/VH-1",
        "createdAt": "2026-11-30T12:00:00.000Z",
        "organizationId": "4e8ea3a0-d4d1-4e7e-a5be-8b1e7b4e0f1c",
        "webhookTimestamp": crate::sample::unix_now_millis(),
        "webhookId": "000042e3-d123-4980-b49f-8e140eef9329"
    })
    .to_string()
}

/// The `webhookTimestamp` a Linear body carries, if any.
fn body_millis(body: &[u8]) -> Option<u64> {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()?
        .get("webhookTimestamp")?
        .as_u64()
}

fn sign_sample(
    request: &crate::providers::SignRequest<'_>,
) -> Result<crate::providers::SignedHeaders, crate::providers::SignError> {
    let headers =
        LinearSigner::new(request.secret)?.sign(request.event, request.id, request.body)?;
    let mut signed = crate::providers::SignedHeaders::new(headers);
    if body_millis(request.body).is_none() {
        signed.notes.push(
            "Linear signs its timestamp inside the body: a body without \"webhookTimestamp\" \
             (Unix milliseconds) is refused by the receiver"
                .to_owned(),
        );
    }
    Ok(signed)
}

/// `Issue.create`: `"type": "Issue"`, `"action": "create"`, the payload as `data`.
fn sample_event(
    sample: &crate::providers::EventSample<'_>,
) -> Result<crate::providers::SampleRequest, crate::error::VerifyError> {
    let body = crate::sample::to_vec(&serde_json::json!({
        "action": sample.action.unwrap_or("create"),
        "type": sample.kind,
        "createdAt": crate::sample::rfc3339(sample.secs),
        "data": sample.payload,
        "url": "https://linear.app/verihook-test",
        "organizationId": sample.uuid,
        "webhookTimestamp": sample.millis,
        "webhookId": sample.uuid,
    }));
    let headers = LinearSigner::new(sample.secret)?.sign(sample.kind, sample.uuid, &body)?;
    Ok(crate::providers::SampleRequest::new(body, headers))
}
/// Ordered by the issue, comment or project the event is about (`data.id`), stamped by `webhookTimestamp`.
fn ordering(event: &crate::event::Event) -> Option<crate::ordering::Order> {
    crate::ordering::from_body(event, "/data/id", "/webhookTimestamp")
}

pub(crate) static PROVIDER: crate::providers::Provider = crate::providers::Provider {
    name: NAME,
    aliases: &[],
    signs_url: false,
    headers: &["linear-signature"],
    build: crate::providers::build_text_keyed::<Linear>,
    route_key,
    ordering,
    sample: crate::providers::Sample {
        event_type: "Issue",
        header_event: "Issue",
        id_note: None,
        spelled: &["Linear-Signature", "Linear-Event", "Linear-Delivery"],
        forms: false,
        body: sample_body,
        sign: sign_sample,
        event: sample_event,
    },
};

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
