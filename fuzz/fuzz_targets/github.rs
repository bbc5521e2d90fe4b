//! GitHub: `X-Hub-Signature-256`, the legacy `X-Hub-Signature`, delivery id and event headers.
#![no_main]

use arbitrary::Arbitrary;
use http::HeaderMap;
use libfuzzer_sys::fuzz_target;
use verihook::dangerous::accept_legacy_github_sha1;
use verihook::providers::github::GithubVerifier;
use verihook::testing::GithubSigner;

mod common;

#[derive(Arbitrary, Debug)]
struct Request<'a> {
    /// Start from a valid signature for the body (then the fuzz bytes are appended to it).
    signed: bool,
    signature: Option<&'a [u8]>,
    legacy: Option<&'a [u8]>,
    delivery: Option<&'a [u8]>,
    event: Option<&'a [u8]>,
    body: &'a [u8],
}

const SECRET: &str = "fuzz-github-secret";

fuzz_target!(|request: Request<'_>| {
    let mut headers = HeaderMap::new();
    if request.signed {
        headers = GithubSigner::new(SECRET).unwrap().sign(request.body);
        common::append_to(
            &mut headers,
            "x-hub-signature-256",
            request.signature.unwrap_or_default(),
        );
    } else {
        common::set(&mut headers, "x-hub-signature-256", request.signature);
    }
    common::set(&mut headers, "x-hub-signature", request.legacy);
    common::set(&mut headers, "x-github-delivery", request.delivery);
    common::set(&mut headers, "x-github-event", request.event);
    let verifier = GithubVerifier::with_secrets(["another-secret", SECRET]).unwrap();
    let verified = common::exercise(&verifier, &headers, request.body);
    // (With fuzzed delivery or event headers it may be refused: an empty delivery id, say, is
    // malformed, since it would make every such event share one idempotency key.)
    if request.signed
        && request.signature.is_none()
        && request.delivery.is_none()
        && request.event.is_none()
    {
        assert!(verified.is_some(), "a correctly signed body verifies");
    }
    common::exercise(&accept_legacy_github_sha1(verifier), &headers, request.body);
});
