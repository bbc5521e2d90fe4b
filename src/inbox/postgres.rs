//! The PostgreSQL inbox: one table (and one of applied stamps); leases with `FOR UPDATE SKIP
//! LOCKED`; ordering keys under transaction-scoped advisory locks; wake-ups through
//! `LISTEN/NOTIFY`.

use std::fmt;
use std::fmt::Write as _;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgListener, PgPool, PgRow};
use sqlx::Postgres;
use sqlx::{PgExecutor, Row};
use tokio::sync::Mutex;

use super::group::{answer, GroupCommit, Job, WriteGroup};
use super::{
    bounded_error, hold, issue_id, masked_error, stored_route_key, BoxFuture, ClaimToken,
    DeadLetter, Enqueued, Entry, Filter, Inbox, InboxStats, Issue, Leased, Status, StoreError,
    Stored, MAX_BATCH,
};
use crate::event::RouteKey;
use crate::event::Signed;
use crate::idempotency::postgres::{checked_options, pool_options};
use crate::idempotency::token_held;

type Query<'q> = sqlx::query::Query<'q, Postgres, PgArguments>;

const DEFAULT_TABLE: &str = "verihook_inbox";

/// The table's state check: every [`Status`].
const STATES: &str = "state IN ('pending', 'leased', 'done', 'superseded', 'dead')";

/// The rows leases look at, and that hold their ordering key back.
const UNSETTLED: &str = "state IN ('pending', 'leased')";

/// The rows replays and purges look at.
const SETTLED: &str = "state IN ('done', 'superseded', 'dead')";

/// The most dead letters [`Inbox::issues`] reads one by one (those buried by an earlier
/// version without an issue, grouped here).
const MAX_OLD_ISSUES: i64 = 10_000;

/// An inbox in one PostgreSQL table, shared by every receiver and worker on the database.
///
/// * `enqueue` is an `INSERT .. ON CONFLICT (key) DO NOTHING` that also notifies the workers;
///   it returns after the commit, so the receiver's 2xx follows a durable write. Concurrent
///   enqueues share commits (group commit: one statement of up to 256 rows while the previous
///   ones are being written), which is what lets the inbox keep up with plain single-row
///   inserts (see BENCHMARKS.md).
/// * `lease` picks due rows with `FOR UPDATE SKIP LOCKED` (workers never wait on each other or
///   take the same row) and gives each a fresh token, an attempt and a lease end. Fresh rows
///   come before replayed ones.
/// * Rows with an ordering key are leased one key at a time, head first (least stamp, then
///   arrival): a lease first locks its candidate rows and takes a transaction-scoped advisory
///   lock per ordering key (`pg_try_advisory_xact_lock`, never waiting), then checks again, in
///   a statement that sees every lease committed before it got the locks, that the row is its
///   key's head and that no row of the key is under a live lease. Two workers can therefore
///   never hold two events of one key at once, whatever their snapshots.
/// * So that a lease does not walk past every event waiting behind another, an event stored
///   behind an earlier unsettled one of its key is stored `held`, outside the lease's index,
///   and the event settling releases the next one in the same statement. Both decide from
///   their own statement's snapshot, so a store racing a settlement can leave a key's first
///   event held: leases release such events at most once a second (one read of the ordered
///   events' index, given at most 100 ms). `held` is a hint for speed only; the checks above
///   decide.
/// * `complete`, `retry`, `bury`, `supersede` and `extend` are one statement each, matching the
///   token; `complete` also raises the key's applied stamp (table `<table>_applied`) in the
///   same statement.
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
    /// When a lease last released the heads a race left held (see [`Self::release_heads`]).
    last_release: std::sync::Mutex<std::time::Instant>,
}

/// The longest the once-a-second release of held heads may take, in milliseconds.
const RELEASE_BUDGET_MS: u64 = 100;

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
            last_release: std::sync::Mutex::new(std::time::Instant::now()),
        }
        .with_statements()
    }

    /// Writes the statement text for the table.
    fn with_statements(mut self) -> Self {
        self.single = self.single_statement();
        self
    }

    /// Uses table `name` (default `verihook_inbox`): `[A-Za-z_][A-Za-z0-9_]*`, at most 48
    /// bytes (its indexes, its constraint, its table of applied stamps `<name>_applied` and its
    /// notification channel are named after it, and PostgreSQL names stop at 63 bytes).
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

    /// Creates the table, its indexes and its table of applied stamps if they do not exist;
    /// safe from every replica at start-up (an advisory lock serialises them).
    ///
    /// A table made by an earlier version is migrated in the same transaction: the route key
    /// and event log columns are added (`ALTER TABLE .. ADD COLUMN IF NOT EXISTS`, nullable or
    /// defaulted: old rows have no ordering key, stamp, trace or issue), the state check is
    /// replaced by one that allows `superseded`, the indexes for ordering keys and purges are
    /// built (the old `<table>_due` index gives way to `<table>_next`), and `text` key, event
    /// id and event type columns become `bytea` (`ALTER COLUMN .. TYPE bytea USING
    /// convert_to(.., 'UTF8')`, which rewrites the table once under an exclusive lock; run it
    /// before the new version serves). Dead letters buried by an earlier version get their
    /// [`issue_id`]. Later calls find nothing to do. Replicas still running an earlier version
    /// cannot use a migrated table (their queries compare the key as `text`: they answer 503
    /// and acknowledge nothing), so replace them all in one go.
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
                    ordering_key bytea,
                    stamp bigint,
                    traceparent text,
                    redacted boolean NOT NULL DEFAULT false,
                    state text NOT NULL DEFAULT 'pending',
                    attempts integer NOT NULL DEFAULT 0,
                    token text,
                    due_at timestamptz NOT NULL DEFAULT now(),
                    enqueued_at timestamptz NOT NULL DEFAULT now(),
                    finished_at timestamptz,
                    last_error text,
                    issue text,
                    replays integer NOT NULL DEFAULT 0,
                    replay_reason text,
                    replayed_at timestamptz,
                    replayed boolean NOT NULL DEFAULT false,
                    held boolean NOT NULL DEFAULT false,
                    CONSTRAINT {t}_state_check CHECK ({STATES})
                )"
            ),
            // Tables from before route keys, then the event log, were kept.
            format!(
                "ALTER TABLE {t} ADD COLUMN IF NOT EXISTS route_key bytea,
                                 ADD COLUMN IF NOT EXISTS route_kind_len integer,
                                 ADD COLUMN IF NOT EXISTS route_key_signed boolean NOT NULL
                                     DEFAULT false,
                                 ADD COLUMN IF NOT EXISTS ordering_key bytea,
                                 ADD COLUMN IF NOT EXISTS stamp bigint,
                                 ADD COLUMN IF NOT EXISTS traceparent text,
                                 ADD COLUMN IF NOT EXISTS redacted boolean NOT NULL DEFAULT false,
                                 ADD COLUMN IF NOT EXISTS issue text,
                                 ADD COLUMN IF NOT EXISTS replays integer NOT NULL DEFAULT 0,
                                 ADD COLUMN IF NOT EXISTS replay_reason text,
                                 ADD COLUMN IF NOT EXISTS replayed_at timestamptz,
                                 ADD COLUMN IF NOT EXISTS replayed boolean NOT NULL DEFAULT false,
                                 ADD COLUMN IF NOT EXISTS held boolean NOT NULL DEFAULT false"
            ),
        ] {
            sqlx::query(&statement)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::unavailable)?;
        }
        // Tables from before NUL was kept: text columns become bytes (before the indexes
        // below are built on them).
        crate::idempotency::postgres::text_to_bytea(&mut tx, t, &["key", "event_id", "event_type"])
            .await?;
        for statement in [
            // What a lease scans: fresh before replayed, then oldest due; events held behind
            // an earlier one of their ordering key are not in it.
            format!(
                "CREATE INDEX IF NOT EXISTS {t}_ready ON {t} (replayed, due_at)
                 WHERE state IN ('pending', 'leased') AND NOT held"
            ),
            format!("DROP INDEX IF EXISTS {t}_due"),
            format!("DROP INDEX IF EXISTS {t}_next"),
            // Each ordering key's head: least stamp, then arrival.
            format!(
                "CREATE INDEX IF NOT EXISTS {t}_ordering
                 ON {t} (ordering_key, (COALESCE(stamp, 0)), enqueued_at, key)
                 WHERE state IN ('pending', 'leased') AND ordering_key IS NOT NULL"
            ),
            // Whether an ordering key is busy: its rows under a lease (few, so cheap to keep).
            format!(
                "CREATE INDEX IF NOT EXISTS {t}_leased ON {t} (ordering_key)
                 WHERE state = 'leased' AND ordering_key IS NOT NULL"
            ),
            // What purges (the retention sweep) scan.
            format!(
                "CREATE INDEX IF NOT EXISTS {t}_settled ON {t} (finished_at)
                 WHERE state IN ('done', 'superseded', 'dead')"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {t}_applied (
                    ordering_key bytea PRIMARY KEY,
                    stamp bigint NOT NULL
                )"
            ),
        ] {
            sqlx::query(&statement)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::unavailable)?;
        }
        // A state check from before `superseded` (named by PostgreSQL or by us) is replaced.
        let stale: Vec<String> = sqlx::query_scalar(
            "SELECT conname::text FROM pg_constraint
             WHERE conrelid = to_regclass($1) AND contype = 'c'
               AND pg_get_constraintdef(oid) LIKE '%''pending''%'
               AND pg_get_constraintdef(oid) NOT LIKE '%''superseded''%'",
        )
        .bind(t)
        .fetch_all(&mut *tx)
        .await
        .map_err(StoreError::unavailable)?;
        if !stale.is_empty() {
            let mut statement = format!("ALTER TABLE {t}");
            for name in &stale {
                let _ = write!(
                    statement,
                    " DROP CONSTRAINT \"{}\",",
                    name.replace('"', "\"\"")
                );
            }
            let _ = write!(
                statement,
                " ADD CONSTRAINT {t}_state_check CHECK ({STATES})"
            );
            sqlx::query(&statement)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::unavailable)?;
        }
        self.name_old_issues(&mut tx).await?;
        tx.commit().await.map_err(StoreError::unavailable)
    }

    /// Gives dead letters buried before issues were kept their [`issue_id`], so that a query
    /// by issue finds them.
    async fn name_old_issues(
        &self,
        tx: &mut sqlx::Transaction<'_, Postgres>,
    ) -> Result<(), StoreError> {
        let t = &self.table;
        loop {
            let rows = sqlx::query(&format!(
                "SELECT key, sender, route_key, last_error FROM {t}
                 WHERE state = 'dead' AND issue IS NULL LIMIT {MAX_BATCH}"
            ))
            .fetch_all(&mut **tx)
            .await
            .map_err(StoreError::unavailable)?;
            if rows.is_empty() {
                return Ok(());
            }
            let mut keys: Vec<Vec<u8>> = Vec::with_capacity(rows.len());
            let mut issues: Vec<String> = Vec::with_capacity(rows.len());
            for row in &rows {
                let (key, issue) = old_issue(row).map_err(StoreError::unavailable)?;
                keys.push(key);
                issues.push(issue);
            }
            sqlx::query(&format!(
                "UPDATE {t} SET issue = named.issue
                 FROM unnest($1::bytea[], $2::text[]) AS named(key, issue)
                 WHERE {t}.key = named.key"
            ))
            .bind(&keys)
            .bind(&issues)
            .execute(&mut **tx)
            .await
            .map_err(StoreError::unavailable)?;
        }
    }

    /// Marks the event done **inside the app's own transaction**: the handler's writes and
    /// the completion commit together or not at all, so the event's effect happens exactly
    /// once. When the handler's lease was lost (another worker has the event), this fails with
    /// [`StoreError::LeaseLost`] and the app's transaction should roll back. The worker's own
    /// completion afterwards finds the event done by the same token and succeeds. An event
    /// with an ordering key and a stamp raises its key's applied stamp (what the
    /// [stale-event guard](super::WorkerBuilder::stale_guard) compares) in the same statement.
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
        // The token stays on a done row, so completing twice with it succeeds. The applied
        // stamp of the row's ordering key rises in the same statement (never falls), and the
        // next event of its key is released.
        let t = &self.table;
        let release = release_next(t, "done");
        let completed: i64 = sqlx::query_scalar(&format!(
            "WITH done AS (
                UPDATE {t} SET state = 'done',
                               finished_at = CASE WHEN state = 'done' THEN finished_at
                                                  ELSE now() END
                WHERE key = $1 AND token = $2 AND state IN ('leased', 'done')
                RETURNING key, ordering_key, stamp
             ){release}, applied AS (
                INSERT INTO {t}_applied AS applied (ordering_key, stamp)
                SELECT ordering_key, stamp FROM done
                WHERE ordering_key IS NOT NULL AND stamp IS NOT NULL
                ON CONFLICT (ordering_key)
                DO UPDATE SET stamp = GREATEST(applied.stamp, EXCLUDED.stamp)
             )
             SELECT count(*) FROM done"
        ))
        .bind(key.as_bytes())
        .bind(token.as_str())
        .fetch_one(executor)
        .await
        .map_err(StoreError::unavailable)?;
        token_held(completed == 1)
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
        let held = held_behind(t, "v");
        format!(
            "WITH inserted AS (
                INSERT INTO {t} (key, sender, scheme, event_id, event_type, event_timestamp,
                                 signed, body, route_key, route_kind_len, route_key_signed,
                                 ordering_key, stamp, traceparent, redacted, held)
                SELECT v.*, {held}
                FROM (VALUES ($1::bytea, $2::text, $3::text, $4::bytea, $5::bytea, $6::bigint,
                              $7::smallint, $8::bytea, $9::bytea, $10::integer, $11::boolean,
                              $12::bytea, $13::bigint, $14::text, $15::boolean))
                     AS v(key, sender, scheme, event_id, event_type, event_timestamp, signed,
                          body, route_key, route_kind_len, route_key_signed, ordering_key, stamp,
                          traceparent, redacted)
                ON CONFLICT (key) DO NOTHING
                RETURNING 1
             )
             SELECT pg_notify($16, '') FROM inserted"
        )
    }

    fn batch_statement(&self) -> String {
        let t = &self.table;
        let held = held_behind(t, "v");
        // The notification is sent at commit, once per statement that stored anything.
        format!(
            "WITH inserted AS (
                INSERT INTO {t} (key, sender, scheme, event_id, event_type, event_timestamp,
                                 signed, body, route_key, route_kind_len, route_key_signed,
                                 ordering_key, stamp, traceparent, redacted, held)
                SELECT v.*, {held}
                FROM unnest($1::bytea[], $2::text[], $3::text[], $4::bytea[],
                            $5::bytea[], $6::bigint[], $7::smallint[], $8::bytea[],
                            $9::bytea[], $10::integer[], $11::boolean[], $12::bytea[],
                            $13::bigint[], $14::text[], $15::boolean[])
                     AS v(key, sender, scheme, event_id, event_type, event_timestamp, signed,
                          body, route_key, route_kind_len, route_key_signed, ordering_key, stamp,
                          traceparent, redacted)
                ON CONFLICT (key) DO NOTHING
                RETURNING key
             )
             SELECT key FROM inserted
             UNION ALL
             SELECT NULL FROM (SELECT pg_notify($16, '')) AS notified
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

    /// Leases up to `max` due rows and gives them, with everything [`leased`] reads.
    ///
    /// Two statements in one transaction. The first picks the candidates: due rows without an
    /// ordering key, and due rows that are their key's head while no row of the key is under
    /// a live lease; it locks them (`FOR UPDATE SKIP LOCKED`) and takes, for each ordering
    /// key among them, a transaction-scoped advisory lock without waiting (a key another
    /// lease holds is left to it). The second leases the candidates, checking again that an
    /// ordered row is its key's head and that its key is free: its snapshot is taken after
    /// the advisory locks, so it sees every lease of those keys committed before (the first
    /// statement's snapshot may predate one, and a head computed from it may be stale), and no
    /// other lease of those keys can run until this one commits.
    /// Releases, at most once a second, each ordering key's first event where it is held: the
    /// safety net under [`held_behind`] and [`release_next`], which decide from their own
    /// statement's snapshot (an event stored while the one it waits for settles concurrently
    /// can be left held with nothing ahead of it). A read of the unsettled ordered events'
    /// index, and an update only where one was left.
    async fn release_heads(&self) -> Result<(), sqlx::Error> {
        {
            let mut last = self
                .last_release
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if last.elapsed() < Duration::from_secs(1) {
                return Ok(());
            }
            *last = std::time::Instant::now();
        }
        let t = &self.table;
        // It reads every unsettled ordered event's index entry: bounded in time, so that a
        // backlog of millions costs each process at most a tenth of a second a second (an
        // unfinished pass changes nothing and is tried again a second later).
        let mut tx = self.pool.begin().await?;
        sqlx::query(&format!(
            "SET LOCAL statement_timeout = {RELEASE_BUDGET_MS}"
        ))
        .execute(&mut *tx)
        .await?;
        let released = sqlx::query(&format!(
            "UPDATE {t} SET held = false
             WHERE held AND key IN (
                SELECT DISTINCT ON (ordering_key) key FROM {t}
                WHERE {UNSETTLED} AND ordering_key IS NOT NULL
                ORDER BY ordering_key, COALESCE(stamp, 0), enqueued_at, key)"
        ))
        .execute(&mut *tx)
        .await;
        match released {
            Ok(_) => tx.commit().await,
            // 57014: canceled by the statement timeout.
            Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some("57014") => {
                tx.rollback().await
            }
            Err(error) => Err(error),
        }
    }

    async fn lease_rows(&self, max: usize, lease: Duration) -> Result<Vec<PgRow>, sqlx::Error> {
        let t = &self.table;
        // Whether row `r` may be leased as its key's next event. The busy check is a scalar
        // subquery so that it runs per candidate on `<table>_leased` (as `NOT EXISTS` the
        // planner may hash it over every row not yet due).
        let free_head = |r: &str| {
            format!(
                "({r}.ordering_key IS NULL OR (
                    {r}.key = (SELECT h.key FROM {t} h
                               WHERE h.ordering_key = {r}.ordering_key AND h.{UNSETTLED}
                               ORDER BY COALESCE(h.stamp, 0), h.enqueued_at, h.key
                               LIMIT 1)
                    AND (SELECT true FROM {t} b
                         WHERE b.ordering_key = {r}.ordering_key
                           AND b.state = 'leased' AND b.due_at > now()
                         LIMIT 1) IS NULL))"
            )
        };
        let mut tx = self.pool.begin().await?;
        // A CTE that locks rows is always materialised: the advisory locks are tried for the
        // chosen rows only, after the limit.
        let candidates: Vec<Vec<u8>> = sqlx::query_scalar(&format!(
            "WITH due AS (
                SELECT r.key, r.ordering_key FROM {t} r
                WHERE r.{UNSETTLED} AND NOT r.held AND r.due_at <= now() AND {head}
                ORDER BY r.replayed, r.due_at
                LIMIT $1
                FOR UPDATE OF r SKIP LOCKED
             )
             SELECT key FROM due
             WHERE ordering_key IS NULL
                OR pg_try_advisory_xact_lock(hashtext('{folded}'),
                                             hashtext(encode(ordering_key, 'hex')))",
            head = free_head("r"),
            // The table as PostgreSQL names it (unquoted names are folded to lower case), so
            // that replicas spelling it differently share the locks.
            folded = t.to_ascii_lowercase(),
        ))
        .bind(i64::try_from(max).unwrap_or(i64::MAX))
        .fetch_all(&mut *tx)
        .await?;
        if candidates.is_empty() {
            tx.commit().await?;
            return Ok(Vec::new());
        }
        let mut rows = sqlx::query(&format!(
            "UPDATE {t} SET state = 'leased',
                            token = md5(random()::text || clock_timestamp()::text),
                            attempts = {t}.attempts + 1,
                            due_at = now() + $2 * interval '1 millisecond'
             WHERE {t}.key = ANY($1) AND {t}.{UNSETTLED} AND {t}.due_at <= now() AND {head}
             RETURNING {t}.key, sender, scheme, event_id, event_type, event_timestamp,
                       signed, body, route_key, route_kind_len, route_key_signed, token,
                       attempts, ordering_key, stamp, traceparent, redacted,
                       (extract(epoch FROM enqueued_at) * 1000)::bigint AS enqueued_ms,
                       CASE WHEN replayed THEN replay_reason END AS replay_reason,
                       (SELECT applied.stamp FROM {t}_applied applied
                        WHERE applied.ordering_key = {t}.ordering_key) AS applied_stamp",
            head = free_head(t),
        ))
        .bind(&candidates)
        .bind(millis(hold(lease)))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        // In the order they were chosen (RETURNING keeps none).
        let place = |row: &PgRow| {
            let key: Vec<u8> = row.try_get("key").unwrap_or_default();
            candidates.iter().position(|c| *c == key)
        };
        rows.sort_by_key(place);
        Ok(rows)
    }

    /// Every dead letter's issue: those stored with the letter grouped by the database, those
    /// buried by an earlier version (no issue stored) grouped here by their [`issue_id`].
    async fn issues_async(&self) -> Result<Vec<Issue>, sqlx::Error> {
        let t = &self.table;
        let grouped = sqlx::query(&format!(
            "SELECT issue, count(*) AS count,
                    (extract(epoch FROM min(COALESCE(finished_at, enqueued_at))) * 1000000)::bigint
                        AS first_us,
                    (extract(epoch FROM max(COALESCE(finished_at, enqueued_at))) * 1000000)::bigint
                        AS last_us,
                    (array_agg(sender ORDER BY finished_at DESC))[1] AS sender,
                    (array_agg(route_key ORDER BY finished_at DESC))[1] AS route_key,
                    (array_agg(last_error ORDER BY finished_at DESC))[1] AS last_error
             FROM {t} WHERE state = 'dead' AND issue IS NOT NULL
             GROUP BY issue"
        ))
        .fetch_all(&self.pool)
        .await?;
        let mut issues = Vec::with_capacity(grouped.len());
        for row in &grouped {
            let count: i64 = row.try_get("count")?;
            let error: Option<String> = row.try_get("last_error")?;
            issues.push(Issue {
                id: row.try_get("issue")?,
                sender: row.try_get("sender")?,
                route: row
                    .try_get::<Option<Vec<u8>>, _>("route_key")?
                    .map(text)
                    .transpose()?,
                error: masked_error(error.as_deref().unwrap_or("")),
                count: u64::try_from(count).unwrap_or_default(),
                first_seen: micros_at(row, "first_us")?,
                last_seen: micros_at(row, "last_us")?,
            });
        }
        let old = sqlx::query(&format!(
            "SELECT sender, route_key, last_error,
                    (extract(epoch FROM COALESCE(finished_at, enqueued_at)) * 1000000)::bigint
                        AS died_us
             FROM {t} WHERE state = 'dead' AND issue IS NULL
             ORDER BY finished_at DESC LIMIT {MAX_OLD_ISSUES}"
        ))
        .fetch_all(&self.pool)
        .await?;
        for row in &old {
            let sender: String = row.try_get("sender")?;
            let route = row
                .try_get::<Option<Vec<u8>>, _>("route_key")?
                .map(text)
                .transpose()?;
            let error: Option<String> = row.try_get("last_error")?;
            let error = error.as_deref().unwrap_or("");
            let died = micros_at(row, "died_us")?;
            let id = issue_id(&sender, route.as_deref(), error);
            super::log::count_in(&mut issues, id, sender, route, error, died);
        }
        Ok(issues)
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

/// Whether the event `v` being stored waits behind an earlier unsettled one of its ordering
/// key (stamped no later: stored earlier, it comes first on a tie): such an event is stored
/// `held`, out of the lease's scan, until the one before it settles. A hint only: a lease still
/// checks that an event is its key's first and that the key is free.
fn held_behind(t: &str, v: &str) -> String {
    format!(
        "({v}.ordering_key IS NOT NULL AND EXISTS (
            SELECT 1 FROM {t} e
            WHERE e.ordering_key = {v}.ordering_key AND e.{UNSETTLED}
              AND COALESCE(e.stamp, 0) <= COALESCE({v}.stamp, 0)))"
    )
}

/// A CTE, to follow the one named `settled` (which returns the settled row's `key` and
/// `ordering_key`), that releases the next event of its ordering key: the first unsettled one
/// besides the settled row, if it is held.
fn release_next(t: &str, settled: &str) -> String {
    format!(
        ", released AS (
            UPDATE {t} SET held = false
            WHERE held AND key = (
                SELECT n.key FROM {t} n, {settled} s
                WHERE n.ordering_key = s.ordering_key AND n.{UNSETTLED} AND n.key <> s.key
                ORDER BY COALESCE(n.stamp, 0), n.enqueued_at, n.key
                LIMIT 1))"
    )
}

/// `change` (an `UPDATE` or `DELETE` of `{t}` matching one leased row's key and token, with
/// `{t}` for the table) as a statement that also releases the next event of the row's
/// ordering key; it reports one row affected when `change` matched.
fn settling(t: &str, change: &str) -> String {
    let change = change.replace("{t}", t);
    let release = release_next(t, "settled");
    format!("WITH settled AS ({change} RETURNING key, ordering_key){release} SELECT 1 FROM settled")
}

/// `duration` in milliseconds, for `now() + $n * interval '1 millisecond'`: callers shorten it
/// first ([`hold`], [`MAX_PURGE_AGE`](super::MAX_PURGE_AGE)), so that the interval is in range.
fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// `filter`'s limit, for `LIMIT $n`.
fn limit(filter: &Filter) -> i64 {
    i64::try_from(filter.bounded_limit()).unwrap_or(i64::MAX)
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
            ordering_key: optional("ordering_key")?,
            stamp: stamp(row, "stamp")?,
            traceparent: row.try_get("traceparent")?,
            redacted: row.try_get("redacted")?,
            body: Bytes::from(body),
        },
        token: ClaimToken::parse(&token).ok_or_else(|| {
            sqlx::Error::Decode("the inbox row's token is not a claim token".into())
        })?,
        attempt: u32::try_from(attempts).unwrap_or_default(),
        enqueued_at: UNIX_EPOCH
            + Duration::from_millis(u64::try_from(enqueued_ms).unwrap_or_default()),
        applied_stamp: stamp(row, "applied_stamp")?,
        replay_reason: row.try_get("replay_reason")?,
    })
}

/// The stamp in column `name`, when there is one.
fn stamp(row: &PgRow, name: &str) -> Result<Option<u64>, sqlx::Error> {
    let stamp: Option<i64> = row.try_get(name)?;
    Ok(stamp.map(|s| u64::try_from(s).unwrap_or_default()))
}

/// Microseconds since the epoch in column `name`, as a time.
fn micros_at(row: &PgRow, name: &str) -> Result<SystemTime, sqlx::Error> {
    let micros: Option<i64> = row.try_get(name)?;
    Ok(UNIX_EPOCH + Duration::from_micros(micros.and_then(|m| u64::try_from(m).ok()).unwrap_or(0)))
}

/// What a query reads of a row to describe it ([`stored`]).
const STORED_COLUMNS: &str = "key, sender, event_id, event_type, ordering_key, state, attempts,
    (extract(epoch FROM enqueued_at) * 1000000)::bigint AS enqueued_us, replays, replay_reason,
    (extract(epoch FROM replayed_at) * 1000000)::bigint AS replayed_us, last_error, issue,
    redacted";

/// A row read with [`STORED_COLUMNS`].
fn stored(row: &PgRow) -> Result<Stored, sqlx::Error> {
    let optional = |name: &str| -> Result<Option<String>, sqlx::Error> {
        row.try_get::<Option<Vec<u8>>, _>(name)?
            .map(text)
            .transpose()
    };
    let state: String = row.try_get("state")?;
    let attempts: i32 = row.try_get("attempts")?;
    let replays: i32 = row.try_get("replays")?;
    Ok(Stored {
        key: text(row.try_get("key")?)?,
        sender: row.try_get("sender")?,
        id: optional("event_id")?,
        event_type: optional("event_type")?,
        ordering_key: optional("ordering_key")?,
        status: Status::parse(&state)
            .ok_or_else(|| sqlx::Error::Decode("an inbox row has an unknown state".into()))?,
        attempts: u32::try_from(attempts).unwrap_or_default(),
        enqueued_at: micros_at(row, "enqueued_us")?,
        replays: u32::try_from(replays).unwrap_or_default(),
        replayed_at: row
            .try_get::<Option<i64>, _>("replayed_us")?
            .map(|_| micros_at(row, "replayed_us"))
            .transpose()?,
        replay_reason: row.try_get("replay_reason")?,
        last_error: row.try_get("last_error")?,
        issue: row.try_get("issue")?,
        redacted: row.try_get("redacted")?,
    })
}

/// The key of a dead letter buried without an issue, and the [`issue_id`] it gets.
fn old_issue(row: &PgRow) -> Result<(Vec<u8>, String), sqlx::Error> {
    let sender: String = row.try_get("sender")?;
    let route = row
        .try_get::<Option<Vec<u8>>, _>("route_key")?
        .map(text)
        .transpose()?;
    let error: Option<String> = row.try_get("last_error")?;
    let issue = issue_id(&sender, route.as_deref(), error.as_deref().unwrap_or(""));
    Ok((row.try_get("key")?, issue))
}

/// A value a [`Conditions`] binds.
enum Value {
    Text(String),
    Bytes(Vec<u8>),
    Micros(i64),
}

/// What a [`Filter`] selects, as SQL conditions over the table's columns (each `AND ..`), and
/// the values they bind, numbered from a given parameter.
struct Conditions {
    sql: String,
    values: Vec<Value>,
    first: usize,
}

impl Conditions {
    /// `filter`'s conditions, their parameters numbered from `$first`.
    fn new(filter: &Filter, first: usize) -> Self {
        let mut conditions = Self {
            sql: String::new(),
            values: Vec::new(),
            first,
        };
        if let Some(sender) = &filter.sender {
            conditions.add("sender = ", Value::Text(sender.clone()));
        }
        if let Some(event_type) = &filter.event_type {
            conditions.add(
                "event_type = ",
                Value::Bytes(event_type.as_bytes().to_vec()),
            );
        }
        if let Some(since) = filter.since {
            conditions.add(
                "enqueued_at >= timestamptz 'epoch' + interval '1 microsecond' * ",
                Value::Micros(micros_ceil(since)),
            );
        }
        if let Some(until) = filter.until {
            conditions.add(
                "enqueued_at < timestamptz 'epoch' + interval '1 microsecond' * ",
                Value::Micros(micros_ceil(until)),
            );
        }
        if let Some(status) = filter.status {
            conditions.add("state = ", Value::Text(status.as_str().to_owned()));
        }
        if let Some(issue) = &filter.issue {
            conditions.add("issue = ", Value::Text(issue.clone()));
        }
        conditions
    }

    fn add(&mut self, condition: &str, value: Value) {
        let n = self.first + self.values.len();
        let cast = match value {
            Value::Text(_) => "text",
            Value::Bytes(_) => "bytea",
            Value::Micros(_) => "bigint",
        };
        let _ = write!(self.sql, " AND {condition}${n}::{cast}");
        self.values.push(value);
    }

    /// `query` with the values bound, in order.
    fn bind<'q>(&'q self, mut query: Query<'q>) -> Query<'q> {
        for value in &self.values {
            query = match value {
                Value::Text(text) => query.bind(text.as_str()),
                Value::Bytes(bytes) => query.bind(bytes.as_slice()),
                Value::Micros(micros) => query.bind(*micros),
            };
        }
        query
    }
}

/// `at` in whole microseconds since the epoch, rounded up (a row's `enqueued_at` is in whole
/// microseconds: it is at or after `at` exactly when it is at or after this), within the range
/// PostgreSQL's times reach.
fn micros_ceil(at: SystemTime) -> i64 {
    const YEAR_9999: i64 = 253_402_300_799_999_999;
    let nanos = at.duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
    i64::try_from(nanos.div_ceil(1000)).map_or(YEAR_9999, |micros| micros.min(YEAR_9999))
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
            self.release_heads()
                .await
                .map_err(StoreError::unavailable)?;
            let rows = self
                .lease_rows(max, lease)
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
        issue: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let statement = settling(
                &self.table,
                "UPDATE {t} SET state = 'dead', token = NULL, last_error = $3, issue = $4,
                                finished_at = now()
                 WHERE key = $1 AND token = $2 AND state = 'leased'",
            );
            self.held(
                sqlx::query(&statement)
                    .bind(key.as_bytes())
                    .bind(token.as_str())
                    .bind(stored_error(error))
                    .bind(stored_error(issue)),
            )
            .await
        })
    }

    fn supersede<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            // The token stays, as on a done row; the applied stamp does not move.
            let statement = settling(
                &self.table,
                "UPDATE {t} SET state = 'superseded', finished_at = now()
                 WHERE key = $1 AND token = $2 AND state = 'leased'",
            );
            self.held(
                sqlx::query(&statement)
                    .bind(key.as_bytes())
                    .bind(token.as_str()),
            )
            .await
        })
    }

    fn find<'a>(&'a self, filter: &'a Filter) -> BoxFuture<'a, Result<Vec<Stored>, StoreError>> {
        Box::pin(async move {
            let t = &self.table;
            let conditions = Conditions::new(filter, 2);
            let statement = format!(
                "SELECT {STORED_COLUMNS} FROM {t} WHERE true{where_}
                 ORDER BY enqueued_at, key LIMIT $1",
                where_ = conditions.sql
            );
            let rows = conditions
                .bind(sqlx::query(&statement).bind(limit(filter)))
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::unavailable)?;
            rows.iter()
                .map(stored)
                .collect::<Result<Vec<_>, _>>()
                .map_err(StoreError::unavailable)
        })
    }

    fn replay<'a>(
        &'a self,
        filter: &'a Filter,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, StoreError>> {
        Box::pin(async move {
            let t = &self.table;
            let conditions = Conditions::new(filter, 4);
            // Rows being replayed or purged by another call at the same time are skipped, so
            // each is replayed once; the notification is sent at commit when any was.
            let statement = format!(
                "WITH chosen AS (
                    SELECT key FROM {t} WHERE {SETTLED}{where_}
                    ORDER BY enqueued_at, key LIMIT $1
                    FOR UPDATE SKIP LOCKED
                 ), replayed AS (
                    UPDATE {t} SET state = 'pending', attempts = 0, due_at = now(), token = NULL,
                                   finished_at = NULL, issue = NULL, replays = {t}.replays + 1,
                                   replay_reason = $2, replayed = true, replayed_at = now()
                    FROM chosen WHERE {t}.key = chosen.key
                    RETURNING {t}.key, (extract(epoch FROM {t}.enqueued_at) * 1000000)::bigint
                                       AS enqueued_us
                 )
                 SELECT key, enqueued_us FROM replayed
                 UNION ALL
                 SELECT NULL, NULL FROM (SELECT pg_notify($3, '')) AS notified
                 WHERE EXISTS (SELECT 1 FROM replayed)",
                where_ = conditions.sql
            );
            let rows = conditions
                .bind(
                    sqlx::query(&statement)
                        .bind(limit(filter))
                        .bind(stored_error(reason))
                        .bind(self.channel()),
                )
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::unavailable)?;
            let mut replayed = rows
                .iter()
                .filter_map(|row| {
                    let key: Option<Vec<u8>> = match row.try_get("key") {
                        Ok(key) => key,
                        Err(err) => return Some(Err(err)),
                    };
                    let key = key?;
                    Some(row.try_get::<i64, _>("enqueued_us").map(|at| (at, key)))
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(StoreError::unavailable)?;
            // Oldest stored first, as they were chosen (RETURNING keeps no order).
            replayed.sort();
            replayed
                .into_iter()
                .map(|(_, key)| text(key))
                .collect::<Result<Vec<_>, _>>()
                .map_err(StoreError::unavailable)
        })
    }

    fn purge<'a>(
        &'a self,
        filter: &'a Filter,
        age: Duration,
        except: &'a [(String, Option<String>)],
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move {
            let t = &self.table;
            let conditions = Conditions::new(filter, 4);
            let senders: Vec<&str> = except.iter().map(|(sender, _)| sender.as_str()).collect();
            let types: Vec<Option<&[u8]>> = except
                .iter()
                .map(|(_, event_type)| event_type.as_deref().map(str::as_bytes))
                .collect();
            let statement = format!(
                "DELETE FROM {t} WHERE key IN (
                    SELECT key FROM {t}
                    WHERE {SETTLED}
                      AND finished_at <= now() - $1 * interval '1 millisecond'{where_}
                      AND NOT EXISTS (
                        SELECT 1 FROM unnest($2::text[], $3::bytea[]) AS kept(sender, event_type)
                        WHERE kept.sender = {t}.sender
                          AND (kept.event_type IS NULL OR kept.event_type = {t}.event_type))
                    LIMIT {MAX_BATCH}
                    FOR UPDATE SKIP LOCKED
                 )",
                where_ = conditions.sql
            );
            let deleted = conditions
                .bind(
                    sqlx::query(&statement)
                        .bind(millis(age.min(super::MAX_PURGE_AGE)))
                        .bind(&senders)
                        .bind(&types),
                )
                .execute(&self.pool)
                .await
                .map_err(StoreError::unavailable)?;
            Ok(deleted.rows_affected())
        })
    }

    fn issues(&self, limit: usize) -> BoxFuture<'_, Result<Vec<Issue>, StoreError>> {
        Box::pin(async move {
            let mut issues = self.issues_async().await.map_err(StoreError::unavailable)?;
            issues.sort_by_key(|issue| std::cmp::Reverse(issue.last_seen));
            issues.truncate(limit);
            Ok(issues)
        })
    }

    fn forget<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let statement = settling(
                &self.table,
                "DELETE FROM {t} WHERE key = $1 AND token = $2 AND state = 'leased'",
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
                    count(*) FILTER (WHERE state IN ('done', 'superseded')) AS done,
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
                                   finished_at = NULL, issue = NULL
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
        .bind(entry.ordering_key.as_deref().map(str::as_bytes))
        .bind(entry.stamp.map(stored_stamp))
        .bind(entry.traceparent.as_deref())
        .bind(entry.redacted)
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
        .bind(bytes(|e| e.ordering_key.as_deref().map(str::as_bytes)))
        .bind(
            group
                .iter()
                .map(|(e, _)| e.stamp.map(stored_stamp))
                .collect::<Vec<_>>(),
        )
        .bind(column(|e| e.traceparent.clone()))
        .bind(group.iter().map(|(e, _)| e.redacted).collect::<Vec<_>>())
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

/// A stamp as stored (`bigint`): milliseconds since the epoch fit until the year 292 million;
/// a larger one is stored as the greatest.
fn stored_stamp(stamp: u64) -> i64 {
    i64::try_from(stamp).unwrap_or(i64::MAX)
}
