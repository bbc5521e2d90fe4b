//! Round trips (sign, then verify; change one byte, then be rejected) and property tests that
//! every header parser and verifier answers arbitrary input with an error, never a panic.
#![allow(clippy::unwrap_used)] // a test that cannot set up should fail loudly

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;
use verihook::testing::{GithubSigner, StandardSigner, StripeSigner};
use verihook::{
    providers::github::GithubVerifier, providers::standard::StandardVerifier,
    providers::stripe::StripeVerifier, scheme::FixedClock, Scheme, Secret, VerifyError,
};

const GITHUB_SECRET: &str = "round-trip-github-secret";
const STRIPE_SECRET: &str = "whsec_round_trip_stripe_secret";
const STANDARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const NOW: u64 = 1_700_000_000;

fn github() -> GithubVerifier {
    GithubVerifier::new(GITHUB_SECRET).unwrap()
}
fn stripe() -> StripeVerifier {
    StripeVerifier::new(STRIPE_SECRET)
        .unwrap()
        .with_clock(FixedClock::at_unix(NOW))
}
fn standard() -> StandardVerifier {
    StandardVerifier::new(STANDARD_SECRET)
        .unwrap()
        .with_clock(FixedClock::at_unix(NOW))
}

/// Flips one bit of byte `at` of header `name`'s value, if the result is still a header value.
fn tamper_header(headers: &HeaderMap, name: &str, at: usize) -> Option<HeaderMap> {
    let mut value = headers.get(name)?.as_bytes().to_vec();
    let i = at % value.len();
    value[i] ^= 0x01;
    let value = HeaderValue::from_bytes(&value).ok()?;
    let mut out = headers.clone();
    out.insert(HeaderName::from_bytes(name.as_bytes()).unwrap(), value);
    Some(out)
}

fn tamper_body(body: &[u8], at: usize, xor: u8) -> Bytes {
    let mut body = body.to_vec();
    let i = at % body.len();
    body[i] ^= xor.max(1);
    body.into()
}

fn assert_rejected(result: Result<verihook::Event, VerifyError>) {
    let err = result.expect_err("a tampered request must be rejected");
    assert!(
        matches!(
            err,
            VerifyError::SignatureMismatch { .. } | VerifyError::MalformedHeader { .. }
        ),
        "{err:?}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn github_round_trip(body in prop::collection::vec(any::<u8>(), 1..2048), at in any::<usize>(), xor in any::<u8>()) {
        let headers = GithubSigner::new(GITHUB_SECRET).unwrap().sign_delivery("d-1", "push", &body).unwrap();
        let event = github().verify(&headers, Bytes::from(body.clone())).unwrap();
        prop_assert_eq!(event.body().as_ref(), body.as_slice());
        assert_rejected(github().verify(&headers, tamper_body(&body, at, xor)));
        if let Some(h) = tamper_header(&headers, "x-hub-signature-256", at) {
            assert_rejected(github().verify(&h, Bytes::from(body.clone())));
        }
    }

    #[test]
    fn stripe_round_trip(body in prop::collection::vec(any::<u8>(), 1..2048), ts in (NOW - 300)..=(NOW + 300), at in any::<usize>(), xor in any::<u8>()) {
        let headers = StripeSigner::new(STRIPE_SECRET).unwrap().sign(ts, &body);
        let event = stripe().verify(&headers, Bytes::from(body.clone())).unwrap();
        prop_assert_eq!(event.unix_timestamp(), Some(ts));
        assert_rejected(stripe().verify(&headers, tamper_body(&body, at, xor)));
        // Another timestamp within the tolerance: the signature no longer covers it.
        let other = if ts == NOW { NOW + 1 } else { NOW };
        let mut moved = headers.clone();
        let value = headers["stripe-signature"].to_str().unwrap().replacen(&format!("t={ts}"), &format!("t={other}"), 1);
        moved.insert("stripe-signature", HeaderValue::from_str(&value).unwrap());
        assert_rejected(stripe().verify(&moved, Bytes::from(body.clone())));
    }

    /// Short ids and ids past the verifier's 160-byte stack buffer for `id.timestamp.` (which
    /// then feeds the pieces one by one) verify alike.
    #[test]
    fn standard_round_trip(body in prop::collection::vec(any::<u8>(), 1..2048), id in "[a-zA-Z0-9_]{1,40}|[a-zA-Z0-9_]{140,260}", ts in (NOW - 300)..=(NOW + 300), at in any::<usize>(), xor in any::<u8>()) {
        let signer = StandardSigner::new(STANDARD_SECRET).unwrap();
        for headers in [signer.sign(&id, ts, &body).unwrap(), signer.sign_svix(&id, ts, &body).unwrap()] {
            let event = standard().verify(&headers, Bytes::from(body.clone())).unwrap();
            let got = event.id();
            prop_assert_eq!(got.as_deref(), Some(id.as_str()));
            assert_rejected(standard().verify(&headers, tamper_body(&body, at, xor)));
            let id_name = if headers.contains_key("webhook-id") { "webhook-id" } else { "svix-id" };
            if let Some(h) = tamper_header(&headers, id_name, at) {
                assert_rejected(standard().verify(&h, Bytes::from(body.clone())));
            }
            let ts_name = if headers.contains_key("webhook-id") { "webhook-timestamp" } else { "svix-timestamp" };
            let other = if ts == NOW { NOW + 1 } else { NOW };
            let mut moved = headers.clone();
            moved.insert(HeaderName::from_static(ts_name), other.into());
            assert_rejected(standard().verify(&moved, Bytes::from(body.clone())));
        }
    }

    #[test]
    fn verifiers_never_panic_on_arbitrary_headers(
        values in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..120), 21),
        body in prop::collection::vec(any::<u8>(), 0..256),
        now in any::<u64>(),
        target in "/[a-zA-Z0-9/?&=%+]{0,40}",
    ) {
        let names = ["x-hub-signature-256", "x-github-delivery", "stripe-signature", "webhook-id", "webhook-timestamp", "webhook-signature",
            "x-slack-signature", "x-slack-request-timestamp", "x-twilio-signature", "x-square-hmacsha256-signature", "x-signature-ed25519", "x-signature-timestamp",
            "x-shopify-hmac-sha256", "x-shopify-topic", "x-shopify-event-id", "x-gitlab-token", "x-gitlab-event",
            "paddle-signature", "linear-signature", "x-zm-signature", "x-zm-request-timestamp"];
        let mut headers = HeaderMap::new();
        for (name, value) in names.iter().zip(&values) {
            if let Ok(value) = HeaderValue::from_bytes(value) {
                headers.insert(*name, value);
            }
        }
        let now = std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(now)).unwrap_or(std::time::UNIX_EPOCH);
        let uri: http::Uri = target.parse().unwrap_or_else(|_| http::Uri::from_static("/"));
        let body = Bytes::from(body);
        let request = verihook::WebhookRequest::new(
            verihook::RequestHead::new(&http::Method::POST, &uri, &headers),
            &body,
        );
        for builtin in verihook::providers::ALL {
            if builtin.name == "discord" && cfg!(not(feature = "discord")) {
                continue;
            }
            let Ok(v) = builtin.build(&["a-long-enough-secret"], Some("https://example.com"), verihook::scheme::VerifyOptions::default())
                .or_else(|_| builtin.build(&["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], None, verihook::scheme::VerifyOptions::default()))
                .or_else(|_| builtin.build(&["3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29"], None, verihook::scheme::VerifyOptions::default()))
            else { panic!("{} could not be built", builtin.name) };
            let _ = v.check_head_at(&request.head(), now);
            let _ = v.verify_at(&request, now);
        }
    }

    #[test]
    fn structured_but_wrong_headers_never_panic(
        t in "[0-9]{0,25}|-?[0-9]{1,5}|[^,]{0,10}",
        sigs in prop::collection::vec("(v0|v1|v1a|v2|t|)[=,][A-Za-z0-9+/=]{0,90}", 0..5),
        sep in "[ ,]",
    ) {
        let stripe_value = format!("t={t},{}", sigs.join(","));
        let standard_value = sigs.join(&sep);
        let mut headers = HeaderMap::new();
        for (name, value) in [("stripe-signature", &stripe_value), ("webhook-signature", &standard_value), ("webhook-timestamp", &t), ("x-hub-signature-256", &format!("sha256={t}"))] {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(name, value);
            }
        }
        headers.insert("webhook-id", HeaderValue::from_static("msg_1"));
        prop_assert!(stripe().verify(&headers, Bytes::new()).is_err());
        prop_assert!(standard().verify(&headers, Bytes::new()).is_err());
        prop_assert!(github().verify(&headers, Bytes::new()).is_err());
    }

    #[test]
    fn secret_parsers_never_panic(raw in ".{0,100}", bytes in prop::collection::vec(any::<u8>(), 0..80)) {
        let _ = Secret::from_base64(&raw);
        let _ = Secret::from_hex(&raw);
        let _ = Secret::from_bytes(bytes.clone());
        let _ = StandardVerifier::new(&raw);
        let _ = StandardVerifier::new(&format!("whpk_{raw}"));
        let _ = StandardSigner::new(&format!("whsk_{raw}"));
        let _ = GithubVerifier::new(&bytes);
        let _ = StripeVerifier::new(&bytes);
    }

    /// What the inbox reads of a verified body to order it (every provider's ordering key and
    /// stamp, RFC 3339 times with offsets, GitLab's times) and how it masks a failure's message
    /// survive any bytes; a masked message never grows past twice the original.
    #[cfg(feature = "inbox")]
    #[test]
    fn ordering_reads_and_error_masks_never_panic(
        body in prop::collection::vec(any::<u8>(), 0..200),
        time in "[0-9T:+\\- .Z]{0,40}",
        error in "\\PC{0,80}",
    ) {
        let json = format!(
            r#"{{"created":"{time}","updated_at":"{time}","data":{{"id":"x","object":{{"id":"{time}"}}}},"repository":{{"full_name":"o/r"}},"issue":{{"number":1,"updated_at":"{time}"}},"project":{{"id":1}},"object_attributes":{{"iid":2,"updated_at":"{time}"}},"occurred_at":"{time}"}}"#
        );
        for provider in verihook::providers::ALL {
            for raw in [&body[..], json.as_bytes()] {
                let event = verihook::Event::builder(provider.name, Bytes::copy_from_slice(raw)).build();
                let _ = verihook::inbox::Entry::new(&event, "k".to_owned());
            }
        }
        let masked = verihook::inbox::masked_error(&error);
        prop_assert!(masked.len() <= error.len() * 2 + 3);
        let _ = verihook::inbox::issue_id("s", Some(&error), &error);
    }
}

#[test]
fn rotation_accepts_any_secret() {
    let body = b"{}";
    let old = GithubSigner::new("the-old-secret").unwrap().sign(body);
    let new = GithubSigner::new("the-new-secret").unwrap().sign(body);
    let v = GithubVerifier::with_secrets(["the-new-secret", "the-old-secret"]).unwrap();
    assert!(v.verify(&old, Bytes::from_static(body)).is_ok());
    assert!(v.verify(&new, Bytes::from_static(body)).is_ok());
    let err = GithubVerifier::with_secrets(["the-new-secret", "another-secret"])
        .unwrap()
        .verify(&old, Bytes::from_static(body))
        .unwrap_err();
    assert_eq!(
        err,
        VerifyError::SignatureMismatch {
            secrets: 2,
            signatures: 1
        }
    );
}

#[test]
fn stripe_header_with_several_v1_tries_each_against_each_secret() {
    let body = br#"{"id":"evt_1"}"#;
    let a = StripeSigner::new("whsec_first_secret")
        .unwrap()
        .signature(NOW, body);
    let b = StripeSigner::new("whsec_second_secret")
        .unwrap()
        .signature(NOW, body);
    let v1_b = b.split_once(",v1=").unwrap().1;
    let combined = format!("{a},v1={v1_b}");
    let mut headers = HeaderMap::new();
    headers.insert(
        "stripe-signature",
        HeaderValue::from_str(&combined).unwrap(),
    );
    let v = StripeVerifier::new("whsec_second_secret")
        .unwrap()
        .with_clock(FixedClock::at_unix(NOW));
    assert!(v.verify(&headers, Bytes::from_static(body)).is_ok());
}

#[test]
fn construction_rejects_bad_keys() {
    for err in [
        GithubVerifier::new("").unwrap_err(),
        GithubVerifier::new("short").unwrap_err(),
        GithubVerifier::with_secrets(Vec::<String>::new()).unwrap_err(),
        StripeVerifier::new("").unwrap_err(),
        StandardVerifier::new("whsec_").unwrap_err(),
        StandardVerifier::new("whsec_!!!notbase64").unwrap_err(),
        StandardVerifier::new("whsec_c2hvcnQ=").unwrap_err(),
        StandardVerifier::new("whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=").unwrap_err(),
    ] {
        assert_eq!(err.code(), "bad_secret", "{err}");
        assert_eq!(err.status().as_u16(), 500);
    }
}

#[test]
fn messages_never_contain_secrets_or_expected_signatures() {
    let body = b"payload";
    let good = GithubSigner::new(GITHUB_SECRET).unwrap().signature(body);
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-hub-signature-256",
        HeaderValue::from_static(
            "sha256=0000000000000000000000000000000000000000000000000000000000000000",
        ),
    );
    let err = github()
        .verify(&headers, Bytes::from_static(body))
        .unwrap_err();
    let shown = format!("{err} {err:?} {:?}", github());
    assert!(!shown.contains(GITHUB_SECRET), "{shown}");
    assert!(!shown.contains(&good["sha256=".len()..]), "{shown}");
    for debug in [
        format!("{:?}", stripe()),
        format!("{:?}", standard()),
        format!("{:?}", StandardSigner::new(STANDARD_SECRET).unwrap()),
        format!("{:?}", StripeSigner::new(STRIPE_SECRET).unwrap()),
    ] {
        assert!(!debug.contains("MfKQ9r8"), "{debug}");
        assert!(!debug.contains("round_trip"), "{debug}");
    }
}

#[test]
fn error_messages_name_header_and_seconds() {
    let body = b"{}";
    let headers = StripeSigner::new(STRIPE_SECRET)
        .unwrap()
        .sign(NOW - 400, body);
    let err = stripe()
        .verify(&headers, Bytes::from_static(body))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "timestamp is 400s old, more than the 300s tolerance"
    );
    let err = stripe()
        .verify(&HeaderMap::new(), Bytes::from_static(body))
        .unwrap_err();
    assert_eq!(err.to_string(), "missing header Stripe-Signature");
}

#[test]
fn public_types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<GithubVerifier>();
    check::<StripeVerifier>();
    check::<StandardVerifier>();
    check::<verihook::Event>();
    check::<GithubSigner>();
    check::<StripeSigner>();
    check::<StandardSigner>();
    check::<Secret>();
    check::<Box<dyn Scheme>>();
    check::<verihook::scheme::Verifier>();
    check::<verihook::Receiver>();
    check::<verihook::providers::slack::SlackVerifier>();
    check::<verihook::providers::twilio::TwilioVerifier>();
    check::<verihook::providers::square::SquareVerifier>();
    check::<verihook::providers::shopify::ShopifyVerifier>();
    check::<verihook::providers::gitlab::GitlabVerifier>();
    check::<verihook::providers::paddle::PaddleVerifier>();
    check::<verihook::providers::linear::LinearVerifier>();
    check::<verihook::providers::zoom::ZoomVerifier>();
}

#[cfg(feature = "discord")]
#[test]
fn ed25519_round_trip_and_mixed_rotation() {
    let signer = StandardSigner::new("whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=").unwrap();
    let public = signer.public_key().unwrap();
    let body = br#"{"type":"user.created"}"#;
    let headers = signer.sign("msg_ed", NOW, body).unwrap();
    let mixed = StandardVerifier::with_secrets([STANDARD_SECRET, public.as_str()])
        .unwrap()
        .with_clock(FixedClock::at_unix(NOW));
    let event = mixed.verify(&headers, Bytes::from_static(body)).unwrap();
    assert_eq!(event.event_type().as_deref(), Some("user.created"));
    // A public-key-only verifier refuses a v1 HMAC signature (no downgrade).
    let hmac_headers = StandardSigner::new(STANDARD_SECRET)
        .unwrap()
        .sign("msg_ed", NOW, body)
        .unwrap();
    let strict = StandardVerifier::new(&public)
        .unwrap()
        .with_clock(FixedClock::at_unix(NOW));
    assert_eq!(
        strict
            .verify(&hmac_headers, Bytes::from_static(body))
            .unwrap_err()
            .code(),
        "bad_signature"
    );
}
