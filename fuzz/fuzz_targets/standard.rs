//! Standard Webhooks (and Svix's header names): `webhook-id`, `webhook-timestamp` and the
//! space-separated `webhook-signature` list, with HMAC (`v1`) and ed25519 (`v1a`) keys.
#![no_main]

use arbitrary::Arbitrary;
use http::HeaderMap;
use libfuzzer_sys::fuzz_target;
use verihook::providers::standard::StandardVerifier;
use verihook::testing::StandardSigner;

mod common;

#[derive(Arbitrary, Debug)]
struct Request<'a> {
    /// Sign with the HMAC key (0), the ed25519 key (1), or not at all; the fuzz signature
    /// bytes are then appended to the valid list.
    signer: u8,
    /// Use Svix's `svix-*` header names.
    svix: bool,
    id: Option<&'a [u8]>,
    timestamp: Option<&'a [u8]>,
    signature: Option<&'a [u8]>,
    body: &'a [u8],
}

const HMAC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SIGNING_KEY: &str = "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=";

fuzz_target!(|request: Request<'_>| {
    let hmac = StandardSigner::new(HMAC_SECRET).unwrap();
    let ed25519 = StandardSigner::new(SIGNING_KEY).unwrap();
    let public_key = ed25519.public_key().unwrap();
    let id = request.id.and_then(|id| std::str::from_utf8(id).ok());
    let signer = match request.signer {
        0 => Some(&hmac),
        1 => Some(&ed25519),
        _ => None,
    };
    let (mut headers, signed) = match (signer, id) {
        (Some(signer), Some(id)) => match signer.sign(id, common::NOW, request.body) {
            Ok(headers) => (headers, true),
            Err(_) => (HeaderMap::new(), false),
        },
        _ => (HeaderMap::new(), false),
    };
    if signed {
        common::append_to(
            &mut headers,
            "webhook-signature",
            request.signature.unwrap_or_default(),
        );
    } else {
        common::set(&mut headers, "webhook-id", request.id);
        common::set(&mut headers, "webhook-timestamp", request.timestamp);
        common::set(&mut headers, "webhook-signature", request.signature);
    }
    if request.svix {
        let renamed: HeaderMap = headers
            .iter()
            .filter_map(|(name, value)| {
                let svix = name.as_str().replacen("webhook-", "svix-", 1);
                Some((
                    http::HeaderName::from_bytes(svix.as_bytes()).ok()?,
                    value.clone(),
                ))
            })
            .collect();
        headers = renamed;
    }
    let verifier = StandardVerifier::with_secrets([HMAC_SECRET, public_key.as_str()]).unwrap();
    let verified = common::exercise(&verifier, &headers, request.body);
    if signed && request.signature.is_none() {
        assert!(verified.is_some(), "a correctly signed request verifies");
    }
});
