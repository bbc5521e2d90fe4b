//! Workers: lease due events, run the app's handler, and mark each done, retry it with
//! backoff, or make it a dead letter.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::task::JoinSet;

use super::{Inbox, Leased, Retention};
use crate::error::ConfigError;
use crate::handler::{
    Delivery, Handled, Handler, HandlerError, Order, Settle, DEFAULT_LEASE, DEFAULT_RETAIN,
};
use crate::idempotency::{ClaimToken, StoreError, MAX_HOLD};
use crate::observe;
use crate::router::EventRouter;

/// Exponential backoff with full jitter: the delay before retry `n` is drawn uniformly from
/// `0 ..= min(cap, base × 2^(n-1))`, so that retries of many failed events spread out instead of
/// arriving together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling of the first retry's delay.
    pub base: Duration,
    /// The largest delay.
    pub cap: Duration,
}

impl Default for Backoff {
    /// 1 second, doubling, up to 1 hour.
    fn default() -> Self {
        Self {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60 * 60),
        }
    }
}

impl Backoff {
    /// The ceiling of the delay after failed attempt `attempt` (1-based).
    #[must_use]
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(63);
        self.base
            .checked_mul(1u32.checked_shl(doublings.min(31)).unwrap_or(u32::MAX))
            .unwrap_or(self.cap)
            .min(self.cap)
    }

    /// The delay after failed attempt `attempt`: uniform in `0 ..= ceiling(attempt)`, drawn
    /// from `jitter` (any well-mixed 64-bit value).
    #[must_use]
    pub fn delay(&self, attempt: u32, jitter: u64) -> Duration {
        let ceiling = self.ceiling(attempt).as_millis();
        let ceiling = u64::try_from(ceiling).unwrap_or(u64::MAX);
        Duration::from_millis(jitter % ceiling.saturating_add(1))
    }
}

/// Runs the app's handler on the inbox's events: any number of workers, in any number of
/// processes, share one inbox; a leased event runs in one worker at a time.
///
/// While a handler runs, its worker extends the lease every third of it (a heartbeat), so a
/// handler slower than the lease never runs twice at once; a worker that dies stops extending,
/// and its events come back when their lease ends. Each failure (an error, a panic, or a lease
/// that ran out) is an attempt: the event is retried after [`Backoff`] until
/// [`max_attempts`](WorkerBuilder::max_attempts) or [`max_age`](WorkerBuilder::max_age), then
/// becomes a dead letter with its last error.
pub struct Worker {
    inbox: Arc<dyn Inbox>,
    handler: Handler,
    observer: Option<Observer>,
    concurrency: usize,
    lease: Duration,
    backoff: Backoff,
    max_attempts: u32,
    max_age: Duration,
    retain: Duration,
    retention: Option<Retention>,
    stale_guard: bool,
    idle_wait: Duration,
}

/// Builds a [`Worker`]; finish with [`build`](Self::build).
#[must_use]
pub struct WorkerBuilder {
    inbox: Arc<dyn Inbox>,
    handler: Option<Handler>,
    observer: Option<Observer>,
    concurrency: usize,
    lease: Duration,
    backoff: Backoff,
    max_attempts: u32,
    max_age: Duration,
    retain: Duration,
    retention: Option<Retention>,
    stale_guard: bool,
    poll: Duration,
    /// A mistake found while building (a router's bad route), reported by `build`.
    error: Option<ConfigError>,
}

/// What became of one attempt at an event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fate {
    /// The handler succeeded; the event is done.
    Done,
    /// The handler failed; the event runs again after `delay`.
    Retry {
        /// How long until it is due again.
        delay: Duration,
        /// What the handler said.
        error: String,
    },
    /// The handler failed on the last attempt allowed (or the event is too old): the event is
    /// a dead letter.
    Dead {
        /// What the handler said.
        error: String,
    },
    /// Settled without running the handler: a newer event of its ordering key was already
    /// applied (the [stale-event guard](WorkerBuilder::stale_guard)).
    Superseded {
        /// The event's stamp.
        stamp: u64,
        /// The newest stamp applied for its ordering key.
        applied: u64,
    },
    /// The result could not be recorded: the lease ran out and another worker may have the
    /// event, or the inbox could not be reached. The event runs again when its lease ends.
    Lost,
    /// No route of the worker's [`EventRouter`](crate::EventRouter) takes the event's type: done, and
    /// reported (the default [`UnroutedPolicy`](crate::router::UnroutedPolicy)).
    Unrouted {
        /// The event's route key, when it has one.
        event_type: Option<String>,
    },
}

/// One attempt at an event, as a worker reports it to
/// [`on_attempt`](WorkerBuilder::on_attempt).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Attempt {
    /// The event's key.
    pub key: String,
    /// Its sender.
    pub sender: String,
    /// Its id, when it has one.
    pub id: Option<String>,
    /// Which attempt this was (1 for the first).
    pub number: u32,
    /// Its ordering key, when it has one.
    pub ordering_key: Option<String>,
    /// Why it was replayed, when this attempt is part of a replay.
    pub replay_reason: Option<String>,
    /// What became of it.
    pub fate: Fate,
}

type Observer = Arc<dyn Fn(&Attempt) + Send + Sync>;

impl Worker {
    /// Starts a worker on `inbox`: 4 handlers at once, 5-minute leases, [`Backoff::default`],
    /// 8 attempts, 3 days of age, done entries kept 3 days.
    pub fn builder(inbox: impl Inbox + 'static) -> WorkerBuilder {
        WorkerBuilder {
            inbox: Arc::new(inbox),
            handler: None,
            observer: None,
            concurrency: 4,
            lease: DEFAULT_LEASE,
            backoff: Backoff::default(),
            max_attempts: 8,
            max_age: DEFAULT_RETAIN,
            retain: DEFAULT_RETAIN,
            retention: None,
            stale_guard: false,
            poll: Duration::from_secs(1),
            error: None,
        }
    }

    /// Reads the inbox's counts into the `verihook_inbox_*` gauges (feature `metrics`; [`run`]
    /// does it every 15 seconds). A failed read counts as an inbox error.
    ///
    /// [`run`]: Self::run
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    pub async fn record_depth(&self) {
        match self.inbox.stats().await {
            Ok(stats) => observe::inbox_depth(
                stats.pending,
                stats.dead,
                stats.oldest_pending_secs.map(Duration::from_secs),
            ),
            Err(_) => observe::inbox_error("stats"),
        }
    }

    /// Leases the events due now (at most the concurrency), runs them all, and gives how many
    /// ran. For tests and for apps that drive the worker themselves.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the inbox cannot be read.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let leased = self.inbox.lease(self.concurrency, self.lease).await?;
        let count = leased.len();
        let mut running = JoinSet::new();
        for entry in leased {
            running.spawn(self.process(entry));
        }
        while running.join_next().await.is_some() {}
        Ok(count)
    }

    /// Runs until `shutdown` resolves: leases due events as handlers free up, waits for new
    /// ones without polling (the inbox wakes it), purges done entries past their retention now
    /// and then. On shutdown it stops leasing, gives the running handlers `grace` to finish,
    /// and hands the rest back to the inbox (due again at once, for another worker).
    ///
    /// A failing inbox is retried every second; the worker never gives up on its own.
    pub async fn run(&self, shutdown: impl Future<Output = ()>, grace: Duration) {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut running: JoinSet<String> = JoinSet::new();
        // The leases this worker holds, to hand back what is still running at shutdown.
        let mut held: HashMap<String, ClaimToken> = HashMap::new();
        let mut last_purge = Instant::now();
        #[cfg(feature = "metrics")]
        let mut last_depth = Instant::now()
            .checked_sub(DEPTH_EVERY)
            .unwrap_or_else(Instant::now);
        loop {
            let free = self.concurrency.saturating_sub(running.len());
            let mut leased_any = false;
            if free > 0 {
                match self.inbox.lease(free, self.lease).await {
                    Ok(batch) => {
                        leased_any = !batch.is_empty();
                        for entry in batch {
                            held.insert(entry.entry.key.clone(), entry.token);
                            running.spawn(self.process(entry));
                        }
                    }
                    Err(_) => {
                        observe::inbox_error("lease");
                        tokio::select! {
                            () = &mut shutdown => break,
                            () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                        }
                    }
                }
            }
            #[cfg(feature = "metrics")]
            if last_depth.elapsed() >= DEPTH_EVERY {
                self.record_depth().await;
                last_depth = Instant::now();
            }
            if last_purge.elapsed() >= Duration::from_secs(60) {
                let purged = match &self.retention {
                    Some(retention) => retention.apply(&*self.inbox).await,
                    None => self.inbox.purge_done(self.retain).await,
                };
                if purged.is_err() {
                    observe::inbox_error("purge");
                }
                last_purge = Instant::now();
            }
            if leased_any && running.len() < self.concurrency {
                continue; // more may be due
            }
            tokio::select! {
                () = &mut shutdown => break,
                Some(finished) = running.join_next(), if !running.is_empty() => {
                    ended(&mut held, finished);
                    // Every handler that finished meanwhile frees its slot too, so that the
                    // next lease takes them all in one round trip rather than one each.
                    while let Some(finished) = running.try_join_next() {
                        ended(&mut held, finished);
                    }
                }
                () = self.inbox.wait(self.idle_wait), if running.len() < self.concurrency => {}
            }
        }
        // Shutdown: no new leases; the running handlers get `grace`.
        let deadline = tokio::time::sleep(grace);
        tokio::pin!(deadline);
        while !running.is_empty() {
            tokio::select! {
                () = &mut deadline => break,
                Some(finished) = running.join_next() => ended(&mut held, finished),
            }
        }
        running.abort_all();
        while let Some(finished) = running.join_next().await {
            ended(&mut held, finished);
        }
        // What did not finish goes back, due now, for another worker.
        for (key, token) in held {
            let _ = self
                .inbox
                .retry(
                    &key,
                    &token,
                    Duration::ZERO,
                    "the worker shut down before the handler finished",
                )
                .await;
        }
    }

    /// Runs one leased event and records its fate.
    fn process(&self, leased: Leased) -> impl Future<Output = String> + Send + 'static {
        let inbox = self.inbox.clone();
        let handler = self.handler.clone();
        let lease = self.lease;
        let backoff = self.backoff;
        let max_attempts = self.max_attempts;
        let max_age = self.max_age;
        let observer = self.observer.clone();
        let stale_guard = self.stale_guard;
        #[cfg(feature = "tracing")]
        let span = attempt_span(&leased);
        let work = async move {
            let Leased {
                entry,
                token,
                attempt,
                enqueued_at,
                applied_stamp,
                replay_reason,
            } = leased;
            let key = entry.key.clone();
            let sender = entry.sender.clone();
            let id = entry.id.clone();
            #[cfg(feature = "tracing")]
            tracing::info!(
                target: "verihook", key = key.as_str(), sender = sender.as_str(), attempt,
                "inbox event started"
            );
            // The stale-event guard: a newer event of this ordering key was applied already.
            // A replay always runs: re-running stored events is what it was asked for.
            if let (true, None, Some(stamp), Some(applied)) =
                (stale_guard, &replay_reason, entry.stamp, applied_stamp)
            {
                if stamp < applied {
                    let fate = match inbox.supersede(&key, &token).await {
                        Ok(()) => Fate::Superseded { stamp, applied },
                        Err(_) => Fate::Lost,
                    };
                    observe::handled_since(&sender, fate.code(), observe::clock());
                    let report = Attempt {
                        key,
                        sender,
                        id,
                        number: attempt,
                        ordering_key: entry.ordering_key,
                        replay_reason,
                        fate,
                    };
                    trace(&report);
                    if let Some(observe) = &observer {
                        observe(&report);
                    }
                    return report.key;
                }
            }
            let route = entry.route_key.as_ref().map(|r| r.as_str().to_owned());
            let ordering_key = entry.ordering_key.clone();
            let event = entry.to_event();
            // Entries stored before route keys were kept: read as the receiver did.
            let route_key_signed = match entry.route_key {
                Some(_) => entry.route_key_signed,
                None => event.signed().route_key(),
            };
            let delivery = Delivery::new(
                event,
                key.clone(),
                token,
                attempt,
                crate::providers::route_key,
            )
            .with_route_key(entry.route_key)
            .with_order(Order {
                ordering_key: entry.ordering_key,
                stamp: entry.stamp,
                traceparent: entry.traceparent,
            });
            let started = observe::clock();
            let handled = handler
                .run_under_lease(delivery, lease, || async {
                    let _ = inbox.extend(&key, &token, lease).await;
                })
                .await;
            let fate = match handled.settle(route_key_signed) {
                Settle::Complete => inbox
                    .complete(&key, &token)
                    .await
                    .map(|()| settled(handled)),
                // Removed, not done (an unrouted event whose route key is not signed), as the
                // inline receiver releases its claim: a later delivery is stored anew.
                Settle::Forget => inbox.forget(&key, &token).await.map(|()| settled(handled)),
                settle @ (Settle::Refuse | Settle::Retry) => {
                    let error = super::bounded_error(&handled.to_string()).to_owned();
                    let age = SystemTime::now()
                        .duration_since(enqueued_at)
                        .unwrap_or_default();
                    let last = attempt >= max_attempts || age >= max_age;
                    if settle == Settle::Retry && !last {
                        let delay = backoff.delay(attempt, jitter(&key, attempt));
                        let retried = inbox.retry(&key, &token, delay, &error).await;
                        retried.map(|()| Fate::Retry { delay, error })
                    } else {
                        // A misfit (retrying the same bytes cannot make them fit), or the last
                        // attempt: a dead letter.
                        let issue = super::issue_id(&sender, route.as_deref(), &error);
                        let buried = inbox.bury(&key, &token, &error, &issue).await;
                        buried.map(|()| Fate::Dead { error })
                    }
                }
            }
            .unwrap_or(Fate::Lost);
            if matches!(fate, Fate::Lost) {
                observe::inbox_error("record");
            }
            observe::handled_since(&sender, fate.code(), started);
            let report = Attempt {
                key,
                sender,
                id,
                number: attempt,
                ordering_key,
                replay_reason,
                fate,
            };
            trace(&report);
            if let Some(observe) = &observer {
                observe(&report);
            }
            report.key
        };
        #[cfg(feature = "tracing")]
        let work = tracing::Instrument::instrument(work, span);
        work
    }
}

/// A handler's task ended: its event no longer needs handing back at shutdown (a task that
/// panicked or was aborted keeps its lease, and is handed back).
fn ended(held: &mut HashMap<String, ClaimToken>, finished: Result<String, tokio::task::JoinError>) {
    if let Ok(key) = finished {
        held.remove(&key);
    }
}

/// The span an attempt runs in (feature `tracing`): named `verihook.attempt`, with the
/// event's key, sender, attempt number, ordering key and replay reason, and the trace context
/// the request carried: the first attempt is the request's child (`trace_id`, `parent_id`),
/// later ones link to it (`trace_id`, `link_id`), so a tracing backend that reads these fields
/// shows every retry in the request's trace.
#[cfg(feature = "tracing")]
fn attempt_span(leased: &Leased) -> tracing::Span {
    let entry = &leased.entry;
    let context = entry.traceparent.as_deref().and_then(|t| {
        let mut parts = t.split('-').skip(1);
        Some((parts.next()?, parts.next()?))
    });
    let (trace_id, parent) = context.unzip();
    let first = leased.attempt <= 1 && leased.replay_reason.is_none();
    tracing::info_span!(
        target: "verihook",
        "verihook.attempt",
        key = entry.key.as_str(),
        sender = entry.sender.as_str(),
        attempt = leased.attempt,
        ordering_key = entry.ordering_key.as_deref(),
        replay = leased.replay_reason.as_deref(),
        trace_id,
        parent_id = parent.filter(|_| first),
        link_id = parent.filter(|_| !first),
    )
}

/// How often a running worker reads the inbox's depth into the gauges.
#[cfg(feature = "metrics")]
const DEPTH_EVERY: Duration = Duration::from_secs(15);

/// The fate of an event settled without a retry: done, or done without a route.
fn settled(handled: Handled) -> Fate {
    match handled {
        Handled::Unrouted(unrouted) => Fate::Unrouted {
            event_type: unrouted.event_type,
        },
        _ => Fate::Done,
    }
}

impl Fate {
    /// The result label of the handler-duration metric.
    fn code(&self) -> &'static str {
        match self {
            Self::Done => "processed",
            Self::Retry { .. } => "retry",
            Self::Dead { .. } => "dead",
            Self::Lost => "lost",
            Self::Unrouted { .. } => "unrouted",
            Self::Superseded { .. } => "superseded",
        }
    }
}

/// Records one attempt as a `tracing` event (with the `tracing` feature).
fn trace(attempt: &Attempt) {
    #[cfg(feature = "tracing")]
    {
        use crate::observe::Capped;
        let (key, sender, number) = (
            attempt.key.as_str(),
            attempt.sender.as_str(),
            attempt.number,
        );
        match &attempt.fate {
            Fate::Done => tracing::info!(
                target: "verihook", key, sender, attempt = number, "inbox event processed"
            ),
            Fate::Retry { delay, error } => tracing::warn!(
                target: "verihook", key, sender, attempt = number,
                next_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                error = %Capped(error), "inbox event failed; retry scheduled"
            ),
            Fate::Dead { error } => tracing::error!(
                target: "verihook", key, sender, attempt = number, error = %Capped(error),
                "inbox event failed its last attempt; now a dead letter"
            ),
            Fate::Lost => tracing::warn!(
                target: "verihook", key, sender, attempt = number,
                "inbox event's lease was lost before its result was recorded; it runs again"
            ),
            Fate::Superseded { stamp, applied } => tracing::info!(
                target: "verihook", key, sender, attempt = number, stamp, applied,
                "inbox event superseded: a newer event of its ordering key was applied"
            ),
            Fate::Unrouted { event_type } => tracing::warn!(
                target: "verihook", key, sender, attempt = number,
                event_type = %Capped(event_type.as_deref().unwrap_or("")),
                "inbox event done without a route for its type"
            ),
        }
    }
    #[cfg(not(feature = "tracing"))]
    let _ = attempt;
}

/// A well-mixed 64-bit value for the backoff's jitter (not a secret: it only spreads retries).
fn jitter(key: &str, attempt: u32) -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write(key.as_bytes());
    hasher.write_u32(attempt);
    hasher.finish()
}

impl WorkerBuilder {
    /// The app's handler: the same signature as the inline [`Receiver`](crate::Receiver)'s, so
    /// moving to the inbox changes no handler. [`Delivery::attempt`] says which attempt this is.
    pub fn handler<F, Fut>(mut self, handler: F) -> Self
    where
        F: Fn(Delivery) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
    {
        self.handler = Some(Handler::from_fn(handler));
        self
    }

    /// Calls `observe` after each attempt with what became of it (done, retry and when, dead
    /// letter, lost lease): for the app's logs and metrics. With the `tracing` feature the
    /// worker also records each as a `tracing` event (target `verihook`).
    pub fn on_attempt(mut self, observe: impl Fn(&Attempt) + Send + Sync + 'static) -> Self {
        self.observer = Some(Arc::new(observe));
        self
    }

    /// Routes each event by its type to the [`EventRouter`]'s handlers (instead of one
    /// [`handler`](Self::handler)): an event no route takes is done and reported
    /// ([`Fate::Unrouted`]) by the default [`UnroutedPolicy`](crate::router::UnroutedPolicy), else
    /// retried; a payload that does not fit its route's type becomes a dead letter at once,
    /// since retrying the same bytes cannot help.
    pub fn router(mut self, router: EventRouter) -> Self {
        if let Err(error) = router.check() {
            self.error.get_or_insert(error);
        }
        let router = Arc::new(router);
        self.handler = Some(Handler::new(move |delivery| router.run(delivery)));
        self
    }

    /// How many handlers run at once in this worker (default 4, at least 1).
    pub fn concurrency(mut self, handlers: usize) -> Self {
        self.concurrency = handlers.max(1);
        self
    }

    /// How long a leased event is held before another worker may take it (default 5 minutes,
    /// at least 30 ms); the heartbeat extends it every third while the handler runs.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease.clamp(Duration::from_millis(30), MAX_HOLD);
        self
    }

    /// The retry delays (default: 1 s doubling up to 1 hour, full jitter); a base or cap past
    /// [`MAX_HOLD`] counts as `MAX_HOLD`.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        // Delays past what an inbox holds are shortened as the inbox would shorten them.
        self.backoff = Backoff {
            base: backoff.base.min(MAX_HOLD),
            cap: backoff.cap.min(MAX_HOLD),
        };
        self
    }

    /// How many attempts an event gets before it becomes a dead letter (default 8, at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// How old an event may get and still be retried (default 3 days): a failure after that
    /// makes it a dead letter.
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age = age.min(super::MAX_PURGE_AGE);
        self
    }

    /// How long done entries are kept to answer redeliveries `duplicate` (default 3 days, at
    /// most [`MAX_HOLD`]).
    pub fn retain(mut self, retain: Duration) -> Self {
        self.retain = retain.min(MAX_HOLD);
        self
    }

    /// Removes settled entries as `retention` says, per sender and event type, once a
    /// minute (instead of [`retain`](Self::retain), which then no longer applies).
    pub fn retention(mut self, retention: Retention) -> Self {
        self.retention = Some(retention);
        self
    }

    /// Turns on the stale-event guard: an event whose [stamp](super::Entry::stamp) is older
    /// than the newest one already applied for its ordering key is settled as
    /// [`Fate::Superseded`] without running the handler (counted under the `superseded`
    /// result and logged). Off by default: turn it on when the handler applies an object's
    /// state (a subscription's status), not when every event counts (a ledger). Replays always
    /// run.
    pub fn stale_guard(mut self, on: bool) -> Self {
        self.stale_guard = on;
        self
    }

    /// How often an idle worker looks for retries that came due and leases that ran out
    /// (default 1 second, at least 1 ms, at most an hour). New events wake it at once,
    /// whatever this is.
    pub fn poll_interval(mut self, every: Duration) -> Self {
        self.poll = every.clamp(Duration::from_millis(1), Duration::from_secs(60 * 60));
        self
    }

    /// The worker.
    ///
    /// # Errors
    ///
    /// [`ConfigError::NoHandler`] without a handler or router; a router's
    /// [`ConfigError::DuplicateRoute`] or [`ConfigError::BadRoute`].
    pub fn build(self) -> Result<Worker, ConfigError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        Ok(Worker {
            inbox: self.inbox,
            handler: self.handler.ok_or(ConfigError::NoHandler)?,
            observer: self.observer,
            concurrency: self.concurrency,
            lease: self.lease,
            backoff: self.backoff,
            max_attempts: self.max_attempts,
            max_age: self.max_age,
            retain: self.retain,
            retention: self.retention,
            stale_guard: self.stale_guard,
            idle_wait: self.poll,
        })
    }
}

impl fmt::Debug for Worker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker")
            .field("inbox", &self.inbox)
            .field("concurrency", &self.concurrency)
            .field("lease", &self.lease)
            .field("backoff", &self.backoff)
            .field("max_attempts", &self.max_attempts)
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for WorkerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerBuilder")
            .field("inbox", &self.inbox)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_jitters_below_the_ceiling() {
        let backoff = Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
        };
        let ceilings: Vec<u128> = (1..=6).map(|n| backoff.ceiling(n).as_millis()).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff.ceiling(u32::MAX), Duration::from_secs(1));
        for attempt in 1..=40 {
            for jitter in [0, 1, 99, 100, 101, u64::MAX] {
                assert!(backoff.delay(attempt, jitter) <= backoff.ceiling(attempt));
            }
        }
        assert_eq!(backoff.delay(1, 100), Duration::from_millis(100));
        assert_eq!(backoff.delay(1, 101), Duration::ZERO);
    }
}
