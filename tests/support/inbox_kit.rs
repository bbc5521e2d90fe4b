//! What the inbox suites share (the library's tests/inbox.rs and verihook-cli's): one signed
//! Stripe delivery, a receiver that queues it, and draining a worker.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::HeaderMap;
use verihook::inbox::{Inbox, Worker};
use verihook::testing::StripeSigner;
use verihook::{providers::stripe::StripeVerifier, scheme::FixedClock, Receiver};

pub(crate) const SECRET: &str = "whsec_inbox_suite_secret";
pub(crate) const NOW: u64 = 1_700_000_000;

pub(crate) fn delivery(id: &str) -> (HeaderMap, Bytes) {
    let body = Bytes::from(format!(r#"{{"id":"{id}","type":"invoice.paid"}}"#));
    let headers = StripeSigner::new(SECRET).unwrap().sign(NOW, &body);
    (headers, body)
}

pub(crate) fn receiver(inbox: Arc<dyn Inbox>) -> Arc<Receiver> {
    Arc::new(
        Receiver::builder()
            .sender(
                "stripe",
                StripeVerifier::new(SECRET)
                    .unwrap()
                    .with_clock(FixedClock::at_unix(NOW)),
            )
            .inbox(inbox)
            .build()
            .unwrap(),
    )
}

/// Runs the worker until nothing is due, or `within` passes.
pub(crate) async fn drain(worker: &Worker, inbox: &dyn Inbox, within: Duration) {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        let stats = inbox.stats().await.unwrap();
        if stats.pending == 0 && stats.in_flight == 0 {
            return;
        }
        if worker.run_once().await.unwrap() == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
