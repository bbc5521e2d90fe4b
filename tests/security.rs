//! The holes a security review found, each written as the attack, over real HTTP where the hole
//! is HTTP-shaped. Every test here failed before its fix.
#![allow(clippy::unwrap_used)] // a test that cannot set up should fail loudly

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use verihook::idempotency::MemoryStore;
use verihook::testing::{GithubSigner, SlackSigner, StandardSigner};
use verihook::{
    providers, providers::github::GithubVerifier, providers::slack::SlackVerifier,
    providers::standard::StandardVerifier, providers::stripe::StripeVerifier,
    scheme::VerifyOptions, ConfigError, Receiver,
};

const GITHUB_SECRET: &str = "security-github-secret";
const CLERK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const RESEND_SECRET: &str = "whsec_c2VuZGVyLXR3by1zZWNyZXQtMTIzNDU2";
const ED_SEED: &str = "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=";
const SLACK_SECRET: &str = "security-slack-secret";

type Runs = Arc<Mutex<HashMap<String, usize>>>;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// One receiver with every sender the attacks need; its handler counts runs per key.
fn receiver(store: MemoryStore) -> (Receiver, Runs) {
    let runs: Runs = Arc::default();
    let seen = runs.clone();
    let public = StandardSigner::new(ED_SEED).unwrap().public_key().unwrap();
    let receiver = Receiver::builder()
        .sender("github", GithubVerifier::new(GITHUB_SECRET).unwrap())
        .sender("clerk", StandardVerifier::new(CLERK_SECRET).unwrap())
        .sender("resend", StandardVerifier::new(RESEND_SECRET).unwrap())
        .sender("signed-by-key", StandardVerifier::new(&public).unwrap())
        .sender("slack", SlackVerifier::new(SLACK_SECRET).unwrap())
        .sender(
            "stripe",
            StripeVerifier::new("whsec_security_stripe").unwrap(),
        )
        .sender_body_limit("stripe", 64 * 1024)
        .store(store)
        .handler(move |delivery| {
            let seen = seen.clone();
            async move {
                *seen
                    .lock()
                    .unwrap()
                    .entry(delivery.key().to_owned())
                    .or_insert(0) += 1;
                Ok(())
            }
        })
        .build()
        .unwrap();
    (receiver, runs)
}

/// An Axum server with a route per sender (`/webhooks/<name>`) and one that finds the sender by
/// its headers (`/webhooks/any`).
async fn axum_server(store: MemoryStore) -> (String, Runs) {
    use axum::{routing::post, Extension, Router};
    use verihook::axum::{receive, SenderName};
    let (receiver, runs) = receiver(store);
    let mut app = Router::new().route("/webhooks/any", post(receive));
    for name in [
        "github",
        "clerk",
        "resend",
        "signed-by-key",
        "slack",
        "stripe",
    ] {
        app = app.route(
            &format!("/webhooks/{name}"),
            post(receive).layer(Extension(SenderName::new(name))),
        );
    }
    let app = app.with_state(Arc::new(receiver));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, runs)
}

/// The same routes on Actix-web, on a thread of its own; returns the base URL.
fn actix_server() -> String {
    use actix_web::{web, App, HttpServer};
    use verihook::actix::{receive, SenderName};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            let receiver = web::Data::new(receiver(MemoryStore::new()).0);
            HttpServer::new(move || {
                let mut app = App::new().app_data(receiver.clone());
                for name in ["github", "stripe"] {
                    app = app.service(
                        web::resource(format!("/webhooks/{name}"))
                            .app_data(SenderName::new(name))
                            .route(web::post().to(receive)),
                    );
                }
                app
            })
            .workers(1)
            .listen(listener)
            .unwrap()
            .run()
            .await
            .unwrap();
        });
    });
    base
}

async fn post(url: &str, headers: HeaderMap, body: Bytes) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(url)
        .headers(headers)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

fn github_delivery(delivery: &str, body: &Bytes) -> HeaderMap {
    GithubSigner::new(GITHUB_SECRET)
        .unwrap()
        .sign_delivery(delivery, "push", body)
        .unwrap()
}

// Hole 1: GitHub de-duplication trusted the unsigned X-GitHub-Delivery.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_captured_github_delivery_replayed_under_a_new_delivery_id_is_a_duplicate() {
    let (base, runs) = axum_server(MemoryStore::new()).await;
    let url = format!("{base}/webhooks/github");
    let body = Bytes::from_static(br#"{"ref":"refs/heads/main","after":"a1"}"#);
    let (status, json) = post(&url, github_delivery("d-1", &body), body.clone()).await;
    assert_eq!(
        (status, json["outcome"].as_str()),
        (200, Some("processed")),
        "{json}"
    );
    for replay in ["d-2", "d-3", "0000-forged"] {
        let (status, json) = post(&url, github_delivery(replay, &body), body.clone()).await;
        assert_eq!(
            (status, json["outcome"].as_str()),
            (200, Some("duplicate")),
            "{json}"
        );
    }
    let runs = runs.lock().unwrap();
    assert_eq!(runs.values().sum::<usize>(), 1, "{runs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_under_another_events_delivery_id_does_not_make_it_a_duplicate() {
    let (base, runs) = axum_server(MemoryStore::new()).await;
    let url = format!("{base}/webhooks/github");
    let a = Bytes::from_static(br#"{"after":"event-a"}"#);
    let b = Bytes::from_static(br#"{"after":"event-b"}"#);
    let (_, json) = post(&url, github_delivery("A", &a), a.clone()).await;
    assert_eq!(json["outcome"], "processed");
    // The attacker guesses B's delivery id and replays A under it first.
    let (_, json) = post(&url, github_delivery("B", &a), a.clone()).await;
    assert_eq!(json["outcome"], "duplicate");
    // The genuine B still runs.
    let (status, json) = post(&url, github_delivery("B", &b), b.clone()).await;
    assert_eq!(
        (status, json["outcome"].as_str()),
        (200, Some("processed")),
        "{json}"
    );
    assert_eq!(runs.lock().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_under_random_delivery_ids_do_not_fill_the_store() {
    let store = MemoryStore::new();
    let (base, _) = axum_server(store.clone()).await;
    let url = format!("{base}/webhooks/github");
    let body = Bytes::from_static(br#"{"after":"fill"}"#);
    for n in 0..50 {
        post(
            &url,
            github_delivery(&format!("random-{n}"), &body),
            body.clone(),
        )
        .await;
    }
    assert_eq!(
        store.len(),
        1,
        "one signed body is one key, whatever its delivery ids"
    );
}

// Hole 2: thousands of ed25519 entries cost a SHA-512 pass over the body each.

fn ed25519_flood(entries: usize, body: &Bytes) -> HeaderMap {
    let signer = StandardSigner::new(ED_SEED).unwrap();
    let mut headers = signer.sign("msg_flood", now(), body).unwrap();
    let junk = format!(
        "v1a,{}",
        base64::engine::general_purpose::STANDARD.encode([7u8; 64])
    );
    let list = vec![junk; entries].join(" ");
    headers.insert("webhook-signature", HeaderValue::from_str(&list).unwrap());
    headers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_ed25519_entries_are_refused_before_any_signature_work() {
    let body = Bytes::from(vec![b'x'; 1024 * 1024 - 64]);
    let flood = ed25519_flood(1_000, &body);
    let (receiver, runs) = receiver(MemoryStore::new());
    let started = Instant::now();
    let outcome = receiver
        .handle_as("signed-by-key", &flood, body.clone())
        .await;
    let spent = started.elapsed();
    assert_eq!(
        (outcome.code(), outcome.status().as_u16()),
        ("malformed_header", 400)
    );
    // Before the cap, this request took 2.4 s of CPU (1,000 SHA-512 passes over 1 MiB).
    assert!(spent < Duration::from_millis(50), "took {spent:?}");
    println!("1,000 v1a entries on a 1 MiB body refused in {spent:?}");
    // Over HTTP, before the body is even read.
    let (base, _) = axum_server(MemoryStore::new()).await;
    let (status, json) = post(&format!("{base}/webhooks/signed-by-key"), flood, body).await;
    assert_eq!(
        (status, json["error"].as_str()),
        (400, Some("malformed_header")),
        "{json}"
    );
    assert!(runs.lock().unwrap().is_empty());
}

#[tokio::test]
async fn repeated_ed25519_entries_within_the_cap_still_verify() {
    let body = Bytes::from_static(br#"{"type":"user.created"}"#);
    let signer = StandardSigner::new(ED_SEED).unwrap();
    let mut headers = signer.sign("msg_repeat", now(), &body).unwrap();
    let good = headers["webhook-signature"].to_str().unwrap().to_owned();
    let list = format!("{good} {good} {good}");
    headers.insert("webhook-signature", HeaderValue::from_str(&list).unwrap());
    let (receiver, _) = receiver(MemoryStore::new());
    let outcome = receiver.handle_as("signed-by-key", &headers, body).await;
    assert_eq!(outcome.code(), "processed");
}

// Hole 2, again: eight distinct `v1a` entries (the old cap) times each public key each cost a
// SHA-512 pass over the body, since ed25519 hashes R, A and the message together.

#[tokio::test]
async fn three_distinct_ed25519_entries_are_refused_as_malformed_before_any_check() {
    let body = Bytes::from_static(br#"{"type":"user.created"}"#);
    let signer = StandardSigner::new(ED_SEED).unwrap();
    let mut headers = signer.sign("msg_three", now(), &body).unwrap();
    let good = headers["webhook-signature"].to_str().unwrap().to_owned();
    let junk = |byte: u8| {
        format!(
            "v1a,{}",
            base64::engine::general_purpose::STANDARD.encode([byte; 64])
        )
    };
    // The genuine entry first: a verifier that checked entries would accept the request.
    let list = format!("{good} {} {}", junk(1), junk(2));
    headers.insert("webhook-signature", HeaderValue::from_str(&list).unwrap());
    // Refused on the headers alone, before the body is read or any signature checked.
    let public = signer.public_key().unwrap();
    let verifier = StandardVerifier::new(&public).unwrap();
    let uri = http::Uri::from_static("/webhooks/signed-by-key");
    let head = verihook::RequestHead::new(&http::Method::POST, &uri, &headers);
    let refused = verifier.check_head(&head);
    assert_eq!(refused.unwrap_err().code(), "malformed_header");
    let (receiver, runs) = receiver(MemoryStore::new());
    let outcome = receiver
        .handle_as("signed-by-key", &headers, body.clone())
        .await;
    assert_eq!(
        (outcome.code(), outcome.status().as_u16()),
        ("malformed_header", 400)
    );
    assert!(runs.lock().unwrap().is_empty());
    // Two distinct entries (one per active key during a rotation) still verify.
    let list = format!("{} {good}", junk(1));
    headers.insert("webhook-signature", HeaderValue::from_str(&list).unwrap());
    let outcome = receiver.handle_as("signed-by-key", &headers, body).await;
    assert_eq!(outcome.code(), "processed");
}

// Hole 3: bodies were read before the headers were looked at.

/// Sends a request head announcing `length` bytes, sends none of them, and returns what the
/// server answers (within 10 s) as text.
fn head_only(base: &str, path: &str, headers: &[(&str, &str)], length: u64) -> String {
    let address = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n"
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    // Read until the answer's head and JSON body are in (the server closes, or the body ends).
    while let Ok(n) = stream.read(&mut buffer) {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buffer[..n]);
        if answer.ends_with(b"}") {
            break;
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

const THIRTY_MIB: u64 = 30 * 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_answers_a_request_without_signature_before_its_body() {
    let (base, _) = axum_server(MemoryStore::new()).await;
    let answer =
        tokio::task::spawn_blocking(move || head_only(&base, "/webhooks/github", &[], THIRTY_MIB))
            .await
            .unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("missing_header"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_answers_an_oversize_content_length_before_its_body() {
    let (base, _) = axum_server(MemoryStore::new()).await;
    let signed = github_delivery("d-big", &Bytes::from_static(b"{}"));
    let signature = signed["x-hub-signature-256"].to_str().unwrap().to_owned();
    let answer = tokio::task::spawn_blocking(move || {
        head_only(
            &base,
            "/webhooks/github",
            &[("X-Hub-Signature-256", &signature)],
            26 * 1024 * 1024,
        )
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("body_too_large"), "{answer}");
}

#[test]
fn actix_answers_a_request_without_signature_before_its_body() {
    let base = actix_server();
    std::thread::sleep(Duration::from_millis(300));
    let answer = head_only(&base, "/webhooks/github", &[], THIRTY_MIB);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("missing_header"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
}

#[test]
fn actix_stops_reading_a_chunked_body_at_the_limit() {
    let base = actix_server();
    std::thread::sleep(Duration::from_millis(300));
    let address = base.trim_start_matches("http://").to_owned();
    let body = br#"{"id":"evt_1"}"#;
    let signed = verihook::testing::StripeSigner::new("whsec_security_stripe")
        .unwrap()
        .sign(now(), body);
    let signature = signed["stripe-signature"].to_str().unwrap().to_owned();
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let head = format!(
        "POST /webhooks/stripe HTTP/1.1\r\nHost: {address}\r\nStripe-Signature: {signature}\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    // Up to 128 MiB in 64 KiB chunks, far past the 64 KiB limit: the answer must come while the
    // body is still being sent, not after it. (What Actix then does with the rest of the
    // connection is Actix's: it lingers up to its client-disconnect timeout, discarding input.)
    const MOST: usize = 128 * 1024 * 1024;
    let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let sent_when_answered = Arc::new(std::sync::atomic::AtomicUsize::new(usize::MAX));
    let mut reader = stream.try_clone().unwrap();
    let answer = {
        let (sent, sent_when_answered) = (sent.clone(), sent_when_answered.clone());
        std::thread::spawn(move || {
            let mut first = [0u8; 512];
            let n = reader.read(&mut first).unwrap_or(0);
            sent_when_answered.store(
                sent.load(std::sync::atomic::Ordering::SeqCst),
                std::sync::atomic::Ordering::SeqCst,
            );
            String::from_utf8_lossy(&first[..n]).into_owned()
        })
    };
    let chunk = vec![b' '; 64 * 1024];
    let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
    while sent.load(std::sync::atomic::Ordering::SeqCst) < MOST
        && sent_when_answered.load(std::sync::atomic::Ordering::SeqCst) == usize::MAX
    {
        if stream.write_all(&framed).is_err() {
            break;
        }
        sent.fetch_add(chunk.len(), std::sync::atomic::Ordering::SeqCst);
    }
    let answer = answer.join().unwrap();
    let at = sent_when_answered.load(std::sync::atomic::Ordering::SeqCst);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    assert!(at < 16 * 1024 * 1024, "answered only after {at} bytes");
    // After its answer, actix-http reads on and discards what the client still sends (it does
    // not close while the request's payload is unfinished): measured here for at most 3 s or
    // 32 MiB, whichever comes first, as the adapter's docs state.
    let after = Instant::now();
    let mut drained = 0usize;
    while after.elapsed() < Duration::from_secs(3) && drained < 32 * 1024 * 1024 {
        if stream.write_all(&framed).is_err() {
            break;
        }
        drained += chunk.len();
    }
    println!(
        "actix answered 413 after the client had sent {} KiB, then accepted {} KiB more in {:?}",
        at / 1024,
        drained / 1024,
        after.elapsed()
    );
}

// Point 2: senders by name.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_standard_webhooks_senders_side_by_side() {
    let (base, runs) = axum_server(MemoryStore::new()).await;
    let body = Bytes::from_static(br#"{"type":"email.sent"}"#);
    let clerk = StandardSigner::new(CLERK_SECRET)
        .unwrap()
        .sign("msg_1", now(), &body)
        .unwrap();
    let resend = StandardSigner::new(RESEND_SECRET)
        .unwrap()
        .sign("msg_1", now(), &body)
        .unwrap();
    let (_, json) = post(
        &format!("{base}/webhooks/clerk"),
        clerk.clone(),
        body.clone(),
    )
    .await;
    assert_eq!(json["key"], "clerk:msg_1", "{json}");
    // Same message id from the other sender: its own event.
    let (_, json) = post(
        &format!("{base}/webhooks/resend"),
        resend.clone(),
        body.clone(),
    )
    .await;
    assert_eq!(
        (json["outcome"].as_str(), json["key"].as_str()),
        (Some("processed"), Some("resend:msg_1")),
        "{json}"
    );
    // Each route checks its own sender's secret.
    let (status, json) = post(
        &format!("{base}/webhooks/clerk"),
        resend.clone(),
        body.clone(),
    )
    .await;
    assert_eq!(
        (status, json["error"].as_str()),
        (401, Some("bad_signature")),
        "{json}"
    );
    // A route that names no sender, and headers that several senders recognise: refused as
    // ambiguous before any signature work, never verified with each sender in turn.
    let (status, json) = post(&format!("{base}/webhooks/any"), resend, body).await;
    assert_eq!(
        (status, json["error"].as_str()),
        (400, Some("ambiguous_sender")),
        "{json}"
    );
    assert_eq!(runs.lock().unwrap().len(), 2);
}

/// A scheme that counts the requests it verifies.
#[derive(Debug)]
struct Counting(
    verihook::providers::standard::Standard,
    Arc<std::sync::atomic::AtomicUsize>,
);

impl verihook::Scheme for Counting {
    fn info(&self) -> &verihook::scheme::SchemeInfo {
        self.0.info()
    }
    fn verify(
        &self,
        request: &verihook::WebhookRequest<'_>,
        at: &verihook::scheme::Check<'_>,
    ) -> Result<verihook::event::Verified, verihook::VerifyError> {
        self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.0.verify(request, at)
    }
}

#[tokio::test]
async fn an_unnamed_route_verifies_with_one_sender_and_applies_its_limit() {
    let verified = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut builder = Receiver::builder().handler(|_| async { Ok(()) });
    for n in 0..10 {
        let secret = format!(
            "whsec_{}",
            base64::engine::general_purpose::STANDARD.encode(format!("sender-{n}-secret-material"))
        );
        builder = builder.sender(
            format!("standard-{n}"),
            Counting(
                StandardVerifier::new(&secret).unwrap().into_scheme(),
                verified.clone(),
            ),
        );
    }
    let receiver = builder
        .sender("github", GithubVerifier::new(GITHUB_SECRET).unwrap())
        .sender(
            "stripe",
            StripeVerifier::new("whsec_security_stripe").unwrap(),
        )
        .sender_body_limit("stripe", 64 * 1024)
        .build()
        .unwrap();
    // A forged request whose headers ten senders recognise: no signature work at all.
    let body = Bytes::from(vec![b'x'; 1024]);
    let forged = StandardSigner::new(CLERK_SECRET)
        .unwrap()
        .sign("msg_forged", now(), &body)
        .unwrap();
    let outcome = receiver.handle(&forged, body.clone()).await;
    assert_eq!(outcome.code(), "ambiguous_sender", "{outcome}");
    assert_eq!(
        verified.load(std::sync::atomic::Ordering::Relaxed),
        0,
        "the request was verified with several senders"
    );
    // Stripe's headers alone choose Stripe, and its 64 KiB limit applies; a fake GitHub
    // signature header added makes the request ambiguous instead of lending GitHub's 25 MiB.
    let mut stripe = verihook::testing::StripeSigner::new("whsec_security_stripe")
        .unwrap()
        .sign(now(), &body);
    let head = verihook::RequestHead::post(&stripe);
    assert_eq!(receiver.precheck(None, &head), Ok(64 * 1024));
    stripe.insert("x-hub-signature-256", HeaderValue::from_static("sha256=00"));
    let head = verihook::RequestHead::post(&stripe);
    assert_eq!(
        receiver.precheck(None, &head).map_err(|e| e.code()),
        Err("ambiguous_sender")
    );
}

/// What a refusal tells the sender: never how many secrets were tried (the rotation state).
#[tokio::test]
async fn a_rejection_does_not_reveal_how_many_secrets_are_configured() {
    let receiver = Receiver::builder()
        .sender(
            "stripe",
            StripeVerifier::with_secrets(["whsec_security_stripe", "whsec_security_stripe_next"])
                .unwrap(),
        )
        .handler(|_| async { Ok(()) })
        .build()
        .unwrap();
    let body = Bytes::from_static(br#"{"id":"evt_1","type":"invoice.paid"}"#);
    let forged = verihook::testing::StripeSigner::new("whsec_not_the_secret")
        .unwrap()
        .sign(now(), &body);
    let outcome = receiver.handle(&forged, body).await;
    let answer = outcome.json_body();
    assert_eq!(
        answer,
        r#"{"error":"bad_signature","message":"no signature matched"}"#
    );
    // The log and the CLI keep the counts.
    assert!(outcome.to_string().contains("tried 2 secrets"), "{outcome}");
}

#[test]
fn two_senders_under_one_name_fail_at_start_up() {
    let built = Receiver::builder()
        .sender("clerk", StandardVerifier::new(CLERK_SECRET).unwrap())
        .sender("clerk", StandardVerifier::new(RESEND_SECRET).unwrap())
        .handler(|_| async { Ok(()) })
        .build();
    assert_eq!(
        built.unwrap_err(),
        ConfigError::DuplicateSender {
            name: "clerk".into()
        }
    );
    let nameless = Receiver::builder().handler(|_| async { Ok(()) }).build();
    assert_eq!(nameless.unwrap_err(), ConfigError::NoSender);
}

#[test]
fn every_receiver_that_cannot_work_fails_at_build_with_a_message() {
    let stripe = || StripeVerifier::new("whsec_test_secret").unwrap();
    let cases = [
        (
            Receiver::builder().sender("stripe", stripe()).build(),
            "the receiver has no handler: add one with .handler(..)",
        ),
        (
            Receiver::builder().handler(|_| async { Ok(()) }).build(),
            "the receiver has no sender: add one with .sender(name, scheme) or .verifier(scheme)",
        ),
        (
            Receiver::builder()
                .sender("stripe webhooks", stripe())
                .handler(|_| async { Ok(()) })
                .build(),
            "sender name \"stripe webhooks\" must be 1 to 64 ASCII letters, digits, '-', '_' or '.'",
        ),
        (
            Receiver::builder()
                .sender("stripe", stripe())
                .sender_body_limit("strpie", 1024)
                .handler(|_| async { Ok(()) })
                .build(),
            "a body limit names sender \"strpie\", which was not added",
        ),
    ];
    for (built, message) in cases {
        assert_eq!(built.unwrap_err().to_string(), message);
    }
    // The store, lease and body limits may come after the handler: the builder has no order.
    let built = Receiver::builder()
        .handler(|_| async { Ok(()) })
        .store(MemoryStore::new())
        .sender("stripe", stripe())
        .lease(std::time::Duration::from_secs(60))
        .build();
    assert!(built.is_ok());
}

// Point 4: handshakes.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_url_verification_is_answered_and_the_handler_does_not_run() {
    let (base, runs) = axum_server(MemoryStore::new()).await;
    let body =
        Bytes::from_static(br#"{"token":"t","challenge":"ch4ll3nge","type":"url_verification"}"#);
    let headers = SlackSigner::new(SLACK_SECRET).unwrap().sign(now(), &body);
    let (status, json) = post(
        &format!("{base}/webhooks/slack"),
        headers.clone(),
        body.clone(),
    )
    .await;
    assert_eq!(
        (status, json),
        (200, serde_json::json!({"challenge": "ch4ll3nge"}))
    );
    // Unsigned, it is refused like any request.
    let forged = SlackSigner::new("another-slack-secret")
        .unwrap()
        .sign(now(), &body);
    let (status, _) = post(&format!("{base}/webhooks/slack"), forged, body).await;
    assert_eq!(status, 401);
    assert!(runs.lock().unwrap().is_empty());
}

// Holes 6 and 7: key kinds and lengths.

#[test]
fn bare_base64_is_never_taken_as_an_hmac_key() {
    // The public key of a whsk_ pair, given without its whpk_ prefix.
    let public = StandardSigner::new(ED_SEED).unwrap().public_key().unwrap();
    let bare = public.trim_start_matches("whpk_");
    let err = StandardVerifier::new(bare).unwrap_err();
    assert_eq!(err.code(), "bad_secret");
    assert!(err.to_string().contains("whpk_"), "{err}");
}

#[test]
fn minimum_lengths_count_secret_material_only() {
    let err = StripeVerifier::new("whsec_ab").unwrap_err();
    assert!(err.to_string().contains("2 bytes"), "{err}");
    assert!(StripeVerifier::new("whsec_abcdefgh").is_ok());
    let short = GithubVerifier::new("short").unwrap_err();
    assert!(
        short
            .to_string()
            .contains("verihook::dangerous::allow_short_secrets"),
        "the error names the opt-in: {short}"
    );
    let github = providers::find("github").unwrap();
    let allowed = verihook::dangerous::allow_short_secrets(
        github,
        &["short"],
        None,
        VerifyOptions::default(),
    );
    assert!(allowed.is_ok());
    assert!(verihook::dangerous::allow_short_secrets(
        github,
        &[""],
        None,
        VerifyOptions::default()
    )
    .is_err());
}

// Hole 8: one wrongly typed body member lost the event id too.

#[tokio::test]
async fn a_wrongly_typed_type_keeps_the_id_stable_across_retries() {
    let (receiver, runs) = receiver(MemoryStore::new());
    let body = br#"{"id":"evt_typed","type":5}"#;
    let signer = verihook::testing::StripeSigner::new("whsec_security_stripe").unwrap();
    let first = receiver
        .handle_as(
            "stripe",
            &signer.sign(now(), body),
            Bytes::from_static(body),
        )
        .await;
    assert_eq!(first.key(), Some("stripe:evt_typed"));
    let retry = receiver
        .handle_as(
            "stripe",
            &signer.sign(now() + 1, body),
            Bytes::from_static(body),
        )
        .await;
    assert_eq!(retry.code(), "duplicate");
    assert_eq!(runs.lock().unwrap().len(), 1);
}

// Found in review after the reshape: the cost of sorting a forged Twilio form.

/// Verifies `body` (signed with another token, so it is refused) `rounds` times and gives the
/// fastest run.
fn fastest_twilio_refusal(body: &Bytes, rounds: usize) -> Duration {
    let url = "https://example.com/webhooks/twilio";
    let verifier =
        verihook::providers::twilio::TwilioVerifier::new("the-real-auth-token", url).unwrap();
    let headers = verihook::testing::TwilioSigner::new("an-attackers-token")
        .unwrap()
        .sign_form(url, body)
        .unwrap();
    let uri = http::Uri::from_static("/webhooks/twilio");
    let head = verihook::RequestHead::new(&http::Method::POST, &uri, &headers);
    let request = verihook::WebhookRequest::new(head, body);
    (0..rounds)
        .map(|_| {
            let started = Instant::now();
            let refused = verifier.verify_at(&request, SystemTime::now());
            assert_eq!(refused.unwrap_err().code(), "bad_signature");
            started.elapsed()
        })
        .min()
        .unwrap()
}

#[test]
fn a_forged_twilio_form_costs_little_more_than_hashing_its_body() {
    // 256 parameters (the most allowed) of 4 KiB that share all but their last bytes, with
    // percent-escapes throughout: every comparison of the sort walks the whole shared prefix.
    let prefix = "a%41".repeat(1000);
    let forged: String = (0..256)
        .map(|i| format!("{prefix}{i:05}=v&"))
        .collect::<String>();
    // The same size in one parameter: what hashing and decoding the body costs anyway.
    let plain = format!("Body={}", "a%41".repeat(forged.len() / 4));
    let forged = Bytes::from(forged);
    let plain = Bytes::from(plain);
    assert!(forged.len() > 1_000_000 && plain.len() > 1_000_000);
    // Interleaved, fastest of several, so that a busy machine slows both alike.
    let mut ratios = Vec::new();
    for _ in 0..3 {
        let attack = fastest_twilio_refusal(&forged, 3);
        let baseline = fastest_twilio_refusal(&plain, 3);
        ratios.push(attack.as_secs_f64() / baseline.as_secs_f64());
    }
    let ratio = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    assert!(
        ratio < 4.0,
        "a forged 1 MiB form costs {ratio:.1}x hashing a plain one ({ratios:?})"
    );
}

// Hole 7: Twilio signs the URL and the form parameters run together, so other splits of the same
// characters carry the same signature.

const TWILIO_URL: &str = "https://example.com/webhooks/twilio";
const TWILIO_TOKEN: &str = "security-twilio-token";

/// Verifies a form `body` signed for [`TWILIO_URL`] with `headers`.
fn twilio_verify(headers: &HeaderMap, body: &'static [u8]) -> verihook::Event {
    let verifier =
        verihook::providers::twilio::TwilioVerifier::new(TWILIO_TOKEN, TWILIO_URL).unwrap();
    let mut request = http::Request::post("/webhooks/twilio")
        .body(Bytes::from_static(body))
        .unwrap();
    *request.headers_mut() = headers.clone();
    verifier.verify_http(&request).unwrap()
}

#[test]
fn a_resplit_twilio_form_is_the_same_event() {
    let signer = verihook::testing::TwilioSigner::new(TWILIO_TOKEN).unwrap();
    let original: &[u8] = b"Body=hello&To=%2B14155550100";
    let headers = signer.sign_form(TWILIO_URL, original).unwrap();
    // The same characters split elsewhere, re-encoded and repeated: the signature still holds.
    let resplit: &[u8] = b"Body=helloT&o=%2B14155550100";
    let reencoded: &[u8] = b"To=%2b14155550100&Body=hell%6F&Body=hell%6F";
    let first = twilio_verify(&headers, original);
    for replay in [resplit, reencoded] {
        let event = twilio_verify(&headers, replay);
        assert_eq!(
            event.idempotency_key(),
            first.idempotency_key(),
            "a replay split as {:?} must be a duplicate",
            String::from_utf8_lossy(replay)
        );
    }
}

#[test]
fn a_twilio_form_body_is_not_reported_as_signed() {
    let signer = verihook::testing::TwilioSigner::new(TWILIO_TOKEN).unwrap();
    let body: &[u8] = b"Body=hello&To=%2B14155550100";
    let event = twilio_verify(&signer.sign_form(TWILIO_URL, body).unwrap(), body);
    assert!(
        !event.signed().body(),
        "the body as split is not what was signed"
    );
    // A JSON body is covered byte for byte through `bodySHA256`.
    let json = br#"{"CallSid":"CA1"}"#;
    let (url, headers) = signer.sign_json(TWILIO_URL, json).unwrap();
    let verifier =
        verihook::providers::twilio::TwilioVerifier::new(TWILIO_TOKEN, TWILIO_URL).unwrap();
    let target = url.trim_start_matches("https://example.com");
    let mut request = http::Request::post(target)
        .body(Bytes::from_static(json))
        .unwrap();
    *request.headers_mut() = headers;
    assert!(verifier.verify_http(&request).unwrap().signed().body());
}
