//! Linear: `Linear-Signature` over the body, then the body's signed `webhookTimestamp`.
#![no_main]

use arbitrary::Arbitrary;
use http::HeaderMap;
use libfuzzer_sys::fuzz_target;
use verihook::providers::linear::LinearVerifier;
use verihook::testing::LinearSigner;

mod common;

#[derive(Arbitrary, Debug)]
struct Request<'a> {
    /// Sign the body (then the fuzz bytes are appended to the signature).
    signed: bool,
    /// Start the body with a `webhookTimestamp` this many ms from the fuzzing clock's now,
    /// so the bytes that follow are parsed as the rest of a signed object.
    timestamp_offset: Option<i32>,
    signature: Option<&'a [u8]>,
    delivery: Option<&'a [u8]>,
    body: &'a [u8],
}

const SECRET: &str = "lin_wh_fuzz_signing_secret";

fuzz_target!(|request: Request<'_>| {
    let body = match request.timestamp_offset {
        Some(offset) => {
            let millis = (i64::try_from(common::NOW).unwrap() * 1000 + i64::from(offset)).max(0);
            let mut body = format!("{{\"webhookTimestamp\":{millis},").into_bytes();
            body.extend_from_slice(request.body);
            body
        }
        None => request.body.to_vec(),
    };
    let mut headers = HeaderMap::new();
    if request.signed {
        headers = LinearSigner::new(SECRET)
            .unwrap()
            .sign("Issue", "234d1a4e-b617-4388-90fe-adc3633d6b72", &body)
            .unwrap();
        common::append_to(
            &mut headers,
            "linear-signature",
            request.signature.unwrap_or_default(),
        );
    } else {
        common::set(&mut headers, "linear-signature", request.signature);
    }
    common::set(&mut headers, "linear-delivery", request.delivery);
    let verifier = LinearVerifier::with_secrets(["lin_wh_another_secret", SECRET]).unwrap();
    common::exercise(&verifier, &headers, &body);
});
