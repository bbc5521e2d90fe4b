//! GitHub: `X-Hub-Signature-256: sha256=<hex>`, HMAC-SHA256 of the raw body.

use std::fmt;
use std::time::SystemTime;

use bytes::Bytes;
use hmac::Hmac;
use http::{HeaderMap, HeaderValue};
use sha1::Sha1;
use sha2::Sha256;

use super::{hex_array, MacKeys, MIN_RAW_SECRET_LEN};
use crate::error::{SecretError, VerifyError};
use crate::event::{Event, Field, Provider, Signed};
use crate::secret::Secret;
use crate::verify::{verifier_options, Header, Verifier, VerifyOptions};

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
/// The idempotency store (keyed by delivery id) stops straight replays; treat the type header
/// as a hint and route on the body where it matters. [`Event::signed`] says so at run time.
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
    /// [`VerifyError::BadSecret`] when the secret is empty or shorter than 8 bytes.
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
        let secrets: Vec<I::Item> = secrets.into_iter().collect();
        if secrets.is_empty() {
            return Err(SecretError::Empty.into());
        }
        let raw = || secrets.iter().map(AsRef::as_ref);
        Ok(Self {
            sha256: MacKeys::new(raw(), MIN_RAW_SECRET_LEN)?,
            sha1: MacKeys::new(raw(), MIN_RAW_SECRET_LEN)?,
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
}

verifier_options!(GithubVerifier);

impl Verifier for GithubVerifier {
    fn provider(&self) -> Provider {
        Provider::Github
    }

    fn options(&self) -> &VerifyOptions {
        &self.options
    }

    /// GitHub signs no timestamp, so verifying never reads the clock.
    fn verify(&self, headers: &HeaderMap, body: Bytes) -> Result<Event, VerifyError> {
        self.verify_at(headers, body, SystemTime::UNIX_EPOCH)
    }

    fn verify_at(
        &self,
        headers: &HeaderMap,
        body: Bytes,
        _now: SystemTime,
    ) -> Result<Event, VerifyError> {
        let [signature, delivery, event] =
            Header::find_all(headers, [&SIGNATURE_256, &DELIVERY, &EVENT]);
        let id = optional_text(&DELIVERY, delivery)?;
        let event_type = optional_text(&EVENT, event)?;
        let parts: [&[u8]; 1] = [&body];
        let matched = match signature {
            Some(value) => {
                let sig: [u8; 32] = value
                    .as_bytes()
                    .strip_prefix(b"sha256=")
                    .and_then(hex_array)
                    .ok_or_else(|| SIGNATURE_256.malformed("expected sha256= and 64 hex digits"))?;
                self.sha256.matches_any(&parts, || std::iter::once(sig))
            }
            None if self.legacy_sha1 => {
                let sig: [u8; 20] = SIGNATURE_SHA1
                    .get(headers)
                    .ok_or_else(|| SIGNATURE_256.missing())?
                    .as_bytes()
                    .strip_prefix(b"sha1=")
                    .and_then(hex_array)
                    .ok_or_else(|| SIGNATURE_SHA1.malformed("expected sha1= and 40 hex digits"))?;
                self.sha1.matches_any(&parts, || std::iter::once(sig))
            }
            None => return Err(SIGNATURE_256.missing()),
        };
        if !matched {
            return Err(VerifyError::SignatureMismatch {
                secrets: self.sha256.len(),
                signatures: 1,
            });
        }
        Ok(Event {
            provider: Provider::Github,
            id,
            event_type,
            timestamp: None,
            body,
            signed: Signed {
                id: false,
                event_type: false,
                timestamp: false,
            },
        })
    }
}

fn optional_text(header: &Header, value: Option<&HeaderValue>) -> Result<Field, VerifyError> {
    match value {
        Some(value) => header.text(value).map(|_| Field::Header(value.clone())),
        None => Ok(Field::Absent),
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
