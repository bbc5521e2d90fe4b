//! Switches that weaken verification. Each one is here, and only here, so a reviewer can find
//! every use with `grep dangerous`.

use crate::scheme::github::GithubVerifier;
use crate::scheme::{BuildArgs, Builtin, Scheme};
use crate::{VerifyError, VerifyOptions};

/// Also accepts GitHub's legacy `X-Hub-Signature: sha1=<hex>` header, when (and only when) the
/// request has no `X-Hub-Signature-256` header.
///
/// HMAC-SHA1 is still unbroken as a MAC, but GitHub keeps it only for old receivers; turn this
/// on only for a GitHub Enterprise Server that sends no SHA-256 signature.
///
/// ```
/// use verihook::{dangerous, testing::GithubSigner, GithubVerifier};
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
/// use verihook::{dangerous, scheme, testing::GithubSigner, VerifyOptions};
/// assert!(scheme::builtin("github").unwrap().build(&["short"], None, VerifyOptions::default()).is_err());
/// let github = dangerous::allow_short_secrets(scheme::builtin("github").unwrap(), &["short"], None, VerifyOptions::default())?;
/// # Ok::<(), verihook::VerifyError>(())
/// ```
///
/// # Errors
///
/// As [`Builtin::build`], except for length: an empty secret is still refused.
pub fn allow_short_secrets(
    builtin: &Builtin,
    secrets: &[&str],
    url: Option<&str>,
    options: VerifyOptions,
) -> Result<Box<dyn Scheme>, VerifyError> {
    (builtin.build)(
        BuildArgs {
            secrets,
            url,
            short_ok: true,
        },
        options,
    )
}
