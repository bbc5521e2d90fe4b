//! The Axum adapter over real HTTP: a server on 127.0.0.1:0 and a real client, through the
//! scenarios in `tests/common`.
#![allow(clippy::unwrap_used)] // a test that cannot set up should fail loudly

mod common;

use std::sync::{Arc, Mutex};

use axum::routing::post;
use axum::Router;
use common::{Invoice, Server, BODY_LIMIT};
use verihook::axum::{receive, TypedWebhook, WebhookVerifier};

async fn start() -> Server {
    let seen = Arc::new(Mutex::new(common::Seen::default()));
    let pipeline = Router::new()
        .route("/webhooks/stripe", post(receive))
        .with_state(Arc::new(common::receiver(seen.clone())));
    let typed = Router::new()
        .route(
            "/typed",
            post(|hook: TypedWebhook<Invoice>| async move {
                format!("{} {}", hook.payload.id, hook.payload.amount)
            }),
        )
        .with_state(WebhookVerifier::new(common::verifier()).with_body_limit(BODY_LIMIT));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, pipeline.merge(typed)).await.unwrap();
    });
    Server {
        base,
        seen,
        client: reqwest::Client::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_delivery_is_processed_and_the_handler_gets_the_typed_event() {
    common::valid_delivery_is_processed_and_the_handler_gets_the_typed_event(&start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_missing_oversize_and_stale_are_rejected_with_their_codes() {
    common::tampered_missing_oversize_and_stale_are_rejected_with_their_codes(&start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_duplicates_run_the_handler_once() {
    common::twenty_concurrent_duplicates_run_the_handler_once(Arc::new(start().await)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_handler_answers_500_and_the_retry_succeeds() {
    common::a_failing_handler_answers_500_and_the_retry_succeeds(&start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misfit_is_answered_the_same_by_the_receiver_and_the_extractor() {
    common::a_misfit_is_answered_the_same_by_the_receiver_and_the_extractor(&start().await).await;
}
