//! A scheme written outside the crate, with the public API alone, runs through the `Receiver`
//! and both framework adapters, beside built-in senders.
#![allow(clippy::unwrap_used)] // a test that cannot set up should fail loudly

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use common::acme::{self, Acme};
use verihook::{providers::stripe::StripeVerifier, Receiver};

const KEY: &[u8] = b"an in-house signing key";

/// A receiver with the external scheme beside a built-in one; counts runs per key.
fn receiver() -> (Receiver, Arc<Mutex<HashMap<String, usize>>>) {
    let runs = Arc::new(Mutex::new(HashMap::new()));
    let seen = runs.clone();
    let receiver = Receiver::builder()
        .sender("acme", Acme { key: KEY.to_vec() })
        .sender(
            "stripe",
            StripeVerifier::new("whsec_external_test").unwrap(),
        )
        .handler(move |delivery| {
            let seen = seen.clone();
            async move {
                assert_eq!(delivery.scheme(), "acme");
                assert_eq!(delivery.event_type().as_deref(), Some("order.shipped"));
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

fn body(id: &str) -> Bytes {
    Bytes::from(format!(r#"{{"id":"{id}","kind":"order.shipped"}}"#))
}

#[tokio::test]
async fn an_external_scheme_runs_through_the_receiver() {
    let (receiver, runs) = receiver();
    let body = body("ord_1");
    let headers = acme::sign(KEY, &body);
    // Found by its header, then by name.
    let first = receiver.handle(&headers, body.clone()).await;
    assert_eq!(
        (first.code(), first.key()),
        ("processed", Some("acme:ord_1"))
    );
    let again = receiver.handle_as("acme", &headers, body.clone()).await;
    assert_eq!(again.code(), "duplicate");
    let tampered = receiver.handle(&headers, Bytes::from_static(b"{}")).await;
    assert_eq!(
        (tampered.code(), tampered.status().as_u16()),
        ("bad_signature", 401)
    );
    assert_eq!(runs.lock().unwrap().get("acme:ord_1"), Some(&1));
}

#[cfg(any(feature = "axum", feature = "actix"))]
async fn post(
    client: &reqwest::Client,
    url: &str,
    headers: http::HeaderMap,
    body: Bytes,
) -> (u16, String) {
    let response = client
        .post(url)
        .headers(headers)
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[cfg(any(feature = "axum", feature = "actix"))]
/// The same four requests against a server at `base`: processed, duplicate, tampered, missing.
async fn through_http(base: &str, runs: &Arc<Mutex<HashMap<String, usize>>>) {
    let client = reqwest::Client::new();
    let url = format!("{base}/webhooks/acme");
    let body = body("ord_http");
    let headers = acme::sign(KEY, &body);
    let (status, text) = post(&client, &url, headers.clone(), body.clone()).await;
    assert_eq!(status, 200, "{text}");
    assert!(
        text.contains(r#""outcome":"processed","key":"acme:ord_http""#),
        "{text}"
    );
    let (status, text) = post(&client, &url, headers.clone(), body.clone()).await;
    assert!(status == 200 && text.contains("duplicate"), "{text}");
    let (status, text) = post(&client, &url, headers, Bytes::from_static(b"{}")).await;
    assert!(status == 401 && text.contains("bad_signature"), "{text}");
    let (status, text) = post(&client, &url, http::HeaderMap::new(), body).await;
    assert!(
        status == 400 && text.contains("missing header X-Signature"),
        "{text}"
    );
    assert_eq!(runs.lock().unwrap().get("acme:ord_http"), Some(&1));
}

#[cfg(feature = "axum")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_scheme_runs_through_axum() {
    use axum::{routing::post, Extension, Router};
    use verihook::axum::{receive, SenderName};
    let (receiver, runs) = receiver();
    let app = Router::new()
        .route(
            "/webhooks/acme",
            post(receive).layer(Extension(SenderName::new("acme"))),
        )
        .with_state(Arc::new(receiver));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    through_http(&base, &runs).await;
}

#[cfg(feature = "actix")]
#[actix_rt::test]
async fn an_external_scheme_runs_through_actix() {
    use actix_web::{web, App, HttpServer};
    use verihook::actix::{receive, SenderName};
    let (receiver, runs) = receiver();
    let receiver = web::Data::new(receiver);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = HttpServer::new(move || {
        App::new().app_data(receiver.clone()).service(
            web::resource("/webhooks/acme")
                .app_data(SenderName::new("acme"))
                .route(web::post().to(receive)),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    actix_rt::spawn(server);
    through_http(&base, &runs).await;
}
