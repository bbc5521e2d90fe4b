//! Standard Webhooks (and Svix): `webhook-id`, `webhook-timestamp`, `webhook-signature` over
//! `{id}.{timestamp}.{body}`; `v1` is HMAC-SHA256, `v1a` is ed25519.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;
use hmac::Hmac;
use http::{HeaderMap, HeaderName, HeaderValue};
use sha2::Sha256;

use crate::error::{SecretError, VerifyError};
use crate::event::{Event, Field, Verified};
use crate::providers::configured;
use crate::providers::BuildArgs;
use crate::request::{RequestHead, WebhookRequest};
use crate::scheme::verifier::Events;
use crate::scheme::verifier::{Check, Scheme, SchemeInfo, Verifier};
use crate::secret::{decode_base64, Secret};
use crate::verify::VerifyOptions;
use crate::verify::{parse_unix_seconds, Header};
use crate::wire::header::{cap_entries, pairs};
use crate::wire::mac::{with_signed_content, MacKeys};

pub(crate) static ID: Header = Header::new("webhook-id", "webhook-id");
pub(crate) static TIMESTAMP: Header = Header::new("webhook-timestamp", "webhook-timestamp");
pub(crate) static SIGNATURE: Header = Header::new("webhook-signature", "webhook-signature");
pub(crate) static SVIX_ID: Header = Header::new("svix-id", "svix-id");
pub(crate) static SVIX_TIMESTAMP: Header = Header::new("svix-timestamp", "svix-timestamp");
pub(crate) static SVIX_SIGNATURE: Header = Header::new("svix-signature", "svix-signature");

/// The smallest decoded `whsec_` key accepted. The specification asks senders for 24 to 64
/// bytes; 16 leaves room for older senders while refusing toy keys.
pub(crate) const MIN_SYMMETRIC_KEY_LEN: usize = 16;

/// Verifies [Standard Webhooks](https://www.standardwebhooks.com/) (the scheme Svix uses):
/// `webhook-id`, `webhook-timestamp` and `webhook-signature` headers (or the same spelled
/// `svix-*`), signed over `{id}.{timestamp}.{body}`.
///
/// The signature header is a space-separated list of at most
/// [`MAX_SIGNATURES`](crate::wire::header::MAX_SIGNATURES) entries, of which at most two distinct
/// `v1a` entries (a sender sends one per active key); more is refused as a malformed header
/// before any signature work, and a repeated entry is tried once. Every entry is tried against
/// every key of its kind: ed25519 hashes the signature's `R`, the public key and the message
/// together, so a forged request costs at most two SHA-512 passes over the body per public key.
/// `v1,<base64>` is HMAC-SHA256 under a `whsec_<base64>` secret. `v1a,<base64>` is ed25519
/// under a `whpk_<base64>` public key (feature `discord`). The prefix says which kind a key is
/// and is required: bare base64 could be either, and a public key taken as an HMAC secret
/// would let anyone who knows it sign (use [`Secret::from_base64`] with
/// [`from_secrets`](Self::from_secrets) for a bare HMAC key). A verifier configured with
/// public keys only accepts `v1a` entries, so a sender cannot downgrade it to `v1`. The
/// timestamp must be within the tolerance (default 5 minutes) in either direction, and is
/// checked before any signature work.
/// The id is `webhook-id`; the type is the body's `type` member, read only when asked for.
///
/// ```
/// use verihook::{testing::StandardSigner, scheme::FixedClock, providers::standard::StandardVerifier};
/// # fn main() -> Result<(), verihook::VerifyError> {
/// let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// let body = br#"{"test": 2432232314}"#;
/// let headers = StandardSigner::new(secret)?.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)?;
/// assert_eq!(headers["webhook-signature"], "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
///
/// let verifier = StandardVerifier::new(secret)?.with_clock(FixedClock::at_unix(1614265330));
/// let event = verifier.verify(&headers, body.as_slice().into())?;
/// assert_eq!(event.id().as_deref(), Some("msg_p5jXN8AQM9LWM0D4loKWxJek"));
///
/// let err = verifier.verify(&headers, br#"{"test": 2432232315}"#.as_slice().into()).unwrap_err();
/// assert_eq!(err.code(), "bad_signature");
/// # Ok(()) }
/// ```
pub type StandardVerifier = Verifier<Standard>;

/// The Standard Webhooks scheme: its HMAC secrets and ed25519 public keys, each parsed once.
/// Its policy (clock, tolerance) is the [`StandardVerifier`]'s.
#[derive(Clone)]
pub struct Standard {
    symmetric: MacKeys<Hmac<Sha256>>,
    #[cfg(feature = "discord")]
    public: Vec<ed25519_dalek::VerifyingKey>,
}

static HEADERS: [HeaderName; 2] = [
    HeaderName::from_static("webhook-signature"),
    HeaderName::from_static("svix-signature"),
];
/// The provider's one name: its scheme's, its events' sender's and its registry entry's.
const NAME: &str = "standard-webhooks";

static INFO: SchemeInfo = SchemeInfo::new(NAME, &HEADERS);

impl StandardVerifier {
    /// A verifier for one key, as the sender issues it: `whsec_<base64>` for HMAC,
    /// `whpk_<base64>` for an ed25519 public key.
    ///
    /// # Errors
    ///
    /// [`VerifyError::BadSecret`] when the key has neither prefix, is empty, not base64, too
    /// short, a `whsk_` signing key, or a public key while the `discord` feature is off.
    pub fn new(secret: &str) -> Result<Self, VerifyError> {
        Self::with_secrets([secret])
    }

    /// A verifier that accepts a signature from any of `secrets` (rotation); HMAC secrets and
    /// public keys may be mixed.
    ///
    /// # Errors
    ///
    /// As for [`new`](Self::new), for any of the keys, or when there are none.
    pub fn with_secrets<I>(secrets: I) -> Result<Self, VerifyError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        Self::with_min(secrets, MIN_SYMMETRIC_KEY_LEN)
    }

    pub(crate) fn with_min<I>(secrets: I, min: usize) -> Result<Self, VerifyError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        Self::keyed(secrets, min).map_err(|e| e.for_scheme(NAME))
    }

    fn keyed<I>(secrets: I, min: usize) -> Result<Self, VerifyError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let mut symmetric = Vec::new();
        #[cfg(feature = "discord")]
        let mut public = Vec::new();
        for secret in secrets {
            match Key::parse(secret.as_ref())? {
                Key::Symmetric(bytes) => symmetric.push(bytes),
                #[cfg(feature = "discord")]
                Key::Public(key) => public.push(key),
            }
        }
        #[cfg(feature = "discord")]
        let none = symmetric.is_empty() && public.is_empty();
        #[cfg(not(feature = "discord"))]
        let none = symmetric.is_empty();
        if none {
            return Err(SecretError::Empty.into());
        }
        Ok(Verifier::for_scheme(Standard {
            symmetric: MacKeys::new(symmetric.iter().map(|k| k.as_slice()), min)?,
            #[cfg(feature = "discord")]
            public,
        }))
    }

    /// A verifier from already-decoded HMAC keys.
    ///
    /// # Errors
    ///
    /// [`VerifyError::BadSecret`] when there are no keys, or one is shorter than 16 bytes.
    pub fn from_secrets(secrets: impl IntoIterator<Item = Secret>) -> Result<Self, VerifyError> {
        let secrets: Vec<Secret> = secrets.into_iter().collect();
        if secrets.is_empty() {
            return Err(VerifyError::from(SecretError::Empty).for_scheme(NAME));
        }
        let symmetric = MacKeys::new(secrets.iter().map(Secret::expose), MIN_SYMMETRIC_KEY_LEN)
            .map_err(|e| e.for_scheme(NAME))?;
        Ok(Verifier::for_scheme(Standard {
            symmetric,
            #[cfg(feature = "discord")]
            public: Vec::new(),
        }))
    }
}

impl Standard {
    /// Whether a `v1` entry matches any HMAC key.
    fn check_symmetric(&self, parts: &[&[u8]], raw: &[u8]) -> bool {
        !self.symmetric.is_empty()
            && self.symmetric.matches_any_base64(parts, || {
                entries(raw)
                    .filter(|(version, _)| matches!(version, [b'v', b'1']))
                    .map(|(_, sig)| sig)
            })
    }

    /// Whether a `v1a` entry verifies under any public key. The signed content is streamed
    /// into the verifier, never copied.
    #[cfg(feature = "discord")]
    fn check_ed25519(&self, parts: &[&[u8]], raw: &[u8]) -> bool {
        self.public.iter().any(|key| {
            v1a_signatures(raw).enumerate().any(|(at, sig)| {
                // A repeated entry is verified once.
                let repeated = v1a_signatures(raw).take(at).any(|earlier| earlier == sig);
                !repeated
                    && key.verify_stream(&sig).is_ok_and(|mut stream| {
                        for part in parts {
                            stream.update(part);
                        }
                        stream.finalize_and_verify().is_ok()
                    })
            })
        })
    }

    /// How many well-formed entries this verifier's keys could have matched (for the error
    /// message only, so counted only on the failure path).
    fn signature_count(&self, raw: &[u8]) -> usize {
        let symmetric = if self.symmetric.is_empty() {
            0
        } else {
            v1_signatures(raw).count()
        };
        #[cfg(feature = "discord")]
        let asymmetric = if self.public.is_empty() {
            0
        } else {
            v1a_signatures(raw).count()
        };
        #[cfg(not(feature = "discord"))]
        let asymmetric = 0;
        symmetric + asymmetric
    }

    fn key_count(&self) -> usize {
        #[cfg(feature = "discord")]
        return self.symmetric.len() + self.public.len();
        #[cfg(not(feature = "discord"))]
        return self.symmetric.len();
    }
}

/// One key as the sender issues it.
pub(crate) enum Key {
    Symmetric(zeroize::Zeroizing<Vec<u8>>),
    #[cfg(feature = "discord")]
    Public(ed25519_dalek::VerifyingKey),
}

impl Key {
    pub(crate) fn parse(secret: &str) -> Result<Self, SecretError> {
        let secret = secret.trim();
        let quoted = |q: char| secret.len() >= 2 && secret.starts_with(q) && secret.ends_with(q);
        if quoted('"') || quoted('\'') {
            return Err(SecretError::WrongKind {
                reason: "the key is wrapped in quotes (pasted with them, or kept by a .env \
                         loader): configure it without the quotes",
            });
        }
        // A provider file reaches into no other's (tests/layout.rs): the prefixes of Stripe's API
        // keys are spelled here as in stripe.rs.
        if ["sk_", "rk_", "pk_"]
            .iter()
            .any(|api| secret.starts_with(api))
        {
            return Err(SecretError::WrongKind {
                reason: "this looks like a Stripe API key: a Standard Webhooks key is whsec_ \
                         (HMAC) or whpk_ (ed25519) followed by base64, as the sender's \
                         dashboard shows it",
            });
        }
        if secret.starts_with("whsk_") {
            return Err(SecretError::WrongKind {
                reason: "a whsk_ key signs; verify with its whpk_ public key",
            });
        }
        if let Some(encoded) = secret.strip_prefix("whpk_") {
            return Self::public(encoded);
        }
        match secret.strip_prefix("whsec_") {
            Some(encoded) => match decode_base64(encoded) {
                Ok(bytes) => Ok(Self::Symmetric(bytes)),
                Err(SecretError::Encoding { .. }) => Err(SecretError::WrongKind {
                    reason: "the text after whsec_ is not base64: give the key exactly as the \
                             sender shows it, without spaces or quotes (a Stripe secret, also \
                             whsec_..., belongs to StripeVerifier)",
                }),
                Err(other) => Err(other),
            },
            None => Err(SecretError::WrongKind {
                reason: "a Standard Webhooks key needs its prefix: whsec_ for an HMAC secret, \
                         whpk_ for an ed25519 public key (bare base64 could be either)",
            }),
        }
    }

    #[cfg(feature = "discord")]
    fn public(encoded: &str) -> Result<Self, SecretError> {
        let bytes = decode_base64(encoded)?;
        let bytes: [u8; 32] =
            bytes
                .as_slice()
                .try_into()
                .map_err(|_| SecretError::WrongLength {
                    len: bytes.len(),
                    expected: 32,
                })?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes).map_err(|_| {
            SecretError::WrongKind {
                reason: "not a valid ed25519 public key",
            }
        })?;
        if key.is_weak() {
            return Err(SecretError::WrongKind {
                reason: "a weak (small-order) ed25519 public key",
            });
        }
        Ok(Self::Public(key))
    }

    #[cfg(not(feature = "discord"))]
    fn public(_encoded: &str) -> Result<Self, SecretError> {
        Err(SecretError::FeatureDisabled { feature: "discord" })
    }
}

/// The `webhook-*` header if present, else its `svix-*` spelling.
fn either<'a>(
    primary: (&'static Header, Option<&'a HeaderValue>),
    svix: (&'static Header, Option<&'a HeaderValue>),
) -> Result<(&'static Header, &'a HeaderValue), VerifyError> {
    match (primary, svix) {
        ((header, Some(value)), _) | (_, (header, Some(value))) => Ok((header, value)),
        ((header, None), _) => Err(header.missing()),
    }
}

/// Entries of a signature header: `(version, base64)` pairs.
fn entries(raw: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    pairs(raw, b' ', b',')
}

/// The `v1` (HMAC-SHA256) signatures that decode to 32 bytes.
fn v1_signatures(raw: &[u8]) -> impl Iterator<Item = [u8; 32]> + '_ {
    entries(raw)
        .filter(|(version, _)| matches!(version, [b'v', b'1']))
        .filter_map(|(_, sig)| decode::<32>(sig))
}

/// The `v1a` (ed25519) signatures that decode to 64 bytes.
#[cfg(feature = "discord")]
fn v1a_signatures(raw: &[u8]) -> impl Iterator<Item = ed25519_dalek::Signature> + '_ {
    entries(raw)
        .filter(|(version, _)| matches!(version, [b'v', b'1', b'a']))
        .filter_map(|(_, sig)| decode::<64>(sig))
        .map(|sig| ed25519_dalek::Signature::from_bytes(&sig))
}

/// The most distinct `v1a` entries a request may carry: each costs a SHA-512 pass over the body
/// per public key, nothing shared between entries or keys.
#[cfg(feature = "discord")]
const MAX_V1A: usize = 2;

/// How many distinct `v1a` signatures the header carries (at most
/// [`MAX_SIGNATURES`](crate::wire::header::MAX_SIGNATURES) entries, so the pairwise look is cheap).
#[cfg(feature = "discord")]
fn distinct_v1a(raw: &[u8]) -> usize {
    v1a_signatures(raw)
        .enumerate()
        .filter(|(at, sig)| !v1a_signatures(raw).take(*at).any(|earlier| earlier == *sig))
        .count()
}

fn decode<const N: usize>(encoded: &[u8]) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    match STANDARD.decode_slice(encoded, &mut out) {
        Ok(n) if n == N => Some(out),
        _ => None,
    }
}

/// The three headers of a request, found and checked (the timestamp fresh).
struct Parsed<'a> {
    id: &'a HeaderValue,
    id_text: &'a [u8],
    timestamp: u64,
    timestamp_digits: &'a [u8],
    signatures: &'a [u8],
}

impl Standard {
    fn parse<'a>(headers: &'a HeaderMap, at: &Check<'_>) -> Result<Parsed<'a>, VerifyError> {
        let [id, timestamp, signature] = Header::find_all(headers, [&ID, &TIMESTAMP, &SIGNATURE]);
        // Only a request missing a `webhook-*` header pays for a second scan.
        let [svix_id, svix_timestamp, svix_signature] =
            if id.is_some() && timestamp.is_some() && signature.is_some() {
                [None; 3]
            } else {
                Header::find_all(headers, [&SVIX_ID, &SVIX_TIMESTAMP, &SVIX_SIGNATURE])
            };
        let (id_header, id_value) = either((&ID, id), (&SVIX_ID, svix_id))?;
        let id_text = id_header.text(id_value)?;
        let (ts_header, ts_value) =
            either((&TIMESTAMP, timestamp), (&SVIX_TIMESTAMP, svix_timestamp))?;
        let seconds = parse_unix_seconds(ts_value.as_bytes())
            .ok_or_else(|| ts_header.malformed("not a Unix time in seconds"))?;
        let (sig_header, sig_value) =
            either((&SIGNATURE, signature), (&SVIX_SIGNATURE, svix_signature))?;
        let raw = sig_value.as_bytes();
        match entries(raw).count() {
            0 => return Err(sig_header.malformed("no version,signature entry")),
            count => cap_entries(count, sig_header)?,
        }
        #[cfg(feature = "discord")]
        if distinct_v1a(raw) > MAX_V1A {
            return Err(sig_header.malformed("more than 2 distinct v1a entries"));
        }
        at.fresh(seconds)?;
        Ok(Parsed {
            id: id_value,
            id_text,
            timestamp: seconds,
            timestamp_digits: ts_value.as_bytes(),
            signatures: raw,
        })
    }
}

impl Scheme for Standard {
    fn info(&self) -> &SchemeInfo {
        &INFO
    }

    fn check_head(&self, head: &RequestHead<'_>, at: &Check<'_>) -> Result<(), VerifyError> {
        Self::parse(head.headers(), at).map(|_| ())
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

impl Events for Standard {
    fn check(
        &self,
        headers: &HeaderMap,
        body: Bytes,
        at: &Check<'_>,
    ) -> Result<Event, VerifyError> {
        let parsed = Self::parse(headers, at)?;
        let raw = parsed.signatures;
        let prefix = [parsed.id_text, b".", parsed.timestamp_digits, b"."];
        let matched = with_signed_content(prefix, &body, |parts| {
            let matched = self.check_symmetric(parts, raw);
            #[cfg(feature = "discord")]
            let matched = matched || self.check_ed25519(parts, raw);
            matched
        });
        if !matched {
            return Err(VerifyError::SignatureMismatch {
                secrets: self.key_count(),
                signatures: self.signature_count(raw),
            });
        }
        Ok(Event::verified(
            NAME,
            body,
            (Field::Header(parsed.id.clone()), true),
            (Field::Body("type"), true),
            Some(parsed.timestamp),
        ))
    }
}

impl fmt::Debug for Standard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Standard");
        s.field("hmac_secrets", &self.symmetric.len());
        #[cfg(feature = "discord")]
        s.field("public_keys", &self.public.len());
        s.finish()
    }
}

// Everything else verihook knows about Standard Webhooks: its signer (for tests and the CLI), its
// typed envelope, its route key, its samples and its registry entry.

/// Signs requests as a Standard Webhooks (or Svix) sender does.
///
/// A `whsec_` secret signs `v1` (HMAC-SHA256); a `whsk_` key signs `v1a` (ed25519, feature
/// `discord`), and [`public_key`](Self::public_key) gives the `whpk_` key that verifies it.
#[derive(Clone)]
pub struct StandardSigner {
    key: SigningKey,
}

#[derive(Clone)]
enum SigningKey {
    Symmetric(crate::wire::mac::MacKeys<hmac::Hmac<sha2::Sha256>>),
    #[cfg(feature = "discord")]
    Ed25519(ed25519_dalek::SigningKey),
}

impl StandardSigner {
    /// A signer for `whsec_<base64>` (prefix optional) or `whsk_<base64>`.
    ///
    /// # Errors
    ///
    /// [`SecretError`] when the key is empty, not base64, a `whpk_` public key, or
    /// a `whsk_` key while the `discord` feature is off.
    pub fn new(secret: &str) -> Result<Self, crate::error::SecretError> {
        let secret = secret.trim();
        if let Some(encoded) = secret.strip_prefix("whsk_") {
            return Self::ed25519(encoded);
        }
        if secret.starts_with("whpk_") {
            return Err(crate::error::SecretError::WrongKind {
                reason: "a whpk_ key only verifies; sign with the whsk_ key",
            });
        }
        if !secret.starts_with("whsec_") {
            // A bare base64 secret signs as the `whsec_` one would.
            return Self::new(&format!("whsec_{secret}"));
        }
        match Key::parse(secret)? {
            Key::Symmetric(bytes) => Ok(Self {
                key: SigningKey::Symmetric(crate::wire::mac::MacKeys::new(
                    [bytes.as_slice()],
                    crate::sample::ANY_LENGTH,
                )?),
            }),
            #[cfg(feature = "discord")]
            Key::Public(_) => Err(crate::error::SecretError::WrongKind {
                reason: "a whpk_ key only verifies; sign with the whsk_ key",
            }),
        }
    }

    #[cfg(feature = "discord")]
    fn ed25519(encoded: &str) -> Result<Self, crate::error::SecretError> {
        let bytes = crate::secret::decode_base64(encoded)?;
        let seed: [u8; 32] =
            bytes
                .as_slice()
                .try_into()
                .map_err(|_| crate::error::SecretError::WrongLength {
                    len: bytes.len(),
                    expected: 32,
                })?;
        Ok(Self {
            key: SigningKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&seed)),
        })
    }

    #[cfg(not(feature = "discord"))]
    fn ed25519(_encoded: &str) -> Result<Self, crate::error::SecretError> {
        Err(crate::error::SecretError::FeatureDisabled { feature: "discord" })
    }

    /// For a `whsk_` signer, the matching `whpk_<base64>` public key to verify with.
    #[must_use]
    pub fn public_key(&self) -> Option<String> {
        match &self.key {
            SigningKey::Symmetric(_) => None,
            #[cfg(feature = "discord")]
            SigningKey::Ed25519(key) => Some(format!(
                "whpk_{}",
                base64::Engine::encode(
                    &base64::engine::general_purpose::STANDARD,
                    key.verifying_key().as_bytes()
                )
            )),
        }
    }

    /// The `webhook-signature` value: `v1,<base64>` or `v1a,<base64>`.
    #[must_use]
    pub fn signature(&self, id: &str, timestamp: u64, body: &[u8]) -> String {
        let t = timestamp.to_string();
        let parts: [&[u8]; 5] = [id.as_bytes(), b".", t.as_bytes(), b".", body];
        match &self.key {
            SigningKey::Symmetric(keys) => {
                format!(
                    "v1,{}",
                    base64::Engine::encode(
                        &base64::engine::general_purpose::STANDARD,
                        keys.sign(&parts).unwrap_or_default()
                    )
                )
            }
            #[cfg(feature = "discord")]
            SigningKey::Ed25519(key) => {
                use ed25519_dalek::Signer as _;
                let signature = key.sign(&parts.concat());
                format!(
                    "v1a,{}",
                    base64::Engine::encode(
                        &base64::engine::general_purpose::STANDARD,
                        signature.to_bytes()
                    )
                )
            }
        }
    }

    /// The `webhook-id`, `webhook-timestamp` and `webhook-signature` headers.
    ///
    /// # Errors
    ///
    /// [`VerifyError::MalformedHeader`] when `id` cannot be a header value.
    pub fn sign(
        &self,
        id: &str,
        timestamp: u64,
        body: &[u8],
    ) -> Result<http::HeaderMap, crate::error::VerifyError> {
        self.sign_as([&ID, &TIMESTAMP, &SIGNATURE], id, timestamp, body)
    }

    /// The same headers spelled as Svix sends them: `svix-id`, `svix-timestamp`,
    /// `svix-signature`.
    ///
    /// # Errors
    ///
    /// [`VerifyError::MalformedHeader`] when `id` cannot be a header value.
    pub fn sign_svix(
        &self,
        id: &str,
        timestamp: u64,
        body: &[u8],
    ) -> Result<http::HeaderMap, crate::error::VerifyError> {
        self.sign_as(
            [&SVIX_ID, &SVIX_TIMESTAMP, &SVIX_SIGNATURE],
            id,
            timestamp,
            body,
        )
    }

    fn sign_as(
        &self,
        [id_header, ts_header, sig_header]: [&crate::verify::Header; 3],
        id: &str,
        timestamp: u64,
        body: &[u8],
    ) -> Result<http::HeaderMap, crate::error::VerifyError> {
        let mut headers = http::HeaderMap::new();
        crate::sample::insert(&mut headers, id_header, id)?;
        crate::sample::insert(&mut headers, ts_header, &timestamp.to_string())?;
        crate::sample::insert(
            &mut headers,
            sig_header,
            &self.signature(id, timestamp, body),
        )?;
        Ok(headers)
    }
}

crate::sample::redacted_debug!(StandardSigner);

/// A Standard Webhooks payload (`type`, `timestamp`, `data`), with `data` as `T`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StandardEvent<T> {
    /// The `webhook-id` header (signed).
    pub id: Option<String>,
    /// `type` (`invoice.paid`, `user.created`).
    pub event_type: String,
    /// `timestamp`, when the sender includes it: RFC 3339 as the specification recommends (a
    /// sender that sends Unix seconds instead has them here as digits).
    pub timestamp: Option<String>,
    /// `data`.
    pub data: T,
}

#[derive(serde::Deserialize)]
struct StandardWire<T> {
    #[serde(rename = "type")]
    event_type: String,
    #[serde(default, deserialize_with = "crate::router::text_or_number")]
    timestamp: Option<String>,
    data: T,
}

impl<S, T: serde::de::DeserializeOwned> crate::router::FromRouted<S> for StandardEvent<T> {
    fn from_routed(
        routed: &crate::router::Routed,
        _: &S,
    ) -> Result<Self, crate::handler::HandlerError> {
        crate::router::from_wire(routed, |w: StandardWire<T>, r| Self {
            id: crate::router::text(r.delivery().id()),
            event_type: w.event_type,
            timestamp: w.timestamp,
            data: w.data,
        })
    }
}

fn build(args: BuildArgs<'_>, options: VerifyOptions) -> Result<Verifier, VerifyError> {
    configured(
        StandardVerifier::with_min(args.secrets, args.min(MIN_SYMMETRIC_KEY_LEN)),
        options,
    )
}

/// An invoice paid, in the specification's envelope.
fn sample_body(_id: &str, event: &str) -> String {
    serde_json::json!({
        "type": event,
        "timestamp": crate::sample::unix_now(),
        "data": { "invoice_id": "inv_2Kq9", "amount": 4200, "currency": "EUR", "customer": "cust_7Xz" }
    })
    .to_string()
}

/// Chosen as `svix`, the headers are spelled as Svix sends them.
fn sign_sample(
    request: &crate::providers::SignRequest<'_>,
) -> Result<crate::providers::SignedHeaders, crate::providers::SignError> {
    let signer = StandardSigner::new(request.secret)?;
    let headers = if request.named.eq_ignore_ascii_case("svix") {
        signer.sign_svix(request.id, request.timestamp, request.body)?
    } else {
        signer.sign(request.id, request.timestamp, request.body)?
    };
    Ok(crate::providers::SignedHeaders::new(headers))
}

/// `type`, `timestamp` and `data`, with a fresh `msg_` id.
fn sample_event(
    sample: &crate::providers::EventSample<'_>,
) -> Result<crate::providers::SampleRequest, crate::error::VerifyError> {
    let body = crate::sample::to_vec(&serde_json::json!({
        "type": sample.event_type,
        "timestamp": crate::sample::rfc3339(sample.secs),
        "data": sample.payload,
    }));
    let id = format!("msg_{}", sample.unique);
    let headers = StandardSigner::new(sample.secret)?.sign(&id, sample.secs, &body)?;
    Ok(crate::providers::SampleRequest::new(body, headers))
}

pub(crate) static PROVIDER: crate::providers::Provider = crate::providers::Provider {
    name: NAME,
    aliases: &["standard", "standardwebhooks", "svix"],
    signs_url: false,
    headers: &["webhook-signature", "svix-signature"],
    build,
    route_key: crate::event::reported_route_key,
    ordering: |_| None,
    sample: crate::providers::Sample {
        event_type: "invoice.paid",
        header_event: "ping",
        id_note: None,
        spelled: &[
            "webhook-id",
            "webhook-timestamp",
            "webhook-signature",
            "svix-id",
            "svix-timestamp",
            "svix-signature",
        ],
        forms: false,
        body: sample_body,
        sign: sign_sample,
        event: sample_event,
    },
};

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn refused(secret: &str) -> String {
        StandardVerifier::new(secret).unwrap_err().to_string()
    }

    #[test]
    fn refuses_a_stripe_api_key() {
        let message = refused("sk_live_51Habcdefghijklmnop");
        assert!(
            message.starts_with("standard-webhooks: bad secret: this looks like a Stripe API key"),
            "{message}"
        );
    }

    #[test]
    fn refuses_a_tail_that_is_not_base64_with_the_fix() {
        let message = refused("whsec_not base64 at all!");
        assert!(message.contains("not base64"), "{message}");
        assert!(message.contains("StripeVerifier"), "{message}");
    }

    #[test]
    fn a_short_key_names_the_scheme() {
        // 8 bytes of key: shorter than the 16 allowed.
        let message = refused("whsec_MDEyMzQ1Njc=");
        assert!(
            message.starts_with("standard-webhooks: bad secret: the secret is 8 bytes"),
            "{message}"
        );
    }
}
