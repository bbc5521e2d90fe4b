//! What every target does with a request built from fuzz input.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use verihook::scheme::Verifier;
use verihook::{event::Verified, Event, RequestHead, Scheme, WebhookRequest};

/// The instant every target verifies at (the signers sign at it too).
pub const NOW: u64 = 1_700_000_000;

/// Sets `name` to `value` when the bytes are a valid header value (as an HTTP server would
/// have refused the request otherwise).
pub fn set(headers: &mut HeaderMap, name: &'static str, value: Option<&[u8]>) {
    if let Some(value) = value.and_then(|v| HeaderValue::from_bytes(v).ok()) {
        headers.insert(HeaderName::from_static(name), value);
    }
}

/// Appends `extra` to the header's value, when the result is still a valid header value.
pub fn append_to(headers: &mut HeaderMap, name: &'static str, extra: &[u8]) {
    let Some(current) = headers.get(name) else {
        return;
    };
    let mut joined = current.as_bytes().to_vec();
    joined.extend_from_slice(extra);
    set(headers, name, Some(&joined));
}

/// Verifies a `POST /`, then reads everything an app could read from the event. Any panic is a
/// finding.
pub fn exercise(
    verifier: &Verifier<impl Scheme>,
    headers: &HeaderMap,
    body: &[u8],
) -> Option<Event> {
    exercise_at(verifier, "/", headers, body)
}

/// [`exercise`] for a request to `target` (path and query; invalid ones become `/`).
pub fn exercise_at(
    verifier: &Verifier<impl Scheme>,
    target: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Option<Event> {
    let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(NOW);
    let uri: http::Uri = target
        .parse()
        .unwrap_or_else(|_| http::Uri::from_static("/"));
    let body = Bytes::copy_from_slice(body);
    let head = RequestHead::new(&http::Method::POST, &uri, headers);
    let precheck = verifier.check_head_at(&head, now);
    let verified = verifier.verify_at(&WebhookRequest::new(head, &body), now);
    if verified.is_ok() {
        assert!(
            precheck.is_ok(),
            "a request that verifies passes its precheck"
        );
    }
    match verified {
        Ok(Verified::Handshake(answer)) => {
            let _ = (answer.status(), answer.body());
            None
        }
        Ok(Verified::Event(event)) => {
            assert_eq!(
                event.body().as_ref(),
                body,
                "the event carries the raw body"
            );
            let _ = (
                event.id(),
                event.event_type(),
                event.timestamp(),
                event.signed(),
            );
            let _ = event.json::<serde_json::Value>();
            let _ = format!("{event:?}");
            assert!(event.idempotency_key().len() <= verihook::event::MAX_KEY_LEN);
            Some(event)
        }
        Ok(_) => None,
        Err(err) => {
            // Every rejection has a stable code, a status and a message.
            assert!(!err.code().is_empty());
            assert!(err.status().is_client_error());
            let _ = err.to_string();
            None
        }
    }
}
