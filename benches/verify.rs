//! Verification cost per scheme, side by side with the floor (a pre-keyed HMAC-SHA256 over the
//! same body bytes) and with the `standardwebhooks` crate on the identical request.
//!
//! Run: `cargo bench --bench verify --all-features`; `scripts/bench-table.py` turns criterion's
//! estimates into the table in BENCHMARKS.md.
#![allow(clippy::unwrap_used)] // a test that cannot set up should fail loudly

use std::hint::black_box;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderMap, HeaderValue};
use sha2::Sha256;
use verihook::testing::{GithubSigner, StandardSigner, StripeSigner};
use verihook::{GithubVerifier, StandardVerifier, StripeVerifier};

const SIZES: [usize; 4] = [256, 1024, 64 * 1024, 1024 * 1024];
const GITHUB_SECRET: &str = "bench-github-secret";
const STRIPE_SECRET: &str = "whsec_bench_stripe_secret";
const STANDARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A JSON-looking ASCII body of exactly `len` bytes (the `standardwebhooks` crate needs UTF-8).
fn body(len: usize) -> Bytes {
    let unit = br#"{"type":"invoice.paid","data":{"amount":4200,"currency":"eur"}},"#;
    Bytes::from(unit.iter().copied().cycle().take(len).collect::<Vec<u8>>())
}

/// Headers every delivery carries besides the signature ones, so lookups cost what they do in
/// a real request (GitHub sends about a dozen headers).
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

/// Headers as a server hands them over: values sliced from one shared buffer.
fn as_received(signed: &HeaderMap) -> HeaderMap {
    let mut head = Vec::new();
    let mut spans = Vec::new();
    let common = COMMON.iter().map(|(name, value)| {
        (
            http::HeaderName::from_static(name),
            HeaderValue::from_static(value),
        )
    });
    let signed = signed
        .iter()
        .map(|(name, value)| (name.clone(), value.clone()));
    for (name, value) in common.chain(signed) {
        let start = head.len();
        head.extend_from_slice(value.as_bytes());
        spans.push((name, start..head.len()));
    }
    let head = Bytes::from(head);
    let mut headers = HeaderMap::new();
    for (name, span) in spans {
        headers.insert(
            name,
            HeaderValue::from_maybe_shared(head.slice(span)).unwrap(),
        );
    }
    headers
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn bench(c: &mut Criterion) {
    let floor_key = <Hmac<Sha256> as KeyInit>::new_from_slice(b"bench-floor-secret").unwrap();
    let github = GithubVerifier::new(GITHUB_SECRET).unwrap();
    let stripe = StripeVerifier::new(STRIPE_SECRET).unwrap();
    let standard = StandardVerifier::new(STANDARD_SECRET).unwrap();
    let theirs = standardwebhooks::Webhook::new(STANDARD_SECRET).unwrap();

    for size in SIZES {
        let body = body(size);
        // Signed at the start of each group so the 5-minute tolerance holds throughout.
        let ts = now();
        let github_headers = as_received(
            &GithubSigner::new(GITHUB_SECRET)
                .unwrap()
                .sign_delivery("72d3162e-cc78-11e3-81ab-4c9367dc0958", "push", &body)
                .unwrap(),
        );
        let stripe_headers =
            as_received(&StripeSigner::new(STRIPE_SECRET).unwrap().sign(ts, &body));
        let standard_headers = as_received(
            &StandardSigner::new(STANDARD_SECRET)
                .unwrap()
                .sign("msg_p5jXN8AQM9LWM0D4loKWxJek", ts, &body)
                .unwrap(),
        );
        // Every contender must accept its request, or the timings mean nothing.
        github.verify(&github_headers, body.clone()).unwrap();
        stripe.verify(&stripe_headers, body.clone()).unwrap();
        standard.verify(&standard_headers, body.clone()).unwrap();
        theirs.verify(&body, &standard_headers).unwrap();

        let mut group = c.benchmark_group(format!("verify/{size}"));
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(BenchmarkId::from_parameter("floor-hmac-sha256"), |b| {
            b.iter(|| {
                let mut mac = floor_key.clone();
                mac.update(black_box(&body));
                black_box(mac.finalize())
            })
        });
        group.bench_function(BenchmarkId::from_parameter("github"), |b| {
            b.iter(|| black_box(github.verify(black_box(&github_headers), body.clone())).unwrap())
        });
        group.bench_function(BenchmarkId::from_parameter("stripe"), |b| {
            b.iter(|| black_box(stripe.verify(black_box(&stripe_headers), body.clone())).unwrap())
        });
        group.bench_function(BenchmarkId::from_parameter("standard-webhooks"), |b| {
            b.iter(|| {
                black_box(standard.verify(black_box(&standard_headers), body.clone())).unwrap()
            })
        });
        group.bench_function(BenchmarkId::from_parameter("standardwebhooks-crate"), |b| {
            b.iter(|| black_box(theirs.verify(black_box(&body), &standard_headers)).unwrap())
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
