//! Twilio: `X-Twilio-Signature` over the URL and the sorted form parameters of any body, and
//! `bodySHA256` in any query; HMAC-SHA256 and any `X-Twilio-Webhooks-Signature-Settings`.
#![no_main]

use arbitrary::Arbitrary;
use http::HeaderMap;
use libfuzzer_sys::fuzz_target;
use verihook::providers::twilio::TwilioVerifier;
use verihook::testing::TwilioSigner;

mod common;

#[derive(Arbitrary, Debug)]
struct Request<'a> {
    signed: bool,
    sha256: bool,
    signature: Option<&'a [u8]>,
    settings: Option<&'a [u8]>,
    query: &'a str,
    body: &'a [u8],
}

const TOKEN: &str = "fuzz-twilio-auth-token";
const URL: &str = "https://example.com/webhooks/twilio";

fuzz_target!(|request: Request<'_>| {
    let mut headers = HeaderMap::new();
    let target = format!("/webhooks/twilio?{}", request.query);
    if request.signed {
        let signer = TwilioSigner::new(TOKEN).unwrap();
        let signer = if request.sha256 {
            signer.sha256()
        } else {
            signer
        };
        if let Ok(signed) = signer.sign_form(&format!("{URL}?{}", request.query), request.body) {
            headers = signed;
        }
        common::append_to(
            &mut headers,
            "x-twilio-signature",
            request.signature.unwrap_or_default(),
        );
    } else {
        common::set(&mut headers, "x-twilio-signature", request.signature);
    }
    if let Some(settings) = request.settings {
        if headers.contains_key("x-twilio-webhooks-signature-settings") {
            common::append_to(
                &mut headers,
                "x-twilio-webhooks-signature-settings",
                settings,
            );
        } else {
            common::set(
                &mut headers,
                "x-twilio-webhooks-signature-settings",
                Some(settings),
            );
        }
    }
    let verifier = TwilioVerifier::with_secrets(["another-twilio-token", TOKEN], URL).unwrap();
    common::exercise_at(&verifier, &target, &headers, request.body);
});
