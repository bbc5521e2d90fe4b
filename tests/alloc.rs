//! Verifying a request allocates nothing on the heap once the verifier is built.
//!
//! The headers are built the way an HTTP server hands them over: every value is a slice of one
//! shared buffer (hyper parses the request head into one buffer and slices it), so cloning a
//! value for the event's id is a reference-count increment, not a copy.
#![allow(clippy::unwrap_used)] // a test that cannot set up should fail loudly

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use verihook::idempotency::MemoryStore;
use verihook::scheme::Verifier;
use verihook::testing::{GithubSigner, StandardSigner, StripeSigner};
use verihook::{
    providers::github::GithubVerifier, providers::standard::StandardVerifier,
    providers::stripe::StripeVerifier, scheme::FixedClock, Receiver, RequestHead, Scheme,
    WebhookRequest,
};

const NOW: u64 = 1_700_000_000;

/// Re-creates `signed` with every value sliced out of one shared buffer, as a server would.
fn as_received(signed: &HeaderMap) -> HeaderMap {
    let mut head = Vec::new();
    let mut spans = Vec::new();
    for (name, value) in signed {
        let start = head.len();
        head.extend_from_slice(value.as_bytes());
        spans.push((name.clone(), start..head.len()));
    }
    let head = Bytes::from(head);
    let mut headers = HeaderMap::with_capacity(spans.len());
    for (name, span) in spans {
        let value = HeaderValue::from_maybe_shared(head.slice(span)).unwrap();
        headers.insert::<HeaderName>(name, value);
    }
    headers
}

fn body(len: usize) -> Bytes {
    Bytes::from(
        (0..len)
            .map(|i| b"{\"type\":\"a.b\",\"x\":1}"[i % 20])
            .collect::<Vec<u8>>(),
    )
}

/// Verifies 100 times after one warm-up (which must pass, or fail, as `authentic` says) and
/// returns the allocations counted meanwhile. The warm-up also makes the first clone of a
/// Vec-backed `Bytes` (which moves it to a shared buffer, as a server's body already is).
fn allocations<S: Scheme>(
    verifier: &Verifier<S>,
    headers: &HeaderMap,
    body: &Bytes,
    authentic: bool,
) -> u64 {
    allocations_at(verifier, "/", headers, body, authentic)
}

/// [`allocations`] for a request to `target` (schemes that sign the URL).
fn allocations_at<S: Scheme>(
    verifier: &Verifier<S>,
    target: &'static str,
    headers: &HeaderMap,
    body: &Bytes,
    authentic: bool,
) -> u64 {
    let uri = http::Uri::from_static(target);
    let request = WebhookRequest::new(RequestHead::new(&http::Method::POST, &uri, headers), body);
    let first = verifier.verify_request(&request);
    assert_eq!(first.is_ok(), authentic, "{first:?}");
    let info = allocation_counter::measure(|| {
        for _ in 0..100 {
            let outcome = verifier.verify_request(&request);
            assert_eq!(outcome.is_ok(), authentic);
            std::hint::black_box(&outcome);
        }
    });
    info.count_total
}

#[test]
fn counter_sees_allocations() {
    // Guards the guard: if counting were broken every test below would pass vacuously.
    let info = allocation_counter::measure(|| {
        std::hint::black_box(vec![1u8; 16]);
    });
    assert_eq!(info.count_total, 1);
}

#[test]
fn github_verify_allocates_nothing() {
    let body = body(1024);
    let signed = GithubSigner::new("alloc-test-secret")
        .unwrap()
        .sign_delivery("72d3162e-cc78-11e3-81ab-4c9367dc0958", "push", &body)
        .unwrap();
    let verifier = GithubVerifier::with_secrets(["another-secret", "alloc-test-secret"]).unwrap();
    assert_eq!(
        allocations(&verifier, &as_received(&signed), &body, true),
        0
    );
}

#[test]
fn stripe_verify_allocates_nothing() {
    let body = body(1024);
    let signed = StripeSigner::new("whsec_alloc_test_secret")
        .unwrap()
        .sign(NOW, &body);
    let verifier = StripeVerifier::with_secrets(["whsec_other_secret", "whsec_alloc_test_secret"])
        .unwrap()
        .with_clock(FixedClock::at_unix(NOW));
    assert_eq!(
        allocations(&verifier, &as_received(&signed), &body, true),
        0
    );
}

#[test]
fn standard_verify_allocates_nothing() {
    let body = body(1024);
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let signed = StandardSigner::new(secret)
        .unwrap()
        .sign("msg_p5jXN8AQM9LWM0D4loKWxJek", NOW, &body)
        .unwrap();
    let verifier = StandardVerifier::new(secret)
        .unwrap()
        .with_clock(FixedClock::at_unix(NOW));
    assert_eq!(
        allocations(&verifier, &as_received(&signed), &body, true),
        0
    );
}

#[test]
fn rejection_allocates_nothing() {
    let body = body(256);
    let signed = StripeSigner::new("whsec_alloc_test_secret")
        .unwrap()
        .sign(NOW, &body);
    let verifier = StripeVerifier::new("whsec_a_different_secret")
        .unwrap()
        .with_clock(FixedClock::at_unix(NOW));
    assert_eq!(
        allocations(&verifier, &as_received(&signed), &body, false),
        0
    );
}

#[cfg(feature = "discord")]
#[test]
fn standard_ed25519_verify_allocates_nothing() {
    let body = body(1024);
    let signer = StandardSigner::new("whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=").unwrap();
    let signed = signer.sign("msg_1", NOW, &body).unwrap();
    let verifier = StandardVerifier::new(&signer.public_key().unwrap())
        .unwrap()
        .with_clock(FixedClock::at_unix(NOW));
    assert_eq!(
        allocations(&verifier, &as_received(&signed), &body, true),
        0
    );
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

#[test]
fn slack_verify_allocates_nothing() {
    let body = body(1024);
    let signed = verihook::testing::SlackSigner::new("slack-signing-secret")
        .unwrap()
        .sign(NOW, &body);
    let verifier = verihook::providers::slack::SlackVerifier::new("slack-signing-secret")
        .unwrap()
        .with_clock(FixedClock::at_unix(NOW));
    assert_eq!(
        allocations(&verifier, &as_received(&signed), &body, true),
        0
    );
}

#[test]
fn square_verify_allocates_nothing() {
    let body = body(1024);
    let url = "https://example.com/webhooks/square";
    let signed = verihook::testing::SquareSigner::new("square-signature-key")
        .unwrap()
        .sign(url, &body)
        .unwrap();
    let verifier =
        verihook::providers::square::SquareVerifier::new("square-signature-key", url).unwrap();
    assert_eq!(
        allocations_at(
            &verifier,
            "/webhooks/square",
            &as_received(&signed),
            &body,
            true
        ),
        0
    );
}

#[test]
fn shopify_verify_allocates_nothing() {
    let body = body(1024);
    let signed = verihook::testing::ShopifySigner::new("shopify-client-secret")
        .unwrap()
        .sign("orders/create", "verihook-demo.myshopify.com", &body)
        .unwrap();
    let verifier = verihook::providers::shopify::ShopifyVerifier::with_secrets([
        "another-secret",
        "shopify-client-secret",
    ])
    .unwrap();
    assert_eq!(
        allocations(&verifier, &as_received(&signed), &body, true),
        0
    );
}

#[test]
fn gitlab_verify_allocates_nothing() {
    let body = body(1024);
    let signed = verihook::testing::GitlabSigner::new("gitlab-webhook-token")
        .unwrap()
        .sign("Push Hook", "13792a34-cac6-4fda-95a8-c58e00a3954e", &body)
        .unwrap();
    let verifier = verihook::providers::gitlab::GitlabVerifier::with_secrets([
        "another-token",
        "gitlab-webhook-token",
    ])
    .unwrap();
    assert_eq!(
        allocations(&verifier, &as_received(&signed), &body, true),
        0
    );
}

#[test]
fn twilio_verify_allocates_nothing() {
    let body = Bytes::from(
        "AccountSid=AC123&Body=Hello+there%21&From=%2B14155550100&MessageSid=SM1&To=%2B14155550199"
            .repeat(8),
    );
    let url = "https://example.com/webhooks/twilio";
    let signer = verihook::testing::TwilioSigner::new("twilio-auth-token").unwrap();
    let verifier =
        verihook::providers::twilio::TwilioVerifier::new("twilio-auth-token", url).unwrap();
    // HMAC-SHA1 under the auth token, and HMAC-SHA256 as a webhook rule with a shared key signs.
    for signer in [signer.clone(), signer.sha256()] {
        let signed = signer.sign_form(url, &body).unwrap();
        assert_eq!(
            allocations_at(
                &verifier,
                "/webhooks/twilio",
                &as_received(&signed),
                &body,
                true
            ),
            0
        );
    }
}

#[cfg(feature = "discord")]
#[test]
fn discord_verify_allocates_nothing() {
    let body = Bytes::from_static(br#"{"id":"1","type":2,"data":{"name":"ping"}}"#);
    let signer = verihook::testing::DiscordSigner::from_seed([9; 32]);
    let signed = signer.sign(NOW, &body);
    let verifier = verihook::providers::discord::DiscordVerifier::new(&signer.public_key())
        .unwrap()
        .with_clock(FixedClock::at_unix(NOW));
    assert_eq!(
        allocations(&verifier, &as_received(&signed), &body, true),
        0
    );
}

/// The whole pipeline allocates a fixed handful per new event, whatever the body's size: the
/// idempotency key, its copy handed to the handler, the handler's boxed future and the store's
/// two boxed futures (claim, complete; the memory store keeps a fingerprint inline, not a copy
/// of the key); answering adds the JSON body.
#[test]
fn a_processed_event_allocates_six_times() {
    const WARM: usize = 10_000;
    const MEASURED: usize = 100;
    let body = body(1024);
    let signer = GithubSigner::new("alloc-test-secret").unwrap();
    // GitHub de-duplicates on the signed body: each event has its own.
    let requests: Vec<(HeaderMap, Bytes)> = (0..WARM + MEASURED)
        .map(|n| {
            let mut body = body.to_vec();
            body[..10].copy_from_slice(format!("{n:010}").as_bytes());
            let headers = signer
                .sign_delivery(&format!("delivery-{n}"), "push", &body)
                .unwrap();
            let body = Bytes::from(body);
            drop(body.clone()); // moves it to a shared buffer, as a server's body already is
            (as_received(&headers), body)
        })
        .collect();
    let receiver = Receiver::builder()
        .verifier(GithubVerifier::new("alloc-test-secret").unwrap())
        .store(MemoryStore::new())
        .handler(|_delivery| async { Ok(()) })
        .build()
        .unwrap();
    let answer = |(headers, body): &(HeaderMap, Bytes)| {
        let outcome = block_on(receiver.handle(headers, body.clone()));
        assert_eq!(outcome.code(), "processed");
        outcome.json_body()
    };
    // Grows the store's tables to a size the measured events do not push past (a table grows
    // when it is 7/8 full; 10,000 keys over 64 shards leave each well short of that).
    requests[..WARM]
        .iter()
        .for_each(|headers| drop(answer(headers)));
    let info = allocation_counter::measure(|| {
        for headers in &requests[WARM..] {
            std::hint::black_box(answer(headers));
        }
    });
    // With the `metrics` feature, each of the four metrics a processed event records (request
    // count and duration, verification and handler durations) costs the facade two more: its
    // sender label's `String` and its key's label list. Verification itself still allocates
    // nothing (the tests above).
    let per_event = if cfg!(feature = "metrics") { 6 + 8 } else { 6 };
    assert_eq!(info.count_total, per_event * MEASURED as u64, "{info:?}");
}

#[test]
fn paddle_verify_allocates_nothing() {
    let body = body(1024);
    let signed = verihook::testing::PaddleSigner::new("pdl_ntfset_alloc_secret")
        .unwrap()
        .sign(1_700_000_000, &body);
    let verifier = verihook::providers::paddle::PaddleVerifier::with_secrets([
        "pdl_ntfset_other_secret",
        "pdl_ntfset_alloc_secret",
    ])
    .unwrap()
    .with_clock(verihook::scheme::FixedClock::at_unix(1_700_000_002));
    assert_eq!(
        allocations(&verifier, &as_received(&signed), &body, true),
        0
    );
}

#[test]
fn linear_verify_allocates_nothing() {
    // The timestamp is read from the signed body: a realistic 1 KiB JSON object.
    let filler = "x".repeat(900);
    let body = Bytes::from(format!(
        r#"{{"action":"update","type":"Issue","data":{{"id":"ISS-1","description":"{filler}"}},"webhookTimestamp":1700000000000}}"#
    ));
    let signed = verihook::testing::LinearSigner::new("lin_wh_alloc_secret")
        .unwrap()
        .sign("Issue", "234d1a4e-b617-4388-90fe-adc3633d6b72", &body)
        .unwrap();
    let verifier = verihook::providers::linear::LinearVerifier::with_secrets([
        "lin_wh_other",
        "lin_wh_alloc_secret",
    ])
    .unwrap()
    .with_clock(verihook::scheme::FixedClock::at_unix(1_700_000_010));
    assert_eq!(
        allocations(&verifier, &as_received(&signed), &body, true),
        0
    );
}

#[test]
fn zoom_verify_allocates_nothing() {
    let body = body(1024);
    let signed = verihook::testing::ZoomSigner::new("zoom_alloc_secret")
        .unwrap()
        .sign(1_700_000_000, &body);
    let verifier = verihook::providers::zoom::ZoomVerifier::with_secrets([
        "zoom_other_secret",
        "zoom_alloc_secret",
    ])
    .unwrap()
    .with_clock(verihook::scheme::FixedClock::at_unix(1_700_000_010));
    assert_eq!(
        allocations(&verifier, &as_received(&signed), &body, true),
        0
    );
}

#[test]
fn declared_verify_allocates_nothing() {
    use verihook::scheme::declared::SchemeSpec;
    let body = body(1024);
    // Mux's published vector format, as a user would declare it.
    let spec: SchemeSpec = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/schemes/mux.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let signed = verihook::testing::StripeSigner::new("mux-alloc-secret")
        .unwrap()
        .signature(1_700_000_000, &body);
    let mut headers = HeaderMap::new();
    headers.insert("mux-signature", HeaderValue::from_str(&signed).unwrap());
    let verifier = spec
        .build(&["mux-other-secret", "mux-alloc-secret"], None)
        .unwrap()
        .with_clock(verihook::scheme::FixedClock::at_unix(1_700_000_010));
    assert_eq!(
        allocations(&verifier, &as_received(&headers), &body, true),
        0
    );
}

#[test]
fn gitlab_signing_token_verify_allocates_nothing() {
    let body = body(1024);
    let key = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let signed = verihook::testing::GitlabSigner::new(key)
        .unwrap()
        .sign_at(
            "Push Hook",
            "0e6b1e0d-7d30-4c52-9c4e-4b8b1a0f9c51",
            1_700_000_000,
            &body,
        )
        .unwrap();
    let verifier = verihook::providers::gitlab::GitlabVerifier::new(key)
        .unwrap()
        .with_clock(verihook::scheme::FixedClock::at_unix(1_700_000_005));
    assert_eq!(
        allocations(&verifier, &as_received(&signed), &body, true),
        0
    );
}
