//! Discord: `X-Signature-Ed25519` and `X-Signature-Timestamp`, and the PING handshake.
#![no_main]

use arbitrary::Arbitrary;
use http::HeaderMap;
use libfuzzer_sys::fuzz_target;
use verihook::providers::discord::DiscordVerifier;
use verihook::testing::DiscordSigner;

mod common;

#[derive(Arbitrary, Debug)]
struct Request<'a> {
    signed: bool,
    signature: Option<&'a [u8]>,
    timestamp: Option<&'a [u8]>,
    body: &'a [u8],
}

fuzz_target!(|request: Request<'_>| {
    let signer = DiscordSigner::from_seed([3; 32]);
    let mut headers = HeaderMap::new();
    if request.signed {
        headers = signer.sign(common::NOW, request.body);
        common::append_to(
            &mut headers,
            "x-signature-ed25519",
            request.signature.unwrap_or_default(),
        );
    } else {
        common::set(&mut headers, "x-signature-ed25519", request.signature);
        common::set(&mut headers, "x-signature-timestamp", request.timestamp);
    }
    let verifier = DiscordVerifier::new(&signer.public_key()).unwrap();
    common::exercise(&verifier, &headers, request.body);
});
