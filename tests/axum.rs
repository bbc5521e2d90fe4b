//! The Axum adapter over real HTTP: a server on 127.0.0.1:0 and a real client.
#![allow(clippy::unwrap_used)] // a test that cannot set up should fail loudly

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::post;
use axum::Router;
use bytes::Bytes;
use http::HeaderMap;
use serde::Deserialize;
use verihook::axum::{receive, TypedWebhook, WebhookVerifier};
use verihook::idempotency::MemoryStore;
use verihook::testing::StripeSigner;
use verihook::{FixedClock, Receiver, StripeVerifier};

const SECRET: &str = "whsec_axum_test_secret";
const NOW: u64 = 1_700_000_000;

#[derive(Debug, Deserialize, Clone, PartialEq)]
struct Invoice {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    amount: u64,
}

#[derive(Default)]
struct Seen {
    runs: HashMap<String, usize>,
    invoices: Vec<Invoice>,
}

struct Server {
    base: String,
    seen: Arc<Mutex<Seen>>,
    client: reqwest::Client,
}

impl Server {
    async fn start() -> Self {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let recorded = seen.clone();
        let verifier = || {
            StripeVerifier::new(SECRET)
                .unwrap()
                .with_clock(FixedClock::at_unix(NOW))
        };
        let receiver = Arc::new(
            Receiver::builder()
                .verifier(verifier())
                .body_limit(64 * 1024)
                .handler(move |delivery| {
                    let recorded = recorded.clone();
                    async move {
                        let invoice: Invoice = delivery.json()?;
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        let mut seen = recorded.lock().unwrap();
                        let runs = seen.runs.entry(invoice.id.clone()).or_insert(0);
                        *runs += 1;
                        if invoice.id.starts_with("evt_fail") && *runs == 1 {
                            return Err("the first attempt fails".into());
                        }
                        seen.invoices.push(invoice);
                        Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
                    }
                }),
        );
        let pipeline = Router::new()
            .route("/webhooks/stripe", post(receive::<MemoryStore>))
            .with_state(receiver);
        let typed = Router::new()
            .route(
                "/typed",
                post(|hook: TypedWebhook<Invoice>| async move {
                    format!("{} {}", hook.payload.id, hook.payload.amount)
                }),
            )
            .with_state(WebhookVerifier::new(verifier()).with_body_limit(64 * 1024));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(listener, pipeline.merge(typed)).await.unwrap();
        });
        Self {
            base,
            seen,
            client: reqwest::Client::new(),
        }
    }

    async fn post(&self, path: &str, headers: HeaderMap, body: Bytes) -> (u16, serde_json::Value) {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .headers(headers)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        (status, json)
    }
}

fn invoice(id: &str, timestamp: u64) -> (HeaderMap, Bytes) {
    let body = Bytes::from(format!(
        r#"{{"id":"{id}","type":"invoice.paid","amount":4200}}"#
    ));
    let headers = StripeSigner::new(SECRET).unwrap().sign(timestamp, &body);
    (headers, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_delivery_is_processed_and_the_handler_gets_the_typed_event() {
    let server = Server::start().await;
    let (headers, body) = invoice("evt_valid", NOW);
    let (status, json) = server
        .post("/webhooks/stripe", headers.clone(), body.clone())
        .await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["outcome"], "processed");
    assert_eq!(json["key"], "stripe:evt_valid");
    let seen = server.seen.lock().unwrap().invoices.clone();
    assert_eq!(
        seen,
        vec![Invoice {
            id: "evt_valid".into(),
            kind: "invoice.paid".into(),
            amount: 4200
        }]
    );
    let (status, json) = server.post("/typed", headers, body).await;
    assert_eq!(
        (status, json),
        (200, serde_json::Value::String("evt_valid 4200".into()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_missing_oversize_and_stale_are_rejected_with_their_codes() {
    let server = Server::start().await;
    let (headers, _) = invoice("evt_bad", NOW);
    let tampered = Bytes::from_static(br#"{"id":"evt_bad","type":"invoice.paid","amount":9999}"#);
    for path in ["/webhooks/stripe", "/typed"] {
        let (status, json) = server.post(path, headers.clone(), tampered.clone()).await;
        assert_eq!(
            (status, json["error"].as_str()),
            (401, Some("bad_signature")),
            "{path}"
        );

        let (status, json) = server.post(path, HeaderMap::new(), tampered.clone()).await;
        assert_eq!(
            (status, json["error"].as_str()),
            (400, Some("missing_header")),
            "{path}"
        );
        assert_eq!(json["message"], "missing header Stripe-Signature");

        let big = Bytes::from(vec![b' '; 100 * 1024]);
        let signed = StripeSigner::new(SECRET).unwrap().sign(NOW, &big);
        let (status, json) = server.post(path, signed, big).await;
        assert_eq!(
            (status, json["error"].as_str()),
            (413, Some("body_too_large")),
            "{path}"
        );

        let (stale_headers, stale_body) = invoice("evt_stale", NOW - 3600);
        let (status, json) = server.post(path, stale_headers, stale_body).await;
        assert_eq!(
            (status, json["error"].as_str()),
            (401, Some("timestamp_too_old")),
            "{path}"
        );
    }
    assert!(
        server.seen.lock().unwrap().runs.is_empty(),
        "no handler ran"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_duplicates_run_the_handler_once() {
    let server = Arc::new(Server::start().await);
    let (headers, body) = invoice("evt_dup", NOW);
    let requests: Vec<_> = (0..20)
        .map(|_| {
            let (server, headers, body) = (server.clone(), headers.clone(), body.clone());
            tokio::spawn(async move { server.post("/webhooks/stripe", headers, body).await })
        })
        .collect();
    let mut statuses = HashMap::new();
    for request in requests {
        let (status, json) = request.await.unwrap();
        let label = json["outcome"].as_str().unwrap_or("error").to_owned();
        *statuses.entry((status, label)).or_insert(0) += 1;
    }
    assert_eq!(
        server.seen.lock().unwrap().runs.get("evt_dup"),
        Some(&1),
        "{statuses:?}"
    );
    assert_eq!(
        statuses.get(&(200, "processed".to_owned())),
        Some(&1),
        "{statuses:?}"
    );
    let others: usize = statuses
        .iter()
        .filter(|((status, label), _)| {
            (*status, label.as_str()) == (409, "in_flight")
                || (*status, label.as_str()) == (200, "duplicate")
        })
        .map(|(_, n)| n)
        .sum();
    assert_eq!(others, 19, "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_handler_answers_500_and_the_retry_succeeds() {
    let server = Server::start().await;
    let (headers, body) = invoice("evt_fail_once", NOW);
    let (status, json) = server
        .post("/webhooks/stripe", headers.clone(), body.clone())
        .await;
    assert_eq!(
        (status, json["error"].as_str()),
        (500, Some("handler_failed")),
        "{json}"
    );
    assert!(
        !json.to_string().contains("first attempt"),
        "handler errors stay private: {json}"
    );
    let (status, json) = server
        .post("/webhooks/stripe", headers.clone(), body.clone())
        .await;
    assert_eq!(
        (status, json["outcome"].as_str()),
        (200, Some("processed")),
        "{json}"
    );
    let (status, json) = server.post("/webhooks/stripe", headers, body).await;
    assert_eq!(
        (status, json["outcome"].as_str()),
        (200, Some("duplicate")),
        "{json}"
    );
    assert_eq!(
        server.seen.lock().unwrap().runs.get("evt_fail_once"),
        Some(&2)
    );
}
