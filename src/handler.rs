//! What an app's handler gets (a [`Delivery`]) and returns (a [`HandlerError`] when it fails),
//! and how long a claim is leased ([`DEFAULT_LEASE`]) and a processed event remembered
//! ([`DEFAULT_RETAIN`]).
//!
//! The inline [`Receiver`](crate::Receiver), the inbox `Worker` and a direct
//! [`EventRouter`](crate::EventRouter) call all go through here, so an event settles the same
//! way whichever drives it.

// The handler contract both pipelines share: what a run came to (`Handled`), running it under a
// lease (heartbeat, panic caught) and what each result means for the claim or inbox entry it ran
// under (`Settle`).

use std::any::Any;
use std::error::Error;
use std::fmt;
use std::future::{poll_fn, Future};
use std::ops::Deref;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::{pin, Pin};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use crate::error::PayloadError;
use crate::event::{Event, RouteKey};
use crate::idempotency::ClaimToken;

/// The default lease: how long one worker may hold an event before another may take it over.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(5 * 60);
/// The default retention of done keys: Stripe retries for up to 3 days, Svix for about 1.5.
pub const DEFAULT_RETAIN: Duration = Duration::from_secs(3 * 24 * 60 * 60);

/// What a handler returns when it fails: any error. The claim is released and the provider's
/// retry is processed.
pub type HandlerError = Box<dyn Error + Send + Sync>;

/// A verified event handed to the app's handler, with the claim it runs under.
///
/// Derefs to [`Event`]. [`key`](Self::key) and [`token`](Self::token) let a handler mark the
/// event done inside its own database transaction (see `PostgresStore::complete_in`).
#[derive(Clone)]
pub struct Delivery {
    event: Event,
    key: String,
    token: ClaimToken,
    attempt: u32,
    /// The route key, read once on first use: an inbox entry brings the one the receiver read,
    /// otherwise `read_route_key` reads it from the event. Read lazily so that a plain handler,
    /// which never routes, never pays for it.
    route_key: OnceLock<Option<RouteKey>>,
    /// The sender's route-key reader (passed in, so that this contract knows no provider).
    read_route_key: fn(&Event) -> Option<RouteKey>,
    /// Where the inbox ordered it: its ordering key and stamp, and the request's trace context.
    /// Empty inline.
    order: Order,
}

/// What an inbox entry adds to its delivery: the event's place in its ordering key's order and
/// the trace context of the request that delivered it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Order {
    pub(crate) ordering_key: Option<String>,
    pub(crate) stamp: Option<u64>,
    pub(crate) traceparent: Option<String>,
}

impl Delivery {
    /// A delivery whose route key `read_route_key` reads from the event when first asked for.
    pub(crate) fn new(
        event: Event,
        key: String,
        token: ClaimToken,
        attempt: u32,
        read_route_key: fn(&Event) -> Option<RouteKey>,
    ) -> Self {
        Self {
            event,
            key,
            token,
            attempt,
            route_key: OnceLock::new(),
            read_route_key,
            order: Order::default(),
        }
    }

    /// With the ordering and trace context its inbox entry carries.
    #[cfg(feature = "inbox")]
    pub(crate) fn with_order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }

    /// With the route key already known (the one the receiver read, as an inbox entry keeps
    /// it); `None` leaves it to be read from the event.
    #[cfg(feature = "inbox")]
    pub(crate) fn with_route_key(self, route_key: Option<RouteKey>) -> Self {
        if let Some(route_key) = route_key {
            // A fresh delivery's cell is empty: this cannot lose a key already read.
            let _ = self.route_key.set(Some(route_key));
        }
        self
    }

    /// Which attempt this is: always 1 inline (the provider's redelivery is a new request);
    /// counted by the inbox for its [`Worker`](crate::inbox::Worker)s, 1 for the first.
    #[must_use]
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The idempotency key this event was claimed under (`<sender>:<id>`, see
    /// [`Event::idempotency_key`]).
    #[must_use]
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The token that holds the claim.
    #[must_use]
    pub fn token(&self) -> &ClaimToken {
        &self.token
    }

    /// The verified event.
    #[must_use]
    pub fn event(&self) -> &Event {
        &self.event
    }

    /// The key an [`EventRouter`](crate::EventRouter) routes this event by
    /// (`pull_request.opened`, `invoice.paid`); `None` for an event without a type.
    #[must_use]
    pub fn route_key(&self) -> Option<&RouteKey> {
        self.route_key
            .get_or_init(|| (self.read_route_key)(&self.event))
            .as_ref()
    }

    /// The key that orders this event among others of the same object (`sub_1Nx`,
    /// `octo/app#12`), as the inbox stored it (see `inbox::Entry::ordering_key`): the inbox
    /// runs one event of a key at a time. `None` inline, and for events kept in no order.
    #[must_use]
    pub fn ordering_key(&self) -> Option<&str> {
        self.order.ordering_key.as_deref()
    }

    /// The provider's own order for the event in milliseconds since the Unix epoch (Stripe's
    /// `created`), as the inbox stored it. `None` inline, and when the provider gives none.
    #[must_use]
    pub fn stamp(&self) -> Option<u64> {
        self.order.stamp
    }

    /// The W3C `traceparent` of the request that delivered the event, as the inbox stored it
    /// (only a well-formed value is kept). `None` inline.
    #[must_use]
    pub fn traceparent(&self) -> Option<&str> {
        self.order.traceparent.as_deref()
    }

    /// Takes the event out.
    #[must_use]
    pub fn into_event(self) -> Event {
        self.event
    }
}

impl Deref for Delivery {
    type Target = Event;

    fn deref(&self) -> &Event {
        &self.event
    }
}

impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("event", &self.event)
            .field("key", &self.key)
            .field("token", &self.token)
            .field("attempt", &self.attempt)
            .field("route_key", &self.route_key.get().and_then(Option::as_ref))
            .field("ordering_key", &self.order.ordering_key)
            .field("stamp", &self.order.stamp)
            .finish()
    }
}

/// An event no route of an [`EventRouter`](crate::EventRouter) takes: its route key, and whether
/// the router acknowledges such events (its [`UnroutedPolicy`](crate::router::UnroutedPolicy)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unrouted {
    pub(crate) event_type: Option<String>,
    pub(crate) acknowledged: bool,
}

impl Unrouted {
    /// The event's route key (`None` when the event carries no type).
    #[must_use]
    pub fn event_type(&self) -> Option<&str> {
        self.event_type.as_deref()
    }

    /// Whether the event is acknowledged.
    #[must_use]
    pub fn acknowledged(&self) -> bool {
        self.acknowledged
    }
}

impl fmt::Display for Unrouted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.event_type {
            Some(event_type) => write!(f, "no route takes event type {event_type:?}"),
            None => f.write_str("the event has no type and there is no fallback route"),
        }
    }
}

impl Error for Unrouted {}

/// What running the app's handler (or router) on one delivery came to.
#[derive(Debug)]
#[non_exhaustive]
pub enum Handled {
    /// It took effect.
    Processed,
    /// No route takes the event's type.
    Unrouted(Unrouted),
    /// The payload does not fit the type its route (or handler) expects: retrying the same
    /// bytes cannot help.
    Misfit(PayloadError),
    /// The handler returned an error or panicked: a retry may succeed.
    Failed(HandlerError),
}

impl Handled {
    /// What a handler's own result means. Its error keeps the meaning of verihook's own kinds:
    /// a [`PayloadError`] (from [`Event::json`] or an extractor) is a misfit, and an
    /// [`Unrouted`] (which the deprecated `EventRouter::dispatch` returns) is unrouted; any other
    /// error is a failure.
    pub(crate) fn from_result(result: Result<(), HandlerError>) -> Self {
        let error = match result {
            Ok(()) => return Self::Processed,
            Err(error) => error,
        };
        match error.downcast::<PayloadError>() {
            Ok(misfit) => Self::Misfit(*misfit),
            Err(error) => match error.downcast::<Unrouted>() {
                Ok(unrouted) => Self::Unrouted(*unrouted),
                Err(error) => Self::Failed(error),
            },
        }
    }

    /// The result as a plain handler's, for the deprecated `EventRouter::dispatch`.
    pub(crate) fn into_result(self) -> Result<(), HandlerError> {
        match self {
            Self::Processed => Ok(()),
            Self::Unrouted(unrouted) => Err(Box::new(unrouted)),
            Self::Misfit(error) => Err(Box::new(error)),
            Self::Failed(error) => Err(error),
        }
    }

    /// What becomes of the claim or inbox entry the event ran under. `route_key_signed` says
    /// whether the signature covers the route key ([`Signed::route_key`](crate::event::Signed::route_key)).
    pub(crate) fn settle(&self, route_key_signed: bool) -> Settle {
        match self {
            Self::Processed => Settle::Complete,
            // Done only when the signature covers the route key: a type from an unsigned header
            // (GitHub's, Shopify's) could be forged on a replay that races the genuine delivery,
            // which must then still run.
            Self::Unrouted(unrouted) if unrouted.acknowledged && route_key_signed => {
                Settle::Complete
            }
            Self::Unrouted(unrouted) if unrouted.acknowledged => Settle::Forget,
            Self::Misfit(_) => Settle::Refuse,
            Self::Unrouted(_) | Self::Failed(_) => Settle::Retry,
        }
    }
}

impl fmt::Display for Handled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Processed => f.write_str("processed"),
            Self::Unrouted(unrouted) => unrouted.fmt(f),
            Self::Misfit(error) => error.fmt(f),
            Self::Failed(error) => error.fmt(f),
        }
    }
}

/// What becomes of the claim (inline) or inbox entry (worker) an event ran under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Settle {
    /// Mark it done: a redelivery is a duplicate.
    Complete,
    /// Let it go unmarked, so that a later delivery runs: inline the claim is released, in the
    /// inbox the entry is removed.
    Forget,
    /// The same bytes will never do: inline the claim is released (the provider's retries meet
    /// the same answer), in the inbox the entry becomes a dead letter at once.
    Refuse,
    /// A retry may succeed: inline the claim is released for the provider's retry, in the inbox
    /// the entry is retried after a backoff (or buried after its last attempt).
    Retry,
}

type HandledFuture = Pin<Box<dyn Future<Output = Handled> + Send>>;

/// The app's handler as both pipelines hold it: a plain function or a router.
#[derive(Clone)]
pub(crate) struct Handler(Arc<dyn Fn(Delivery) -> HandledFuture + Send + Sync>);

impl Handler {
    /// An app's function, its result read by [`Handled::from_result`].
    pub(crate) fn from_fn<F, Fut>(handler: F) -> Self
    where
        F: Fn(Delivery) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
    {
        Self(Arc::new(move |delivery| {
            let future = handler(delivery);
            Box::pin(async move { Handled::from_result(future.await) })
        }))
    }

    /// A function that says what it came to itself (a router's [`run`](crate::EventRouter::run)).
    pub(crate) fn new<F, Fut>(handler: F) -> Self
    where
        F: Fn(Delivery) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Handled> + Send + 'static,
    {
        Self(Arc::new(move |delivery| Box::pin(handler(delivery))))
    }

    /// Runs the handler on `delivery` under its lease: `extend` renews the lease every third of
    /// `lease` while the handler runs, so a redelivery never runs beside a slow handler. A
    /// panic (while the handler builds its future or polls it) becomes [`Handled::Failed`]
    /// instead of unwinding the server or worker.
    ///
    /// The handler is called here, when this is called (it only builds its boxed future), so
    /// the returned future holds that box and not the delivery: not an `async fn`, whose state
    /// would keep a copy of the delivery for the whole run, and requests' futures are moved
    /// whole.
    pub(crate) fn run_under_lease<B, BeatFuture>(
        &self,
        delivery: Delivery,
        lease: Duration,
        extend: B,
    ) -> impl Future<Output = Handled>
    where
        B: FnMut() -> BeatFuture,
        BeatFuture: Future<Output = ()>,
    {
        let started = catch_unwind(AssertUnwindSafe(|| (self.0)(delivery)));
        let run = async move {
            match started {
                Ok(future) => CatchUnwind(future)
                    .await
                    .unwrap_or_else(|panic| Handled::Failed(panic_error(&*panic))),
                Err(panic) => Handled::Failed(panic_error(&*panic)),
            }
        };
        with_heartbeat(run, beat_interval(lease), extend)
    }
}

/// Polls the handler's future, turning a panic into an error instead of unwinding the server.
struct CatchUnwind(HandledFuture);

impl Future for CatchUnwind {
    type Output = Result<Handled, Box<dyn Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match catch_unwind(AssertUnwindSafe(|| self.0.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(handled)) => Poll::Ready(Ok(handled)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

fn panic_error(panic: &(dyn Any + Send)) -> HandlerError {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string payload".to_owned());
    format!("handler panicked: {message}").into()
}

/// Runs `work`, and calls `beat` every `every` while it runs, when this task runs on a Tokio
/// runtime (the timer needs one; Axum, Actix-web and `#[tokio::main]` all provide it).
/// Elsewhere `work` runs alone. The work is polled first each time, so it finishes without
/// waiting for a beat; a beat in progress delays the work's next poll by one store call.
async fn with_heartbeat<T, B, BeatFuture>(
    work: impl Future<Output = T>,
    every: Duration,
    mut beat: B,
) -> T
where
    B: FnMut() -> BeatFuture,
    BeatFuture: Future<Output = ()>,
{
    let mut work = pin!(work);
    // Most handlers finish at their first poll (or soon after): look before setting a timer.
    if let Poll::Ready(output) = poll_fn(|cx| Poll::Ready(work.as_mut().poll(cx))).await {
        return output;
    }
    if tokio::runtime::Handle::try_current().is_err() {
        return work.await;
    }
    loop {
        let mut sleep = pin!(tokio::time::sleep(every));
        let finished = poll_fn(|cx| {
            if let Poll::Ready(output) = work.as_mut().poll(cx) {
                return Poll::Ready(Some(output));
            }
            sleep.as_mut().poll(cx).map(|()| None)
        })
        .await;
        match finished {
            Some(output) => return output,
            None => beat().await,
        }
    }
}

/// How often to extend a lease: every third of it, so that two beats can be late before it
/// ends.
fn beat_interval(lease: Duration) -> Duration {
    (lease / 3).max(Duration::from_millis(10))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn unrouted(acknowledged: bool) -> Handled {
        Handled::Unrouted(Unrouted {
            event_type: Some("invoice.paid".to_owned()),
            acknowledged,
        })
    }

    #[test]
    fn an_unrouted_event_is_done_only_when_its_route_key_is_signed() {
        assert_eq!(unrouted(true).settle(true), Settle::Complete);
        assert_eq!(unrouted(true).settle(false), Settle::Forget);
        assert_eq!(unrouted(false).settle(true), Settle::Retry);
        assert_eq!(unrouted(false).settle(false), Settle::Retry);
    }

    #[test]
    fn a_processed_event_completes_and_a_failure_is_retried_whatever_was_signed() {
        for signed in [true, false] {
            assert_eq!(Handled::Processed.settle(signed), Settle::Complete);
            assert_eq!(Handled::Failed("down".into()).settle(signed), Settle::Retry);
        }
    }

    #[test]
    fn a_handlers_error_keeps_the_meaning_of_verihooks_own_kinds() {
        let misfit = PayloadError::new(serde_json::from_slice::<u64>(b"\"x\"").unwrap_err());
        assert!(matches!(
            Handled::from_result(Err(Box::new(misfit))),
            Handled::Misfit(_)
        ));
        assert!(matches!(
            Handled::from_result(Err(Box::new(Unrouted {
                event_type: None,
                acknowledged: true
            }))),
            Handled::Unrouted(_)
        ));
        assert!(matches!(
            Handled::from_result(Err("database down".into())),
            Handled::Failed(_)
        ));
        assert!(matches!(Handled::from_result(Ok(())), Handled::Processed));
        let back = unrouted(true).into_result().unwrap_err();
        assert!(matches!(Handled::from_result(Err(back)), Handled::Unrouted(u) if u.acknowledged));
    }
}
