//! The Actix-web adapter over real HTTP: a server on 127.0.0.1:0 and a real client, through the
//! scenarios in `tests/common`.
#![allow(clippy::unwrap_used)] // a test that cannot set up should fail loudly

mod common;

use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpServer};
use common::{Invoice, Server, BODY_LIMIT};
use verihook::actix::{receive, TypedWebhook, WebhookVerifier};

fn start() -> Server {
    let seen = Arc::new(Mutex::new(common::Seen::default()));
    let receiver = web::Data::new(common::receiver(seen.clone()));
    let verifier =
        web::Data::new(WebhookVerifier::new(common::verifier()).with_body_limit(BODY_LIMIT));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(receiver.clone())
            .app_data(verifier.clone())
            .route("/webhooks/stripe", web::post().to(receive))
            .route(
                "/typed",
                web::post().to(|hook: TypedWebhook<Invoice>| async move {
                    format!("{} {}", hook.payload.id, hook.payload.amount)
                }),
            )
    })
    .workers(2)
    .listen(listener)
    .unwrap()
    .run();
    actix_rt::spawn(server);
    Server {
        base,
        seen,
        client: reqwest::Client::new(),
    }
}

#[actix_rt::test]
async fn valid_delivery_is_processed_and_the_handler_gets_the_typed_event() {
    common::valid_delivery_is_processed_and_the_handler_gets_the_typed_event(&start()).await;
}

#[actix_rt::test]
async fn tampered_missing_oversize_and_stale_are_rejected_with_their_codes() {
    common::tampered_missing_oversize_and_stale_are_rejected_with_their_codes(&start()).await;
}

#[actix_rt::test]
async fn twenty_concurrent_duplicates_run_the_handler_once() {
    common::twenty_concurrent_duplicates_run_the_handler_once(Arc::new(start())).await;
}

#[actix_rt::test]
async fn a_failing_handler_answers_500_and_the_retry_succeeds() {
    common::a_failing_handler_answers_500_and_the_retry_succeeds(&start()).await;
}

#[actix_rt::test]
async fn a_misfit_is_answered_the_same_by_the_receiver_and_the_extractor() {
    common::a_misfit_is_answered_the_same_by_the_receiver_and_the_extractor(&start()).await;
}
