//! Paddle: `Paddle-Signature: ts=..;h1=..` over `{ts}:{body}`.
#![no_main]

use arbitrary::Arbitrary;
use http::HeaderMap;
use libfuzzer_sys::fuzz_target;
use verihook::providers::paddle::PaddleVerifier;
use verihook::testing::PaddleSigner;

mod common;

#[derive(Arbitrary, Debug)]
struct Request<'a> {
    /// Start from a valid header for the body (then the fuzz bytes are appended to it).
    signed: bool,
    signature: Option<&'a [u8]>,
    body: &'a [u8],
}

const SECRET: &str = "pdl_ntfset_fuzz_secret_key";

fuzz_target!(|request: Request<'_>| {
    let mut headers = HeaderMap::new();
    if request.signed {
        headers = PaddleSigner::new(SECRET)
            .unwrap()
            .sign(common::NOW, request.body);
        common::append_to(
            &mut headers,
            "paddle-signature",
            request.signature.unwrap_or_default(),
        );
    } else {
        common::set(&mut headers, "paddle-signature", request.signature);
    }
    let verifier = PaddleVerifier::with_secrets(["pdl_ntfset_another_key", SECRET]).unwrap();
    let verified = common::exercise(&verifier, &headers, request.body);
    if request.signed && request.signature.is_none() {
        assert!(verified.is_some(), "a correctly signed body verifies");
    }
});
