//! Signs a webhook for each provider, verifies it, shows every reason a request is rejected
//! (every code the crate has: `.ci/run` checks this list against the source), then runs the
//! exactly-once pipeline. Needs nothing installed:
//! `cargo run -p verihook-examples --bin quickstart`.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use serde::Deserialize;
use verihook::scheme::Verifier;
use verihook::testing::{GithubSigner, SquareSigner, StandardSigner, StripeSigner};
use verihook::{
    providers::github::GithubVerifier, providers::square::SquareVerifier,
    providers::standard::StandardVerifier, providers::stripe::StripeVerifier, scheme::FixedClock,
    Event, Receiver, RequestHead, Scheme, VerifyError, WebhookRequest,
};

/// The app's own type for the part of the payload it cares about.
#[derive(Debug, Deserialize)]
struct InvoicePaid {
    data: Invoice,
}

#[derive(Debug, Deserialize)]
struct Invoice {
    amount: u64,
    currency: String,
}

const NOW: u64 = 1_700_000_000;

/// A type the payload does not fit: `amount` is a number in the body.
#[derive(Debug, Deserialize)]
#[allow(dead_code)] // only its failure to deserialise is shown
struct WrongShape {
    data: WrongInvoice,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct WrongInvoice {
    amount: String,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    // With the `tracing` feature, the receivers below log each refusal in one line (to stderr,
    // apart from this walk-through's own lines); `RUST_LOG=info` shows every request.
    let level = std::env::var("RUST_LOG")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(tracing_subscriber::filter::LevelFilter::WARN);
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false)
        .with_writer(std::io::stderr)
        .try_init();
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let body =
        br#"{"id":"evt_1Q2w3E","type":"invoice.paid","data":{"amount":4200,"currency":"eur"}}"#;
    let clock = FixedClock::at_unix(NOW);

    println!("== authentic requests ==");
    let github_secret = "It's a Secret to Everybody";
    let github = GithubVerifier::new(github_secret)?;
    let headers = GithubSigner::new(github_secret)?.sign_delivery(
        "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "invoice",
        body,
    )?;
    show(&github.verify(&headers, Bytes::from_static(body)));

    let stripe_secret = "whsec_quickstart_demo_secret";
    let stripe = StripeVerifier::new(stripe_secret)?.with_clock(clock);
    let stripe_headers = StripeSigner::new(stripe_secret)?.sign(NOW - 30, body);
    let event = stripe.verify(&stripe_headers, Bytes::from_static(body))?;
    show(&Ok(event.clone()));
    let invoice: InvoicePaid = event.json()?;
    println!(
        "   typed payload: {} {} (parsed only after the signature passed)",
        invoice.data.amount, invoice.data.currency
    );

    let standard_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let standard = StandardVerifier::new(standard_secret)?.with_clock(clock);
    let standard_headers = StandardSigner::new(standard_secret)?.sign("msg_2Kq", NOW, body)?;
    show(&standard.verify(&standard_headers, Bytes::from_static(body)));

    println!("\n== rotation: old and new secret both accepted ==");
    let rotating =
        StripeVerifier::with_secrets(["whsec_the_new_secret", stripe_secret])?.with_clock(clock);
    show(&rotating.verify(&stripe_headers, Bytes::from_static(body)));

    println!("\n== every rejection reason ==");
    let tampered =
        br#"{"id":"evt_1Q2w3E","type":"invoice.paid","data":{"amount":9999,"currency":"eur"}}"#;
    reject(
        "body changed after signing",
        &stripe,
        &stripe_headers,
        tampered,
    );
    let wrong = StripeVerifier::new("whsec_not_the_right_one")?.with_clock(clock);
    reject("signed with another secret", &wrong, &stripe_headers, body);
    let stale = StripeSigner::new(stripe_secret)?.sign(NOW - 3600, body);
    reject("replayed an hour later", &stripe, &stale, body);
    let future = StandardSigner::new(standard_secret)?.sign("msg_2Kq", NOW + 900, body)?;
    reject("timestamp 15 minutes ahead", &standard, &future, body);
    reject("no signature header", &github, &HeaderMap::new(), body);
    let mut garbled = HeaderMap::new();
    garbled.insert("stripe-signature", HeaderValue::from_static("v1=abc"));
    reject("signature header without t=", &stripe, &garbled, body);
    let strict = stripe.clone().with_tolerance(Duration::from_secs(10));
    reject(
        "30 s old with a 10 s tolerance",
        &strict,
        &stripe_headers,
        body,
    );
    let square_url = "https://example.com/webhooks/square";
    let square = SquareVerifier::new("square-signature-key", square_url)?;
    let square_headers = SquareSigner::new("square-signature-key")?.sign(square_url, body)?;
    reject(
        "posted to another path than signed",
        &square,
        &square_headers,
        body,
    );
    match StandardVerifier::new("whsec_this is not base64") {
        Ok(_) => println!("unexpected: a bad secret was accepted"),
        Err(err) => line(
            "secret that is not base64",
            err.status().as_u16(),
            err.code(),
            &err,
        ),
    }
    match event.json::<WrongShape>() {
        Ok(_) => println!("unexpected: a payload of the wrong shape was accepted"),
        Err(err) => line(
            "authentic, but not the app's type",
            err.status().as_u16(),
            err.code(),
            &err,
        ),
    }

    println!("\n== exactly once: the Receiver (verify, claim, handle, complete) ==");
    let receiver = Receiver::builder()
        .sender("stripe", stripe.clone())
        .sender_body_limit("stripe", 64 * 1024)
        .handler(|delivery| async move {
            if delivery.event_type().as_deref() == Some("invoice.failing") {
                return Err("the app's database said no".into());
            }
            Ok(())
        })
        .build()?;
    let fresh = || Bytes::from_static(body);
    for what in ["first delivery", "the provider's retry"] {
        let outcome = receiver.handle(&stripe_headers, fresh()).await;
        println!(
            "{what:<34} {} {:<20} {outcome}",
            outcome.status().as_u16(),
            outcome.code()
        );
    }
    let failing = br#"{"id":"evt_2","type":"invoice.failing"}"#;
    let failing_headers = StripeSigner::new(stripe_secret)?.sign(NOW, failing);
    let outcome = receiver
        .handle(&failing_headers, Bytes::from_static(failing))
        .await;
    println!(
        "{:<34} {} {:<20} {outcome}",
        "handler returned an error",
        outcome.status().as_u16(),
        outcome.code()
    );
    let large = Bytes::from(vec![b' '; 65 * 1024]);
    let large_headers = StripeSigner::new(stripe_secret)?.sign(NOW, &large);
    let outcome = receiver.handle(&large_headers, large).await;
    println!(
        "{:<34} {} {:<20} {outcome}",
        "65 KiB body, 64 KiB limit",
        outcome.status().as_u16(),
        outcome.code()
    );

    // Two senders of one scheme side by side: a route must name which one a request is for.
    let side_by_side = Receiver::builder()
        .sender("clerk", StandardVerifier::new(standard_secret)?)
        .sender("resend", StandardVerifier::new(standard_secret)?)
        .handler(|_| async { Ok(()) })
        .build()?;
    let outcome = side_by_side
        .handle(&standard_headers, Bytes::from_static(body))
        .await;
    println!(
        "{:<34} {} {:<20} {outcome}",
        "two senders fit, route names none",
        outcome.status().as_u16(),
        outcome.code()
    );
    Ok(())
}

fn line(what: &str, status: u16, code: &str, err: &dyn std::fmt::Display) {
    println!("{what:<34} {status} {code:<20} {err}");
}

fn show(result: &Result<Event, VerifyError>) {
    match result {
        Ok(event) => println!(
            "ok  {:<18} id={} type={} signed(id={}, type={}, timestamp={})",
            event.scheme(),
            event.id().as_deref().unwrap_or("-"),
            event.event_type().as_deref().unwrap_or("-"),
            event.signed().id(),
            event.signed().event_type(),
            event.signed().timestamp(),
        ),
        Err(err) => println!("unexpected rejection: {err}"),
    }
}

fn reject(what: &str, verifier: &Verifier<impl Scheme>, headers: &HeaderMap, body: &'static [u8]) {
    let body = Bytes::from_static(body);
    let request = WebhookRequest::new(RequestHead::post(headers), &body);
    match verifier.verify_request(&request) {
        Ok(_) => println!("unexpected: {what} was accepted"),
        Err(err) => line(what, err.status().as_u16(), err.code(), &err),
    }
}
