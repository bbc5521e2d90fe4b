// The consumer's side: a forwarded message run once per key through an idempotency store.

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use super::Message;
use crate::event::Event;
use crate::handler::{HandlerError, DEFAULT_LEASE, DEFAULT_RETAIN};
use crate::idempotency::{Claim, IdempotencyStore, StoreError};

/// Runs a consumer's handler once per forwarded event, whatever the broker redelivers: each
/// message's [`key`](Message::key) is claimed in an
/// [`IdempotencyStore`](crate::idempotency::IdempotencyStore) (in memory, Redis or PostgreSQL,
/// shared by every instance of the consuming service), marked done when the handler succeeds,
/// and released when it fails, so that the broker's redelivery runs it again.
///
/// Acknowledge the broker's message after [`Consumed::Ran`] and [`Consumed::Duplicate`]; after
/// [`Consumed::InFlight`] (another instance runs it now) or an error, let the broker redeliver
/// it later.
///
/// ```
/// use verihook::forward::{header, Consumed, Consumer, Message};
/// use verihook::idempotency::MemoryStore;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let consumer = Consumer::new(MemoryStore::new()).namespace("billing");
/// let headers = [
///     (header::KEY, "stripe:evt_1"),
///     (header::SENDER, "stripe"),
///     (header::SCHEME, "stripe"),
///     (header::SIGNED, "body,id,type,timestamp"),
/// ];
/// let message = Message::read(headers.iter().map(|(n, v)| (*n, v.as_bytes())), "{}".into())?;
/// for expected in [Consumed::Ran, Consumed::Duplicate] {
///     let consumed = consumer.consume(&message, |event| async move {
///         assert_eq!(event.sender(), "stripe");
///         Ok(())
///     }).await?;
///     assert_eq!(consumed, expected);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct Consumer {
    store: Arc<dyn IdempotencyStore>,
    namespace: Option<String>,
    lease: Duration,
    retain: Duration,
}

/// What [`Consumer::consume`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Consumed {
    /// The handler ran and succeeded: acknowledge the message.
    Ran,
    /// The event was handled before: acknowledge the message without running anything.
    Duplicate,
    /// Another consumer holds the event's claim now: let the broker redeliver it later.
    InFlight,
}

/// Why [`Consumer::consume`] did not settle a message.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConsumeError {
    /// The idempotency store failed: nothing ran.
    Store(StoreError),
    /// The handler failed; its claim was released so that a redelivery runs it again.
    Handler(HandlerError),
}

impl fmt::Display for ConsumeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Store(error) => write!(f, "idempotency store: {error}"),
            Self::Handler(error) => write!(f, "handler failed: {error}"),
        }
    }
}

impl Error for ConsumeError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Store(error) => Some(error),
            Self::Handler(error) => Some(&**error),
        }
    }
}

impl Consumer {
    /// A consumer that claims keys in `store`.
    #[must_use]
    pub fn new(store: impl IdempotencyStore + 'static) -> Self {
        Self::from_arc(Arc::new(store))
    }

    /// A consumer that claims keys in a shared `store`.
    #[must_use]
    pub fn from_arc(store: Arc<dyn IdempotencyStore>) -> Self {
        Self {
            store,
            namespace: None,
            lease: DEFAULT_LEASE,
            retain: DEFAULT_RETAIN,
        }
    }

    /// Claims keys as `<namespace>:<key>`, so that several consuming services can share one
    /// store and each still runs every event once.
    #[must_use]
    pub fn namespace(mut self, namespace: &str) -> Self {
        self.namespace = Some(namespace.to_owned());
        self
    }

    /// How long one consumer may hold an event before another may take it over (extended
    /// every third of it while the handler runs). Default [`DEFAULT_LEASE`].
    #[must_use]
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_millis(30));
        self
    }

    /// How long a handled key is remembered: at least as long as the broker may redeliver.
    /// Default [`DEFAULT_RETAIN`].
    #[must_use]
    pub fn retain(mut self, retain: Duration) -> Self {
        self.retain = retain;
        self
    }

    /// Runs `handler` on the message's event unless its key was handled or is being handled.
    ///
    /// # Errors
    ///
    /// [`ConsumeError::Store`] when the store fails (nothing ran), or the claim ran out while
    /// the handler ran (the handler is stopped: another consumer may hold the event now), and
    /// [`ConsumeError::Handler`] when the handler fails (its claim released).
    pub async fn consume<F, Fut>(
        &self,
        message: &Message,
        handler: F,
    ) -> Result<Consumed, ConsumeError>
    where
        F: FnOnce(Event) -> Fut,
        Fut: Future<Output = Result<(), HandlerError>>,
    {
        let key = match &self.namespace {
            Some(namespace) => format!("{namespace}:{}", message.key),
            None => message.key.clone(),
        };
        let token = match self.store.claim(&key, self.lease).await {
            Ok(Claim::Acquired(token)) => token,
            Ok(Claim::Done) => return Ok(Consumed::Duplicate),
            Ok(Claim::InFlight) => return Ok(Consumed::InFlight),
            Err(error) => return Err(ConsumeError::Store(error)),
        };
        let mut run = pin!(handler(message.to_event()));
        let mut heartbeat = tokio::time::interval(self.lease / 3);
        heartbeat.tick().await;
        let result = loop {
            tokio::select! {
                result = &mut run => break result,
                _ = heartbeat.tick() => {
                    // A claim that ran out may be another consumer's now: stop rather than
                    // run beside it. (A store that cannot be reached is tried again.)
                    if let Err(StoreError::LeaseLost) =
                        self.store.extend(&key, &token, self.lease).await
                    {
                        return Err(ConsumeError::Store(StoreError::LeaseLost));
                    }
                }
            }
        };
        match result {
            Ok(()) => self
                .store
                .complete(&key, &token, self.retain)
                .await
                .map(|()| Consumed::Ran)
                .map_err(ConsumeError::Store),
            Err(error) => {
                let _ = self.store.release(&key, &token).await;
                Err(ConsumeError::Handler(error))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idempotency::{ClaimToken, MemoryStore};
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A store whose claims run out at the first heartbeat.
    #[derive(Debug, Default)]
    struct Lapsing(MemoryStore);

    impl IdempotencyStore for Lapsing {
        fn claim<'a>(
            &'a self,
            key: &'a str,
            lease: Duration,
        ) -> crate::idempotency::BoxFuture<'a, Result<Claim, StoreError>> {
            self.0.claim(key, lease)
        }
        fn complete<'a>(
            &'a self,
            key: &'a str,
            token: &'a ClaimToken,
            retain: Duration,
        ) -> crate::idempotency::BoxFuture<'a, Result<(), StoreError>> {
            self.0.complete(key, token, retain)
        }
        fn release<'a>(
            &'a self,
            key: &'a str,
            token: &'a ClaimToken,
        ) -> crate::idempotency::BoxFuture<'a, Result<(), StoreError>> {
            self.0.release(key, token)
        }
        fn extend<'a>(
            &'a self,
            _: &'a str,
            _: &'a ClaimToken,
            _: Duration,
        ) -> crate::idempotency::BoxFuture<'a, Result<(), StoreError>> {
            Box::pin(std::future::ready(Err(StoreError::LeaseLost)))
        }
    }

    #[tokio::test]
    async fn a_handler_whose_claim_ran_out_is_stopped() {
        let consumer = Consumer::new(Lapsing::default()).lease(Duration::from_millis(60));
        let message = Message::for_tests("stripe:evt_1", "stripe");
        let finished = Arc::new(AtomicBool::new(false));
        let seen = finished.clone();
        let consumed = consumer
            .consume(&message, |_| async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                seen.store(true, Ordering::SeqCst);
                Ok(())
            })
            .await;
        assert!(matches!(
            consumed,
            Err(ConsumeError::Store(StoreError::LeaseLost))
        ));
        assert!(
            !finished.load(Ordering::SeqCst),
            "the handler ran on without its claim"
        );
    }
}
