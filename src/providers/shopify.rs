//! Shopify: `X-Shopify-Hmac-Sha256`, base64 HMAC-SHA256 of the body under the app's client
//! secret.

use bytes::Bytes;
use hmac::Hmac;
use http::{HeaderMap, HeaderName};
use sha2::Sha256;

use crate::error::VerifyError;
use crate::event::{Event, Verified};
use crate::request::{RequestHead, WebhookRequest};
use crate::scheme::{
    event_only, reported, text_keyed, Answers, Builtin, Check, MacKeys, Scheme, SchemeInfo,
    Verifier, MIN_RAW_SECRET_LEN,
};
use crate::verify::Header;

pub(crate) static SIGNATURE: Header = Header::new("x-shopify-hmac-sha256", "X-Shopify-Hmac-Sha256");
pub(crate) static TOPIC: Header = Header::new("x-shopify-topic", "X-Shopify-Topic");
pub(crate) static EVENT_ID: Header = Header::new("x-shopify-event-id", "X-Shopify-Event-Id");
pub(crate) static WEBHOOK_ID: Header = Header::new("x-shopify-webhook-id", "X-Shopify-Webhook-Id");
pub(crate) static SHOP_DOMAIN: Header =
    Header::new("x-shopify-shop-domain", "X-Shopify-Shop-Domain");
pub(crate) static API_VERSION: Header =
    Header::new("x-shopify-api-version", "X-Shopify-API-Version");

/// The length of a base64 HMAC-SHA256 (32 bytes, padded).
const SIGNATURE_LEN: usize = 44;

/// Verifies Shopify webhooks: `X-Shopify-Hmac-Sha256`, the base64 HMAC-SHA256 of the raw body
/// under the app's client secret (the "API secret key"), as Shopify's own libraries check it.
///
/// Only the body is signed. The event id (`X-Shopify-Event-Id`, else `X-Shopify-Webhook-Id`) and
/// the type (`X-Shopify-Topic`) are reported, never trusted: anyone who captured a request can
/// resend its body under other headers, so de-duplication uses a digest of the body (a replay is
/// a `duplicate` while the store retains it, and Shopify signs no timestamp). The shop
/// (`X-Shopify-Shop-Domain`) and API version headers are equally unsigned: read them from the
/// request, as hints.
///
/// ```
/// use verihook::{testing::ShopifySigner, ShopifyVerifier};
/// # fn main() -> Result<(), verihook::VerifyError> {
/// let body = br#"{"id":820982911946154508,"email":"jon@example.com"}"#;
/// let headers = ShopifySigner::new("a-client-secret")?.sign("orders/create", "shop.myshopify.com", body)?;
/// let event = ShopifyVerifier::new("a-client-secret")?.verify(&headers, body.as_slice().into())?;
/// assert_eq!(event.event_type().as_deref(), Some("orders/create"));
/// assert!(!event.signed().id() && !event.signed().event_type());
/// # Ok(()) }
/// ```
pub type ShopifyVerifier = Verifier<Shopify>;

/// Shopify's scheme: the secrets, keyed once. Its policy (clock, tolerance) is the
/// [`ShopifyVerifier`]'s.
#[derive(Clone, Debug)]
pub struct Shopify {
    keys: MacKeys<Hmac<Sha256>>,
}

impl Shopify {
    /// The signature header, present and the shape of a base64 HMAC-SHA256.
    fn signature(headers: &HeaderMap) -> Result<&[u8], VerifyError> {
        let value = SIGNATURE.require(headers)?.as_bytes();
        let well_formed = value.len() == SIGNATURE_LEN
            && value[..SIGNATURE_LEN - 1]
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/'))
            && value[SIGNATURE_LEN - 1] == b'=';
        if well_formed {
            Ok(value)
        } else {
            Err(SIGNATURE.malformed("expected the 44-character base64 HMAC-SHA256"))
        }
    }

    /// Checks one request: the headers and the raw body as received.
    fn check(&self, headers: &HeaderMap, body: Bytes) -> Result<Event, VerifyError> {
        let signature = Self::signature(headers)?;
        let id = match EVENT_ID.get(headers) {
            Some(value) => reported(&EVENT_ID, Some(value))?,
            None => reported(&WEBHOOK_ID, WEBHOOK_ID.get(headers))?,
        };
        let topic = reported(&TOPIC, TOPIC.get(headers))?;
        let parts: [&[u8]; 1] = [&body];
        if !self
            .keys
            .matches_any_base64(&parts, || std::iter::once(signature))
        {
            return Err(VerifyError::SignatureMismatch {
                secrets: self.keys.len(),
                signatures: 1,
            });
        }
        // Only the body is signed: the id and topic are reported, never used to de-duplicate.
        Ok(Event::verified(
            "shopify",
            body,
            (id, false),
            (topic, false),
            None,
        ))
    }
}

const HEADER: &str = "x-shopify-hmac-sha256";
static HEADERS: [HeaderName; 1] = [HeaderName::from_static(HEADER)];
static INFO: SchemeInfo = SchemeInfo::new("shopify", &HEADERS);

impl ShopifyVerifier {
    /// A verifier for the app's client secret, as the Partner Dashboard (or the app's settings) shows it.
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
        text_keyed(secrets, MIN_RAW_SECRET_LEN, |keys| Shopify { keys })
    }
}

pub(crate) static BUILTIN: Builtin = Builtin {
    name: "shopify",
    aliases: &[],
    signs_url: false,
    headers: &[HEADER],
    build: |args, options| {
        let secrets = args.secrets.iter().map(|s| s.as_bytes());
        let min = args.min(MIN_RAW_SECRET_LEN);
        Ok(text_keyed(secrets, min, |keys| Shopify { keys })?
            .with_options(options)
            .boxed())
    },
};

impl Answers for Shopify {
    type Answer = Event;
    fn answer(verified: Verified) -> Result<Event, VerifyError> {
        event_only(verified)
    }
    fn answer_post(
        &self,
        headers: &HeaderMap,
        body: Bytes,
        _at: &Check<'_>,
    ) -> Result<Event, VerifyError> {
        self.check(headers, body)
    }
}

impl Scheme for Shopify {
    fn info(&self) -> &SchemeInfo {
        &INFO
    }

    fn check_head(&self, head: &RequestHead<'_>, _at: &Check<'_>) -> Result<(), VerifyError> {
        Self::signature(head.headers()).map(|_| ())
    }

    /// Shopify signs no timestamp, so `now` is not read.
    fn verify(
        &self,
        request: &WebhookRequest<'_>,
        _at: &Check<'_>,
    ) -> Result<Verified, VerifyError> {
        self.check(request.headers(), request.body().clone())
            .map(Verified::Event)
    }
}
