//! Signers that produce correctly signed requests, for testing webhook handlers.
//!
//! Each signer takes key material exactly as the provider issues it and returns the headers the
//! provider would send. The verifiers accept them, and so do the providers' own SDKs. Use them
//! to unit-test a handler without a network or a real provider (each signer lives with its
//! provider, `verihook::providers::github::GithubSigner`, and is named here too):
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

#[cfg(feature = "ed25519")]
#[cfg_attr(docsrs, doc(cfg(feature = "ed25519")))]
pub use crate::providers::discord::DiscordSigner;
pub use crate::providers::github::GithubSigner;
pub use crate::providers::gitlab::GitlabSigner;
pub use crate::providers::linear::LinearSigner;
pub use crate::providers::paddle::PaddleSigner;
pub use crate::providers::shopify::{ShopifySigner, SHOPIFY_API_VERSION};
pub use crate::providers::slack::SlackSigner;
pub use crate::providers::square::SquareSigner;
pub use crate::providers::standard::StandardSigner;
pub use crate::providers::stripe::StripeSigner;
pub use crate::providers::twilio::TwilioSigner;
pub use crate::providers::zoom::ZoomSigner;

use std::time::{SystemTime, UNIX_EPOCH};

use hmac::Hmac;
use http::{HeaderMap, HeaderValue};
use serde_json::Value;
use sha2::Sha256;

use crate::error::VerifyError;
use crate::scheme::MacKeys;
use crate::verify::Header;

/// Signers take any non-empty secret: they sign what the provider would, and some providers
/// (GitHub) let users pick any secret. The verifiers keep their minimum lengths, which
/// [`dangerous::allow_short_secrets`](crate::dangerous::allow_short_secrets) lifts.
pub(crate) const ANY_LENGTH: usize = 1;

/// 32 hex digits (a claim token's) in the 8-4-4-4-12 form of a UUID.
pub(crate) fn uuid_text(hex: &str) -> String {
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

pub(crate) fn insert(
    headers: &mut HeaderMap,
    header: &Header,
    value: &str,
) -> Result<(), VerifyError> {
    let value = HeaderValue::from_str(value)
        .ok()
        .filter(|v| !v.is_empty() && v.to_str().is_ok())
        .ok_or_else(|| header.malformed("not a valid header value"))?;
    headers.insert(header.wire.clone(), value);
    Ok(())
}

/// `v0=<hex>` of `v0:{timestamp}:{body}` (Slack's and Zoom's format).
pub(crate) fn v0_signature(keys: &MacKeys<Hmac<Sha256>>, timestamp: u64, body: &[u8]) -> String {
    let t = timestamp.to_string();
    let tag = keys
        .sign(&[b"v0:", t.as_bytes(), b":", body])
        .unwrap_or_default();
    format!("v0={}", const_hex::encode(tag))
}

/// The `v0=` signature and the timestamp, in `signature` and `timestamp`.
pub(crate) fn v0_headers(
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

/// A `Debug` that shows a signer's type and never its key.
macro_rules! redacted_debug {
    ($($ty:ty),*) => {$(
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($ty), "([redacted])"))
            }
        }
    )*};
}
pub(crate) use redacted_debug;

/// The current time, Unix seconds.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// The current time, Unix milliseconds.
pub(crate) fn unix_now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}

/// `value` as JSON bytes.
pub(crate) fn to_vec(value: &Value) -> Vec<u8> {
    // A `Value` always serialises.
    serde_json::to_vec(value).unwrap_or_default()
}

/// `value` with `name` set to `member` when given and not already there (an object only).
pub(crate) fn with_member(mut value: Value, name: &str, member: Option<Value>) -> Value {
    if let (Value::Object(members), Some(member)) = (&mut value, member) {
        members.entry(name).or_insert(member);
    }
    value
}

/// Each top-level member of `payload` as a form parameter (strings as they are, other values
/// as JSON text).
pub(crate) fn form_body(payload: &Value) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    if let Value::Object(members) = payload {
        for (name, value) in members {
            match value {
                Value::String(text) => form.append_pair(name, text),
                other => form.append_pair(name, &other.to_string()),
            };
        }
    }
    form.finish()
}

pub(crate) use signed::rfc3339;

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

redacted_debug!(DeclaredSigner);
