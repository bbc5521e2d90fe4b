//! Signing schemes: the open [`Scheme`] trait, the built-in schemes by name, and the keyed-MAC
//! toolkit they share.
//!
//! A scheme declares what it is once, as data ([`SchemeInfo`]), and writes two functions: a
//! cheap check of the head and the verification of the whole request (method, URL, headers,
//! raw body), which answers with a [`Verified`] event or handshake. The policy — clock,
//! tolerance — lives apart, in one generic [`Verifier`]: `StripeVerifier` is
//! `Verifier<Stripe>`. Each built-in scheme is its provider's file in
//! [`providers`](crate::providers) plus one line in [`providers::ALL`](crate::providers::ALL). An app's own scheme is the same trait in its own crate: see the
//! [`Scheme`] docs and `tests/external_scheme.rs`.

pub mod cloudevents;
pub mod declared;
mod verifier;

pub(crate) use verifier::event_only;
pub use verifier::{Answers, Check, Events, IntoVerifier, SchemeInfo, SchemeName, Verifier};

use std::fmt;
use std::sync::Arc;

use http::HeaderMap;

use crate::event::Verified;
use crate::request::{RequestHead, WebhookRequest};
use crate::VerifyError;

use hmac::{KeyInit, Mac};
use subtle::ConstantTimeEq;

use crate::error::SecretError;
use crate::secret::require_len;

/// The smallest raw secret accepted for schemes whose secret is chosen by the user (GitHub) or
/// used as text (Stripe): anything shorter is guessable.
pub(crate) const MIN_RAW_SECRET_LEN: usize = 8;

/// One MAC per secret, each keyed once at construction and cloned per request.
#[derive(Clone)]
pub(crate) struct MacKeys<M>(Vec<M>);

/// How many keys, never a key: a scheme holding them can derive `Debug`.
impl<M> fmt::Debug for MacKeys<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MacKeys")
            .field("secrets", &self.0.len())
            .finish()
    }
}

/// A scheme keyed by HMAC-SHA256 secrets used as text, as its provider shows them (Linear,
/// Paddle, Shopify, Slack, Zoom): its verifier is made with [`Verifier::new`] or
/// [`Verifier::with_secrets`]. Only the built-in schemes implement it.
pub trait TextKeyed: Scheme + Sized {
    /// The scheme holding `keys`.
    #[doc(hidden)]
    fn from_keys(keys: TextKeys) -> Self;
}

/// The keys of a [`TextKeyed`] scheme: one HMAC-SHA256 per secret, keyed once. Opaque: only
/// this crate makes them, which keeps [`TextKeyed`] to the built-in schemes.
#[doc(hidden)]
#[derive(Clone, Debug)]
pub struct TextKeys(pub(crate) MacKeys<hmac::Hmac<sha2::Sha256>>);

impl<S: TextKeyed> Verifier<S> {
    /// A verifier for the signing secret, as the provider shows it (each provider's verifier
    /// says where to find it).
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
        Self::with_min(secrets, MIN_RAW_SECRET_LEN)
    }

    /// [`with_secrets`](Self::with_secrets), with `min` as the shortest secret accepted.
    fn with_min<I>(secrets: I, min: usize) -> Result<Self, VerifyError>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let keys = MacKeys::from_secrets(secrets, min)?;
        Ok(Verifier::for_scheme(S::from_keys(TextKeys(keys))))
    }
}

/// The registry's `build` for a [`TextKeyed`] scheme: its secrets as text, the app's options.
pub(crate) fn build_text_keyed<S: TextKeyed + 'static>(
    args: BuildArgs<'_>,
    options: crate::verify::VerifyOptions,
) -> Result<Verifier, VerifyError> {
    configured(
        Verifier::<S>::with_min(args.bytes(), args.min_raw()),
        options,
    )
}

/// What a registry `build` answers: `verifier` with the app's `options`, behind a boxed scheme.
pub(crate) fn configured<S: Scheme + 'static>(
    verifier: Result<Verifier<S>, VerifyError>,
    options: crate::verify::VerifyOptions,
) -> Result<Verifier, VerifyError> {
    Ok(verifier?.with_options(options).boxed())
}

impl<M: Mac + KeyInit + Clone> MacKeys<M> {
    /// Keys one MAC per secret; refuses an empty set or a key shorter than `min` bytes.
    pub(crate) fn new<'a>(
        secrets: impl IntoIterator<Item = &'a [u8]>,
        min: usize,
    ) -> Result<Self, SecretError> {
        let keys = secrets
            .into_iter()
            .map(|key| {
                require_len(key, min)?;
                <M as KeyInit>::new_from_slice(key).map_err(|_| SecretError::TooShort {
                    len: key.len(),
                    min,
                })
            })
            .collect::<Result<Vec<M>, _>>()?;
        Ok(Self(keys))
    }

    /// [`new`](Self::new) for key material given as the provider issues it (several for
    /// rotation), refusing an empty list.
    pub(crate) fn from_secrets<I>(secrets: I, min: usize) -> Result<Self, crate::VerifyError>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let secrets: Vec<I::Item> = secrets.into_iter().collect();
        if secrets.is_empty() {
            return Err(SecretError::Empty.into());
        }
        Ok(Self::new(secrets.iter().map(AsRef::as_ref), min)?)
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// The error for a request none of these keys signed; `signatures` is how many it carried.
    #[inline]
    pub(crate) fn mismatch(&self, signatures: usize) -> crate::VerifyError {
        crate::VerifyError::SignatureMismatch {
            secrets: self.len(),
            signatures,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the MAC of `parts` (fed in order, never concatenated) under any key equals any of
    /// the candidate signatures. Each key's MAC is computed once; comparisons are constant-time.
    pub(crate) fn matches_any<C, I>(&self, parts: &[&[u8]], candidates: C) -> bool
    where
        C: Fn() -> I,
        I: Iterator,
        I::Item: AsRef<[u8]>,
    {
        self.matches_any_fed(|mac| feed_parts(mac, parts), candidates)
    }

    /// Like [`matches_any`](Self::matches_any), for signed content that `feed` writes into
    /// the MAC piece by piece (decoded form parameters, say).
    pub(crate) fn matches_any_fed<C, I>(&self, feed: impl Fn(&mut M), candidates: C) -> bool
    where
        C: Fn() -> I,
        I: Iterator,
        I::Item: AsRef<[u8]>,
    {
        self.0.iter().any(|keyed| {
            let mut mac = keyed.clone();
            feed(&mut mac);
            let tag = mac.finalize().into_bytes();
            candidates().any(|candidate| constant_time_eq(&tag, candidate.as_ref()))
        })
    }

    /// Like [`matches_any`](Self::matches_any), answering which key matched (a handshake is
    /// answered with the key that signed it).
    pub(crate) fn matching_key<C, I>(&self, parts: &[&[u8]], candidates: C) -> Option<&M>
    where
        C: Fn() -> I,
        I: Iterator,
        I::Item: AsRef<[u8]>,
    {
        self.0.iter().find(|keyed| {
            let tag = mac(*keyed, parts);
            candidates().any(|candidate| constant_time_eq(&tag, candidate.as_ref()))
        })
    }

    /// The MAC of what `feed` writes, under the first key (signers hold exactly one).
    pub(crate) fn sign_fed(&self, feed: impl FnOnce(&mut M)) -> Option<Vec<u8>> {
        self.0.first().map(|keyed| {
            let mut mac = keyed.clone();
            feed(&mut mac);
            mac.finalize().into_bytes().to_vec()
        })
    }

    /// The MAC of `parts` under the first key (signers hold exactly one).
    pub(crate) fn sign(&self, parts: &[&[u8]]) -> Option<Vec<u8>> {
        self.sign_fed(|mac| feed_parts(mac, parts))
    }
}

impl MacKeys<hmac::Hmac<sha2::Sha256>> {
    /// Like [`matches_any`](Self::matches_any), for signatures sent as standard base64: each
    /// key's tag is encoded once (about 10 ns) and compared with the text as sent, instead of
    /// decoding every candidate (about 40 ns). A non-canonical encoding of a right tag does not
    /// match, as with the reference implementations, which also compare the text.
    pub(crate) fn matches_any_base64<'a, C, I>(&self, parts: &[&[u8]], candidates: C) -> bool
    where
        C: Fn() -> I,
        I: Iterator<Item = &'a [u8]>,
    {
        use base64::Engine as _;
        self.0.iter().any(|keyed| {
            let tag = mac(keyed, parts);
            let mut text = [0u8; 44];
            let Ok(len) = base64::engine::general_purpose::STANDARD.encode_slice(tag, &mut text)
            else {
                return false;
            };
            candidates().any(|candidate| constant_time_eq(&text[..len], candidate))
        })
    }
}

/// Slack's and Zoom's headers: `v0=<64 hex digits>` in the first, Unix seconds in the second;
/// the timestamp's digits and value and the signature, once the timestamp is fresh.
pub(crate) fn v0_signed<'a>(
    headers: &'a HeaderMap,
    [signature_header, timestamp_header]: [&crate::verify::Header; 2],
    at: &Check<'_>,
) -> Result<(&'a [u8], u64, [u8; 32]), VerifyError> {
    let [signature, timestamp] =
        crate::verify::Header::find_all(headers, [signature_header, timestamp_header]);
    let signature = signature.ok_or_else(|| signature_header.missing())?;
    let digits = timestamp
        .ok_or_else(|| timestamp_header.missing())?
        .as_bytes();
    let seconds = crate::verify::parse_unix_seconds(digits)
        .ok_or_else(|| timestamp_header.malformed("not a Unix time in seconds"))?;
    let signature = signature
        .as_bytes()
        .strip_prefix(b"v0=")
        .and_then(hex_array)
        .ok_or_else(|| signature_header.malformed("expected v0= and 64 hex digits"))?;
    at.fresh(seconds)?;
    Ok((digits, seconds, signature))
}

/// The longest signed prefix (`id.timestamp.` and the like) joined on the stack.
const JOINED_PREFIX: usize = 160;

/// Hands `check` the signed content — `prefix` pieces, then the body — as few slices as it can
/// without copying the body: a prefix that fits [`JOINED_PREFIX`] bytes is joined on the stack,
/// so a MAC or signature stream takes two pieces instead of several (each piece costs an update
/// call; this is measurably cheaper for small bodies). A longer prefix goes piece by piece.
pub(crate) fn with_signed_content<const N: usize, R>(
    prefix: [&[u8]; N],
    body: &[u8],
    check: impl FnOnce(&[&[u8]]) -> R,
) -> R {
    const { assert!(N < 8, "a signed prefix of at most seven pieces") };
    let len: usize = prefix.iter().map(|piece| piece.len()).sum();
    let mut joined = [0u8; JOINED_PREFIX];
    if len <= JOINED_PREFIX {
        let mut at = 0;
        for piece in prefix {
            joined[at..at + piece.len()].copy_from_slice(piece);
            at += piece.len();
        }
        check(&[&joined[..len], body])
    } else {
        let mut pieces: [&[u8]; 8] = [&[]; 8];
        pieces[..N].copy_from_slice(&prefix);
        pieces[N] = body;
        check(&pieces[..=N])
    }
}

/// The public URL a sender posts to, for schemes that sign it (Twilio, Square).
///
/// Proxies rewrite the scheme and host, so the signed URL is this URL's `scheme://host[:port]`
/// followed by the path and query the request arrived with; when the configured URL has a path
/// other than `/`, the request's path must be that path.
#[derive(Clone, Debug)]
pub(crate) struct PublicUrl {
    /// `scheme://authority` as configured.
    origin: String,
    /// The same origin with the default port added (or removed, if one was given).
    other_port: String,
    /// The configured path, or `None` for "any path".
    path: Option<String>,
}

impl PublicUrl {
    pub(crate) fn parse(url: &str) -> Result<Self, VerifyError> {
        let bad = |reason| VerifyError::BadSecret(crate::SecretError::WrongKind { reason });
        let uri: http::Uri = url
            .trim()
            .parse()
            .map_err(|_| bad("the public URL is not a valid absolute URL"))?;
        let scheme = uri.scheme_str().unwrap_or_default();
        let default_port = match scheme {
            "https" => 443,
            "http" => 80,
            _ => return Err(bad("the public URL must start with https:// or http://")),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| bad("the public URL has no host"))?;
        let origin = format!("{scheme}://{authority}");
        let other_port = match authority.port_u16() {
            Some(_) => format!("{scheme}://{}", authority.host()),
            None => format!("{scheme}://{}:{default_port}", authority.host()),
        };
        let path = Some(uri.path().to_owned()).filter(|p| p != "/" && !p.is_empty());
        Ok(Self {
            origin,
            other_port,
            path,
        })
    }

    /// The signed URL's pieces for `uri` (the request target as received), first as
    /// configured, then with the default port added or removed.
    pub(crate) fn signed<'a>(
        &'a self,
        uri: &'a http::Uri,
    ) -> Result<[[&'a [u8]; 4]; 2], VerifyError> {
        if let Some(path) = &self.path {
            if uri.path() != path {
                return Err(VerifyError::UrlMismatch);
            }
        }
        let (mark, query): (&[u8], &[u8]) = match uri.query() {
            Some(query) => (b"?", query.as_bytes()),
            None => (b"", b""),
        };
        let path = uri.path().as_bytes();
        Ok([
            [self.origin.as_bytes(), path, mark, query],
            [self.other_port.as_bytes(), path, mark, query],
        ])
    }
}

#[inline]
fn mac<M: Mac + Clone>(keyed: &M, parts: &[&[u8]]) -> hmac::digest::Output<M> {
    let mut mac = keyed.clone();
    feed_parts(&mut mac, parts);
    mac.finalize().into_bytes()
}

/// Writes `parts` into `mac` in order, never concatenated.
#[inline]
fn feed_parts<M: Mac>(mac: &mut M, parts: &[&[u8]]) {
    for part in parts {
        mac.update(part);
    }
}

/// An unsigned header the scheme reports (an id, a type): absent, or visible text that is kept as
/// it is; an empty or non-text value is malformed.
#[inline]
pub(crate) fn reported(
    header: &crate::verify::Header,
    value: Option<&http::HeaderValue>,
) -> Result<crate::event::Field, VerifyError> {
    match value {
        Some(value) => header
            .text(value)
            .map(|_| crate::event::Field::Header(value.clone())),
        None => Ok(crate::event::Field::Absent),
    }
}

/// Whether `a` and `b` are equal, in time that depends only on their lengths.
///
/// The differences are OR-ed together eight bytes at a time without a branch, and `subtle`
/// makes the one final comparison behind its optimisation barrier. (A `subtle` operation per
/// byte costs about 85 ns for a 32-byte tag here; this costs a few.)
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let word = |chunk: &[u8]| {
        let mut bytes = [0u8; 8];
        bytes[..chunk.len()].copy_from_slice(chunk);
        u64::from_ne_bytes(bytes)
    };
    let difference = a
        .chunks(8)
        .zip(b.chunks(8))
        .fold(0u64, |acc, (x, y)| acc | (word(x) ^ word(y)));
    bool::from(difference.ct_eq(&0))
}

/// Splits `items` on `separator`, then each item at its first `pair` byte (`=` or `,`),
/// skipping items without one. Borrowed slices only: nothing is copied. The separator is found
/// with `memchr` (a whole Stripe header costs a few ns, a byte-at-a-time split ten times more).
pub(crate) fn pairs(items: &[u8], separator: u8, pair: u8) -> impl Iterator<Item = (&[u8], &[u8])> {
    let mut rest = Some(items);
    std::iter::from_fn(move || {
        let current = rest?;
        let (item, next) = match memchr::memchr(separator, current) {
            Some(at) => (&current[..at], Some(&current[at + 1..])),
            None => (current, None),
        };
        rest = next;
        Some(item)
    })
    .filter_map(move |item| {
        let item = item.trim_ascii();
        let at = item.iter().position(|&b| b == pair)?;
        Some((&item[..at], &item[at + 1..]))
    })
}

/// Decodes exactly `N` bytes of hex, with no allocation.
pub(crate) fn hex_array<const N: usize>(encoded: &[u8]) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    const_hex::decode_to_slice(encoded, &mut out)
        .ok()
        .map(|()| out)
}

/// The default largest body, for schemes whose provider documents no cap: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// The most signature entries one header may carry (Stripe's `v1=` list, Standard Webhooks'
/// space-separated list). Providers send one per active secret; more is refused as
/// `malformed_header` before any signature work, so one request cannot make us verify
/// thousands.
pub const MAX_SIGNATURES: usize = 8;

/// Checks that a request really comes from one sender: a webhook signing scheme and its keys.
///
/// A scheme declares what it is once, as data ([`info`](Self::info)), and writes two
/// functions: [`check_head`](Self::check_head) (cheap, before the body is read) and
/// [`verify`](Self::verify) (the whole request). The policy — the clock, the tolerance — is
/// not the scheme's: a [`Verifier`] holds it and hands each call the [`Check`] resolved for
/// the request. Implementations are pure: no I/O, bounded work, constant-time comparisons,
/// and (for the built-in schemes) no heap allocation.
///
/// An app's own scheme, written with the public API alone:
///
/// ```
/// use std::time::Duration;
/// use verihook::http::{HeaderMap, HeaderName, HeaderValue};
/// use verihook::scheme::{Check, SchemeInfo, Verifier};
/// use verihook::{Event, Field, FixedClock, RequestHead, Scheme, Verified, VerifyError, WebhookRequest};
///
/// /// Acme sends `X-Acme-Token: <token>` and `X-Acme-Time: <unix seconds>` (a toy scheme).
/// #[derive(Debug)]
/// struct Acme {
///     token: &'static str,
/// }
///
/// static HEADERS: [HeaderName; 1] = [HeaderName::from_static("x-acme-token")];
/// static INFO: SchemeInfo = SchemeInfo::new("acme", &HEADERS).with_tolerance(Duration::from_secs(60));
///
/// fn time(head: &RequestHead<'_>) -> Result<u64, VerifyError> {
///     let value = head.headers().get("x-acme-time").ok_or(VerifyError::MissingHeader { name: "X-Acme-Time" })?;
///     value.to_str().ok().and_then(|text| text.parse().ok())
///         .ok_or(VerifyError::MalformedHeader { name: "X-Acme-Time", reason: "not Unix seconds" })
/// }
///
/// impl Scheme for Acme {
///     fn info(&self) -> &SchemeInfo {
///         &INFO
///     }
///
///     fn check_head(&self, head: &RequestHead<'_>, at: &Check<'_>) -> Result<(), VerifyError> {
///         at.fresh(time(head)?)
///     }
///
///     fn verify(&self, request: &WebhookRequest<'_>, at: &Check<'_>) -> Result<Verified, VerifyError> {
///         let seconds = time(&request.head())?;
///         at.fresh(seconds)?;
///         // A real scheme compares a MAC in constant time; a toy compares a token.
///         let sent = request.headers().get("x-acme-token").map(HeaderValue::as_bytes);
///         if sent != Some(self.token.as_bytes()) {
///             return Err(VerifyError::SignatureMismatch { secrets: 1, signatures: 1 });
///         }
///         Ok(Verified::Event(
///             Event::builder(INFO.name.clone(), request.body().clone())
///                 .id(Field::Body("id"), true)
///                 .timestamp(seconds)
///                 .build(),
///         ))
///     }
/// }
///
/// let verifier = Verifier::for_scheme(Acme { token: "s3cret" }).with_clock(FixedClock::at_unix(1_700_000_030));
/// let mut headers = HeaderMap::new();
/// headers.insert("x-acme-token", HeaderValue::from_static("s3cret"));
/// headers.insert("x-acme-time", HeaderValue::from_static("1700000000"));
/// let body = verihook::bytes::Bytes::from_static(br#"{"id":"a1"}"#);
/// let verified = verifier.verify_request(&WebhookRequest::new(RequestHead::post(&headers), &body))?;
/// assert_eq!(verified.into_event().unwrap().idempotency_key(), "acme:a1");
/// # Ok::<(), VerifyError>(())
/// ```
pub trait Scheme: Send + Sync + fmt::Debug {
    /// What the scheme is: its name, signature headers, body limit and default tolerance.
    fn info(&self) -> &SchemeInfo;

    /// Cheap checks on the head alone (required headers present and well formed, timestamp
    /// fresh), run before the body is read. The default checks nothing.
    ///
    /// # Errors
    ///
    /// The [`VerifyError`] that [`verify`](Self::verify) would give anyway.
    fn check_head(&self, head: &RequestHead<'_>, at: &Check<'_>) -> Result<(), VerifyError> {
        let _ = (head, at);
        Ok(())
    }

    /// The full check over the raw body, under the policy `at` resolved for this request.
    ///
    /// # Errors
    ///
    /// A [`VerifyError`] saying why the request is not authentic or not fresh.
    fn verify(&self, request: &WebhookRequest<'_>, at: &Check<'_>)
        -> Result<Verified, VerifyError>;
}

impl<S: Scheme + ?Sized> Scheme for Box<S> {
    fn info(&self) -> &SchemeInfo {
        (**self).info()
    }
    fn check_head(&self, head: &RequestHead<'_>, at: &Check<'_>) -> Result<(), VerifyError> {
        (**self).check_head(head, at)
    }
    fn verify(
        &self,
        request: &WebhookRequest<'_>,
        at: &Check<'_>,
    ) -> Result<Verified, VerifyError> {
        (**self).verify(request, at)
    }
}

impl<S: Scheme + ?Sized> Scheme for Arc<S> {
    fn info(&self) -> &SchemeInfo {
        (**self).info()
    }
    fn check_head(&self, head: &RequestHead<'_>, at: &Check<'_>) -> Result<(), VerifyError> {
        (**self).check_head(head, at)
    }
    fn verify(
        &self,
        request: &WebhookRequest<'_>,
        at: &Check<'_>,
    ) -> Result<Verified, VerifyError> {
        (**self).verify(request, at)
    }
}

/// What building a built-in scheme from configuration takes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BuildArgs<'a> {
    /// Key material exactly as the provider issues it, one entry per secret (rotation).
    pub(crate) secrets: &'a [&'a str],
    /// The public URL the provider posts to, for schemes that sign it.
    pub(crate) url: Option<&'a str>,
    /// Accept secrets shorter than the scheme's minimum (see `dangerous`).
    pub(crate) short_ok: bool,
}

impl BuildArgs<'_> {
    /// The smallest secret accepted: `min`, or 1 where short secrets were allowed.
    pub(crate) fn min(&self, min: usize) -> usize {
        if self.short_ok {
            1
        } else {
            min
        }
    }

    /// [`min`](Self::min) of [`MIN_RAW_SECRET_LEN`], for secrets used as they are.
    pub(crate) fn min_raw(&self) -> usize {
        self.min(MIN_RAW_SECRET_LEN)
    }

    /// The secrets' bytes, in order.
    pub(crate) fn bytes(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.secrets.iter().map(|s| s.as_bytes())
    }

    /// The URL, or the error that says this scheme needs one.
    pub(crate) fn require_url(&self) -> Result<&str, VerifyError> {
        self.url
            .ok_or(VerifyError::BadSecret(crate::SecretError::WrongKind {
                reason: "this scheme signs the URL: configure the public URL the provider posts to",
            }))
    }
}

/// A built-in scheme, as configuration and the CLI name it: now [`providers::Provider`](crate::providers::Provider).
#[deprecated(note = "use verihook::providers::Provider")]
pub type Builtin = crate::providers::Provider;

/// Every built-in scheme: now [`providers::ALL`](crate::providers::ALL).
#[deprecated(note = "use verihook::providers::ALL")]
pub static BUILTINS: &[&crate::providers::Provider] = crate::providers::ALL;

/// The built-in scheme called `name` (or one of its aliases), ignoring case: now
/// [`providers::find`](crate::providers::find).
#[deprecated(note = "use verihook::providers::find")]
#[must_use]
pub fn builtin(name: &str) -> Option<&'static crate::providers::Provider> {
    crate::providers::find(name)
}

/// The built-in scheme whose signature (or token) header `headers` carry: now
/// [`providers::detect`](crate::providers::detect).
#[deprecated(note = "use verihook::providers::detect")]
#[must_use]
pub fn detect(headers: &HeaderMap) -> Option<&'static crate::providers::Provider> {
    crate::providers::detect(headers)
}

/// A header that lists a timestamp and one or more signatures as `key=value` entries
/// (`Stripe-Signature: t=..,v1=..,v1=..`, `Paddle-Signature: ts=..;h1=..`).
pub(crate) struct SignatureList {
    pub(crate) header: &'static crate::verify::Header,
    /// Between entries: `,` or `;`.
    pub(crate) separator: u8,
    /// The timestamp's key (`t`, `ts`): Unix seconds, exactly once.
    pub(crate) timestamp: &'static [u8],
    /// The signatures' key (`v1`, `h1`), hex; other keys are ignored.
    pub(crate) signature: &'static [u8],
}

/// A parsed [`SignatureList`]: the timestamp (its digits as sent, which are signed) and the
/// signature entries, read again when compared rather than copied.
pub(crate) struct ListedSignatures<'a> {
    pub(crate) timestamp: u64,
    pub(crate) digits: &'a [u8],
    pub(crate) count: usize,
    raw: &'a [u8],
    list: &'static SignatureList,
}

impl SignatureList {
    /// The header's entries; at most [`MAX_SIGNATURES`], one timestamp, at least one signature.
    /// Always inlined: it is on the hot path of every listed scheme (Stripe, Paddle), and a
    /// plain hint is lost when the crate's code moves between codegen units.
    #[inline(always)]
    pub(crate) fn parse<'a>(
        &'static self,
        headers: &'a HeaderMap,
    ) -> Result<ListedSignatures<'a>, VerifyError> {
        let raw = self.header.require(headers)?.as_bytes();
        let mut timestamp = None;
        let mut count = 0;
        let mut entries = 0;
        for (key, value) in pairs(raw, self.separator, b'=') {
            entries += 1;
            if key == self.timestamp {
                if timestamp.is_some() {
                    return Err(self.header.malformed("more than one timestamp"));
                }
                let seconds = crate::verify::parse_unix_seconds(value)
                    .ok_or_else(|| self.header.malformed("the timestamp is not Unix seconds"))?;
                timestamp = Some((seconds, value));
            } else if key == self.signature {
                count += 1;
            }
        }
        cap_entries(entries, self.header)?;
        let (timestamp, digits) =
            timestamp.ok_or_else(|| self.header.malformed("no timestamp entry"))?;
        if count == 0 {
            return Err(self.header.malformed("no signature entry"));
        }
        Ok(ListedSignatures {
            timestamp,
            digits,
            count,
            raw,
            list: self,
        })
    }
}

impl<'a> ListedSignatures<'a> {
    /// The signatures that decode to `N` bytes of hex; the others can never match.
    pub(crate) fn signatures<const N: usize>(&self) -> impl Iterator<Item = [u8; N]> + 'a {
        let key = self.list.signature;
        pairs(self.raw, self.list.separator, b'=')
            .filter(move |(k, _)| *k == key)
            .filter_map(|(_, value)| hex_array(value))
    }
}

/// The integer value of the last member named `quoted_name` (quotes included) in a JSON body
/// whose signature has passed.
///
/// Parsing the whole body to find one member costs about as much as the MAC itself; this
/// finds the name by looking back from the end. It is exact for bodies like Linear's: a quoted
/// name followed by `:` cannot occur inside a JSON string (its quotes would be escaped), and
/// Linear writes `webhookTimestamp` among the last top-level members, after `data`, so the
/// last occurrence is the top-level one even if `data` held a member of that name. The body
/// is authentic by then: only Linear could have written it.
pub(crate) fn last_member_integer(body: &[u8], quoted_name: &[u8]) -> Option<u64> {
    // From the last quote backwards: the member sits a few quotes from the end, so this looks
    // at a handful of positions (a reverse substring search costs ten times more per call).
    let at = memchr::memrchr_iter(b'"', body)
        .map(|end| end + 1)
        .find(|&end| body[..end].ends_with(quoted_name))?;
    let rest = body[at..].trim_ascii_start();
    let rest = rest.strip_prefix(b":")?.trim_ascii_start();
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let after = rest.get(digits).copied();
    if !matches!(after, Some(b',' | b'}' | b' ' | b'\t' | b'\r' | b'\n')) {
        return None;
    }
    crate::verify::parse_unix_seconds(&rest[..digits])
}

/// Refuses a signature list of more than [`MAX_SIGNATURES`] entries.
pub(crate) fn cap_entries(count: usize, header: &crate::verify::Header) -> Result<(), VerifyError> {
    if count > MAX_SIGNATURES {
        Err(header.malformed("more than 8 signature entries"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_content_is_the_same_joined_or_in_pieces() {
        let body = b"{\"type\":\"a.b\"}";
        for id_len in [1, 147, 148, 149, 300] {
            let id = vec![b'a'; id_len];
            let (pieces, content) =
                with_signed_content([&id, b".", b"1700000000", b"."], body, |parts| {
                    (parts.len(), parts.concat())
                });
            let expected = [id.as_slice(), b".", b"1700000000", b".", body].concat();
            assert_eq!(content, expected, "id of {id_len} bytes");
            let joined = id_len + 12 <= JOINED_PREFIX;
            assert_eq!(pieces, if joined { 2 } else { 5 }, "id of {id_len} bytes");
        }
    }

    #[test]
    fn constant_time_eq_compares_every_byte() {
        let a: Vec<u8> = (0..37).collect();
        assert!(constant_time_eq(&a, &a.clone()));
        for i in 0..a.len() {
            let mut b = a.clone();
            b[i] ^= 0x80;
            assert!(!constant_time_eq(&a, &b), "byte {i}");
        }
        assert!(!constant_time_eq(&a, &a[..36]));
        assert!(constant_time_eq(&[], &[]));
    }

    #[test]
    fn pairs_split_and_skip() {
        let got: Vec<_> = pairs(b"t=1, v1=ab,,junk,v0=c=d,", b',', b'=').collect();
        let want: Vec<(&[u8], &[u8])> = vec![(b"t", b"1"), (b"v1", b"ab"), (b"v0", b"c=d")];
        assert_eq!(got, want);
        assert_eq!(pairs(b"", b',', b'=').count(), 0);
    }

    #[test]
    fn hex_array_needs_exact_length() {
        assert_eq!(hex_array::<2>(b"0aFF"), Some([0x0a, 0xff]));
        assert_eq!(hex_array::<2>(b"0aF"), None);
        assert_eq!(hex_array::<2>(b"0aFFaa"), None);
        assert_eq!(hex_array::<2>(b"0g00"), None);
    }
}
