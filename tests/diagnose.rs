//! The diagnosis of a rejected request: each test makes one common mistake on a correctly
//! signed request and checks that exactly that cause is found; a request with no fixable cause
//! gets no diagnosis, and no finding ever carries a secret or a signature.
#![allow(clippy::unwrap_used)] // a test that cannot set up should fail loudly

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Uri};
use verihook::diagnose::{Cause, Explainer, Finding};
use verihook::testing::{GithubSigner, StandardSigner, StripeSigner, TwilioSigner};
use verihook::{providers, scheme::VerifyOptions, RequestHead, WebhookRequest};

const GITHUB_SECRET: &str = "github-webhook-secret-1";
const STRIPE_SECRET: &str = "whsec_stripe_test_secret_0123456789";
const NOW: u64 = 1_700_000_000;

/// A pretty-printed body, as Stripe sends.
const PRETTY: &str = "{\n  \"id\": \"evt_1\",\n  \"type\": \"invoice.paid\",\n  \"data\": {\n    \"object\": {\n      \"amount_paid\": 4200\n    }\n  }\n}";

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

fn explainer(name: &str, secrets: &[&str], url: Option<&str>) -> Explainer {
    Explainer::provider(
        providers::find(name).unwrap(),
        secrets,
        url,
        VerifyOptions::default(),
    )
}

/// The findings for `body` with `headers`, POSTed to `/`, as of `now`.
fn diagnose(explainer: &Explainer, headers: &HeaderMap, body: &[u8], now: u64) -> Vec<Finding> {
    let body = Bytes::copy_from_slice(body);
    let findings = explainer.diagnose(
        &WebhookRequest::new(RequestHead::post(headers), &body),
        at(now),
    );
    for finding in &findings {
        for secret in [
            GITHUB_SECRET,
            STRIPE_SECRET,
            "stripe_test_secret_0123456789",
        ] {
            assert!(!finding.advice.contains(secret), "{finding}");
        }
        for value in headers.values() {
            let value = value.to_str().unwrap();
            assert!(
                value.len() < 20 || !finding.advice.contains(value),
                "{finding}"
            );
        }
        assert!(!finding.advice.contains("almost"), "{finding}");
    }
    findings
}

fn causes(findings: &[Finding]) -> Vec<Cause> {
    findings.iter().map(|f| f.cause.clone()).collect()
}

fn stripe_signed(body: &[u8]) -> HeaderMap {
    StripeSigner::new(STRIPE_SECRET).unwrap().sign(NOW, body)
}

#[test]
fn a_trailing_newline_added_on_the_way_is_found() {
    let headers = stripe_signed(PRETTY.as_bytes());
    let received = format!("{PRETTY}\n");
    let findings = diagnose(
        &explainer("stripe", &[STRIPE_SECRET], None),
        &headers,
        received.as_bytes(),
        NOW,
    );
    assert_eq!(causes(&findings), [Cause::BodyGainedTrailingNewline]);
    assert!(findings[0].advice.contains("--data-binary"));
}

#[test]
fn a_trailing_newline_lost_on_the_way_is_found() {
    let signed = format!("{PRETTY}\n");
    let headers = stripe_signed(signed.as_bytes());
    let findings = diagnose(
        &explainer("stripe", &[STRIPE_SECRET], None),
        &headers,
        PRETTY.as_bytes(),
        NOW,
    );
    assert_eq!(causes(&findings), [Cause::BodyLostTrailingNewline]);
}

#[test]
fn crlf_line_endings_are_found_both_ways() {
    let headers = stripe_signed(PRETTY.as_bytes());
    let crlf = PRETTY.replace('\n', "\r\n");
    let findings = diagnose(
        &explainer("stripe", &[STRIPE_SECRET], None),
        &headers,
        crlf.as_bytes(),
        NOW,
    );
    assert_eq!(causes(&findings), [Cause::BodyGainedCrlf]);

    let headers = stripe_signed(crlf.as_bytes());
    let findings = diagnose(
        &explainer("stripe", &[STRIPE_SECRET], None),
        &headers,
        PRETTY.as_bytes(),
        NOW,
    );
    assert_eq!(causes(&findings), [Cause::BodyLostCrlf]);
}

#[test]
fn a_body_re_serialised_compactly_is_found() {
    let headers = stripe_signed(PRETTY.as_bytes());
    let compact: serde_json::Value = serde_json::from_str(PRETTY).unwrap();
    let compact = serde_json::to_vec(&compact).unwrap();
    // serde_json's Value keeps keys sorted, the order a typical re-serialisation has; write
    // the compact form in the sender's order instead, as a framework's typed struct would.
    let compact_in_order = PRETTY
        .replace("\n", "")
        .replace("  ", "")
        .replace("\": ", "\":");
    assert_ne!(compact, compact_in_order.as_bytes());
    let findings = diagnose(
        &explainer("stripe", &[STRIPE_SECRET], None),
        &headers,
        compact_in_order.as_bytes(),
        NOW,
    );
    assert_eq!(
        causes(&findings),
        [Cause::BodyReserialized { pretty: true }]
    );
    assert!(findings[0].advice.contains("raw bytes"));
}

#[test]
fn a_body_re_serialised_pretty_is_found() {
    let body = br#"{"ref":"refs/heads/main","commits":[{"id":"59b20b8d"}],"size":1}"#;
    let headers = GithubSigner::new(GITHUB_SECRET).unwrap().sign(body);
    let pretty =
        serde_json::to_vec_pretty(&serde_json::from_slice::<serde_json::Value>(body).unwrap())
            .unwrap();
    // Value sorts keys: "commits" < "ref" < "size"; the candidate keeps the received order,
    // which here is sorted too, so nothing the sender signed is recovered: only the
    // conclusion that no checked mistake explains it.
    let findings = diagnose(
        &explainer("github", &[GITHUB_SECRET], None),
        &headers,
        &pretty,
        NOW,
    );
    let codes: Vec<_> = findings.iter().map(|f| f.cause.code()).collect();
    assert_eq!(codes, ["secret_differs"], "{findings:?}");
    // Pretty-printed in the sender's order, as a framework keeping order would.
    let in_order = "{\n  \"ref\": \"refs/heads/main\",\n  \"commits\": [\n    {\n      \"id\": \"59b20b8d\"\n    }\n  ],\n  \"size\": 1\n}";
    let findings = diagnose(
        &explainer("github", &[GITHUB_SECRET], None),
        &headers,
        in_order.as_bytes(),
        NOW,
    );
    assert_eq!(
        causes(&findings),
        [Cause::BodyReserialized { pretty: false }]
    );
}

#[test]
fn a_secret_with_a_pasted_newline_is_found() {
    let headers = stripe_signed(PRETTY.as_bytes());
    let pasted = format!("{STRIPE_SECRET}\n");
    let findings = diagnose(
        &explainer("stripe", &["whsec_retired_secret_0000000", &pasted], None),
        &headers,
        PRETTY.as_bytes(),
        NOW,
    );
    assert_eq!(causes(&findings), [Cause::SecretUntrimmed { index: 2 }]);
    assert!(findings[0].advice.starts_with("configured secret 2 of 2"));
}

#[test]
fn a_stripe_secret_without_its_prefix_is_found() {
    let headers = stripe_signed(PRETTY.as_bytes());
    let bare = STRIPE_SECRET.strip_prefix("whsec_").unwrap();
    let findings = diagnose(
        &explainer("stripe", &[bare], None),
        &headers,
        PRETTY.as_bytes(),
        NOW,
    );
    assert_eq!(causes(&findings), [Cause::SecretMissingPrefix { index: 1 }]);
}

#[test]
fn a_secret_with_a_prefix_the_sender_does_not_use_is_found() {
    let headers = GithubSigner::new(GITHUB_SECRET).unwrap().sign(b"{}");
    let prefixed = format!("whsec_{GITHUB_SECRET}");
    let findings = diagnose(
        &explainer("github", &[&prefixed], None),
        &headers,
        b"{}",
        NOW,
    );
    assert_eq!(causes(&findings), [Cause::SecretExtraPrefix { index: 1 }]);
}

#[test]
fn a_base64_encoded_secret_is_found() {
    use base64::Engine as _;
    let headers = GithubSigner::new(GITHUB_SECRET).unwrap().sign(b"{}");
    let encoded = base64::engine::general_purpose::STANDARD.encode(GITHUB_SECRET);
    let findings = diagnose(
        &explainer("github", &[&encoded], None),
        &headers,
        b"{}",
        NOW,
    );
    assert_eq!(causes(&findings), [Cause::SecretBase64Encoded { index: 1 }]);
    assert!(findings[0].advice.contains("decoded value"));
}

#[test]
fn another_senders_secret_is_found() {
    let headers = GithubSigner::new("the-other-apps-secret")
        .unwrap()
        .sign(b"{}");
    let explainer = explainer("github", &[GITHUB_SECRET], None)
        .other_sender("github-enterprise", &["the-other-apps-secret"])
        .other_sender("github-bot", &["unrelated-secret-123"]);
    let findings = diagnose(&explainer, &headers, b"{}", NOW);
    assert_eq!(
        causes(&findings),
        [Cause::OtherSendersSecret {
            sender: "github-enterprise".into()
        }]
    );
}

#[test]
fn a_url_with_another_scheme_host_or_port_is_found() {
    let token = "twilio-auth-token-0123";
    let body = b"From=%2B15005550006&Body=hi";
    let signer = TwilioSigner::new(token).unwrap();
    let cases = [
        // (signed, configured, Host header)
        ("https://example.com/sms", "http://example.com/sms", None),
        (
            "https://example.com:8443/sms",
            "https://example.com/sms",
            Some("example.com:8443"),
        ),
        (
            "https://hooks.example.com/sms",
            "https://internal:8080/sms",
            Some("hooks.example.com"),
        ),
    ];
    for (signed, configured, host) in cases {
        let mut headers = signer.sign_form(signed, body).unwrap();
        if let Some(host) = host {
            headers.insert("host", HeaderValue::from_static(host));
        }
        let explainer = explainer("twilio", &[token], Some(configured));
        let uri: Uri = "/sms".parse().unwrap();
        let body = Bytes::from_static(body);
        let request = WebhookRequest::new(RequestHead::new(&Method::POST, &uri, &headers), &body);
        let findings = explainer.diagnose(&request, at(NOW));
        assert_eq!(
            causes(&findings),
            [Cause::UrlDiffers {
                signed: signed.to_owned()
            }],
            "configured {configured}"
        );
    }
}

#[test]
fn a_clock_off_is_found_with_its_direction() {
    let headers = stripe_signed(PRETTY.as_bytes());
    let explainer = explainer("stripe", &[STRIPE_SECRET], None);
    let findings = diagnose(&explainer, &headers, PRETTY.as_bytes(), NOW + 3_600);
    assert_eq!(
        causes(&findings),
        [Cause::ClockSkew {
            seconds: 3_600,
            ahead: false,
            otherwise_valid: true
        }]
    );
    let findings = diagnose(&explainer, &headers, PRETTY.as_bytes(), NOW - 900);
    assert_eq!(
        causes(&findings),
        [Cause::ClockSkew {
            seconds: 900,
            ahead: true,
            otherwise_valid: true
        }]
    );
    assert!(findings[0].advice.contains("900 s ahead"));
}

#[test]
fn a_stale_request_is_checked_at_its_own_time_for_the_other_mistakes() {
    let headers = stripe_signed(PRETTY.as_bytes());
    let explainer = explainer("stripe", &["whsec_not_the_secret_0123456"], None)
        .other_sender("stripe-connect", &[STRIPE_SECRET]);
    let findings = diagnose(&explainer, &headers, PRETTY.as_bytes(), NOW + 3_600);
    assert_eq!(
        causes(&findings),
        [
            Cause::ClockSkew {
                seconds: 3_600,
                ahead: false,
                otherwise_valid: false
            },
            Cause::OtherSendersSecret {
                sender: "stripe-connect".into()
            }
        ]
    );
    let alone = verihook::diagnose::Explainer::provider(
        providers::find("stripe").unwrap(),
        &["whsec_not_the_secret_0123456"],
        None,
        VerifyOptions::default(),
    );
    let findings = diagnose(&alone, &headers, PRETTY.as_bytes(), NOW + 3_600);
    assert_eq!(
        causes(&findings),
        [
            Cause::ClockSkew {
                seconds: 3_600,
                ahead: false,
                otherwise_valid: false
            },
            Cause::SecretDiffers
        ]
    );
}

#[test]
fn headers_of_another_sender_are_found() {
    let headers = stripe_signed(PRETTY.as_bytes());
    let findings = diagnose(
        &explainer("github", &[GITHUB_SECRET], None),
        &headers,
        PRETTY.as_bytes(),
        NOW,
    );
    assert_eq!(
        causes(&findings),
        [Cause::OtherSchemesHeaders { scheme: "stripe" }]
    );
    let standard = StandardSigner::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let headers = standard.sign("msg_1", NOW, b"{}").unwrap();
    let findings = diagnose(
        &explainer("stripe", &[STRIPE_SECRET], None),
        &headers,
        b"{}",
        NOW,
    );
    assert_eq!(
        causes(&findings),
        [Cause::OtherSchemesHeaders {
            scheme: "standard-webhooks"
        }]
    );
}

#[test]
fn a_forged_request_gets_no_diagnosis() {
    // Signed with a secret nobody configured, body tampered after signing: nothing the
    // operator could change explains it, and nothing is suggested.
    let headers = StripeSigner::new("whsec_an_attackers_secret_000")
        .unwrap()
        .sign(NOW, PRETTY.as_bytes());
    let explainer = explainer("stripe", &[STRIPE_SECRET], None)
        .other_sender("stripe-connect", &["whsec_connect_secret_000000"]);
    let tampered = PRETTY.replace("4200", "1");
    for body in [PRETTY.as_bytes(), tampered.as_bytes()] {
        // Only the conclusion: no mistake explains it, the secret (or the body) differs.
        let findings = diagnose(&explainer, &headers, body, NOW);
        let codes: Vec<_> = findings.iter().map(|f| f.cause.code()).collect();
        assert_eq!(codes, ["secret_differs"]);
    }
}

#[test]
fn an_authentic_request_gets_no_diagnosis_and_a_debug_shows_no_secret() {
    let headers = stripe_signed(PRETTY.as_bytes());
    let explainer = explainer("stripe", &[STRIPE_SECRET], None);
    assert!(diagnose(&explainer, &headers, PRETTY.as_bytes(), NOW).is_empty());
    let debug = format!("{explainer:?}");
    assert!(!debug.contains("stripe_test_secret"), "{debug}");
    assert!(debug.contains("redacted"));
}

#[test]
fn the_work_is_bounded_whatever_the_configuration() {
    // 100 secrets and 100 other senders: the explainer keeps 8 of each.
    let secrets: Vec<String> = (0..100)
        .map(|i| format!("whsec_secret_number_{i:04}"))
        .collect();
    let texts: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let mut explainer = explainer("stripe", &texts, None);
    for i in 0..100 {
        explainer = explainer.other_sender(format!("s{i}"), &texts);
    }
    let debug = format!("{explainer:?}");
    assert!(debug.contains("[8 redacted]"), "{debug}");
    assert!(
        debug.contains("\"s7\"") && !debug.contains("\"s8\""),
        "{debug}"
    );
    let headers = stripe_signed(PRETTY.as_bytes());
    let started = std::time::Instant::now();
    let findings = diagnose(&explainer, &headers, PRETTY.as_bytes(), NOW);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn an_unexplained_mismatch_concludes_the_secret_differs() {
    let headers = StripeSigner::new("whsec_rotated_since_0000000000")
        .unwrap()
        .sign(NOW, PRETTY.as_bytes());
    let findings = diagnose(
        &explainer("stripe", &[STRIPE_SECRET], None),
        &headers,
        PRETTY.as_bytes(),
        NOW,
    );
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].cause.code(), "secret_differs");
    assert!(findings[0].advice.contains("rotated"), "{}", findings[0]);
    assert!(findings[0].advice.contains("test"), "{}", findings[0]);
}

#[test]
fn python_layouts_of_the_body_are_undone() {
    // What Python's json.dumps writes by default, and with indent=4.
    let spaced = r#"{"id": "evt_1", "data": {"amount": 4200, "tags": ["a", "b"]}}"#;
    let indented = "{\n    \"id\": \"evt_1\",\n    \"data\": {\n        \"amount\": 4200,\n        \"tags\": [\n            \"a\",\n            \"b\"\n        ]\n    }\n}";
    let compact = r#"{"id":"evt_1","data":{"amount":4200,"tags":["a","b"]}}"#;
    for signed in [spaced, indented] {
        let headers = stripe_signed(signed.as_bytes());
        let findings = diagnose(
            &explainer("stripe", &[STRIPE_SECRET], None),
            &headers,
            compact.as_bytes(),
            NOW,
        );
        assert_eq!(findings.len(), 1, "{signed}: {findings:?}");
        assert_eq!(findings[0].cause.code(), "body_reserialized");
        assert!(
            findings[0].advice.contains("Python") || findings[0].advice.contains("4 spaces"),
            "{}",
            findings[0]
        );
    }
}

#[test]
fn a_secret_pasted_with_its_quotes_is_named_as_such() {
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let quoted = format!("\"{secret}\"");
    let refused = providers::find("standard")
        .unwrap()
        .build(&[&quoted], None, VerifyOptions::default())
        .unwrap_err()
        .to_string();
    assert!(refused.contains("quotes"), "{refused}");
    assert!(!refused.contains("needs its prefix"), "{refused}");
    assert!(!refused.contains("MfKQ9r8"), "{refused}");

    let headers = StandardSigner::new(secret)
        .unwrap()
        .sign("msg_1", NOW, b"{}")
        .unwrap();
    let explainer = explainer("standard", &[&quoted], None);
    let body = Bytes::from_static(b"{}");
    let request = WebhookRequest::new(RequestHead::post(&headers), &body);
    let err = explainer.verify(&request, at(NOW)).unwrap_err().to_string();
    assert!(err.contains("quotes"), "{err}");
    let findings = diagnose(&explainer, &headers, b"{}", NOW);
    assert_eq!(
        findings.iter().map(|f| &f.cause).collect::<Vec<_>>(),
        [&Cause::SecretUntrimmed { index: 1 }],
        "{findings:?}"
    );
}

#[test]
fn verify_applies_the_receivers_secret_rules_and_the_diagnosis_stays_lenient() {
    let short = "short";
    let headers = GithubSigner::new(short).unwrap().sign(b"{}");
    let body = Bytes::from_static(b"{}");
    let request = WebhookRequest::new(RequestHead::post(&headers), &body);
    let github = explainer("github", &[short], None);
    assert_eq!(
        github.verify(&request, at(NOW)).unwrap_err().code(),
        "bad_secret"
    );
    assert!(verihook::dangerous::verify_with_short_secrets(&github, &request, at(NOW)).is_ok());

    use verihook::scheme::declared::{Encoding, SchemeSpec, SignatureSpec};
    let spec = SchemeSpec::new(
        "acme",
        SignatureSpec::header("X-Hub-Signature-256", Encoding::Hex).prefix("sha256="),
    );
    let declared = Explainer::declared(&spec, &[short], None, VerifyOptions::default());
    assert_eq!(
        declared.verify(&request, at(NOW)).unwrap_err().code(),
        "bad_secret"
    );
    // The diagnosis still keys the scheme with the short secret: a wrong body is found.
    let findings = declared.diagnose(
        &WebhookRequest::new(RequestHead::post(&headers), &Bytes::from_static(b"{}\n")),
        at(NOW),
    );
    assert_eq!(findings[0].cause, Cause::BodyGainedTrailingNewline);
}
