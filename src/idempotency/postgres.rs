//! The PostgreSQL store: durable, shared by every replica, transactional with the app's writes.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgExecutor, Row};

use super::{
    boxed_store, millis, token_held, Claim, ClaimToken, IdempotencyStore, StoreError,
    CONNECT_TIMEOUT, MAX_HOLD,
};

const DEFAULT_TABLE: &str = "verihook_events";

/// An idempotency store in PostgreSQL, for apps running several replicas that want the dedup
/// record to be as durable as their own data.
///
/// * [`create_table`](Self::create_table) creates its table (idempotent, safe to call from every
///   replica at start-up).
/// * `claim` is one statement: insert the key, or take over a row whose lease or retention has
///   expired, and say what it found, all under the row lock `INSERT .. ON CONFLICT` takes.
/// * `complete` and `release` are one `UPDATE`/`DELETE` each, matching the token.
/// * [`complete_in`](Self::complete_in) marks the event done *inside the app's own
///   transaction*, so the dedup record commits atomically with the handler's writes: either both
///   happen or neither does.
/// * [`purge_expired`](Self::purge_expired) deletes rows whose retention ended; run it now and
///   then (claims ignore expired rows either way).
///
/// Times come from the database's clock (`now()`), so replicas with skewed clocks agree.
///
/// ```no_run
/// # async fn demo() -> Result<(), verihook::idempotency::StoreError> {
/// use verihook::idempotency::PostgresStore;
/// let store = PostgresStore::connect("postgres://postgres@127.0.0.1/app").await?;
/// store.create_table().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    table: String,
}

impl PostgresStore {
    /// Connects a pool to `url` (`postgres://user:password@host:port/database`) and checks one
    /// connection, waiting at most [`CONNECT_TIMEOUT`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Connect`] when the URL is invalid or the database cannot be reached; its
    /// message names the URL (password hidden) and the driver's cause:
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use verihook::idempotency::PostgresStore;
    /// // Port 1 refuses connections.
    /// let err = PostgresStore::connect("postgres://app:s3cr3t@127.0.0.1:1/app").await.unwrap_err();
    /// let message = err.to_string();
    /// assert!(message.starts_with("cannot connect to PostgreSQL at postgres://app:***@127.0.0.1:1/app: "));
    /// assert!(message.to_lowercase().contains("refused"), "{message}");
    /// # });
    /// ```
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = checked_options(url).await?;
        Ok(Self::from_pool(pool_options().connect_lazy_with(options)))
    }

    /// Like [`connect`](Self::connect), but connects on first use: each operation fails with
    /// [`StoreError::Unavailable`] while the database is down. Must be called inside a Tokio
    /// runtime.
    ///
    /// # Errors
    ///
    /// [`StoreError::Connect`] when the URL is invalid.
    pub fn connect_lazy(url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::connect("PostgreSQL", url, e))?;
        Ok(Self::from_pool(pool_options().connect_lazy_with(options)))
    }

    /// Uses the app's existing pool.
    #[must_use]
    pub fn from_pool(pool: PgPool) -> Self {
        Self {
            pool,
            table: DEFAULT_TABLE.to_owned(),
        }
    }

    /// Uses table `name` (default `verihook_events`), optionally schema-qualified.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] when `name` is not a plain identifier (`[A-Za-z_][A-Za-z0-9_]*`,
    /// at most 63 bytes, with one optional `schema.` before it).
    pub fn with_table(mut self, name: &str) -> Result<Self, StoreError> {
        let plain = |part: &str| {
            !part.is_empty()
                && part.len() <= 63
                && part.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        let valid = match name.split_once('.') {
            Some((schema, table)) => plain(schema) && plain(table),
            None => plain(name),
        };
        if !valid {
            return Err(StoreError::unavailable(format!(
                "table name {name:?} is not a plain identifier"
            )));
        }
        self.table = name.to_owned();
        Ok(self)
    }

    /// The pool, for the app's own queries and transactions.
    #[must_use]
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Creates the table and its expiry index if they do not exist. Safe to run concurrently
    /// from several replicas (an advisory lock serialises them).
    ///
    /// Keys are kept as bytes (`bytea`, UTF-8): an authentic event's signed id may hold NUL,
    /// which a `text` column refuses. A table made by an earlier version (a `text` key) is
    /// migrated here, in the same transaction (`ALTER COLUMN key TYPE bytea USING
    /// convert_to(key, 'UTF8')`: one rewrite under an exclusive lock; its keys are kept): call
    /// this once with the new version before it serves.
    /// Replicas still running an earlier version cannot use a migrated table (their queries
    /// compare the key as `text`: they answer 503 and acknowledge nothing), so replace them
    /// all in one go.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] when the database refuses.
    pub async fn create_table(&self) -> Result<(), StoreError> {
        let t = &self.table;
        let index = t.replace('.', "_");
        let mut tx = self.pool.begin().await.map_err(StoreError::unavailable)?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(format!("verihook:{t}"))
            .execute(&mut *tx)
            .await
            .map_err(StoreError::unavailable)?;
        for statement in [
            format!(
                "CREATE TABLE IF NOT EXISTS {t} (
                    key bytea PRIMARY KEY,
                    token text NOT NULL,
                    done boolean NOT NULL DEFAULT false,
                    expires_at timestamptz NOT NULL
                )"
            ),
            format!("CREATE INDEX IF NOT EXISTS {index}_expires_at ON {t} (expires_at)"),
        ] {
            sqlx::query(&statement)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::unavailable)?;
        }
        // Tables from before NUL was kept: the text key becomes bytes.
        text_to_bytea(&mut tx, t, &["key"]).await?;
        tx.commit().await.map_err(StoreError::unavailable)
    }

    /// Deletes every row whose lease or retention has ended; returns how many.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] when the database refuses.
    pub async fn purge_expired(&self) -> Result<u64, StoreError> {
        sqlx::query(&format!(
            "DELETE FROM {} WHERE expires_at <= now()",
            self.table
        ))
        .execute(&self.pool)
        .await
        .map(|done| done.rows_affected())
        .map_err(StoreError::unavailable)
    }

    /// Marks `key` done using `executor`, typically the app's own open transaction, so that the
    /// mark commits (or rolls back) with the app's writes. Completing again afterwards with the
    /// same token (as the `Receiver` does) succeeds.
    ///
    /// ```no_run
    /// # async fn handle(store: verihook::idempotency::PostgresStore, delivery: verihook::Delivery)
    /// #     -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    /// let mut tx = store.pool().begin().await?;
    /// sqlx::query("INSERT INTO invoices (event_id) VALUES ($1)")
    ///     .bind(delivery.id().as_deref())
    ///     .execute(&mut *tx)
    ///     .await?;
    /// store
    ///     .complete_in(&mut *tx, delivery.key(), delivery.token(), std::time::Duration::from_secs(3 * 86_400))
    ///     .await?;
    /// tx.commit().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`StoreError::LeaseLost`] when the token no longer holds the claim,
    /// [`StoreError::Unavailable`] when the database refuses.
    pub async fn complete_in<'c>(
        &self,
        executor: impl PgExecutor<'c>,
        key: &str,
        token: &ClaimToken,
        retain: Duration,
    ) -> Result<(), StoreError> {
        let updated = sqlx::query(&format!(
            "UPDATE {} SET done = true, expires_at = now() + ($3::bigint * interval '1 millisecond')
             WHERE key = $1 AND token = $2 AND (done OR expires_at > now())",
            self.table
        ))
        .bind(key.as_bytes())
        .bind(token.as_str())
        .bind(millis_i64(retain))
        .execute(executor)
        .await
        .map_err(StoreError::unavailable)?;
        token_held(updated.rows_affected() == 1)
    }
}

/// Parses `url` and checks one direct connection to it, waiting at most [`CONNECT_TIMEOUT`]. A
/// pool would retry until its timeout and then report only "pool timed out", losing the cause
/// ("connection refused", "password authentication failed", "database does not exist").
pub(crate) async fn checked_options(url: &str) -> Result<PgConnectOptions, StoreError> {
    let fail = |source: Box<dyn std::error::Error + Send + Sync>| {
        StoreError::connect("PostgreSQL", url, source)
    };
    let options = PgConnectOptions::from_str(url).map_err(|e| fail(e.into()))?;
    match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options)).await {
        Ok(Ok(connection)) => drop(connection.close().await),
        Ok(Err(err)) => return Err(fail(err.into())),
        Err(_) => {
            return Err(fail(
                format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()).into(),
            ))
        }
    }
    Ok(options)
}

/// Changes those of `columns` of `table` that are still `text` to `bytea` (their UTF-8 bytes),
/// in one statement: tables made before keys, ids and types were kept as bytes (`text` refuses
/// NUL, which an authentic event may carry). Nothing when none is `text`.
pub(crate) async fn text_to_bytea(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    table: &str,
    columns: &[&str],
) -> Result<(), StoreError> {
    let text: Vec<String> = sqlx::query_scalar(
        "SELECT attname::text FROM pg_attribute
         WHERE attrelid = to_regclass($1) AND attname::text = ANY($2)
           AND atttypid = 'text'::regtype AND NOT attisdropped
         ORDER BY attnum",
    )
    .bind(table)
    .bind(columns)
    .fetch_all(&mut **tx)
    .await
    .map_err(StoreError::unavailable)?;
    if text.is_empty() {
        return Ok(());
    }
    // The names come from `columns`, our own identifiers.
    let changes: Vec<String> = text
        .iter()
        .map(|c| format!("ALTER COLUMN {c} TYPE bytea USING convert_to({c}, 'UTF8')"))
        .collect();
    sqlx::query(&format!("ALTER TABLE {table} {}", changes.join(", ")))
        .execute(&mut **tx)
        .await
        .map_err(StoreError::unavailable)?;
    Ok(())
}

/// 16 connections; no ping before each use (that would double the round trips): a broken
/// connection fails its one operation (503, the provider retries) and is replaced.
pub(crate) fn pool_options() -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(CONNECT_TIMEOUT)
        .test_before_acquire(false)
}

fn millis_i64(d: Duration) -> i64 {
    i64::try_from(millis(d)).unwrap_or(i64::MAX)
}

impl PostgresStore {
    async fn claim_async(&self, key: &str, lease: Duration) -> Result<Claim, StoreError> {
        let t = &self.table;
        let token = ClaimToken::generate();
        // A row another transaction inserts concurrently is not in this statement's snapshot:
        // the CASE then finds nothing and answers in flight, which is what it is.
        let row = sqlx::query(&format!(
            "WITH claimed AS (
                INSERT INTO {t} AS e (key, token, done, expires_at)
                VALUES ($1, $2, false, now() + ($3::bigint * interval '1 millisecond'))
                ON CONFLICT (key) DO UPDATE
                    SET token = EXCLUDED.token, done = false, expires_at = EXCLUDED.expires_at
                    WHERE e.expires_at <= now()
                RETURNING 1
            )
            SELECT CASE
                WHEN EXISTS (SELECT 1 FROM claimed) THEN 'acquired'
                WHEN (SELECT done FROM {t} WHERE key = $1) THEN 'done'
                ELSE 'in_flight'
            END AS outcome"
        ))
        .bind(key.as_bytes())
        .bind(token.as_str())
        .bind(millis_i64(lease))
        .fetch_one(&self.pool)
        .await
        .map_err(StoreError::unavailable)?;
        let outcome: String = row.try_get("outcome").map_err(StoreError::unavailable)?;
        Ok(match outcome.as_str() {
            "acquired" => Claim::Acquired(token),
            "done" => Claim::Done,
            _ => Claim::InFlight,
        })
    }

    async fn complete_async(
        &self,
        key: &str,
        token: &ClaimToken,
        retain: Duration,
    ) -> Result<(), StoreError> {
        self.complete_in(&self.pool, key, token, retain).await
    }

    async fn extend_async(
        &self,
        key: &str,
        token: &ClaimToken,
        lease: Duration,
    ) -> Result<(), StoreError> {
        let extended = sqlx::query(&format!(
            "UPDATE {} SET expires_at = now() + ($3::bigint * interval '1 millisecond')
             WHERE key = $1 AND token = $2 AND NOT done AND expires_at > now()",
            self.table
        ))
        .bind(key.as_bytes())
        .bind(token.as_str())
        .bind(millis_i64(lease.min(MAX_HOLD)))
        .execute(&self.pool)
        .await
        .map_err(StoreError::unavailable)?;
        token_held(extended.rows_affected() == 1)
    }

    async fn release_async(&self, key: &str, token: &ClaimToken) -> Result<(), StoreError> {
        let deleted = sqlx::query(&format!(
            "DELETE FROM {} WHERE key = $1 AND token = $2 AND NOT done AND expires_at > now()",
            self.table
        ))
        .bind(key.as_bytes())
        .bind(token.as_str())
        .execute(&self.pool)
        .await
        .map_err(StoreError::unavailable)?;
        token_held(deleted.rows_affected() == 1)
    }
}

boxed_store!(PostgresStore);

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}
