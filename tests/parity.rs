//! Parity: an event routes, keys and settles the same way through the inline receiver and
//! through the inbox and a worker, for every built-in provider, a declared scheme and
//! CloudEvents in both modes. Each sample's route depends on what the receiver reads from the
//! verified request (an action, an inner type): a worker must route it exactly as the receiver
//! does, with the same key, payload, action and signed flags.
//!
//! The memory inbox runs always; PostgreSQL and Redis run against the real servers named by
//! `TEST_DATABASE_URL` and `TEST_REDIS_URL` (`#[ignore]`d without them; `.ci/run` runs them).

#![allow(clippy::unwrap_used)] // a test that cannot set up should fail loudly

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderValue, Method};
use serde_json::json;
use verihook::inbox::{Inbox, MemoryInbox, Worker};
use verihook::router::RouteKey;
use verihook::scheme::cloudevents::CloudEvents;
use verihook::scheme::declared::SchemeSpec;
use verihook::scheme::Verifier;
use verihook::testing::{self, StandardSigner};
use verihook::{
    providers::standard::StandardVerifier, scheme::VerifyOptions, Delivery, EventRouter,
    HandlerError, Receiver, Scheme,
};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// What a route saw of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    route: &'static str,
    key: String,
    route_key: Option<String>,
    action: Option<String>,
    event_type: Option<String>,
    signed: u8,
    body: Bytes,
}

/// One sample: its sender's scheme, the signed request and the route its key must reach.
struct Case {
    name: String,
    scheme: Verifier<Arc<dyn Scheme>>,
    request: http::Request<Bytes>,
    pattern: &'static str,
}

fn record(
    route: &'static str,
    seen: Arc<Mutex<Vec<Seen>>>,
) -> impl Fn(Delivery, Option<RouteKey>) -> std::future::Ready<Result<(), HandlerError>>
       + Send
       + Sync
       + Clone
       + 'static {
    move |delivery: Delivery, key: Option<RouteKey>| {
        seen.lock().unwrap().push(Seen {
            route,
            key: delivery.key().to_owned(),
            route_key: key.as_ref().map(|k| k.as_str().to_owned()),
            action: key.as_ref().and_then(RouteKey::action).map(str::to_owned),
            event_type: delivery.event_type().map(|t| t.into_owned()),
            signed: delivery.signed().bits(),
            body: delivery.body().clone(),
        });
        std::future::ready(Ok(()))
    }
}

fn router(pattern: &'static str, seen: &Arc<Mutex<Vec<Seen>>>) -> EventRouter {
    EventRouter::new()
        .route(pattern, record("specific", seen.clone()))
        .route("*", record("fallback", seen.clone()))
}

fn unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Every built-in provider's signed sample, a declared scheme, and CloudEvents both ways.
fn cases() -> Vec<Case> {
    let samples: &[(&str, &str, &'static str)] = &[
        ("github", "pull_request.opened", "pull_request.opened"),
        ("linear", "Issue.create", "Issue.create"),
        ("gitlab", "merge_request.open", "merge_request.open"),
        ("slack", "app_mention", "app_mention"),
        (
            "discord",
            "application_command.ping",
            "application_command.ping",
        ),
        ("stripe", "invoice.paid", "invoice.paid"),
        ("standard-webhooks", "invoice.paid", "invoice.paid"),
        ("paddle", "transaction.completed", "transaction.completed"),
        ("zoom", "meeting.started", "meeting.started"),
        ("square", "payment.created", "payment.created"),
        ("shopify", "orders/create", "orders/create"),
        // Twilio's forms carry no type: the fallback route takes them, inline and in a worker.
        ("twilio", "", "never.matched"),
    ];
    let mut cases = Vec::new();
    for &(provider, event_type, pattern) in samples {
        // Stripe, too, refuses a secret without its whsec_ prefix.
        let secret = if matches!(provider, "standard-webhooks" | "stripe") {
            SECRET
        } else {
            "a webhook secret"
        };
        let signed = testing::signed_event(
            provider,
            secret,
            event_type,
            json!({ "id": 7, "name": "ping", "From": "+15550001111", "Body": "hello" }),
        )
        .unwrap_or_else(|e| panic!("{provider}: {e}"));
        let builtin = verihook::providers::find(provider).unwrap();
        let key = if provider == "discord" {
            discord_public_key(secret)
        } else {
            secret.to_owned()
        };
        let url = matches!(provider, "twilio" | "square")
            .then(|| format!("{}/{provider}", testing::TEST_URL, provider = builtin.name));
        let scheme = builtin
            .build(&[key.as_str()], url.as_deref(), VerifyOptions::default())
            .unwrap();
        cases.push(Case {
            name: provider.to_owned(),
            scheme: scheme.shared(),
            request: signed.into_http(),
            pattern,
        });
    }
    cases.push(declared());
    cases.push(cloudevent(true));
    cases.push(cloudevent(false));
    cases
}

fn discord_public_key(secret: &str) -> String {
    use sha2::Digest as _;
    testing::DiscordSigner::from_seed(sha2::Sha256::digest(secret.as_bytes()).into()).public_key()
}

/// A declared scheme whose type is the body's `event` member.
fn declared() -> Case {
    let spec: SchemeSpec = serde_json::from_str(include_str!("../examples/schemes/workos.json"))
        .expect("the example spec parses");
    let secret = "workos-test-secret-1";
    let body = Bytes::from(
        serde_json::to_vec(&json!({ "id": "evt_01", "event": "user.created", "data": {} }))
            .unwrap(),
    );
    let signer = testing::DeclaredSigner::new(&spec, secret, None).unwrap();
    let headers = signer.sign(unix(), None, &body).unwrap();
    let scheme = spec.build(&[secret], None).unwrap();
    Case {
        name: "declared workos".into(),
        scheme: scheme.shared(),
        request: post("/webhooks/workos", headers, body),
        pattern: "user.created",
    }
}

/// A CloudEvent signed as Standard Webhooks, in structured or binary mode.
fn cloudevent(structured: bool) -> Case {
    let id = format!(
        "msg_{}",
        verihook::idempotency::ClaimToken::generate().as_str()
    );
    let (body, mut extra) = if structured {
        let body = json!({
            "specversion": "1.0", "id": "A1", "source": "https://example.com/orders",
            "type": "com.example.order.created", "data": { "id": 7 }
        });
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "content-type",
            HeaderValue::from_static("application/cloudevents+json"),
        );
        (body, headers)
    } else {
        let mut headers = http::HeaderMap::new();
        for (name, value) in [
            ("ce-specversion", "1.0"),
            ("ce-id", "A1"),
            ("ce-source", "https://example.com/orders"),
            ("ce-type", "com.example.order.created"),
            ("content-type", "application/json"),
        ] {
            headers.insert(name, HeaderValue::from_static(value));
        }
        (json!({ "id": 7 }), headers)
    };
    let body = Bytes::from(serde_json::to_vec(&body).unwrap());
    let mut headers = StandardSigner::new(SECRET)
        .unwrap()
        .sign(&id, unix(), &body)
        .unwrap();
    headers.extend(extra.drain());
    let scheme = CloudEvents::new(StandardVerifier::new(SECRET).unwrap());
    Case {
        name: format!(
            "cloudevents {}",
            if structured { "structured" } else { "binary" }
        ),
        scheme: scheme.shared(),
        request: post("/webhooks/events", headers, body),
        pattern: "com.example.order.created",
    }
}

fn post(path: &str, headers: http::HeaderMap, body: Bytes) -> http::Request<Bytes> {
    let mut request = http::Request::new(body);
    *request.method_mut() = Method::POST;
    *request.uri_mut() = path.parse().unwrap();
    *request.headers_mut() = headers;
    request
}

fn copy(request: &http::Request<Bytes>) -> http::Request<Bytes> {
    let mut copy = http::Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.headers_mut() = request.headers().clone();
    copy
}

/// What the inline receiver's route saw of `case`.
async fn inline(case: &Case) -> Seen {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let receiver = Receiver::builder()
        .sender("sender", case.scheme.clone())
        .router(router(case.pattern, &seen))
        .build()
        .unwrap();
    let outcome = receiver.handle_http(None, copy(&case.request)).await;
    assert_eq!(outcome.code(), "processed", "{}: {outcome}", case.name);
    let mut seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "{}", case.name);
    seen.pop().unwrap()
}

/// What a worker's route saw of `case`, through `inbox`.
async fn through(case: &Case, inbox: Arc<dyn Inbox>) -> Seen {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let receiver = Receiver::builder()
        .sender("sender", case.scheme.clone())
        .inbox(inbox.clone())
        .build()
        .unwrap();
    let outcome = receiver.handle_http(None, copy(&case.request)).await;
    assert_eq!(outcome.code(), "queued", "{}: {outcome}", case.name);
    let worker = Worker::builder(inbox)
        .router(router(case.pattern, &seen))
        .build()
        .unwrap();
    assert_eq!(worker.run_once().await.unwrap(), 1, "{}", case.name);
    let mut seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "{}", case.name);
    seen.pop().unwrap()
}

async fn check_parity(inbox: impl Fn() -> Arc<dyn Inbox>) {
    let cases = cases();
    assert_eq!(cases.len(), 15);
    let mut differ = Vec::new();
    for case in &cases {
        let inline = inline(case).await;
        let expected = if case.pattern == "never.matched" {
            "fallback"
        } else {
            "specific"
        };
        assert_eq!(inline.route, expected, "{}: {inline:?}", case.name);
        let queued = through(case, inbox()).await;
        if queued != inline {
            differ.push(format!(
                "{}: inline {inline:?}, worker {queued:?}",
                case.name
            ));
        }
    }
    assert!(
        differ.is_empty(),
        "{} of {} senders differ:\n{}",
        differ.len(),
        cases.len(),
        differ.join("\n")
    );
}

#[tokio::test]
async fn every_sender_routes_and_keys_the_same_inline_and_through_the_memory_inbox() {
    check_parity(|| Arc::new(MemoryInbox::new())).await;
}

#[tokio::test]
async fn the_action_and_signed_flags_reach_a_worker() {
    let cases = cases();
    let github = cases.iter().find(|c| c.name == "github").unwrap();
    let seen = through(github, Arc::new(MemoryInbox::new())).await;
    assert_eq!(seen.route_key.as_deref(), Some("pull_request.opened"));
    assert_eq!(seen.action.as_deref(), Some("opened"));
    // GitHub signs the body, not its `X-GitHub-Event` header nor its delivery id.
    assert_eq!(seen.signed & 0b11, 0);
    let binary = cases
        .iter()
        .find(|c| c.name == "cloudevents binary")
        .unwrap();
    let seen = through(binary, Arc::new(MemoryInbox::new())).await;
    // Binary mode's `ce-type` is reported as unsigned; Standard Webhooks' id is signed.
    assert_eq!(seen.signed & 0b11, 0b01);
}

#[cfg(all(feature = "postgres", feature = "redis"))]
#[path = "support/servers.rs"]
mod servers;

#[cfg(all(feature = "postgres", feature = "redis"))]
mod on_servers {
    use super::*;
    use verihook::inbox::{PostgresInbox, RedisInbox};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs PostgreSQL at TEST_DATABASE_URL; .ci/run runs it"]
    async fn every_sender_routes_and_keys_the_same_through_the_postgres_inbox() {
        let url = servers::database_url();
        let table = servers::PgTable::new("parity");
        let inbox = PostgresInbox::connect(&url)
            .await
            .unwrap()
            .with_table(table.name())
            .unwrap();
        inbox.create_table().await.unwrap();
        let inbox: Arc<dyn Inbox> = Arc::new(inbox);
        check_parity(|| inbox.clone()).await;
        forged_type_first(inbox).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs Redis at TEST_REDIS_URL; .ci/run runs it"]
    async fn every_sender_routes_and_keys_the_same_through_the_redis_inbox() {
        let url = servers::redis_url();
        let keys = servers::RedisKeys::new("parity");
        let inbox: Arc<dyn Inbox> = Arc::new(
            RedisInbox::connect_with_prefix(&url, keys.prefix())
                .await
                .unwrap(),
        );
        check_parity(|| inbox.clone()).await;
        forged_type_first(inbox).await;
    }
}

// Keys and fates only from signed content: the attacks, each failing before its fix.

/// A genuine GitHub delivery, and the same signed body re-sent first by an attacker under a
/// forged `X-GitHub-Event` (the header is not signed).
fn github_with_forged_type(forged: &str) -> (Case, http::Request<Bytes>) {
    let secret = "a webhook secret";
    let unique = verihook::idempotency::ClaimToken::generate();
    let signed = testing::signed_event(
        "github",
        secret,
        "pull_request.opened",
        json!({ "number": 7, "unique": unique.as_str() }),
    )
    .unwrap();
    let case = Case {
        name: "github".into(),
        scheme: verihook::providers::github::GithubVerifier::new(secret)
            .unwrap()
            .shared(),
        request: signed.into_http(),
        pattern: "pull_request.opened",
    };
    let mut forgery = copy(&case.request);
    forgery
        .headers_mut()
        .insert("x-github-event", HeaderValue::from_str(forged).unwrap());
    (case, forgery)
}

/// The forged copy arrives first and is stored; the genuine delivery must still be stored and
/// run, and the forgery, which no route takes, must not be marked done.
async fn forged_type_first(inbox: Arc<dyn Inbox>) {
    let (case, forgery) = github_with_forged_type("star");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let receiver = Receiver::builder()
        .sender("sender", case.scheme.clone())
        .inbox(inbox.clone())
        .build()
        .unwrap();
    let before = inbox.stats().await.unwrap();
    let forged = receiver.handle_http(None, forgery).await;
    assert_eq!(forged.code(), "queued", "{forged}");
    // A worker takes the forgery first: no route for `star`.
    let worker = Worker::builder(inbox.clone())
        .router(EventRouter::new().route("pull_request.opened", record("specific", seen.clone())))
        .build()
        .unwrap();
    assert_eq!(worker.run_once().await.unwrap(), 1);
    let stats = inbox.stats().await.unwrap();
    assert_eq!(
        (stats.done, stats.dead),
        (before.done, before.dead),
        "an event routed by a forged type was settled: {stats:?}"
    );
    let genuine = receiver.handle_http(None, copy(&case.request)).await;
    assert_eq!(
        genuine.code(),
        "queued",
        "the genuine delivery was answered {genuine}"
    );
    assert_eq!(worker.run_once().await.unwrap(), 1);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "the genuine event's handler did not run");
    assert_eq!(seen[0].route_key.as_deref(), Some("pull_request.opened"));
}

/// The forged copy keyed apart: even inline, with the genuine one stored second.
#[tokio::test]
async fn a_forged_type_stored_first_never_makes_the_genuine_delivery_a_duplicate() {
    forged_type_first(Arc::new(MemoryInbox::new())).await;
}

#[tokio::test]
async fn a_forged_type_gets_a_key_of_its_own() {
    let (case, forgery) = github_with_forged_type("issues");
    let verify = |request: &http::Request<Bytes>| {
        let head = verihook::RequestHead::new(request.method(), request.uri(), request.headers());
        let verified = case
            .scheme
            .verify_request(&verihook::WebhookRequest::new(head, request.body()))
            .unwrap();
        let verihook::event::Verified::Event(event) = verified else {
            panic!("not an event")
        };
        event.idempotency_key()
    };
    let genuine = verify(&case.request);
    assert_ne!(verify(&forgery), genuine);
    // A redelivery of the genuine event keeps its key.
    assert_eq!(verify(&copy(&case.request)), genuine);
}

/// A structured-mode CloudEvent replayed with another `Content-Type`, or with binary-mode
/// headers added, is the same event: a duplicate, never processed a second time, never routed
/// by the attacker's `ce-type`.
#[tokio::test]
async fn a_cloudevent_replayed_with_other_headers_is_a_duplicate() {
    let case = cloudevent(true);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let receiver = Receiver::builder()
        .sender("sender", case.scheme.clone())
        .router(
            router(case.pattern, &seen)
                .route("com.attacker.chosen", record("chosen", seen.clone())),
        )
        .build()
        .unwrap();
    let first = receiver.handle_http(None, copy(&case.request)).await;
    assert_eq!(first.code(), "processed", "{first}");
    let mut plain = copy(&case.request);
    plain
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    let mut binary = copy(&plain);
    for (name, value) in [
        ("ce-specversion", "1.0"),
        ("ce-id", "other"),
        ("ce-source", "https://attacker.example"),
        ("ce-type", "com.attacker.chosen"),
    ] {
        binary
            .headers_mut()
            .insert(name, HeaderValue::from_static(value));
    }
    for replay in [plain, binary] {
        let answer = receiver.handle_http(None, replay).await;
        assert_eq!(answer.code(), "duplicate", "{answer}");
    }
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "processed more than once: {seen:?}");
    assert_eq!(seen[0].route, "specific");
}

#[test]
fn a_route_for_a_sender_the_receiver_does_not_have_is_refused_at_build() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let err = Receiver::builder()
        .sender(
            "stripe",
            verihook::providers::stripe::StripeVerifier::new(SECRET).unwrap(),
        )
        .sender(
            "github",
            verihook::providers::github::GithubVerifier::new("a webhook secret").unwrap(),
        )
        .router(EventRouter::new().route_for("strpe", "invoice.paid", record("specific", seen)))
        .build()
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("\"strpe\"") && message.contains("stripe, github"),
        "{message}"
    );
}
