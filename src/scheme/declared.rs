//! A scheme described by data, for senders without a built-in: [`SchemeSpec`] (a builder and a
//! serde form) compiled into a [`DeclaredScheme`].

use std::collections::HashSet;
use std::fmt;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use hmac::Hmac;
use http::{HeaderMap, HeaderName};
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sha2::{Sha256, Sha512};
use zeroize::Zeroizing;

use crate::error::VerifyError;
use crate::event::{Event, Field, Verified};
use crate::request::{RequestHead, WebhookRequest};
use crate::scheme::verifier::{
    event_only, Answers, Check, Scheme, SchemeInfo, Verifier, DEFAULT_BODY_LIMIT,
};
use crate::verify::{check_freshness_millis, parse_unix_seconds, Header, DEFAULT_TOLERANCE};
use crate::wire::header::{cap_entries, pairs, MAX_SIGNATURES};
use crate::wire::json::last_member_integer;
use crate::wire::mac::{MacKeys, MIN_RAW_SECRET_LEN};
use crate::wire::url::PublicUrl;

/// The most pieces of signed content a declared scheme may list.
pub const MAX_PIECES: usize = 12;

/// How a sender signs its webhooks, as data: where the signature is and how it is written, the
/// MAC, the signed content piece by piece, where the timestamp, id and type come from, and the
/// tolerance. [`build`](Self::build) checks it and gives a [`DeclaredScheme`], which verifies
/// like a built-in (no allocation per request, constant-time comparison, at most
/// [`MAX_SIGNATURES`] signature entries, the timestamp checked before the MAC when it is in a
/// header).
///
/// Build one in code:
///
/// ```
/// use verihook::scheme::declared::{Encoding, Piece, SchemeSpec, SignatureSpec, Source, TimeUnit};
/// use verihook::{scheme::FixedClock, WebhookRequest, RequestHead};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // Mux: `Mux-Signature: t=<unix>,v1=<hex>` over `{t}.{body}`.
/// let mux = SchemeSpec::new("mux", SignatureSpec::list("Mux-Signature", ',', "v1", Encoding::Hex))
///     .signed([Piece::Timestamp, Piece::literal("."), Piece::Body])
///     .timestamp(Source::entry("t"), TimeUnit::Seconds)
///     .id(Source::body("id"))
///     .event_type(Source::body("type"))
///     .build(&["SuperSecret123"], None)?;
///
/// let mut headers = http::HeaderMap::new();
/// headers.insert("mux-signature", "t=1565125718,v1=854ece4c22acef7c66b57d4e504153bc512595e8e9c772ece2a68150548c19a7".parse()?);
/// let body = bytes::Bytes::from_static(br#"{"test":"body"}"#);
/// let request = WebhookRequest::new(RequestHead::post(&headers), &body);
/// let mux = mux.with_clock(FixedClock::at_unix(1_565_125_718));
/// assert!(mux.verify_request(&request).is_ok());
/// # Ok(()) }
/// ```
///
/// or read it from configuration (any serde format; JSON here):
///
/// ```
/// use verihook::scheme::declared::SchemeSpec;
/// let spec: SchemeSpec = serde_json::from_str(r#"{
///   "name": "coinbase-commerce",
///   "signature": { "header": "X-CC-Webhook-Signature", "encoding": "hex" },
///   "signed": ["body"],
///   "id": { "body": "id" }
/// }"#)?;
/// let scheme = spec.build(&["30291a20-0bd1-4267-9b0f-e6e7b123c0bf"], None)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// A specification that would accept what it should not is refused at build time, never turned
/// into a lenient scheme: no body piece, a timestamp that is checked but not signed, a piece
/// whose source is not declared, no secret or an empty one, an unknown encoding or algorithm.
/// Three weakenings are refused unless asked for through [`DangerousSpec`]: a
/// `secret.min_len` under 8, a `tolerance_secs` above [`MAX_TOLERANCE_SECS`], and two variable
/// pieces (id, URL, body, header) with nothing between them (a literal, the timestamp or the
/// method between them is enough).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SchemeSpec {
    /// The scheme's name (`typeform`): the default sender name and the namespace of its
    /// idempotency keys. Lower-case ASCII letters, digits, `-` and `_`.
    pub name: String,
    /// Where the signature is and how it is written.
    pub signature: SignatureSpec,
    /// The MAC (default `hmac-sha256`).
    #[serde(default)]
    pub algorithm: Algorithm,
    /// The signed content, in order; must include [`Piece::Body`].
    pub signed: Vec<Piece>,
    /// Where the timestamp comes from, if the sender signs one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<TimestampSpec>,
    /// Where the event id comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Source>,
    /// Where the event type comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<Source>,
    /// The largest gap allowed between the signed timestamp and now, in seconds (default
    /// 300). A tolerance set in [`VerifyOptions`](crate::scheme::VerifyOptions) replaces it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance_secs: Option<u64>,
    /// How the secret is written.
    #[serde(default)]
    pub secret: SecretSpec,
    /// The largest body accepted, in bytes (default 1 MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_limit: Option<usize>,
    /// Checks this specification weakens on purpose (all off by default). Set them through
    /// [`crate::dangerous`] in code, or a `"dangerous": {...}` object in the serde form, so a
    /// reviewer finds every use with `grep dangerous`.
    #[serde(default, skip_serializing_if = "DangerousSpec::is_off")]
    pub dangerous: DangerousSpec,
}

/// The checks of a [`SchemeSpec`] it may weaken, each named so a reviewer can find it. Without
/// them, [`SchemeSpec::build`] refuses a `secret.min_len` under 8, a `tolerance_secs` above
/// [`MAX_TOLERANCE_SECS`], and two variable pieces (id, URL, body, header) side by side in the
/// signed content.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct DangerousSpec {
    /// Accept a `secret.min_len` under 8 (a short secret can be guessed offline from one
    /// captured request).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub short_secrets: bool,
    /// Accept a `tolerance_secs` above [`MAX_TOLERANCE_SECS`] (a captured request can be
    /// replayed for that long).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub long_tolerance: bool,
    /// Accept two variable pieces side by side in the signed content, as a sender that signs
    /// them so requires: bytes can then move from one into the other under the same signature
    /// (from the id header into the body: a new idempotency key for the same signature).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub adjacent_pieces: bool,
}

impl DangerousSpec {
    fn is_off(&self) -> bool {
        *self == Self::default()
    }
}

/// The largest `tolerance_secs` a [`SchemeSpec`] may declare without
/// [`DangerousSpec::long_tolerance`]: one hour.
pub const MAX_TOLERANCE_SECS: u64 = 3600;

/// Where the signature is and how it is written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SignatureSpec {
    /// The header that carries it (`X-Hub-Signature-256`).
    pub header: String,
    /// How the MAC is written.
    pub encoding: Encoding,
    /// Text before each signature (`sha256=`, `v0=`, `v1,`); empty by default.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub prefix: String,
    /// The character between entries when the header lists several (`,`, `;`, ` `).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub separator: Option<char>,
    /// In a `key=value` list (`t=..,v1=..`), the key of the signature entries (`v1`); other
    /// keys are ignored, except the timestamp's ([`Source::Entry`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl SignatureSpec {
    /// One signature, the whole value of `header`.
    #[must_use]
    pub fn header(header: impl Into<String>, encoding: Encoding) -> Self {
        Self {
            header: header.into(),
            encoding,
            prefix: String::new(),
            separator: None,
            key: None,
        }
    }

    /// A `key=value` list separated by `separator`, whose signatures are the `key` entries
    /// (`Stripe-Signature: t=..,v1=..`).
    #[must_use]
    pub fn list(
        header: impl Into<String>,
        separator: char,
        key: impl Into<String>,
        encoding: Encoding,
    ) -> Self {
        Self {
            separator: Some(separator),
            key: Some(key.into()),
            ..Self::header(header, encoding)
        }
    }

    /// Signatures separated by `separator`, each after the [`prefix`](Self::prefix)
    /// (`v1,<b64> v1,<b64>`); entries with another prefix are ignored.
    #[must_use]
    pub fn separated(mut self, separator: char) -> Self {
        self.separator = Some(separator);
        self
    }

    /// Text before the signature (`sha256=`).
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }
}

/// How a MAC is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Encoding {
    /// Hexadecimal, either case.
    Hex,
    /// Standard base64 (`+/`), padded or not.
    Base64,
    /// URL-safe base64 (`-_`), padded or not.
    Base64url,
}

/// The MAC a sender computes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Algorithm {
    /// HMAC-SHA1 (older senders).
    HmacSha1,
    /// HMAC-SHA256.
    #[default]
    HmacSha256,
    /// HMAC-SHA512.
    HmacSha512,
}

impl Algorithm {
    fn output_len(self) -> usize {
        match self {
            Self::HmacSha1 => 20,
            Self::HmacSha256 => 32,
            Self::HmacSha512 => 64,
        }
    }
}

/// One piece of the signed content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Piece {
    /// Fixed text (`v0:`, `.`).
    Literal(String),
    /// The timestamp's digits as sent.
    Timestamp,
    /// The event id as sent (its source must be a header).
    Id,
    /// The request method (`POST`).
    Method,
    /// The public URL: the configured scheme and host, then the path and query as received.
    Url,
    /// The raw body.
    Body,
    /// A header's value as sent.
    Header(String),
}

impl Piece {
    /// A [`Piece::Literal`].
    #[must_use]
    pub fn literal(text: impl Into<String>) -> Self {
        Self::Literal(text.into())
    }

    /// A [`Piece::Header`].
    #[must_use]
    pub fn header(name: impl Into<String>) -> Self {
        Self::Header(name.into())
    }
}

/// Where a value comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Source {
    /// A request header.
    Header(String),
    /// An entry of the signature header's `key=value` list (timestamps only: `t`).
    Entry(String),
    /// A top-level member of the JSON body (a string or an integer). For a timestamp, the last
    /// member of that name is read, once the signature passed.
    Body(String),
}

impl Source {
    /// A [`Source::Header`].
    #[must_use]
    pub fn header(name: impl Into<String>) -> Self {
        Self::Header(name.into())
    }

    /// A [`Source::Entry`].
    #[must_use]
    pub fn entry(key: impl Into<String>) -> Self {
        Self::Entry(key.into())
    }

    /// A [`Source::Body`].
    #[must_use]
    pub fn body(member: impl Into<String>) -> Self {
        Self::Body(member.into())
    }
}

/// Where the timestamp comes from and its unit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TimestampSpec {
    /// Where it is.
    pub source: Source,
    /// Unix seconds (default) or milliseconds.
    #[serde(default)]
    pub unit: TimeUnit,
}

/// A timestamp's unit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TimeUnit {
    /// Unix seconds.
    #[default]
    Seconds,
    /// Unix milliseconds.
    Milliseconds,
}

/// How the secret is written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SecretSpec {
    /// Text used as it is (default), or base64 / hex decoded to the key.
    #[serde(default)]
    pub encoding: SecretEncoding,
    /// A public prefix removed before decoding (`whsec_`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strip_prefix: Option<String>,
    /// The shortest key accepted, in bytes after decoding (default 8; under 8 only with
    /// [`DangerousSpec::short_secrets`], and never under 1).
    #[serde(default = "default_min_len")]
    pub min_len: usize,
}

fn default_min_len() -> usize {
    MIN_RAW_SECRET_LEN
}

impl Default for SecretSpec {
    fn default() -> Self {
        Self {
            encoding: SecretEncoding::Text,
            strip_prefix: None,
            min_len: MIN_RAW_SECRET_LEN,
        }
    }
}

/// How a secret's text becomes the key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SecretEncoding {
    /// The text's bytes are the key.
    #[default]
    Text,
    /// Standard base64.
    Base64,
    /// Hexadecimal.
    Hex,
}

/// Why a [`SchemeSpec`] cannot be built; the message names the field and what to change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecError(String);

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid scheme specification: {}", self.0)
    }
}

impl std::error::Error for SpecError {}

fn refuse<T>(message: impl Into<String>) -> Result<T, SpecError> {
    Err(SpecError(message.into()))
}

impl SchemeSpec {
    /// A specification for the sender `name` whose signature is `signature`, signing the body
    /// alone with HMAC-SHA256 until [`signed`](Self::signed) says otherwise.
    #[must_use]
    pub fn new(name: impl Into<String>, signature: SignatureSpec) -> Self {
        Self {
            name: name.into(),
            signature,
            algorithm: Algorithm::default(),
            signed: vec![Piece::Body],
            timestamp: None,
            id: None,
            event_type: None,
            tolerance_secs: None,
            secret: SecretSpec::default(),
            body_limit: None,
            dangerous: DangerousSpec::default(),
        }
    }

    /// The signed content, in order.
    #[must_use]
    pub fn signed(mut self, pieces: impl IntoIterator<Item = Piece>) -> Self {
        self.signed = pieces.into_iter().collect();
        self
    }

    /// The MAC.
    #[must_use]
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// Where the timestamp comes from, and its unit.
    #[must_use]
    pub fn timestamp(mut self, source: Source, unit: TimeUnit) -> Self {
        self.timestamp = Some(TimestampSpec { source, unit });
        self
    }

    /// Where the event id comes from.
    #[must_use]
    pub fn id(mut self, source: Source) -> Self {
        self.id = Some(source);
        self
    }

    /// Where the event type comes from.
    #[must_use]
    pub fn event_type(mut self, source: Source) -> Self {
        self.event_type = Some(source);
        self
    }

    /// The default tolerance.
    #[must_use]
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance_secs = Some(tolerance.as_secs());
        self
    }

    /// How the secret is written.
    #[must_use]
    pub fn secret(mut self, secret: SecretSpec) -> Self {
        self.secret = secret;
        self
    }

    /// Checks the specification and keys the MAC with each of `secrets` (several while
    /// rotating); `url` is the public URL the sender posts to, for a scheme that signs it.
    ///
    /// # Errors
    ///
    /// [`SpecError`] naming what is wrong: see the type's docs.
    pub fn build(
        &self,
        secrets: &[&str],
        url: Option<&str>,
    ) -> Result<Verifier<DeclaredScheme>, SpecError> {
        DeclaredScheme::compile(self, secrets, url).map(Verifier::for_scheme)
    }
}

/// A scheme compiled from a [`SchemeSpec`].
#[derive(Clone)]
pub struct DeclaredScheme {
    /// The name (shared by every event it verifies), signature header, limit and tolerance.
    info: SchemeInfo,
    algorithm: Algorithm,
    keys: Keys,
    signature: CompiledSignature,
    pieces: Box<[Compiled]>,
    timestamp: Option<(CompiledSource, TimeUnit)>,
    id: Option<(CompiledSource, bool)>,
    event_type: Option<(CompiledSource, bool)>,
    url: Option<PublicUrl>,
}

#[derive(Clone)]
enum Keys {
    Sha1(MacKeys<Hmac<Sha1>>),
    Sha256(MacKeys<Hmac<Sha256>>),
    Sha512(MacKeys<Hmac<Sha512>>),
}

impl Keys {
    fn len(&self) -> usize {
        match self {
            Self::Sha1(keys) => keys.len(),
            Self::Sha256(keys) => keys.len(),
            Self::Sha512(keys) => keys.len(),
        }
    }

    fn matches<C, I>(&self, parts: &[&[u8]], decoded: C) -> bool
    where
        C: Fn() -> I,
        I: Iterator,
        I::Item: AsRef<[u8]>,
    {
        match self {
            Self::Sha1(keys) => keys.matches_any(parts, decoded),
            Self::Sha256(keys) => keys.matches_any(parts, decoded),
            Self::Sha512(keys) => keys.matches_any(parts, decoded),
        }
    }
}

#[derive(Clone)]
struct CompiledSignature {
    header: Header,
    encoding: Encoding,
    prefix: Box<[u8]>,
    separator: Option<u8>,
    key: Option<Box<[u8]>>,
}

#[derive(Clone)]
enum Compiled {
    Literal(Box<[u8]>),
    Timestamp,
    Id,
    Method,
    Url,
    Body,
    Header(Header),
}

#[derive(Clone)]
enum CompiledSource {
    Header(Header),
    Entry(Box<[u8]>),
    /// The member's name, and the same with its quotes (for a timestamp's search).
    Body(&'static str, Box<[u8]>),
}

/// The signatures a request carries, as sent (at most [`MAX_SIGNATURES`]); decoded only when
/// compared, so nothing larger than their slices is moved around.
struct Candidates<'a> {
    texts: [&'a [u8]; MAX_SIGNATURES],
    sent: usize,
}

/// One decoded signature.
struct Decoded {
    bytes: [u8; 72],
    len: usize,
}

impl AsRef<[u8]> for Decoded {
    fn as_ref(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// A parsed signature header: the signatures and, when the timestamp is one of its entries,
/// the timestamp's digits.
struct Parsed<'a> {
    candidates: Candidates<'a>,
    entry_timestamp: Option<&'a [u8]>,
}

const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const BASE64_URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Names read at run time live as long as the process (schemes are built once, at start-up);
/// each distinct name is kept once, however often a scheme is built.
fn intern(name: &str) -> &'static str {
    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(known) = names.get(name) {
        return known;
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.insert(leaked);
    leaked
}

fn header(name: &str, what: &str) -> Result<Header, SpecError> {
    match HeaderName::from_bytes(name.trim().as_bytes()) {
        Ok(wire) => Ok(Header {
            wire,
            display: intern(name.trim()),
        }),
        Err(_) => refuse(format!("{what}: {name:?} is not a valid header name")),
    }
}

fn ascii(text: &str, what: &str) -> Result<Box<[u8]>, SpecError> {
    if text.is_ascii() {
        Ok(text.as_bytes().into())
    } else {
        refuse(format!("{what}: {text:?} must be ASCII"))
    }
}

fn source(source: &Source, what: &str) -> Result<CompiledSource, SpecError> {
    match source {
        Source::Header(name) => Ok(CompiledSource::Header(header(name, what)?)),
        Source::Entry(key) => Ok(CompiledSource::Entry(ascii(key, what)?)),
        Source::Body(member) if member.is_empty() => refuse(format!("{what}: empty body member")),
        Source::Body(member) => Ok(CompiledSource::Body(
            intern(member),
            format!("\"{member}\"").into_bytes().into(),
        )),
    }
}

/// Whether the value from `source` is covered by the signed `pieces`.
fn is_signed(source: &CompiledSource, pieces: &[Compiled], piece_for_it: bool) -> bool {
    match source {
        CompiledSource::Body(..) => true,
        CompiledSource::Entry(_) => piece_for_it,
        CompiledSource::Header(h) => {
            piece_for_it
                || pieces
                    .iter()
                    .any(|p| matches!(p, Compiled::Header(other) if other.wire == h.wire))
        }
    }
}

/// Refuses two variable pieces with nothing fixed between them: the boundary between them is
/// not signed, so bytes could move from one into the other under the same signature.
fn adjacent_check(pieces: &[Compiled]) -> Result<(), SpecError> {
    let mut previous: Option<&Compiled> = None;
    for piece in pieces {
        let (name, variable) = match piece {
            Compiled::Literal(text) if text.is_empty() => continue,
            Compiled::Literal(_) | Compiled::Timestamp | Compiled::Method => ("", false),
            Compiled::Id => ("id", true),
            Compiled::Url => ("url", true),
            Compiled::Body => ("body", true),
            Compiled::Header(_) => ("header", true),
        };
        if !variable {
            previous = None;
            continue;
        }
        if let Some(before) = previous {
            let before = match before {
                Compiled::Id => "id",
                Compiled::Url => "url",
                Compiled::Body => "body",
                _ => "header",
            };
            return refuse(format!(
                "signed has the {before:?} and {name:?} pieces side by side: bytes could move \
                 from one into the other under the same signature; put a literal between them \
                 (or, if the sender signs them so, set \"dangerous\": \
                 {{\"adjacent_pieces\": true}})"
            ));
        }
        previous = Some(piece);
    }
    Ok(())
}

fn keys(spec: &SchemeSpec, secrets: &[&str]) -> Result<Keys, SpecError> {
    if secrets.is_empty() {
        return refuse("no secret: give the sender's secret (several while rotating)");
    }
    // Under the default only when the spec asks for it (checked at compile).
    let min = spec.secret.min_len.max(1);
    let mut decoded: Vec<Zeroizing<Vec<u8>>> = Vec::with_capacity(secrets.len());
    for secret in secrets {
        let text = secret.trim_ascii_end();
        let text = match &spec.secret.strip_prefix {
            Some(prefix) => text.strip_prefix(prefix.as_str()).unwrap_or(text),
            None => text,
        };
        let key = match spec.secret.encoding {
            SecretEncoding::Text => Zeroizing::new(text.as_bytes().to_vec()),
            SecretEncoding::Base64 => Zeroizing::new(
                BASE64
                    .decode(text)
                    .or_else(|_| refuse("a secret is not valid base64"))?,
            ),
            SecretEncoding::Hex => Zeroizing::new(
                const_hex::decode(text).or_else(|_| refuse("a secret is not valid hex"))?,
            ),
        };
        if key.is_empty() {
            return refuse("a secret is empty");
        }
        if key.len() < min {
            return refuse(format!(
                "a secret has {} bytes, fewer than the {min} this specification requires \
                 (secret.min_len)",
                key.len()
            ));
        }
        decoded.push(key);
    }
    let slices = decoded.iter().map(|key| key.as_slice());
    let keyed = match spec.algorithm {
        Algorithm::HmacSha1 => MacKeys::new(slices, 1).map(Keys::Sha1),
        Algorithm::HmacSha256 => MacKeys::new(slices, 1).map(Keys::Sha256),
        Algorithm::HmacSha512 => MacKeys::new(slices, 1).map(Keys::Sha512),
    };
    keyed.or_else(|e| refuse(format!("a secret cannot key the MAC: {e}")))
}

impl DeclaredScheme {
    fn compile(spec: &SchemeSpec, secrets: &[&str], url: Option<&str>) -> Result<Self, SpecError> {
        let name = spec.name.as_str();
        if name.is_empty()
            || name.len() > 64
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            return refuse(format!(
                "name {name:?}: use 1 to 64 lower-case ASCII letters, digits, '-' or '_'"
            ));
        }
        let signature = &spec.signature;
        let separator = match signature.separator {
            None => None,
            Some(c) if c.is_ascii() && !c.is_ascii_alphanumeric() && c != '=' => Some(c as u8),
            Some(c) => {
                return refuse(format!(
                    "signature.separator {c:?}: use one ASCII punctuation or space character"
                ))
            }
        };
        if signature.key.is_some() && separator.is_none() {
            return refuse("signature.key needs signature.separator (the list's separator)");
        }
        let compiled_signature = CompiledSignature {
            header: header(&signature.header, "signature.header")?,
            encoding: signature.encoding,
            prefix: ascii(&signature.prefix, "signature.prefix")?,
            separator,
            key: match &signature.key {
                Some(key) if key.is_empty() => return refuse("signature.key is empty"),
                Some(key) => Some(ascii(key, "signature.key")?),
                None => None,
            },
        };
        if spec.signed.len() > MAX_PIECES {
            return refuse(format!("signed: at most {MAX_PIECES} pieces"));
        }
        let pieces = spec
            .signed
            .iter()
            .map(|piece| {
                Ok(match piece {
                    Piece::Literal(text) => Compiled::Literal(ascii(text, "signed literal")?),
                    Piece::Timestamp => Compiled::Timestamp,
                    Piece::Id => Compiled::Id,
                    Piece::Method => Compiled::Method,
                    Piece::Url => Compiled::Url,
                    Piece::Body => Compiled::Body,
                    Piece::Header(name) => Compiled::Header(header(name, "signed header")?),
                })
            })
            .collect::<Result<Box<[Compiled]>, SpecError>>()?;
        if !spec.dangerous.adjacent_pieces {
            adjacent_check(&pieces)?;
        }
        if spec.secret.min_len < MIN_RAW_SECRET_LEN && !spec.dangerous.short_secrets {
            return refuse(format!(
                "secret.min_len {}: under {MIN_RAW_SECRET_LEN} bytes a secret can be guessed \
                 offline from one captured request (a sender that really issues such \
                 secrets needs \"dangerous\": {{\"short_secrets\": true}})",
                spec.secret.min_len
            ));
        }
        if let Some(secs) = spec.tolerance_secs {
            if secs > MAX_TOLERANCE_SECS && !spec.dangerous.long_tolerance {
                return refuse(format!(
                    "tolerance_secs {secs}: above {MAX_TOLERANCE_SECS} a captured request can \
                     be replayed for that long (a sender that needs it needs \"dangerous\": \
                     {{\"long_tolerance\": true}})"
                ));
            }
        }
        if !pieces.iter().any(|p| matches!(p, Compiled::Body)) {
            return refuse(
                "signed has no \"body\" piece: such a scheme would accept any body under a \
                 valid signature",
            );
        }
        let has = |wanted: fn(&Compiled) -> bool| pieces.iter().any(wanted);
        let timestamp = match &spec.timestamp {
            None if has(|p| matches!(p, Compiled::Timestamp)) => {
                return refuse("signed has a \"timestamp\" piece but no timestamp is declared")
            }
            None => None,
            Some(ts) => {
                let compiled = source(&ts.source, "timestamp.source")?;
                match &compiled {
                    CompiledSource::Entry(_) if compiled_signature.key.is_none() => {
                        return refuse(
                            "timestamp.source is a signature entry, but the signature is not a \
                             key=value list (set signature.separator and signature.key)",
                        )
                    }
                    CompiledSource::Body(..) if has(|p| matches!(p, Compiled::Timestamp)) => {
                        return refuse(
                            "a body timestamp is signed with the body: drop the \"timestamp\" \
                             piece",
                        )
                    }
                    _ => {}
                }
                if !is_signed(
                    &compiled,
                    &pieces,
                    has(|p| matches!(p, Compiled::Timestamp)),
                ) {
                    return refuse(
                        "the timestamp is not signed: add a \"timestamp\" piece, or freshness \
                         would rest on a value anyone can change",
                    );
                }
                Some((compiled, ts.unit))
            }
        };
        let field = |declared: &Option<Source>, what: &str, piece: bool| {
            declared
                .as_ref()
                .map(|s| {
                    let compiled = source(s, what)?;
                    if matches!(compiled, CompiledSource::Entry(_)) {
                        return refuse(format!(
                            "{what}: a signature entry can only be the timestamp"
                        ));
                    }
                    let signed = is_signed(&compiled, &pieces, piece);
                    Ok((compiled, signed))
                })
                .transpose()
        };
        let id_piece = has(|p| matches!(p, Compiled::Id));
        let id = field(&spec.id, "id", id_piece)?;
        if id_piece && !matches!(id, Some((CompiledSource::Header(_), _))) {
            return refuse("signed has an \"id\" piece: declare the id's source as a header");
        }
        let event_type = field(&spec.event_type, "event_type", false)?;
        let url =
            if has(|p| matches!(p, Compiled::Url)) {
                match url {
                    Some(url) => Some(PublicUrl::parse(url).or_else(|e| refuse(e.to_string()))?),
                    None => return refuse(
                        "signed has a \"url\" piece: configure the public URL the sender posts to",
                    ),
                }
            } else {
                None
            };
        Ok(Self {
            info: SchemeInfo::named(
                name.to_owned(),
                vec![compiled_signature.header.wire.clone()],
            )
            .with_body_limit(spec.body_limit.unwrap_or(DEFAULT_BODY_LIMIT))
            .with_tolerance(
                spec.tolerance_secs
                    .map_or(DEFAULT_TOLERANCE, Duration::from_secs),
            ),
            algorithm: spec.algorithm,
            keys: keys(spec, secrets)?,
            signature: compiled_signature,
            pieces,
            timestamp,
            id,
            event_type,
            url,
        })
    }

    /// The signature header parsed: decoded signatures, and the timestamp entry if declared.
    fn parse<'a>(&self, headers: &'a HeaderMap) -> Result<Parsed<'a>, VerifyError> {
        let sig = &self.signature;
        let value = sig.header.require(headers)?.as_bytes();
        let mut candidates = Candidates {
            texts: [&[]; MAX_SIGNATURES],
            sent: 0,
        };
        let mut entry_timestamp = None;
        let timestamp_key = match &self.timestamp {
            Some((CompiledSource::Entry(key), _)) => Some(&**key),
            _ => None,
        };
        let mut add = |text: &'a [u8]| -> Result<(), VerifyError> {
            cap_entries(candidates.sent + 1, &sig.header)?;
            candidates.texts[candidates.sent] = text;
            candidates.sent += 1;
            Ok(())
        };
        match (sig.separator, &sig.key) {
            (None, _) => {
                let text = value.trim_ascii();
                let text = text.strip_prefix(&*sig.prefix).ok_or_else(|| {
                    sig.header
                        .malformed("the signature lacks its declared prefix")
                })?;
                add(text)?;
                // A lone signature that is not a MAC of the declared shape is malformed (in a
                // list, such entries are skipped, as providers' SDKs do).
                if self.decode(text).is_none() {
                    return Err(sig
                        .header
                        .malformed("not a MAC in the declared encoding and algorithm"));
                }
            }
            (Some(separator), Some(key)) => {
                let mut entries = 0;
                for (k, v) in pairs(value, separator, b'=') {
                    entries += 1;
                    cap_entries(entries, &sig.header)?;
                    if k == &**key {
                        add(v.strip_prefix(&*sig.prefix).unwrap_or(v))?;
                    } else if Some(k) == timestamp_key && entry_timestamp.replace(v).is_some() {
                        return Err(sig.header.malformed("more than one timestamp"));
                    }
                }
            }
            (Some(separator), None) => {
                let mut entries = 0;
                for entry in value.split(|&b| b == separator) {
                    let entry = entry.trim_ascii();
                    if entry.is_empty() {
                        continue;
                    }
                    entries += 1;
                    cap_entries(entries, &sig.header)?;
                    if let Some(text) = entry.strip_prefix(&*sig.prefix) {
                        add(text)?;
                    }
                }
            }
        }
        let parsed = Parsed {
            candidates,
            entry_timestamp,
        };
        if parsed.candidates.sent == 0 {
            return Err(sig.header.malformed("no signature entry"));
        }
        Ok(parsed)
    }

    /// Decodes one signature; `None` when it cannot be a MAC of this algorithm.
    fn decode(&self, text: &[u8]) -> Option<Decoded> {
        let want = self.algorithm.output_len();
        let mut out = Decoded {
            bytes: [0; 72],
            len: want,
        };
        let len = match self.signature.encoding {
            Encoding::Hex => {
                const_hex::decode_to_slice(text, &mut out.bytes[..want]).ok()?;
                want
            }
            Encoding::Base64 => BASE64.decode_slice(text, &mut out.bytes).ok()?,
            Encoding::Base64url => BASE64_URL.decode_slice(text, &mut out.bytes).ok()?,
        };
        (len == want).then_some(out)
    }

    /// The timestamp's digits and value from a header or the signature list, when declared so.
    fn header_timestamp<'a>(
        &self,
        headers: &'a HeaderMap,
        parsed: &Parsed<'a>,
    ) -> Result<Option<(&'a [u8], u64)>, VerifyError> {
        let digits = match &self.timestamp {
            Some((CompiledSource::Header(h), _)) => h.require(headers)?.as_bytes().trim_ascii(),
            Some((CompiledSource::Entry(_), _)) => parsed
                .entry_timestamp
                .ok_or_else(|| self.signature.header.malformed("no timestamp entry"))?,
            _ => return Ok(None),
        };
        let value = parse_unix_seconds(digits).ok_or_else(|| match &self.timestamp {
            Some((CompiledSource::Header(h), _)) => h.malformed("the timestamp is not an integer"),
            _ => self
                .signature
                .header
                .malformed("the timestamp is not an integer"),
        })?;
        Ok(Some((digits, value)))
    }

    /// Checks `value` (in the declared unit) against now; gives it in seconds.
    fn fresh(&self, value: u64, at: &Check<'_>) -> Result<u64, VerifyError> {
        match self.timestamp.as_ref().map(|(_, unit)| *unit) {
            Some(TimeUnit::Milliseconds) => {
                check_freshness_millis(value, at.now(), at.tolerance())?;
                Ok(value / 1000)
            }
            _ => {
                at.fresh(value)?;
                Ok(value)
            }
        }
    }

    fn field(
        source: Option<&(CompiledSource, bool)>,
        headers: &HeaderMap,
    ) -> Result<(Field, bool), VerifyError> {
        Ok(match source {
            None => (Field::Absent, false),
            Some((CompiledSource::Body(member, _), signed)) => (Field::Body(member), *signed),
            Some((CompiledSource::Header(h), signed)) => {
                (crate::wire::header::reported(h, h.get(headers))?, *signed)
            }
            Some((CompiledSource::Entry(_), _)) => (Field::Absent, false),
        })
    }
}

impl DeclaredScheme {
    /// The headers this scheme's sender would send with `body` posted as `method` to `uri`
    /// at `timestamp` (Unix seconds; written in the declared unit), under the first secret.
    #[cfg_attr(not(feature = "testing"), allow(dead_code))] // read only by `testing`
    pub(crate) fn sign_request(
        &self,
        method: &http::Method,
        uri: &http::Uri,
        timestamp: u64,
        id: Option<&str>,
        body: &[u8],
    ) -> Result<HeaderMap, VerifyError> {
        let sig = &self.signature;
        let bad = |reason| sig.header.malformed(reason);
        let digits = match self.timestamp.as_ref().map(|(_, unit)| *unit) {
            Some(TimeUnit::Milliseconds) => timestamp.saturating_mul(1000).to_string(),
            _ => timestamp.to_string(),
        };
        let mut headers = HeaderMap::new();
        let text = |value: &str| {
            http::HeaderValue::from_str(value).map_err(|_| bad("not a valid header value"))
        };
        if let Some((CompiledSource::Header(h), _)) = &self.timestamp {
            headers.insert(h.wire.clone(), text(&digits)?);
        }
        if let (Some((CompiledSource::Header(h), _)), Some(id)) = (&self.id, id) {
            headers.insert(h.wire.clone(), text(id)?);
        }
        let mut parts: Vec<Vec<u8>> = Vec::new();
        for piece in self.pieces.iter() {
            match piece {
                Compiled::Literal(text) => parts.push(text.to_vec()),
                Compiled::Timestamp => parts.push(digits.clone().into_bytes()),
                Compiled::Id => {
                    parts.push(id.ok_or(bad("this scheme signs the id: give one"))?.into())
                }
                Compiled::Method => parts.push(method.as_str().into()),
                Compiled::Url => {
                    let url = self.url.as_ref().ok_or(VerifyError::UrlMismatch)?;
                    let [configured, _] = url.signed(uri)?;
                    parts.push(configured.concat());
                }
                Compiled::Body => parts.push(body.to_vec()),
                Compiled::Header(h) => parts.push(
                    h.get(&headers)
                        .ok_or_else(|| h.missing())?
                        .as_bytes()
                        .to_vec(),
                ),
            }
        }
        let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        let tag = match &self.keys {
            Keys::Sha1(keys) => keys.sign(&parts),
            Keys::Sha256(keys) => keys.sign(&parts),
            Keys::Sha512(keys) => keys.sign(&parts),
        }
        .unwrap_or_default();
        let encoded = match sig.encoding {
            Encoding::Hex => const_hex::encode(tag),
            Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(tag),
            Encoding::Base64url => base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag),
        };
        let prefix = String::from_utf8_lossy(&sig.prefix);
        let value = match (&self.timestamp, sig.separator, &sig.key) {
            (Some((CompiledSource::Entry(t), _)), Some(separator), Some(key)) => format!(
                "{}={digits}{}{}={prefix}{encoded}",
                String::from_utf8_lossy(t),
                separator as char,
                String::from_utf8_lossy(key)
            ),
            (_, Some(_), Some(key)) => {
                format!("{}={prefix}{encoded}", String::from_utf8_lossy(key))
            }
            _ => format!("{prefix}{encoded}"),
        };
        headers.insert(sig.header.wire.clone(), text(&value)?);
        Ok(headers)
    }
}

impl Answers for DeclaredScheme {
    type Answer = Event;
    fn answer(verified: Verified) -> Result<Event, VerifyError> {
        event_only(verified)
    }
}

impl Scheme for DeclaredScheme {
    fn info(&self) -> &SchemeInfo {
        &self.info
    }

    fn check_head(&self, head: &RequestHead<'_>, at: &Check<'_>) -> Result<(), VerifyError> {
        let parsed = self.parse(head.headers())?;
        if let Some((_, value)) = self.header_timestamp(head.headers(), &parsed)? {
            self.fresh(value, at)?;
        }
        for piece in self.pieces.iter() {
            if let Compiled::Header(h) = piece {
                h.require(head.headers())?;
            }
        }
        Ok(())
    }

    fn verify(
        &self,
        request: &WebhookRequest<'_>,
        at: &Check<'_>,
    ) -> Result<Verified, VerifyError> {
        let headers = request.headers();
        let parsed = self.parse(headers)?;
        let header_timestamp = self.header_timestamp(headers, &parsed)?;
        let mut seconds = match header_timestamp {
            Some((_, value)) => Some(self.fresh(value, at)?),
            None => None,
        };
        let id_value = match &self.id {
            Some((CompiledSource::Header(h), _)) => h.get(headers).map(|v| v.as_bytes()),
            _ => None,
        };
        let body = request.body();
        let mut parts: [&[u8]; MAX_PIECES + 3] = [&[]; MAX_PIECES + 3];
        let mut count = 0;
        for piece in self.pieces.iter() {
            let mut push = |part| {
                parts[count] = part;
                count += 1;
            };
            match piece {
                Compiled::Literal(text) => push(&**text),
                Compiled::Timestamp => push(header_timestamp.map(|(d, _)| d).unwrap_or_default()),
                Compiled::Id => push(id_value.ok_or_else(|| match &self.id {
                    Some((CompiledSource::Header(h), _)) => h.missing(),
                    _ => self.signature.header.missing(),
                })?),
                Compiled::Method => push(request.head().method().as_str().as_bytes()),
                Compiled::Url => {
                    let url = self.url.as_ref().ok_or(VerifyError::UrlMismatch)?;
                    let [configured, _] = url.signed(request.head().uri())?;
                    for part in configured {
                        push(part);
                    }
                }
                Compiled::Body => push(body),
                Compiled::Header(h) => push(h.require(headers)?.as_bytes()),
            }
        }
        let texts = &parsed.candidates.texts[..parsed.candidates.sent];
        if !self.keys.matches(&parts[..count], || {
            texts.iter().filter_map(|text| self.decode(text))
        }) {
            return Err(VerifyError::SignatureMismatch {
                secrets: self.keys.len(),
                signatures: parsed.candidates.sent,
            });
        }
        if let Some((CompiledSource::Body(_, quoted), _)) = &self.timestamp {
            let value = last_member_integer(body, quoted).ok_or_else(|| {
                self.signature
                    .header
                    .malformed("the signed body has no integer timestamp member")
            })?;
            seconds = Some(self.fresh(value, at)?);
        }
        let (id, id_signed) = Self::field(self.id.as_ref(), headers)?;
        let (event_type, type_signed) = Self::field(self.event_type.as_ref(), headers)?;
        let mut event = Event::builder(self.info.name.clone(), body.clone())
            .id(id, id_signed)
            .event_type(event_type, type_signed);
        if let Some(seconds) = seconds {
            event = event.timestamp(seconds);
        }
        Ok(Verified::Event(event.build()))
    }
}

impl fmt::Debug for DeclaredScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeclaredScheme")
            .field("name", &self.info.name)
            .field("algorithm", &self.algorithm)
            .field("signature_header", &self.signature.header.display)
            .field("secrets", &self.keys.len())
            .finish_non_exhaustive()
    }
}
