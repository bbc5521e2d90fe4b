//! With the `tracing` feature, the receiver records one event per request, and never a secret.
#![cfg(feature = "tracing")]
#![allow(clippy::unwrap_used)] // a test that cannot set up should fail loudly

use std::io::Write;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::HeaderValue;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::util::SubscriberInitExt;
use verihook::idempotency::MemoryStore;
use verihook::testing::GithubSigner;
use verihook::{providers::github::GithubVerifier, Receiver};

const SECRET: &str = "tracing-test-secret-do-not-log";

/// Everything the subscriber writes, kept for the test to read.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A subscriber for this thread writing into the returned buffer (INFO and up, plain text,
/// with the given span events).
fn capture(spans: FmtSpan) -> (Captured, tracing::subscriber::DefaultGuard) {
    let captured = Captured::default();
    let writer = captured.clone();
    let guard = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .with_span_events(spans)
        .finish()
        .set_default();
    (captured, guard)
}

// A current-thread runtime: the subscriber is set for this thread only.
#[tokio::test(flavor = "current_thread")]
async fn each_outcome_is_one_event_without_secrets() {
    let (captured, _guard) = capture(FmtSpan::NONE);

    let receiver = Receiver::builder()
        .verifier(GithubVerifier::new(SECRET).unwrap())
        .store(MemoryStore::new())
        .handler(|delivery| async move {
            if delivery.event_type().as_deref() == Some("fail") {
                return Err(std::io::Error::other("the database said no").into());
            }
            Ok(())
        })
        .build()
        .unwrap();
    let body = Bytes::from_static(br#"{"zen":"Keep it logically awesome."}"#);
    let signer = GithubSigner::new(SECRET).unwrap();
    let signed = signer.sign_delivery("d-1", "push", &body).unwrap();
    let signature = signed["x-hub-signature-256"].to_str().unwrap().to_owned();

    for _ in 0..2 {
        receiver.handle(&signed, body.clone()).await;
    }
    let mut tampered = signed.clone();
    tampered.insert("x-github-delivery", HeaderValue::from_static("d-2"));
    receiver.handle(&tampered, Bytes::from_static(b"{}")).await;
    let other = Bytes::from_static(br#"{"zen":"Avoid administrative distraction."}"#);
    let failing = signer.sign_delivery("d-3", "fail", &other).unwrap();
    receiver.handle(&failing, other.clone()).await;

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 4, "one event per request:\n{log}");
    let expect = [
        (
            "INFO",
            r#"sender="github" key="github:sha256: code="processed" status=200"#,
        ),
        (
            "INFO",
            r#"sender="github" key="github:sha256: code="duplicate" status=200"#,
        ),
        ("WARN", r#"sender="github" code="bad_signature" status=401"#),
        (
            "ERROR",
            r#"sender="github" key="github:sha256: code="handler_failed" status=500"#,
        ),
    ];
    for (line, (level, fields)) in lines.iter().zip(expect) {
        // Keys are digests of the signed body: match the fields on either side of the digest.
        let (before, after) = fields.split_once("sha256:").unwrap_or((fields, ""));
        assert!(
            line.contains(level) && line.contains(before) && line.contains(after),
            "{line}"
        );
    }
    assert!(lines[3].contains("error=the database said no"), "{log}");
    assert!(!log.contains(SECRET), "the secret was logged:\n{log}");
    assert!(
        !log.contains(&signature[7..]),
        "a signature was logged:\n{log}"
    );
}

// One `webhook` span per request, closed with its sender, event id, outcome, status and
// duration; the headers, signature, body and secret are never recorded in it.
#[tokio::test(flavor = "current_thread")]
async fn each_request_is_one_span_with_sender_outcome_duration_and_event_id() {
    let (captured, _guard) = capture(FmtSpan::CLOSE);

    let receiver = Receiver::builder()
        .sender("github-app", GithubVerifier::new(SECRET).unwrap())
        .handler(|_| async { Ok(()) })
        .build()
        .unwrap();
    let body = Bytes::from_static(br#"{"zen":"Approachable is better than simple."}"#);
    let signed = GithubSigner::new(SECRET)
        .unwrap()
        .sign_delivery("72d3162e-cc78-11e3-81ab-4c9367dc0958", "push", &body)
        .unwrap();
    let signature = signed["x-hub-signature-256"].to_str().unwrap().to_owned();
    receiver.handle(&signed, body.clone()).await;
    receiver.handle(&signed, Bytes::from_static(b"{}")).await;

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let closes: Vec<&str> = log.lines().filter(|l| l.contains("close")).collect();
    assert_eq!(closes.len(), 2, "one span per request:\n{log}");
    let processed = closes[0];
    for field in [
        "webhook{",
        "sender=\"github-app\"",
        "event_id=\"72d3162e-cc78-11e3-81ab-4c9367dc0958\"",
        "outcome=\"processed\"",
        "status=200",
        "duration_us=",
    ] {
        assert!(processed.contains(field), "{field} missing: {processed}");
    }
    let rejected = closes[1];
    assert!(
        rejected.contains("outcome=\"bad_signature\"") && rejected.contains("status=401"),
        "{rejected}"
    );
    // The outcome's own event is inside the span.
    assert!(
        log.contains("webhook{sender=\"github-app\" event_id="),
        "{log}"
    );
    assert!(!log.contains(SECRET), "the secret was logged:\n{log}");
    assert!(
        !log.contains(&signature[7..]),
        "a signature was logged:\n{log}"
    );
    assert!(!log.contains("Approachable"), "the body was logged:\n{log}");
}

/// No body content in logs, and no log field past its cap: a payload that does not fit its
/// route's type is logged with the path and the kind of value, never the value (serde quotes
/// it in full), and a handler's long error is cut.
#[tokio::test(flavor = "current_thread")]
async fn a_misfit_payload_and_a_long_error_stay_out_of_the_log() {
    use verihook::envelope::Json;
    use verihook::{EventRouter, HandlerError};

    #[derive(serde::Deserialize)]
    #[allow(dead_code)] // only its failure to deserialise matters
    struct Push {
        zen: u64,
    }
    async fn push(_: Json<Push>) -> Result<(), HandlerError> {
        Ok(())
    }
    async fn fail(_: Json<serde_json::Value>) -> Result<(), HandlerError> {
        Err("x".repeat(20_000).into())
    }

    let (captured, _guard) = capture(FmtSpan::NONE);
    let receiver = Receiver::builder()
        .verifier(GithubVerifier::new(SECRET).unwrap())
        .router(EventRouter::new().route("push", push).route("fail", fail))
        .build()
        .unwrap();
    let private = format!("private-{}", "p".repeat(10_000));
    let body = Bytes::from(serde_json::to_vec(&serde_json::json!({ "zen": private })).unwrap());
    let signer = GithubSigner::new(SECRET).unwrap();
    let misfit = receiver
        .handle(
            &signer.sign_delivery("d-1", "push", &body).unwrap(),
            body.clone(),
        )
        .await;
    assert_eq!(misfit.code(), "invalid_payload");
    let failing = receiver
        .handle(&signer.sign_delivery("d-2", "fail", &body).unwrap(), body)
        .await;
    assert_eq!(failing.code(), "handler_failed");

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(!log.contains("private-"), "body content was logged");
    assert!(
        log.contains("at `zen`: invalid type: string, expected u64"),
        "{log}"
    );
    let longest = log.lines().map(str::len).max().unwrap_or(0);
    assert!(longest < 1_500, "a log line of {longest} bytes");
}

/// The typed extractor's refusals are logged too, one line each naming the sender: a request
/// refused before its body is read, a forged one, and a misfit payload (serde's detail in the
/// log, never in the answer).
#[cfg(feature = "axum")]
#[tokio::test(flavor = "current_thread")]
async fn the_extractors_log_each_refusal_in_one_line_naming_the_sender() {
    use axum::extract::FromRequest;
    use axum::response::IntoResponse;
    use verihook::axum::{TypedWebhook, WebhookVerifier};
    use verihook::testing::StripeSigner;
    use verihook::{providers::stripe::StripeVerifier, scheme::FixedClock};

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)] // only its failure to deserialise matters
    struct Invoice {
        amount: u64,
    }
    const STRIPE: &str = "whsec_tracing_extractor_secret";
    let (captured, _guard) = capture(FmtSpan::NONE);
    let state = WebhookVerifier::new(
        StripeVerifier::new(STRIPE)
            .unwrap()
            .with_clock(FixedClock::at_unix(1_700_000_000)),
    );
    let request = |headers: http::HeaderMap, body: &'static [u8]| {
        let mut request = http::Request::post("/typed")
            .body(axum::body::Body::from(body))
            .unwrap();
        *request.headers_mut() = headers;
        request
    };
    let body: &[u8] = br#"{"id":"evt_1","amount":"secret-looking-value"}"#;
    let signed = StripeSigner::new(STRIPE).unwrap().sign(1_700_000_000, body);
    let forged = StripeSigner::new("whsec_someone_elses_secret")
        .unwrap()
        .sign(1_700_000_000, body);

    let mut answers = Vec::new();
    for headers in [http::HeaderMap::new(), forged, signed] {
        let refused = TypedWebhook::<Invoice>::from_request(request(headers, body), &state)
            .await
            .unwrap_err();
        let response = refused.into_response();
        let status = response.status().as_u16();
        let answer = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        answers.push((status, String::from_utf8(answer.to_vec()).unwrap()));
    }
    assert_eq!(
        answers[2],
        (
            422,
            r#"{"error":"invalid_payload","message":"the authentic payload does not fit the type this event is handled as"}"#
                .to_owned()
        )
    );

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 3, "one line per refusal:\n{log}");
    let expect = [
        ("WARN", r#"code="missing_header" status=400"#),
        ("WARN", r#"code="bad_signature" status=401"#),
        ("ERROR", r#"code="invalid_payload" status=422"#),
    ];
    for (line, (level, fields)) in lines.iter().zip(expect) {
        assert!(
            line.contains(level) && line.contains(r#"sender="stripe""#) && line.contains(fields),
            "{line}"
        );
    }
    assert!(
        lines[2].contains("at `amount`: invalid type: string, expected u64"),
        "{log}"
    );
    assert!(
        !log.contains("secret-looking-value"),
        "body content was logged"
    );
    assert!(!log.contains(STRIPE), "the secret was logged");
}

/// A handler that panics and an event no route takes are each one line naming the sender.
#[tokio::test(flavor = "current_thread")]
async fn a_panic_and_an_unrouted_event_are_each_one_line() {
    use verihook::envelope::Json;
    use verihook::{EventRouter, HandlerError};

    async fn panics(_: Json<serde_json::Value>) -> Result<(), HandlerError> {
        panic!("the handler fell over")
    }
    let (captured, _guard) = capture(FmtSpan::NONE);
    let receiver = Receiver::builder()
        .verifier(GithubVerifier::new(SECRET).unwrap())
        .router(EventRouter::new().route("push", panics))
        .build()
        .unwrap();
    let body = Bytes::from_static(br#"{"zen":"Half measures are as bad as nothing at all."}"#);
    let signer = GithubSigner::new(SECRET).unwrap();
    for (id, kind) in [("d-1", "push"), ("d-2", "issues")] {
        let headers = signer.sign_delivery(id, kind, &body).unwrap();
        receiver.handle(&headers, body.clone()).await;
    }
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 2, "one line per request:\n{log}");
    assert!(
        lines[0].contains("ERROR") && lines[0].contains(r#"sender="github""#),
        "{log}"
    );
    assert!(lines[0].contains("handler_failed"), "{log}");
    assert!(lines[1].contains(r#"sender="github""#), "{log}");
    assert!(
        lines[1].contains("unrouted") || lines[1].contains("no_route"),
        "{log}"
    );
}

/// The request's trace context follows the event into the worker: the first attempt's span is
/// the request's child, the retry links to it, and both carry the ordering key.
#[cfg(feature = "inbox")]
#[tokio::test(flavor = "current_thread")]
async fn attempts_join_the_trace_of_the_request_that_delivered_them() {
    use std::time::Duration;
    use verihook::inbox::{Backoff, MemoryInbox, Worker};
    use verihook::providers::stripe::StripeVerifier;
    use verihook::testing::StripeSigner;

    let (captured, _guard) = capture(FmtSpan::NONE);
    let inbox = Arc::new(MemoryInbox::new());
    let stripe_secret = "whsec_tracing_inbox_secret";
    let receiver = Receiver::builder()
        .sender("stripe", StripeVerifier::new(stripe_secret).unwrap())
        .inbox(inbox.clone())
        .build()
        .unwrap();
    let worker = Worker::builder(inbox)
        .backoff(Backoff {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(1),
        })
        .handler(|delivery| async move {
            if delivery.attempt() == 1 {
                return Err("the ledger is busy".into());
            }
            Ok(())
        })
        .build()
        .unwrap();
    let body = br#"{"id":"evt_traced","type":"invoice.paid","created":1700000000,"data":{"object":{"id":"in_traced"}}}"#;
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut headers = StripeSigner::new(stripe_secret).unwrap().sign(unix, body);
    headers.insert(
        "traceparent",
        HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    );
    assert_eq!(
        receiver
            .handle(&headers, Bytes::from_static(body))
            .await
            .code(),
        "queued"
    );
    assert_eq!(worker.run_once().await.unwrap(), 1);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(worker.run_once().await.unwrap(), 1);
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("verihook.attempt"))
        .collect();
    let first = lines
        .iter()
        .find(|l| l.contains("retry scheduled"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(first.contains("attempt=1"), "{first}");
    assert!(first.contains("ordering_key=\"in_traced\""), "{first}");
    assert!(
        first.contains("trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\""),
        "{first}"
    );
    assert!(first.contains("parent_id=\"00f067aa0ba902b7\""), "{first}");
    assert!(!first.contains("link_id"), "{first}");
    let second = lines
        .iter()
        .find(|l| l.contains("inbox event processed"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(second.contains("attempt=2"), "{second}");
    assert!(second.contains("link_id=\"00f067aa0ba902b7\""), "{second}");
    assert!(!second.contains("parent_id"), "{second}");
}
