//! The verified event and its typed accessors.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::HeaderValue;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::error::PayloadError;

/// A webhook signing scheme.
///
/// Parses from the names the CLI takes: `github`, `stripe`, `standard-webhooks` (also
/// `standard`, `standardwebhooks` and `svix`, which uses the same scheme).
///
/// ```
/// use verihook::Provider;
/// assert_eq!("svix".parse::<Provider>(), Ok(Provider::StandardWebhooks));
/// assert_eq!(Provider::Github.as_str(), "github");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Provider {
    /// GitHub: `X-Hub-Signature-256`, HMAC-SHA256 of the body.
    Github,
    /// Stripe: `Stripe-Signature`, HMAC-SHA256 of `{t}.{body}`.
    Stripe,
    /// Standard Webhooks (and Svix): `webhook-signature`, HMAC-SHA256 or ed25519 of
    /// `{id}.{timestamp}.{body}`.
    StandardWebhooks,
}

impl Provider {
    /// Every provider, in a stable order.
    pub const ALL: [Provider; 3] = [Self::Github, Self::Stripe, Self::StandardWebhooks];

    /// The canonical lower-case name: `github`, `stripe` or `standard-webhooks`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Github => "github",
            Self::Stripe => "stripe",
            Self::StandardWebhooks => "standard-webhooks",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name given to [`Provider::from_str`] is not a known provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownProvider;

impl fmt::Display for UnknownProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown provider: expected github, stripe, standard-webhooks or svix")
    }
}

impl std::error::Error for UnknownProvider {}

impl FromStr for Provider {
    type Err = UnknownProvider;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name.to_ascii_lowercase().as_str() {
            "github" => Ok(Self::Github),
            "stripe" => Ok(Self::Stripe),
            "standard-webhooks" | "standard" | "standardwebhooks" | "svix" => {
                Ok(Self::StandardWebhooks)
            }
            _ => Err(UnknownProvider),
        }
    }
}

/// Which parts of a request the verified signature covers.
///
/// An unsigned part can be changed by anyone on the path without the signature noticing; treat
/// it as a hint. GitHub, for instance, signs only the body: its `X-GitHub-Delivery` id and
/// `X-GitHub-Event` type travel in unsigned headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signed {
    pub(crate) id: bool,
    pub(crate) event_type: bool,
    pub(crate) timestamp: bool,
}

impl Signed {
    /// The body is always signed.
    #[must_use]
    pub fn body(self) -> bool {
        true
    }
    /// Whether the event id is covered by the signature.
    #[must_use]
    pub fn id(self) -> bool {
        self.id
    }
    /// Whether the event type is covered by the signature.
    #[must_use]
    pub fn event_type(self) -> bool {
        self.event_type
    }
    /// Whether the timestamp is covered by the signature (and so checked for freshness).
    #[must_use]
    pub fn timestamp(self) -> bool {
        self.timestamp
    }
}

/// Where an event's id or type comes from.
#[derive(Clone)]
pub(crate) enum Field {
    /// A header value, already checked to be visible ASCII.
    Header(HeaderValue),
    /// The body's top-level JSON member, read only when asked for.
    Body,
    /// The scheme does not carry it, or the request did not.
    Absent,
}

/// A request whose signature (and, where the scheme has one, timestamp) has been verified.
///
/// Holds the raw body exactly as received. Nothing here is parsed until asked for:
/// [`json`](Event::json) deserialises the payload into the app's own type, and for schemes that
/// carry the id or type inside the body ([`Provider::Stripe`]), [`id`](Event::id) and
/// [`event_type`](Event::event_type) read it lazily.
///
/// ```
/// use verihook::{testing::StandardSigner, StandardVerifier, FixedClock};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// let body = br#"{"type":"invoice.paid","data":{"amount":42}}"#;
/// let headers = StandardSigner::new(secret)?.sign("msg_1", 1_700_000_000, body)?;
/// let verifier = StandardVerifier::new(secret)?.with_clock(FixedClock::at_unix(1_700_000_010));
/// let event = verifier.verify(&headers, body.as_slice().into())?;
/// assert_eq!(event.id().as_deref(), Some("msg_1"));
/// assert_eq!(event.event_type().as_deref(), Some("invoice.paid"));
/// #[derive(serde::Deserialize)]
/// struct Invoice { data: Amount }
/// #[derive(serde::Deserialize)]
/// struct Amount { amount: u64 }
/// assert_eq!(event.json::<Invoice>()?.data.amount, 42);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Event {
    pub(crate) provider: Provider,
    pub(crate) id: Field,
    pub(crate) event_type: Field,
    pub(crate) timestamp: Option<u64>,
    pub(crate) body: Bytes,
    pub(crate) signed: Signed,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    id: Option<Text<'a>>,
    #[serde(borrow, default, rename = "type")]
    event_type: Option<Text<'a>>,
}

/// A JSON string, borrowed from the body unless it has escapes. (serde borrows a `Cow` only
/// when it is a field of its own, not inside an `Option`.)
#[derive(Deserialize)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

impl Event {
    /// The scheme that verified this event.
    #[must_use]
    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// The provider's event id (GitHub's delivery id, Stripe's `evt_...`, Standard Webhooks'
    /// `webhook-id`), or `None` if the request carried none.
    #[must_use]
    pub fn id(&self) -> Option<Cow<'_, str>> {
        self.field(&self.id, |e| e.id.map(|t| t.0))
    }

    /// The event type (`push`, `invoice.paid`, ...), or `None` if the request carried none.
    #[must_use]
    pub fn event_type(&self) -> Option<Cow<'_, str>> {
        self.field(&self.event_type, |e| e.event_type.map(|t| t.0))
    }

    /// The signed timestamp, for schemes that sign one.
    #[must_use]
    pub fn timestamp(&self) -> Option<SystemTime> {
        self.timestamp
            .and_then(|s| UNIX_EPOCH.checked_add(Duration::from_secs(s)))
    }

    /// The signed timestamp as seconds since the Unix epoch.
    #[must_use]
    pub fn unix_timestamp(&self) -> Option<u64> {
        self.timestamp
    }

    /// The raw body, exactly as received and verified.
    #[must_use]
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// Takes the raw body out of the event.
    #[must_use]
    pub fn into_body(self) -> Bytes {
        self.body
    }

    /// Which parts of the request the signature covered.
    #[must_use]
    pub fn signed(&self) -> Signed {
        self.signed
    }

    /// Deserialises the payload into `T`.
    ///
    /// # Errors
    ///
    /// [`PayloadError`] when the (authentic) body is not JSON of the shape `T` expects.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, PayloadError> {
        serde_json::from_slice(&self.body).map_err(PayloadError::new)
    }

    fn field<'a>(
        &'a self,
        field: &'a Field,
        pick: impl FnOnce(Envelope<'a>) -> Option<Cow<'a, str>>,
    ) -> Option<Cow<'a, str>> {
        match field {
            // Checked as visible ASCII when the event was built.
            Field::Header(value) => value.to_str().ok().map(Cow::Borrowed),
            Field::Body => serde_json::from_slice::<Envelope<'a>>(&self.body)
                .ok()
                .and_then(pick),
            Field::Absent => None,
        }
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("provider", &self.provider)
            .field("id", &self.id())
            .field("event_type", &self.event_type())
            .field("timestamp", &self.timestamp)
            .field("body_len", &self.body.len())
            .field("signed", &self.signed)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(body: &'static str) -> Event {
        Event {
            provider: Provider::Stripe,
            id: Field::Body,
            event_type: Field::Body,
            timestamp: Some(1),
            body: Bytes::from_static(body.as_bytes()),
            signed: Signed {
                id: true,
                event_type: true,
                timestamp: true,
            },
        }
    }

    #[test]
    fn reads_id_and_type_from_body_lazily() {
        let e = event(r#"{"id":"evt_1","type":"charge.succeeded","data":{}}"#);
        assert_eq!(e.id().as_deref(), Some("evt_1"));
        assert!(matches!(e.id(), Some(Cow::Borrowed(_))));
        assert_eq!(e.event_type().as_deref(), Some("charge.succeeded"));
    }

    #[test]
    fn unescapes_body_fields() {
        let e = event(r#"{"id":"evt_\u0031"}"#);
        assert_eq!(e.id().as_deref(), Some("evt_1"));
        assert_eq!(e.event_type(), None);
    }

    #[test]
    fn non_json_body_has_no_id() {
        assert_eq!(event("not json").id(), None);
        assert_eq!(event(r#"{"id":5}"#).id(), None);
    }

    #[test]
    fn payload_error_is_not_a_signature_error() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Wanted {
            amount: u64,
        }
        let err = event(r#"{"amount":"x"}"#).json::<Wanted>().unwrap_err();
        assert_eq!(err.code(), "invalid_payload");
        assert_eq!(err.status().as_u16(), 422);
    }

    #[test]
    fn provider_names_round_trip() {
        for p in Provider::ALL {
            assert_eq!(p.as_str().parse::<Provider>(), Ok(p));
        }
        assert_eq!(
            "Standard".parse::<Provider>(),
            Ok(Provider::StandardWebhooks)
        );
        assert!("gitlab".parse::<Provider>().is_err());
    }
}
