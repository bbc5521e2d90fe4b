//! Switches that weaken verification. Each one is here, and only here, so a reviewer can find
//! every use with `grep dangerous`.

use std::time::SystemTime;

use crate::diagnose::Explainer;
use crate::event::Verified;
use crate::providers::github::GithubVerifier;
use crate::providers::Provider;
use crate::request::WebhookRequest;
use crate::scheme::declared::SchemeSpec;
use crate::scheme::verifier::Verifier;
use crate::{scheme::VerifyOptions, VerifyError};

/// Also accepts GitHub's legacy `X-Hub-Signature: sha1=<hex>` header, when (and only when) the
/// request has no `X-Hub-Signature-256` header.
///
/// HMAC-SHA1 is still unbroken as a MAC, but GitHub keeps it only for old receivers; turn this
/// on only for a GitHub Enterprise Server that sends no SHA-256 signature.
///
/// ```
/// use verihook::{dangerous, testing::GithubSigner, providers::github::GithubVerifier};
/// # fn main() -> Result<(), verihook::VerifyError> {
/// let mut headers = GithubSigner::new("legacy-secret")?.sign(b"{}");
/// headers.remove("x-hub-signature-256");
/// let strict = GithubVerifier::new("legacy-secret")?;
/// assert_eq!(strict.verify(&headers, "{}".into()).unwrap_err().code(), "missing_header");
/// let legacy = dangerous::accept_legacy_github_sha1(strict);
/// assert!(legacy.verify(&headers, "{}".into()).is_ok());
/// # Ok(()) }
/// ```
#[must_use]
pub fn accept_legacy_github_sha1(verifier: GithubVerifier) -> GithubVerifier {
    verifier.set_legacy_sha1(true)
}

/// Builds a built-in scheme accepting secrets shorter than its minimum (any non-empty secret).
///
/// GitHub lets users pick any webhook secret, so an old endpoint may have a short one that
/// the normal constructors refuse. A short secret can be guessed offline from one captured
/// request: rotate it as soon as you can.
///
/// ```
/// use verihook::{dangerous, providers, testing::GithubSigner, scheme::VerifyOptions};
/// assert!(providers::find("github").unwrap().build(&["short"], None, VerifyOptions::default()).is_err());
/// let github = dangerous::allow_short_secrets(providers::find("github").unwrap(), &["short"], None, VerifyOptions::default())?;
/// # Ok::<(), verihook::VerifyError>(())
/// ```
///
/// # Errors
///
/// As [`Provider::build`], except for length: an empty secret is still refused.
pub fn allow_short_secrets(
    builtin: &Provider,
    secrets: &[&str],
    url: Option<&str>,
    options: VerifyOptions,
) -> Result<Verifier, VerifyError> {
    builtin.build_short_ok(secrets, url, options)
}

/// Lets a declared scheme accept secrets shorter than 8 bytes, down to its `secret.min_len`
/// (at least 1): sets [`DangerousSpec::short_secrets`](crate::scheme::declared::DangerousSpec::short_secrets).
///
/// For a sender whose secrets really are that short; rotate to a longer one as soon as you can.
///
/// ```
/// use verihook::dangerous;
/// use verihook::scheme::declared::{Encoding, SchemeSpec, SignatureSpec};
/// let mut spec = SchemeSpec::new("acme", SignatureSpec::header("X-Sig", Encoding::Hex));
/// spec.secret.min_len = 4;
/// assert!(spec.build(&["four"], None).is_err());
/// assert!(dangerous::allow_short_declared_secrets(spec).build(&["four"], None).is_ok());
/// ```
#[must_use]
pub fn allow_short_declared_secrets(mut spec: SchemeSpec) -> SchemeSpec {
    spec.dangerous.short_secrets = true;
    spec
}

/// Lets a declared scheme's `tolerance_secs` exceed [`MAX_TOLERANCE_SECS`](crate::scheme::declared::MAX_TOLERANCE_SECS): sets
/// [`DangerousSpec::long_tolerance`](crate::scheme::declared::DangerousSpec::long_tolerance). A captured request can be replayed for that long.
///
/// ```
/// use std::time::Duration;
/// use verihook::dangerous;
/// use verihook::scheme::declared::{Encoding, SchemeSpec, SignatureSpec};
/// let spec = SchemeSpec::new("acme", SignatureSpec::header("X-Sig", Encoding::Hex))
///     .tolerance(Duration::from_secs(86_400));
/// assert!(spec.build(&["acme-secret-1"], None).is_err());
/// assert!(dangerous::allow_long_tolerance(spec).build(&["acme-secret-1"], None).is_ok());
/// ```
#[must_use]
pub fn allow_long_tolerance(mut spec: SchemeSpec) -> SchemeSpec {
    spec.dangerous.long_tolerance = true;
    spec
}

/// Lets a declared scheme sign two variable pieces (id, URL, body, header) with nothing between
/// them, as some senders do: sets [`DangerousSpec::adjacent_pieces`](crate::scheme::declared::DangerousSpec::adjacent_pieces). Bytes can then move from
/// one piece into the other under the same signature.
///
/// ```
/// use verihook::dangerous;
/// use verihook::scheme::declared::{Encoding, Piece, SchemeSpec, SignatureSpec};
/// let spec = SchemeSpec::new("acme", SignatureSpec::header("X-Sig", Encoding::Hex))
///     .signed([Piece::header("X-Acme-Id"), Piece::Body]);
/// assert!(spec.build(&["acme-secret-1"], None).is_err());
/// assert!(dangerous::allow_adjacent_pieces(spec).build(&["acme-secret-1"], None).is_ok());
/// ```
#[must_use]
pub fn allow_adjacent_pieces(mut spec: SchemeSpec) -> SchemeSpec {
    spec.dangerous.adjacent_pieces = true;
    spec
}

/// Verifies as [`Explainer::verify`] does, but accepts configured secrets shorter than the
/// scheme's minimum (any non-empty secret), as a tool that tests with short secrets needs.
///
/// ```
/// use std::time::SystemTime;
/// use verihook::diagnose::Explainer;
/// use verihook::{dangerous, providers, testing::GithubSigner, RequestHead, scheme::VerifyOptions, WebhookRequest};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let headers = GithubSigner::new("short")?.sign(b"{}");
/// let body = bytes::Bytes::from_static(b"{}");
/// let request = WebhookRequest::new(RequestHead::post(&headers), &body);
/// let github = providers::find("github").ok_or("no github")?;
/// let explainer = Explainer::provider(github, &["short"], None, VerifyOptions::default());
/// assert_eq!(explainer.verify(&request, SystemTime::now()).unwrap_err().code(), "bad_secret");
/// assert!(dangerous::verify_with_short_secrets(&explainer, &request, SystemTime::now()).is_ok());
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// As [`Explainer::verify`], except for a secret's length.
pub fn verify_with_short_secrets(
    explainer: &Explainer,
    request: &WebhookRequest<'_>,
    now: SystemTime,
) -> Result<Verified, VerifyError> {
    explainer.verify_lenient(request, now)
}
