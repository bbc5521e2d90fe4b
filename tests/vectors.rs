//! The providers' own published examples, kept as data in `tests/vectors/*.json` with their
//! sources noted in each file.
#![allow(clippy::unwrap_used)] // a test that cannot set up should fail loudly

#[path = "support/vectors.rs"]
mod support;
use support::{load, verifier, Case};

use std::time::Duration;

use verihook::scheme::declared::SchemeSpec;
use verihook::scheme::Verifier;
use verihook::{
    event::Verified, scheme::FixedClock, scheme::VerifyOptions, RequestHead, WebhookRequest,
};

/// The declared scheme of `examples/schemes/<spec>` for `case` (short published secrets
/// allowed by lowering the specification's minimum).
fn declared(spec: &str, case: &Case) -> Verifier {
    let path = format!("{}/examples/schemes/{spec}", env!("CARGO_MANIFEST_DIR"));
    let mut spec: SchemeSpec = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    if case.short_secret {
        spec = verihook::dangerous::allow_short_declared_secrets(spec);
        spec.secret.min_len = 1;
    }
    let secrets: Vec<&str> = case.secrets.iter().map(String::as_str).collect();
    let mut options = VerifyOptions::default();
    options.tolerance = case.tolerance.map(Duration::from_secs);
    options.clock = std::sync::Arc::new(FixedClock::at_unix(case.now));
    spec.build(&secrets, case.url.as_deref())
        .unwrap_or_else(|e| panic!("{}: {e}", case.name))
        .with_options(options)
        .boxed()
}

/// Runs every case of `file` with `ed25519` equal to `ed25519`; returns how many ran.
fn run(provider: &str, file: &str, ed25519: bool) -> usize {
    run_with(provider, file, |case| {
        (case.ed25519 == ed25519).then(|| verifier(provider, case))
    })
}

/// Runs the cases of `file` for which `scheme` gives a verifier (the others are skipped by the
/// caller's rule); returns how many ran.
fn run_with(provider: &str, file: &str, scheme: impl Fn(&Case) -> Option<Verifier>) -> usize {
    let file = load(file);
    let mut ran = 0;
    for case in &file.cases {
        let Some(scheme) = scheme(case) else {
            continue;
        };
        let (headers, uri, body) = support::request(case);
        let request =
            WebhookRequest::new(RequestHead::new(&http::Method::POST, &uri, &headers), &body);
        let result = scheme.verify_request(&request);
        match (&result, case.expect.as_str()) {
            (Ok(Verified::Handshake(answer)), "handshake") => {
                assert_eq!(
                    answer.body().as_ref(),
                    case.answer.as_deref().unwrap_or_default().as_bytes(),
                    "{}",
                    case.name
                );
            }
            (Ok(Verified::Event(event)), "ok") => {
                assert_eq!(event.scheme(), provider, "{}", case.name);
                assert_eq!(event.body().as_ref(), case.body.as_bytes(), "{}", case.name);
                if let Some(id) = &case.id {
                    assert_eq!(event.id().as_deref(), Some(id.as_str()), "{}", case.name);
                }
                if let Some(t) = &case.event_type {
                    assert_eq!(
                        event.event_type().as_deref(),
                        Some(t.as_str()),
                        "{}",
                        case.name
                    );
                }
                if let Some(ts) = case.timestamp {
                    assert_eq!(event.unix_timestamp(), Some(ts), "{}", case.name);
                }
            }
            (Err(err), code) if err.code() == code => {}
            _ => panic!("{}: expected {}, got {result:?}", case.name, case.expect),
        }
        ran += 1;
    }
    ran
}

#[test]
fn github_published_vectors() {
    assert_eq!(run("github", "github.json", false), 11);
}

#[test]
fn stripe_sdk_vectors() {
    assert_eq!(run("stripe", "stripe.json", false), 10);
}

#[test]
fn standard_webhooks_hmac_vectors() {
    assert_eq!(run("standard-webhooks", "standard.json", false), 13);
}

#[cfg(feature = "discord")]
#[test]
fn standard_webhooks_ed25519_vectors() {
    assert_eq!(run("standard-webhooks", "standard.json", true), 4);
}

#[test]
fn slack_published_vectors() {
    assert_eq!(run("slack", "slack.json", false), 7);
}

#[test]
fn twilio_sdk_vectors() {
    assert_eq!(run("twilio", "twilio.json", false), 17);
}

#[test]
fn square_sdk_vectors() {
    assert_eq!(run("square", "square.json", false), 5);
}

#[test]
fn gitlab_vectors() {
    assert_eq!(run("gitlab", "gitlab.json", false), 15);
}

#[test]
fn shopify_vectors() {
    assert_eq!(run("shopify", "shopify.json", false), 11);
}

#[cfg(feature = "discord")]
#[test]
fn discord_vectors() {
    assert_eq!(run("discord", "discord.json", false), 5);
}

#[test]
fn signers_reproduce_published_signatures() {
    use verihook::testing::{GithubSigner, StandardSigner};
    let github = GithubSigner::new("It's a Secret to Everybody").unwrap();
    assert_eq!(
        github.signature(b"Hello, World!"),
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    );
    let standard = StandardSigner::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    assert_eq!(
        standard.signature(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#
        ),
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    );
    let stripe = verihook::testing::StripeSigner::new("whsec_test_secret").unwrap();
    let body = "{\n  \"id\": \"evt_test_webhook\",\n  \"object\": \"event\",\n  \"data\": { \"object\": { \"id\": \"rdr_123\", \"object\": \"terminal.reader\" } }\n}";
    assert_eq!(
        stripe.signature(1614000000, body.as_bytes()),
        "t=1614000000,v1=20fe66ec6ff590869b4e9d0b49b4d2a6e54e0c768f516f9b1eb88dc92dee4590"
    );
}

#[cfg(feature = "discord")]
#[test]
fn ed25519_signer_reproduces_published_signature() {
    let signer =
        verihook::testing::StandardSigner::new("whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=")
            .unwrap();
    assert_eq!(
        signer.signature("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, br#"{"test": 2432232314}"#),
        "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag=="
    );
}

#[test]
fn paddle_sdk_vectors() {
    assert_eq!(run("paddle", "paddle.json", false), 16);
}

#[test]
fn linear_vectors() {
    assert_eq!(run("linear", "linear.json", false), 14);
}

#[test]
fn zoom_vectors() {
    assert_eq!(run("zoom", "zoom.json", false), 13);
}

/// A declared sender's published vectors, run through its specification in `examples/schemes/`.
fn run_declared(file: &str) -> usize {
    let path = format!("declared/{file}");
    let spec = load(&path)
        .spec
        .expect("a declared scheme's vectors name their spec");
    let name = spec
        .trim_end_matches(".json")
        .trim_end_matches("-v3")
        .to_owned();
    run_with(&name, &path, |case| Some(declared(&spec, case)))
}

#[test]
fn declared_hubspot_v3_reproduces_the_sdk_vector() {
    assert_eq!(run_declared("hubspot.json"), 8);
}

#[test]
fn declared_mux_reproduces_the_sdk_tests() {
    assert_eq!(run_declared("mux.json"), 8);
}

#[test]
fn declared_sanity_reproduces_the_toolkit_tests() {
    assert_eq!(run_declared("sanity.json"), 8);
}

#[test]
fn declared_coinbase_commerce_reproduces_the_sdk_tests() {
    assert_eq!(run_declared("coinbase-commerce.json"), 6);
}

#[test]
fn declared_workos_reproduces_the_sdk_tests() {
    assert_eq!(run_declared("workos.json"), 5);
}

/// The built-in schemes' own vector files, run through a declared scheme written like any
/// user's: the same verdicts, ids, types and timestamps. Skipped: what a declaration cannot
/// say (GitHub's legacy SHA-1 fallback, Slack's url_verification answer).
#[test]
fn declared_schemes_reproduce_the_built_in_vectors() {
    let skip_legacy = |case: &Case| !case.legacy_sha1 && !case.ed25519;
    let skip_handshake = |case: &Case| case.expect != "handshake";
    for (provider, file, keep, expected) in [
        (
            "github",
            "github.json",
            &skip_legacy as &dyn Fn(&Case) -> bool,
            9,
        ),
        ("stripe", "stripe.json", &skip_legacy, 10),
        ("slack", "slack.json", &skip_handshake, 6),
        ("paddle", "paddle.json", &skip_legacy, 16),
    ] {
        let spec = format!("{provider}.json");
        let ran = run_with(provider, file, |case| {
            keep(case).then(|| declared(&spec, case))
        });
        assert_eq!(ran, expected, "{provider}");
    }
}
