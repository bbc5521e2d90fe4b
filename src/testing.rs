//! Signers that produce correctly signed requests, for testing webhook handlers.
//!
//! Each signer takes key material exactly as the provider issues it and returns the headers the
//! provider would send. The verifiers accept them, and so do the providers' own SDKs. Use them
//! to unit-test a handler without a network or a real provider:
//!
//! ```
//! use verihook::testing::GithubSigner;
//! use verihook::GithubVerifier;
//! # fn main() -> Result<(), verihook::VerifyError> {
//! let body = br#"{"zen":"Design for failure."}"#;
//! let headers = GithubSigner::new("my-webhook-secret")?.sign_delivery("d-1", "ping", body)?;
//!
//! let verifier = GithubVerifier::new("my-webhook-secret")?;
//! let event = verifier.verify(&headers, body.as_slice().into())?;
//! assert_eq!(event.event_type().as_deref(), Some("ping"));
//!
//! // One changed byte and the signature no longer matches.
//! let tampered = br#"{"zen":"Design for failure!"}"#;
//! let err = verifier.verify(&headers, tampered.as_slice().into()).unwrap_err();
//! assert_eq!(err.code(), "bad_signature");
//! # Ok(()) }
//! ```

mod signed;
pub use signed::{signed_event, SignedRequest, TEST_URL};

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::Hmac;
use http::{HeaderMap, HeaderValue};
use sha1::Sha1;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::{SecretError, VerifyError};
use crate::providers::{
    github, gitlab, linear, paddle, shopify, slack, square, standard, stripe, twilio, zoom,
};
use crate::scheme::MacKeys;
use crate::verify::Header;

/// Signers take any non-empty secret: they sign what the provider would, and some providers
/// (GitHub) let users pick any secret. The verifiers keep their minimum lengths, which
/// [`dangerous::allow_short_secrets`](crate::dangerous::allow_short_secrets) lifts.
const ANY_LENGTH: usize = 1;

/// Signs requests as GitHub does.
#[derive(Clone)]
pub struct GithubSigner {
    sha256: MacKeys<Hmac<Sha256>>,
    sha1: MacKeys<Hmac<Sha1>>,
}

impl GithubSigner {
    /// A signer for the webhook's secret.
    ///
    /// # Errors
    ///
    /// [`SecretError`] when the secret is empty.
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, SecretError> {
        let secret = secret.as_ref();
        Ok(Self {
            sha256: MacKeys::new([secret], ANY_LENGTH)?,
            sha1: MacKeys::new([secret], ANY_LENGTH)?,
        })
    }

    /// The `X-Hub-Signature-256` value: `sha256=<hex>`.
    #[must_use]
    pub fn signature(&self, body: &[u8]) -> String {
        format!(
            "sha256={}",
            const_hex::encode(self.sha256.sign(&[body]).unwrap_or_default())
        )
    }

    /// The legacy `X-Hub-Signature` value: `sha1=<hex>`.
    #[must_use]
    pub fn legacy_signature(&self, body: &[u8]) -> String {
        format!(
            "sha1={}",
            const_hex::encode(self.sha1.sign(&[body]).unwrap_or_default())
        )
    }

    /// The signature headers GitHub sends: `X-Hub-Signature-256` and the legacy
    /// `X-Hub-Signature`.
    #[must_use]
    pub fn sign(&self, body: &[u8]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (header, value) in [
            (&github::SIGNATURE_256, self.signature(body)),
            (&github::SIGNATURE_SHA1, self.legacy_signature(body)),
        ] {
            // Hex and ASCII prefixes are always valid header values.
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(header.wire.clone(), value);
            }
        }
        headers
    }

    /// [`sign`](Self::sign) plus `X-GitHub-Delivery` and `X-GitHub-Event`.
    ///
    /// # Errors
    ///
    /// [`VerifyError::MalformedHeader`] when `delivery` or `event` cannot be a header value.
    pub fn sign_delivery(
        &self,
        delivery: &str,
        event: &str,
        body: &[u8],
    ) -> Result<HeaderMap, VerifyError> {
        let mut headers = self.sign(body);
        insert(&mut headers, &github::DELIVERY, delivery)?;
        insert(&mut headers, &github::EVENT, event)?;
        Ok(headers)
    }
}

/// Signs requests as Stripe does.
#[derive(Clone)]
pub struct StripeSigner {
    keys: MacKeys<Hmac<Sha256>>,
}

impl StripeSigner {
    /// A signer for the endpoint secret (`whsec_...`, used as text).
    ///
    /// # Errors
    ///
    /// [`SecretError`] when the secret is empty.
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, SecretError> {
        Ok(Self {
            keys: MacKeys::new([secret.as_ref()], ANY_LENGTH)?,
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
    pub fn sign(&self, timestamp: u64, body: &[u8]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(&self.signature(timestamp, body)) {
            headers.insert(stripe::SIGNATURE.wire.clone(), value);
        }
        headers
    }
}

/// Signs requests as a Standard Webhooks (or Svix) sender does.
///
/// A `whsec_` secret signs `v1` (HMAC-SHA256); a `whsk_` key signs `v1a` (ed25519, feature
/// `ed25519`), and [`public_key`](Self::public_key) gives the `whpk_` key that verifies it.
#[derive(Clone)]
pub struct StandardSigner {
    key: SigningKey,
}

#[derive(Clone)]
enum SigningKey {
    Symmetric(MacKeys<Hmac<Sha256>>),
    #[cfg(feature = "ed25519")]
    Ed25519(ed25519_dalek::SigningKey),
}

impl StandardSigner {
    /// A signer for `whsec_<base64>` (prefix optional) or `whsk_<base64>`.
    ///
    /// # Errors
    ///
    /// [`SecretError`] when the key is empty, not base64, a `whpk_` public key, or
    /// a `whsk_` key while the `ed25519` feature is off.
    pub fn new(secret: &str) -> Result<Self, SecretError> {
        let secret = secret.trim();
        if let Some(encoded) = secret.strip_prefix("whsk_") {
            return Self::ed25519(encoded);
        }
        if secret.starts_with("whpk_") {
            return Err(SecretError::WrongKind {
                reason: "a whpk_ key only verifies; sign with the whsk_ key",
            });
        }
        if !secret.starts_with("whsec_") {
            // A bare base64 secret signs as the `whsec_` one would.
            return Self::new(&format!("whsec_{secret}"));
        }
        match standard::Key::parse(secret)? {
            standard::Key::Symmetric(bytes) => Ok(Self {
                key: SigningKey::Symmetric(MacKeys::new([bytes.as_slice()], ANY_LENGTH)?),
            }),
            #[cfg(feature = "ed25519")]
            standard::Key::Public(_) => Err(SecretError::WrongKind {
                reason: "a whpk_ key only verifies; sign with the whsk_ key",
            }),
        }
    }

    #[cfg(feature = "ed25519")]
    fn ed25519(encoded: &str) -> Result<Self, SecretError> {
        let bytes = crate::secret::decode_base64(encoded)?;
        let seed: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| SecretError::WrongLength {
                len: bytes.len(),
                expected: 32,
            })?;
        Ok(Self {
            key: SigningKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&seed)),
        })
    }

    #[cfg(not(feature = "ed25519"))]
    fn ed25519(_encoded: &str) -> Result<Self, SecretError> {
        Err(SecretError::FeatureDisabled { feature: "ed25519" })
    }

    /// For a `whsk_` signer, the matching `whpk_<base64>` public key to verify with.
    #[must_use]
    pub fn public_key(&self) -> Option<String> {
        match &self.key {
            SigningKey::Symmetric(_) => None,
            #[cfg(feature = "ed25519")]
            SigningKey::Ed25519(key) => Some(format!(
                "whpk_{}",
                STANDARD.encode(key.verifying_key().as_bytes())
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
                    STANDARD.encode(keys.sign(&parts).unwrap_or_default())
                )
            }
            #[cfg(feature = "ed25519")]
            SigningKey::Ed25519(key) => {
                use ed25519_dalek::Signer as _;
                let signature = key.sign(&parts.concat());
                format!("v1a,{}", STANDARD.encode(signature.to_bytes()))
            }
        }
    }

    /// The `webhook-id`, `webhook-timestamp` and `webhook-signature` headers.
    ///
    /// # Errors
    ///
    /// [`VerifyError::MalformedHeader`] when `id` cannot be a header value.
    pub fn sign(&self, id: &str, timestamp: u64, body: &[u8]) -> Result<HeaderMap, VerifyError> {
        self.sign_as(
            [&standard::ID, &standard::TIMESTAMP, &standard::SIGNATURE],
            id,
            timestamp,
            body,
        )
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
    ) -> Result<HeaderMap, VerifyError> {
        self.sign_as(
            [
                &standard::SVIX_ID,
                &standard::SVIX_TIMESTAMP,
                &standard::SVIX_SIGNATURE,
            ],
            id,
            timestamp,
            body,
        )
    }

    fn sign_as(
        &self,
        [id_header, ts_header, sig_header]: [&Header; 3],
        id: &str,
        timestamp: u64,
        body: &[u8],
    ) -> Result<HeaderMap, VerifyError> {
        let mut headers = HeaderMap::new();
        insert(&mut headers, id_header, id)?;
        insert(&mut headers, ts_header, &timestamp.to_string())?;
        insert(
            &mut headers,
            sig_header,
            &self.signature(id, timestamp, body),
        )?;
        Ok(headers)
    }
}

/// 32 hex digits (a claim token's) in the 8-4-4-4-12 form of a UUID.
fn uuid_text(hex: &str) -> String {
    let part = |range: std::ops::Range<usize>| hex.get(range).unwrap_or("0");
    [
        part(0..8),
        part(8..12),
        part(12..16),
        part(16..20),
        part(20..32),
    ]
    .join("-")
}

fn insert(headers: &mut HeaderMap, header: &Header, value: &str) -> Result<(), VerifyError> {
    let value = HeaderValue::from_str(value)
        .ok()
        .filter(|v| !v.is_empty() && v.to_str().is_ok())
        .ok_or_else(|| header.malformed("not a valid header value"))?;
    headers.insert(header.wire.clone(), value);
    Ok(())
}

/// `v0=<hex>` of `v0:{timestamp}:{body}` (Slack's and Zoom's format).
fn v0_signature(keys: &MacKeys<Hmac<Sha256>>, timestamp: u64, body: &[u8]) -> String {
    let t = timestamp.to_string();
    let tag = keys
        .sign(&[b"v0:", t.as_bytes(), b":", body])
        .unwrap_or_default();
    format!("v0={}", const_hex::encode(tag))
}

/// The `v0=` signature and the timestamp, in `signature` and `timestamp`.
fn v0_headers(
    keys: &MacKeys<Hmac<Sha256>>,
    [signature, stamp]: [&Header; 2],
    timestamp: u64,
    body: &[u8],
) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (header, value) in [
        (signature, v0_signature(keys, timestamp, body)),
        (stamp, timestamp.to_string()),
    ] {
        // Digits, hex and ASCII prefixes are always valid header values.
        let _ = insert(&mut headers, header, &value);
    }
    headers
}

macro_rules! redacted_debug {
    ($($ty:ty),*) => {$(
        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($ty), "([redacted])"))
            }
        }
    )*};
}
/// Signs requests as Slack does.
#[derive(Clone)]
pub struct SlackSigner {
    keys: MacKeys<Hmac<Sha256>>,
}

impl SlackSigner {
    /// A signer for the app's signing secret.
    ///
    /// # Errors
    ///
    /// [`SecretError`] when the secret is empty.
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, SecretError> {
        Ok(Self {
            keys: MacKeys::new([secret.as_ref()], ANY_LENGTH)?,
        })
    }

    /// The `X-Slack-Signature` value: `v0=<hex>`.
    #[must_use]
    pub fn signature(&self, timestamp: u64, body: &[u8]) -> String {
        v0_signature(&self.keys, timestamp, body)
    }

    /// `X-Slack-Signature` and `X-Slack-Request-Timestamp` for `body` sent at `timestamp`.
    #[must_use]
    pub fn sign(&self, timestamp: u64, body: &[u8]) -> HeaderMap {
        v0_headers(
            &self.keys,
            [&slack::SIGNATURE, &slack::TIMESTAMP],
            timestamp,
            body,
        )
    }
}

/// Signs requests as Square does.
#[derive(Clone)]
pub struct SquareSigner {
    keys: MacKeys<Hmac<Sha256>>,
}

impl SquareSigner {
    /// A signer for the subscription's signature key.
    ///
    /// # Errors
    ///
    /// [`SecretError`] when the key is empty.
    pub fn new(key: impl AsRef<[u8]>) -> Result<Self, SecretError> {
        Ok(Self {
            keys: MacKeys::new([key.as_ref()], ANY_LENGTH)?,
        })
    }

    /// The `x-square-hmacsha256-signature` value for `body` posted to `notification_url`.
    #[must_use]
    pub fn signature(&self, notification_url: &str, body: &[u8]) -> String {
        let tag = self
            .keys
            .sign(&[notification_url.as_bytes(), body])
            .unwrap_or_default();
        STANDARD.encode(tag)
    }

    /// The `x-square-hmacsha256-signature` header.
    ///
    /// # Errors
    ///
    /// Never in practice (base64 is always a valid header value).
    pub fn sign(&self, notification_url: &str, body: &[u8]) -> Result<HeaderMap, VerifyError> {
        let mut headers = HeaderMap::new();
        insert(
            &mut headers,
            &square::SIGNATURE,
            &self.signature(notification_url, body),
        )?;
        Ok(headers)
    }
}

/// Signs requests as Shopify does, with every header Shopify sends (its own libraries refuse a
/// request without the topic, shop domain, API version and webhook id).
#[derive(Clone)]
pub struct ShopifySigner {
    keys: MacKeys<Hmac<Sha256>>,
}

/// The API version [`ShopifySigner`] writes in `X-Shopify-API-Version`.
pub const SHOPIFY_API_VERSION: &str = "2025-10";

impl ShopifySigner {
    /// A signer for the app's client secret.
    ///
    /// # Errors
    ///
    /// [`SecretError`] when the secret is empty.
    pub fn new(client_secret: impl AsRef<[u8]>) -> Result<Self, SecretError> {
        Ok(Self {
            keys: MacKeys::new([client_secret.as_ref()], ANY_LENGTH)?,
        })
    }

    /// The `X-Shopify-Hmac-Sha256` value for `body`.
    #[must_use]
    pub fn signature(&self, body: &[u8]) -> String {
        STANDARD.encode(self.keys.sign(&[body]).unwrap_or_default())
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
    ) -> Result<HeaderMap, VerifyError> {
        let token = crate::idempotency::ClaimToken::generate();
        self.sign_delivery(topic, shop_domain, &uuid_text(token.as_str()), body)
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
    ) -> Result<HeaderMap, VerifyError> {
        let mut headers = HeaderMap::new();
        insert(&mut headers, &shopify::SIGNATURE, &self.signature(body))?;
        insert(&mut headers, &shopify::TOPIC, topic)?;
        insert(&mut headers, &shopify::SHOP_DOMAIN, shop_domain)?;
        insert(&mut headers, &shopify::API_VERSION, SHOPIFY_API_VERSION)?;
        insert(&mut headers, &shopify::WEBHOOK_ID, webhook_id)?;
        insert(&mut headers, &shopify::EVENT_ID, webhook_id)?;
        Ok(headers)
    }
}

/// Sends requests as GitLab does: the webhook's secret token in `X-Gitlab-Token` (a secret
/// token signs nothing), or, for a signing token (`whsec_<base64>`), a Standard Webhooks
/// signature; with the event name, event UUID and idempotency key headers either way.
#[derive(Clone)]
pub struct GitlabSigner {
    token: Zeroizing<Vec<u8>>,
    signing: Option<StandardSigner>,
}

impl GitlabSigner {
    /// A signer for the webhook's secret token, or its signing token (`whsec_...`).
    ///
    /// # Errors
    ///
    /// [`SecretError`] when the token is empty, or a signing token is not base64.
    pub fn new(token: impl AsRef<[u8]>) -> Result<Self, SecretError> {
        let token = token.as_ref();
        if token.is_empty() {
            return Err(SecretError::Empty);
        }
        let signing = match std::str::from_utf8(token) {
            Ok(text) if text.starts_with("whsec_") => Some(StandardSigner::new(text)?),
            _ => None,
        };
        Ok(Self {
            token: Zeroizing::new(token.to_vec()),
            signing,
        })
    }

    /// The headers of a delivery of `body` for `event` (`Push Hook`), with `uuid` as its event
    /// UUID and idempotency key, signed now when the token is a signing token.
    ///
    /// # Errors
    ///
    /// [`VerifyError::MalformedHeader`] when the token, event or uuid cannot be a header value.
    pub fn sign(&self, event: &str, uuid: &str, body: &[u8]) -> Result<HeaderMap, VerifyError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        self.sign_at(event, uuid, now, body)
    }

    /// [`sign`](Self::sign) at `timestamp` (Unix seconds; only a signing token signs it).
    ///
    /// # Errors
    ///
    /// As [`sign`](Self::sign).
    pub fn sign_at(
        &self,
        event: &str,
        uuid: &str,
        timestamp: u64,
        body: &[u8],
    ) -> Result<HeaderMap, VerifyError> {
        let mut headers = match &self.signing {
            // GitLab's webhook-id is the idempotency key.
            Some(signer) => signer.sign(uuid, timestamp, body)?,
            None => {
                let mut headers = HeaderMap::new();
                let token = HeaderValue::from_bytes(&self.token).map_err(|_| {
                    gitlab::TOKEN.malformed("the token is not a valid header value")
                })?;
                headers.insert(gitlab::TOKEN.wire.clone(), token);
                headers
            }
        };
        insert(&mut headers, &gitlab::EVENT, event)?;
        insert(&mut headers, &gitlab::EVENT_UUID, uuid)?;
        insert(&mut headers, &gitlab::IDEMPOTENCY_KEY, uuid)?;
        Ok(headers)
    }
}

/// Signs requests as Twilio does: HMAC-SHA1 under the auth token, or HMAC-SHA256 under a
/// webhook rule's shared key with [`sha256`](Self::sha256).
#[derive(Clone)]
pub struct TwilioSigner {
    keys: MacKeys<Hmac<Sha1>>,
    keys_sha256: MacKeys<Hmac<Sha256>>,
    sha256: bool,
}

impl TwilioSigner {
    /// A signer for the account's auth token (or a webhook rule's shared key).
    ///
    /// # Errors
    ///
    /// [`SecretError`] when the token is empty.
    pub fn new(auth_token: impl AsRef<[u8]>) -> Result<Self, SecretError> {
        Ok(Self {
            keys: MacKeys::new([auth_token.as_ref()], ANY_LENGTH)?,
            keys_sha256: MacKeys::new([auth_token.as_ref()], ANY_LENGTH)?,
            sha256: false,
        })
    }

    /// The same signer, signing with HMAC-SHA256 as a Twilio webhook rule with a shared key
    /// does: the signed string is unchanged, and [`sign_form`](Self::sign_form) and
    /// [`sign_json`](Self::sign_json) add
    /// `X-Twilio-Webhooks-Signature-Settings: algorithm=HMAC_SHA256`.
    #[must_use]
    pub fn sha256(mut self) -> Self {
        self.sha256 = true;
        self
    }

    /// The MAC of what `feed` writes, under the algorithm this signer uses.
    fn tag(&self, feed: impl Fn(&mut dyn FnMut(&[u8]))) -> Vec<u8> {
        use hmac::Mac as _;
        let tag = if self.sha256 {
            self.keys_sha256
                .sign_fed(|mac| feed(&mut |bytes| mac.update(bytes)))
        } else {
            self.keys
                .sign_fed(|mac| feed(&mut |bytes| mac.update(bytes)))
        };
        tag.unwrap_or_default()
    }

    /// The headers for `signature`: the signature, and the settings header under SHA-256.
    fn headers(&self, signature: &str) -> Result<HeaderMap, VerifyError> {
        let mut headers = HeaderMap::new();
        insert(&mut headers, &twilio::SIGNATURE, signature)?;
        if self.sha256 {
            insert(&mut headers, &twilio::SETTINGS, "algorithm=HMAC_SHA256")?;
        }
        Ok(headers)
    }

    /// The `X-Twilio-Signature` value for a form `body` posted to `url` (the whole URL Twilio
    /// requests, query included).
    ///
    /// # Errors
    ///
    /// [`VerifyError::MalformedHeader`] when the body has more form parameters than allowed.
    pub fn form_signature(&self, url: &str, body: &[u8]) -> Result<String, VerifyError> {
        // Checked once apart, so that the signing below cannot fail.
        twilio::feed_form(body, &mut |_: &[u8]| {})?;
        let tag = self.tag(|write| {
            write(url.as_bytes());
            // Refused above if it could be.
            let _ = twilio::feed_form(body, write);
        });
        Ok(STANDARD.encode(tag))
    }

    /// `X-Twilio-Signature` for a form `body` posted to `url`.
    ///
    /// # Errors
    ///
    /// As [`form_signature`](Self::form_signature).
    pub fn sign_form(&self, url: &str, body: &[u8]) -> Result<HeaderMap, VerifyError> {
        self.headers(&self.form_signature(url, body)?)
    }

    /// For a JSON `body` posted to `url`: the URL Twilio requests (with `bodySHA256` added to
    /// its query) and the `X-Twilio-Signature` header.
    ///
    /// # Errors
    ///
    /// Never in practice (base64 is always a valid header value).
    pub fn sign_json(&self, url: &str, body: &[u8]) -> Result<(String, HeaderMap), VerifyError> {
        use sha2::Digest as _;
        let hash = const_hex::encode(Sha256::digest(body));
        let separator = if url.contains('?') { '&' } else { '?' };
        let url = format!("{url}{separator}bodySHA256={hash}");
        let tag = self.tag(|write| write(url.as_bytes()));
        Ok((url, self.headers(&STANDARD.encode(tag))?))
    }
}

/// Signs requests as Discord does, with a key pair of the test's own (only Discord holds the
/// real private key). Feature `ed25519`.
#[cfg(feature = "ed25519")]
#[derive(Clone)]
pub struct DiscordSigner {
    key: ed25519_dalek::SigningKey,
}

#[cfg(feature = "ed25519")]
impl DiscordSigner {
    /// A signer from a 32-byte seed.
    #[must_use]
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self {
            key: ed25519_dalek::SigningKey::from_bytes(&seed),
        }
    }

    /// The public key a `DiscordVerifier` takes: 64 hex digits.
    #[must_use]
    pub fn public_key(&self) -> String {
        const_hex::encode(self.key.verifying_key().as_bytes())
    }

    /// `X-Signature-Ed25519` and `X-Signature-Timestamp` for `body` sent at `timestamp`.
    #[must_use]
    pub fn sign(&self, timestamp: u64, body: &[u8]) -> HeaderMap {
        use ed25519_dalek::Signer as _;
        let t = timestamp.to_string();
        let signature = self.key.sign(&[t.as_bytes(), body].concat());
        let mut headers = HeaderMap::new();
        let _ = insert(
            &mut headers,
            &crate::providers::discord::SIGNATURE,
            &const_hex::encode(signature.to_bytes()),
        );
        let _ = insert(&mut headers, &crate::providers::discord::TIMESTAMP, &t);
        headers
    }
}

/// Signs requests as Paddle Billing does.
#[derive(Clone)]
pub struct PaddleSigner {
    keys: MacKeys<Hmac<Sha256>>,
}

impl PaddleSigner {
    /// A signer for the notification destination's secret key (used as text).
    ///
    /// # Errors
    ///
    /// [`SecretError`] when the secret is empty.
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, SecretError> {
        Ok(Self {
            keys: MacKeys::new([secret.as_ref()], ANY_LENGTH)?,
        })
    }

    /// The `Paddle-Signature` value: `ts=<timestamp>;h1=<hex>`.
    #[must_use]
    pub fn signature(&self, timestamp: u64, body: &[u8]) -> String {
        let t = timestamp.to_string();
        let tag = self
            .keys
            .sign(&[t.as_bytes(), b":", body])
            .unwrap_or_default();
        format!("ts={t};h1={}", const_hex::encode(tag))
    }

    /// The `Paddle-Signature` header for `body` sent at `timestamp` (Unix seconds).
    #[must_use]
    pub fn sign(&self, timestamp: u64, body: &[u8]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        // Digits, hex and ASCII are always a valid header value.
        let _ = insert(
            &mut headers,
            &paddle::SIGNATURE,
            &self.signature(timestamp, body),
        );
        headers
    }
}

/// Signs requests as Linear does. Linear's timestamp is inside the body (`webhookTimestamp`,
/// Unix milliseconds): the body you sign must carry it.
#[derive(Clone)]
pub struct LinearSigner {
    keys: MacKeys<Hmac<Sha256>>,
}

impl LinearSigner {
    /// A signer for the webhook's signing secret.
    ///
    /// # Errors
    ///
    /// [`SecretError`] when the secret is empty.
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, SecretError> {
        Ok(Self {
            keys: MacKeys::new([secret.as_ref()], ANY_LENGTH)?,
        })
    }

    /// The `Linear-Signature` value: the hex HMAC-SHA256 of the body.
    #[must_use]
    pub fn signature(&self, body: &[u8]) -> String {
        const_hex::encode(self.keys.sign(&[body]).unwrap_or_default())
    }

    /// The headers of a delivery of `body` for `event` (`Issue`): `Linear-Signature`,
    /// `Linear-Event` and `Linear-Delivery` (`delivery`, a UUID).
    ///
    /// # Errors
    ///
    /// [`VerifyError::MalformedHeader`] when `event` or `delivery` cannot be a header value.
    pub fn sign(&self, event: &str, delivery: &str, body: &[u8]) -> Result<HeaderMap, VerifyError> {
        let mut headers = HeaderMap::new();
        insert(&mut headers, &linear::SIGNATURE, &self.signature(body))?;
        insert(&mut headers, &linear::EVENT, event)?;
        insert(&mut headers, &linear::DELIVERY, delivery)?;
        Ok(headers)
    }
}

/// Signs requests as Zoom does.
#[derive(Clone)]
pub struct ZoomSigner {
    keys: MacKeys<Hmac<Sha256>>,
}

impl ZoomSigner {
    /// A signer for the app's secret token.
    ///
    /// # Errors
    ///
    /// [`SecretError`] when the secret is empty.
    pub fn new(secret_token: impl AsRef<[u8]>) -> Result<Self, SecretError> {
        Ok(Self {
            keys: MacKeys::new([secret_token.as_ref()], ANY_LENGTH)?,
        })
    }

    /// The `x-zm-signature` value: `v0=<hex>`.
    #[must_use]
    pub fn signature(&self, timestamp: u64, body: &[u8]) -> String {
        v0_signature(&self.keys, timestamp, body)
    }

    /// `x-zm-signature` and `x-zm-request-timestamp` for `body` sent at `timestamp`.
    #[must_use]
    pub fn sign(&self, timestamp: u64, body: &[u8]) -> HeaderMap {
        v0_headers(
            &self.keys,
            [&zoom::SIGNATURE, &zoom::TIMESTAMP],
            timestamp,
            body,
        )
    }
}

/// Signs requests as a sender described by a [`SchemeSpec`](crate::scheme::declared::SchemeSpec)
/// does: the signature header in the declared format, and the timestamp and id headers the
/// specification reads. (A timestamp declared inside the body must already be in `body`.)
///
/// ```
/// use verihook::scheme::declared::SchemeSpec;
/// use verihook::testing::DeclaredSigner;
/// use verihook::{FixedClock, Scheme};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let spec: SchemeSpec = serde_json::from_str(r#"{
///   "name": "mux",
///   "signature": { "header": "Mux-Signature", "encoding": "hex", "separator": ",", "key": "v1" },
///   "signed": ["timestamp", { "literal": "." }, "body"],
///   "timestamp": { "source": { "entry": "t" } }
/// }"#)?;
/// let headers = DeclaredSigner::new(&spec, "SuperSecret123", None)?.sign(1_565_125_718, None, br#"{"test":"body"}"#)?;
/// assert_eq!(
///     headers["mux-signature"],
///     "t=1565125718,v1=854ece4c22acef7c66b57d4e504153bc512595e8e9c772ece2a68150548c19a7"
/// );
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct DeclaredSigner {
    scheme: crate::scheme::declared::DeclaredScheme,
    target: http::Uri,
}

impl DeclaredSigner {
    /// A signer for `spec` with `secret` (any non-empty length) and, for a specification that
    /// signs the URL, the public URL requests are posted to.
    ///
    /// # Errors
    ///
    /// [`SpecError`](crate::scheme::declared::SpecError) when the specification or the secret
    /// cannot be used.
    pub fn new(
        spec: &crate::scheme::declared::SchemeSpec,
        secret: &str,
        url: Option<&str>,
    ) -> Result<Self, crate::scheme::declared::SpecError> {
        // A signer for tests signs with any non-empty secret, as the sender would.
        let mut spec = crate::dangerous::allow_short_declared_secrets(spec.clone());
        spec.secret.min_len = 1;
        let target = url
            .and_then(|url| url.parse::<http::Uri>().ok())
            .and_then(|uri| uri.path_and_query().and_then(|pq| pq.as_str().parse().ok()))
            .unwrap_or_else(|| http::Uri::from_static("/"));
        Ok(Self {
            scheme: spec.build(&[secret], url)?.scheme,
            target,
        })
    }

    /// The headers for a `POST` of `body` at `timestamp` (Unix seconds), with `id` where the
    /// specification reads the id from a header.
    ///
    /// # Errors
    ///
    /// [`VerifyError`] when the specification signs something not given (an id) or a value
    /// cannot be a header.
    pub fn sign(
        &self,
        timestamp: u64,
        id: Option<&str>,
        body: &[u8],
    ) -> Result<HeaderMap, VerifyError> {
        self.scheme
            .sign_request(&http::Method::POST, &self.target, timestamp, id, body)
    }
}

redacted_debug!(
    DeclaredSigner,
    GithubSigner,
    StripeSigner,
    StandardSigner,
    SlackSigner,
    SquareSigner,
    ShopifySigner,
    GitlabSigner,
    TwilioSigner,
    PaddleSigner,
    LinearSigner,
    ZoomSigner
);
#[cfg(feature = "ed25519")]
redacted_debug!(DiscordSigner);
