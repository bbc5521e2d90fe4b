//! Slack: `X-Slack-Signature` and `X-Slack-Request-Timestamp`, and the url_verification handshake.
#![no_main]

use arbitrary::Arbitrary;
use http::HeaderMap;
use libfuzzer_sys::fuzz_target;
use verihook::providers::slack::SlackVerifier;
use verihook::testing::SlackSigner;

mod common;

#[derive(Arbitrary, Debug)]
struct Request<'a> {
    /// Start from valid headers for the body (then the fuzz bytes are appended to the signature).
    signed: bool,
    signature: Option<&'a [u8]>,
    timestamp: Option<&'a [u8]>,
    body: &'a [u8],
}

const SECRET: &str = "fuzz-slack-signing-secret";

fuzz_target!(|request: Request<'_>| {
    let mut headers = HeaderMap::new();
    if request.signed {
        headers = SlackSigner::new(SECRET)
            .unwrap()
            .sign(common::NOW, request.body);
        common::append_to(
            &mut headers,
            "x-slack-signature",
            request.signature.unwrap_or_default(),
        );
    } else {
        common::set(&mut headers, "x-slack-signature", request.signature);
        common::set(&mut headers, "x-slack-request-timestamp", request.timestamp);
    }
    let verifier = SlackVerifier::with_secrets(["another-slack-secret", SECRET]).unwrap();
    common::exercise(&verifier, &headers, request.body);
});
