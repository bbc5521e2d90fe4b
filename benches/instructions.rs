//! A fixed amount of verification work, for counting instructions with callgrind: the same
//! 1 KiB request verified N times through the public API
//! (`XVerifier::new(secret)?.with_clock(..).verify(&headers, body)`), signed with
//! `verihook::testing`'s signers at a fixed time that the verifier's `FixedClock` reads, so every
//! run does exactly the same work.
//!
//! `INSTRUCTIONS_SCHEME` picks the scheme (`github`, `stripe`, `standard`) and
//! `INSTRUCTIONS_ITERATIONS` the N (default 2000). One verification runs first, outside the N,
//! and must succeed, so N=0 counts set-up plus that one and (count at N − count at 0) / N is
//! the cost of one verification:
//!
//! ```text
//! INSTRUCTIONS_SCHEME=stripe INSTRUCTIONS_ITERATIONS=2000 \
//!   valgrind --tool=callgrind target/release/deps/instructions-<hash>
//! ```
//!
//! `scripts/instructions.sh` builds this and prints the table for all three schemes. valgrind
//! runs SHA-256 in software, so the totals are far above the SHA-NI path; the differences
//! between two versions are the code around the MAC.

#![allow(clippy::unwrap_used)] // a benchmark that cannot set up should fail loudly

use std::hint::black_box;

use verihook::bytes::Bytes;
use verihook::http::{HeaderMap, HeaderName, HeaderValue};
use verihook::testing::{GithubSigner, StandardSigner, StripeSigner};
use verihook::{
    providers::github::GithubVerifier, providers::standard::StandardVerifier,
    providers::stripe::StripeVerifier, scheme::FixedClock,
};

/// The time the requests are signed at and the verifiers' clock reads.
const NOW: u64 = 1_700_000_000;
const GITHUB_SECRET: &str = "bench-github-secret";
const STRIPE_SECRET: &str = "whsec_bench_stripe_secret";
const STANDARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Headers every delivery carries besides the signature ones, so header lookups cost what they
/// do in a real request.
const COMMON: [(&str, &str); 8] = [
    ("host", "hooks.example.com"),
    ("user-agent", "GitHub-Hookshot/5a0b6ff"),
    ("accept", "*/*"),
    ("content-type", "application/json"),
    ("content-length", "1024"),
    ("x-github-hook-id", "292430182"),
    ("x-github-hook-installation-target-id", "79929171"),
    ("x-github-hook-installation-target-type", "repository"),
];

/// A 1 KiB JSON-ish body.
fn body() -> Bytes {
    let unit = br#"{"type":"invoice.paid","data":{"amount":4200,"currency":"eur"}},"#;
    Bytes::from(unit.iter().copied().cycle().take(1024).collect::<Vec<u8>>())
}

/// The signed headers among the common ones, as a server hands them over.
fn received(signed: &HeaderMap) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in COMMON {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    for (name, value) in signed {
        headers.insert(name.clone(), value.clone());
    }
    headers
}

/// Runs `verify` once (it must succeed), then `iterations` more times.
fn run<T, E: std::fmt::Debug>(iterations: u32, verify: impl Fn() -> Result<T, E>) {
    black_box(verify().unwrap());
    for _ in 0..iterations {
        black_box(verify().unwrap());
    }
}

fn main() {
    let scheme = std::env::var("INSTRUCTIONS_SCHEME").unwrap_or_else(|_| "github".into());
    let iterations: u32 = std::env::var("INSTRUCTIONS_ITERATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000);
    let body = body();
    match scheme.as_str() {
        "github" => {
            let signed = GithubSigner::new(GITHUB_SECRET)
                .unwrap()
                .sign_delivery("72d3162e-cc78-11e3-81ab-4c9367dc0958", "push", &body)
                .unwrap();
            let headers = received(&signed);
            let verifier = GithubVerifier::new(GITHUB_SECRET)
                .unwrap()
                .with_clock(FixedClock::at_unix(NOW));
            run(iterations, || {
                verifier.verify(black_box(&headers), body.clone())
            });
        }
        "stripe" => {
            let signed = StripeSigner::new(STRIPE_SECRET).unwrap().sign(NOW, &body);
            let headers = received(&signed);
            let verifier = StripeVerifier::new(STRIPE_SECRET)
                .unwrap()
                .with_clock(FixedClock::at_unix(NOW));
            run(iterations, || {
                verifier.verify(black_box(&headers), body.clone())
            });
        }
        "standard" => {
            let signed = StandardSigner::new(STANDARD_SECRET)
                .unwrap()
                .sign("msg_p5jXN8AQM9LWM0D4loKWxJek", NOW, &body)
                .unwrap();
            let headers = received(&signed);
            let verifier = StandardVerifier::new(STANDARD_SECRET)
                .unwrap()
                .with_clock(FixedClock::at_unix(NOW));
            run(iterations, || {
                verifier.verify(black_box(&headers), body.clone())
            });
        }
        other => panic!("INSTRUCTIONS_SCHEME={other}: expected github, stripe or standard"),
    }
}
