//! `verihook forward` against a real PostgreSQL inbox, NATS JetStream and RabbitMQ: it publishes
//! every stored event once, prints one JSON line per attempt, stops on SIGTERM, and refuses a
//! missing stream or exchange with a clear message and exit status 1.
//!
//! Needs `TEST_DATABASE_URL`, NATS on 127.0.0.1:4222 and RabbitMQ on 127.0.0.1:5672
//! (`TEST_NATS_URL`, `TEST_AMQP_URL`); `#[ignore]`d, `.ci/run` runs it with `--ignored`.
#![allow(clippy::unwrap_used)] // a test that cannot set up should fail loudly

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use verihook::idempotency::ClaimToken;
use verihook::inbox::{Inbox, PostgresInbox};

#[path = "../../tests/support/inbox_kit.rs"]
#[allow(dead_code)] // `drain` is for the inbox suite
mod inbox_kit;
use inbox_kit::{delivery, receiver};

#[path = "../../tests/support/brokers.rs"]
mod brokers;
use brokers::{amqp_url, nats_url};

fn database_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .expect("TEST_DATABASE_URL must name the PostgreSQL database these tests run against")
}

/// A new inbox table holding events `evt_0` .. `evt_{n-1}`.
async fn inbox_with(n: usize) -> (Arc<PostgresInbox>, String) {
    let table = format!("forward_cli_{}", ClaimToken::generate().as_str());
    let inbox = PostgresInbox::connect(&database_url())
        .await
        .unwrap()
        .with_table(&table)
        .unwrap();
    inbox.create_table().await.unwrap();
    let inbox = Arc::new(inbox);
    let receiver = receiver(inbox.clone());
    for i in 0..n {
        let (headers, body) = delivery(&format!("evt_{i}"));
        assert_eq!(receiver.handle(&headers, body).await.code(), "queued");
    }
    (inbox, table)
}

async fn drop_tables(inbox: &PostgresInbox, table: &str) {
    sqlx::query(&format!("DROP TABLE IF EXISTS {table}, {table}_applied"))
        .execute(inbox.pool())
        .await
        .unwrap();
}

/// Runs `verihook forward` on `table` with `broker` flags until every event is done, stops it
/// with SIGTERM, and gives its JSON lines.
async fn forward_all(
    inbox: &PostgresInbox,
    table: &str,
    broker: &[&str],
) -> Vec<serde_json::Value> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_verihook"))
        .args([
            "forward",
            "--database-url",
            &database_url(),
            "--table",
            table,
        ])
        .args(broker)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let stats = inbox.stats().await.unwrap();
        if stats.done == 3 {
            break;
        }
        assert!(Instant::now() < deadline, "not forwarded: {stats:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "verihook forward did not stop cleanly: {status}"
    );
    let lines: Vec<serde_json::Value> = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(|line| serde_json::from_str(&line.unwrap()).unwrap())
        .collect();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(
        stderr.contains("publishing the inbox's events to"),
        "{stderr}"
    );
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL and NATS JetStream; .ci/run runs it"]
async fn forward_publishes_every_stored_event_to_nats_once() {
    let (inbox, table) = inbox_with(3).await;
    let stream = format!("VH_CLI_{}", table.to_uppercase());
    let subjects = format!("{table}.>");
    let subject = format!("{table}.{{sender}}.{{type}}");
    let lines = forward_all(
        &inbox,
        &table,
        &[
            "--nats-url",
            &nats_url(),
            "--stream",
            &stream,
            "--create-stream",
            "--stream-subjects",
            &subjects,
            "--subject",
            &subject,
            "--cloudevents",
        ],
    )
    .await;
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines.iter().all(|line| line["fate"] == "published"),
        "{lines:?}"
    );

    let jetstream = brokers::jetstream().await;
    let mut info = jetstream.get_stream(&stream).await.unwrap();
    assert_eq!(info.info().await.unwrap().state.messages, 3);
    let first = info.get_raw_message(1).await.unwrap();
    assert_eq!(
        first.subject.as_str(),
        format!("{table}.stripe.invoice.paid")
    );
    let headers = first.headers;
    assert_eq!(
        headers.get("ce-specversion").map(|v| v.as_str()),
        Some("1.0")
    );
    assert!(headers.get("Nats-Msg-Id").is_some());
    jetstream.delete_stream(&stream).await.unwrap();
    drop_tables(&inbox, &table).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL and RabbitMQ; .ci/run runs it"]
async fn forward_publishes_every_stored_event_to_rabbitmq_once() {
    let (inbox, table) = inbox_with(3).await;
    let (connection, channel) = brokers::amqp_channel().await;
    brokers::declare_queue(&channel, &table).await;
    // The exchange is declared by the command; the queue bound once it exists.
    let bind = async {
        for _ in 0..100 {
            // A failed bind closes its channel: one channel per try.
            let channel = connection.create_channel().await.unwrap();
            if brokers::bind_all(&channel, &table, &table).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the exchange was never declared");
    };
    let url = amqp_url();
    let flags = [
        "--amqp-url",
        &url,
        "--exchange",
        &table,
        "--declare-exchange",
    ];
    let (lines, ()) = tokio::join!(forward_all(&inbox, &table, &flags), bind);
    assert!(
        lines
            .iter()
            .filter(|line| line["fate"] == "published")
            .count()
            == 3,
        "{lines:?}"
    );
    let mut keys = Vec::new();
    while let Some(message) = channel
        .basic_get(
            table.as_str().into(),
            lapin::options::BasicGetOptions { no_ack: true },
        )
        .await
        .unwrap()
    {
        keys.push(
            verihook::forward::amqp::read(&message.delivery)
                .unwrap()
                .key,
        );
    }
    keys.sort();
    assert_eq!(keys, ["stripe:evt_0", "stripe:evt_1", "stripe:evt_2"]);
    brokers::remove_amqp(&table).await;
    drop_tables(&inbox, &table).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL, NATS JetStream and RabbitMQ; .ci/run runs it"]
async fn a_missing_stream_or_exchange_exits_1_with_what_to_do() {
    let (inbox, table) = inbox_with(0).await;
    for broker in [
        vec![
            "--nats-url".to_owned(),
            nats_url(),
            "--stream".into(),
            "VH_NO_SUCH_STREAM".into(),
        ],
        vec![
            "--amqp-url".to_owned(),
            amqp_url(),
            "--exchange".into(),
            "vh_no_such_exchange".into(),
        ],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_verihook"))
            .args([
                "forward",
                "--database-url",
                &database_url(),
                "--table",
                &table,
            ])
            .args(&broker)
            .output()
            .unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("is required and was not found"), "{stderr}");
        assert!(
            !stderr.contains("guest:guest"),
            "a password in an error: {stderr}"
        );
    }
    drop_tables(&inbox, &table).await;
}
