//! Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]` over `{t}.{body}`.

use bytes::Bytes;
use hmac::Hmac;
use http::{HeaderMap, HeaderName};
use sha2::Sha256;

use crate::error::{SecretError, VerifyError};
use crate::event::{Event, Field, Verified};
use crate::providers::configured;
use crate::providers::BuildArgs;
use crate::request::{RequestHead, WebhookRequest};
use crate::scheme::verifier::Events;
use crate::scheme::verifier::{Check, Scheme, SchemeInfo, Verifier};
use crate::secret::{require_len, Secret};
use crate::verify::Header;
use crate::verify::VerifyOptions;
use crate::wire::header::{ListedSignatures, SignatureList};
use crate::wire::mac::{with_signed_content, MacKeys, MIN_RAW_SECRET_LEN};

pub(crate) static SIGNATURE: Header = Header::new("stripe-signature", "Stripe-Signature");

/// Verifies Stripe webhooks: `Stripe-Signature: t=<unix>,v1=<hex>,...`, the HMAC-SHA256 of
/// `{t}.{body}` keyed with the endpoint's whole `whsec_...` secret as text.
///
/// Every `v1` entry is tried against every secret (Stripe sends several while a secret is being
/// rolled); `v0` and unknown schemes are ignored; a header of more than
/// [`MAX_SIGNATURES`](crate::wire::header::MAX_SIGNATURES) entries is refused. The signed `t` must be
/// within the tolerance (default 5 minutes) of now, in either direction, and is checked before
/// any signature work. The event id and type are the body's `id`
/// and `type`, read only when asked for: verification itself never parses the body.
///
/// ```
/// use verihook::{testing::StripeSigner, scheme::FixedClock, providers::stripe::StripeVerifier};
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
/// The provider's one name: its scheme's, its events' sender's and its registry entry's.
const NAME: &str = "stripe";

static INFO: SchemeInfo = SchemeInfo::new(NAME, &HEADERS);

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
        for secret in &secrets {
            signing_secret_form(secret.as_ref()).map_err(|e| e.for_scheme(NAME))?;
        }
        let secrets: Vec<&[u8]> = secrets.iter().map(AsRef::as_ref).collect();
        Self::keyed(&secrets, min)
    }

    /// The keys, whatever their form (the escape hatch [`from_secrets`](Self::from_secrets)
    /// and the checked constructors share it).
    fn keyed(secrets: &[&[u8]], min: usize) -> Result<Self, VerifyError> {
        let keyed = || {
            if secrets.is_empty() {
                return Err(VerifyError::from(SecretError::Empty));
            }
            for secret in secrets {
                // The whole text keys the MAC, but only what follows the public prefix is secret.
                require_len(secret.strip_prefix(b"whsec_").unwrap_or(secret), min)?;
            }
            Ok(Verifier::for_scheme(Stripe {
                keys: MacKeys::new(secrets.iter().copied(), 1)?,
            }))
        };
        keyed().map_err(|e| e.for_scheme(NAME))
    }

    /// A verifier from [`Secret`]s holding the secrets' text as bytes, used exactly as given:
    /// the explicit way in for a secret that is not of Stripe's `whsec_...` form (a proxy or a
    /// test harness that signs as Stripe does with its own secret). [`new`](Self::new) and
    /// [`with_secrets`](Self::with_secrets) refuse such a secret, as it is most often a
    /// mistake (an API key, a value pasted with its quotes).
    ///
    /// ```
    /// use verihook::{Secret, providers::stripe::StripeVerifier};
    /// assert!(StripeVerifier::new("my-proxy-signing-secret").is_err());
    /// let secret = Secret::from_bytes("my-proxy-signing-secret")?;
    /// let verifier = StripeVerifier::from_secrets([secret])?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`VerifyError::BadSecret`] when there are no secrets, or one is shorter than 8 bytes.
    pub fn from_secrets(secrets: impl IntoIterator<Item = Secret>) -> Result<Self, VerifyError> {
        let secrets: Vec<Secret> = secrets.into_iter().collect();
        let secrets: Vec<&[u8]> = secrets.iter().map(Secret::expose).collect();
        Self::keyed(&secrets, MIN_RAW_SECRET_LEN)
    }
}

/// Whether `secret` looks like a Stripe API key (secret, restricted or publishable), the usual
/// mistake for a webhook signing secret.
fn is_api_key(secret: &[u8]) -> bool {
    [&b"sk_"[..], b"rk_", b"pk_"]
        .iter()
        .any(|prefix| secret.starts_with(prefix))
}

/// Whether `secret` has the form of a Stripe endpoint signing secret (`whsec_` and a token),
/// else what it looks like and what to give instead: the usual mistakes are an API key (`sk_`,
/// `rk_`, `pk_`) where the signing secret belongs, and a value pasted from a shell or `.env`
/// file with its quotes, spaces or newline.
fn signing_secret_form(secret: &[u8]) -> Result<(), SecretError> {
    if secret.is_empty() {
        return Err(SecretError::Empty);
    }
    if secret
        .iter()
        .any(|b| b.is_ascii_whitespace() || matches!(b, b'"' | b'\''))
    {
        return Err(SecretError::WrongKind {
            reason: "the secret contains spaces, a newline or quotes (pasted from a shell or \
                     .env file?): give the value alone, `whsec_...` without quotes",
        });
    }
    if is_api_key(secret) {
        return Err(SecretError::WrongKind {
            reason: "this is a Stripe API key, not a webhook signing secret: copy the \
                     endpoint's signing secret (whsec_...) from the Stripe dashboard \
                     (Developers > Webhooks) or `stripe listen`",
        });
    }
    if !secret.starts_with(b"whsec_") {
        return Err(SecretError::WrongKind {
            reason: "a Stripe signing secret starts with whsec_: copy the endpoint's signing \
                     secret from the Stripe dashboard (Developers > Webhooks) or `stripe \
                     listen`; for a secret of another form, use StripeVerifier::from_secrets",
        });
    }
    Ok(())
}

/// How `Stripe-Signature` lists its timestamp and signatures.
pub(crate) static FORMAT: SignatureList = SignatureList {
    header: &SIGNATURE,
    separator: b',',
    timestamp: b"t",
    signature: b"v1",
};

/// The parsed header, once its timestamp is known to be fresh. Always inlined, as the header
/// parse is: both run on every verification (callgrind counts them, `scripts/instructions.sh`).
#[inline(always)]
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

impl Events for Stripe {
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
            return Err(self.keys.mismatch(header.count));
        }
        Ok(Event::verified(
            NAME,
            body,
            (Field::Body("id"), true),
            (Field::Body("type"), true),
            Some(header.timestamp),
        ))
    }
}

// Everything else verihook knows about Stripe: its signer (for tests and the CLI), its
// typed envelope, its route key, its samples and its registry entry.

/// Signs requests as Stripe does.
#[derive(Clone)]
pub struct StripeSigner {
    keys: crate::wire::mac::MacKeys<hmac::Hmac<sha2::Sha256>>,
}

impl StripeSigner {
    /// A signer for the endpoint secret (`whsec_...`, used as text).
    ///
    /// # Errors
    ///
    /// [`SecretError`] when the secret is empty.
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, crate::error::SecretError> {
        Ok(Self {
            keys: crate::wire::mac::MacKeys::new([secret.as_ref()], crate::sample::ANY_LENGTH)?,
        })
    }

    /// The `Stripe-Signature` value: `t=<timestamp>,v1=<hex>`.
    #[must_use]
    pub fn signature(&self, timestamp: u64, body: &[u8]) -> String {
        let t = timestamp.to_string();
        let tag = self
            .keys
            .sign(&[t.as_bytes(), b".", body])
            .unwrap_or_default();
        format!("t={t},v1={}", const_hex::encode(tag))
    }

    /// The `Stripe-Signature` header for `body` signed at `timestamp` (Unix seconds).
    #[must_use]
    pub fn sign(&self, timestamp: u64, body: &[u8]) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        if let Ok(value) = http::HeaderValue::from_str(&self.signature(timestamp, body)) {
            headers.insert(SIGNATURE.wire.clone(), value);
        }
        headers
    }
}

crate::sample::redacted_debug!(StripeSigner);

/// A Stripe event (`"object": "event"`), with `data.object` as `T`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StripeEvent<T> {
    /// `id` (`evt_...`), signed.
    pub id: String,
    /// `type` (`invoice.paid`).
    pub event_type: String,
    /// `created`, Unix seconds.
    pub created: u64,
    /// `livemode`: false for test-mode events.
    pub livemode: bool,
    /// `api_version` the event was rendered with.
    pub api_version: Option<String>,
    /// `account`, for Connect events.
    pub account: Option<String>,
    /// `data.object`: the object the event is about.
    pub object: T,
    /// `data.previous_attributes`: the changed members' old values, on `*.updated` events.
    pub previous_attributes: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(serde::Deserialize)]
struct StripeWire<T> {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    created: u64,
    #[serde(default)]
    livemode: bool,
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    account: Option<String>,
    data: StripeData<T>,
}

#[derive(serde::Deserialize)]
struct StripeData<T> {
    object: T,
    #[serde(default)]
    previous_attributes: Option<serde_json::Map<String, serde_json::Value>>,
}

impl<S, T: serde::de::DeserializeOwned> crate::router::FromRouted<S> for StripeEvent<T> {
    fn from_routed(
        routed: &crate::router::Routed,
        _: &S,
    ) -> Result<Self, crate::handler::HandlerError> {
        crate::router::from_wire(routed, |w: StripeWire<T>, _| Self {
            id: w.id,
            event_type: w.event_type,
            created: w.created,
            livemode: w.livemode,
            api_version: w.api_version,
            account: w.account,
            object: w.data.object,
            previous_attributes: w.data.previous_attributes,
        })
    }
}

fn build(args: BuildArgs<'_>, options: VerifyOptions) -> Result<Verifier, VerifyError> {
    // The diagnosis (and `dangerous::allow_short_secrets`) keys secrets of any form, to say
    // what is wrong with them rather than refuse them.
    let verifier = if args.short_ok {
        StripeVerifier::keyed(&args.bytes().collect::<Vec<_>>(), args.min_raw())
    } else {
        StripeVerifier::with_min(args.bytes(), args.min_raw())
    };
    configured(verifier, options)
}

/// An invoice paid, as Stripe's test events look.
fn sample_body(id: &str, event: &str) -> String {
    serde_json::json!({
        "id": id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": crate::sample::unix_now(),
        "type": event,
        "livemode": false,
        "pending_webhooks": 1,
        "data": { "object": { "id": "in_1QDemoInvoice", "object": "invoice", "amount_paid": 4200, "currency": "eur", "customer": "cus_Demo123", "status": "paid" } }
    })
    .to_string()
}

fn sign_sample(
    request: &crate::providers::SignRequest<'_>,
) -> Result<crate::providers::SignedHeaders, crate::providers::SignError> {
    let headers = StripeSigner::new(request.secret)?.sign(request.timestamp, request.body);
    Ok(crate::providers::SignedHeaders::new(headers))
}

/// `type` and `data.object`, with a fresh `evt_` id.
fn sample_event(
    sample: &crate::providers::EventSample<'_>,
) -> Result<crate::providers::SampleRequest, crate::error::VerifyError> {
    let body = crate::sample::to_vec(&serde_json::json!({
        "id": format!("evt_test_{}", sample.unique),
        "object": "event",
        "api_version": "2025-01-27.acacia",
        "created": sample.secs,
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": sample.event_type,
        "data": { "object": sample.payload },
    }));
    let headers = StripeSigner::new(sample.secret)?.sign(sample.secs, &body);
    Ok(crate::providers::SampleRequest::new(body, headers))
}
/// Ordered by the object the event is about (`data.object.id`), stamped by the event's `created`.
fn ordering(event: &crate::event::Event) -> Option<crate::ordering::Order> {
    crate::ordering::from_body(event, "/data/object/id", "/created")
}

pub(crate) static PROVIDER: crate::providers::Provider = crate::providers::Provider {
    name: NAME,
    aliases: &[],
    signs_url: false,
    headers: &["stripe-signature"],
    build,
    route_key: crate::event::reported_route_key,
    ordering,
    sample: crate::providers::Sample {
        event_type: "invoice.paid",
        header_event: "ping",
        id_note: Some("Stripe's event id is inside the body; --id is not sent"),
        spelled: &["Stripe-Signature"],
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

    /// The refusal's message, as an app prints it at start-up.
    fn refused(secret: &str) -> String {
        StripeVerifier::new(secret).unwrap_err().to_string()
    }

    #[test]
    fn refuses_an_api_key_given_as_the_signing_secret() {
        for key in [
            "sk_live_51Habcdefgh",
            "rk_test_51Habcdefgh",
            "pk_live_51Habcdefgh",
        ] {
            let message = refused(key);
            assert!(
                message.starts_with("stripe: bad secret: this is a Stripe API key"),
                "{message}"
            );
            assert!(message.contains("whsec_"), "{message}");
        }
    }

    #[test]
    fn refuses_a_secret_pasted_with_quotes_or_whitespace() {
        for pasted in [
            "\"whsec_pasted_from_env\"",
            "'whsec_pasted_from_env'",
            "whsec_pasted_from_env\n",
            " whsec_pasted_from_env",
        ] {
            let message = refused(pasted);
            assert!(message.contains("quotes"), "{message}");
        }
    }

    #[test]
    fn refuses_a_secret_without_its_prefix_and_names_the_way_out() {
        let message = refused("a-proxy-signing-secret");
        assert!(message.contains("starts with whsec_"), "{message}");
        assert!(
            message.contains("StripeVerifier::from_secrets"),
            "{message}"
        );
        let secret = Secret::from_bytes("a-proxy-signing-secret").unwrap();
        assert!(StripeVerifier::from_secrets([secret]).is_ok());
    }

    #[test]
    fn a_short_secret_names_the_scheme_and_keeps_its_reason() {
        let VerifyError::BadSecret(err) = StripeVerifier::new("whsec_short").unwrap_err() else {
            panic!("not a bad secret");
        };
        assert_eq!(err.scheme(), Some("stripe"));
        assert!(matches!(
            err.reason(),
            SecretError::TooShort { len: 5, min: 8 }
        ));
        assert!(VerifyError::BadSecret(err)
            .to_string()
            .starts_with("stripe: bad secret: the secret is 5 bytes"));
    }

    #[test]
    fn the_registry_names_the_scheme_too() {
        let stripe = crate::providers::find("stripe").unwrap();
        let err = stripe
            .build(&["whsec_short"], None, VerifyOptions::default())
            .unwrap_err();
        assert!(err.to_string().starts_with("stripe: bad secret: "), "{err}");
    }
}
