//! What typed routing costs over parsing the event by hand, interleaved so that a slow stretch
//! of a shared machine hits both sides alike.
//!
//! Both sides verify the same signed request and build its idempotency key first (a receiver
//! does both for every event). "by hand" then deserialises the whole event once into the app's
//! struct (type and payload) and matches on the type, as an app without a router does; "routed" runs `EventRouter::handle`: the route key read (one pass over the body
//! that skips every other member), the route's envelope deserialised once, the handler called.
//!
//! Run: `cargo bench --bench routing` (about 20 s). For a count of instructions instead of time:
//! `ROUTING_ONLY=<case>/<side> ROUTING_ITERATIONS=2000 valgrind --tool=callgrind
//! target/release/deps/routing-<hash>` (sides: `verify`, `hand`, `routed`).

#![allow(clippy::unwrap_used)] // a benchmark that cannot set up should fail loudly

use std::future::Future;
use std::hint::black_box;
use std::time::Instant;

use serde::Deserialize;
use serde_json::json;
use verihook::envelope::{GithubEvent, StripeEvent};
use verihook::testing::{signed_event, GithubSigner, SignedRequest};
use verihook::{event::Verified, providers::github::GithubVerifier, EventRouter, HandlerError};

const ROUNDS: usize = 101;

#[derive(Deserialize)]
#[allow(dead_code)]
struct Invoice {
    id: String,
    amount_paid: u64,
    currency: String,
    customer: String,
}

/// A Stripe event parsed by hand: the type and `data.object`.
#[derive(Deserialize)]
struct StripeByHand {
    #[serde(rename = "type")]
    event_type: String,
    data: StripeData,
}

#[derive(Deserialize)]
struct StripeData {
    object: Invoice,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct PullRequestEvent {
    action: String,
    number: u64,
    pull_request: PullRequest,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct PullRequest {
    title: String,
    state: String,
}

#[derive(Clone, Copy)]
enum Case {
    Stripe,
    GithubPullRequest,
}

impl Case {
    fn name(self) -> &'static str {
        match self {
            Self::Stripe => "stripe invoice.paid",
            Self::GithubPullRequest => "github pull_request.opened (27 KB)",
        }
    }

    fn request(self) -> SignedRequest {
        match self {
            Self::Stripe => {
                let invoice = json!({
                    "id": "in_1QDemoInvoice", "object": "invoice", "amount_due": 4200,
                    "amount_paid": 4200, "amount_remaining": 0, "attempt_count": 1,
                    "attempted": true, "billing_reason": "subscription_cycle",
                    "collection_method": "charge_automatically", "currency": "eur",
                    "customer": "cus_Demo123", "customer_email": "jenny@example.com",
                    "hosted_invoice_url": "https://invoice.stripe.com/i/acct_1/test_YWNjdF8x",
                    "lines": { "object": "list", "data": [{ "id": "il_1", "amount": 4200,
                    "description": "1 x Pro (at €42.00 / month)", "period": { "end": 1767182400,
                    "start": 1764504000 } }], "has_more": false },
                    "number": "DEMO-0042", "paid": true, "status": "paid", "subtotal": 4200,
                    "total": 4200
                });
                signed_event("stripe", "whsec_routing_bench", "invoice.paid", invoice).unwrap()
            }
            Self::GithubPullRequest => {
                let body = std::fs::read(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/tests/vectors/payloads/github-pull_request-opened.json"
                ))
                .unwrap();
                let secret = "a routing bench secret";
                let headers = GithubSigner::new(secret)
                    .unwrap()
                    .sign_delivery(
                        "72d3162e-cc78-11e3-81ab-4c9367dc0958",
                        "pull_request",
                        &body,
                    )
                    .unwrap();
                let mut request = http::Request::new(bytes::Bytes::from(body));
                *request.method_mut() = http::Method::POST;
                *request.headers_mut() = headers;
                SignedRequest::new("github", GithubVerifier::new(secret).unwrap(), request)
            }
        }
    }
}

async fn invoice_paid(event: StripeEvent<Invoice>) -> Result<(), HandlerError> {
    black_box(event.object.amount_paid);
    Ok(())
}

async fn pull_request_opened(event: GithubEvent<PullRequestEvent>) -> Result<(), HandlerError> {
    black_box(event.payload.number);
    Ok(())
}

fn router() -> EventRouter {
    EventRouter::new()
        .route("invoice.paid", invoice_paid)
        .route("invoice.*", |_: StripeEvent<serde_json::Value>| async {
            Ok(())
        })
        .route("pull_request.opened", pull_request_opened)
        .route("pull_request", |_: GithubEvent<serde_json::Value>| async {
            Ok(())
        })
}

/// Polls a future that never waits (no I/O in these handlers) to its end.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

/// Verifies, then parses by hand and matches on the type.
fn by_hand(case: Case, request: &SignedRequest) {
    let Ok(Verified::Event(event)) = request.verify() else {
        panic!("the bench request must verify")
    };
    // A receiver claims every event under its key, routed or not.
    black_box(event.idempotency_key());
    match case {
        Case::Stripe => {
            let parsed: StripeByHand = event.json().unwrap();
            if parsed.event_type == "invoice.paid" {
                black_box(parsed.data.object.amount_paid);
            }
        }
        Case::GithubPullRequest => {
            let parsed: PullRequestEvent = event.json().unwrap();
            if event.event_type().as_deref() == Some("pull_request") && parsed.action == "opened" {
                black_box(parsed.number);
            }
        }
    }
}

fn verify_only(request: &SignedRequest) {
    black_box(request.verify().unwrap());
}

fn routed(router: &EventRouter, request: &SignedRequest) {
    let outcome = ready(router.handle(request));
    assert_eq!(outcome.code(), "processed");
}

fn batch_ns(iterations: u32, mut run: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..iterations {
        run();
    }
    start.elapsed().as_nanos() as f64 / f64::from(iterations)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let router = router();
    let cases = [Case::Stripe, Case::GithubPullRequest];
    if let Ok(only) = std::env::var("ROUTING_ONLY") {
        let iterations: u32 = std::env::var("ROUTING_ITERATIONS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(2000);
        let (case, side) = only.split_once('/').expect("ROUTING_ONLY=<case>/<side>");
        let case = match case {
            "stripe" => Case::Stripe,
            "github" => Case::GithubPullRequest,
            other => panic!("no case {other}"),
        };
        let request = case.request();
        for _ in 0..iterations {
            match side {
                "verify" => verify_only(&request),
                "hand" => by_hand(case, &request),
                "routed" => routed(&router, &request),
                other => panic!("no side {other}"),
            }
        }
        return;
    }
    println!("| event | verify only | verify + parse by hand | verify + route (`EventRouter::handle`) | routing over by hand |");
    println!("|---|---|---|---|---|");
    for case in cases {
        let request = case.request();
        // Calibrate a batch of about 0.5 ms.
        let once = batch_ns(200, || routed(&router, &request)).max(1.0);
        let iterations = ((500_000.0 / once) as u32).max(1);
        let (mut verify, mut hand, mut route, mut ratios) = (vec![], vec![], vec![], vec![]);
        for round in 0..ROUNDS {
            let v = batch_ns(iterations, || verify_only(&request));
            let (h, r) = if round % 2 == 0 {
                let h = batch_ns(iterations, || by_hand(case, &request));
                (h, batch_ns(iterations, || routed(&router, &request)))
            } else {
                let r = batch_ns(iterations, || routed(&router, &request));
                (batch_ns(iterations, || by_hand(case, &request)), r)
            };
            verify.push(v);
            hand.push(h);
            route.push(r);
            ratios.push(r / h);
        }
        println!(
            "| {} | {:.0} ns | {:.0} ns | {:.0} ns | {:.3}× |",
            case.name(),
            median(&mut verify),
            median(&mut hand),
            median(&mut route),
            median(&mut ratios)
        );
    }
}
