//! Names on the shared Redis and PostgreSQL test servers, one run's apart from another's, and
//! guards that remove them: when a test ends, passed or panicked, its Redis keys (`SCAN` +
//! `DEL` over its prefix) and its PostgreSQL tables (and the tables named after them) are gone.
//!
//! Used by `tests/store.rs`, `tests/inbox.rs` and `tests/parity.rs`:
//!
//! ```ignore
//! let keys = servers::RedisKeys::new("store");      // prefix `verihook-test:{<run>-store-<n>}:`
//! let store = RedisStore::connect(&url).await?.with_prefix(keys.prefix());
//! let table = servers::PgTable::new("inbox");        // `vh_test_<run>_inbox_<n>`
//! let inbox = PostgresInbox::connect(&url).await?.with_table(table.name())?;
//! // ... both dropped at the end of the test: keys deleted, table dropped.
//! ```
#![allow(dead_code)] // each suite uses part of it

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// `TEST_REDIS_URL`, which the Redis suites need.
pub(crate) fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL")
        .expect("TEST_REDIS_URL must name the Redis server these tests run against")
}

/// `TEST_DATABASE_URL`, which the PostgreSQL suites need.
pub(crate) fn database_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .expect("TEST_DATABASE_URL must name the PostgreSQL database these tests run against")
}

/// This run's id: one per test process, lower-case hex, so one run's names never meet
/// another's (an earlier run's, or another suite's running at the same time).
pub(crate) fn run_id() -> &'static str {
    static RUN: OnceLock<String> = OnceLock::new();
    RUN.get_or_init(|| {
        let token = verihook::idempotency::ClaimToken::generate();
        let text: String = token
            .as_str()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(12)
            .collect();
        text.to_ascii_lowercase()
    })
}

/// A number new within this run.
fn next() -> usize {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// The Redis keys of one test: a prefix of this run's, deleted when the guard drops.
#[derive(Debug)]
pub(crate) struct RedisKeys {
    url: String,
    prefix: String,
}

impl RedisKeys {
    /// A new prefix under this run, `label` naming the suite or test; the braces make every key
    /// of the prefix one cluster slot (as the inbox's scripts need).
    pub(crate) fn new(label: &str) -> Self {
        Self {
            url: redis_url(),
            prefix: format!("verihook-test:{{{}-{label}-{}}}:", run_id(), next()),
        }
    }

    /// The prefix to give the store or inbox.
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// How many keys the prefix holds now.
    pub(crate) fn count(&self) -> usize {
        scan(&self.url, &self.prefix).map_or(0, |keys| keys.len())
    }
}

/// Every key that starts with `prefix`, by `SCAN` (never `KEYS`, which blocks the server).
fn scan(url: &str, prefix: &str) -> redis::RedisResult<Vec<String>> {
    let client = redis::Client::open(url)?;
    let mut connection = client.get_connection()?;
    let mut cursor: u64 = 0;
    let mut found = Vec::new();
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{}*", glob_escaped(prefix)))
            .arg("COUNT")
            .arg(1000)
            .query(&mut connection)?;
        found.extend(keys);
        if next == 0 {
            return Ok(found);
        }
        cursor = next;
    }
}

/// `text` with Redis glob's special characters escaped.
fn glob_escaped(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

impl Drop for RedisKeys {
    fn drop(&mut self) {
        let deleted = scan(&self.url, &self.prefix).and_then(|keys| {
            let client = redis::Client::open(self.url.as_str())?;
            let mut connection = client.get_connection()?;
            for chunk in keys.chunks(500) {
                redis::cmd("DEL").arg(chunk).query::<()>(&mut connection)?;
            }
            Ok(())
        });
        if let Err(err) = deleted {
            eprintln!("could not delete the test keys {}*: {err}", self.prefix);
        }
    }
}

/// A PostgreSQL table of one test, this run's: dropped when the guard drops, with every table
/// whose name starts with it (`<name>_effects`, say).
#[derive(Debug)]
pub(crate) struct PgTable {
    url: String,
    name: String,
}

impl PgTable {
    /// A new table name under this run, `label` naming the suite or test.
    pub(crate) fn new(label: &str) -> Self {
        Self {
            url: database_url(),
            name: format!("vh_test_{}_{label}_{}", run_id(), next()),
        }
    }

    /// The table's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }
}

impl std::fmt::Display for PgTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

impl std::ops::Deref for PgTable {
    type Target = str;

    fn deref(&self) -> &str {
        &self.name
    }
}

impl Drop for PgTable {
    fn drop(&mut self) {
        let url = self.url.clone();
        let name = self.name.clone();
        // The test's runtime may be the one dropping us: drop the tables on a thread of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(drop_tables(&url, &name))
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(err)) => eprintln!("could not drop the test table {}: {err}", self.name),
            Err(_) => eprintln!("could not drop the test table {}", self.name),
        }
    }
}

/// Drops `name` and every table whose name starts with `name_`.
async fn drop_tables(
    url: &str,
    name: &str,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    use sqlx::Connection as _;
    let mut connection = sqlx::PgConnection::connect(url).await?;
    // `_` is LIKE's one-character wildcard: escape it.
    let pattern = format!("{}\\_%", name.replace('_', "\\_"));
    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT tablename::text FROM pg_tables
         WHERE schemaname = current_schema() AND (tablename = $1 OR tablename LIKE $2)",
    )
    .bind(name)
    .bind(pattern)
    .fetch_all(&mut connection)
    .await?;
    for (table,) in tables {
        sqlx::query(&format!("DROP TABLE IF EXISTS \"{table}\" CASCADE"))
            .execute(&mut connection)
            .await?;
    }
    connection.close().await?;
    Ok(())
}

/// How many tables this run has left in the test database (0 once every guard dropped).
pub(crate) async fn leftover_tables() -> usize {
    use sqlx::Connection as _;
    let mut connection = sqlx::PgConnection::connect(&database_url()).await.unwrap();
    let (count,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE $1",
    )
    .bind(format!("vh\\_test\\_{}\\_%", run_id()))
    .fetch_one(&mut connection)
    .await
    .unwrap();
    usize::try_from(count).unwrap_or(usize::MAX)
}
