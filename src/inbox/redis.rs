//! The Redis inbox: a stream read through a consumer group, entries in hashes, retries and
//! finished entries in sorted sets; every operation one Lua script, atomic on the server.

use std::fmt;
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::Script;
use tokio::sync::Mutex;

use super::{
    bounded_error, hold, stored_route_key, BoxFuture, ClaimToken, DeadLetter, Enqueued, Entry,
    Inbox, InboxStats, Leased, StoreError,
};
use crate::event::Signed;
use crate::idempotency::{token_held, CONNECT_TIMEOUT};

/// Every key shares the hash tag `{inbox}` (or the one given): on a Redis Cluster they live in
/// one slot, as the scripts need.
const DEFAULT_PREFIX: &str = "verihook:{inbox}:";
const GROUP: &str = "workers";

/// Stores each entry whose hash does not exist, and appends its key to the stream.
/// KEYS: stream. ARGV: entry prefix, then 12 values per entry: key, sender, scheme, signed,
/// body, mask (1 id, 2 type, 4 ts, 8 route key), id, type, ts, route key, its kind's length,
/// route key signed (1 or 0). Returns 1 (stored) or 0 per entry.
const ENQUEUE: &str = r"
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local out = {}
for i = 2, #ARGV, 12 do
  local key, entry = ARGV[i], ARGV[1] .. ARGV[i]
  if redis.call('EXISTS', entry) == 1 then
    table.insert(out, 0)
  else
    local msg = redis.call('XADD', KEYS[1], '*', 'key', key)
    local fields = {'sender', ARGV[i + 1], 'scheme', ARGV[i + 2], 'signed', ARGV[i + 3],
      'body', ARGV[i + 4], 'state', 'pending', 'attempts', 0, 'enqueued', now, 'msg', msg}
    local mask = tonumber(ARGV[i + 5])
    if mask % 2 == 1 then table.insert(fields, 'id'); table.insert(fields, ARGV[i + 6]) end
    if math.floor(mask / 2) % 2 == 1 then
      table.insert(fields, 'type'); table.insert(fields, ARGV[i + 7])
    end
    if math.floor(mask / 4) % 2 == 1 then
      table.insert(fields, 'ts'); table.insert(fields, ARGV[i + 8])
    end
    if math.floor(mask / 8) % 2 == 1 then
      table.insert(fields, 'route'); table.insert(fields, ARGV[i + 9])
      table.insert(fields, 'route_kind'); table.insert(fields, ARGV[i + 10])
      table.insert(fields, 'route_signed'); table.insert(fields, ARGV[i + 11])
    end
    redis.call('HSET', entry, unpack(fields))
    table.insert(out, 1)
  end
end
return out
";

/// Moves due retries into the stream, takes over entries whose lease ended (a crashed or
/// stalled worker's), reads new ones, and leases each live entry with a token until now + lease.
/// KEYS: stream, delayed, leases. ARGV: group, consumer, max, lease ms, entry prefix, tokens...
/// Returns 14 values per entry: key, token, attempts, enqueued, sender, scheme, id, type, ts,
/// signed, body, route key, its kind's length, route key signed (missing ones as nil).
const LEASE: &str = r"
local stream, delayed, leases = KEYS[1], KEYS[2], KEYS[3]
local group, consumer, max, lease, prefix = ARGV[1], ARGV[2], tonumber(ARGV[3]),
  tonumber(ARGV[4]), ARGV[5]
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
for _, key in ipairs(redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, 256)) do
  redis.call('ZREM', delayed, key)
  local msg = redis.call('XADD', stream, '*', 'key', key)
  redis.call('HSET', prefix .. key, 'msg', msg)
end
local messages = {}
for _, key in ipairs(redis.call('ZRANGEBYSCORE', leases, '-inf', now, 'LIMIT', 0, max)) do
  local msg = redis.call('HGET', prefix .. key, 'msg')
  redis.call('ZREM', leases, key)
  if msg then
    redis.call('XCLAIM', stream, group, consumer, 0, msg, 'JUSTID')
    table.insert(messages, {msg, {'key', key}})
  end
end
if #messages < max then
  local read = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', max - #messages,
    'STREAMS', stream, '>')
  if read then
    for _, m in ipairs(read[1][2]) do table.insert(messages, m) end
  end
end
local out, next_token = {}, 6
for _, m in ipairs(messages) do
  local msg, key = m[1], m[2][2]
  local entry = prefix .. key
  local state, current = unpack(redis.call('HMGET', entry, 'state', 'msg'))
  if (state == 'pending' or state == 'leased') and current == msg then
    local token = ARGV[next_token]
    next_token = next_token + 1
    local attempts = redis.call('HINCRBY', entry, 'attempts', 1)
    redis.call('HSET', entry, 'state', 'leased', 'token', token)
    redis.call('ZADD', leases, now + lease, key)
    local f = redis.call('HMGET', entry, 'enqueued', 'sender', 'scheme', 'id', 'type', 'ts',
      'signed', 'body', 'route', 'route_kind', 'route_signed')
    for _, v in ipairs({key, token, tostring(attempts), f[1], f[2], f[3], f[4], f[5], f[6], f[7],
      f[8], f[9], f[10], f[11]}) do table.insert(out, v) end
  else
    -- A message left behind (its entry finished, retried or purged): drop it.
    redis.call('XACK', stream, group, msg)
    redis.call('XDEL', stream, msg)
  end
end
return out
";

/// Acts on a leased entry when the token holds it.
/// KEYS: stream, entry, sorted set (done, delayed or dead), leases. ARGV: op, key, token,
/// group, lease or delay ms, error.
const HELD: &str = r"
local op, key, token = ARGV[1], ARGV[2], ARGV[3]
local state, held, msg = unpack(redis.call('HMGET', KEYS[2], 'state', 'token', 'msg'))
if held ~= token then return 0 end
if op == 'complete' and state == 'done' then return 1 end
if state ~= 'leased' then return 0 end
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
if op == 'extend' then
  redis.call('ZADD', KEYS[4], now + tonumber(ARGV[5]), key)
  return 1
end
redis.call('ZREM', KEYS[4], key)
redis.call('XACK', KEYS[1], ARGV[4], msg)
redis.call('XDEL', KEYS[1], msg)
if op == 'forget' then
  redis.call('DEL', KEYS[2])
elseif op == 'complete' then
  redis.call('HSET', KEYS[2], 'state', 'done', 'finished', now)
  redis.call('ZADD', KEYS[3], now, key)
elseif op == 'retry' then
  redis.call('HSET', KEYS[2], 'state', 'pending', 'last_error', ARGV[6])
  redis.call('HDEL', KEYS[2], 'token')
  -- Due no earlier than the delay after now: the server's microseconds rounded up, as the
  -- delay was (a lease compares against the clock rounded down); with no delay, due at once.
  local due = now
  if tonumber(ARGV[5]) > 0 then
    due = math.ceil((t[1] * 1000000 + t[2]) / 1000) + tonumber(ARGV[5])
  end
  redis.call('ZADD', KEYS[3], due, key)
else
  redis.call('HSET', KEYS[2], 'state', 'dead', 'finished', now, 'last_error', ARGV[6])
  redis.call('HDEL', KEYS[2], 'token')
  redis.call('ZADD', KEYS[3], now, key)
end
return 1
";

/// KEYS: stream, entry, dead. ARGV: key.
const REQUEUE: &str = r"
if redis.call('HGET', KEYS[2], 'state') ~= 'dead' then return 0 end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HSET', KEYS[2], 'state', 'pending', 'attempts', 0)
redis.call('HDEL', KEYS[2], 'finished')
local msg = redis.call('XADD', KEYS[1], '*', 'key', ARGV[1])
redis.call('HSET', KEYS[2], 'msg', msg)
return 1
";

/// KEYS: done. ARGV: age ms, entry prefix. Removes up to 10,000 entries per call.
const PURGE: &str = r"
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]), 'LIMIT', 0, 10000)
for _, key in ipairs(old) do
  redis.call('DEL', ARGV[2] .. key)
  redis.call('ZREM', KEYS[1], key)
end
return #old
";

/// KEYS: stream, delayed, done, dead, leases. ARGV: entry prefix.
/// Returns pending, in flight, done, dead, and the oldest waiting entry's age in seconds (or -1).
const STATS: &str = r"
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local length = redis.call('XLEN', KEYS[1])
local held = redis.call('ZCOUNT', KEYS[5], '(' .. now, '+inf')
local oldest = -1
local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
if first then oldest = tonumber(redis.call('HGET', ARGV[1] .. first[2][2], 'enqueued')) or -1 end
for _, key in ipairs(redis.call('ZRANGE', KEYS[2], 0, 63)) do
  local at = tonumber(redis.call('HGET', ARGV[1] .. key, 'enqueued'))
  if at and (oldest < 0 or at < oldest) then oldest = at end
end
local age = -1
if oldest >= 0 then age = math.floor((now - oldest) / 1000) end
return {length - held + redis.call('ZCARD', KEYS[2]), held,
  redis.call('ZCARD', KEYS[3]), redis.call('ZCARD', KEYS[4]), age}
";

/// An inbox in Redis: a stream read through the consumer group `workers`, each entry in a hash
/// (its key unique: a duplicate delivery is acknowledged and not queued twice), retries waiting
/// in a sorted set until due, done and dead entries in sorted sets until purged or requeued.
///
/// * A lease is the stream's delivery to one consumer, with its end in a sorted set: an entry
///   whose lease ended (its worker crashed or stalled) is taken over with `XCLAIM`; a running
///   handler's heartbeat moves the end. Each lease gets a fresh token kept in the entry's hash;
///   only that token completes, retries or buries it.
/// * Every operation is one Lua script, atomic on the server; times come from Redis's clock.
/// * Workers wait on `XREAD BLOCK` for new entries (a connection of their own), and wake at
///   least every poll interval for retries that came due.
///
/// Each entry keeps the route key the receiver read (hash fields `route`, `route_kind`,
/// `route_signed`); entries written before those fields existed read back with no route key,
/// and the worker reads it from the stored event as the receiver would. The key, id and type
/// are kept as the bytes they are, NUL included.
///
/// **What survives a Redis restart** is what Redis persisted: with `appendonly yes` and
/// `appendfsync always`, every acknowledged event (Redis writes the AOF before it answers the
/// enqueue, so the 2xx follows the write); with `appendfsync everysec` (Redis's default for
/// AOF), up to the last second of acknowledged events can be lost on a crash of the machine;
/// with RDB snapshots only, everything since the last snapshot; with no persistence (`save ""`,
/// `appendonly no`), everything. For "nothing acknowledged is ever lost", use PostgreSQL, or
/// Redis with `appendfsync always`. Keys share a hash tag, so a Redis Cluster keeps them in one
/// slot.
pub struct RedisInbox {
    connection: ConnectionManager,
    client: redis::Client,
    blocking: Mutex<Option<MultiplexedConnection>>,
    prefix: String,
    consumer: String,
    scripts: Scripts,
}

struct Scripts {
    enqueue: Script,
    lease: Script,
    held: Script,
    requeue: Script,
    purge: Script,
    stats: Script,
}

impl RedisInbox {
    /// Connects to `url` (`redis://[:password@]host:port[/db]`), checks the connection, and
    /// creates the consumer group if it does not exist.
    ///
    /// # Errors
    ///
    /// [`StoreError::Connect`] naming the URL (password hidden) and the cause.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with_prefix(url, DEFAULT_PREFIX).await
    }

    /// Like [`connect`](Self::connect), with every key under `prefix` (default
    /// `verihook:{inbox}:`; keep a `{hash tag}` in it for Redis Cluster).
    ///
    /// # Errors
    ///
    /// [`StoreError::Connect`] naming the URL (password hidden) and the cause.
    pub async fn connect_with_prefix(url: &str, prefix: &str) -> Result<Self, StoreError> {
        let fail = |e: redis::RedisError| StoreError::connect("Redis", url, e);
        let client = redis::Client::open(url).map_err(fail)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(1);
        let connection = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(fail)?;
        let inbox = Self {
            connection,
            client,
            blocking: Mutex::new(None),
            prefix: prefix.to_owned(),
            consumer: format!("consumer-{}", ClaimToken::generate().as_str()),
            scripts: Scripts {
                enqueue: Script::new(ENQUEUE),
                lease: Script::new(LEASE),
                held: Script::new(HELD),
                requeue: Script::new(REQUEUE),
                purge: Script::new(PURGE),
                stats: Script::new(STATS),
            },
        };
        let created: Result<(), redis::RedisError> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(inbox.stream())
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut inbox.connection.clone())
            .await;
        match created {
            Ok(()) => {}
            Err(err) if err.code() == Some("BUSYGROUP") => {}
            Err(err) => return Err(fail(err)),
        }
        Ok(inbox)
    }

    fn stream(&self) -> String {
        format!("{}stream", self.prefix)
    }

    fn entry(&self, key: &str) -> String {
        format!("{}e:{key}", self.prefix)
    }

    fn set(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn entry_prefix(&self) -> String {
        format!("{}e:", self.prefix)
    }

    async fn held(
        &self,
        op: &str,
        key: &str,
        token: &ClaimToken,
        set: &str,
        millis: u64,
        error: &str,
    ) -> Result<(), StoreError> {
        let held: i64 = self
            .scripts
            .held
            .key(self.stream())
            .key(self.entry(key))
            .key(self.set(set))
            .key(self.set("leases"))
            .arg(op)
            .arg(key)
            .arg(token.as_str())
            .arg(GROUP)
            .arg(millis)
            .arg(bounded_error(error))
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(StoreError::unavailable)?;
        token_held(held == 1)
    }

    async fn wait_async(&self, timeout: Duration) {
        let mut blocking = self.blocking.lock().await;
        if blocking.is_none() {
            match self.client.get_multiplexed_async_connection().await {
                Ok(connection) => *blocking = Some(connection),
                Err(_) => {
                    drop(blocking);
                    tokio::time::sleep(timeout).await;
                    return;
                }
            }
        }
        let Some(connection) = blocking.as_mut() else {
            return;
        };
        // Within what `BLOCK` takes, and what the timeout below can add to.
        let timeout = hold(timeout);
        let block = millis(timeout).max(1);
        let mut command = redis::cmd("XREAD");
        command
            .arg("BLOCK")
            .arg(block)
            .arg("STREAMS")
            .arg(self.stream())
            .arg("$");
        let read = command.query_async::<redis::Value>(connection);
        // A little longer than the block, so that Redis answers first.
        match tokio::time::timeout(timeout + Duration::from_millis(500), read).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) | Err(_) => *blocking = None,
        }
    }
}

/// Stores `entries` in one script call; gives the keys stored (those not already there).
/// (Grouping concurrent enqueues into one call bought nothing measurable: the multiplexed
/// connection already pipelines them, and Redis's time goes to the commands, not the calls.)
async fn enqueue_entries<'e>(
    script: &Script,
    connection: &ConnectionManager,
    stream: &str,
    entry_prefix: &str,
    entries: impl Iterator<Item = &'e Entry>,
) -> Result<Vec<String>, StoreError> {
    let mut call = script.key(stream);
    call.arg(entry_prefix);
    let mut keys = Vec::new();
    for entry in entries {
        let mask = u8::from(entry.id.is_some())
            | u8::from(entry.event_type.is_some()) << 1
            | u8::from(entry.timestamp.is_some()) << 2
            | u8::from(entry.route_key.is_some()) << 3;
        let route = entry.route_key.as_ref();
        call.arg(&entry.key)
            .arg(&entry.sender)
            .arg(&entry.scheme)
            .arg(entry.signed.bits())
            .arg(entry.body.as_ref())
            .arg(mask)
            .arg(entry.id.as_deref().unwrap_or_default())
            .arg(entry.event_type.as_deref().unwrap_or_default())
            .arg(entry.timestamp.unwrap_or_default())
            .arg(route.map_or("", |key| key.as_str()))
            .arg(route.map_or(0, |key| key.kind().len()))
            .arg(u8::from(route.is_some() && entry.route_key_signed));
        keys.push(entry.key.clone());
    }
    let stored: Vec<i64> = call
        .invoke_async(&mut connection.clone())
        .await
        .map_err(StoreError::unavailable)?;
    Ok(keys
        .into_iter()
        .zip(stored)
        .filter_map(|(key, stored)| (stored == 1).then_some(key))
        .collect())
}

/// `duration` in milliseconds; callers shorten it first ([`hold`],
/// [`MAX_PURGE_AGE`](super::MAX_PURGE_AGE)), so that Lua's numbers count it exactly.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// One leased entry from the 14 values the lease script returns for it.
fn leased(values: &[Option<Vec<u8>>]) -> Result<Leased, StoreError> {
    let text = |at: usize| -> Option<String> {
        values
            .get(at)?
            .as_ref()
            .map(|v| String::from_utf8_lossy(v).into_owned())
    };
    let number = |at: usize| -> Option<u64> { text(at)?.parse().ok() };
    let broken = || StoreError::unavailable("the Redis inbox returned a malformed entry");
    let key = text(0).ok_or_else(broken)?;
    let token = text(1)
        .as_deref()
        .and_then(ClaimToken::parse)
        .ok_or_else(broken)?;
    // Entries from before route keys were kept have none: the worker reads it from the event.
    let route_key = stored_route_key(
        text(11).as_deref(),
        number(12).and_then(|n| usize::try_from(n).ok()),
    );
    Ok(Leased {
        entry: Entry {
            key,
            sender: text(4).ok_or_else(broken)?,
            scheme: text(5).ok_or_else(broken)?,
            id: text(6),
            event_type: text(7),
            timestamp: number(8),
            signed: Signed::from_bits(number(9).and_then(|b| u8::try_from(b).ok()).unwrap_or(0)),
            route_key_signed: route_key.is_some() && number(13) == Some(1),
            route_key,
            body: values
                .get(10)
                .and_then(Clone::clone)
                .map(Bytes::from)
                .unwrap_or_default(),
        },
        token,
        attempt: number(2).and_then(|n| u32::try_from(n).ok()).unwrap_or(1),
        enqueued_at: UNIX_EPOCH + Duration::from_millis(number(3).unwrap_or(0)),
    })
}

impl Inbox for RedisInbox {
    fn enqueue<'a>(&'a self, entry: &'a Entry) -> BoxFuture<'a, Result<Enqueued, StoreError>> {
        Box::pin(async move {
            let stored = enqueue_entries(
                &self.scripts.enqueue,
                &self.connection,
                &self.stream(),
                &self.entry_prefix(),
                std::iter::once(entry),
            )
            .await?;
            Ok(if stored.is_empty() {
                Enqueued::Duplicate
            } else {
                Enqueued::New
            })
        })
    }

    fn lease<'a>(
        &'a self,
        max: usize,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Vec<Leased>, StoreError>> {
        Box::pin(async move {
            let max = max.clamp(1, 1024);
            let mut call = self.scripts.lease.key(self.stream());
            call.key(self.set("delayed"))
                .key(self.set("leases"))
                .arg(GROUP)
                .arg(&self.consumer)
                .arg(max)
                .arg(millis(hold(lease)).max(1))
                .arg(self.entry_prefix());
            for _ in 0..max {
                call.arg(ClaimToken::generate().as_str());
            }
            let values: Vec<Option<Vec<u8>>> = call
                .invoke_async(&mut self.connection.clone())
                .await
                .map_err(StoreError::unavailable)?;
            values.chunks(14).map(leased).collect()
        })
    }

    fn extend<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
        lease: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.held("extend", key, token, "done", millis(hold(lease)), ""))
    }

    fn complete<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.held("complete", key, token, "done", 0, ""))
    }

    fn retry<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
        delay: Duration,
        error: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let delay = hold(delay);
        // Whole milliseconds rounded up: a retry never becomes due before its delay.
        let mut ms = millis(delay);
        if delay > Duration::from_millis(ms) {
            ms = ms.saturating_add(1);
        }
        Box::pin(self.held("retry", key, token, "delayed", ms, error))
    }

    fn bury<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
        error: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.held("bury", key, token, "dead", 0, error))
    }

    fn forget<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.held("forget", key, token, "done", 0, ""))
    }

    fn wait<'a>(&'a self, timeout: Duration) -> BoxFuture<'a, ()> {
        Box::pin(self.wait_async(timeout))
    }

    fn stats(&self) -> BoxFuture<'_, Result<InboxStats, StoreError>> {
        Box::pin(async move {
            let values: Vec<i64> = self
                .scripts
                .stats
                .key(self.stream())
                .key(self.set("delayed"))
                .key(self.set("done"))
                .key(self.set("dead"))
                .key(self.set("leases"))
                .arg(self.entry_prefix())
                .invoke_async(&mut self.connection.clone())
                .await
                .map_err(StoreError::unavailable)?;
            let count = |at: usize| {
                values
                    .get(at)
                    .and_then(|v| u64::try_from(*v).ok())
                    .unwrap_or(0)
            };
            Ok(InboxStats {
                pending: count(0),
                in_flight: count(1),
                done: count(2),
                dead: count(3),
                oldest_pending_secs: values.get(4).and_then(|v| u64::try_from(*v).ok()),
            })
        })
    }

    fn dead_letters(&self, limit: usize) -> BoxFuture<'_, Result<Vec<DeadLetter>, StoreError>> {
        Box::pin(async move {
            if limit == 0 {
                return Ok(Vec::new());
            }
            let mut connection = self.connection.clone();
            let keys: Vec<String> = redis::cmd("ZRANGE")
                .arg(self.set("dead"))
                .arg(0)
                .arg(i64::try_from(limit).unwrap_or(i64::MAX).saturating_sub(1))
                .query_async(&mut connection)
                .await
                .map_err(StoreError::unavailable)?;
            let mut letters = Vec::with_capacity(keys.len());
            for key in keys {
                let (sender, attempts, last_error): (Option<String>, Option<u32>, Option<String>) =
                    redis::cmd("HMGET")
                        .arg(self.entry(&key))
                        .arg("sender")
                        .arg("attempts")
                        .arg("last_error")
                        .query_async(&mut connection)
                        .await
                        .map_err(StoreError::unavailable)?;
                letters.push(DeadLetter {
                    key,
                    sender: sender.unwrap_or_default(),
                    attempts: attempts.unwrap_or_default(),
                    last_error: last_error.unwrap_or_default(),
                });
            }
            Ok(letters)
        })
    }

    fn requeue<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let requeued: i64 = self
                .scripts
                .requeue
                .key(self.stream())
                .key(self.entry(key))
                .key(self.set("dead"))
                .arg(key)
                .invoke_async(&mut self.connection.clone())
                .await
                .map_err(StoreError::unavailable)?;
            Ok(requeued == 1)
        })
    }

    fn purge_done(&self, age: Duration) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(async move {
            let mut purged = 0;
            loop {
                let removed: u64 = self
                    .scripts
                    .purge
                    .key(self.set("done"))
                    .arg(millis(age.min(super::MAX_PURGE_AGE)))
                    .arg(self.entry_prefix())
                    .invoke_async(&mut self.connection.clone())
                    .await
                    .map_err(StoreError::unavailable)?;
                purged += removed;
                if removed < 10_000 {
                    return Ok(purged);
                }
            }
        })
    }
}

impl fmt::Debug for RedisInbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisInbox")
            .field("prefix", &self.prefix)
            .field("consumer", &self.consumer)
            .finish_non_exhaustive()
    }
}
