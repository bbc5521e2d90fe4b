//! Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]` over `{t}.{body}`.

use bytes::Bytes;
use hmac::Hmac;
use http::{HeaderMap, HeaderName};
use sha2::Sha256;

use crate::error::{SecretError, VerifyError};
use crate::event::{Event, Field, Verified};
use crate::request::{RequestHead, WebhookRequest};
use crate::scheme::{
    event_only, with_signed_content, Answers, Builtin, Check, ListedSignatures, MacKeys, Scheme,
    SchemeInfo, SignatureList, Verifier, MIN_RAW_SECRET_LEN,
};
use crate::secret::{require_len, Secret};
use crate::verify::Header;

pub(crate) static SIGNATURE: Header = Header::new("stripe-signature", "Stripe-Signature");

/// Verifies Stripe webhooks: `Stripe-Signature: t=<unix>,v1=<hex>,...`, the HMAC-SHA256 of
/// `{t}.{body}` keyed with the endpoint's whole `whsec_...` secret as text.
///
/// Every `v1` entry is tried against every secret (Stripe sends several while a secret is being
/// rolled); `v0` and unknown schemes are ignored; a header of more than
/// [`MAX_SIGNATURES`](crate::scheme::MAX_SIGNATURES) entries is refused. The signed `t` must be
/// within the tolerance (default 5 minutes) of now, in either direction, and is checked before
/// any signature work. The event id and type are the body's `id`
/// and `type`, read only when asked for: verification itself never parses the body.
///
/// ```
/// use verihook::{testing::StripeSigner, FixedClock, StripeVerifier};
/// # fn main() -> Result<(), verihook::VerifyError> {
/// let secret = "whsec_test_secret";
/// let body = br#"{"id":"evt_1","type":"charge.succeeded"}"#;
/// let headers = StripeSigner::new(secret)?.sign(1_700_000_000, body);
///
/// let verifier = StripeVerifier::new(secret)?.with_clock(FixedClock::at_unix(1_700_000_030));
/// let event = verifier.verify(&headers, body.as_slice().into())?;
/// assert_eq!(event.id().as_deref(), Some("evt_1"));
///
/// let late = verifier.with_clock(FixedClock::at_unix(1_700_000_301));
/// let err = late.verify(&headers, body.as_slice().into()).unwrap_err();
/// assert_eq!(err.code(), "timestamp_too_old");
/// # Ok(()) }
/// ```
pub type StripeVerifier = Verifier<Stripe>;

/// Stripe's scheme: the endpoint secrets, keyed once. Its policy (clock, tolerance) is the
/// [`StripeVerifier`]'s.
#[derive(Clone, Debug)]
pub struct Stripe {
    keys: MacKeys<Hmac<Sha256>>,
}

static HEADERS: [HeaderName; 1] = [HeaderName::from_static("stripe-signature")];
static INFO: SchemeInfo = SchemeInfo::new("stripe", &HEADERS);

impl StripeVerifier {
    /// A verifier for one endpoint secret, exactly as Stripe shows it (`whsec_...`).
    ///
    /// # Errors
    ///
    /// [`VerifyError::BadSecret`] when the secret is empty or has fewer than 8 bytes after its
    /// `whsec_` prefix.
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
        if secrets.is_empty() {
            return Err(SecretError::Empty.into());
        }
        for secret in &secrets {
            // The whole text keys the MAC, but only what follows the public prefix is secret.
            let secret = secret.as_ref();
            require_len(secret.strip_prefix(b"whsec_").unwrap_or(secret), min)?;
        }
        Ok(Verifier::for_scheme(Stripe {
            keys: MacKeys::new(secrets.iter().map(AsRef::as_ref), 1)?,
        }))
    }

    /// A verifier from [`Secret`]s holding the secrets' text as bytes.
    ///
    /// # Errors
    ///
    /// [`VerifyError::BadSecret`] when there are no secrets, or one is shorter than 8 bytes.
    pub fn from_secrets(secrets: impl IntoIterator<Item = Secret>) -> Result<Self, VerifyError> {
        let secrets: Vec<Secret> = secrets.into_iter().collect();
        Self::with_secrets(secrets.iter().map(Secret::expose))
    }
}

/// How `Stripe-Signature` lists its timestamp and signatures.
pub(crate) static FORMAT: SignatureList = SignatureList {
    header: &SIGNATURE,
    separator: b',',
    timestamp: b"t",
    signature: b"v1",
};

pub(crate) static BUILTIN: Builtin = Builtin {
    name: "stripe",
    aliases: &[],
    signs_url: false,
    headers: &["stripe-signature"],
    build: |args, options| {
        let secrets = args.secrets.iter().map(|s| s.as_bytes());
        Ok(
            StripeVerifier::with_min(secrets, args.min(MIN_RAW_SECRET_LEN))?
                .with_options(options)
                .boxed(),
        )
    },
};

/// The parsed header, once its timestamp is known to be fresh.
#[inline]
fn fresh_header<'a>(
    headers: &'a HeaderMap,
    at: &Check<'_>,
) -> Result<ListedSignatures<'a>, VerifyError> {
    let header = FORMAT.parse(headers)?;
    at.fresh(header.timestamp)?;
    Ok(header)
}

impl Scheme for Stripe {
    fn info(&self) -> &SchemeInfo {
        &INFO
    }

    fn check_head(&self, head: &RequestHead<'_>, at: &Check<'_>) -> Result<(), VerifyError> {
        fresh_header(head.headers(), at).map(|_| ())
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

impl Stripe {
    fn check(
        &self,
        headers: &HeaderMap,
        body: Bytes,
        at: &Check<'_>,
    ) -> Result<Event, VerifyError> {
        let header = fresh_header(headers, at)?;
        let matched = with_signed_content([header.digits, b"."], &body, |parts| {
            self.keys.matches_any(parts, || header.signatures::<32>())
        });
        if !matched {
            return Err(VerifyError::SignatureMismatch {
                secrets: self.keys.len(),
                signatures: header.count,
            });
        }
        Ok(Event::verified(
            "stripe",
            body,
            (Field::Body("id"), true),
            (Field::Body("type"), true),
            Some(header.timestamp),
        ))
    }
}

impl Answers for Stripe {
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
