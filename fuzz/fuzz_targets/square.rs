//! Square: `x-square-hmacsha256-signature` over the notification URL and the body, on any path.
#![no_main]

use arbitrary::Arbitrary;
use http::HeaderMap;
use libfuzzer_sys::fuzz_target;
use verihook::providers::square::SquareVerifier;
use verihook::testing::SquareSigner;

mod common;

#[derive(Arbitrary, Debug)]
struct Request<'a> {
    signed: bool,
    signature: Option<&'a [u8]>,
    target: &'a str,
    body: &'a [u8],
}

const KEY: &str = "fuzz-square-signature-key";
const URL: &str = "https://example.com/webhooks/square";

fuzz_target!(|request: Request<'_>| {
    let mut headers = HeaderMap::new();
    let target = if request.signed {
        "/webhooks/square"
    } else {
        request.target
    };
    if request.signed {
        headers = SquareSigner::new(KEY)
            .unwrap()
            .sign(URL, request.body)
            .unwrap();
        common::append_to(
            &mut headers,
            "x-square-hmacsha256-signature",
            request.signature.unwrap_or_default(),
        );
    } else {
        common::set(
            &mut headers,
            "x-square-hmacsha256-signature",
            request.signature,
        );
    }
    let verifier = SquareVerifier::new(KEY, URL).unwrap();
    let verified = common::exercise_at(&verifier, target, &headers, request.body);
    if request.signed && request.signature.is_none() {
        assert!(verified.is_some(), "a correctly signed body verifies");
    }
});
