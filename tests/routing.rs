//! Typed routing: precedence, start-up errors, the unrouted and payload-mismatch policies inline
//! and in the inbox, every provider envelope on the providers' own sample payloads, and the
//! one-expression handler test.
#![allow(clippy::unwrap_used)] // a test that cannot set up should fail loudly

#[path = "support/vectors.rs"]
mod support;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Value};
use verihook::envelope::{
    Form, GithubEvent, GitlabEvent, LinearEvent, PaddleEvent, ShopifyEvent, SlackEvent,
    SquareEvent, StandardEvent, StripeEvent, ZoomEvent,
};
use verihook::testing::{signed_event, GithubSigner, SignedRequest, StandardSigner, StripeSigner};
use verihook::{
    providers::github::GithubVerifier, providers::standard::StandardVerifier,
    providers::stripe::StripeVerifier, router::State, router::UnroutedPolicy, ConfigError,
    Delivery, EventRouter, HandlerError, Outcome, Receiver,
};

const STRIPE_SECRET: &str = "whsec_routing_test_secret";
const STANDARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const GITHUB_SECRET: &str = "a routing test secret for github";

type Seen = Arc<Mutex<Vec<String>>>;
type Boxed = Pin<Box<dyn Future<Output = Result<(), HandlerError>> + Send>>;

/// A handler that records `label` and the event's route key.
fn mark(seen: &Seen, label: &'static str) -> impl Fn(Delivery) -> Boxed + Send + Sync + 'static {
    let seen = seen.clone();
    move |delivery: Delivery| {
        let seen = seen.clone();
        Box::pin(async move {
            let event_type = delivery.event_type().unwrap_or_default().into_owned();
            seen.lock().unwrap().push(format!("{label} {event_type}"));
            Ok(())
        })
    }
}

fn taken(seen: &Seen) -> Vec<String> {
    std::mem::take(&mut *seen.lock().unwrap())
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn stripe(event_type: &str) -> SignedRequest {
    signed_event("stripe", STRIPE_SECRET, event_type, json!({ "id": "in_1" })).unwrap()
}

#[tokio::test]
async fn the_most_specific_route_wins() {
    let seen = Seen::default();
    let router = EventRouter::new()
        .fallback(mark(&seen, "fallback"))
        .route("invoice.*", mark(&seen, "invoice.*"))
        .route("invoice.payment.*", mark(&seen, "invoice.payment.*"))
        .route("invoice.paid", mark(&seen, "exact"));
    for event_type in [
        "invoice.paid",
        "invoice.created",
        "invoice.payment.failed",
        "customer.created",
        "invoice",
    ] {
        let outcome = router.handle(&stripe(event_type)).await;
        assert_eq!(outcome.code(), "processed", "{event_type}");
    }
    assert_eq!(
        taken(&seen),
        [
            "exact invoice.paid",
            "invoice.* invoice.created",
            "invoice.payment.* invoice.payment.failed",
            "fallback customer.created",
            // `invoice.*` needs the dot: a bare `invoice` is not under it.
            "fallback invoice",
        ]
    );
}

#[tokio::test]
async fn a_kind_route_takes_every_action_and_an_exact_one_wins() {
    let seen = Seen::default();
    let router = EventRouter::new()
        .route("pull_request", mark(&seen, "kind"))
        .route("pull_request.opened", mark(&seen, "exact"))
        .route("pull_*", mark(&seen, "never"));
    let opened = signed_event("github", GITHUB_SECRET, "pull_request.opened", json!({})).unwrap();
    let closed = signed_event("github", GITHUB_SECRET, "pull_request.closed", json!({})).unwrap();
    assert_eq!(
        router.check(),
        Err(ConfigError::BadRoute {
            pattern: "pull_*".into(),
            reason: "`*` may only end a route, after a dot (`invoice.*`), or stand alone",
        })
    );
    let router = EventRouter::new()
        .route("pull_request", mark(&seen, "kind"))
        .route("pull_request.opened", mark(&seen, "exact"));
    assert_eq!(router.handle(&opened).await.code(), "processed");
    assert_eq!(router.handle(&closed).await.code(), "processed");
    // The event type seen by handlers is GitHub's header; the route key adds the action.
    assert_eq!(taken(&seen), ["exact pull_request", "kind pull_request"]);
}

#[tokio::test]
async fn a_route_for_the_sender_beats_one_for_every_sender() {
    let seen = Seen::default();
    let router = EventRouter::new()
        .route("user.created", mark(&seen, "any"))
        .route_for("clerk", "user.created", mark(&seen, "clerk"))
        .route_for("clerk", "user.*", mark(&seen, "clerk-prefix"));
    let from = |sender: &str| {
        signed_event(
            "standard-webhooks",
            STANDARD_SECRET,
            "user.created",
            json!({}),
        )
        .unwrap()
        .as_sender(sender)
    };
    router.handle(&from("clerk")).await;
    router.handle(&from("resend")).await;
    assert_eq!(taken(&seen), ["clerk user.created", "any user.created"]);
    // Specificity first: an exact route for every sender beats a sender's prefix.
    let router = EventRouter::new()
        .route("user.created", mark(&seen, "any"))
        .route_for("clerk", "user.*", mark(&seen, "clerk-prefix"));
    router.handle(&from("clerk")).await;
    assert_eq!(taken(&seen), ["any user.created"]);
}

#[test]
fn two_routes_for_one_type_are_a_start_up_error() {
    let seen = Seen::default();
    let router = || {
        EventRouter::new()
            .route("invoice.paid", mark(&seen, "a"))
            .route("invoice.paid", mark(&seen, "b"))
    };
    let duplicate = ConfigError::DuplicateRoute {
        pattern: "invoice.paid".into(),
        sender: None,
    };
    assert_eq!(router().check(), Err(duplicate.clone()));
    let built = Receiver::builder()
        .sender("stripe", StripeVerifier::new(STRIPE_SECRET).unwrap())
        .router(router())
        .build();
    assert_eq!(built.unwrap_err(), duplicate);
    assert_eq!(duplicate.to_string(), "two routes for \"invoice.paid\"");
    // The same pattern for two different senders is two routes, not a duplicate.
    let per_sender = EventRouter::new()
        .route_for("clerk", "user.created", mark(&seen, "a"))
        .route_for("resend", "user.created", mark(&seen, "b"))
        .route("user.created", mark(&seen, "c"));
    assert_eq!(per_sender.check(), Ok(()));
    let twice = EventRouter::new()
        .route_for("clerk", "user.*", mark(&seen, "a"))
        .route_for("clerk", "user.*", mark(&seen, "b"));
    assert_eq!(
        twice.check(),
        Err(ConfigError::DuplicateRoute {
            pattern: "user.*".into(),
            sender: Some("clerk".into()),
        })
    );
    for bad in ["", "invoice*", "*.paid", "a.*.b", ".*", "in\nvoice"] {
        assert!(
            matches!(
                EventRouter::new().route(bad, mark(&seen, "x")).check(),
                Err(ConfigError::BadRoute { .. })
            ),
            "{bad:?}"
        );
    }
    // `fallback` twice is a duplicate too.
    assert!(EventRouter::new()
        .fallback(mark(&seen, "a"))
        .route("*", mark(&seen, "b"))
        .check()
        .is_err());
}

#[derive(Debug, Deserialize)]
struct Invoice {
    id: String,
    amount_paid: u64,
}

fn stripe_receiver(router: EventRouter) -> Receiver {
    Receiver::builder()
        .sender("stripe", StripeVerifier::new(STRIPE_SECRET).unwrap())
        .router(router)
        .build()
        .unwrap()
}

async fn send(receiver: &Receiver, request: &SignedRequest) -> Outcome {
    let (parts, body) = request.request().clone().into_parts();
    receiver
        .handle_http(None, http::Request::from_parts(parts, body))
        .await
}

#[tokio::test]
async fn an_unrouted_type_is_acknowledged_and_marked_done() {
    let seen = Seen::default();
    let receiver = stripe_receiver(EventRouter::new().route("invoice.paid", mark(&seen, "paid")));
    let request = stripe("customer.subscription.trial_will_end");
    let first = send(&receiver, &request).await;
    assert_eq!((first.code(), first.status().as_u16()), ("unrouted", 200));
    assert!(
        matches!(&first, Outcome::Unrouted { event_type: Some(t), .. } if t == "customer.subscription.trial_will_end")
    );
    assert_eq!(
        serde_json::from_str::<Value>(&first.json_body()).unwrap()["outcome"],
        "unrouted"
    );
    // Acknowledged means done: the provider's redelivery is a duplicate.
    let again = send(&receiver, &request).await;
    assert_eq!(again.code(), "duplicate");
    assert!(taken(&seen).is_empty());
}

#[tokio::test]
async fn the_reject_policy_answers_501_and_lets_a_retry_run() {
    let receiver = stripe_receiver(EventRouter::new().unrouted(UnroutedPolicy::Reject));
    let request = stripe("customer.created");
    let first = send(&receiver, &request).await;
    assert_eq!((first.code(), first.status().as_u16()), ("no_route", 501));
    // The claim was released, not marked done: the retry is answered the same way again.
    let again = send(&receiver, &request).await;
    assert_eq!(again.code(), "no_route");
}

#[tokio::test]
async fn a_payload_that_does_not_fit_is_422_with_its_path_and_not_marked_done() {
    let runs = Arc::new(Mutex::new(0));
    let counter = runs.clone();
    let paid = move |event: StripeEvent<Invoice>| {
        let counter = counter.clone();
        async move {
            assert_eq!(event.object.id, "in_1");
            *counter.lock().unwrap() += 1;
            Ok(())
        }
    };
    let receiver = stripe_receiver(EventRouter::new().route("invoice.paid", paid));
    let misfit = signed_event(
        "stripe",
        STRIPE_SECRET,
        "invoice.paid",
        json!({ "id": "in_1", "amount_paid": "forty-two" }),
    )
    .unwrap();
    let outcome = send(&receiver, &misfit).await;
    assert_eq!(
        (outcome.code(), outcome.status().as_u16()),
        ("invalid_payload", 422)
    );
    let Outcome::InvalidPayload { error, .. } = &outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(error.path(), Some("data.object.amount_paid"));
    assert!(
        error.to_string().contains("`data.object.amount_paid`"),
        "{error}"
    );
    // The path stays in the app's logs; the provider is told only what the status means.
    assert!(!outcome.json_body().contains("amount_paid"));
    // Released, not done: the retry meets the same answer (and would run once the app is fixed).
    assert_eq!(send(&receiver, &misfit).await.code(), "invalid_payload");
    assert_eq!(*runs.lock().unwrap(), 0);
    // A fitting payload runs.
    let fits = signed_event(
        "stripe",
        STRIPE_SECRET,
        "invoice.paid",
        json!({ "id": "in_1", "amount_paid": 42 }),
    )
    .unwrap();
    assert_eq!(send(&receiver, &fits).await.code(), "processed");
    assert_eq!(*runs.lock().unwrap(), 1);
}

#[tokio::test]
async fn a_plain_handler_that_returns_a_payload_error_is_422_too() {
    let receiver = Receiver::builder()
        .sender("stripe", StripeVerifier::new(STRIPE_SECRET).unwrap())
        .handler(|delivery| async move {
            let _invoice: Invoice = delivery.json()?;
            Ok(())
        })
        .build()
        .unwrap();
    let outcome = send(&receiver, &stripe("invoice.paid")).await;
    assert_eq!(outcome.code(), "invalid_payload");
    let Outcome::InvalidPayload { error, .. } = outcome else {
        panic!()
    };
    // The whole event is not an invoice: serde names the first member it missed.
    assert!(error.to_string().contains("missing field"), "{error}");
}

#[tokio::test]
async fn a_failing_handler_is_still_500_and_retried() {
    let failing = |_: StripeEvent<Value>| async { Err::<(), HandlerError>("database down".into()) };
    let receiver = stripe_receiver(EventRouter::new().route("invoice.paid", failing));
    let request = stripe("invoice.paid");
    let outcome = send(&receiver, &request).await;
    assert_eq!(
        (outcome.code(), outcome.status().as_u16()),
        ("handler_failed", 500)
    );
    assert_eq!(send(&receiver, &request).await.code(), "handler_failed");
}

#[cfg(feature = "inbox")]
#[tokio::test]
async fn in_the_inbox_a_misfit_is_a_dead_letter_at_once_and_an_unrouted_type_is_done() {
    use verihook::envelope::Json;
    use verihook::inbox::{Fate, Inbox, MemoryInbox, Worker};

    let inbox = Arc::new(MemoryInbox::new());
    let receiver = Receiver::builder()
        .sender("stripe", StripeVerifier::new(STRIPE_SECRET).unwrap())
        .inbox(inbox.clone())
        .build()
        .unwrap();
    let fates = Arc::new(Mutex::new(Vec::new()));
    let record = fates.clone();
    let paid = |_: StripeEvent<Invoice>| async { Ok(()) };
    let worker = Worker::builder(inbox.clone())
        .router(EventRouter::new().route("invoice.paid", paid))
        .max_attempts(5)
        .on_attempt(move |attempt| {
            record
                .lock()
                .unwrap()
                .push((attempt.number, attempt.fate.clone()))
        })
        .build()
        .unwrap();
    let misfit = signed_event(
        "stripe",
        STRIPE_SECRET,
        "invoice.paid",
        json!({ "id": "in_1", "amount_paid": -1 }),
    )
    .unwrap();
    assert_eq!(send(&receiver, &misfit).await.code(), "queued");
    // About another object (a charge): the two events do not wait for each other.
    let refunded = signed_event(
        "stripe",
        STRIPE_SECRET,
        "charge.refunded",
        json!({ "id": "ch_1" }),
    )
    .unwrap();
    assert_eq!(send(&receiver, &refunded).await.code(), "queued");
    assert_eq!(worker.run_once().await.unwrap(), 2);
    let mut fates = fates.lock().unwrap().clone();
    fates.sort_by_key(|(_, fate)| matches!(fate, Fate::Dead { .. }));
    assert_eq!(
        fates[0],
        (
            1,
            Fate::Unrouted {
                event_type: Some("charge.refunded".into())
            }
        )
    );
    // Attempt 1 of 5, and already a dead letter: retrying the same bytes cannot help.
    let (number, Fate::Dead { error }) = &fates[1] else {
        panic!("{fates:?}")
    };
    assert_eq!(*number, 1);
    assert!(error.contains("data.object.amount_paid"), "{error}");
    let dead = inbox.dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    // Nothing is left to run.
    assert_eq!(worker.run_once().await.unwrap(), 0);

    let duplicate = Worker::builder(inbox)
        .router(
            EventRouter::new()
                .route("a", |_: Json<Value>| async { Ok(()) })
                .route("a", |_: Json<Value>| async { Ok(()) }),
        )
        .build();
    assert!(matches!(duplicate, Err(ConfigError::DuplicateRoute { .. })));
}

/// The one-expression handler test the guide shows (docs/routing.md): a signed request for a typed event, and
/// the router called directly, with the app's state.
#[tokio::test]
async fn a_handler_is_tested_with_one_expression() {
    #[derive(Clone, Default)]
    struct Ledger(Arc<Mutex<Vec<(String, u64)>>>);

    async fn invoice_paid(
        State(ledger): State<Ledger>,
        event: StripeEvent<Invoice>,
    ) -> Result<(), HandlerError> {
        ledger
            .0
            .lock()
            .unwrap()
            .push((event.object.id, event.object.amount_paid));
        Ok(())
    }

    let ledger = Ledger::default();
    let router = EventRouter::with_state_type()
        .route("invoice.paid", invoice_paid)
        .with_state(ledger.clone());

    let outcome = router
        .handle(
            &signed_event(
                "stripe",
                "whsec_test_secret",
                "invoice.paid",
                json!({ "id": "in_7", "amount_paid": 4200 }),
            )
            .unwrap(),
        )
        .await;

    assert_eq!(outcome.code(), "processed");
    assert_eq!(*ledger.0.lock().unwrap(), [("in_7".to_owned(), 4200)]);
}

// ---- Envelopes, on the providers' own sample payloads ----

/// Runs `router` on `request` and asserts the route ran.
async fn routed(router: &EventRouter, request: &SignedRequest, seen: &Seen) -> Vec<String> {
    let outcome = router.handle(request).await;
    assert_eq!(outcome.code(), "processed", "{outcome}");
    taken(seen)
}

/// A published vector's request, verified with its own secret at its own time.
fn vector(provider: &str, file: &str, name: &str) -> SignedRequest {
    let case = support::case(file, name);
    let (headers, uri, body) = support::request(&case);
    let mut request = http::Request::new(body);
    *request.method_mut() = http::Method::POST;
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    SignedRequest::from_boxed(provider, support::verifier(provider, &case), request)
}

fn fixture(name: &str) -> Bytes {
    let path = format!(
        "{}/tests/vectors/payloads/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    Bytes::from(std::fs::read(path).unwrap())
}

fn request_of(headers: http::HeaderMap, body: Bytes) -> http::Request<Bytes> {
    let mut request = http::Request::new(body);
    *request.method_mut() = http::Method::POST;
    *request.headers_mut() = headers;
    request
}

#[derive(Debug, Deserialize)]
struct Push {
    #[serde(rename = "ref")]
    reference: String,
    after: String,
    repository: Repository,
}

#[derive(Debug, Deserialize)]
struct Repository {
    full_name: String,
}

#[derive(Debug, Deserialize)]
struct PullRequestEvent {
    number: u64,
    pull_request: PullRequest,
}

#[derive(Debug, Deserialize)]
struct PullRequest {
    title: String,
    head: Head,
}

#[derive(Debug, Deserialize)]
struct Head {
    sha: String,
}

/// The fixture `file` as GitHub delivers it under `X-GitHub-Event: event`, signed now.
fn github_request(file: &str, event: &str) -> SignedRequest {
    let body = fixture(file);
    let headers = GithubSigner::new(GITHUB_SECRET)
        .unwrap()
        .sign_delivery("72d3162e-cc78-11e3-81ab-4c9367dc0958", event, &body)
        .unwrap();
    let verifier = GithubVerifier::new(GITHUB_SECRET).unwrap();
    SignedRequest::new("github", verifier, request_of(headers, body))
}

/// GitHub's documented example payloads (octokit/webhooks `payload-examples/api.github.com`:
/// `push/payload.json`, `pull_request/opened.payload.json`).
#[tokio::test]
async fn github_envelope_on_githubs_example_payloads() {
    let seen = Seen::default();
    let (on_push, on_opened) = (seen.clone(), seen.clone());
    let router = EventRouter::new()
        .route("push", move |event: GithubEvent<Push>| {
            let seen = on_push.clone();
            async move {
                assert_eq!(event.event, "push");
                assert_eq!(event.action, None);
                assert_eq!(
                    event.delivery.as_deref(),
                    Some("72d3162e-cc78-11e3-81ab-4c9367dc0958")
                );
                let p = event.payload;
                assert_eq!(p.reference, "refs/tags/simple-tag");
                assert_eq!(p.after, "0000000000000000000000000000000000000000");
                seen.lock()
                    .unwrap()
                    .push(format!("push {}", p.repository.full_name));
                Ok(())
            }
        })
        .route(
            "pull_request.opened",
            move |event: GithubEvent<PullRequestEvent>| {
                let seen = on_opened.clone();
                async move {
                    assert_eq!(
                        (event.event.as_str(), event.action.as_deref()),
                        ("pull_request", Some("opened"))
                    );
                    let p = event.payload;
                    assert_eq!(
                        p.pull_request.head.sha,
                        "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
                    );
                    seen.lock()
                        .unwrap()
                        .push(format!("opened #{} {}", p.number, p.pull_request.title));
                    Ok(())
                }
            },
        );
    let request = github_request("github-push.json", "push");
    assert_eq!(
        routed(&router, &request, &seen).await,
        ["push Codertocat/Hello-World"]
    );
    let request = github_request("github-pull_request-opened.json", "pull_request");
    assert_eq!(
        routed(&router, &request, &seen).await,
        ["opened #2 Update the README with new information."]
    );
}

#[derive(Debug, Deserialize)]
struct Customer {
    id: String,
    name: String,
}

#[derive(Debug, Deserialize)]
struct Account {
    email: String,
    default_currency: String,
}

/// Stripe's event fixtures from its SDK tests (stripe-java `src/test/resources`:
/// `api_fixtures/customer_created.json`, `com/stripe/model/account_event.json`).
#[tokio::test]
async fn stripe_envelope_on_stripes_sdk_fixtures() {
    let seen = Seen::default();
    let (on_customer, on_account) = (seen.clone(), seen.clone());
    let router = EventRouter::new()
        .route("customer.created", move |event: StripeEvent<Customer>| {
            let seen = on_customer.clone();
            async move {
                assert_eq!(event.id, "evt_00000000000000");
                assert_eq!(event.event_type, "customer.created");
                assert_eq!(event.created, 1_326_853_478);
                assert!(!event.livemode);
                assert_eq!(event.api_version.as_deref(), Some("2017-08-15"));
                assert_eq!(event.account, None);
                assert_eq!(event.previous_attributes, None);
                seen.lock()
                    .unwrap()
                    .push(format!("{} {}", event.object.id, event.object.name));
                Ok(())
            }
        })
        .route("account.*", move |event: StripeEvent<Account>| {
            let seen = on_account.clone();
            async move {
                assert_eq!(event.event_type, "account.updated");
                // The fixture spells the member `acccount`: absent, as an unknown member is.
                assert_eq!(event.account, None);
                let previous = event.previous_attributes.unwrap();
                assert_eq!(previous["details_submitted"], json!(false));
                seen.lock().unwrap().push(format!(
                    "{} {}",
                    event.object.email, event.object.default_currency
                ));
                Ok(())
            }
        });
    let signer = StripeSigner::new(STRIPE_SECRET).unwrap();
    for (name, expected) in [
        (
            "stripe-customer_created.json",
            "cus_00000000000000 Test Platform",
        ),
        ("stripe-account_event.json", "test@stripe.com cad"),
    ] {
        let body = fixture(name);
        let headers = signer.sign(now(), &body);
        let verifier = StripeVerifier::new(STRIPE_SECRET).unwrap();
        let request = SignedRequest::new("stripe", verifier, request_of(headers, body));
        assert_eq!(routed(&router, &request, &seen).await, [expected]);
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Contact {
    id: String,
    full_name: String,
}

/// The Standard Webhooks specification's example payload (spec/standard-webhooks.md, "Payload
/// structure").
#[tokio::test]
async fn standard_webhooks_envelope_on_the_specifications_example() {
    let body = Bytes::from_static(
        br#"{"type":"contact.created","timestamp":"2022-11-03T20:26:10.344522Z","data":{"id":"1f81eb52-5198-4599-803e-771906343485","type":"contact","fullName":"John Smith","address":"800 W NASA Pkwy, Webster, TX 77598, USA","phoneNumber":"(281) 332-2575","birthday":"1980-04-19","occupation":"Engineer, ACME"}}"#,
    );
    let seen = Seen::default();
    let record = seen.clone();
    let router = EventRouter::new().route("contact.*", move |event: StandardEvent<Contact>| {
        let seen = record.clone();
        async move {
            assert_eq!(event.id.as_deref(), Some("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"));
            assert_eq!(
                event.timestamp.as_deref(),
                Some("2022-11-03T20:26:10.344522Z")
            );
            seen.lock().unwrap().push(format!(
                "{} {} {}",
                event.event_type, event.data.id, event.data.full_name
            ));
            Ok(())
        }
    });
    let headers = StandardSigner::new(STANDARD_SECRET)
        .unwrap()
        .sign("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", now(), &body)
        .unwrap();
    let verifier = StandardVerifier::new(STANDARD_SECRET).unwrap();
    let request = SignedRequest::new("standard-webhooks", verifier, request_of(headers, body));
    assert_eq!(
        routed(&router, &request, &seen).await,
        ["contact.created 1f81eb52-5198-4599-803e-771906343485 John Smith"]
    );
}

/// Records `label` followed by what `describe` says of the envelope.
fn record<E: Send + 'static>(
    seen: &Seen,
    describe: fn(E) -> String,
) -> impl Fn(E) -> Boxed + Send + Sync + 'static {
    let seen = seen.clone();
    move |envelope: E| {
        let line = describe(envelope);
        seen.lock().unwrap().push(line);
        Box::pin(async { Ok(()) })
    }
}

#[derive(Debug, Deserialize)]
struct Mention {
    text: String,
}

#[derive(Debug, Deserialize)]
struct IssueData {
    id: String,
    title: String,
}

#[derive(Debug, Deserialize)]
struct ZoomPayload {
    account_id: String,
    object: ZoomMeeting,
}

#[derive(Debug, Deserialize)]
struct ZoomMeeting {
    topic: String,
}

#[derive(Debug, Deserialize)]
struct Order {
    id: u64,
    total_price: String,
}

#[derive(Debug, Deserialize)]
struct PaddleCustomer {
    id: String,
    email: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Call {
    call_sid: String,
    digits: String,
    from: String,
}

#[derive(Debug, Deserialize)]
struct GitlabPush {
    #[serde(rename = "ref")]
    reference: String,
    user_name: String,
}

/// The senders whose samples are the published vectors in `tests/vectors/` (each file names its
/// source): every envelope on the provider's own example, verified with its published secret.
#[tokio::test]
async fn every_envelope_on_the_providers_published_examples() {
    let seen = Seen::default();
    let router = EventRouter::new()
        .route_for(
            "slack",
            "app_mention",
            record(&seen, |e: SlackEvent<Mention>| {
                format!(
                    "slack {} {} {} {:?}",
                    e.event_type, e.event_id, e.event.text, e.team_id
                )
            }),
        )
        .route_for(
            "linear",
            "Issue.create",
            record(&seen, |e: LinearEvent<IssueData>| {
                format!(
                    "linear {}.{} {} {}",
                    e.event_type, e.action, e.data.id, e.data.title
                )
            }),
        )
        .route_for(
            "zoom",
            "meeting.started",
            record(&seen, |e: ZoomEvent<ZoomPayload>| {
                format!(
                    "zoom {} {} {}",
                    e.event, e.payload.account_id, e.payload.object.topic
                )
            }),
        )
        .route_for(
            "shopify",
            "orders/create",
            record(&seen, |e: ShopifyEvent<Order>| {
                format!(
                    "shopify {} {} {}",
                    e.topic, e.payload.id, e.payload.total_price
                )
            }),
        )
        .route_for(
            "paddle",
            "customer.*",
            record(&seen, |e: PaddleEvent<PaddleCustomer>| {
                format!(
                    "paddle {} {} {} {}",
                    e.event_type, e.event_id, e.data.id, e.data.email
                )
            }),
        )
        .route_for(
            "square",
            "webhooks.test_notification",
            record(&seen, |e: SquareEvent<Value>| {
                format!(
                    "square {} {} {} {}",
                    e.event_type,
                    e.object_type,
                    e.object_id,
                    e.object.is_none()
                )
            }),
        )
        .route_for(
            "gitlab",
            "push",
            record(&seen, |e: GitlabEvent<GitlabPush>| {
                format!(
                    "gitlab {} {:?} {} {}",
                    e.object_kind, e.action, e.payload.reference, e.payload.user_name
                )
            }),
        )
        .route_for(
            "twilio",
            "*",
            record(&seen, |Form(call): Form<Call>| {
                format!("twilio {} {} {}", call.call_sid, call.digits, call.from)
            }),
        );
    let cases = [
        ("slack", "slack.json", "Events API callback", "slack app_mention Ev08MFMKH6 hi Some(\"T061EG9R6\")"),
        ("linear", "linear.json", "an Issue create, 30 s after", "linear Issue.create 2174add1-f7c8-44e3-bbf3-2d60b5ea8bc9 Receive webhooks safely"),
        ("zoom", "zoom.json", "meeting.started, 10 s after", "zoom meeting.started AAAAAABBBB verihook demo"),
        ("shopify", "shopify.json", "every header Shopify sends", "shopify orders/create 820982911946154508 403.00"),
        ("paddle", "paddle.json", "Paddle's SDK fixture special_chars_payload.json", "paddle customer.created evt_01hs0t94tjvtv62azjmkbeysz7 ctm_01hs0t94g83hs5jdw282ztqa4z blackhole+verification1@paddle.com"),
        ("square", "square.json", "SDK test vector", "square webhooks.test_notification webhooks bc368e64-01aa-407e-b46e-3231809b1129 true"),
        ("gitlab", "gitlab.json", "the token GitLab was given", "gitlab push None refs/heads/master John Smith"),
        ("twilio", "twilio.json", "SDK vector", "twilio CA1234567890ABCDE 1234 +14158675309"),
    ];
    for (provider, file, name, expected) in cases {
        let request = vector(provider, file, name);
        assert_eq!(
            routed(&router, &request, &seen).await,
            [expected],
            "{provider}"
        );
    }
}

#[cfg(feature = "discord")]
#[tokio::test]
async fn discord_interaction_envelope_on_the_documented_shape() {
    use verihook::envelope::DiscordInteraction;

    #[derive(Debug, Deserialize)]
    struct Command {
        name: String,
    }
    let seen = Seen::default();
    let router = EventRouter::new().route(
        "application_command.hello",
        record(&seen, |e: DiscordInteraction<Command>| {
            let debug = format!("{e:?}");
            assert!(
                debug.contains("[redacted]") && !debug.contains("tkn"),
                "{debug}"
            );
            format!(
                "discord {} {} {} {}",
                e.kind,
                e.id,
                e.application_id,
                e.data.unwrap().name
            )
        }),
    );
    let request = vector("discord", "discord.json", "application command");
    assert_eq!(
        routed(&router, &request, &seen).await,
        ["discord 2 98766 1234 hello"]
    );
}

#[tokio::test]
async fn a_payload_type_is_built_only_for_the_route_that_matched() {
    // A route whose type cannot fit any payload is never built for an event routed elsewhere.
    #[derive(Debug, Deserialize)]
    struct Impossible {
        #[allow(dead_code)]
        never_sent: u64,
    }
    let seen = Seen::default();
    let router = EventRouter::new()
        .route("invoice.paid", mark(&seen, "paid"))
        .route("invoice.*", |_: StripeEvent<Impossible>| async { Ok(()) });
    assert_eq!(
        router.handle(&stripe("invoice.paid")).await.code(),
        "processed"
    );
    assert_eq!(taken(&seen), ["paid invoice.paid"]);
    assert_eq!(
        router.handle(&stripe("invoice.voided")).await.code(),
        "invalid_payload"
    );
}

#[tokio::test]
async fn a_forged_request_never_reaches_a_route() {
    let seen = Seen::default();
    let router = EventRouter::new().fallback(mark(&seen, "any"));
    let genuine = stripe("invoice.paid");
    let mut forged = genuine.request().clone();
    *forged.body_mut() =
        Bytes::from_static(br#"{"id":"evt_forged","type":"invoice.paid","data":{"object":{}}}"#);
    let verifier = StripeVerifier::new(STRIPE_SECRET).unwrap();
    let outcome = router
        .handle(&SignedRequest::new("stripe", verifier, forged))
        .await;
    assert_eq!(outcome.code(), "bad_signature");
    assert!(taken(&seen).is_empty());
}

/// octocrab's models (feature `octocrab`) on GitHub's documented example payloads: the whole
/// event chosen by `X-GitHub-Event`, and one payload type inside `GithubEvent<T>`.
#[cfg(feature = "octocrab")]
#[tokio::test]
async fn octocrab_models_on_githubs_example_payloads() {
    use verihook::envelope::github_models::octocrab::models::webhook_events::{
        payload, WebhookEventPayload,
    };
    use verihook::envelope::github_models::WebhookEvent;

    let seen = Seen::default();
    let router = EventRouter::new()
        .route(
            "pull_request.opened",
            record(&seen, |event: WebhookEvent| match event.specific {
                WebhookEventPayload::PullRequest(pull) => format!(
                    "pull_request #{} {:?} by {}",
                    pull.number,
                    pull.pull_request.title.unwrap_or_default(),
                    event.sender.map(|s| s.login).unwrap_or_default()
                ),
                other => format!("unexpected {other:?}"),
            }),
        )
        .route(
            "push",
            record(
                &seen,
                |event: GithubEvent<Box<payload::PushWebhookEventPayload>>| {
                    format!("push {} {}", event.payload.r#ref, event.payload.after)
                },
            ),
        );
    for (file, event, expected) in [
        (
            "github-pull_request-opened.json",
            "pull_request",
            "pull_request #2 \"Update the README with new information.\" by Codertocat",
        ),
        (
            "github-push.json",
            "push",
            "push refs/tags/simple-tag 0000000000000000000000000000000000000000",
        ),
    ] {
        let request = github_request(file, event);
        assert_eq!(routed(&router, &request, &seen).await, [expected]);
    }
    // A push body under a forged `X-GitHub-Event: pull_request`: octocrab's model refuses it.
    let request = github_request("github-push.json", "pull_request");
    let router = EventRouter::new().fallback(|_: WebhookEvent| async { Ok(()) });
    assert_eq!(router.handle(&request).await.code(), "invalid_payload");
}

/// The CloudEvents specification's structured-mode example (spec.md, "Example"), signed as a
/// Standard Webhooks sender would: routed by its `type`, taken as `StructuredEvent<T>`.
#[tokio::test]
async fn cloudevents_structured_event_on_the_specifications_example() {
    use verihook::scheme::cloudevents::{CloudEvents, StructuredEvent};

    let body = Bytes::from_static(
        br#"{"specversion":"1.0","type":"com.github.pull_request.opened","source":"https://github.com/cloudevents/spec/pull","subject":"123","id":"A234-1234-1234","time":"2018-04-05T17:31:00Z","comexampleextension1":"value","comexampleothervalue":5,"datacontenttype":"text/xml","data":"<much wow=\"xml\"/>"}"#,
    );
    let seen = Seen::default();
    let router = EventRouter::new().route(
        "com.github.pull_request.*",
        record(&seen, |e: StructuredEvent<String>| {
            format!(
                "{} {} {} {}",
                e.event_type,
                e.source,
                e.id,
                e.data.unwrap_or_default()
            )
        }),
    );
    let mut headers = StandardSigner::new(STANDARD_SECRET)
        .unwrap()
        .sign("msg_ce_1", now(), &body)
        .unwrap();
    headers.insert(
        "content-type",
        http::HeaderValue::from_static("application/cloudevents+json"),
    );
    let scheme = CloudEvents::new(StandardVerifier::new(STANDARD_SECRET).unwrap());
    let request = SignedRequest::new("events", scheme, request_of(headers, body));
    assert_eq!(
        routed(&router, &request, &seen).await,
        ["com.github.pull_request.opened https://github.com/cloudevents/spec/pull A234-1234-1234 <much wow=\"xml\"/>"]
    );
}

#[tokio::test]
async fn a_handler_may_take_the_route_key() {
    use verihook::router::RouteKey;

    let seen = Seen::default();
    let router = EventRouter::new()
        .route(
            "pull_request",
            record(&seen, |key: RouteKey| {
                format!("{key} {} {:?}", key.kind(), key.action())
            }),
        )
        .fallback(record(&seen, |key: Option<RouteKey>| {
            format!(
                "fallback {}",
                key.map_or("(no type)".into(), |k| k.to_string())
            )
        }));
    let opened = signed_event("github", GITHUB_SECRET, "pull_request.opened", json!({})).unwrap();
    assert_eq!(
        routed(&router, &opened, &seen).await,
        ["pull_request.opened pull_request Some(\"opened\")"]
    );
    let push = signed_event("github", GITHUB_SECRET, "push", json!({})).unwrap();
    assert_eq!(routed(&router, &push, &seen).await, ["fallback push"]);
    // Twilio's requests carry no type: only a fallback takes them, without a key.
    let sms = signed_event("twilio", "a-twilio-auth-token", "", json!({ "Body": "hi" })).unwrap();
    assert_eq!(routed(&router, &sms, &seen).await, ["fallback (no type)"]);
    // A handler that requires the key fails on such an event (500), never panics.
    let strict = EventRouter::new().fallback(|_: RouteKey| async { Ok(()) });
    assert_eq!(strict.handle(&sms).await.code(), "handler_failed");
}

/// A captured GitHub body replayed first under a forged `X-GitHub-Event` that no route takes is
/// acknowledged, but not marked done: the genuine delivery that follows still runs.
#[tokio::test]
async fn a_replay_under_a_forged_unsigned_type_cannot_swallow_the_genuine_delivery() {
    let seen = Seen::default();
    let receiver = Receiver::builder()
        .sender("github", GithubVerifier::new(GITHUB_SECRET).unwrap())
        .router(EventRouter::new().route("push", mark(&seen, "push")))
        .build()
        .unwrap();
    let forged = github_request("github-push.json", "nothing_routes_this");
    let genuine = github_request("github-push.json", "push");
    assert_eq!(send(&receiver, &forged).await.code(), "unrouted");
    assert_eq!(send(&receiver, &genuine).await.code(), "processed");
    assert_eq!(send(&receiver, &genuine).await.code(), "duplicate");
    assert_eq!(taken(&seen), ["push push"]);
}
