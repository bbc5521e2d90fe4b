//! The verified event, how a scheme builds one, and a handshake answer.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use serde::de::{DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::Deserializer;
use sha2::{Digest, Sha256};

use crate::error::PayloadError;

/// The longest idempotency key a [`Receiver`](crate::Receiver) uses, in bytes. A signed id that
/// would make a longer key is replaced by its SHA-256.
pub const MAX_KEY_LEN: usize = 64 + 1 + 128;

/// The longest event id kept in a key as it is; a longer one is hashed.
const MAX_ID_IN_KEY: usize = 128;

/// Which parts of a request the verified signature covers.
///
/// An unsigned part can be changed by anyone on the path without the signature noticing; treat
/// it as a hint. GitHub, for instance, signs only the body: its `X-GitHub-Delivery` id and
/// `X-GitHub-Event` type travel in unsigned headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Signed {
    pub(crate) id: bool,
    pub(crate) event_type: bool,
    pub(crate) timestamp: bool,
    /// For schemes that sign nothing (GitLab's token), and for Twilio form bodies, whose
    /// signature covers the parameters run together rather than the body as split.
    pub(crate) body_unsigned: bool,
}

impl Signed {
    /// Whether the body, exactly as received, is covered by a signature: for every scheme but
    /// those that only authenticate the sender with a shared token (GitLab's `X-Gitlab-Token`),
    /// which sign nothing, and Twilio form bodies: Twilio signs each parameter's name and value
    /// run together, so other splits of the same characters carry the same signature, and the
    /// split that arrived is not what was signed (validate each parameter's format).
    #[must_use]
    pub fn body(self) -> bool {
        !self.body_unsigned
    }
    /// Whether the event id is covered by the signature (and so may de-duplicate).
    #[must_use]
    pub fn id(self) -> bool {
        self.id
    }
    /// Whether the event type is covered by the signature.
    #[must_use]
    pub fn event_type(self) -> bool {
        self.event_type
    }
    /// Whether the route key is covered by the signature: it is read from the event type and
    /// the body (GitHub's `pull_request` header and `opened` action), so it is when both are.
    /// An event whose route key is not signed is never marked done without running a handler.
    #[must_use]
    pub fn route_key(self) -> bool {
        self.event_type && !self.body_unsigned
    }
    /// Whether the timestamp is covered by the signature (and so checked for freshness).
    #[must_use]
    pub fn timestamp(self) -> bool {
        self.timestamp
    }

    /// The flags as bits (id 1, type 2, timestamp 4, body *not* signed 8), for an inbox
    /// backend to store. A storage detail: hidden, public only for inbox backends.
    #[doc(hidden)]
    #[must_use]
    pub fn bits(self) -> u8 {
        u8::from(self.id)
            | u8::from(self.event_type) << 1
            | u8::from(self.timestamp) << 2
            | u8::from(self.body_unsigned) << 3
    }

    /// The flags an inbox backend stored with [`bits`](Self::bits). Hidden, as `bits`.
    #[doc(hidden)]
    #[must_use]
    pub fn from_bits(bits: u8) -> Self {
        Self {
            id: bits & 1 != 0,
            event_type: bits & 2 != 0,
            timestamp: bits & 4 != 0,
            body_unsigned: bits & 8 != 0,
        }
    }
}

/// Where an event's id or type comes from.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub enum Field {
    /// A header value (checked by the scheme to be visible ASCII).
    Header(HeaderValue),
    /// The body's top-level JSON member of this name, read only when asked for. A string or
    /// an integer is taken; anything else counts as absent without hiding the other members.
    Body(&'static str),
    /// Text the scheme already has.
    Text(Arc<str>),
    /// No id, but the SHA-256 of what the signature covers, to de-duplicate on (set by
    /// [`EventBuilder::content_digest`]).
    Digest([u8; 32]),
    /// The scheme does not carry it, or the request did not.
    #[default]
    Absent,
}

/// A request whose signature (and, where the scheme has one, timestamp) has been verified.
///
/// Holds the raw body exactly as received. Nothing here is parsed until asked for:
/// [`json`](Event::json) deserialises the payload into the app's own type, and for schemes that
/// carry the id or type inside the body (Stripe), [`id`](Event::id) and
/// [`event_type`](Event::event_type) read it lazily.
///
/// ```
/// use verihook::{testing::StandardSigner, providers::standard::StandardVerifier, scheme::FixedClock};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// let body = br#"{"type":"invoice.paid","data":{"amount":42}}"#;
/// let headers = StandardSigner::new(secret)?.sign("msg_1", 1_700_000_000, body)?;
/// let verifier = StandardVerifier::new(secret)?.with_clock(FixedClock::at_unix(1_700_000_010));
/// let event = verifier.verify(&headers, body.as_slice().into())?;
/// assert_eq!(event.id().as_deref(), Some("msg_1"));
/// assert_eq!(event.event_type().as_deref(), Some("invoice.paid"));
/// assert_eq!(event.idempotency_key(), "standard-webhooks:msg_1");
/// #[derive(serde::Deserialize)]
/// struct Invoice { data: Amount }
/// #[derive(serde::Deserialize)]
/// struct Amount { amount: u64 }
/// assert_eq!(event.json::<Invoice>()?.data.amount, 42);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Event {
    pub(crate) scheme: SchemeName,
    /// Thin (one pointer) to keep the event small: apps move events around.
    pub(crate) sender: Option<Arc<String>>,
    pub(crate) id: Field,
    pub(crate) event_type: Field,
    /// Meaningful only when `signed.timestamp` is set.
    pub(crate) timestamp: u64,
    pub(crate) body: Bytes,
    pub(crate) signed: Signed,
}

/// Builds an [`Event`]: how a scheme (a built-in one or the app's own) hands back what it
/// verified.
///
/// ```
/// use verihook::{Event, event::Field};
/// let event = Event::builder("acme", bytes::Bytes::from_static(br#"{"id":"a1","kind":"x"}"#))
///     .id(Field::Body("id"), true)
///     .event_type(Field::Body("kind"), true)
///     .timestamp(1_700_000_000)
///     .build();
/// assert_eq!(event.id().as_deref(), Some("a1"));
/// assert_eq!(event.idempotency_key(), "acme:a1");
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct EventBuilder {
    event: Event,
}

impl EventBuilder {
    /// Where the event id comes from, and whether the signature covers it. Only a signed id is
    /// used to de-duplicate; an unsigned one is reported only.
    #[inline]
    pub fn id(mut self, field: Field, signed: bool) -> Self {
        self.event.id = field;
        self.event.signed.id = signed;
        self
    }

    /// Where the event type comes from, and whether the signature covers it.
    #[inline]
    pub fn event_type(mut self, field: Field, signed: bool) -> Self {
        self.event.event_type = field;
        self.event.signed.event_type = signed;
        self
    }

    /// The signed timestamp (Unix seconds), already checked for freshness by the scheme.
    #[inline]
    pub fn timestamp(mut self, unix_seconds: u64) -> Self {
        self.event.timestamp = unix_seconds;
        self.event.signed.timestamp = true;
        self
    }

    /// The SHA-256 of what the signature covers, for a scheme whose signed content is not the
    /// raw body as received (Twilio signs decoded form parameters) and that signs no event id:
    /// the event is de-duplicated on it instead of on the body. It takes the id's place (the
    /// event then has no [`id`](Event::id)).
    #[inline]
    pub fn content_digest(mut self, sha256: [u8; 32]) -> Self {
        self.event.id = Field::Digest(sha256);
        self.event.signed.id = true;
        self
    }

    /// The event.
    #[must_use]
    #[inline]
    pub fn build(self) -> Event {
        self.event
    }
}

impl Event {
    /// Starts an event verified by the scheme `scheme` (its name, such as `"stripe"`) over
    /// `body`, the raw body as received.
    #[inline]
    pub fn builder(scheme: impl Into<SchemeName>, body: Bytes) -> EventBuilder {
        EventBuilder {
            event: Self {
                scheme: scheme.into(),
                sender: None,
                id: Field::Absent,
                event_type: Field::Absent,
                timestamp: 0,
                body,
                signed: Signed::default(),
            },
        }
    }

    /// An event built in place (the builder's chained moves cost two copies of the event on the
    /// hot path of the built-in schemes).
    #[inline]
    pub(crate) fn verified(
        scheme: &'static str,
        body: Bytes,
        (id, id_signed): (Field, bool),
        (event_type, type_signed): (Field, bool),
        timestamp: Option<u64>,
    ) -> Self {
        Self {
            scheme: SchemeName::from_static(scheme),
            sender: None,
            id,
            event_type,
            timestamp: timestamp.unwrap_or_default(),
            body,
            signed: Signed {
                id: id_signed,
                event_type: type_signed,
                timestamp: timestamp.is_some(),
                body_unsigned: false,
            },
        }
    }

    /// The name of the scheme that verified this event (`github`, `stripe`, ...).
    #[must_use]
    pub fn scheme(&self) -> &str {
        self.scheme.as_str()
    }

    /// The name of the sender it came from, as configured in the
    /// [`Receiver`](crate::Receiver) (`"clerk"`, `"resend"`, ...); the scheme's name when the
    /// event was verified outside a receiver.
    #[must_use]
    pub fn sender(&self) -> &str {
        self.sender
            .as_deref()
            .map_or(self.scheme.as_str(), String::as_str)
    }

    /// The provider's event id (Stripe's `evt_...`, Standard Webhooks' `webhook-id`, GitHub's
    /// delivery id), or `None` if the request carried none. See [`Signed::id`] for whether the
    /// signature covers it.
    #[must_use]
    pub fn id(&self) -> Option<Cow<'_, str>> {
        self.field(&self.id)
    }

    /// The event type (`push`, `invoice.paid`, ...), or `None` if the request carried none.
    #[must_use]
    pub fn event_type(&self) -> Option<Cow<'_, str>> {
        self.field(&self.event_type)
    }

    /// The signed timestamp, for schemes that sign one.
    #[must_use]
    pub fn timestamp(&self) -> Option<SystemTime> {
        self.unix_timestamp()
            .and_then(|s| UNIX_EPOCH.checked_add(Duration::from_secs(s)))
    }

    /// The signed timestamp as seconds since the Unix epoch.
    #[must_use]
    pub fn unix_timestamp(&self) -> Option<u64> {
        self.signed.timestamp.then_some(self.timestamp)
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
        crate::error::parse_payload(&self.body)
    }

    /// The key this event is de-duplicated under, built only from what the signature covers:
    /// `<sender>:<id>` when the scheme signs the event id (an id over 128 bytes is replaced by
    /// `sha256:<hex>` of it), else `<sender>:sha256:<hex>` of the signed timestamp and body (or
    /// of the scheme's [content digest](EventBuilder::content_digest)). At most
    /// [`MAX_KEY_LEN`] bytes.
    ///
    /// An unsigned id (GitHub's `X-GitHub-Delivery`) is never part of the key: anyone who
    /// captured a delivery could otherwise replay it under a new id, or make a genuine event
    /// look like a duplicate.
    ///
    /// An unsigned type (GitHub's `X-GitHub-Event`, Shopify's topic, a binary-mode CloudEvent's
    /// `ce-type`) may route the event, so it is part of the key: `<sender>:sha256:<hex>` of
    /// the signed part above and the type. A captured body replayed under a forged type then
    /// has a key of its own, and whatever becomes of it never makes the genuine delivery a
    /// duplicate.
    #[must_use]
    pub fn idempotency_key(&self) -> String {
        let sender = self.sender();
        if !self.signed.event_type {
            if let Some(kind) = self.event_type() {
                return self.key_with_type(sender, &kind);
            }
        }
        match self.signed_part() {
            SignedPart::Digest(digest) => hex_key(sender, digest),
            // Joined by hand: `format!` costs a few reallocations per request on this hot path.
            SignedPart::Id(id) if id.len() <= MAX_ID_IN_KEY => [sender, ":", &id].concat(),
            SignedPart::Id(id) => digest_key(sender, [id.as_bytes()]),
            SignedPart::Content => {
                let timestamp = self.unix_timestamp().unwrap_or_default().to_be_bytes();
                digest_key(sender, [&timestamp[..], &self.body])
            }
        }
    }

    /// What a key is made of: the scheme's content digest, else the signed id, else the signed
    /// timestamp and body.
    fn signed_part(&self) -> SignedPart<'_> {
        match (&self.id, self.signed.id) {
            (Field::Digest(digest), true) => SignedPart::Digest(digest),
            (_, true) => self.id().map_or(SignedPart::Content, SignedPart::Id),
            (_, false) => SignedPart::Content,
        }
    }

    /// The key of an event whose type is unsigned: its signed part and the type, hashed
    /// together, with a tag byte and a length before each variable part.
    fn key_with_type(&self, sender: &str, kind: &str) -> String {
        let mut hash = Sha256::new();
        match self.signed_part() {
            SignedPart::Digest(digest) => {
                hash.update(b"d");
                hash.update(digest);
            }
            SignedPart::Id(id) => {
                hash.update(b"i");
                hash.update((id.len() as u64).to_be_bytes());
                hash.update(id.as_bytes());
            }
            SignedPart::Content => {
                let timestamp = self.unix_timestamp().unwrap_or_default().to_be_bytes();
                hash.update(b"b");
                hash.update(timestamp);
                hash.update((self.body.len() as u64).to_be_bytes());
                hash.update(&self.body);
            }
        }
        hash.update(b"t");
        hash.update(kind.as_bytes());
        hex_key(sender, &hash.finalize().into())
    }

    /// The same event, attributed to the sender `name`.
    #[inline]
    pub(crate) fn with_sender(mut self, name: &Arc<String>) -> Self {
        self.sender = Some(name.clone());
        self
    }

    fn field<'a>(&'a self, field: &'a Field) -> Option<Cow<'a, str>> {
        match field {
            // Checked as visible ASCII by the scheme.
            Field::Header(value) => value.to_str().ok().map(Cow::Borrowed),
            Field::Body(member) => body_member(&self.body, member),
            Field::Text(text) => Some(Cow::Borrowed(text)),
            Field::Digest(_) | Field::Absent => None,
        }
    }
}

/// What an idempotency key is made of (see [`Event::idempotency_key`]).
enum SignedPart<'a> {
    /// The scheme's SHA-256 of what the signature covers.
    Digest(&'a [u8; 32]),
    /// The signed event id.
    Id(Cow<'a, str>),
    /// Neither: the signed timestamp and the body.
    Content,
}

/// `<sender>:sha256:<hex>` of `parts`.
fn digest_key<const N: usize>(sender: &str, parts: [&[u8]; N]) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update(part);
    }
    hex_key(sender, &hash.finalize().into())
}

/// `<sender>:sha256:<hex>` of a SHA-256 already computed.
fn hex_key(sender: &str, sha256: &[u8; 32]) -> String {
    let mut hex = [0u8; 2 * 32];
    // 32 bytes always fit 64 hex digits, and hex digits are UTF-8.
    let _ = const_hex::encode_to_slice(sha256, &mut hex);
    let hex = std::str::from_utf8(&hex).unwrap_or_default();
    [sender, ":sha256:", hex].concat()
}

/// The top-level member `name` of a JSON object body, as text: a string (unescaped) or an
/// integer. Any other value, a missing member or a body that is not a JSON object gives `None`;
/// a wrongly typed *other* member does not matter. The first occurrence counts, and the body
/// is read only up to it: the bodies read this way are authentic.
pub(crate) fn body_member<'a>(body: &'a [u8], name: &str) -> Option<Cow<'a, str>> {
    member(body, name, Lenient, true)
}

/// The top-level member `name` of a JSON object body, when it is a non-negative integer. The
/// whole body is read (a read stopped early costs serde_json an error, an allocation, and this
/// runs inside verification, which allocates nothing).
#[cfg(feature = "discord")]
pub(crate) fn body_integer(body: &[u8], name: &str) -> Option<u64> {
    member(body, name, Integer, false)
}

/// The first occurrence of `name`, read with `seed`. With `stop_early`, the body is read only up
/// to it (the rest is not parsed, which leaves the object unclosed: serde_json reports that,
/// with one allocation, and what was found stands); without, the whole body must be JSON.
fn member<'de, S, T>(body: &'de [u8], name: &str, seed: S, stop_early: bool) -> Option<T>
where
    S: DeserializeSeed<'de, Value = Option<T>> + Copy,
{
    let mut found = None;
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let read = deserializer.deserialize_map(MemberVisitor {
        name,
        seed,
        stop_early,
        found: &mut found,
    });
    if read.is_err() && !stop_early {
        return None;
    }
    found
}

struct MemberVisitor<'n, 'f, S, T> {
    name: &'n str,
    seed: S,
    stop_early: bool,
    found: &'f mut Option<T>,
}

impl<'de, S, T> Visitor<'de> for MemberVisitor<'_, '_, S, T>
where
    S: DeserializeSeed<'de, Value = Option<T>> + Copy,
{
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(wanted) = map.next_key_seed(IsKey(self.name))? {
            if wanted && self.found.is_none() {
                *self.found = map.next_value_seed(self.seed)?;
                if self.stop_early {
                    return Ok(());
                }
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// The value of `name` when it is the *last* member of the body's top-level object and a plain
/// string (no escapes), found by looking back from the end: Stripe writes its `type` after
/// `data`, where a forward read would first skip the whole event. `None` when the body does not
/// end that way (the caller then reads forward). Exact: a member whose value is followed only
/// by the final `}` belongs to the outermost object.
pub(crate) fn final_member_text<'a>(body: &'a [u8], name: &str) -> Option<&'a str> {
    let rest = body.trim_ascii_end().strip_suffix(b"}")?.trim_ascii_end();
    let rest = rest.strip_suffix(b"\"")?;
    let open = memchr::memrchr(b'"', rest)?;
    let value = &rest[open + 1..];
    if value.contains(&b'\\') {
        return None;
    }
    let rest = rest[..open]
        .trim_ascii_end()
        .strip_suffix(b":")?
        .trim_ascii_end();
    let rest = rest
        .strip_suffix(b"\"")?
        .strip_suffix(name.as_bytes())?
        .strip_suffix(b"\"")?
        .trim_ascii_end();
    if !matches!(rest.last(), Some(b',' | b'{')) {
        return None;
    }
    std::str::from_utf8(value).ok()
}

/// The first occurrence of each top-level member of `names` in a JSON object body, as text (a
/// string or an integer; any other value counts as absent), reading the body only as far as
/// the last one found: the rest is not parsed. For route keys, read from an authentic body.
pub(crate) fn first_members<'a, const N: usize>(
    body: &'a [u8],
    names: [&str; N],
) -> [Option<Cow<'a, str>>; N] {
    let mut found: [Option<Cow<'a, str>>; N] = std::array::from_fn(|_| None);
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    // Stopping early leaves the object unclosed, which serde_json reports as an error once the
    // visitor returns: what was found by then stands.
    let _ = deserializer.deserialize_map(FirstMembers {
        names: &names,
        found: &mut found,
    });
    found
}

struct FirstMembers<'n, 'f, 'a, const N: usize> {
    names: &'n [&'n str; N],
    found: &'f mut [Option<Cow<'a, str>>; N],
}

impl<'a, const N: usize> Visitor<'a> for FirstMembers<'_, '_, 'a, N> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'a>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = [false; N];
        while let Some(index) = map.next_key_seed(WhichKey(self.names))? {
            match index {
                Some(i) if !seen[i] => {
                    seen[i] = true;
                    self.found[i] = map.next_value_seed(Lenient)?;
                    if seen.iter().all(|s| *s) {
                        return Ok(());
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// Which of the wanted names a member's name is, compared without copying it.
struct WhichKey<'n, const N: usize>(&'n [&'n str; N]);

impl<'de, const N: usize> DeserializeSeed<'de> for WhichKey<'_, N> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<const N: usize> Visitor<'_> for WhichKey<'_, N> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }
    fn visit_str<E>(self, v: &str) -> Result<Option<usize>, E> {
        Ok(self.0.iter().position(|name| *name == v))
    }
}

/// Whether a member's name is the one wanted, compared without copying it.
#[derive(Clone, Copy)]
struct IsKey<'n>(&'n str);

impl<'de> DeserializeSeed<'de> for IsKey<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for IsKey<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }
    fn visit_str<E>(self, v: &str) -> Result<bool, E> {
        Ok(v == self.0)
    }
}

/// A non-negative integer; anything else as `None`.
#[cfg(feature = "discord")]
#[derive(Clone, Copy)]
struct Integer;

#[cfg(feature = "discord")]
impl<'de> DeserializeSeed<'de> for Integer {
    type Value = Option<u64>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        let value = <serde_json::Value as serde::Deserialize>::deserialize(deserializer)?;
        Ok(value.as_u64())
    }
}

/// A string or an integer as text; anything else as `None`.
#[derive(Clone, Copy)]
struct Lenient;

impl<'de> DeserializeSeed<'de> for Lenient {
    type Value = Option<Cow<'de, str>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Lenient {
    type Value = Option<Cow<'de, str>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v.to_string())))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v.to_string())))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("scheme", &self.scheme)
            .field("sender", &self.sender())
            .field("id", &self.id())
            .field("event_type", &self.event_type())
            .field("timestamp", &self.unix_timestamp())
            .field("body_len", &self.body.len())
            .field("signed", &self.signed)
            .finish()
    }
}

/// An answer to a provider's endpoint check (Slack's `url_verification`, Discord's PING), given
/// by the scheme itself after verifying the request where the provider signs it. The app's
/// handler never sees it.
///
/// ```
/// use verihook::event::Handshake;
/// let answer = Handshake::json(r#"{"type":1}"#);
/// assert_eq!(answer.status(), http::StatusCode::OK);
/// assert_eq!(answer.content_type(), "application/json");
/// assert_eq!(answer.body().as_ref(), br#"{"type":1}"#);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handshake {
    status: StatusCode,
    content_type: &'static str,
    body: Bytes,
    headers: Vec<(http::HeaderName, http::HeaderValue)>,
}

impl Handshake {
    /// An answer with any status, content type and body.
    #[must_use]
    pub fn new(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Self {
        Self {
            status,
            content_type,
            body: body.into(),
            headers: Vec::new(),
        }
    }

    /// The same answer with a response header added (CloudEvents' `WebHook-Allowed-Origin`).
    #[must_use]
    pub fn with_header(mut self, name: http::HeaderName, value: http::HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The response headers to answer with, besides `Content-Type`.
    #[must_use]
    pub fn headers(&self) -> &[(http::HeaderName, http::HeaderValue)] {
        &self.headers
    }

    /// A `200` answer with a JSON body.
    #[must_use]
    pub fn json(body: impl Into<Bytes>) -> Self {
        Self::new(StatusCode::OK, "application/json", body)
    }

    /// The status to answer.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The `Content-Type` to answer with.
    #[must_use]
    pub fn content_type(&self) -> &'static str {
        self.content_type
    }

    /// The body to answer with.
    #[must_use]
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The status, content type and body, as the adapters answer them.
    pub(crate) fn response(&self) -> (StatusCode, &'static str, Bytes) {
        (self.status, self.content_type, self.body.clone())
    }
}

/// What a [`Scheme`](crate::Scheme) found a request to be, once it passed.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Verified {
    /// An authentic, fresh event for the app.
    Event(Event),
    /// A provider's endpoint check, answered by the scheme.
    Handshake(Handshake),
}

impl Verified {
    /// The event, or `None` for a handshake.
    #[must_use]
    pub fn into_event(self) -> Option<Event> {
        match self {
            Self::Event(event) => Some(event),
            Self::Handshake(_) => None,
        }
    }
}

/// The key an event is routed by: its type, and for senders whose events carry an action
/// (GitHub's `pull_request` + `opened`, Linear's `Issue` + `create`) the two joined by a dot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteKey {
    full: String,
    /// The length of the kind part (`full.len()` when there is no action).
    kind: usize,
}

impl RouteKey {
    /// A key with no action (`invoice.paid`).
    #[must_use]
    pub fn new(kind: &str) -> Self {
        Self {
            full: kind.to_owned(),
            kind: kind.len(),
        }
    }

    /// A key made of a kind and, when there is one, an action (`pull_request.opened`).
    #[must_use]
    pub fn with_action(kind: &str, action: Option<&str>) -> Self {
        match action {
            Some(action) => Self {
                full: [kind, ".", action].concat(),
                kind: kind.len(),
            },
            None => Self::new(kind),
        }
    }

    /// The whole key (`pull_request.opened`, `invoice.paid`).
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.full
    }

    /// The kind without the action (`pull_request`); the whole key when there is no action.
    #[must_use]
    pub fn kind(&self) -> &str {
        &self.full[..self.kind]
    }

    /// The action (`opened`), for senders whose events carry one.
    #[must_use]
    pub fn action(&self) -> Option<&str> {
        self.full
            .get(self.kind + 1..)
            .filter(|_| self.kind < self.full.len())
    }
}

impl fmt::Display for RouteKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full)
    }
}

/// The event type the scheme reported, as the route key: for declared schemes, CloudEvents and
/// the providers whose type is one member of the body or one header.
pub(crate) fn reported_route_key(event: &Event) -> Option<RouteKey> {
    let body = &event.body[..];
    match &event.event_type {
        // A type the scheme already resolved (CloudEvents' `type`), or an inbox entry's
        // stored type, is the key as it is.
        Field::Text(text) => Some(RouteKey::new(text.as_ref())),
        // Stripe's `type` ends the event: read from the end first.
        Field::Body(name) => match final_member_text(body, name) {
            Some(kind) => Some(RouteKey::new(kind)),
            None => {
                let [kind] = first_members(body, [*name]);
                kind.map(|t| RouteKey::new(&t))
            }
        },
        _ => event.event_type().map(|t| RouteKey::new(&t)),
    }
}

/// A scheme's name (`stripe`, `github`, a declared scheme's own): the default sender name and
/// what [`Event::scheme`] answers.
///
/// Cloning it never allocates: a built-in name is static text, a name read at run time (a
/// declared scheme's) is shared.
#[derive(Clone)]
pub struct SchemeName(Name);

/// Thin when shared (`Arc<String>`, one pointer), so the enum is no larger than a `&str` and
/// events carrying it stay small.
#[derive(Clone)]
enum Name {
    Static(&'static str),
    Shared(Arc<String>),
}

impl SchemeName {
    /// A name known at compile time.
    #[must_use]
    pub const fn from_static(name: &'static str) -> Self {
        Self(Name::Static(name))
    }

    /// The name as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Name::Static(name) => name,
            Name::Shared(name) => name,
        }
    }
}

impl std::ops::Deref for SchemeName {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for SchemeName {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<&'static str> for SchemeName {
    fn from(name: &'static str) -> Self {
        Self::from_static(name)
    }
}

impl From<Arc<String>> for SchemeName {
    fn from(name: Arc<String>) -> Self {
        Self(Name::Shared(name))
    }
}

impl From<String> for SchemeName {
    fn from(name: String) -> Self {
        Self(Name::Shared(Arc::new(name)))
    }
}

impl PartialEq for SchemeName {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for SchemeName {}

impl PartialEq<str> for SchemeName {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for SchemeName {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::hash::Hash for SchemeName {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for SchemeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for SchemeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod final_member_tests {
    use super::*;

    #[test]
    fn finds_only_the_outer_objects_last_member() {
        let stripe = br#"{"id":"evt_1","data":{"object":{"type":"card"}},"type":"invoice.paid"}"#;
        assert_eq!(final_member_text(stripe, "type"), Some("invoice.paid"));
        assert_eq!(
            final_member_text(b"{ \"type\" : \"a.b\" }\n", "type"),
            Some("a.b")
        );
        // Not last: the caller reads forward.
        assert_eq!(
            final_member_text(br#"{"type":"a","data":{}}"#, "type"),
            None
        );
        // The nested object's last member is not the outer object's.
        assert_eq!(
            final_member_text(br#"{"data":{"type":"card"}}"#, "type"),
            None
        );
        // Escapes, another name, a string that only looks like a member.
        assert_eq!(final_member_text(br#"{"type":"a\"b"}"#, "type"), None);
        assert_eq!(final_member_text(br#"{"kind":"a"}"#, "type"), None);
        assert_eq!(
            final_member_text(br#"{"note":"x,\"type\":\"y\"}"}"#, "type"),
            None
        );
        assert_eq!(
            final_member_text(br#"{"note":"x","xtype":"y"}"#, "type"),
            None
        );
        for junk in [
            &b""[..],
            b"}",
            b"\"}",
            b":\"a\"}",
            b"\"type\":\"a\"}",
            b"{\"type\":1}",
        ] {
            assert_eq!(final_member_text(junk, "type"), None, "{junk:?}");
        }
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            "[a-z.\"\\\\ ,:{}]{0,12}".prop_map(serde_json::Value::from),
            any::<u32>().prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop::collection::vec(
                (prop_oneof!["type", "data", "id", "[a-z]{1,4}"], inner),
                0..4,
            )
            .prop_map(|members| serde_json::Value::Object(members.into_iter().collect()))
        })
    }

    proptest::proptest! {
        #[test]
        fn the_read_from_the_end_agrees_with_the_forward_read(
            members in proptest::collection::vec(
                (proptest::prop_oneof!["type", "data", "id", "[a-z]{1,4}"], json_value()),
                0..5,
            ),
            pretty: bool,
        ) {
            let object = serde_json::Value::Object(members.into_iter().collect());
            let body = if pretty {
                serde_json::to_vec_pretty(&object).unwrap()
            } else {
                serde_json::to_vec(&object).unwrap()
            };
            if let Some(fast) = final_member_text(&body, "type") {
                let forward = first_members(&body, ["type"]);
                proptest::prop_assert_eq!(Some(fast), forward[0].as_deref());
            }
        }
    }

    #[test]
    fn agrees_with_the_forward_read_wherever_it_answers() {
        let bodies: [&[u8]; 5] = [
            br#"{"id":"evt_1","type":"invoice.paid"}"#,
            br#"{"a":[1,{"type":"x"}],"type":"y"}"#,
            br#"{"type":"first","type":"second"}"#,
            br#"{"type":"only"}"#,
            br#"{"data":{"type":"inner"},"type":"outer"}"#,
        ];
        for body in bodies {
            if let Some(fast) = final_member_text(body, "type") {
                // A duplicate member (never in a provider's JSON) is where the two could differ.
                if body.windows(7).filter(|w| w == b"\"type\":").count() < 2 {
                    assert_eq!(Some(fast), first_members(body, ["type"])[0].as_deref());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(body: &'static str) -> Event {
        Event::builder("stripe", Bytes::from_static(body.as_bytes()))
            .id(Field::Body("id"), true)
            .event_type(Field::Body("type"), true)
            .timestamp(1)
            .build()
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
        assert_eq!(event("[1,2]").id(), None);
        assert_eq!(event(r#"{"id":true}"#).id(), None);
        assert_eq!(event(r#"{"id":{"a":1}}"#).id(), None);
    }

    #[test]
    fn a_wrongly_typed_member_does_not_hide_the_others() {
        let e = event(r#"{"id":"evt_1","type":[5]}"#);
        assert_eq!(e.id().as_deref(), Some("evt_1"));
        assert_eq!(e.event_type(), None);
        let e = event(r#"{"type":"a.b","id":{"nested":1}}"#);
        assert_eq!(e.event_type().as_deref(), Some("a.b"));
        assert_eq!(e.id(), None);
    }

    #[test]
    fn an_integer_id_is_an_id() {
        let e = event(r#"{"id":5,"type":5}"#);
        assert_eq!(e.id().as_deref(), Some("5"));
        assert_eq!(e.idempotency_key(), "stripe:5");
        assert_eq!(event(r#"{"id":-7}"#).id().as_deref(), Some("-7"));
    }

    #[test]
    fn the_key_never_uses_an_unsigned_id() {
        let body = Bytes::from_static(b"{}");
        let unsigned = |id: &'static str| {
            Event::builder("github", body.clone())
                .id(Field::Text(id.into()), false)
                .build()
                .idempotency_key()
        };
        assert_eq!(unsigned("d-1"), unsigned("d-2"));
        assert!(unsigned("d-1").starts_with("github:sha256:"));
        assert_eq!(unsigned("d-1").len(), "github:sha256:".len() + 64);
    }

    #[test]
    fn keys_without_an_id_hash_the_signed_content() {
        let body = Bytes::from_static(b"{}");
        let key = |timestamp| {
            Event::builder("stripe", body.clone())
                .timestamp(timestamp)
                .build()
                .idempotency_key()
        };
        assert!(key(1).starts_with("stripe:sha256:"));
        assert_eq!(key(1), key(1));
        assert_ne!(key(1), key(2));
    }

    #[test]
    fn a_content_digest_keys_the_event() {
        let event = |body: &'static [u8]| {
            Event::builder("twilio", Bytes::from_static(body))
                .content_digest([7; 32])
                .build()
        };
        assert_eq!(
            event(b"a=1").idempotency_key(),
            event(b"a=%31").idempotency_key()
        );
        assert!(event(b"a=1")
            .idempotency_key()
            .starts_with("twilio:sha256:0707"));
        assert_eq!(event(b"a=1").id(), None);
    }

    #[test]
    fn events_stay_small() {
        // Apps move events around; every byte here is copied on each move.
        assert!(
            std::mem::size_of::<Event>() <= 152,
            "{}",
            std::mem::size_of::<Event>()
        );
    }

    #[test]
    fn keys_are_bounded_and_namespaced_by_sender() {
        let long = format!(r#"{{"id":"{}"}}"#, "x".repeat(10_000));
        let e = Event::builder("standard-webhooks", Bytes::from(long))
            .id(Field::Body("id"), true)
            .build();
        let key = e
            .clone()
            .with_sender(&Arc::new("clerk".into()))
            .idempotency_key();
        assert!(key.starts_with("clerk:sha256:"), "{key}");
        assert!(key.len() <= MAX_KEY_LEN);
        let other = e.with_sender(&Arc::new("resend".into())).idempotency_key();
        assert_ne!(key, other);
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
}
