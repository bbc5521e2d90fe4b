//! `verihook inbox ...` against a real PostgreSQL inbox: an operator's stats, dead letters,
//! retry and purge, as the CLI prints them.
//!
//! It talks to the server named by `TEST_DATABASE_URL`, in a table of its own (dropped at the
//! end); it is `#[ignore]`d so that `cargo test` passes without the server, and `.ci/run` runs
//! it with `--ignored`.
#![allow(clippy::unwrap_used)] // a test that cannot set up should fail loudly

use std::sync::Arc;
use std::time::Duration;

use verihook::idempotency::ClaimToken;
use verihook::inbox::{Backoff, Inbox, PostgresInbox, Worker};
use verihook::HandlerError;

#[path = "../../tests/support/inbox_kit.rs"]
mod inbox_kit;
use inbox_kit::{delivery, drain, receiver};

/// A worker whose handler fails while `fail` says so, three attempts per event.
fn worker(
    inbox: Arc<dyn Inbox>,
    fail: impl Fn(&str) -> Option<&'static str> + Send + Sync + 'static,
) -> Worker {
    let fail = Arc::new(fail);
    Worker::builder(inbox)
        .concurrency(8)
        .lease(Duration::from_millis(300))
        .backoff(Backoff {
            base: Duration::from_millis(20),
            cap: Duration::from_millis(80),
        })
        .max_attempts(3)
        .poll_interval(Duration::from_millis(50))
        .handler(move |delivery| {
            let fail = fail.clone();
            async move {
                let id = delivery.id().unwrap_or_default().into_owned();
                match fail(&id) {
                    Some(message) => Err(HandlerError::from(message)),
                    None => Ok(()),
                }
            }
        })
        .build()
        .unwrap()
}

/// An inbox in a table of its own, and the table's name.
async fn own_inbox() -> (Arc<PostgresInbox>, String) {
    let url = std::env::var("TEST_DATABASE_URL")
        .expect("TEST_DATABASE_URL must name the PostgreSQL database these tests run against");
    let table = format!("inbox_test_{}", ClaimToken::generate().as_str());
    let inbox = PostgresInbox::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {url} is unreachable: {e}"))
        .with_table(&table)
        .unwrap();
    inbox.create_table().await.unwrap();
    (Arc::new(inbox), table)
}

/// `verihook inbox ...` against the table of `inbox`; its exit status and lines.
fn cli(table: &str, args: &[&str]) -> (Option<i32>, Vec<serde_json::Value>) {
    let url = std::env::var("TEST_DATABASE_URL").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_verihook"))
        .args(["inbox", "--database-url", &url, "--table", table])
        .args(args)
        .output()
        .unwrap();
    let lines = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    (out.status.code(), lines)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL at TEST_DATABASE_URL; .ci/run runs it"]
async fn operators_see_stats_and_dead_letters_retry_and_purge() {
    let (inbox, table) = own_inbox().await;
    let receiver = receiver(inbox.clone());
    for id in ["evt_a", "evt_b", "evt_dead"] {
        let (headers, body) = delivery(id);
        receiver.handle(&headers, body).await;
    }
    let worker = worker(inbox.clone(), |id| {
        (id == "evt_dead").then_some("the ledger is closed")
    });
    drain(&worker, &*inbox, Duration::from_secs(10)).await;

    let (code, stats) = cli(&table, &["stats"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        stats,
        [
            serde_json::json!({"pending": 0, "in_flight": 0, "done": 2, "dead": 1,
                            "oldest_pending_secs": null})
        ]
    );
    let (code, dead) = cli(&table, &["list", "--dead"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        dead,
        [
            serde_json::json!({"key": "stripe:evt_dead", "provider": "stripe", "attempts": 3,
                            "last_error": "the ledger is closed"})
        ]
    );
    assert_eq!(
        cli(&table, &["retry", "stripe:evt_a"]).0,
        Some(1),
        "not dead"
    );
    assert_eq!(cli(&table, &["retry", "stripe:evt_dead"]).0, Some(0));
    let (_, stats) = cli(&table, &["stats"]);
    assert_eq!(
        (stats[0]["pending"].as_u64(), stats[0]["dead"].as_u64()),
        (Some(1), Some(0))
    );
    assert!(stats[0]["oldest_pending_secs"].is_u64());
    let (code, purged) = cli(&table, &["purge", "--done-before", "3600"]);
    assert_eq!(
        (code, &purged[0]["purged"]),
        (Some(0), &serde_json::json!(0))
    );
    let (_, purged) = cli(&table, &["purge", "--done-before", "0"]);
    assert_eq!(purged[0]["purged"], 2);
    drop_tables(&inbox, &table).await;
}

/// Drops the inbox table and the one it keeps applied stamps in.
async fn drop_tables(inbox: &PostgresInbox, table: &str) {
    sqlx::query(&format!("DROP TABLE IF EXISTS {table}, {table}_applied"))
        .execute(inbox.pool())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL at TEST_DATABASE_URL; .ci/run runs it"]
async fn operators_replay_by_query_and_redrive_one_issue() {
    let (inbox, table) = own_inbox().await;
    let receiver = receiver(inbox.clone());
    for id in ["evt_a", "evt_b", "evt_x1", "evt_x2", "evt_z"] {
        let (headers, body) = delivery(id);
        receiver.handle(&headers, body).await;
    }
    let worker = worker(inbox.clone(), |id| match id {
        "evt_x1" => Some("order 1 is missing"),
        "evt_x2" => Some("order 2 is missing"),
        "evt_z" => Some("the ledger is closed"),
        _ => None,
    });
    drain(&worker, &*inbox, Duration::from_secs(10)).await;

    let (code, issues) = cli(&table, &["issues"]);
    assert_eq!(code, Some(0));
    assert_eq!(issues.len(), 2, "{issues:?}");
    let missing = issues.iter().find(|i| i["count"] == 2).unwrap();
    assert_eq!(missing["error"], "order … is missing");
    assert_eq!(missing["sender"], "stripe");
    let id = missing["id"].as_str().unwrap();
    let (code, dead) = cli(&table, &["list", "--issue", id]);
    assert_eq!(code, Some(0));
    let keys: Vec<&str> = dead.iter().map(|d| d["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["stripe:evt_x1", "stripe:evt_x2"]);
    assert_eq!(
        cli(&table, &["retry", "--issue", id]),
        (
            Some(0),
            vec![serde_json::json!({"requeued": 2, "issue": id})]
        )
    );
    let (_, left) = cli(&table, &["issues"]);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["error"], "the ledger is closed");
    assert_eq!(
        cli(&table, &["retry", "--issue", id]).0,
        Some(1),
        "nothing left in it"
    );

    // Replay what was done: look first, then replay; the rest stays as it is.
    let (code, would) = cli(
        &table,
        &[
            "replay",
            "--sender",
            "stripe",
            "--status",
            "done",
            "--since",
            "1h",
            "--dry-run",
        ],
    );
    assert_eq!(code, Some(0));
    let keys: Vec<&str> = would.iter().filter_map(|w| w["key"].as_str()).collect();
    assert_eq!(keys, ["stripe:evt_a", "stripe:evt_b"]);
    assert_eq!(
        would.last().unwrap(),
        &serde_json::json!({"dry_run": true, "would_replay": 2})
    );
    let (_, stats) = cli(&table, &["stats"]);
    assert_eq!(stats[0]["done"], 2, "a dry run changes nothing");
    let (code, replayed) = cli(
        &table,
        &[
            "replay",
            "--status",
            "done",
            "--type",
            "invoice.paid",
            "--reason",
            "fixed the VAT rounding",
        ],
    );
    assert_eq!(
        (code, &replayed[0]["replayed"]),
        (Some(0), &serde_json::json!(2))
    );
    let (_, pending) = cli(&table, &["list", "--status", "pending"]);
    assert_eq!(pending.len(), 4, "two replayed, two re-driven: {pending:?}");
    let a = pending.iter().find(|p| p["key"] == "stripe:evt_a").unwrap();
    assert_eq!(
        (&a["replays"], &a["replay_reason"]),
        (
            &serde_json::json!(1),
            &serde_json::json!("fixed the VAT rounding")
        )
    );
    // Run again: each replayed event once.
    let runs = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = runs.clone();
    let again = Worker::builder(inbox.clone())
        .handler(move |delivery| {
            let seen = seen.clone();
            async move {
                seen.lock()
                    .unwrap()
                    .push(delivery.id().unwrap_or_default().into_owned());
                Ok::<(), HandlerError>(())
            }
        })
        .build()
        .unwrap();
    drain(&again, &*inbox, Duration::from_secs(10)).await;
    let mut ran = runs.lock().unwrap().clone();
    ran.sort();
    assert_eq!(ran, ["evt_a", "evt_b", "evt_x1", "evt_x2"]);
    let (code, bad) = cli(&table, &["replay", "--since", "yesterday-ish"]);
    assert_eq!(
        (code, bad.len()),
        (Some(2), 0),
        "a bad age is a usage error"
    );
    drop_tables(&inbox, &table).await;
}
