//! What a guard costs per request, beside the MAC it saves: a request a guard refuses is
//! answered before the body is read or any signature checked.
//!
//! Interleaved medians (a slow stretch of a shared machine hits every side alike) of:
//! `verify` (GitHub's HMAC-SHA256 over a 1 KiB body, the work a guard saves), `allowed` (a
//! 6-range allowlist hit plus the rate limit), `denied` (allowlist miss), `limited` (a source
//! over its rate), `proxied` (a trusted proxy's `X-Forwarded-For` read, then the allowlist).
//!
//! Run: `cargo bench --bench guards --features guard` (about 5 s).

#![allow(clippy::unwrap_used)] // a benchmark that cannot set up should fail loudly

use std::hint::black_box;
use std::net::IpAddr;
use std::time::Instant;

use bytes::Bytes;
use http::HeaderMap;
use verihook::guard::{Guard, IpAllowlist, IpRanges, RateLimit, TrustedProxies};
use verihook::providers::github::GithubVerifier;
use verihook::testing::GithubSigner;

const ROUNDS: usize = 101;
const CALLS: usize = 2_000;

/// GitHub's published hook ranges (meta API), as an allowlist is usually loaded.
const META: &str = r#"{"hooks":["192.30.252.0/22","185.199.108.0/22","140.82.112.0/20","143.55.64.0/20","2a0a:a440::/29","2606:50c0::/32"]}"#;

fn per_call(mut f: impl FnMut(usize)) -> f64 {
    let started = Instant::now();
    for i in 0..CALLS {
        f(i);
    }
    #[allow(clippy::cast_precision_loss)]
    let ns = started.elapsed().as_nanos() as f64 / CALLS as f64;
    ns
}

fn main() {
    let body = Bytes::from(vec![b'x'; 1024]);
    let secret = "guard-bench-secret";
    let headers = GithubSigner::new(secret).unwrap().sign(&body);
    let verifier = GithubVerifier::new(secret).unwrap();
    let mut request = http::Request::new(body.clone());
    *request.headers_mut() = headers;
    let allow = IpAllowlist::from_github_meta(META).unwrap();
    let limit = || RateLimit::per_second(1_000_000).burst(1_000_000);
    let open = Guard::new("github")
        .allow(allow.clone())
        .rate_limit(limit());
    let tight = Guard::new("github").rate_limit(RateLimit::per_minute(1).burst(1));
    let proxied = Guard::new("github")
        .allow(allow)
        .trust_proxies(TrustedProxies::x_forwarded_for(
            IpRanges::parse("10.0.0.0/8").unwrap(),
        ));
    let github: IpAddr = "140.82.115.4".parse().unwrap();
    let stranger: IpAddr = "203.0.113.9".parse().unwrap();
    let balancer: IpAddr = "10.1.2.3".parse().unwrap();
    let none = HeaderMap::new();
    let mut forwarded = HeaderMap::new();
    forwarded.insert(
        "x-forwarded-for",
        "198.51.100.1, 140.82.115.4".parse().unwrap(),
    );
    let _ = tight.check(Some(stranger), &none);
    assert!(verifier.verify_http(&request).is_ok());
    assert!(open.check(Some(github), &none).is_ok() && open.check(Some(stranger), &none).is_err());
    assert!(tight.check(Some(stranger), &none).is_err());
    assert!(proxied.check(Some(balancer), &forwarded).is_ok());

    let sides = ["verify", "allowed", "denied", "limited", "proxied"];
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); sides.len()];
    for _ in 0..ROUNDS {
        samples[0].push(per_call(|_| {
            black_box(verifier.verify_http(black_box(&request)).is_ok());
        }));
        samples[1].push(per_call(|_| {
            black_box(open.check(Some(black_box(github)), &none).is_ok());
        }));
        samples[2].push(per_call(|_| {
            black_box(open.check(Some(black_box(stranger)), &none).is_ok());
        }));
        samples[3].push(per_call(|_| {
            black_box(tight.check(Some(black_box(stranger)), &none).is_ok());
        }));
        samples[4].push(per_call(|_| {
            black_box(proxied.check(Some(black_box(balancer)), &forwarded).is_ok());
        }));
    }
    for (side, mut times) in sides.iter().zip(samples) {
        times.sort_by(f64::total_cmp);
        println!(
            "{side:<8} {:>9.1} ns per request (median of {ROUNDS} rounds of {CALLS})",
            times[ROUNDS / 2]
        );
    }
}
