//! The PostgreSQL inbox: one table; leases with `FOR UPDATE SKIP LOCKED`; wake-ups through
//! `LISTEN/NOTIFY`.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgListener, PgPool, PgRow};
use sqlx::Postgres;
use sqlx::{PgExecutor, Row};
use tokio::sync::Mutex;

use super::group::{answer, GroupCommit, Job, WriteGroup};
use super::{
    bounded_error, hold, stored_route_key, BoxFuture, ClaimToken, DeadLetter, Enqueued, Entry,
    Inbox, InboxStats, Leased, StoreError,
};
use crate::event::RouteKey;
use crate::event::Signed;
use crate::idempotency::postgres::{checked_options, pool_options};
use crate::idempotency::token_held;

type Query<'q> = sqlx::query::Query<'q, Postgres, PgArguments>;

const DEFAULT_TABLE: &str = "verihook_inbox";

/// An inbox in one PostgreSQL table, shared by every receiver and worker on the database.
///
/// * `enqueue` is an `INSERT .. ON CONFLICT (key) DO NOTHING` that also notifies the workers;
///   it returns after the commit, so the receiver's 2xx follows a durable write. Concurrent
///   enqueues share commits (group commit: one statement of up to 256 rows while the previous
///   ones are being written), which is what lets the inbox keep up with plain single-row
///   inserts (see BENCHMARKS.md).
/// * `lease` picks due rows with `FOR UPDATE SKIP LOCKED` (workers never wait on each other or
///   take the same row) and gives each a fresh token, an attempt and a lease end.
/// * `complete`, `retry`, `bury` and `extend` are one `UPDATE` each, matching the token.
/// * Workers wait on `LISTEN` for new rows, and wake at least every second for retries that
///   came due.
/// * Times come from the database's clock (`now()`), so machines with skewed clocks agree.
/// * The key, event id, event type and route key are kept as bytes (`bytea`, UTF-8): an
///   authentic event may carry NUL in its signed id or type, which a `text` column refuses.
/// * Each entry keeps the route key the receiver read (`route_key`, `route_kind_len`,
///   `route_key_signed`). Rows written before those columns existed read back with no route
///   key, and the worker reads it from the stored event as the receiver would.
///
/// **Upgrading**: call [`create_table`](Self::create_table) once with the new version before
/// serving; it migrates a table made by an earlier one (see there).
///
/// ```no_run
/// # async fn demo() -> Result<(), verihook::idempotency::StoreError> {
/// use verihook::inbox::PostgresInbox;
/// let inbox = PostgresInbox::connect("postgres://postgres@127.0.0.1/app").await?;
/// inbox.create_table().await?;
/// # Ok(()) }
/// ```
pub struct PostgresInbox {
    pool: PgPool,
    options: PgConnectOptions,
    table: String,
    listener: Mutex<Option<PgListener>>,
    group: GroupCommit,
    /// The single-row statement, for the table.
    single: String,
}

/// How many group commits may be in flight at once: more only split the groups, since
/// committing a notification takes a database-wide lock.
const COMMITS_IN_FLIGHT: usize = 2;

impl PostgresInbox {
    /// Connects to `url` and checks one connection, waiting at most [`CONNECT_TIMEOUT`](crate::idempotency::CONNECT_TIMEOUT).
    ///
    /// # Errors
    ///
    /// [`StoreError::Connect`] naming the URL (password hidden) and the driver's cause.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Ok(Self::from_options(checked_options(url).await?))
    }

    /// Like [`connect`](Self::connect), but connects on first use: each operation fails with
    /// [`StoreError::Unavailable`] while the database is down (the receiver answers 503). Must
    /// be called inside a Tokio runtime.
    ///
    /// # Errors
    ///
    /// [`StoreError::Connect`] when the URL is invalid.
    pub fn connect_lazy(url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::connect("PostgreSQL", url, e))?;
        Ok(Self::from_options(options))
    }

    fn from_options(options: PgConnectOptions) -> Self {
        let pool = pool_options().connect_lazy_with(options.clone());
        Self {
            pool,
            options,
            table: DEFAULT_TABLE.to_owned(),
            listener: Mutex::new(None),
            group: GroupCommit::default(),
            single: String::new(),
        }
        .with_statements()
    }

    /// Writes the statement text for the table.
    fn with_statements(mut self) -> Self {
        self.single = self.single_statement();
        self
    }

    /// Uses table `name` (default `verihook_inbox`): `[A-Za-z_][A-Za-z0-9_]*`, at most 48
    /// bytes (its index and notification channel are named after it).
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] when `name` is not such an identifier.
    pub fn with_table(mut self, name: &str) -> Result<Self, StoreError> {
        let plain = !name.is_empty()
            && name.len() <= 48
            && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !plain {
            return Err(StoreError::unavailable(format!(
                "inbox table name {name:?} is not a plain identifier of at most 48 bytes"
            )));
        }
        self.table = name.to_owned();
        Ok(self.with_statements())
    }

    /// The pool, for the app's own queries.
    #[must_use]
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Creates the table and its index if they do not exist; safe from every replica at
    /// start-up (an advisory lock serialises them).
    ///
    /// A table made by an earlier version is migrated in the same transaction: the route key
    /// columns are added (`ALTER TABLE .. ADD COLUMN IF NOT EXISTS`, nullable: old rows have
    /// none), and `text` key, event id and event type columns become `bytea` (`ALTER COLUMN ..
    /// TYPE bytea USING convert_to(.., 'UTF8')`, which rewrites the table once under an
    /// exclusive lock; run it before the new version serves). Later calls find nothing to do.
    /// Replicas still running an earlier version cannot use a migrated table (their queries
    /// compare the key as `text`: they answer 503 and acknowledge nothing), so replace them
    /// all in one go.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] when the database refuses.
    pub async fn create_table(&self) -> Result<(), StoreError> {
        let t = &self.table;
        let mut tx = self.pool.begin().await.map_err(StoreError::unavailable)?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(t)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::unavailable)?;
        for statement in [
            format!(
                "CREATE TABLE IF NOT EXISTS {t} (
                    key bytea PRIMARY KEY,
                    sender text NOT NULL,
                    scheme text NOT NULL,
                    event_id bytea,
                    event_type bytea,
                    event_timestamp bigint,
                    signed smallint NOT NULL,
                    body bytea NOT NULL,
                    route_key bytea,
                    route_kind_len integer,
                    route_key_signed boolean NOT NULL DEFAULT false,
                    state text NOT NULL DEFAULT 'pending'
                        CHECK (state IN ('pending', 'leased', 'done', 'dead')),
                    attempts integer NOT NULL DEFAULT 0,
                    token text,
                    due_at timestamptz NOT NULL DEFAULT now(),
                    enqueued_at timestamptz NOT NULL DEFAULT now(),
                    finished_at timestamptz,
                    last_error text
                )"
            ),
            format!(
                "CREATE INDEX IF NOT EXISTS {t}_due ON {t} (due_at)
                 WHERE state IN ('pending', 'leased')"
            ),
            // Tables from before route keys were kept.
            format!(
                "ALTER TABLE {t} ADD COLUMN IF NOT EXISTS route_key bytea,
                                 ADD COLUMN IF NOT EXISTS route_kind_len integer,
                                 ADD COLUMN IF NOT EXISTS route_key_signed boolean NOT NULL
                                     DEFAULT false"
            ),
        ] {
            sqlx::query(&statement)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::unavailable)?;
        }
        // Tables from before NUL was kept: text columns become bytes.
        crate::idempotency::postgres::text_to_bytea(&mut tx, t, &["key", "event_id", "event_type"])
            .await?;
        tx.commit().await.map_err(StoreError::unavailable)
    }

    /// Marks the event done **inside the app's own transaction**: the handler's writes and
    /// the completion commit together or not at all, so the event's effect happens exactly
    /// once. When the handler's lease was lost (another worker has the event), this fails with
    /// [`StoreError::LeaseLost`] and the app's transaction should roll back. The worker's own
    /// completion afterwards finds the event done by the same token and succeeds.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// use verihook::inbox::{PostgresInbox, Worker};
    ///
    /// let inbox = Arc::new(PostgresInbox::connect("postgres://postgres@127.0.0.1/app").await?);
    /// let handle = inbox.clone();
    /// let worker = Worker::builder(inbox)
    ///     .handler(move |delivery| {
    ///         let inbox = handle.clone();
    ///         async move {
    ///             let mut tx = inbox.pool().begin().await?;
    ///             sqlx::query("INSERT INTO payments (event_id) VALUES ($1)")
    ///                 .bind(delivery.id().as_deref())
    ///                 .execute(&mut *tx)
    ///                 .await?;
    ///             inbox.complete_in(&mut *tx, delivery.key(), delivery.token()).await?;
    ///             tx.commit().await?;
    ///             Ok(())
    ///         }
    ///     })
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`StoreError::LeaseLost`] when the token no longer holds the event,
    /// [`StoreError::Unavailable`] when the database refuses.
    pub async fn complete_in<'c>(
        &self,
        executor: impl PgExecutor<'c>,
        key: &str,
        token: &ClaimToken,
    ) -> Result<(), StoreError> {
        // The token stays on a done row, so completing twice with it succeeds.
        let updated = sqlx::query(&format!(
            "UPDATE {t} SET state = 'done',
                            finished_at = CASE WHEN state = 'done' THEN finished_at ELSE now() END
             WHERE key = $1 AND token = $2 AND state IN ('leased', 'done')",
            t = self.table
        ))
        .bind(key.as_bytes())
        .bind(token.as_str())
        .execute(executor)
        .await
        .map_err(StoreError::unavailable)?;
        token_held(updated.rows_affected() == 1)
    }

    /// Writes a group of enqueues in one statement (a lone one with the single-row one).
    fn group_writer(&self) -> WriteGroup {
        let pool = self.pool.clone();
        let statements = Arc::new((self.single_statement(), self.batch_statement()));
        let channel: Arc<str> = Arc::from(self.channel());
        Arc::new(move |mut group: Vec<Job>| {
            let (pool, statements, channel) = (pool.clone(), statements.clone(), channel.clone());
            Box::pin(async move {
                if group.len() == 1 {
                    if let Some((entry, reply)) = group.pop() {
                        let stored = insert_one(&pool, &statements.0, &channel, &entry).await;
                        let _ = reply.send(stored);
                    }
                } else {
                    match insert_group(&pool, &statements.1, &channel, &group).await {
                        // The database refused a row (a data exception or an integrity
                        // error, SQLSTATE classes 22 and 23): one row it cannot take must not
                        // fail the others, so each is written alone and only its own caller
                        // sees its error. Any other failure (deadlock, timeout, failover) fails
                        // the group at once: N single writes would only add load.
                        Err(sqlx::Error::Database(error))
                            if error
                                .code()
                                .is_some_and(|c| c.starts_with("22") || c.starts_with("23")) =>
                        {
                            for (entry, reply) in group {
                                let stored =
                                    insert_one(&pool, &statements.0, &channel, &entry).await;
                                let _ = reply.send(stored);
                            }
                        }
                        stored => answer(group, stored.map_err(StoreError::unavailable)),
                    }
                }
            })
        })
    }

    fn single_statement(&self) -> String {
        let t = &self.table;
        format!(
            "WITH inserted AS (
                INSERT INTO {t} (key, sender, scheme, event_id, event_type, event_timestamp,
                                 signed, body, route_key, route_kind_len, route_key_signed)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                ON CONFLICT (key) DO NOTHING
                RETURNING 1
             )
             SELECT pg_notify($12, '') FROM inserted"
        )
    }

    fn batch_statement(&self) -> String {
        let t = &self.table;
        // The notification is sent at commit, once per statement that stored anything.
        format!(
            "WITH inserted AS (
                INSERT INTO {t} (key, sender, scheme, event_id, event_type, event_timestamp,
                                 signed, body, route_key, route_kind_len, route_key_signed)
                SELECT * FROM unnest($1::bytea[], $2::text[], $3::text[], $4::bytea[],
                                     $5::bytea[], $6::bigint[], $7::smallint[], $8::bytea[],
                                     $9::bytea[], $10::integer[], $11::boolean[])
                ON CONFLICT (key) DO NOTHING
                RETURNING key
             )
             SELECT key FROM inserted
             UNION ALL
             SELECT NULL FROM (SELECT pg_notify($12, '')) AS notified
             WHERE EXISTS (SELECT 1 FROM inserted)"
        )
    }

    fn channel(&self) -> String {
        format!("{}_due", self.table)
    }

    /// Runs `query`, an `UPDATE` of the row `key` that matches its token: `LeaseLost` when
    /// it matched nothing.
    async fn held(&self, query: Query<'_>) -> Result<(), StoreError> {
        let updated = query
            .execute(&self.pool)
            .await
            .map_err(StoreError::unavailable)?;
        token_held(updated.rows_affected() == 1)
    }

    async fn wait_async(&self, timeout: Duration) {
        let mut listener = self.listener.lock().await;
        if listener.is_none() {
            match PgListener::connect_with(&self.pool).await {
                Ok(mut fresh) => {
                    if fresh.listen(&self.channel()).await.is_ok() {
                        *listener = Some(fresh);
                    }
                }
                Err(_) => {
                    drop(listener);
                    tokio::time::sleep(timeout).await;
                    return;
                }
            }
        }
        let Some(active) = listener.as_mut() else {
            drop(listener);
            tokio::time::sleep(timeout).await;
            return;
        };
        match tokio::time::timeout(timeout, active.recv()).await {
            Ok(Ok(_)) | Err(_) => {}
            // A broken listening connection is replaced at the next wait.
            Ok(Err(_)) => *listener = None,
        }
    }
}

/// `duration` in milliseconds, for `now() + $n * interval '1 millisecond'`: callers shorten it
/// first ([`hold`], [`MAX_PURGE_AGE`](super::MAX_PURGE_AGE)), so that the interval is in range.
fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Text stored as bytes by this inbox, read back.
fn text(bytes: Vec<u8>) -> Result<String, sqlx::Error> {
    String::from_utf8(bytes)
        .map_err(|_| sqlx::Error::Decode("an inbox row holds text that is not UTF-8".into()))
}

/// An entry's route key columns: the key's whole text, its kind's length, whether it is signed.
type RouteColumns<'e> = (Option<&'e [u8]>, Option<i32>, bool);

/// The route key columns of `entry`: its whole text, its kind's length and whether it is
/// signed.
fn route_columns(entry: &Entry) -> RouteColumns<'_> {
    match &entry.route_key {
        Some(key) => (
            Some(key.as_str().as_bytes()),
            i32::try_from(key.kind().len()).ok(),
            entry.route_key_signed,
        ),
        None => (None, None, false),
    }
}

fn leased(row: &PgRow) -> Result<Leased, sqlx::Error> {
    let token: String = row.try_get("token")?;
    let enqueued_ms: i64 = row.try_get("enqueued_ms")?;
    let timestamp: Option<i64> = row.try_get("event_timestamp")?;
    let signed: i16 = row.try_get("signed")?;
    let attempts: i32 = row.try_get("attempts")?;
    let body: Vec<u8> = row.try_get("body")?;
    let optional = |name: &str| -> Result<Option<String>, sqlx::Error> {
        row.try_get::<Option<Vec<u8>>, _>(name)?
            .map(text)
            .transpose()
    };
    let route_kind_len: Option<i32> = row.try_get("route_kind_len")?;
    // Rows from before route keys were kept have none: the worker reads it from the event.
    let route_key: Option<RouteKey> = stored_route_key(
        optional("route_key")?.as_deref(),
        route_kind_len.and_then(|n| usize::try_from(n).ok()),
    );
    let route_key_signed: bool = route_key.is_some() && row.try_get("route_key_signed")?;
    Ok(Leased {
        entry: Entry {
            key: text(row.try_get("key")?)?,
            sender: row.try_get("sender")?,
            scheme: row.try_get("scheme")?,
            id: optional("event_id")?,
            event_type: optional("event_type")?,
            timestamp: timestamp.and_then(|t| u64::try_from(t).ok()),
            signed: Signed::from_bits(u8::try_from(signed).unwrap_or_default()),
            route_key,
            route_key_signed,
            body: Bytes::from(body),
        },
        token: ClaimToken::parse(&token).ok_or_else(|| {
            sqlx::Error::Decode("the inbox row's token is not a claim token".into())
        })?,
        attempt: u32::try_from(attempts).unwrap_or_default(),
        enqueued_at: UNIX_EPOCH
            + Duration::from_millis(u64::try_from(enqueued_ms).unwrap_or_default()),
    })
}

impl Inbox for PostgresInbox {
    fn enqueue<'a>(&'a self, entry: &'a Entry) -> BoxFuture<'a, Result<Enqueued, StoreError>> {
        Box::pin(async move {
            let counted = self.group.enter();
            if counted.alone {
                insert_one(&self.pool, &self.single, &self.channel(), entry).await
            } else {
                self.group
                    .submit(entry, || self.group_writer(), COMMITS_IN_FLIGHT)
                    .await
            }
        })
    }

    fn lease<'a>(
        &'a self,
        max: usize,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Vec<Leased>, StoreError>> {
        Box::pin(async move {
            let t = &self.table;
            let rows = sqlx::query(&format!(
                "WITH due AS (
                    SELECT key FROM {t}
                    WHERE state IN ('pending', 'leased') AND due_at <= now()
                    ORDER BY due_at
                    LIMIT $1
                    FOR UPDATE SKIP LOCKED
                 )
                 UPDATE {t} SET state = 'leased',
                                token = md5(random()::text || clock_timestamp()::text),
                                attempts = {t}.attempts + 1,
                                due_at = now() + $2 * interval '1 millisecond'
                 FROM due WHERE {t}.key = due.key
                 RETURNING {t}.key, sender, scheme, event_id, event_type, event_timestamp,
                           signed, body, route_key, route_kind_len, route_key_signed, token,
                           attempts,
                           (extract(epoch FROM enqueued_at) * 1000)::bigint AS enqueued_ms"
            ))
            .bind(i64::try_from(max).unwrap_or(i64::MAX))
            .bind(millis(hold(lease)))
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::unavailable)?;
            rows.iter()
                .map(leased)
                .collect::<Result<Vec<_>, _>>()
                .map_err(StoreError::unavailable)
        })
    }

    fn extend<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
        lease: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let statement = format!(
                "UPDATE {t} SET due_at = now() + $3 * interval '1 millisecond'
                 WHERE key = $1 AND token = $2 AND state = 'leased'",
                t = self.table
            );
            self.held(
                sqlx::query(&statement)
                    .bind(key.as_bytes())
                    .bind(token.as_str())
                    .bind(millis(hold(lease))),
            )
            .await
        })
    }

    fn complete<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { self.complete_in(&self.pool, key, token).await })
    }

    fn retry<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
        delay: Duration,
        error: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let statement = format!(
                "UPDATE {t} SET state = 'pending', token = NULL, last_error = $4,
                                due_at = now() + $3 * interval '1 millisecond'
                 WHERE key = $1 AND token = $2 AND state = 'leased'",
                t = self.table
            );
            self.held(
                sqlx::query(&statement)
                    .bind(key.as_bytes())
                    .bind(token.as_str())
                    .bind(millis(hold(delay)))
                    .bind(stored_error(error)),
            )
            .await
        })
    }

    fn bury<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
        error: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let statement = format!(
                "UPDATE {t} SET state = 'dead', token = NULL, last_error = $3, finished_at = now()
                 WHERE key = $1 AND token = $2 AND state = 'leased'",
                t = self.table
            );
            self.held(
                sqlx::query(&statement)
                    .bind(key.as_bytes())
                    .bind(token.as_str())
                    .bind(stored_error(error)),
            )
            .await
        })
    }

    fn forget<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let statement = format!(
                "DELETE FROM {t} WHERE key = $1 AND token = $2 AND state = 'leased'",
                t = self.table
            );
            self.held(
                sqlx::query(&statement)
                    .bind(key.as_bytes())
                    .bind(token.as_str()),
            )
            .await
        })
    }

    fn wait<'a>(&'a self, timeout: Duration) -> BoxFuture<'a, ()> {
        Box::pin(self.wait_async(timeout))
    }

    fn stats(&self) -> BoxFuture<'_, Result<InboxStats, StoreError>> {
        Box::pin(async move {
            let t = &self.table;
            let row = sqlx::query(&format!(
                "SELECT
                    count(*) FILTER (WHERE state = 'pending'
                                        OR (state = 'leased' AND due_at <= now())) AS pending,
                    count(*) FILTER (WHERE state = 'leased' AND due_at > now()) AS in_flight,
                    count(*) FILTER (WHERE state = 'done') AS done,
                    count(*) FILTER (WHERE state = 'dead') AS dead,
                    (extract(epoch FROM now() - min(enqueued_at)
                        FILTER (WHERE state IN ('pending', 'leased'))))::bigint AS oldest
                 FROM {t}"
            ))
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::unavailable)?;
            let count = |name: &str| -> Result<u64, StoreError> {
                let value: i64 = row.try_get(name).map_err(StoreError::unavailable)?;
                Ok(u64::try_from(value).unwrap_or_default())
            };
            let oldest: Option<i64> = row.try_get("oldest").map_err(StoreError::unavailable)?;
            Ok(InboxStats {
                pending: count("pending")?,
                in_flight: count("in_flight")?,
                done: count("done")?,
                dead: count("dead")?,
                oldest_pending_secs: oldest.map(|s| u64::try_from(s).unwrap_or_default()),
            })
        })
    }

    fn dead_letters(&self, limit: usize) -> BoxFuture<'_, Result<Vec<DeadLetter>, StoreError>> {
        Box::pin(async move {
            let t = &self.table;
            let rows = sqlx::query(&format!(
                "SELECT key, sender, attempts, coalesce(last_error, '') AS last_error
                 FROM {t} WHERE state = 'dead' ORDER BY finished_at LIMIT $1"
            ))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::unavailable)?;
            rows.iter()
                .map(|row| {
                    let attempts: i32 = row.try_get("attempts")?;
                    Ok(DeadLetter {
                        key: text(row.try_get("key")?)?,
                        sender: row.try_get("sender")?,
                        attempts: u32::try_from(attempts).unwrap_or_default(),
                        last_error: row.try_get("last_error")?,
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(StoreError::unavailable)
        })
    }

    fn requeue<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let t = &self.table;
            let updated = sqlx::query(&format!(
                "WITH requeued AS (
                    UPDATE {t} SET state = 'pending', attempts = 0, due_at = now(),
                                   finished_at = NULL
                    WHERE key = $1 AND state = 'dead'
                    RETURNING 1
                 )
                 SELECT pg_notify($2, '') FROM requeued"
            ))
            .bind(key.as_bytes())
            .bind(self.channel())
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::unavailable)?;
            Ok(updated.is_some())
        })
    }

    fn purge_done(&self, age: Duration) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(async move {
            let t = &self.table;
            let deleted = sqlx::query(&format!(
                "DELETE FROM {t}
                 WHERE state = 'done' AND finished_at <= now() - $1 * interval '1 millisecond'"
            ))
            .bind(millis(age.min(super::MAX_PURGE_AGE)))
            .execute(&self.pool)
            .await
            .map_err(StoreError::unavailable)?;
            Ok(deleted.rows_affected())
        })
    }
}

impl fmt::Debug for PostgresInbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresInbox")
            .field("table", &self.table)
            .field("host", &self.options.get_host())
            .finish_non_exhaustive()
    }
}

/// Inserts one entry and notifies the workers, in one statement.
async fn insert_one(
    pool: &PgPool,
    statement: &str,
    channel: &str,
    entry: &Entry,
) -> Result<Enqueued, StoreError> {
    let (route_key, route_kind_len, route_key_signed) = route_columns(entry);
    let inserted = sqlx::query(statement)
        .bind(entry.key.as_bytes())
        .bind(&entry.sender)
        .bind(&entry.scheme)
        .bind(entry.id.as_deref().map(str::as_bytes))
        .bind(entry.event_type.as_deref().map(str::as_bytes))
        .bind(entry.timestamp.and_then(|t| i64::try_from(t).ok()))
        .bind(i16::from(entry.signed.bits()))
        .bind(entry.body.as_ref())
        .bind(route_key)
        .bind(route_kind_len)
        .bind(route_key_signed)
        .bind(channel)
        .fetch_optional(pool)
        .await;
    match inserted {
        Ok(Some(_)) => Ok(Enqueued::New),
        Ok(None) => Ok(Enqueued::Duplicate),
        Err(err) => Err(StoreError::unavailable(err)),
    }
}

/// Inserts a group of entries and notifies the workers, in one statement; gives the keys
/// stored (those not already there).
async fn insert_group(
    pool: &PgPool,
    statement: &str,
    channel: &str,
    group: &[Job],
) -> Result<Vec<String>, sqlx::Error> {
    let column = |get: fn(&Entry) -> Option<String>| -> Vec<Option<String>> {
        group.iter().map(|(entry, _)| get(entry)).collect()
    };
    let bytes = |get: fn(&Entry) -> Option<&[u8]>| -> Vec<Option<&[u8]>> {
        group.iter().map(|(entry, _)| get(entry)).collect()
    };
    let keys: Vec<&[u8]> = group.iter().map(|(e, _)| e.key.as_bytes()).collect();
    let routes: Vec<RouteColumns<'_>> = group.iter().map(|(e, _)| route_columns(e)).collect();
    let timestamps: Vec<Option<i64>> = group
        .iter()
        .map(|(e, _)| e.timestamp.and_then(|t| i64::try_from(t).ok()))
        .collect();
    let signed: Vec<i16> = group
        .iter()
        .map(|(e, _)| i16::from(e.signed.bits()))
        .collect();
    let bodies: Vec<&[u8]> = group.iter().map(|(e, _)| e.body.as_ref()).collect();
    let stored = sqlx::query_scalar::<_, Option<Vec<u8>>>(statement)
        .bind(&keys)
        .bind(column(|e| Some(e.sender.clone())))
        .bind(column(|e| Some(e.scheme.clone())))
        .bind(bytes(|e| e.id.as_deref().map(str::as_bytes)))
        .bind(bytes(|e| e.event_type.as_deref().map(str::as_bytes)))
        .bind(&timestamps)
        .bind(&signed)
        .bind(&bodies)
        .bind(routes.iter().map(|r| r.0).collect::<Vec<_>>())
        .bind(routes.iter().map(|r| r.1).collect::<Vec<_>>())
        .bind(routes.iter().map(|r| r.2).collect::<Vec<_>>())
        .bind(channel)
        .fetch_all(pool)
        .await?;
    stored.into_iter().flatten().map(text).collect()
}

/// A handler's error as stored: cut to [`MAX_ERROR_LEN`](super::MAX_ERROR_LEN) bytes, NUL (which
/// `text` refuses) shown as U+FFFD.
fn stored_error(error: &str) -> String {
    bounded_error(error).replace('\0', "\u{fffd}")
}
