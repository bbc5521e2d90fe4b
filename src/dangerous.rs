//! Switches that weaken verification. Each one is here, and only here, so a reviewer can find
//! every use with `grep dangerous`.

use crate::providers::github::GithubVerifier;

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
