//! Acknowledge fast, process later: a durable inbox for verified events, and the workers that
//! run the app's handler on them with retries, backoff and dead letters.
//!
//! A [`Receiver`](crate::Receiver) built with [`inbox`](crate::receiver::ReceiverBuilder::inbox) verifies
//! each request, writes the event into the inbox and answers `200 queued` once the write is
//! durable (`503` when it cannot be written: never a 2xx for an event that is not stored). A
//! duplicate delivery of a stored event is answered `200 duplicate` without a second entry.
//! [`Worker`]s, in the same process or any number of others on the same backend, lease due
//! events, run the handler, and mark each done, schedule its retry, or make it a dead letter.
//!
//! | backend | feature | survives | use it when |
//! |---|---|---|---|
//! | [`MemoryInbox`] | `inbox` | nothing: lost on restart | development and tests |
//! | `PostgresInbox` | `inbox`, `postgres` | everything committed (the 2xx follows the commit) | production: one table, many receivers and workers |
//! | `RedisInbox` | `inbox`, `redis` | what Redis persisted: every acknowledged event with `appendfsync always`, up to a second less with `everysec`, nothing without persistence | apps that run Redis, not PostgreSQL |
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use verihook::inbox::{MemoryInbox, Worker};
//! use verihook::{testing::StripeSigner, Receiver, providers::stripe::StripeVerifier};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let inbox = Arc::new(MemoryInbox::new());
//! let receiver = Receiver::builder()
//!     .sender("stripe", StripeVerifier::new("whsec_test_secret")?)
//!     .inbox(inbox.clone())
//!     .build()?;
//! let worker = Worker::builder(inbox)
//!     .handler(|delivery| async move {
//!         println!("{} attempt {}", delivery.key(), delivery.attempt());
//!         Ok(())
//!     })
//!     .build()?;
//!
//! let body = br#"{"id":"evt_1","type":"invoice.paid"}"#;
//! let unix = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
//! let headers = StripeSigner::new("whsec_test_secret")?.sign(unix, body);
//! let answer = receiver.handle(&headers, body.as_slice().into()).await;
//! assert_eq!((answer.code(), answer.status().as_u16()), ("queued", 200));
//! assert_eq!(worker.run_once().await?, 1); // processed by the worker
//! # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
//! ```

#[cfg(any(feature = "postgres", feature = "redis"))]
mod group;
mod log;
mod memory;
mod order;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "redis")]
mod redis;
mod worker;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use crate::event::RouteKey;
use crate::event::{Event, Field, Signed};
use crate::idempotency::{BoxFuture, ClaimToken, StoreError};

pub use log::{
    issue_id, masked_error, Filter, Issue, Redaction, Retention, RetentionRule, Status, Stored,
    MAX_BATCH, REDACTED,
};
pub use memory::MemoryInbox;
pub use order::OrderBy;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use postgres::PostgresInbox;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis::RedisInbox;
pub use worker::{Attempt, Backoff, Fate, Worker, WorkerBuilder};

/// A verified event as the inbox keeps it: everything a worker needs to hand the handler the
/// same [`Event`] the receiver verified.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Entry {
    /// The idempotency key (`<sender>:<id>` or a digest): unique in the inbox.
    pub key: String,
    /// The sender's name in the receiver.
    pub sender: String,
    /// The scheme that verified it (`stripe`, ...).
    pub scheme: String,
    /// The event id, when the request carried one.
    pub id: Option<String>,
    /// The event type, when the request carried one.
    pub event_type: Option<String>,
    /// The signed timestamp (Unix seconds), when the scheme signs one.
    pub timestamp: Option<u64>,
    /// Which parts the signature covered.
    pub signed: Signed,
    /// The key the receiver routes this event by (`pull_request.opened`), as read from the
    /// verified request: a worker routes by it rather than reading it again. `None` for an event
    /// with no route key, and for entries stored before route keys were kept (a worker then
    /// reads it from the stored event as the receiver would).
    pub route_key: Option<RouteKey>,
    /// Whether everything the route key was read from is covered by the signature (GitHub's
    /// comes partly from the unsigned `X-GitHub-Event` header: `false`).
    pub route_key_signed: bool,
    /// The key that orders this event among others of the same object (`sub_1Nx`,
    /// `octo/app#12`), read from signed content by its provider or the app's
    /// [`OrderBy`]: workers never run two events of one ordering key at once, and run them by
    /// [`stamp`](Self::stamp), then arrival. `None`: no order kept.
    pub ordering_key: Option<String>,
    /// The provider's own order for the event, in milliseconds since the Unix epoch (Stripe's
    /// `created`, a signed timestamp, an object's `updated_at`): what ordering and the
    /// [stale-event guard](WorkerBuilder::stale_guard) compare. `None`: arrival order only.
    pub stamp: Option<u64>,
    /// The W3C trace context of the request that delivered it (`traceparent`), so that the
    /// worker's attempts join the request's trace.
    pub traceparent: Option<String>,
    /// Whether values were removed from the stored body ([`Redaction`]).
    pub redacted: bool,
    /// The raw body, exactly as received (or redacted, when [`redacted`](Self::redacted)).
    pub body: Bytes,
}

impl Entry {
    /// The entry for a verified `event`, stored under `key`.
    #[must_use]
    pub fn new(event: &Event, key: String) -> Self {
        Self::ordered_by(event, key, &OrderBy::Provider)
    }

    /// The entry for a verified `event`, stored under `key`, ordered as `order` reads it: the
    /// body is read for its ordering once.
    pub(crate) fn ordered_by(event: &Event, key: String, order: &OrderBy) -> Self {
        let (ordering_key, stamp) = order.read(event).unzip();
        Self {
            key,
            sender: event.sender().to_owned(),
            scheme: event.scheme().to_owned(),
            id: event.id().map(Into::into),
            event_type: event.event_type().map(Into::into),
            timestamp: event.unix_timestamp(),
            signed: event.signed(),
            route_key: crate::providers::route_key(event),
            route_key_signed: event.signed().route_key(),
            ordering_key,
            stamp: stamp.flatten(),
            traceparent: None,
            redacted: false,
            body: event.body().clone(),
        }
    }

    /// This entry ordered as `order` reads from `event`.
    #[must_use]
    pub fn ordered(mut self, event: &Event, order: &OrderBy) -> Self {
        let (ordering_key, stamp) = order.read(event).unzip();
        self.ordering_key = ordering_key;
        self.stamp = stamp.flatten();
        self
    }

    /// This entry with the values `redaction` names removed from its stored body.
    #[must_use]
    pub fn redacted(mut self, redaction: &Redaction) -> Self {
        if let Some(body) = redaction.apply(&self.sender, &self.body) {
            self.body = Bytes::from(body);
            self.redacted = true;
        }
        self
    }

    /// This entry carrying the request's trace context, when `traceparent` is a valid W3C
    /// `traceparent` value (anything else is dropped: the header is not signed, and only a
    /// well-formed value reaches the logs).
    #[must_use]
    pub fn traced(mut self, traceparent: Option<&str>) -> Self {
        self.traceparent = traceparent.filter(|t| valid_traceparent(t)).map(Into::into);
        self
    }

    /// The event, as the receiver verified it.
    #[must_use]
    pub fn to_event(&self) -> Event {
        let text = |value: &Option<String>| match value {
            Some(text) => Field::Text(Arc::from(text.as_str())),
            None => Field::Absent,
        };
        let mut event = Event::builder(
            crate::event::SchemeName::from(self.scheme.clone()),
            self.body.clone(),
        )
        .id(text(&self.id), self.signed.id())
        .event_type(text(&self.event_type), self.signed.event_type());
        if let (Some(timestamp), true) = (self.timestamp, self.signed.timestamp()) {
            event = event.timestamp(timestamp);
        }
        let mut event = event.build();
        event.sender = Some(Arc::new(self.sender.clone()));
        // As stored, the body's flag included (a token scheme signs nothing).
        event.signed = self.signed;
        event
    }
}

/// An entry a worker holds under a lease.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Leased {
    /// The event.
    pub entry: Entry,
    /// The token that holds the lease: only it completes, retries or buries the entry.
    pub token: ClaimToken,
    /// Which attempt this is (1 for the first; a lease that expired counts as an attempt).
    pub attempt: u32,
    /// When the receiver stored it.
    pub enqueued_at: SystemTime,
    /// The greatest [`stamp`](Entry::stamp) of an event of its ordering key that was applied
    /// (completed), for the [stale-event guard](WorkerBuilder::stale_guard).
    pub applied_stamp: Option<u64>,
    /// Why it was replayed, when this run is part of a replay.
    pub replay_reason: Option<String>,
}

/// What [`Inbox::enqueue`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// Stored durably; a worker will process it.
    New,
    /// An entry with this key is already there (pending, in flight, done or dead): nothing
    /// was written.
    Duplicate,
}

/// Counts of the inbox's entries, for operators.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct InboxStats {
    /// Waiting for a worker (new, or waiting for a retry).
    pub pending: u64,
    /// Held by a worker's unexpired lease.
    pub in_flight: u64,
    /// Processed, kept to answer redeliveries `duplicate` until purged.
    pub done: u64,
    /// Out of attempts or too old: kept with their last error until retried or purged.
    pub dead: u64,
    /// How long the oldest entry not yet done or dead has waited, in seconds.
    pub oldest_pending_secs: Option<u64>,
}

/// A dead letter: an event that ran out of attempts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct DeadLetter {
    /// Its key.
    pub key: String,
    /// Its sender.
    #[serde(rename = "provider")]
    pub sender: String,
    /// How many attempts it had.
    pub attempts: u32,
    /// What the handler said the last time.
    pub last_error: String,
}

/// The durable inbox, object-safe so that a receiver and its workers hold `Arc<dyn Inbox>`.
///
/// Every backend passes the same conformance suite (`tests/inbox.rs`) on the real servers.
/// Operations that act on a leased entry take its [`ClaimToken`] and fail with
/// [`StoreError::LeaseLost`], changing nothing, when the token no longer holds it.
pub trait Inbox: Send + Sync + fmt::Debug {
    /// Stores `entry` unless an entry with its key exists. Returns only once the write is
    /// durable, and wakes a waiting worker.
    fn enqueue<'a>(&'a self, entry: &'a Entry) -> BoxFuture<'a, Result<Enqueued, StoreError>>;

    /// Leases up to `max` due entries (new, retry time reached, or lease expired) for `lease`
    /// (at most [`MAX_HOLD`](crate::idempotency::MAX_HOLD)), oldest due first; each counts an
    /// attempt.
    fn lease<'a>(
        &'a self,
        max: usize,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Vec<Leased>, StoreError>>;

    /// Extends the lease `token` holds by `lease` from now (the worker's heartbeat), at most
    /// [`MAX_HOLD`](crate::idempotency::MAX_HOLD).
    fn extend<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
        lease: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Marks the entry done: kept so that redeliveries are duplicates, until purged.
    /// Completing twice with the same token succeeds.
    fn complete<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Gives the entry back, due again after `delay` (at most
    /// [`MAX_HOLD`](crate::idempotency::MAX_HOLD)), with the handler's `error`.
    fn retry<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
        delay: Duration,
        error: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Makes the entry a dead letter with the handler's last `error`, grouped under `issue`
    /// (its [`issue_id`]).
    fn bury<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
        error: &'a str,
        issue: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Settles the entry as [`Status::Superseded`] without running the handler: a newer event
    /// of its ordering key was already applied. Kept like a done entry (redeliveries are
    /// duplicates); does not change the applied stamp.
    fn supersede<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Up to [`Filter::limit`] stored entries that `filter` selects, oldest stored first.
    fn find<'a>(&'a self, filter: &'a Filter) -> BoxFuture<'a, Result<Vec<Stored>, StoreError>>;

    /// Puts up to [`Filter::limit`] settled entries (done, superseded or dead) that `filter`
    /// selects back to work, oldest stored first: pending, due now, attempts reset, replays
    /// counted, `reason` recorded. Pending and leased entries are never touched. Replayed
    /// entries keep their ordering key, and yield to new deliveries: a worker leases them only
    /// after what is due fresh. Gives their keys.
    fn replay<'a>(
        &'a self,
        filter: &'a Filter,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, StoreError>>;

    /// Removes up to [`MAX_BATCH`] settled entries that `filter` selects, settled more than
    /// `age` ago (an age past a century counts as a century), except those whose sender (and
    /// type, when given) is in `except`. Gives how many. Their keys are no longer duplicates.
    fn purge<'a>(
        &'a self,
        filter: &'a Filter,
        age: Duration,
        except: &'a [(String, Option<String>)],
    ) -> BoxFuture<'a, Result<u64, StoreError>>;

    /// Dead letters grouped by [`Issue`], most recently failed first, at most `limit`.
    fn issues(&self, limit: usize) -> BoxFuture<'_, Result<Vec<Issue>, StoreError>>;

    /// Removes the entry without marking it done, so a later delivery of its key is stored
    /// anew: what a worker does with an event no route took when the signature does not cover
    /// its route key (a forged type must not settle the event).
    fn forget<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Resolves when new entries may be due, or after `timeout`: a worker waits here between
    /// batches instead of polling.
    fn wait<'a>(&'a self, timeout: Duration) -> BoxFuture<'a, ()>;

    /// Counts of entries by state.
    fn stats(&self) -> BoxFuture<'_, Result<InboxStats, StoreError>>;

    /// Up to `limit` dead letters, oldest first.
    fn dead_letters(&self, limit: usize) -> BoxFuture<'_, Result<Vec<DeadLetter>, StoreError>>;

    /// Puts the dead letter `key` back in the queue, due now, with its attempts reset. `false`
    /// when there is no dead letter of that key.
    fn requeue<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Removes up to [`MAX_BATCH`] done entries finished more than `age` ago (an age past a
    /// century counts as a century); gives how many. Their keys are no longer duplicates.
    fn purge_done(&self, age: Duration) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(async move {
            let done = Filter::new().status(Status::Done);
            self.purge(&done, age, &[]).await
        })
    }
}

impl<T: Inbox + ?Sized> Inbox for Arc<T> {
    fn enqueue<'a>(&'a self, entry: &'a Entry) -> BoxFuture<'a, Result<Enqueued, StoreError>> {
        (**self).enqueue(entry)
    }

    fn lease<'a>(
        &'a self,
        max: usize,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Vec<Leased>, StoreError>> {
        (**self).lease(max, lease)
    }

    fn extend<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
        lease: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).extend(key, token, lease)
    }

    fn complete<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).complete(key, token)
    }

    fn retry<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
        delay: Duration,
        error: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).retry(key, token, delay, error)
    }

    fn bury<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
        error: &'a str,
        issue: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).bury(key, token, error, issue)
    }

    fn supersede<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).supersede(key, token)
    }

    fn find<'a>(&'a self, filter: &'a Filter) -> BoxFuture<'a, Result<Vec<Stored>, StoreError>> {
        (**self).find(filter)
    }

    fn replay<'a>(
        &'a self,
        filter: &'a Filter,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, StoreError>> {
        (**self).replay(filter, reason)
    }

    fn purge<'a>(
        &'a self,
        filter: &'a Filter,
        age: Duration,
        except: &'a [(String, Option<String>)],
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        (**self).purge(filter, age, except)
    }

    fn issues(&self, limit: usize) -> BoxFuture<'_, Result<Vec<Issue>, StoreError>> {
        (**self).issues(limit)
    }

    fn forget<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).forget(key, token)
    }

    fn wait<'a>(&'a self, timeout: Duration) -> BoxFuture<'a, ()> {
        (**self).wait(timeout)
    }

    fn stats(&self) -> BoxFuture<'_, Result<InboxStats, StoreError>> {
        (**self).stats()
    }

    fn dead_letters(&self, limit: usize) -> BoxFuture<'_, Result<Vec<DeadLetter>, StoreError>> {
        (**self).dead_letters(limit)
    }

    fn requeue<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        (**self).requeue(key)
    }

    fn purge_done(&self, age: Duration) -> BoxFuture<'_, Result<u64, StoreError>> {
        (**self).purge_done(age)
    }
}

/// Leases, extensions and retry delays longer than
/// [`MAX_HOLD`](crate::idempotency::MAX_HOLD) are shortened to it, as the idempotency stores
/// shorten theirs: no backend can hold an end at `Duration::MAX` from now.
pub(crate) fn hold(duration: Duration) -> Duration {
    duration.min(crate::idempotency::MAX_HOLD)
}

/// The oldest [`Inbox::purge_done`] looks back: a longer age purges what this one does
/// (nothing is older), and every backend can count it from now.
pub(crate) const MAX_PURGE_AGE: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// The route key stored as its whole text and the length of its kind, when both are there
/// and agree; `None` otherwise (an entry stored before route keys were kept: the worker reads
/// the key from the event).
#[cfg(any(feature = "postgres", feature = "redis"))]
pub(crate) fn stored_route_key(full: Option<&str>, kind_len: Option<usize>) -> Option<RouteKey> {
    let (full, kind_len) = (full?, kind_len?);
    if kind_len == full.len() {
        return Some(RouteKey::new(full));
    }
    let kind = full.get(..kind_len)?;
    let action = full.get(kind_len..)?.strip_prefix('.')?;
    Some(RouteKey::with_action(kind, Some(action)))
}

/// Error messages stored with a retry or a dead letter are cut to this many bytes.
pub const MAX_ERROR_LEN: usize = 1024;

/// `error` cut to [`MAX_ERROR_LEN`] bytes at a character boundary.
pub(crate) fn bounded_error(error: &str) -> &str {
    if error.len() <= MAX_ERROR_LEN {
        return error;
    }
    let mut end = MAX_ERROR_LEN;
    while !error.is_char_boundary(end) {
        end -= 1;
    }
    &error[..end]
}

/// Whether `value` is a W3C `traceparent`: version `00`, a 32-hex-digit trace id and a
/// 16-hex-digit parent id, neither all zeros, and two hex digits of flags.
pub(crate) fn valid_traceparent(value: &str) -> bool {
    let hex = |part: &str, len: usize| {
        part.len() == len
            && part
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let mut parts = value.split('-');
    matches!((parts.next(), parts.next(), parts.next(), parts.next(), parts.next()),
        (Some("00"), Some(trace), Some(parent), Some(flags), None)
        if hex(trace, 32) && hex(parent, 16) && hex(flags, 2)
            && trace.bytes().any(|b| b != b'0') && parent.bytes().any(|b| b != b'0'))
}
