//! The Redis store: one round trip per operation, shared by every replica.

use std::fmt;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Script;

use super::{
    boxed_store, millis, token_held, Claim, ClaimToken, IdempotencyStore, StoreError,
    CONNECT_TIMEOUT, MAX_HOLD,
};

/// Marks a completed event; a claimed one holds `IN_FLIGHT` followed by the token.
const DONE: &str = "done:";
const IN_FLIGHT: &str = "claim:";
const DEFAULT_PREFIX: &str = "verihook:";

/// Marks the key done for `retain` ms if, and only if, it still holds this token's claim (or
/// this token already completed it).
const COMPLETE: &str = r"
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
elseif v == ARGV[2] then
  return 1
end
return 0";

/// Deletes the key if, and only if, it still holds this token's claim.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0";

/// Moves the claim's expiry if, and only if, it still holds this token's claim.
const EXTEND: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0";

/// An idempotency store in Redis, for apps running several replicas.
///
/// * `claim` is one `SET key claim:<token> NX PX <lease> GET`: it sets the claim only if the key
///   is absent and returns what was there, in one atomic command (Redis 7.0 or later).
/// * `complete` and `release` are one `EVALSHA` of a short Lua script that checks the token and
///   acts in the same atomic step.
/// * Expiry is Redis's own (`PX`): a crashed worker's lease and a done key's retention end
///   without any sweeper.
///
/// Keys are `<prefix><key>`, the prefix `verihook:` by default. What a done key survives is up
/// to Redis's persistence settings: with none, a Redis restart forgets every done key (the next
/// redelivery is processed again).
///
/// ```no_run
/// # async fn demo() -> Result<(), verihook::idempotency::StoreError> {
/// use verihook::idempotency::RedisStore;
/// let store = RedisStore::connect("redis://127.0.0.1:6379").await?.with_prefix("myapp:webhooks:");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    prefix: String,
    complete: Script,
    release: Script,
    extend: Script,
}

impl RedisStore {
    /// Connects to `url` (`redis://[:password@]host:port[/db]`, `rediss://` for TLS when the
    /// `redis` crate has it) and checks the connection once, waiting at most
    /// [`CONNECT_TIMEOUT`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Connect`] when the URL is invalid or Redis cannot be reached; its message
    /// names the URL (password hidden) and the cause:
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use verihook::idempotency::RedisStore;
    /// // Port 1 refuses connections.
    /// let err = RedisStore::connect("redis://:s3cr3t@127.0.0.1:1").await.unwrap_err();
    /// let message = err.to_string();
    /// assert!(message.starts_with("cannot connect to Redis at redis://:***@127.0.0.1:1: "));
    /// assert!(message.to_lowercase().contains("refused"), "{message}");
    /// # });
    /// ```
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(|e| StoreError::connect("Redis", url, e))?;
        let connection = ConnectionManager::new_with_config(client, Self::config())
            .await
            .map_err(|e| StoreError::connect("Redis", url, e))?;
        Ok(Self::from_connection(connection))
    }

    /// Like [`connect`](Self::connect), but connects on first use: the app starts even while
    /// Redis is down, and each operation fails with [`StoreError::Unavailable`] until it is up.
    /// Must be called inside a Tokio runtime.
    ///
    /// # Errors
    ///
    /// [`StoreError::Connect`] when the URL is invalid.
    pub fn connect_lazy(url: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(|e| StoreError::connect("Redis", url, e))?;
        let connection = ConnectionManager::new_lazy_with_config(client, Self::config())
            .map_err(|e| StoreError::connect("Redis", url, e))?;
        Ok(Self::from_connection(connection))
    }

    /// Uses an existing connection manager.
    #[must_use]
    pub fn from_connection(connection: ConnectionManager) -> Self {
        Self {
            connection,
            prefix: DEFAULT_PREFIX.to_owned(),
            complete: Script::new(COMPLETE),
            release: Script::new(RELEASE),
            extend: Script::new(EXTEND),
        }
    }

    /// Puts `prefix` before every key (default `verihook:`).
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    fn config() -> ConnectionManagerConfig {
        ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(1)
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

impl RedisStore {
    async fn claim_async(&self, key: &str, lease: Duration) -> Result<Claim, StoreError> {
        let token = ClaimToken::generate();
        let previous: Option<String> = redis::cmd("SET")
            .arg(self.key(key))
            .arg(format!("{IN_FLIGHT}{}", token.as_str()))
            .arg("NX")
            .arg("PX")
            .arg(millis(lease))
            .arg("GET")
            .query_async(&mut self.connection.clone())
            .await
            .map_err(StoreError::unavailable)?;
        Ok(match previous {
            None => Claim::Acquired(token),
            Some(value) if value.starts_with(DONE) => Claim::Done,
            Some(_) => Claim::InFlight,
        })
    }

    async fn complete_async(
        &self,
        key: &str,
        token: &ClaimToken,
        retain: Duration,
    ) -> Result<(), StoreError> {
        let done: i64 = self
            .complete
            .key(self.key(key))
            .arg(format!("{IN_FLIGHT}{}", token.as_str()))
            .arg(format!("{DONE}{}", token.as_str()))
            .arg(millis(retain))
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(StoreError::unavailable)?;
        token_held(done == 1)
    }

    async fn extend_async(
        &self,
        key: &str,
        token: &ClaimToken,
        lease: Duration,
    ) -> Result<(), StoreError> {
        let extended: i64 = self
            .extend
            .key(self.key(key))
            .arg(format!("{IN_FLIGHT}{}", token.as_str()))
            .arg(millis(lease.min(MAX_HOLD)).max(1))
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(StoreError::unavailable)?;
        token_held(extended == 1)
    }

    async fn release_async(&self, key: &str, token: &ClaimToken) -> Result<(), StoreError> {
        let deleted: i64 = self
            .release
            .key(self.key(key))
            .arg(format!("{IN_FLIGHT}{}", token.as_str()))
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(StoreError::unavailable)?;
        token_held(deleted == 1)
    }
}

boxed_store!(RedisStore);

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}
