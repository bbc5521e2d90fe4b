//! Declared schemes: every example specification on arbitrary headers and bodies, from scratch
//! and from a valid signature with bytes appended; and specifications read from arbitrary JSON.
#![no_main]

use arbitrary::Arbitrary;
use http::HeaderMap;
use libfuzzer_sys::fuzz_target;
use verihook::scheme::declared::SchemeSpec;
use verihook::testing::DeclaredSigner;

mod common;

const SPECS: [&str; 9] = [
    include_str!("../../examples/schemes/mux.json"),
    include_str!("../../examples/schemes/hubspot-v3.json"),
    include_str!("../../examples/schemes/sanity.json"),
    include_str!("../../examples/schemes/coinbase-commerce.json"),
    include_str!("../../examples/schemes/workos.json"),
    include_str!("../../examples/schemes/github.json"),
    include_str!("../../examples/schemes/stripe.json"),
    include_str!("../../examples/schemes/slack.json"),
    include_str!("../../examples/schemes/paddle.json"),
];

/// Each specification's signature header, in the order of `SPECS`.
const HEADERS: [&str; 9] = [
    "mux-signature",
    "x-hubspot-signature-v3",
    "sanity-webhook-signature",
    "x-cc-webhook-signature",
    "workos-signature",
    "x-hub-signature-256",
    "stripe-signature",
    "x-slack-signature",
    "paddle-signature",
];

const SECRET: &str = "fuzz-declared-secret";
const URL: &str = "https://hooks.example.com/webhooks/fuzz";

#[derive(Arbitrary, Debug)]
struct Request<'a> {
    spec: u8,
    signed: bool,
    signature: Option<&'a [u8]>,
    timestamp: Option<&'a [u8]>,
    target: &'a str,
    body: &'a [u8],
    /// Read as a specification: it must build or be refused, never panic.
    spec_text: &'a [u8],
}

fuzz_target!(|request: Request<'_>| {
    if let Ok(spec) = serde_json::from_slice::<SchemeSpec>(request.spec_text) {
        let _ = spec.build(&[SECRET], Some(URL));
    }
    let which = usize::from(request.spec) % SPECS.len();
    let spec: SchemeSpec = serde_json::from_str(SPECS[which]).unwrap();
    let scheme = spec
        .build(&["another-declared-secret", SECRET], Some(URL))
        .unwrap();
    let header = HEADERS[which];
    assert!(spec.signature.header.eq_ignore_ascii_case(header));
    let mut headers = HeaderMap::new();
    if request.signed {
        headers = DeclaredSigner::new(&spec, SECRET, Some(URL))
            .unwrap()
            .sign(common::NOW, Some("fuzz-id"), request.body)
            .unwrap();
        common::append_to(&mut headers, header, request.signature.unwrap_or_default());
    } else {
        common::set(&mut headers, header, request.signature);
        common::set(
            &mut headers,
            "x-hubspot-request-timestamp",
            request.timestamp,
        );
        common::set(&mut headers, "x-slack-request-timestamp", request.timestamp);
    }
    common::exercise_at(&scheme, request.target, &headers, request.body);
});
