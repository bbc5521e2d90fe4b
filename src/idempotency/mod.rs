//! Exactly-once processing: a claim-based idempotency store.
//!
//! Providers deliver each event *at least* once: they retry after a timeout or a 5xx for hours or
//! days, and sometimes send the same event to two replicas at the same instant. A store makes the
//! handler take effect once per event without ever losing one:
//!
//! 1. [`claim`](IdempotencyStore::claim) atomically answers [`Claim::Acquired`] (you process it),
//!    [`Claim::InFlight`] (another worker holds a lease on it) or [`Claim::Done`].
//! 2. The winner runs the handler, then calls [`complete`](IdempotencyStore::complete) on
//!    success (the key is remembered as done for `retain`) or
//!    [`release`](IdempotencyStore::release) on failure (the provider's retry is processed).
//! 3. A claim is a lease: if its holder crashes, the lease expires and a redelivery is processed.
//!    `complete` and `release` act only while the token still holds the claim, so a worker whose
//!    lease expired can neither mark the event done nor erase a newer claim.
//!
//! Every operation is one atomic step on the backend, never a read followed by a write.
//!
//! | store | use it when | guarantees |
//! |---|---|---|
//! | [`MemoryStore`] | one process | exactly-once within the process; bounded memory; forgotten on restart |
//! | `RedisStore` (feature `redis`) | several replicas share a Redis | one round trip per operation; survives app restarts as long as Redis keeps its data |
//! | `PostgresStore` (feature `postgres`) | several replicas share a database | durable; the done mark can commit in the app's own transaction |
//!
//! ```
//! use std::time::Duration;
//! use verihook::idempotency::{Claim, IdempotencyStore, MemoryStore};
//! # async fn demo() -> Result<(), verihook::idempotency::StoreError> {
//! let store = MemoryStore::new();
//! let lease = Duration::from_secs(60);
//! let Claim::Acquired(token) = store.claim("stripe:evt_1", lease).await? else { unreachable!() };
//! assert!(matches!(store.claim("stripe:evt_1", lease).await?, Claim::InFlight));
//! store.complete("stripe:evt_1", &token, Duration::from_secs(3 * 86_400)).await?;
//! assert!(matches!(store.claim("stripe:evt_1", lease).await?, Claim::Done));
//! # Ok(()) }
//! # futures_lite_block_on(demo()).unwrap();
//! # fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     let mut f = std::pin::pin!(f);
//! #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
//! #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
//! # }
//! ```

mod memory;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
#[cfg(feature = "redis")]
mod redis;

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use memory::{MemoryStore, DEFAULT_CAPACITY};
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use postgres::PostgresStore;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis::RedisStore;

/// What [`IdempotencyStore::claim`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Claim {
    /// The caller now holds the claim and must process the event, then `complete` or `release`.
    Acquired(ClaimToken),
    /// Another worker holds an unexpired lease on this event.
    InFlight,
    /// The event was processed and is still remembered.
    Done,
}

/// The longest token text [`ClaimToken::parse`] takes.
pub(crate) const TOKEN_CAPACITY: usize = 64;

/// The longest token text [`ClaimToken::parse`] takes: a storage detail, no longer public.
#[deprecated(note = "a storage detail: ClaimToken::parse takes 1 to 64 ASCII characters")]
#[doc(hidden)]
pub const MAX_TOKEN_LEN: usize = TOKEN_CAPACITY;

/// How many random and counter bytes a generated token is written from.
pub(crate) const GENERATED_BYTES: usize = 16;
/// The length of a generated token's text: two hex digits per byte.
const GENERATED_LEN: usize = 2 * GENERATED_BYTES;

/// Proof of holding a claim: `complete` and `release` act only while it still matches.
///
/// Held inline (no heap allocation), so copying one is free.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClaimToken {
    len: u8,
    text: [u8; TOKEN_CAPACITY],
}

impl ClaimToken {
    /// A new token, unique across processes and machines: 64 random bits drawn once per
    /// process (from the OS-seeded keys of `RandomState`, the process id and the start time)
    /// followed by a 64-bit counter, as 32 hex digits. No system call, no allocation.
    #[must_use]
    pub fn generate() -> Self {
        Self::generate_with_bytes().0
    }

    /// A new token and the 16 bytes its text was written from, which a store may keep instead
    /// of the text (see [`is_written_from`](Self::is_written_from)).
    pub(crate) fn generate_with_bytes() -> (Self, [u8; GENERATED_BYTES]) {
        static PROCESS: OnceLock<u64> = OnceLock::new();
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let process = *PROCESS.get_or_init(|| {
            let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
            hasher.write_u32(std::process::id());
            hasher.write_u128(
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos()),
            );
            hasher.finish()
        });
        let count = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut bytes = [0u8; GENERATED_BYTES];
        bytes[..8].copy_from_slice(&process.to_be_bytes());
        bytes[8..].copy_from_slice(&count.to_be_bytes());
        let mut text = [0u8; TOKEN_CAPACITY];
        // 16 bytes always fit 32 hex digits.
        let _ = const_hex::encode_to_slice(bytes, &mut text[..GENERATED_LEN]);
        let token = Self {
            len: GENERATED_LEN as u8,
            text,
        };
        (token, bytes)
    }

    /// Whether this token's text is exactly the one [`generate_with_bytes`] wrote from
    /// `bytes` (lowercase hex: `AB..` is not the token `ab..`).
    ///
    /// [`generate_with_bytes`]: Self::generate_with_bytes
    pub(crate) fn is_written_from(&self, bytes: &[u8; GENERATED_BYTES]) -> bool {
        let mut text = [0u8; GENERATED_LEN];
        // 16 bytes always fit 32 hex digits.
        let _ = const_hex::encode_to_slice(bytes, &mut text);
        self.text[..usize::from(self.len)] == text
    }

    /// Rebuilds a token from its text (for example one kept in the app's own database):
    /// `None` unless it is 1 to 64 ASCII characters.
    #[must_use]
    pub fn parse(token: &str) -> Option<Self> {
        let bytes = token.as_bytes();
        if bytes.is_empty() || bytes.len() > TOKEN_CAPACITY || !token.is_ascii() {
            return None;
        }
        let mut text = [0u8; TOKEN_CAPACITY];
        text[..bytes.len()].copy_from_slice(bytes);
        Some(Self {
            len: u8::try_from(bytes.len()).ok()?,
            text,
        })
    }

    /// The token's text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored, so this never falls back.
        std::str::from_utf8(&self.text[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl fmt::Debug for ClaimToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClaimToken({})", self.as_str())
    }
}

/// Why a store operation failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend could not be reached or answered with an error.
    Unavailable {
        /// The backend's error.
        source: Box<dyn Error + Send + Sync>,
    },
    /// `complete` or `release` with a token that no longer holds the claim: the lease expired
    /// (and perhaps another worker took the event over). Nothing was changed.
    LeaseLost,
    /// The memory store is full of live claims and done keys; it refuses a new claim rather
    /// than forget one.
    Full {
        /// The configured maximum number of entries.
        capacity: usize,
    },
    /// A store connector could not reach its server at start-up (`RedisStore::connect`,
    /// `PostgresStore::connect`). The message names the server and the cause, e.g. `cannot
    /// connect to PostgreSQL at postgres://app:***@db:5433/app: Connection refused`.
    Connect {
        /// `"Redis"` or `"PostgreSQL"`.
        backend: &'static str,
        /// The URL it was given, with any password replaced by `***`.
        address: String,
        /// Why, as the driver said it.
        source: Box<dyn Error + Send + Sync>,
    },
}

impl StoreError {
    /// Wraps a backend error.
    pub fn unavailable(source: impl Into<Box<dyn Error + Send + Sync>>) -> Self {
        Self::Unavailable {
            source: source.into(),
        }
    }

    /// A connector's failure to reach `url`, naming it without its password.
    #[cfg(any(feature = "redis", feature = "postgres"))]
    pub(crate) fn connect(
        backend: &'static str,
        url: &str,
        source: impl Into<Box<dyn Error + Send + Sync>>,
    ) -> Self {
        Self::Connect {
            backend,
            address: redact_password(url),
            source: source.into(),
        }
    }

    /// A stable code: `store_unavailable`, `lease_lost` or `store_full`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unavailable { .. } | Self::Connect { .. } => "store_unavailable",
            Self::LeaseLost => "lease_lost",
            Self::Full { .. } => "store_full",
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unavailable { source } => write!(f, "idempotency store unavailable: {source}"),
            Self::LeaseLost => {
                f.write_str("the claim's lease expired before it was completed or released")
            }
            Self::Full { capacity } => {
                write!(f, "idempotency store is full ({capacity} live entries)")
            }
            Self::Connect {
                backend,
                address,
                source,
            } => {
                // The driver's own chain ("connection refused" is often a few levels down),
                // each cause once, on one line.
                let mut line = source.to_string();
                let mut cause = source.source();
                while let Some(err) = cause {
                    let text = err.to_string();
                    if !line.contains(&text) {
                        line.push_str(": ");
                        line.push_str(&text);
                    }
                    cause = err.source();
                }
                let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
                write!(f, "cannot connect to {backend} at {address}: {line}")
            }
        }
    }
}

impl Error for StoreError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Unavailable { source } | Self::Connect { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

/// `url` with the password of its user part (`user:password@`) and any query parameter whose
/// name holds `password` (`password=`, `sslpassword=`) replaced by `***`, so that it can be
/// shown in an error.
///
/// A password may hold a raw `/`, `?`, `#` or `@` (a URL that was never percent-encoded): the
/// user part is everything between the scheme's `//` and the **last** `@`, whatever it
/// contains. Its name before the first `:` is kept only when it holds none of `/?#&=` (a name
/// cannot, so a `@` further on may be in a password); otherwise all of it is hidden.
#[cfg(any(feature = "redis", feature = "postgres", test))]
fn redact_password(url: &str) -> String {
    let mut shown = String::with_capacity(url.len());
    let rest = match url.split_once("://") {
        Some((scheme, rest)) => {
            shown.push_str(scheme);
            shown.push_str("://");
            rest
        }
        None => url,
    };
    let tail = match rest.rsplit_once('@') {
        Some((user, after)) => {
            match user.split_once(':') {
                Some((name, _password)) if !name.contains(['/', '?', '#', '&', '=']) => {
                    shown.push_str(name);
                    shown.push_str(":***");
                }
                None if !user.contains(['/', '?', '#', '&', '=']) => shown.push_str(user),
                _ => shown.push_str("***"),
            }
            shown.push('@');
            after
        }
        None => rest,
    };
    let (path, query) = match tail.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (tail, None),
    };
    shown.push_str(path);
    let Some(query) = query else {
        return shown;
    };
    shown.push('?');
    for (i, pair) in query.split('&').enumerate() {
        if i > 0 {
            shown.push('&');
        }
        match pair.split_once('=') {
            Some((name, _)) if name.to_ascii_lowercase().contains("password") => {
                shown.push_str(name);
                shown.push_str("=***");
            }
            _ => shown.push_str(pair),
        }
    }
    shown
}

/// A boxed future, as the object-safe [`IdempotencyStore`] returns.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How long the Redis and PostgreSQL connectors wait for their server to answer a connection.
#[cfg(any(feature = "redis", feature = "postgres"))]
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The longest lease or retention any store keeps: 10 years. Longer ones are shortened to it,
/// the same way by every store (PostgreSQL cannot add much more to `now()`).
pub const MAX_HOLD: Duration = Duration::from_secs(10 * 365 * 24 * 60 * 60);

/// A claim-based idempotency store. See the [module docs](self) for the protocol.
///
/// Object-safe: a [`Receiver`](crate::Receiver) holds an `Arc<dyn IdempotencyStore>`, so no
/// store type appears in routes or handlers. Every method is one atomic backend operation.
/// Leases and retentions longer than [`MAX_HOLD`] are shortened to it.
///
/// A store of your own returns boxed futures:
///
/// ```
/// use std::time::Duration;
/// use verihook::idempotency::{BoxFuture, Claim, ClaimToken, IdempotencyStore, MemoryStore, StoreError};
///
/// /// Counts claims, and keeps them in a memory store.
/// #[derive(Debug, Default)]
/// struct Counting { inner: MemoryStore, claims: std::sync::atomic::AtomicUsize }
///
/// impl IdempotencyStore for Counting {
///     fn claim<'a>(&'a self, key: &'a str, lease: Duration) -> BoxFuture<'a, Result<Claim, StoreError>> {
///         self.claims.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
///         self.inner.claim(key, lease)
///     }
///     fn complete<'a>(&'a self, key: &'a str, token: &'a ClaimToken, retain: Duration) -> BoxFuture<'a, Result<(), StoreError>> {
///         self.inner.complete(key, token, retain)
///     }
///     fn release<'a>(&'a self, key: &'a str, token: &'a ClaimToken) -> BoxFuture<'a, Result<(), StoreError>> {
///         self.inner.release(key, token)
///     }
///     fn extend<'a>(&'a self, key: &'a str, token: &'a ClaimToken, lease: Duration) -> BoxFuture<'a, Result<(), StoreError>> {
///         self.inner.extend(key, token, lease)
///     }
/// }
/// let store: std::sync::Arc<dyn IdempotencyStore> = std::sync::Arc::new(Counting::default());
/// ```
pub trait IdempotencyStore: Send + Sync + fmt::Debug {
    /// Claims `key` for `lease`: [`Claim::Acquired`] if it is new, its lease expired or its done
    /// mark was forgotten; otherwise [`Claim::InFlight`] or [`Claim::Done`].
    fn claim<'a>(
        &'a self,
        key: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Claim, StoreError>>;

    /// The claimant finished: remember `key` as done for `retain`.
    ///
    /// Fails with [`StoreError::LeaseLost`], changing nothing, when `token` no longer holds an
    /// unexpired claim. Completing twice with the same token succeeds.
    fn complete<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
        retain: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// The claimant failed: forget the claim so the provider's retry is processed.
    ///
    /// Fails with [`StoreError::LeaseLost`], changing nothing, when `token` no longer holds the
    /// claim.
    fn release<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// The claimant is still working: its lease now ends `lease` from now. The
    /// [`Receiver`](crate::Receiver) calls this every third of the lease while the handler runs
    /// (a heartbeat), so a handler slower than the lease never runs beside a redelivery.
    ///
    /// Fails with [`StoreError::LeaseLost`], changing nothing, when `token` no longer holds an
    /// unexpired claim.
    fn extend<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
        lease: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
}

impl<T: IdempotencyStore + ?Sized> IdempotencyStore for Arc<T> {
    fn claim<'a>(
        &'a self,
        key: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Claim, StoreError>> {
        (**self).claim(key, lease)
    }

    fn complete<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
        retain: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).complete(key, token, retain)
    }

    fn release<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).release(key, token)
    }

    fn extend<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
        lease: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).extend(key, token, lease)
    }
}

/// Implements [`IdempotencyStore`] for a store whose inherent `claim_async`, `complete_async`,
/// `release_async` and `extend_async` do the work.
#[cfg(any(feature = "redis", feature = "postgres"))]
macro_rules! boxed_store {
    ($store:ty) => {
        impl IdempotencyStore for $store {
            fn claim<'a>(
                &'a self,
                key: &'a str,
                lease: Duration,
            ) -> super::BoxFuture<'a, Result<Claim, StoreError>> {
                Box::pin(self.claim_async(key, lease))
            }

            fn complete<'a>(
                &'a self,
                key: &'a str,
                token: &'a ClaimToken,
                retain: Duration,
            ) -> super::BoxFuture<'a, Result<(), StoreError>> {
                Box::pin(self.complete_async(key, token, retain))
            }

            fn release<'a>(
                &'a self,
                key: &'a str,
                token: &'a ClaimToken,
            ) -> super::BoxFuture<'a, Result<(), StoreError>> {
                Box::pin(self.release_async(key, token))
            }

            fn extend<'a>(
                &'a self,
                key: &'a str,
                token: &'a ClaimToken,
                lease: Duration,
            ) -> super::BoxFuture<'a, Result<(), StoreError>> {
                Box::pin(self.extend_async(key, token, lease))
            }
        }
    };
}
#[cfg(any(feature = "redis", feature = "postgres"))]
use boxed_store;

#[cfg(any(feature = "redis", feature = "postgres"))]
/// `Ok` when the token-checked operation changed its row or key, else [`StoreError::LeaseLost`].
pub(crate) fn token_held(changed: bool) -> Result<(), StoreError> {
    if changed {
        Ok(())
    } else {
        Err(StoreError::LeaseLost)
    }
}

#[cfg(any(feature = "redis", feature = "postgres"))]
/// Milliseconds in `d`, at least 1 (a zero lease or retention would mean "forever" to some
/// backends) and at most [`MAX_HOLD`].
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.min(MAX_HOLD).as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_errors_never_show_a_password() {
        for (url, shown) in [
            (
                "postgres://app:s3cr3t@db:5433/app",
                "postgres://app:***@db:5433/app",
            ),
            ("redis://:s3cr3t@cache:6379/0", "redis://:***@cache:6379/0"),
            ("redis://cache:6379", "redis://cache:6379"),
            ("postgres://app@db/app", "postgres://app@db/app"),
            (
                "postgres://db/app?user=app&password=s3cr3t&sslmode=require",
                "postgres://db/app?user=app&password=***&sslmode=require",
            ),
            ("postgres://a:b:c@d@host/x", "postgres://a:***@host/x"),
            // A password with a raw `/`, `?` or `#`: the authority ends at the last `@`.
            (
                "postgres://app:s3cr3t/p4ss@host/db",
                "postgres://app:***@host/db",
            ),
            (
                "postgres://app:s3cr3t?p4ss@host/db?sslmode=require",
                "postgres://app:***@host/db?sslmode=require",
            ),
            ("redis://:s3cr3t#p4ss@cache:6379", "redis://:***@cache:6379"),
            ("redis://:s3cr3t/p4ss@cache", "redis://:***@cache"),
            // No `:` in the user part, but a `/` or `?` before the `@`: all of it hidden.
            ("postgres://s3cr3t/p4ss@host/db", "postgres://***@host/db"),
            (
                "postgres://host/db?user=app&PASSWORD=s3cr3t#p4ss",
                "postgres://host/db?user=app&PASSWORD=***",
            ),
            ("not a url", "not a url"),
            ("", ""),
        ] {
            assert_eq!(redact_password(url), shown, "{url}");
            let err = StoreError::Connect {
                backend: "PostgreSQL",
                address: redact_password(url),
                source: "Connection refused (os error 111)".into(),
            };
            for shown in [err.to_string(), format!("{err:?}")] {
                assert!(
                    !shown.contains("s3cr3t") && !shown.contains("p4ss"),
                    "{shown}"
                );
            }
            assert_eq!(err.code(), "store_unavailable");
        }
    }

    #[test]
    fn tokens_parse_back_and_refuse_bad_text() {
        let token = ClaimToken::generate();
        assert_eq!(ClaimToken::parse(token.as_str()), Some(token));
        assert_eq!(ClaimToken::parse(""), None);
        assert_eq!(ClaimToken::parse(&"a".repeat(TOKEN_CAPACITY + 1)), None);
        assert_eq!(ClaimToken::parse("tök"), None);
        assert_eq!(
            ClaimToken::parse("abc").map(|t| t.as_str().to_owned()),
            Some("abc".to_owned())
        );
    }

    #[test]
    fn tokens_are_unique() {
        let tokens: std::collections::HashSet<_> =
            (0..10_000).map(|_| ClaimToken::generate()).collect();
        assert_eq!(tokens.len(), 10_000);
        assert!(tokens.iter().all(|t| t.as_str().len() == 32));
    }

    #[test]
    fn a_generated_token_matches_only_its_own_bytes() {
        let (token, bytes) = ClaimToken::generate_with_bytes();
        assert_eq!(const_hex::encode(bytes), token.as_str());
        assert!(token.is_written_from(&bytes));
        let (other, other_bytes) = ClaimToken::generate_with_bytes();
        assert!(!token.is_written_from(&other_bytes));
        assert!(!other.is_written_from(&bytes));
        let parsed = ClaimToken::parse(token.as_str()).unwrap();
        assert!(parsed.is_written_from(&bytes));
        let lower = ClaimToken::parse(&"ab".repeat(16)).unwrap();
        assert!(lower.is_written_from(&[0xab; 16]));
        let upper = ClaimToken::parse(&"AB".repeat(16)).unwrap();
        assert!(!upper.is_written_from(&[0xab; 16]));
        let short = ClaimToken::parse(&token.as_str()[..31]).unwrap();
        assert!(!short.is_written_from(&bytes));
    }

    #[cfg(any(feature = "redis", feature = "postgres"))]
    #[test]
    fn millis_is_bounded() {
        assert_eq!(millis(Duration::ZERO), 1);
        assert_eq!(millis(Duration::from_secs(2)), 2_000);
        assert_eq!(u128::from(millis(Duration::MAX)), MAX_HOLD.as_millis());
    }
}
