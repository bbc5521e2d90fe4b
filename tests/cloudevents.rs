//! CloudEvents over HTTP on top of a signing scheme: structured and binary modes, the id that
//! de-duplicates, and the abuse-protection handshake over real HTTP (Axum and Actix-web).
#![allow(clippy::unwrap_used)] // a test that cannot set up should fail loudly

#[cfg(any(feature = "axum", feature = "actix"))]
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::HeaderMap;
use verihook::providers::standard::Standard;
use verihook::scheme::cloudevents::{CloudEvents, StructuredEvent};
use verihook::scheme::Verifier;
use verihook::testing::{GithubSigner, StandardSigner};
use verihook::{
    event::Verified, providers::github::GithubVerifier, providers::standard::StandardVerifier,
    scheme::FixedClock, Event, RequestHead, Scheme, WebhookRequest,
};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The CloudEvents specification's own structured-mode example (spec.md, "Example"), compact.
const SPEC_EXAMPLE: &str = r#"{"specversion":"1.0","type":"com.github.pull_request.opened","source":"https://github.com/cloudevents/spec/pull","subject":"123","id":"A234-1234-1234","time":"2018-04-05T17:31:00Z","comexampleextension1":"value","comexampleothervalue":5,"datacontenttype":"text/xml","data":"<much wow=\"xml\"/>"}"#;

fn scheme() -> Verifier<CloudEvents<Standard>> {
    CloudEvents::new(
        StandardVerifier::new(SECRET)
            .unwrap()
            .with_clock(FixedClock::at_unix(1_700_000_001)),
    )
    .allow_origin("eventemitter.example.com")
    .allowed_rate(120)
}

fn verify<S: Scheme>(
    scheme: &Verifier<S>,
    headers: &HeaderMap,
    body: &str,
) -> Result<Verified, verihook::VerifyError> {
    let body = Bytes::from(body.to_owned());
    scheme.verify_request(&WebhookRequest::new(RequestHead::post(headers), &body))
}

fn structured(msg_id: &str, body: &str) -> HeaderMap {
    let mut headers = StandardSigner::new(SECRET)
        .unwrap()
        .sign(msg_id, 1_700_000_000, body.as_bytes())
        .unwrap();
    headers.insert(
        "content-type",
        "application/cloudevents+json; charset=utf-8"
            .parse()
            .unwrap(),
    );
    headers
}

fn event(verified: Verified) -> Event {
    verified.into_event().expect("an event")
}

#[test]
fn structured_mode_keys_on_source_and_id_when_the_body_is_signed() {
    let scheme = scheme();
    let got = event(verify(&scheme, &structured("msg_1", SPEC_EXAMPLE), SPEC_EXAMPLE).unwrap());
    assert_eq!(
        got.id().as_deref(),
        Some("https://github.com/cloudevents/spec/pull A234-1234-1234")
    );
    assert_eq!(
        got.event_type().as_deref(),
        Some("com.github.pull_request.opened")
    );
    assert!(got.signed().id() && got.signed().event_type());
    assert_eq!(
        got.idempotency_key(),
        "standard-webhooks:https://github.com/cloudevents/spec/pull A234-1234-1234"
    );
    let envelope: StructuredEvent<String> = got.json().unwrap();
    assert_eq!(envelope.data.as_deref(), Some("<much wow=\"xml\"/>"));
    assert_eq!(envelope.time.as_deref(), Some("2018-04-05T17:31:00Z"));
    assert_eq!(envelope.subject.as_deref(), Some("123"));

    // The same CloudEvent id from another source is another event.
    let other = SPEC_EXAMPLE.replace("spec/pull", "sdk-go/pull");
    let got_other = event(verify(&scheme, &structured("msg_2", &other), &other).unwrap());
    assert_ne!(got_other.idempotency_key(), got.idempotency_key());

    // Redelivered under a new webhook-id, the CloudEvent is the same event: same key.
    let again = event(verify(&scheme, &structured("msg_3", SPEC_EXAMPLE), SPEC_EXAMPLE).unwrap());
    assert_eq!(again.idempotency_key(), got.idempotency_key());

    // Authenticity is still the inner scheme's.
    let tampered = SPEC_EXAMPLE.replace("A234", "B234");
    let err = verify(&scheme, &structured("msg_1", SPEC_EXAMPLE), &tampered).unwrap_err();
    assert_eq!(err.code(), "bad_signature");
}

#[test]
fn binary_mode_reports_the_unsigned_headers_and_keeps_the_signed_id() {
    let data = r#"{"number":123}"#;
    let mut headers = StandardSigner::new(SECRET)
        .unwrap()
        .sign("msg_9", 1_700_000_000, data.as_bytes())
        .unwrap();
    for (name, value) in [
        ("ce-specversion", "1.0"),
        ("ce-id", "A234-1234-1234"),
        ("ce-source", "https://github.com/cloudevents/spec/pull"),
        ("ce-type", "com.github.pull_request.opened"),
        ("content-type", "application/json"),
    ] {
        headers.insert(name, value.parse().unwrap());
    }
    let got = event(verify(&scheme(), &headers, data).unwrap());
    assert_eq!(
        got.event_type().as_deref(),
        Some("com.github.pull_request.opened")
    );
    assert!(
        !got.signed().event_type(),
        "ce-type is not covered by the signature"
    );
    assert_eq!(got.id().as_deref(), Some("msg_9"));
    // The unsigned type may route the event, so it is part of the key with the signed id: the
    // same delivery under another `ce-type` is another event, and never a duplicate of this one.
    let key = got.idempotency_key();
    assert!(key.starts_with("standard-webhooks:sha256:"), "{key}");
    headers.insert("ce-type", "com.github.issues.opened".parse().unwrap());
    let other = event(verify(&scheme(), &headers, data).unwrap());
    assert_ne!(other.idempotency_key(), key);

    // A scheme that signs no id: ce-id is reported, never keyed.
    let github = CloudEvents::new(GithubVerifier::new("a-github-secret").unwrap());
    let mut headers = GithubSigner::new("a-github-secret")
        .unwrap()
        .sign_delivery("delivery-1", "pull_request", data.as_bytes())
        .unwrap();
    headers.insert("ce-specversion", "1.0".parse().unwrap());
    headers.insert("ce-id", "A234-1234-1234".parse().unwrap());
    let got = event(verify(&github, &headers, data).unwrap());
    assert_eq!(got.id().as_deref(), Some("A234-1234-1234"));
    assert!(!got.signed().id());
    assert!(got.idempotency_key().starts_with("github:sha256:"));
}

/// A receiver with the CloudEvents scheme, counting handler runs.
#[cfg(any(feature = "axum", feature = "actix"))]
fn receiver(runs: Arc<Mutex<u32>>) -> verihook::Receiver {
    verihook::Receiver::builder()
        .sender("events", scheme())
        .handler(move |_delivery| {
            let runs = runs.clone();
            async move {
                *runs.lock().unwrap() += 1;
                Ok(())
            }
        })
        .build()
        .unwrap()
}

/// The abuse-protection exchange against `base`: allowed, refused, and missing origin.
#[cfg(any(feature = "axum", feature = "actix"))]
async fn abuse_protection(base: &str, runs: &Arc<Mutex<u32>>) {
    let client = reqwest::Client::new();
    let options = |origin: Option<&str>| {
        let mut request = client.request(reqwest::Method::OPTIONS, format!("{base}/events"));
        if let Some(origin) = origin {
            request = request
                .header("WebHook-Request-Origin", origin)
                .header("WebHook-Request-Rate", "600");
        }
        request.send()
    };
    let allowed = options(Some("eventemitter.example.com")).await.unwrap();
    assert_eq!(allowed.status(), 200);
    assert_eq!(
        allowed.headers()["webhook-allowed-origin"],
        "eventemitter.example.com"
    );
    assert_eq!(allowed.headers()["webhook-allowed-rate"], "120");
    let refused = options(Some("intruder.example.net")).await.unwrap();
    assert_eq!(refused.status(), 403);
    assert!(refused.headers().get("webhook-allowed-origin").is_none());
    let missing = options(None).await.unwrap();
    assert_eq!(missing.status(), 400);
    assert_eq!(
        *runs.lock().unwrap(),
        0,
        "a handshake never reaches the handler"
    );

    // Then a signed structured event is processed once, and its redelivery is a duplicate.
    for (msg, expected) in [("msg_a", "processed"), ("msg_b", "duplicate")] {
        let mut request = client.post(format!("{base}/events")).body(SPEC_EXAMPLE);
        for (name, value) in &structured(msg, SPEC_EXAMPLE) {
            request = request.header(name.as_str(), value.to_str().unwrap());
        }
        let answer = request.send().await.unwrap();
        assert_eq!(answer.status(), 200);
        assert!(answer.text().await.unwrap().contains(expected));
    }
    assert_eq!(*runs.lock().unwrap(), 1);
}

#[cfg(feature = "axum")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abuse_protection_over_axum() {
    use axum::routing::post;
    let runs = Arc::new(Mutex::new(0));
    let app = axum::Router::new()
        .route(
            "/events",
            post(verihook::axum::receive).options(verihook::axum::receive),
        )
        .with_state(Arc::new(receiver(runs.clone())));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    abuse_protection(&base, &runs).await;
}

#[cfg(feature = "actix")]
#[actix_web::test]
async fn abuse_protection_over_actix() {
    use actix_web::{web, App, HttpServer};
    let runs = Arc::new(Mutex::new(0));
    let data = web::Data::new(receiver(runs.clone()));
    let server = HttpServer::new(move || {
        App::new().app_data(data.clone()).service(
            web::resource("/events")
                .route(web::post().to(verihook::actix::receive))
                .route(web::method(actix_web::http::Method::OPTIONS).to(verihook::actix::receive)),
        )
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let base = format!("http://{}", server.addrs()[0]);
    let handle = server.run();
    let stop = handle.handle();
    actix_web::rt::spawn(handle);
    abuse_protection(&base, &runs).await;
    stop.stop(false).await;
}
