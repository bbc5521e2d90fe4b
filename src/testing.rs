//! Signers that produce correctly signed requests, for testing webhook handlers.
//!
//! Each signer takes key material exactly as the provider issues it and returns the headers the
//! provider would send. The verifiers accept them, and so do the providers' own SDKs. Use them
//! to unit-test a handler without a network or a real provider (each signer lives with its
//! provider, `verihook::providers::github::GithubSigner`, and is named here too):
//!
//! ```
//! use verihook::testing::GithubSigner;
//! use verihook::providers::github::GithubVerifier;
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

mod fixture;
mod signed;
pub use crate::sample::TEST_URL;
pub use fixture::{Fixture, FixtureError, FixtureRequest};
pub use signed::{signed_event, SignedRequest};

#[cfg(feature = "discord")]
#[cfg_attr(docsrs, doc(cfg(feature = "discord")))]
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

use http::HeaderMap;

use crate::error::VerifyError;

/// Signs requests as a sender described by a [`SchemeSpec`](crate::scheme::declared::SchemeSpec)
/// does: the signature header in the declared format, and the timestamp and id headers the
/// specification reads. (A timestamp declared inside the body must already be in `body`.)
///
/// ```
/// use verihook::scheme::declared::SchemeSpec;
/// use verihook::testing::DeclaredSigner;
/// use verihook::{scheme::FixedClock, Scheme};
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

crate::sample::redacted_debug!(DeclaredSigner);
