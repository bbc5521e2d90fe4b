//! CloudEvents on Standard Webhooks: structured and binary modes on arbitrary (signed) bodies
//! and headers, and the abuse-protection handshake on arbitrary origins.
#![no_main]

use arbitrary::Arbitrary;
use bytes::Bytes;
use http::{HeaderMap, Method};
use libfuzzer_sys::fuzz_target;
use verihook::scheme::cloudevents::CloudEvents;
use verihook::testing::StandardSigner;
use verihook::{providers::standard::StandardVerifier, RequestHead, WebhookRequest};

mod common;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[derive(Arbitrary, Debug)]
struct Request<'a> {
    options: bool,
    structured: bool,
    origin: Option<&'a [u8]>,
    rate: Option<&'a [u8]>,
    ce_id: Option<&'a [u8]>,
    ce_type: Option<&'a [u8]>,
    body: &'a [u8],
}

fuzz_target!(|request: Request<'_>| {
    let scheme = CloudEvents::new(StandardVerifier::new(SECRET).unwrap())
        .allow_origin("eventemitter.example.com")
        .allowed_rate(60);
    let mut headers: HeaderMap = StandardSigner::new(SECRET)
        .unwrap()
        .sign("msg_fuzz", common::NOW, request.body)
        .unwrap();
    if request.structured {
        headers.insert(
            "content-type",
            "application/cloudevents+json".parse().unwrap(),
        );
    } else {
        common::set(&mut headers, "ce-specversion", Some(b"1.0"));
    }
    common::set(&mut headers, "ce-id", request.ce_id);
    common::set(&mut headers, "ce-type", request.ce_type);
    common::set(&mut headers, "webhook-request-origin", request.origin);
    common::set(&mut headers, "webhook-request-rate", request.rate);
    let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(common::NOW);
    let method = if request.options {
        Method::OPTIONS
    } else {
        Method::POST
    };
    let uri = http::Uri::from_static("/");
    let body = Bytes::copy_from_slice(request.body);
    let head = RequestHead::new(&method, &uri, &headers);
    let _ = scheme.check_head_at(&head, now);
    match scheme.verify_at(&WebhookRequest::new(head, &body), now) {
        Ok(verihook::event::Verified::Event(event)) => {
            assert!(!request.options);
            let _ = (event.id(), event.event_type(), event.idempotency_key());
        }
        Ok(verihook::event::Verified::Handshake(answer)) => {
            assert!(request.options);
            let _ = (answer.status(), answer.headers());
        }
        Ok(_) => {}
        Err(_) => assert!(request.options, "a signed POST verifies"),
    }
});
