//! Secrets and keys as users paste them: every constructor takes arbitrary text and either
//! builds or answers `bad_secret`, and claim tokens parse back or are refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use verihook::idempotency::ClaimToken;
use verihook::testing::{GithubSigner, StandardSigner, StripeSigner};
use verihook::{
    providers::github::GithubVerifier, providers::standard::StandardVerifier,
    providers::stripe::StripeVerifier,
};

fuzz_target!(|text: &str| {
    for result in [
        GithubVerifier::new(text).map(|v| format!("{v:?}")),
        StripeVerifier::new(text).map(|v| format!("{v:?}")),
        StandardVerifier::new(text).map(|v| format!("{v:?}")),
    ] {
        if let Err(err) = result {
            assert_eq!(err.code(), "bad_secret");
        }
    }
    // Every built-in scheme by name, with the text as its key and as its public URL.
    for builtin in verihook::providers::ALL {
        let options = verihook::scheme::VerifyOptions::default();
        for url in [None, Some(text), Some("https://example.com/hook")] {
            if let Err(err) = builtin.build(&[text], url, options.clone()) {
                assert_eq!(err.code(), "bad_secret");
            }
        }
    }
    let _ = GithubSigner::new(text).map(|s| s.sign(b"{}"));
    let _ = StripeSigner::new(text).map(|s| s.sign(1, b"{}"));
    if let Ok(signer) = StandardSigner::new(text) {
        let _ = signer.sign("msg_1", 1, b"{}");
        let _ = signer.public_key();
    }
    if let Some(token) = ClaimToken::parse(text) {
        assert_eq!(token.as_str(), text);
    }
});
