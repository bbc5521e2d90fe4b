//! The providers' published vectors (`tests/vectors/*.json`): their shape, and the verifier and
//! request each case describes. Shared by `tests/vectors.rs` and `tests/routing.rs`.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)] // shared test code: each test file uses its part

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use verihook::scheme::Verifier;
use verihook::{scheme::FixedClock, scheme::VerifyOptions};

#[derive(Deserialize)]
pub struct File {
    pub source: String,
    /// For a declared scheme's vectors: its specification in `examples/schemes/`.
    #[serde(default)]
    pub spec: Option<String>,
    pub cases: Vec<Case>,
}

#[derive(Deserialize)]
pub struct Case {
    pub name: String,
    #[serde(default)]
    pub secrets: Vec<String>,
    #[serde(default)]
    pub signing_key: Option<String>,
    #[serde(default)]
    pub ed25519: bool,
    #[serde(default)]
    pub legacy_sha1: bool,
    /// The published secret is shorter than verihook's minimum.
    #[serde(default)]
    pub short_secret: bool,
    /// The secret is not of the provider's usual form (a Stripe secret without `whsec_`), so it
    /// is given through the explicit way in: `StripeVerifier::from_secrets`.
    #[serde(default)]
    pub unusual_form: bool,
    pub headers: std::collections::BTreeMap<String, String>,
    pub body: String,
    #[serde(default)]
    pub now: u64,
    pub tolerance: Option<u64>,
    pub expect: String,
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    pub timestamp: Option<u64>,
    /// The public URL the sender is configured with (schemes that sign it).
    pub url: Option<String>,
    /// The request target (path and query) as received; `/` when absent.
    pub target: Option<String>,
    /// A handshake's expected answer body.
    pub answer: Option<String>,
}

pub fn load(name: &str) -> File {
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    let file: File = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(!file.source.is_empty(), "{path} must name its source");
    file
}

pub fn verifier(provider: &str, case: &Case) -> Verifier {
    let mut options = VerifyOptions::default();
    options.tolerance = case.tolerance.map(Duration::from_secs);
    options.clock = std::sync::Arc::new(FixedClock::at_unix(case.now));
    let secrets: Vec<String> = match &case.signing_key {
        #[cfg(feature = "discord")]
        Some(key) => vec![verihook::testing::StandardSigner::new(key)
            .unwrap()
            .public_key()
            .unwrap()],
        #[cfg(not(feature = "discord"))]
        Some(_) => unreachable!("ed25519 cases are filtered out without the feature"),
        None => case.secrets.clone(),
    };
    if case.unusual_form {
        assert_eq!(
            provider, "stripe",
            "{}: only Stripe has a form check",
            case.name
        );
        assert!(
            verihook::providers::find(provider)
                .unwrap()
                .build(
                    &secrets.iter().map(String::as_str).collect::<Vec<_>>(),
                    None,
                    options.clone()
                )
                .is_err(),
            "{}: the usual constructor refuses the secret",
            case.name
        );
        let secrets = secrets
            .iter()
            .map(|s| verihook::Secret::from_bytes(s.as_bytes()).unwrap());
        return verihook::providers::stripe::StripeVerifier::from_secrets(secrets)
            .unwrap()
            .with_options(options)
            .boxed();
    }
    if case.legacy_sha1 {
        let v = verihook::providers::github::GithubVerifier::with_secrets(&secrets)
            .unwrap()
            .with_options(options);
        return verihook::dangerous::accept_legacy_github_sha1(v).boxed();
    }
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let builtin = verihook::providers::find(provider).unwrap();
    if case.short_secret {
        return verihook::dangerous::allow_short_secrets(
            builtin,
            &secrets,
            case.url.as_deref(),
            options,
        )
        .unwrap();
    }
    builtin
        .build(&secrets, case.url.as_deref(), options)
        .unwrap()
}

/// The case's request: its headers, its target (`/` when absent) and its body.
pub fn request(case: &Case) -> (HeaderMap, http::Uri, Bytes) {
    let mut headers = HeaderMap::new();
    for (name, value) in &case.headers {
        headers.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    let uri: http::Uri = case.target.as_deref().unwrap_or("/").parse().unwrap();
    (headers, uri, Bytes::from(case.body.clone()))
}

/// The case of `file` named `name` (its name starts so).
pub fn case(file: &str, name: &str) -> Case {
    load(file)
        .cases
        .into_iter()
        .find(|c| c.name.starts_with(name))
        .unwrap_or_else(|| panic!("{file} has no case {name:?}"))
}
