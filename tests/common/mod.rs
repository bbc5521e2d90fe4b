//! The HTTP scenarios both framework adapters must pass, against a server started by the
//! adapter's own test file.
#![allow(clippy::unwrap_used, dead_code, unreachable_pub)] // shared test code

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use serde::Deserialize;
use verihook::testing::StripeSigner;
use verihook::{providers::stripe::StripeVerifier, scheme::FixedClock, Receiver};

pub const SECRET: &str = "whsec_adapter_test_secret";
pub const NOW: u64 = 1_700_000_000;
/// Small, so the oversize case needs only 100 KiB.
pub const BODY_LIMIT: usize = 64 * 1024;

#[derive(Debug, Deserialize, Clone, PartialEq)]
pub struct Invoice {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub amount: u64,
}

/// What the handler saw: runs per event id, and the invoices it processed.
#[derive(Default)]
pub struct Seen {
    pub runs: HashMap<String, usize>,
    pub invoices: Vec<Invoice>,
}

pub fn verifier() -> StripeVerifier {
    StripeVerifier::new(SECRET)
        .unwrap()
        .with_clock(FixedClock::at_unix(NOW))
}

/// The receiver under test: its handler parses the typed invoice, takes 100 ms, and fails the
/// first attempt of any event whose id starts with `evt_fail`.
pub fn receiver(seen: Arc<Mutex<Seen>>) -> Receiver {
    Receiver::builder()
        .verifier(verifier())
        .body_limit(BODY_LIMIT)
        .handler(move |delivery| {
            let seen = seen.clone();
            async move {
                let invoice: Invoice = delivery.json()?;
                tokio::time::sleep(Duration::from_millis(100)).await;
                let mut seen = seen.lock().unwrap();
                let runs = seen.runs.entry(invoice.id.clone()).or_insert(0);
                *runs += 1;
                if invoice.id.starts_with("evt_fail") && *runs == 1 {
                    return Err("the first attempt fails".into());
                }
                seen.invoices.push(invoice);
                Ok(())
            }
        })
        .build()
        .unwrap()
}

/// A running server: `POST /webhooks/stripe` runs the receiver, `POST /typed` answers
/// `"<id> <amount>"` from the typed extractor.
pub struct Server {
    pub base: String,
    pub seen: Arc<Mutex<Seen>>,
    pub client: reqwest::Client,
}

impl Server {
    pub async fn post(
        &self,
        path: &str,
        headers: HeaderMap,
        body: Bytes,
    ) -> (u16, serde_json::Value) {
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

pub fn invoice(id: &str, timestamp: u64) -> (HeaderMap, Bytes) {
    let body = Bytes::from(format!(
        r#"{{"id":"{id}","type":"invoice.paid","amount":4200}}"#
    ));
    let headers = StripeSigner::new(SECRET).unwrap().sign(timestamp, &body);
    (headers, body)
}

pub async fn valid_delivery_is_processed_and_the_handler_gets_the_typed_event(server: &Server) {
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

/// A misfit payload (authentic, but `amount` is text) is answered the same by the receiver and
/// by the typed extractor: 422 with one message, and serde's detail (which names the app's
/// types and quotes nothing of the body) is never told to the sender.
pub async fn a_misfit_is_answered_the_same_by_the_receiver_and_the_extractor(server: &Server) {
    let body =
        Bytes::from_static(br#"{"id":"evt_misfit","type":"invoice.paid","amount":"forty-two"}"#);
    let headers = StripeSigner::new(SECRET).unwrap().sign(NOW, &body);
    let received = server
        .post("/webhooks/stripe", headers.clone(), body.clone())
        .await;
    let typed = server.post("/typed", headers, body).await;
    let expected = serde_json::json!({
        "error": "invalid_payload",
        "message": "the authentic payload does not fit the type this event is handled as",
    });
    assert_eq!(received, (422, expected.clone()), "the receiver");
    assert_eq!(typed, (422, expected), "the typed extractor");
}

pub async fn tampered_missing_oversize_and_stale_are_rejected_with_their_codes(server: &Server) {
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

pub async fn twenty_concurrent_duplicates_run_the_handler_once(server: Arc<Server>) {
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

pub async fn a_failing_handler_answers_500_and_the_retry_succeeds(server: &Server) {
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

/// A scheme written with the public API alone, as an app with an in-house sender would:
/// `X-Signature: sha512=<hex>`, HMAC-SHA512 of the body; the body's `id` is the (signed) event
/// id.
pub mod acme {
    use hmac::{Hmac, KeyInit, Mac};
    use http::{HeaderMap, HeaderName, HeaderValue};
    use verihook::scheme::{Check, SchemeInfo};
    use verihook::{
        event::Field, event::Verified, Event, RequestHead, Scheme, VerifyError, WebhookRequest,
    };

    const HEADER: &str = "x-signature";
    const SHOWN: &str = "X-Signature";

    /// Declared once: the name, the signature header, a 64 KiB body limit.
    static HEADERS: [HeaderName; 1] = [HeaderName::from_static(HEADER)];
    static INFO: SchemeInfo = SchemeInfo::new("acme", &HEADERS).with_body_limit(64 * 1024);

    #[derive(Debug)]
    pub struct Acme {
        pub key: Vec<u8>,
    }

    fn signature(headers: &HeaderMap) -> Result<[u8; 64], VerifyError> {
        let value = headers
            .get(HEADER)
            .ok_or(VerifyError::MissingHeader { name: SHOWN })?;
        let malformed = VerifyError::MalformedHeader {
            name: SHOWN,
            reason: "expected sha512= and 128 hex digits",
        };
        let hex = value
            .as_bytes()
            .strip_prefix(b"sha512=")
            .ok_or(malformed.clone())?;
        let mut signature = [0u8; 64];
        const_hex::decode_to_slice(hex, &mut signature).map_err(|_| malformed)?;
        Ok(signature)
    }

    impl Scheme for Acme {
        fn info(&self) -> &SchemeInfo {
            &INFO
        }

        /// Acme signs no timestamp: the check never reads the clock.
        fn check_head(&self, head: &RequestHead<'_>, _at: &Check<'_>) -> Result<(), VerifyError> {
            signature(head.headers()).map(|_| ())
        }

        fn verify(
            &self,
            request: &WebhookRequest<'_>,
            _at: &Check<'_>,
        ) -> Result<Verified, VerifyError> {
            let signature = signature(request.headers())?;
            let mut mac = Hmac::<sha2::Sha512>::new_from_slice(&self.key).unwrap();
            mac.update(request.body());
            mac.verify_slice(&signature)
                .map_err(|_| VerifyError::SignatureMismatch {
                    secrets: 1,
                    signatures: 1,
                })?;
            Ok(Verified::Event(
                Event::builder(INFO.name.clone(), request.body().clone())
                    .id(Field::Body("id"), true)
                    .event_type(Field::Body("kind"), true)
                    .build(),
            ))
        }
    }

    /// The headers an Acme sender would send with `body`.
    pub fn sign(key: &[u8], body: &[u8]) -> HeaderMap {
        let mut mac = Hmac::<sha2::Sha512>::new_from_slice(key).unwrap();
        mac.update(body);
        let value = format!("sha512={}", const_hex::encode(mac.finalize().into_bytes()));
        let mut headers = HeaderMap::new();
        headers.insert(HEADER, HeaderValue::from_str(&value).unwrap());
        headers
    }
}
