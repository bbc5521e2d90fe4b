//! Zoom: `x-zm-signature` and `x-zm-request-timestamp`, and the URL validation handshake.
#![no_main]

use arbitrary::Arbitrary;
use http::HeaderMap;
use libfuzzer_sys::fuzz_target;
use verihook::providers::zoom::ZoomVerifier;
use verihook::testing::ZoomSigner;

mod common;

#[derive(Arbitrary, Debug)]
struct Request<'a> {
    /// Start from valid headers for the body (then the fuzz bytes are appended to the signature).
    signed: bool,
    /// Make the body a URL validation with this plain token (the handshake path).
    validation: Option<&'a str>,
    signature: Option<&'a [u8]>,
    timestamp: Option<&'a [u8]>,
    body: &'a [u8],
}

const SECRET: &str = "zoom_fuzz_secret_token";

fuzz_target!(|request: Request<'_>| {
    let body = match request.validation {
        Some(token) => serde_json::json!({
            "event": "endpoint.url_validation",
            "payload": { "plainToken": token },
        })
        .to_string()
        .into_bytes(),
        None => request.body.to_vec(),
    };
    let mut headers = HeaderMap::new();
    if request.signed {
        headers = ZoomSigner::new(SECRET).unwrap().sign(common::NOW, &body);
        common::append_to(
            &mut headers,
            "x-zm-signature",
            request.signature.unwrap_or_default(),
        );
    } else {
        common::set(&mut headers, "x-zm-signature", request.signature);
        common::set(&mut headers, "x-zm-request-timestamp", request.timestamp);
    }
    let verifier = ZoomVerifier::with_secrets(["zoom_another_secret", SECRET]).unwrap();
    common::exercise(&verifier, &headers, &body);
});
