//! The operations parsers on arbitrary input: IP ranges and the providers' IP lists, the
//! trusted proxies' `X-Forwarded-For` or `Forwarded` (each configured in turn), a small rate limiter, and a diagnosis of an arbitrary request
//! (its body re-laid as JSON, its URL and secret variants).
#![no_main]

use std::net::IpAddr;
use std::time::{Duration, UNIX_EPOCH};

use arbitrary::Arbitrary;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use verihook::diagnose::Explainer;
use verihook::guard::{Guard, IpAllowlist, IpRanges, RateLimit, TrustedProxies};
use verihook::testing::StripeSigner;
use verihook::{providers, scheme::VerifyOptions, RequestHead, WebhookRequest};

#[allow(dead_code)] // the request helpers are for the scheme targets
mod common;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    list: &'a str,
    forwarded: Option<&'a [u8]>,
    x_forwarded_for: Option<&'a [u8]>,
    host: Option<&'a [u8]>,
    peer: [u8; 16],
    v4: bool,
    signed: bool,
    secret: &'a str,
    body: &'a [u8],
    skew: i32,
}

fuzz_target!(|input: Input<'_>| {
    let _ = IpRanges::parse(input.list);
    let _ = IpAllowlist::from_github_meta(input.list);
    let _ = IpAllowlist::from_stripe_ips(input.list);

    let mut headers = HeaderMap::new();
    common::set(&mut headers, "forwarded", input.forwarded);
    common::set(&mut headers, "x-forwarded-for", input.x_forwarded_for);
    common::set(&mut headers, "host", input.host);
    let peer = if input.v4 {
        IpAddr::from([input.peer[0], input.peer[1], input.peer[2], input.peer[3]])
    } else {
        IpAddr::from(input.peer)
    };
    let everyone = IpRanges::parse("0.0.0.0/0, ::/0").unwrap();
    for proxies in [
        TrustedProxies::x_forwarded_for(everyone.clone()),
        TrustedProxies::forwarded(everyone.clone()),
    ] {
        let _ = proxies.client_ip(peer, &headers);
        let guard = Guard::new("fuzz")
            .allow(IpAllowlist::parse("192.0.2.0/24, 2001:db8::/32").unwrap())
            .trust_proxies(proxies)
            .rate_limit(RateLimit::per_second(1).max_sources(4));
        let _ = guard.check(Some(peer), &headers);
    }

    if input.signed {
        headers.extend(
            StripeSigner::new("whsec_fuzz_secret_000")
                .unwrap()
                .sign(common::NOW, input.body),
        );
    } else if let Ok(value) = HeaderValue::from_str(input.secret) {
        headers.insert("stripe-signature", value);
    }
    let now =
        UNIX_EPOCH + Duration::from_secs(common::NOW.saturating_add_signed(i64::from(input.skew)));
    let body = Bytes::copy_from_slice(input.body);
    let request = WebhookRequest::new(RequestHead::post(&headers), &body);
    for name in ["stripe", "twilio"] {
        let url = (name == "twilio").then_some("https://example.com:8443/sms");
        let explainer = Explainer::provider(
            providers::find(name).unwrap(),
            &[input.secret, "whsec_fuzz_secret_000"],
            url,
            VerifyOptions::default(),
        )
        .other_sender("other", &[input.secret]);
        let findings = explainer.diagnose(&request, now);
        for finding in findings {
            assert!(!finding.advice.contains("whsec_fuzz_secret_000"));
        }
    }
});
