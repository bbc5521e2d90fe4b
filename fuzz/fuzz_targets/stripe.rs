//! Stripe: the `Stripe-Signature` list (`t=...,v1=...,v0=...`), and ids read from the body.
#![no_main]

use arbitrary::Arbitrary;
use http::HeaderMap;
use libfuzzer_sys::fuzz_target;
use verihook::providers::stripe::StripeVerifier;
use verihook::testing::StripeSigner;

mod common;

#[derive(Arbitrary, Debug)]
struct Request<'a> {
    /// Start from a valid header for the body (then the fuzz bytes are appended to it).
    signed: bool,
    header: Option<&'a [u8]>,
    body: &'a [u8],
}

const SECRET: &str = "whsec_fuzz_stripe_secret";

fuzz_target!(|request: Request<'_>| {
    let mut headers = HeaderMap::new();
    if request.signed {
        headers = StripeSigner::new(SECRET)
            .unwrap()
            .sign(common::NOW, request.body);
        common::append_to(
            &mut headers,
            "stripe-signature",
            request.header.unwrap_or_default(),
        );
    } else {
        common::set(&mut headers, "stripe-signature", request.header);
    }
    let verifier = StripeVerifier::with_secrets(["whsec_another_secret", SECRET]).unwrap();
    let verified = common::exercise(&verifier, &headers, request.body);
    if request.signed && request.header.is_none() {
        assert!(verified.is_some(), "a correctly signed body verifies");
    }
});
