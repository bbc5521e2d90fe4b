//! GitHub: `X-Hub-Signature-256: sha256=<hex>`, HMAC-SHA256 of the raw body.

use std::fmt;
use std::time::SystemTime;

use bytes::Bytes;
use hmac::Hmac;
use http::{HeaderMap, HeaderValue};
use sha1::Sha1;
use sha2::Sha256;

use crate::error::VerifyError;
use crate::event::{Event, Verified};
use crate::request::{RequestHead, WebhookRequest};
use crate::scheme::{hex_array, reported, Builtin, MacKeys, Scheme, MIN_RAW_SECRET_LEN};
use crate::secret::Secret;
use crate::verify::{verifier_options, Header, VerifyOptions};

pub(crate) static SIGNATURE_256: Header = Header::new("x-hub-signature-256", "X-Hub-Signature-256");
pub(crate) static SIGNATURE_SHA1: Header = Header::new("x-hub-signature", "X-Hub-Signature");
pub(crate) static DELIVERY: Header = Header::new("x-github-delivery", "X-GitHub-Delivery");
pub(crate) static EVENT: Header = Header::new("x-github-event", "X-GitHub-Event");

/// Verifies GitHub webhooks: `X-Hub-Signature-256: sha256=<hex>`, the HMAC-SHA256 of the raw
/// body under the webhook's secret.
///
/// The event id is the `X-GitHub-Delivery` header and the type is `X-GitHub-Event`.
///
/// **GitHub signs no timestamp and not these headers**: only the body. A captured request can
/// be replayed at any time and its id or type header changed without the signature noticing.
/// So the delivery id is reported but never trusted: the idempotency key is a digest of the
/// body, and a replay (under any delivery id) is a duplicate for as long as the store retains
/// the key; after that it is processed again. Treat the type header as a hint and route on the
/// body where it matters. [`Event::signed`] says so at run time. Bodies up to 25 MiB (GitHub's
/// cap) are read.
///
/// The legacy `X-Hub-Signature: sha1=<hex>` header is ignored unless
/// [`dangerous::accept_legacy_github_sha1`](crate::dangerous::accept_legacy_github_sha1) turns
/// it on, and even then never used when `X-Hub-Signature-256` is present.
///
/// ```
/// use verihook::{GithubVerifier, VerifyError};
/// # use http::{HeaderMap, HeaderValue};
/// // GitHub's documented example.
/// let verifier = GithubVerifier::new("It's a Secret to Everybody")?;
/// let mut headers = HeaderMap::new();
/// headers.insert("x-hub-signature-256", HeaderValue::from_static(
///     "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"));
/// let event = verifier.verify(&headers, "Hello, World!".into())?;
/// assert_eq!(event.body().as_ref(), b"Hello, World!");
/// assert!(!event.signed().id());
///
/// let err = verifier.verify(&headers, "Hello, World?".into()).unwrap_err();
/// assert_eq!(err.code(), "bad_signature");
/// # Ok::<(), VerifyError>(())
/// ```
#[derive(Clone)]
pub struct GithubVerifier {
    sha256: MacKeys<Hmac<Sha256>>,
    sha1: MacKeys<Hmac<Sha1>>,
    legacy_sha1: bool,
    options: VerifyOptions,
}

impl GithubVerifier {
    /// A verifier for one secret, as entered in GitHub's webhook settings.
    ///
    /// # Errors
    ///
    /// [`VerifyError::BadSecret`] when the secret is empty or shorter than 8 bytes (GitHub
    /// allows any secret; for an old short one see
    /// [`dangerous::allow_short_secrets`](crate::dangerous::allow_short_secrets)).
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, VerifyError> {
        Self::with_secrets([secret])
    }

    /// A verifier that accepts a signature from any of `secrets` (rotation).
    ///
    /// # Errors
    ///
    /// [`VerifyError::BadSecret`] when there are no secrets, or one is shorter than 8 bytes.
    pub fn with_secrets<I>(secrets: I) -> Result<Self, VerifyError>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        Self::with_min(secrets, MIN_RAW_SECRET_LEN)
    }

    pub(crate) fn with_min<I>(secrets: I, min: usize) -> Result<Self, VerifyError>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let secrets: Vec<I::Item> = secrets.into_iter().collect();
        let raw = || secrets.iter().map(AsRef::as_ref);
        Ok(Self {
            sha256: MacKeys::from_secrets(raw(), min)?,
            sha1: MacKeys::from_secrets(raw(), min)?,
            legacy_sha1: false,
            options: VerifyOptions::default(),
        })
    }

    /// A verifier from already-decoded [`Secret`]s.
    ///
    /// # Errors
    ///
    /// [`VerifyError::BadSecret`] when there are no secrets, or one is shorter than 8 bytes.
    pub fn from_secrets(secrets: impl IntoIterator<Item = Secret>) -> Result<Self, VerifyError> {
        let secrets: Vec<Secret> = secrets.into_iter().collect();
        Self::with_secrets(secrets.iter().map(Secret::expose))
    }

    pub(crate) fn set_legacy_sha1(mut self, on: bool) -> Self {
        self.legacy_sha1 = on;
        self
    }

    /// The signature the headers carry, parsed (`sha256`, the header found with the others in
    /// one pass when there is one).
    fn signature(
        &self,
        headers: &HeaderMap,
        sha256: Option<&HeaderValue>,
    ) -> Result<Signature, VerifyError> {
        if let Some(value) = sha256 {
            return value
                .as_bytes()
                .strip_prefix(b"sha256=")
                .and_then(hex_array)
                .map(Signature::Sha256)
                .ok_or_else(|| SIGNATURE_256.malformed("expected sha256= and 64 hex digits"));
        }
        match SIGNATURE_SHA1.get(headers) {
            Some(value) if self.legacy_sha1 => value
                .as_bytes()
                .strip_prefix(b"sha1=")
                .and_then(hex_array)
                .map(Signature::Sha1)
                .ok_or_else(|| SIGNATURE_SHA1.malformed("expected sha1= and 40 hex digits")),
            _ => Err(SIGNATURE_256.missing()),
        }
    }
}

enum Signature {
    Sha256([u8; 32]),
    Sha1([u8; 20]),
}

verifier_options!(GithubVerifier);

/// GitHub caps webhook payloads at 25 MB.
pub(crate) const BODY_LIMIT: usize = 25 * 1024 * 1024;

pub(crate) static BUILTIN: Builtin = Builtin {
    name: "github",
    aliases: &[],
    signs_url: false,
    headers: &["x-hub-signature-256", "x-hub-signature"],
    build: |args, options| {
        let secrets = args.secrets.iter().map(|s| s.as_bytes());
        Ok(Box::new(
            GithubVerifier::with_min(secrets, args.min(MIN_RAW_SECRET_LEN))?.with_options(options),
        ))
    },
};

impl Scheme for GithubVerifier {
    fn name(&self) -> &'static str {
        "github"
    }

    fn recognizes(&self, headers: &HeaderMap) -> bool {
        SIGNATURE_256.get(headers).is_some() || SIGNATURE_SHA1.get(headers).is_some()
    }

    fn precheck(&self, head: &RequestHead<'_>, _now: SystemTime) -> Result<(), VerifyError> {
        let headers = head.headers();
        self.signature(headers, SIGNATURE_256.get(headers))
            .map(|_| ())
    }

    /// This scheme signs no timestamp: verifying never needs the time, so no clock is read.
    fn now(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH
    }

    fn body_limit(&self) -> usize {
        BODY_LIMIT
    }

    /// GitHub signs no timestamp, so `now` is not read.
    fn verify_request(
        &self,
        request: &WebhookRequest<'_>,
        now: SystemTime,
    ) -> Result<Verified, VerifyError> {
        self.check(request.headers(), request.body().clone(), now)
            .map(Verified::Event)
    }
}

impl GithubVerifier {
    fn check(
        &self,
        headers: &HeaderMap,
        body: Bytes,
        _now: SystemTime,
    ) -> Result<Event, VerifyError> {
        let [sha256, delivery, event] =
            Header::find_all(headers, [&SIGNATURE_256, &DELIVERY, &EVENT]);
        let id = reported(&DELIVERY, delivery)?;
        let event_type = reported(&EVENT, event)?;
        let parts: [&[u8]; 1] = [&body];
        let matched = match self.signature(headers, sha256)? {
            Signature::Sha256(sig) => self.sha256.matches_any(&parts, || std::iter::once(sig)),
            Signature::Sha1(sig) => self.sha1.matches_any(&parts, || std::iter::once(sig)),
        };
        if !matched {
            return Err(VerifyError::SignatureMismatch {
                secrets: self.sha256.len(),
                signatures: 1,
            });
        }
        // Only the body is signed: the delivery id is reported, never used to de-duplicate.
        Ok(Event::verified(
            "github",
            body,
            (id, false),
            (event_type, false),
            None,
        ))
    }
}

impl fmt::Debug for GithubVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GithubVerifier")
            .field("secrets", &self.sha256.len())
            .field("legacy_sha1", &self.legacy_sha1)
            .field("options", &self.options)
            .finish()
    }
}
