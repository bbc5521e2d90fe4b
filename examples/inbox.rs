//! Acknowledge fast, process later: a receiver that writes each verified event into a durable
//! inbox and answers at once, and workers that run the handler with retries and dead letters.
//!
//! ```sh
//! cargo run -p verihook-examples --bin inbox --features inbox            # memory (lost on restart)
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//!   cargo run -p verihook-examples --bin inbox --features inbox,postgres  # PostgreSQL
//! REDIS_URL=redis://127.0.0.1:6379 \
//!   cargo run -p verihook-examples --bin inbox --features inbox,redis     # Redis
//! ```
//!
//! * `DATABASE_URL`: a PostgreSQL inbox (table `verihook_inbox`), or `REDIS_URL`: a Redis
//!   inbox (feature `redis`), else memory;
//! * `PORT` (default 3000), the routes and secret variables of the example receivers
//!   (`/webhooks/github|stripe|standard`, `GITHUB_WEBHOOK_SECRET`, ...);
//! * `INBOX_ROLE`: `both` (default), `receiver` (HTTP only) or `worker` (no HTTP); with
//!   PostgreSQL or Redis any number of each run side by side;
//! * `WORKERS` (handlers at once, default 4), `HANDLER_DELAY_MS` (a sleep in the handler,
//!   default 0), `INBOX_BACKOFF_MS` (backoff base, default 1000), `INBOX_MAX_ATTEMPTS` (default
//!   8), `INBOX_LEASE_MS` (default 30000);
//! * the handler, on PostgreSQL, inserts one row per processing into `inbox_demo_effects (key,
//!   provider, id, at)` in the same transaction as the event's completion; a JSON body with a
//!   top-level `"fail_times": N` fails its first N attempts;
//! * log lines: `processed provider=<p> id=<id> attempt=<k>`, `retry provider=<p> id=<id>
//!   attempt=<k> next_in_ms=<ms>`, `dead provider=<p> id=<id> attempts=<k> error=<message>`;
//! * ordering: each provider's events about one object (a Stripe subscription, a GitHub pull
//!   request) run one at a time in the provider's order; `INBOX_STALE_GUARD=1` settles an
//!   event older than one already applied for its object as `superseded` instead of running
//!   it; the log lines carry `ordering_key=<key>`, and `replay=<reason>` for replayed events;
//! * stored Stripe bodies have `data.object.customer_email` redacted; settled events are kept
//!   3 days, dead letters 30 days (`INBOX_RETAIN_DAYS`, `INBOX_DEAD_RETAIN_DAYS`);
//! * replay with the CLI while this runs: `verihook inbox --database-url "$DATABASE_URL"
//!   replay --sender stripe --since 1h --dry-run`, then without `--dry-run`;
//! * Ctrl-C or SIGTERM: stops answering, gives running handlers 10 s, hands the rest back.

mod common;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use common::StartError;
use verihook::inbox::{Attempt, Backoff, Fate, Inbox, MemoryInbox, Redaction, Retention, Worker};
use verihook::{Delivery, HandlerError, Receiver};

#[tokio::main]
async fn main() -> ExitCode {
    common::init_logging();
    common::exit(run().await)
}

/// Which parts run in this process.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Both,
    Receiver,
    Worker,
}

async fn run() -> Result<(), StartError> {
    let role = match std::env::var("INBOX_ROLE").as_deref() {
        Err(_) | Ok("both") => Role::Both,
        Ok("receiver") => Role::Receiver,
        Ok("worker") => Role::Worker,
        Ok(other) => {
            return Err(StartError::from_message(format!(
                "INBOX_ROLE={other:?} must be both, receiver or worker"
            )))
        }
    };
    let (inbox, described, effects) = inbox().await?;
    if role != Role::Both && described.starts_with("in memory") {
        return Err(StartError::from_message(
            "INBOX_ROLE=receiver or worker needs a shared inbox: set DATABASE_URL or REDIS_URL"
                .to_owned(),
        ));
    }
    let shutdown = Shutdown::new();
    let mut tasks = tokio::task::JoinSet::new();
    if role != Role::Receiver {
        let worker = worker(inbox.clone(), effects)?;
        let stop = shutdown.clone();
        tasks.spawn(async move {
            worker.run(stop.wait(), Duration::from_secs(10)).await;
            Ok(())
        });
        println!("inbox worker: {} handlers at once", number("WORKERS", 4)?);
    }
    if role != Role::Worker {
        let port = common::port()?;
        let receiver = common::with_senders(Receiver::builder())?
            .redact(Redaction::new().sender("stripe", ["/data/object/customer_email"]))
            .inbox(inbox.clone())
            .build()?;
        let app = common::axum_app(receiver);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|err| common::bind_error(port, &err))?;
        let address = listener.local_addr()?;
        println!("verihook inbox receiver listening on http://{address}");
        common::routes_and_try(address, &format!("inbox: {described}"));
        let stop = shutdown.clone();
        tasks.spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(stop.wait())
                .await
                .map_err(StartError::from)
        });
    } else {
        println!("inbox: {described}");
    }
    let signal = shutdown.clone();
    tokio::spawn(async move {
        common::shutdown_signal().await;
        println!("shutting down: finishing handlers in flight");
        signal.trigger();
    });
    while let Some(done) = tasks.join_next().await {
        done.map_err(|err| StartError::from_message(err.to_string()))??;
    }
    println!("stopped");
    Ok(())
}

/// PostgreSQL when `DATABASE_URL` is set, Redis when `REDIS_URL` is, else memory; with its
/// description and, on PostgreSQL, the inbox to complete events in the handler's transaction.
async fn inbox() -> Result<(Arc<dyn Inbox>, String, Option<Effects>), StartError> {
    if let Ok(url) = std::env::var("DATABASE_URL") {
        #[cfg(feature = "postgres")]
        {
            let inbox = Arc::new(verihook::inbox::PostgresInbox::connect(&url).await?);
            inbox.create_table().await.map_err(|err| {
                StartError::from_message(format!("DATABASE_URL: cannot create the inbox: {err}"))
            })?;
            sqlx::query(
                "CREATE TABLE IF NOT EXISTS inbox_demo_effects (
                    key text, provider text, id text, at timestamptz DEFAULT now())",
            )
            .execute(inbox.pool())
            .await
            .map_err(|err| {
                StartError::from_message(format!(
                    "DATABASE_URL: cannot create the demo table: {err}"
                ))
            })?;
            return Ok((
                inbox.clone(),
                "PostgreSQL (DATABASE_URL)".to_owned(),
                Some(inbox),
            ));
        }
        #[cfg(not(feature = "postgres"))]
        {
            let _ = url;
            return Err(StartError::from_message(
                "DATABASE_URL is set, but this build has no PostgreSQL inbox: add the \
                 `postgres` feature (--features axum,inbox,postgres)"
                    .to_owned(),
            ));
        }
    }
    if let Ok(url) = std::env::var("REDIS_URL") {
        #[cfg(feature = "redis")]
        {
            let inbox = verihook::inbox::RedisInbox::connect(&url).await?;
            return Ok((Arc::new(inbox), "Redis (REDIS_URL)".to_owned(), None));
        }
        #[cfg(not(feature = "redis"))]
        {
            let _ = url;
            return Err(StartError::from_message(
                "REDIS_URL is set, but this build has no Redis inbox: add the `redis` feature \
                 (--features axum,inbox,redis)"
                    .to_owned(),
            ));
        }
    }
    Ok((
        Arc::new(MemoryInbox::new()),
        "in memory (lost on restart; this process only)".to_owned(),
        None,
    ))
}

#[cfg(feature = "postgres")]
type Effects = Arc<verihook::inbox::PostgresInbox>;
#[cfg(not(feature = "postgres"))]
type Effects = std::convert::Infallible;

const DAY: u64 = 24 * 60 * 60;

fn worker(inbox: Arc<dyn Inbox>, effects: Option<Effects>) -> Result<Worker, StartError> {
    let delay = Duration::from_millis(number("HANDLER_DELAY_MS", 0)?);
    let effects = Arc::new(effects);
    Ok(Worker::builder(inbox)
        .concurrency(usize::try_from(number("WORKERS", 4)?).unwrap_or(4))
        .lease(Duration::from_millis(number("INBOX_LEASE_MS", 30_000)?))
        .backoff(Backoff {
            base: Duration::from_millis(number("INBOX_BACKOFF_MS", 1000)?),
            cap: Duration::from_secs(60 * 60),
        })
        .max_attempts(u32::try_from(number("INBOX_MAX_ATTEMPTS", 8)?).unwrap_or(8))
        .stale_guard(number("INBOX_STALE_GUARD", 0)? == 1)
        .retention(Retention::new(
            Duration::from_secs(number("INBOX_RETAIN_DAYS", 3)? * DAY),
            Duration::from_secs(number("INBOX_DEAD_RETAIN_DAYS", 30)? * DAY),
        ))
        .on_attempt(log_attempt)
        .handler(move |delivery| {
            let effects = effects.clone();
            async move { handle(delivery, delay, &effects).await }
        })
        .build()?)
}

/// The demo handler: fails the first `fail_times` attempts its body asks for, sleeps
/// `HANDLER_DELAY_MS`, then records its effect (on PostgreSQL, in the completion's
/// transaction).
async fn handle(
    delivery: Delivery,
    delay: Duration,
    effects: &Option<Effects>,
) -> Result<(), HandlerError> {
    #[derive(serde::Deserialize)]
    struct Demo {
        #[serde(default)]
        fail_times: u32,
    }
    let fail_times = delivery.json::<Demo>().map_or(0, |demo| demo.fail_times);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if delivery.attempt() <= fail_times {
        return Err(format!(
            "failing as asked: attempt {} of the first {fail_times}",
            delivery.attempt()
        )
        .into());
    }
    #[cfg(feature = "postgres")]
    if let Some(inbox) = effects {
        let mut tx = inbox.pool().begin().await?;
        sqlx::query("INSERT INTO inbox_demo_effects (key, provider, id) VALUES ($1, $2, $3)")
            .bind(delivery.key())
            .bind(delivery.sender())
            .bind(delivery.id().as_deref())
            .execute(&mut *tx)
            .await?;
        inbox
            .complete_in(&mut *tx, delivery.key(), delivery.token())
            .await?;
        tx.commit().await?;
    }
    #[cfg(not(feature = "postgres"))]
    let _ = effects;
    Ok(())
}

fn log_attempt(attempt: &Attempt) {
    let provider = &attempt.sender;
    let id = attempt.id.as_deref().unwrap_or("-");
    let number = attempt.number;
    let mut order = String::new();
    if let Some(key) = &attempt.ordering_key {
        order.push_str(&format!(" ordering_key={key}"));
    }
    if let Some(reason) = &attempt.replay_reason {
        order.push_str(&format!(" replay={reason:?}"));
    }
    match &attempt.fate {
        Fate::Done => println!("processed provider={provider} id={id} attempt={number}{order}"),
        Fate::Superseded { stamp, applied } => println!(
            "superseded provider={provider} id={id} stamp={stamp} applied={applied}{order}"
        ),
        Fate::Retry { delay, .. } => println!(
            "retry provider={provider} id={id} attempt={number} next_in_ms={}",
            delay.as_millis()
        ),
        Fate::Dead { error } => {
            println!("dead provider={provider} id={id} attempts={number} error={error}");
        }
        _ => println!("lost provider={provider} id={id} attempt={number}: it runs again"),
    }
}

/// A whole-number variable, or its default when unset.
fn number(variable: &str, default: u64) -> Result<u64, StartError> {
    match std::env::var(variable) {
        Err(_) => Ok(default),
        Ok(text) => text.parse().map_err(|_| {
            StartError::from_message(format!("{variable}={text:?} is not a whole number"))
        }),
    }
}

/// A shutdown that any number of tasks wait for.
#[derive(Clone)]
struct Shutdown(tokio::sync::watch::Sender<bool>);

impl Shutdown {
    fn new() -> Self {
        Self(tokio::sync::watch::channel(false).0)
    }

    fn trigger(&self) {
        self.0.send_replace(true);
    }

    async fn wait(self) {
        let mut changes = self.0.subscribe();
        let _ = changes.wait_for(|stopped| *stopped).await;
    }
}
