//! With the `metrics` feature, every metric of the guide's table (docs/observability.md) is
//! recorded through the facade, with its labels: requests by sender and outcome, verification
//! and handler durations, store and inbox errors, guard refusals, and the inbox's depth.
#![allow(clippy::unwrap_used)] // a test that cannot set up should fail loudly

use std::collections::HashMap;
use std::net::IpAddr;

use bytes::Bytes;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use std::time::Duration;
use verihook::guard::{Guard, IpAllowlist};

use verihook::idempotency::{BoxFuture, Claim, ClaimToken, IdempotencyStore, StoreError};
use verihook::inbox::{MemoryInbox, Worker};
use verihook::testing::GithubSigner;
use verihook::{providers::github::GithubVerifier, Receiver};

const SECRET: &str = "metrics-test-secret";

/// A store whose backend is down.
#[derive(Debug)]
struct Down;

fn down<'a, T: Send + 'a>() -> BoxFuture<'a, Result<T, StoreError>> {
    Box::pin(async { Err(StoreError::unavailable("connection refused")) })
}

impl IdempotencyStore for Down {
    fn claim<'a>(&'a self, _: &'a str, _: Duration) -> BoxFuture<'a, Result<Claim, StoreError>> {
        down()
    }
    fn complete<'a>(
        &'a self,
        _: &'a str,
        _: &'a ClaimToken,
        _: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        down()
    }
    fn release<'a>(
        &'a self,
        _: &'a str,
        _: &'a ClaimToken,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        down()
    }
    fn extend<'a>(
        &'a self,
        _: &'a str,
        _: &'a ClaimToken,
        _: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        down()
    }
}

/// Every metric as `name{label=value,...}` (labels sorted) → its value.
fn metrics(snapshotter: &Snapshotter) -> HashMap<String, DebugValue> {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let (_, key) = key.into_parts();
            let mut labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            labels.sort();
            (format!("{}{{{}}}", key.name(), labels.join(",")), value)
        })
        .collect()
}

fn counter(all: &HashMap<String, DebugValue>, name: &str) -> u64 {
    match all.get(name) {
        Some(DebugValue::Counter(n)) => *n,
        other => panic!("{name}: {other:?} in {:#?}", all.keys().collect::<Vec<_>>()),
    }
}

fn samples(all: &HashMap<String, DebugValue>, name: &str) -> usize {
    match all.get(name) {
        Some(DebugValue::Histogram(values)) => values.len(),
        other => panic!("{name}: {other:?} in {:#?}", all.keys().collect::<Vec<_>>()),
    }
}

fn gauge(all: &HashMap<String, DebugValue>, name: &str) -> f64 {
    match all.get(name) {
        Some(DebugValue::Gauge(value)) => value.into_inner(),
        other => panic!("{name}: {other:?} in {:#?}", all.keys().collect::<Vec<_>>()),
    }
}

// One test: the recorder is global to the process.
#[tokio::test(flavor = "current_thread")]
async fn every_documented_metric_is_recorded_with_its_labels() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().unwrap();

    let receiver = Receiver::builder()
        .sender("github", GithubVerifier::new(SECRET).unwrap())
        .handler(|delivery| async move {
            if delivery.event_type().as_deref() == Some("fail") {
                return Err(std::io::Error::other("no").into());
            }
            Ok(())
        })
        .build()
        .unwrap();
    let signer = GithubSigner::new(SECRET).unwrap();
    let body = Bytes::from_static(br#"{"zen":"Half measures are as bad as nothing at all."}"#);
    let signed = signer.sign_delivery("d-1", "push", &body).unwrap();
    receiver.handle(&signed, body.clone()).await;
    receiver.handle(&signed, body.clone()).await;
    receiver.handle(&signed, Bytes::from_static(b"{}")).await;
    let failing_body = Bytes::from_static(br#"{"n":2}"#);
    let failing = signer.sign_delivery("d-2", "fail", &failing_body).unwrap();
    receiver.handle(&failing, failing_body).await;

    let full = Receiver::builder()
        .sender("github", GithubVerifier::new(SECRET).unwrap())
        .store(Down)
        .handler(|_| async { Ok(()) })
        .build()
        .unwrap();
    assert_eq!(
        full.handle(&signed, body.clone()).await.code(),
        "store_unavailable"
    );

    let guard = Guard::new("github").allow(IpAllowlist::parse("192.0.2.0/24").unwrap());
    let stranger: IpAddr = "203.0.113.1".parse().unwrap();
    assert!(guard
        .check(Some(stranger), &http::HeaderMap::new())
        .is_err());

    let inbox = std::sync::Arc::new(MemoryInbox::new());
    let queued = Receiver::builder()
        .sender("github", GithubVerifier::new(SECRET).unwrap())
        .inbox(inbox.clone())
        .build()
        .unwrap();
    assert_eq!(queued.handle(&signed, body.clone()).await.code(), "queued");
    let worker = Worker::builder(inbox)
        .handler(|_| async { Ok(()) })
        .build()
        .unwrap();
    worker.record_depth().await;

    let all = metrics(&snapshotter);
    for (outcome, count) in [
        ("processed", 1),
        ("duplicate", 1),
        ("bad_signature", 1),
        ("handler_failed", 1),
        ("store_unavailable", 1),
        ("queued", 1),
    ] {
        assert_eq!(
            counter(
                &all,
                &format!("verihook_requests_total{{outcome={outcome},sender=github}}")
            ),
            count,
            "{outcome}"
        );
        assert_eq!(
            samples(
                &all,
                &format!("verihook_request_duration_seconds{{outcome={outcome},sender=github}}")
            ),
            usize::try_from(count).unwrap()
        );
    }
    assert_eq!(
        samples(
            &all,
            "verihook_verification_duration_seconds{sender=github}"
        ),
        6
    );
    assert_eq!(
        samples(
            &all,
            "verihook_handler_duration_seconds{result=processed,sender=github}"
        ),
        1
    );
    assert_eq!(
        samples(
            &all,
            "verihook_handler_duration_seconds{result=handler_failed,sender=github}"
        ),
        1
    );
    assert_eq!(
        counter(&all, "verihook_store_errors_total{operation=claim}"),
        1
    );
    assert_eq!(
        counter(
            &all,
            "verihook_guard_rejections_total{code=ip_not_allowed,sender=github}"
        ),
        1
    );
    assert!((gauge(&all, "verihook_inbox_pending{}") - 1.0).abs() < f64::EPSILON);
    assert!(gauge(&all, "verihook_inbox_dead{}").abs() < f64::EPSILON);
    assert!(gauge(&all, "verihook_inbox_oldest_pending_age_seconds{}") >= 0.0);
}
