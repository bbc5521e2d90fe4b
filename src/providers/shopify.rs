//! Shopify: `X-Shopify-Hmac-Sha256`, base64 HMAC-SHA256 of the body under the app's client
//! secret.

use bytes::Bytes;
use hmac::Hmac;
use http::{HeaderMap, HeaderName};
use sha2::Sha256;

use crate::error::VerifyError;
use crate::event::{Event, Verified};
use crate::request::{RequestHead, WebhookRequest};
use crate::scheme::verifier::{Check, Scheme, SchemeInfo, Verifier};
use crate::scheme::verifier::{Events, TextKeyed, TextKeys};
use crate::verify::Header;
use crate::wire::header::reported;
use crate::wire::mac::MacKeys;

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
/// [`ShopifyVerifier::new`](Verifier::new) takes the app's client secret, as the Partner Dashboard (or the app's settings) shows it.
///
/// ```
/// use verihook::{testing::ShopifySigner, providers::shopify::ShopifyVerifier};
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
    fn check_post(&self, headers: &HeaderMap, body: Bytes) -> Result<Event, VerifyError> {
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
            return Err(self.keys.mismatch(1));
        }
        // Only the body is signed: the id and topic are reported, never used to de-duplicate.
        Ok(Event::verified(
            NAME,
            body,
            (id, false),
            (topic, false),
            None,
        ))
    }
}

const HEADER: &str = "x-shopify-hmac-sha256";
static HEADERS: [HeaderName; 1] = [HeaderName::from_static(HEADER)];
/// The provider's one name: its scheme's, its events' sender's and its registry entry's.
const NAME: &str = "shopify";

static INFO: SchemeInfo = SchemeInfo::new(NAME, &HEADERS);

impl TextKeyed for Shopify {
    const NAME: &'static str = NAME;

    fn from_keys(keys: TextKeys) -> Self {
        Self { keys: keys.0 }
    }
}

/// Shopify signs no timestamp: the policy goes unread, and unbuilt once this is inlined.
impl Events for Shopify {
    #[inline]
    fn check(&self, headers: &HeaderMap, body: Bytes, _: &Check<'_>) -> Result<Event, VerifyError> {
        self.check_post(headers, body)
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
        self.check_post(request.headers(), request.body().clone())
            .map(Verified::Event)
    }
}

// Everything else verihook knows about Shopify: its signer (for tests and the CLI), its
// typed envelope, its route key, its samples and its registry entry.

/// Signs requests as Shopify does, with every header Shopify sends (its own libraries refuse a
/// request without the topic, shop domain, API version and webhook id).
#[derive(Clone)]
pub struct ShopifySigner {
    keys: crate::wire::mac::MacKeys<hmac::Hmac<sha2::Sha256>>,
}

/// The API version [`ShopifySigner`] writes in `X-Shopify-API-Version`.
pub const SHOPIFY_API_VERSION: &str = "2025-10";

impl ShopifySigner {
    /// A signer for the app's client secret.
    ///
    /// # Errors
    ///
    /// [`SecretError`](crate::error::SecretError) when the secret is empty.
    pub fn new(client_secret: impl AsRef<[u8]>) -> Result<Self, crate::error::SecretError> {
        Ok(Self {
            keys: crate::wire::mac::MacKeys::new(
                [client_secret.as_ref()],
                crate::sample::ANY_LENGTH,
            )?,
        })
    }

    /// The `X-Shopify-Hmac-Sha256` value for `body`.
    #[must_use]
    pub fn signature(&self, body: &[u8]) -> String {
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            self.keys.sign(&[body]).unwrap_or_default(),
        )
    }

    /// The headers of a delivery of `body` for `topic` (`orders/create`) from `shop_domain`,
    /// with a generated webhook id and event id.
    ///
    /// # Errors
    ///
    /// [`VerifyError::MalformedHeader`] when the topic or domain cannot be a header value.
    pub fn sign(
        &self,
        topic: &str,
        shop_domain: &str,
        body: &[u8],
    ) -> Result<http::HeaderMap, crate::error::VerifyError> {
        let token = crate::idempotency::ClaimToken::generate();
        self.sign_delivery(
            topic,
            shop_domain,
            &crate::sample::uuid_text(token.as_str()),
            body,
        )
    }

    /// [`sign`](Self::sign) with a given webhook id (also used as the event id).
    ///
    /// # Errors
    ///
    /// [`VerifyError::MalformedHeader`] when a value cannot be a header value.
    pub fn sign_delivery(
        &self,
        topic: &str,
        shop_domain: &str,
        webhook_id: &str,
        body: &[u8],
    ) -> Result<http::HeaderMap, crate::error::VerifyError> {
        let mut headers = http::HeaderMap::new();
        crate::sample::insert(&mut headers, &SIGNATURE, &self.signature(body))?;
        crate::sample::insert(&mut headers, &TOPIC, topic)?;
        crate::sample::insert(&mut headers, &SHOP_DOMAIN, shop_domain)?;
        crate::sample::insert(&mut headers, &API_VERSION, SHOPIFY_API_VERSION)?;
        crate::sample::insert(&mut headers, &WEBHOOK_ID, webhook_id)?;
        crate::sample::insert(&mut headers, &EVENT_ID, webhook_id)?;
        Ok(headers)
    }
}

crate::sample::redacted_debug!(ShopifySigner);

/// A Shopify delivery: its topic (`X-Shopify-Topic`) and the body as `T`.
///
/// Shopify signs the body only: the topic and ids come from unsigned headers (a hint).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShopifyEvent<T> {
    /// `X-Shopify-Topic` (`orders/create`).
    pub topic: String,
    /// `X-Shopify-Event-Id`, else `X-Shopify-Webhook-Id`.
    pub event_id: Option<String>,
    /// The body: the resource the topic names.
    pub payload: T,
}

impl<S, T: serde::de::DeserializeOwned> crate::router::FromRouted<S> for ShopifyEvent<T> {
    fn from_routed(
        routed: &crate::router::Routed,
        _: &S,
    ) -> Result<Self, crate::handler::HandlerError> {
        crate::router::from_wire(routed, |payload: T, r| Self {
            topic: r
                .route_key()
                .map(|k| k.as_str().to_owned())
                .unwrap_or_default(),
            event_id: crate::router::text(r.delivery().id()),
            payload,
        })
    }
}

/// The shop a signed Shopify sample comes from.
const SAMPLE_SHOP: &str = "verihook-demo.myshopify.com";

/// An order created, as Shopify's test notifications look.
fn sample_body(id: &str, _event: &str) -> String {
    serde_json::json!({
        "id": 820982911946154508_u64,
        "admin_graphql_api_id": "gid://shopify/Order/820982911946154508",
        "email": "jon@example.com",
        "created_at": "2026-11-30T12:00:00-05:00",
        "currency": "USD",
        "total_price": "403.00",
        "financial_status": "paid",
        "note": format!("verihook sample {id}"),
        "line_items": [{ "id": 866550311766439020_u64, "title": "IPod Nano - 8GB", "quantity": 1, "price": "199.00" }]
    })
    .to_string()
}

fn sign_sample(
    request: &crate::providers::SignRequest<'_>,
) -> Result<crate::providers::SignedHeaders, crate::providers::SignError> {
    let headers = ShopifySigner::new(request.secret)?.sign_delivery(
        request.event,
        SAMPLE_SHOP,
        request.id,
        request.body,
    )?;
    Ok(crate::providers::SignedHeaders::new(headers))
}

/// The payload as the body, the type as `X-Shopify-Topic`.
fn sample_event(
    sample: &crate::providers::EventSample<'_>,
) -> Result<crate::providers::SampleRequest, crate::error::VerifyError> {
    let body = crate::sample::to_vec(&sample.payload);
    let headers = ShopifySigner::new(sample.secret)?.sign(
        sample.event_type,
        "verihook-test.myshopify.com",
        &body,
    )?;
    Ok(crate::providers::SampleRequest::new(body, headers))
}
/// Ordered by the resource the event is about (its `id`: the order, product, customer),
/// stamped by its `updated_at`, else its `created_at` (Shopify signs no timestamp).
fn ordering(event: &crate::event::Event) -> Option<crate::ordering::Order> {
    use crate::ordering::{body_stamp, body_text};
    let body: serde_json::Value = serde_json::from_slice(&event.body[..]).ok()?;
    let stamp = body_stamp(&body, "/updated_at").or_else(|| body_stamp(&body, "/created_at"));
    Some((body_text(&body, "/id")?, stamp))
}

pub(crate) static PROVIDER: crate::providers::Provider = crate::providers::Provider {
    name: NAME,
    aliases: &[],
    signs_url: false,
    headers: &["x-shopify-hmac-sha256"],
    build: crate::providers::build_text_keyed::<Shopify>,
    route_key: crate::event::reported_route_key,
    ordering,
    sample: crate::providers::Sample {
        event_type: "orders/create",
        header_event: "orders/create",
        id_note: None,
        spelled: &[
            "X-Shopify-Hmac-Sha256",
            "X-Shopify-Topic",
            "X-Shopify-Shop-Domain",
            "X-Shopify-Api-Version",
            "X-Shopify-Webhook-Id",
            "X-Shopify-Event-Id",
        ],
        forms: false,
        body: sample_body,
        sign: sign_sample,
        event: sample_event,
    },
};
