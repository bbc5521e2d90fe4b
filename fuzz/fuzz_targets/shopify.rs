//! Shopify: `X-Shopify-Hmac-Sha256` over the body, with the reported id and topic headers.
#![no_main]

use arbitrary::Arbitrary;
use http::HeaderMap;
use libfuzzer_sys::fuzz_target;
use verihook::providers::shopify::ShopifyVerifier;
use verihook::testing::ShopifySigner;

mod common;

#[derive(Arbitrary, Debug)]
struct Request<'a> {
    signed: bool,
    signature: Option<&'a [u8]>,
    topic: Option<&'a [u8]>,
    event_id: Option<&'a [u8]>,
    body: &'a [u8],
}

const SECRET: &str = "fuzz-shopify-client-secret";

fuzz_target!(|request: Request<'_>| {
    let mut headers = HeaderMap::new();
    if request.signed {
        headers = ShopifySigner::new(SECRET)
            .unwrap()
            .sign_delivery("orders/create", "fuzz.myshopify.com", "w-1", request.body)
            .unwrap();
        common::append_to(
            &mut headers,
            "x-shopify-hmac-sha256",
            request.signature.unwrap_or_default(),
        );
    } else {
        common::set(&mut headers, "x-shopify-hmac-sha256", request.signature);
        common::set(&mut headers, "x-shopify-topic", request.topic);
        common::set(&mut headers, "x-shopify-event-id", request.event_id);
    }
    let verifier = ShopifyVerifier::new(SECRET).unwrap();
    let verified = common::exercise(&verifier, &headers, request.body);
    if request.signed && request.signature.is_none() {
        assert!(verified.is_some(), "a correctly signed body verifies");
    }
});
