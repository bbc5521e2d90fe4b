//! The Redis inbox: a stream read through a consumer group, entries in hashes, retries and
//! finished entries in sorted sets, ordered events waiting in a sorted set per ordering key;
//! every operation one Lua script, atomic on the server.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::{Script, ScriptInvocation};
use tokio::sync::Mutex;

use super::group::{answer, GroupCommit, Job, WriteGroup};
use super::log::group_issues;
use super::{
    bounded_error, hold, stored_route_key, BoxFuture, ClaimToken, DeadLetter, Enqueued, Entry,
    Filter, Inbox, InboxStats, Issue, Leased, Status, StoreError, Stored, MAX_BATCH,
};
use crate::event::Signed;
use crate::idempotency::{token_held, CONNECT_TIMEOUT};

/// Every key shares the hash tag `{inbox}` (or the one given): on a Redis Cluster they live in
/// one slot, as the scripts need.
const DEFAULT_PREFIX: &str = "verihook:{inbox}:";
const GROUP: &str = "workers";

/// The fixed keys every script gets, in this order, under the prefix (entries live at
/// `e:<key>`, the events waiting for their ordering key at `o:<ordering key>`):
///
/// * `stream`: due entries, read through the consumer group;
/// * `delayed`: retries, by due time; `leases`: leased entries, by lease end;
/// * `done` (done and superseded) and `dead`: settled entries, by when they settled;
/// * `replays`: replayed entries due, by arrival: a lease takes them only after fresh work;
/// * `waiting`: ordered entries waiting behind their key's head, by enqueue time (counted
///   pending);
/// * `all`: every entry by enqueue time (member `<arrival, 20 digits>:<key>`), what queries walk;
/// * `holder`: ordering key → the entry released to workers; `applied`: ordering key → the
///   greatest stamp completed; `seq`: the arrival counter.
const KEY_NAMES: [&str; 11] = [
    "stream", "delayed", "leases", "done", "dead", "replays", "waiting", "all", "holder",
    "applied", "seq",
];

/// What every script starts with: the keys, the clock, and how entries enter and leave line.
/// ARGV[1] is always the prefix.
macro_rules! prelude {
    () => {
        r"
local STREAM, DELAYED, LEASES, DONE, DEAD = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local REPLAYS, WAITING, ALL, HOLDER, APPLIED, SEQ = KEYS[6], KEYS[7], KEYS[8], KEYS[9],
  KEYS[10], KEYS[11]
local PREFIX = ARGV[1]
local GROUP = 'workers'
local clock = redis.call('TIME')
local NOW = clock[1] * 1000 + math.floor(clock[2] / 1000)
local function entry(key) return PREFIX .. 'e:' .. key end
local function order_set(okey) return PREFIX .. 'o:' .. okey end
-- An entry's member of `all`: its arrival, zero-padded so that equal times sort by arrival.
local function arrival(seq, key) return string.format('%020d', seq) .. ':' .. key end
-- Whether decimal `a` is greater than decimal `b` (no leading zeros): exact for any u64,
-- which Lua's doubles are not.
local function greater(a, b)
  if #a ~= #b then return #a > #b end
  return a > b
end
local function settled(state)
  return state == 'done' or state == 'superseded' or state == 'dead'
end
-- Makes a pending entry due now: into the stream, or, for a replay, into `replays`, which a
-- lease reads only after fresh work.
local function dispatch(key)
  local e = entry(key)
  local state, replayed, seq = unpack(redis.call('HMGET', e, 'state', 'replayed', 'seq'))
  if state ~= 'pending' then return end
  if replayed == '1' then
    redis.call('ZADD', REPLAYS, tonumber(seq) or 0, key)
  else
    redis.call('HSET', e, 'msg', redis.call('XADD', STREAM, '*', 'key', key))
  end
end
-- Takes a pending entry that never ran back out of line (out of `replays` or the stream,
-- where no worker read it yet: a read one is leased).
local function undispatch(key)
  local e = entry(key)
  if redis.call('ZREM', REPLAYS, key) == 0 then
    local msg = redis.call('HGET', e, 'msg')
    if msg then redis.call('XDEL', STREAM, msg) end
  end
  redis.call('HDEL', e, 'msg')
end
-- Releases the head of ordering key `okey` to workers, unless an entry holds the key. A holder
-- that has not run yet gives the key back to an event that orders before it.
local function release(okey)
  local set = order_set(okey)
  local holder = redis.call('HGET', HOLDER, okey)
  if holder then
    local state, attempts, member, enqueued = unpack(redis.call('HMGET', entry(holder),
      'state', 'attempts', 'om', 'enqueued'))
    if state == 'leased' then return end
    if state == 'pending' then
      if attempts ~= '0' or not member then return end
      local head = redis.call('ZRANGE', set, 0, 0)[1]
      if not head or head > member then return end
      undispatch(holder)
      redis.call('ZADD', set, 0, member)
      redis.call('ZADD', WAITING, tonumber(enqueued) or NOW, holder)
    end
    redis.call('HDEL', HOLDER, okey)
  end
  while true do
    local head = redis.call('ZRANGE', set, 0, 0)[1]
    if not head then return end
    redis.call('ZREM', set, head)
    -- `<stamp, 20 digits>:<arrival, 20 digits>:<key>`
    local key = string.sub(head, 43)
    redis.call('ZREM', WAITING, key)
    if redis.call('HGET', entry(key), 'state') == 'pending' then
      redis.call('HSET', HOLDER, okey, key)
      dispatch(key)
      return
    end
  end
end
-- Puts a pending entry in line: an ordered one behind its key's head, any other due now.
local function queue(key)
  local okey, member, enqueued = unpack(redis.call('HMGET', entry(key), 'okey', 'om',
    'enqueued'))
  if okey and member then
    redis.call('ZADD', order_set(okey), 0, member)
    redis.call('ZADD', WAITING, tonumber(enqueued) or NOW, key)
    release(okey)
  else
    dispatch(key)
  end
end
-- After `key` settled or left: the next event of its ordering key may run.
local function settle(key, okey)
  if okey and redis.call('HGET', HOLDER, okey) == key then
    redis.call('HDEL', HOLDER, okey)
    release(okey)
  end
end
-- Whether an entry with these fields is selected by the filter in ARGV[2..10]: sender flag
-- and value, type flag and value, state (or ''), issue flag and value, since and until in
-- whole ms (or '').
local function matches(sender, etype, state, enqueued, issue)
  if ARGV[2] == '1' and sender ~= ARGV[3] then return false end
  if ARGV[4] == '1' and etype ~= ARGV[5] then return false end
  if ARGV[6] ~= '' and state ~= ARGV[6] then return false end
  if ARGV[7] == '1' and issue ~= ARGV[8] then return false end
  local at = tonumber(enqueued) or 0
  if ARGV[9] ~= '' and at < tonumber(ARGV[9]) then return false end
  if ARGV[10] ~= '' and at >= tonumber(ARGV[10]) then return false end
  return true
end
-- What a query gives of an entry: 14 values (see `stored`).
local ROW = {'sender', 'id', 'type', 'okey', 'state', 'attempts', 'enqueued', 'replays',
  'replay_reason', 'last_error', 'issue', 'redacted', 'replayed_at'}
local function row(key, out)
  local f = redis.call('HMGET', entry(key), unpack(ROW))
  table.insert(out, key)
  for i = 1, #ROW do table.insert(out, f[i]) end
  return f
end
-- Walks `all` oldest first from the cursor in ARGV[11..13] (score, how many of that score were
-- seen), at most ARGV[14] members, until `visit` took ARGV[15]. Gives whether the walk reached
-- the end, and the cursor to go on from.
local function walk(visit)
  local min, max, ties = ARGV[11], ARGV[12], tonumber(ARGV[13])
  local chunk, wanted = tonumber(ARGV[14]), tonumber(ARGV[15])
  local rows = redis.call('ZRANGEBYSCORE', ALL, min, max, 'WITHSCORES', 'LIMIT', ties, chunk)
  local taken, last, run, seen = 0, min, ties, 0
  for i = 1, #rows, 2 do
    local score = rows[i + 1]
    if score == last then run = run + 1 else last, run = score, 1 end
    seen = seen + 1
    if visit(string.sub(rows[i], 22)) then taken = taken + 1 end
    if taken >= wanted then break end
  end
  local ended = '0'
  if seen < chunk and seen * 2 == #rows then ended = '1' end
  return ended, last, tostring(run)
end
"
    };
}

/// Stores each entry whose hash does not exist, indexes it, and puts it in line.
/// ARGV: prefix, then 17 values per entry: key, sender, scheme, signed, body, mask (1 id,
/// 2 type, 4 ts, 8 route key, 16 ordering key, 32 stamp, 64 traceparent), id, type, ts,
/// route key, its kind's length, route key signed (1 or 0), ordering key, stamp, stamp as 20
/// digits, traceparent, redacted (1 or 0). Returns 1 (stored) or 0 per entry.
///
/// Redis runs the script's commands one after the other, so each one saved is throughput: an
/// unordered entry costs `EXISTS`, `XADD` and one `HSET` (the stream message id written with
/// the rest, as `queue` would after reading back what was just written), an ordered one alone
/// on its key three more (`HGET` and `EXISTS` to see that it is, `HSET` of `holder`); the
/// arrival counter, the clock and the `all` index are written once per call, however many
/// entries it carries.
const ENQUEUE: &str = concat!(
    prelude!(),
    r"
local function bit(mask, n) return math.floor(mask / n) % 2 == 1 end
local out, indexed = {}, {}
-- Arrivals for the whole call at once: numbers taken by duplicates are skipped, which keeps
-- every arrival unique and increasing.
local seq = redis.call('INCRBY', SEQ, (#ARGV - 1) / 17) - (#ARGV - 1) / 17
for i = 2, #ARGV, 17 do
  local key = ARGV[i]
  local e = entry(key)
  seq = seq + 1
  if redis.call('EXISTS', e) == 1 then
    table.insert(out, 0)
  else
    local member = arrival(seq, key)
    local fields = {'sender', ARGV[i + 1], 'scheme', ARGV[i + 2], 'signed', ARGV[i + 3],
      'body', ARGV[i + 4], 'state', 'pending', 'attempts', 0, 'enqueued', NOW, 'seq', seq,
      'redacted', ARGV[i + 16], 'replays', 0}
    local mask = tonumber(ARGV[i + 5])
    if bit(mask, 1) then table.insert(fields, 'id'); table.insert(fields, ARGV[i + 6]) end
    if bit(mask, 2) then table.insert(fields, 'type'); table.insert(fields, ARGV[i + 7]) end
    if bit(mask, 4) then table.insert(fields, 'ts'); table.insert(fields, ARGV[i + 8]) end
    if bit(mask, 8) then
      table.insert(fields, 'route'); table.insert(fields, ARGV[i + 9])
      table.insert(fields, 'route_kind'); table.insert(fields, ARGV[i + 10])
      table.insert(fields, 'route_signed'); table.insert(fields, ARGV[i + 11])
    end
    if bit(mask, 32) then table.insert(fields, 'stamp'); table.insert(fields, ARGV[i + 13]) end
    if bit(mask, 64) then
      table.insert(fields, 'traceparent'); table.insert(fields, ARGV[i + 15])
    end
    if bit(mask, 16) then
      -- Ordered: behind its key's head (as `queue` does).
      local okey, om = ARGV[i + 12], ARGV[i + 14] .. ':' .. member
      table.insert(fields, 'okey'); table.insert(fields, okey)
      table.insert(fields, 'om'); table.insert(fields, om)
      if not redis.call('HGET', HOLDER, okey) and redis.call('EXISTS', order_set(okey)) == 0
      then
        -- Alone on its key (the usual case): its head at once, due now, as `release` would
        -- make it without the trip through the key's sorted set and `waiting`.
        redis.call('HSET', HOLDER, okey, key)
        table.insert(fields, 'msg')
        table.insert(fields, redis.call('XADD', STREAM, '*', 'key', key))
        redis.call('HSET', e, unpack(fields))
      else
        redis.call('HSET', e, unpack(fields))
        redis.call('ZADD', order_set(okey), 0, om)
        redis.call('ZADD', WAITING, NOW, key)
        release(okey)
      end
    else
      -- Due now (as `dispatch` does for a pending entry never replayed).
      table.insert(fields, 'msg')
      table.insert(fields, redis.call('XADD', STREAM, '*', 'key', key))
      redis.call('HSET', e, unpack(fields))
    end
    table.insert(indexed, NOW)
    table.insert(indexed, member)
    table.insert(out, 1)
  end
end
if #indexed > 0 then redis.call('ZADD', ALL, unpack(indexed)) end
return out
"
);

/// Moves due retries into line, takes over entries whose lease ended (a crashed or stalled
/// worker's), reads new ones, then, when that left room, up to half the batch of replays, and
/// leases each live entry with a token until now + lease.
/// ARGV: prefix, consumer, max, lease ms, tokens...
/// Returns 20 values per entry: key, token, attempts, enqueued, sender, scheme, id, type, ts,
/// signed, body, route key, its kind's length, route key signed, ordering key, stamp,
/// traceparent, redacted, applied stamp, replay reason (missing ones as nil).
const LEASE: &str = concat!(
    prelude!(),
    r"
local consumer, max, lease = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
for _, key in ipairs(redis.call('ZRANGEBYSCORE', DELAYED, '-inf', NOW, 'LIMIT', 0, 256)) do
  redis.call('ZREM', DELAYED, key)
  dispatch(key)
end
local messages = {}
for _, key in ipairs(redis.call('ZRANGEBYSCORE', LEASES, '-inf', NOW, 'LIMIT', 0, max)) do
  local msg = redis.call('HGET', entry(key), 'msg')
  redis.call('ZREM', LEASES, key)
  if msg then
    redis.call('XCLAIM', STREAM, GROUP, consumer, 0, msg, 'JUSTID')
    table.insert(messages, {msg, {'key', key}})
  end
end
local function read()
  if #messages >= max then return end
  local got = redis.call('XREADGROUP', 'GROUP', GROUP, consumer, 'COUNT', max - #messages,
    'STREAMS', STREAM, '>')
  if got then
    for _, m in ipairs(got[1][2]) do table.insert(messages, m) end
  end
end
read()
-- Replays yield to fresh work: only what is left of the batch, and at most half of it.
if #messages < max then
  local room = math.min(max - #messages, math.max(1, math.floor(max / 2)))
  local replays = redis.call('ZRANGE', REPLAYS, 0, room - 1)
  for _, key in ipairs(replays) do
    redis.call('ZREM', REPLAYS, key)
    if redis.call('HGET', entry(key), 'state') == 'pending' then
      redis.call('HSET', entry(key), 'msg', redis.call('XADD', STREAM, '*', 'key', key))
    end
  end
  if #replays > 0 then read() end
end
local out, next_token = {}, 5
for _, m in ipairs(messages) do
  local msg, key = m[1], m[2][2]
  local e = entry(key)
  local state, current = unpack(redis.call('HMGET', e, 'state', 'msg'))
  if (state == 'pending' or state == 'leased') and current == msg then
    local token = ARGV[next_token]
    next_token = next_token + 1
    local attempts = redis.call('HINCRBY', e, 'attempts', 1)
    redis.call('HSET', e, 'state', 'leased', 'token', token)
    redis.call('ZADD', LEASES, NOW + lease, key)
    local f = redis.call('HMGET', e, 'enqueued', 'sender', 'scheme', 'id', 'type', 'ts',
      'signed', 'body', 'route', 'route_kind', 'route_signed', 'okey', 'stamp', 'traceparent',
      'redacted', 'replayed', 'replay_reason')
    local applied, reason = false, false
    if f[12] then applied = redis.call('HGET', APPLIED, f[12]) end
    if f[16] == '1' then reason = f[17] end
    for _, v in ipairs({key, token, tostring(attempts), f[1], f[2], f[3], f[4], f[5], f[6], f[7],
      f[8], f[9], f[10], f[11], f[12], f[13], f[14], f[15], applied, reason}) do
      table.insert(out, v)
    end
  else
    -- A message left behind (its entry finished, retried or purged): drop it.
    redis.call('XACK', STREAM, GROUP, msg)
    redis.call('XDEL', STREAM, msg)
  end
end
return out
"
);

/// Acts on a leased entry when the token holds it; settling it lets the next event of its
/// ordering key go. ARGV: prefix, op, key, token, lease or delay ms, error, issue.
const HELD: &str = concat!(
    prelude!(),
    r"
local op, key, token = ARGV[2], ARGV[3], ARGV[4]
local e = entry(key)
local state, held, msg, okey, stamp, seq = unpack(redis.call('HMGET', e, 'state', 'token',
  'msg', 'okey', 'stamp', 'seq'))
if held ~= token then return 0 end
if op == 'complete' and state == 'done' then return 1 end
if state ~= 'leased' then return 0 end
if op == 'extend' then
  redis.call('ZADD', LEASES, NOW + tonumber(ARGV[5]), key)
  return 1
end
redis.call('ZREM', LEASES, key)
if msg then
  redis.call('XACK', STREAM, GROUP, msg)
  redis.call('XDEL', STREAM, msg)
end
if op == 'retry' then
  -- Still its ordering key's head: nothing behind it runs until it is settled.
  redis.call('HSET', e, 'state', 'pending', 'last_error', ARGV[6])
  redis.call('HDEL', e, 'token')
  -- Due no earlier than the delay after now: the server's microseconds rounded up, as the
  -- delay was (a lease compares against the clock rounded down); with no delay, due at once.
  local due = NOW
  if tonumber(ARGV[5]) > 0 then
    due = math.ceil((clock[1] * 1000000 + clock[2]) / 1000) + tonumber(ARGV[5])
  end
  redis.call('ZADD', DELAYED, due, key)
  return 1
end
if op == 'forget' then
  redis.call('DEL', e)
  if seq then redis.call('ZREM', ALL, arrival(tonumber(seq), key)) end
elseif op == 'complete' then
  redis.call('HSET', e, 'state', 'done', 'finished', NOW)
  redis.call('ZADD', DONE, NOW, key)
  if okey and stamp then
    local last = redis.call('HGET', APPLIED, okey)
    if not last or greater(stamp, last) then redis.call('HSET', APPLIED, okey, stamp) end
  end
elseif op == 'supersede' then
  redis.call('HSET', e, 'state', 'superseded', 'finished', NOW)
  redis.call('ZADD', DONE, NOW, key)
else
  redis.call('HSET', e, 'state', 'dead', 'finished', NOW, 'last_error', ARGV[6],
    'issue', ARGV[7])
  redis.call('HDEL', e, 'token')
  redis.call('ZADD', DEAD, NOW, key)
end
settle(key, okey)
return 1
"
);

/// Puts a dead letter back in line (an ordered one behind its key's head). ARGV: prefix, key.
const REQUEUE: &str = concat!(
    prelude!(),
    r"
local key = ARGV[2]
local e = entry(key)
if redis.call('HGET', e, 'state') ~= 'dead' then return 0 end
redis.call('ZREM', DEAD, key)
redis.call('HSET', e, 'state', 'pending', 'attempts', 0)
redis.call('HDEL', e, 'finished', 'issue', 'token')
queue(key)
return 1
"
);

/// One step of a query: the entries `all` holds from the cursor that the filter selects.
/// ARGV: prefix, filter (9), cursor score, max score, ties, chunk, wanted.
/// Returns whether the walk ended, the cursor (score, ties), then 14 values per entry.
const FIND: &str = concat!(
    prelude!(),
    r"
local out = {}
local ended, last, run = walk(function(key)
  local f = redis.call('HMGET', entry(key), 'sender', 'type', 'state', 'enqueued', 'issue')
  if not f[3] or not matches(f[1], f[2], f[3], f[4], f[5]) then return false end
  row(key, out)
  return true
end)
-- (A missing field is `false` here, never a hole: the copy keeps every value.)
local reply = {ended, last, run}
for i = 1, #out do reply[i + 3] = out[i] end
return reply
"
);

/// One step of a replay: settled entries from the cursor that the filter selects go back in
/// line (through their ordering key, and after fresh work). ARGV: prefix, filter (9), cursor
/// score, max score, ties, chunk, wanted, reason. Returns whether the walk ended, the cursor,
/// then the keys replayed.
const REPLAY: &str = concat!(
    prelude!(),
    r"
local keys = {}
local ended, last, run = walk(function(key)
  local e = entry(key)
  local f = redis.call('HMGET', e, 'sender', 'type', 'state', 'enqueued', 'issue')
  if not settled(f[3]) or not matches(f[1], f[2], f[3], f[4], f[5]) then return false end
  redis.call('ZREM', DONE, key)
  redis.call('ZREM', DEAD, key)
  redis.call('HSET', e, 'state', 'pending', 'attempts', 0, 'replayed', 1,
    'replay_reason', ARGV[16], 'replayed_at', NOW)
  redis.call('HINCRBY', e, 'replays', 1)
  redis.call('HDEL', e, 'issue', 'finished', 'token')
  queue(key)
  table.insert(keys, key)
  return true
end)
local reply = {ended, last, run}
for _, key in ipairs(keys) do table.insert(reply, key) end
return reply
"
);

/// One step of a purge over `done` or `dead`: removes settled entries there that settled more
/// than the age ago, the filter selects and no exception names.
/// ARGV: prefix, filter (9), set (`done` or `dead`), age ms, offset, chunk, budget, number of
/// exceptions, then per exception: sender, type flag, type.
/// Returns removed, kept (examined and left), and whether the set's range ended.
const PURGE: &str = concat!(
    prelude!(),
    r"
local set = DONE
if ARGV[11] == 'dead' then set = DEAD end
local offset, chunk, budget = tonumber(ARGV[13]), tonumber(ARGV[14]), tonumber(ARGV[15])
local exceptions = tonumber(ARGV[16])
local function excepted(sender, etype)
  for j = 0, exceptions - 1 do
    local at = 17 + j * 3
    if sender == ARGV[at] and (ARGV[at + 1] ~= '1' or etype == ARGV[at + 2]) then
      return true
    end
  end
  return false
end
local old = redis.call('ZRANGEBYSCORE', set, '-inf', NOW - tonumber(ARGV[12]),
  'LIMIT', offset, chunk)
local removed, kept = 0, 0
for _, key in ipairs(old) do
  if removed >= budget then break end
  local e = entry(key)
  local f = redis.call('HMGET', e, 'sender', 'type', 'state', 'enqueued', 'issue', 'seq')
  if not f[3] then
    -- Its hash is gone: the member is a leftover.
    redis.call('ZREM', set, key)
  elseif settled(f[3]) and matches(f[1], f[2], f[3], f[4], f[5]) and not excepted(f[1], f[2])
  then
    redis.call('DEL', e)
    redis.call('ZREM', set, key)
    if f[6] then redis.call('ZREM', ALL, arrival(tonumber(f[6]), key)) end
    removed = removed + 1
  else
    kept = kept + 1
  end
end
local ended = 0
if #old < chunk then ended = 1 end
return {removed, kept, ended}
"
);

/// The most recently dead letters, up to ARGV[2]: 14 values per entry (as a query's), then
/// its route key and when it died (ms).
const ISSUES: &str = concat!(
    prelude!(),
    r"
local out = {}
local dead = redis.call('ZREVRANGE', DEAD, 0, tonumber(ARGV[2]) - 1, 'WITHSCORES')
for i = 1, #dead, 2 do
  local key = dead[i]
  local f = redis.call('HMGET', entry(key), 'state', 'route')
  if f[1] == 'dead' then
    local n = #out
    local r = {}
    row(key, r)
    for j = 1, 14 do out[n + j] = r[j] end
    out[n + 15] = f[2]
    out[n + 16] = dead[i + 1]
  end
end
return out
"
);

/// Returns pending, in flight, done, dead, and the oldest waiting entry's age in seconds (or -1).
const STATS: &str = concat!(
    prelude!(),
    r"
local length = redis.call('XLEN', STREAM)
local held = redis.call('ZCOUNT', LEASES, '(' .. NOW, '+inf')
local oldest = -1
local function consider(at)
  at = tonumber(at)
  if at and (oldest < 0 or at < oldest) then oldest = at end
end
local first = redis.call('XRANGE', STREAM, '-', '+', 'COUNT', 1)[1]
if first then consider(redis.call('HGET', entry(first[2][2]), 'enqueued')) end
for _, key in ipairs(redis.call('ZRANGE', DELAYED, 0, 63)) do
  consider(redis.call('HGET', entry(key), 'enqueued'))
end
local replay = redis.call('ZRANGE', REPLAYS, 0, 0)[1]
if replay then consider(redis.call('HGET', entry(replay), 'enqueued')) end
local waiting = redis.call('ZRANGE', WAITING, 0, 0, 'WITHSCORES')
if waiting[2] then consider(waiting[2]) end
local age = -1
if oldest >= 0 then age = math.floor((NOW - oldest) / 1000) end
return {length - held + redis.call('ZCARD', DELAYED) + redis.call('ZCARD', REPLAYS)
  + redis.call('ZCARD', WAITING), held, redis.call('ZCARD', DONE), redis.call('ZCARD', DEAD),
  age}
"
);

/// How many members of an index one script call examines: Redis runs one script at a time,
/// so a long walk is cut into steps that each hold it briefly.
const CHUNK: usize = 2000;

/// The most entries one [`find`](Inbox::find) or [`replay`](Inbox::replay) examines (oldest
/// first, from `since`), and one [`purge`](Inbox::purge) examines per state.
const MAX_SCAN: usize = 100_000;

/// How many dead letters [`issues`](Inbox::issues) groups: the most recent ones.
const MAX_ISSUE_SCAN: usize = 10_000;

/// An inbox in Redis: a stream read through the consumer group `workers`, each entry in a hash
/// (its key unique: a duplicate delivery is acknowledged and not queued twice), retries waiting
/// in a sorted set until due, done and dead entries in sorted sets until purged or requeued.
///
/// * A lease is the stream's delivery to one consumer, with its end in a sorted set: an entry
///   whose lease ended (its worker crashed or stalled) is taken over with `XCLAIM`; a running
///   handler's heartbeat moves the end. Each lease gets a fresh token kept in the entry's hash;
///   only that token completes, retries or buries it.
/// * Every operation is one Lua script, atomic on the server; times come from Redis's clock.
///   Concurrent enqueues share script calls (group commit): a lone enqueue is written at once,
///   and those that arrive while earlier ones are being written go together into the next call
///   (up to 256, two calls in flight); each is answered after its call returned.
/// * Workers wait on `XREAD BLOCK` for new entries (a connection of their own), and wake at
///   least every poll interval for retries that came due (and replays).
///
/// **Ordering keys.** An event with an ordering key waits in a sorted set of its key, by
/// (stamp, arrival), until it is its key's head and no other event of the key is out with
/// workers; then it enters the stream and holds the key (hash `holder`) until it is completed,
/// superseded, buried or forgotten, which releases the next one in the same script. A retry
/// keeps the key held (the entry stays the head), as does a lease that expired (taken over as
/// any other). Unordered events and other keys never wait for it. An event that arrives with
/// an earlier stamp takes the key back from a holder no worker has taken yet. One difference
/// from a pure (stamp, arrival) order: once the holder has run (it is leased, or waits for a
/// retry), an event arriving with an earlier stamp runs after it; the worker's stale-event
/// guard then sees that a newer stamp was applied.
///
/// **Replays** wait in a sorted set of their own: a lease takes them only when fresh work left
/// room in its batch, and then at most half the batch. Replayed ordered events wait for their
/// key like any other.
///
/// **Queries** ([`find`](Inbox::find), [`replay`](Inbox::replay)) walk an index of every entry
/// by enqueue time, oldest first from `since`, in steps of 2,000 members (one script each, so
/// that Redis is never held long), and examine at most 100,000 entries per call: on a larger
/// inbox, narrow the walk with `since`/`until`. A [`purge`](Inbox::purge) walks the done or dead
/// set by settle time the same way. [`issues`](Inbox::issues) groups the 10,000 most recent
/// dead letters. Entries stored before this index existed are not in it: queries do not find
/// them (they are still leased, completed, purged by age as done entries, and requeued).
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
    enqueuer: Enqueuer,
    group: GroupCommit,
    client: redis::Client,
    blocking: Mutex<Option<MultiplexedConnection>>,
    prefix: String,
    consumer: String,
    scripts: Scripts,
}

struct Scripts {
    lease: Script,
    held: Script,
    requeue: Script,
    find: Script,
    replay: Script,
    purge: Script,
    issues: Script,
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
        let enqueuer = Enqueuer {
            connection: connection.clone(),
            script: Script::new(ENQUEUE),
            keys: KEY_NAMES
                .iter()
                .map(|name| format!("{prefix}{name}"))
                .collect(),
            prefix: Arc::from(prefix),
        };
        let inbox = Self {
            connection,
            enqueuer,
            group: GroupCommit::default(),
            client,
            blocking: Mutex::new(None),
            prefix: prefix.to_owned(),
            consumer: format!("consumer-{}", ClaimToken::generate().as_str()),
            scripts: Scripts {
                lease: Script::new(LEASE),
                held: Script::new(HELD),
                requeue: Script::new(REQUEUE),
                find: Script::new(FIND),
                replay: Script::new(REPLAY),
                purge: Script::new(PURGE),
                issues: Script::new(ISSUES),
                stats: Script::new(STATS),
            },
        };
        let created: Result<(), redis::RedisError> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(inbox.set("stream"))
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

    fn entry(&self, key: &str) -> String {
        format!("{}e:{key}", self.prefix)
    }

    fn set(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// A call of `script` with the fixed keys and the prefix (ARGV[1]) given.
    fn call<'s>(&self, script: &'s Script) -> ScriptInvocation<'s> {
        let mut call = script.prepare_invoke();
        for name in KEY_NAMES {
            call.key(self.set(name));
        }
        call.arg(&self.prefix);
        call
    }

    async fn invoke<T: redis::FromRedisValue>(
        &self,
        call: &ScriptInvocation<'_>,
    ) -> Result<T, StoreError> {
        call.invoke_async(&mut self.connection.clone())
            .await
            .map_err(StoreError::unavailable)
    }

    async fn held(
        &self,
        op: &str,
        key: &str,
        token: &ClaimToken,
        millis: u64,
        error: &str,
        issue: &str,
    ) -> Result<(), StoreError> {
        let mut call = self.call(&self.scripts.held);
        call.arg(op)
            .arg(key)
            .arg(token.as_str())
            .arg(millis)
            .arg(bounded_error(error))
            .arg(issue);
        let held: i64 = self.invoke(&call).await?;
        token_held(held == 1)
    }

    /// Walks `all` with `script` (`find` or `replay`, which take `extra` after the walk's
    /// arguments) until `limit` values came back, the index ended, or [`MAX_SCAN`] entries were
    /// examined. Gives what each step gave after its three-value header.
    async fn walk(
        &self,
        script: &Script,
        filter: &Filter,
        limit: usize,
        extra: Option<&str>,
        width: usize,
    ) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let mut out: Vec<Option<Vec<u8>>> = Vec::new();
        let max = filter
            .until
            .map_or_else(|| "+inf".to_owned(), |at| format!("({}", ceil_millis(at)));
        let mut cursor = (
            filter
                .since
                .map_or_else(|| "-inf".to_owned(), |at| ceil_millis(at).to_string()),
            0u64,
        );
        let mut examined = 0;
        while out.len() / width < limit && examined < MAX_SCAN {
            let mut call = self.call(script);
            filter_args(&mut call, filter);
            call.arg(&cursor.0)
                .arg(&max)
                .arg(cursor.1)
                .arg(CHUNK)
                .arg(limit - out.len() / width);
            if let Some(extra) = extra {
                call.arg(extra);
            }
            let mut step: Vec<Option<Vec<u8>>> = self.invoke(&call).await?;
            let header: Vec<Option<String>> = step
                .drain(..3.min(step.len()))
                .map(|v| v.map(|v| String::from_utf8_lossy(&v).into_owned()))
                .collect();
            let [Some(ended), Some(score), Some(ties)] = header.as_slice() else {
                return Err(malformed());
            };
            out.extend(step);
            examined += CHUNK;
            if ended == "1" {
                break;
            }
            cursor = (score.clone(), ties.parse().map_err(|_| malformed())?);
        }
        Ok(out)
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
            .arg(self.set("stream"))
            .arg("$");
        let read = command.query_async::<redis::Value>(connection);
        // A little longer than the block, so that Redis answers first.
        match tokio::time::timeout(timeout + Duration::from_millis(500), read).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) | Err(_) => *blocking = None,
        }
    }
}

/// The filter as the scripts read it (ARGV[2..10]): sender flag and value, type flag and value,
/// state (or ''), issue flag and value, since and until in whole milliseconds rounded up (or
/// ''), which select the same entries as [`Filter::matches`] does, the store keeping whole
/// milliseconds.
fn filter_args(call: &mut ScriptInvocation<'_>, filter: &Filter) {
    let flag = |value: &Option<String>| u8::from(value.is_some());
    call.arg(flag(&filter.sender))
        .arg(filter.sender.as_deref().unwrap_or_default())
        .arg(flag(&filter.event_type))
        .arg(filter.event_type.as_deref().unwrap_or_default())
        .arg(filter.status.map_or("", Status::as_str))
        .arg(flag(&filter.issue))
        .arg(filter.issue.as_deref().unwrap_or_default())
        .arg(
            filter
                .since
                .map_or(String::new(), |at| ceil_millis(at).to_string()),
        )
        .arg(
            filter
                .until
                .map_or(String::new(), |at| ceil_millis(at).to_string()),
        );
}

/// `at` in milliseconds since the Unix epoch, rounded up (0 before the epoch): a time stored in
/// whole milliseconds is at or after `at` exactly when it is at or after this.
fn ceil_millis(at: SystemTime) -> u64 {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let whole = millis(since);
    if since > Duration::from_millis(whole) {
        whole.saturating_add(1)
    } else {
        whole
    }
}

fn malformed() -> StoreError {
    StoreError::unavailable("the Redis inbox returned a malformed entry")
}

/// How many group writes may be in flight at once: one being run by Redis while the next
/// gathers the enqueues that arrive meanwhile.
const WRITES_IN_FLIGHT: usize = 2;

/// What an enqueue needs of the inbox, owned, so that a group write can outlive its callers.
#[derive(Clone)]
struct Enqueuer {
    connection: ConnectionManager,
    script: Script,
    keys: Arc<[String]>,
    prefix: Arc<str>,
}

impl Enqueuer {
    /// Stores `entries` in one script call; gives the keys stored (those not already there).
    async fn write<'e>(
        &self,
        entries: impl Iterator<Item = &'e Entry>,
    ) -> Result<Vec<String>, StoreError> {
        let mut call = self.script.prepare_invoke();
        for key in self.keys.iter() {
            call.key(key);
        }
        call.arg(&*self.prefix);
        let mut keys = Vec::new();
        for entry in entries {
            entry_args(&mut call, entry);
            keys.push(entry.key.clone());
        }
        let stored: Vec<i64> = call
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(StoreError::unavailable)?;
        Ok(keys
            .into_iter()
            .zip(stored)
            .filter_map(|(key, stored)| (stored == 1).then_some(key))
            .collect())
    }

    /// Writes a group of enqueues in one script call and answers each.
    fn group_writer(&self) -> WriteGroup {
        let enqueuer = self.clone();
        Arc::new(move |group: Vec<Job>| {
            let enqueuer = enqueuer.clone();
            Box::pin(async move {
                let stored = enqueuer.write(group.iter().map(|(entry, _)| entry)).await;
                answer(group, stored);
            })
        })
    }
}

/// The 17 values the enqueue script reads for one entry.
fn entry_args(call: &mut ScriptInvocation<'_>, entry: &Entry) {
    let mask = u8::from(entry.id.is_some())
        | u8::from(entry.event_type.is_some()) << 1
        | u8::from(entry.timestamp.is_some()) << 2
        | u8::from(entry.route_key.is_some()) << 3
        | u8::from(entry.ordering_key.is_some()) << 4
        | u8::from(entry.stamp.is_some()) << 5
        | u8::from(entry.traceparent.is_some()) << 6;
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
        .arg(u8::from(route.is_some() && entry.route_key_signed))
        .arg(entry.ordering_key.as_deref().unwrap_or_default())
        .arg(entry.stamp.unwrap_or_default())
        // Its place among its key's events: a missing stamp orders as 0.
        .arg(format!("{:020}", entry.stamp.unwrap_or(0)))
        .arg(entry.traceparent.as_deref().unwrap_or_default())
        .arg(u8::from(entry.redacted));
}

/// `duration` in milliseconds; callers shorten it first ([`hold`],
/// [`MAX_PURGE_AGE`](super::MAX_PURGE_AGE)), so that Lua's numbers count it exactly.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Reads the values a script returned for one entry.
struct Values<'v>(&'v [Option<Vec<u8>>]);

impl Values<'_> {
    fn text(&self, at: usize) -> Option<String> {
        self.0
            .get(at)?
            .as_ref()
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    fn number(&self, at: usize) -> Option<u64> {
        self.text(at)?.parse().ok()
    }

    fn count(&self, at: usize) -> u32 {
        self.number(at)
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0)
    }

    fn millis(&self, at: usize) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.number(at).unwrap_or(0))
    }
}

/// One leased entry from the 20 values the lease script returns for it.
fn leased(values: &[Option<Vec<u8>>]) -> Result<Leased, StoreError> {
    let v = Values(values);
    let key = v.text(0).ok_or_else(malformed)?;
    let token = v
        .text(1)
        .as_deref()
        .and_then(ClaimToken::parse)
        .ok_or_else(malformed)?;
    // Entries from before route keys were kept have none: the worker reads it from the event.
    let route_key = stored_route_key(
        v.text(11).as_deref(),
        v.number(12).and_then(|n| usize::try_from(n).ok()),
    );
    Ok(Leased {
        entry: Entry {
            key,
            sender: v.text(4).ok_or_else(malformed)?,
            scheme: v.text(5).ok_or_else(malformed)?,
            id: v.text(6),
            event_type: v.text(7),
            timestamp: v.number(8),
            signed: Signed::from_bits(v.number(9).and_then(|b| u8::try_from(b).ok()).unwrap_or(0)),
            route_key_signed: route_key.is_some() && v.number(13) == Some(1),
            route_key,
            ordering_key: v.text(14),
            stamp: v.number(15),
            traceparent: v.text(16),
            redacted: v.number(17) == Some(1),
            body: values
                .get(10)
                .and_then(Clone::clone)
                .map(Bytes::from)
                .unwrap_or_default(),
        },
        token,
        attempt: v.number(2).and_then(|n| u32::try_from(n).ok()).unwrap_or(1),
        enqueued_at: v.millis(3),
        applied_stamp: v.number(18),
        replay_reason: v.text(19),
    })
}

/// One entry as a query finds it, from the 14 values the scripts return for it.
fn stored(values: &[Option<Vec<u8>>]) -> Result<Stored, StoreError> {
    let v = Values(values);
    Ok(Stored {
        key: v.text(0).ok_or_else(malformed)?,
        sender: v.text(1).unwrap_or_default(),
        id: v.text(2),
        event_type: v.text(3),
        ordering_key: v.text(4),
        status: v
            .text(5)
            .as_deref()
            .and_then(Status::parse)
            .ok_or_else(malformed)?,
        attempts: v.count(6),
        enqueued_at: v.millis(7),
        replays: v.count(8),
        replayed_at: v
            .number(13)
            .map(|ms| UNIX_EPOCH + Duration::from_millis(ms)),
        replay_reason: v.text(9),
        last_error: v.text(10),
        issue: v.text(11),
        redacted: v.number(12) == Some(1),
    })
}

impl Inbox for RedisInbox {
    fn enqueue<'a>(&'a self, entry: &'a Entry) -> BoxFuture<'a, Result<Enqueued, StoreError>> {
        Box::pin(async move {
            // A lone enqueue is written at once; those that arrive while others are being
            // written share the next script call (group commit), which Redis runs for less
            // than the same entries one call each.
            let counted = self.group.enter();
            if counted.alone {
                let stored = self.enqueuer.write(std::iter::once(entry)).await?;
                Ok(if stored.is_empty() {
                    Enqueued::Duplicate
                } else {
                    Enqueued::New
                })
            } else {
                self.group
                    .submit(entry, || self.enqueuer.group_writer(), WRITES_IN_FLIGHT)
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
            let max = max.clamp(1, 1024);
            let mut call = self.call(&self.scripts.lease);
            call.arg(&self.consumer)
                .arg(max)
                .arg(millis(hold(lease)).max(1));
            for _ in 0..max {
                call.arg(ClaimToken::generate().as_str());
            }
            let values: Vec<Option<Vec<u8>>> = self.invoke(&call).await?;
            values.chunks(20).map(leased).collect()
        })
    }

    fn extend<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
        lease: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.held("extend", key, token, millis(hold(lease)), "", ""))
    }

    fn complete<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.held("complete", key, token, 0, "", ""))
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
        Box::pin(self.held("retry", key, token, ms, error, ""))
    }

    fn bury<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
        error: &'a str,
        issue: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.held("bury", key, token, 0, error, issue))
    }

    fn supersede<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.held("supersede", key, token, 0, "", ""))
    }

    fn find<'a>(&'a self, filter: &'a Filter) -> BoxFuture<'a, Result<Vec<Stored>, StoreError>> {
        Box::pin(async move {
            let limit = filter.bounded_limit();
            if limit == 0 {
                return Ok(Vec::new());
            }
            let values = self
                .walk(&self.scripts.find, filter, limit, None, 14)
                .await?;
            let mut found = values
                .chunks(14)
                .map(stored)
                .collect::<Result<Vec<_>, _>>()?;
            found.truncate(limit);
            Ok(found)
        })
    }

    fn replay<'a>(
        &'a self,
        filter: &'a Filter,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, StoreError>> {
        Box::pin(async move {
            let limit = filter.bounded_limit();
            if limit == 0 || filter.status.is_some_and(|s| !s.is_settled()) {
                return Ok(Vec::new());
            }
            let values = self
                .walk(
                    &self.scripts.replay,
                    filter,
                    limit,
                    Some(bounded_error(reason)),
                    1,
                )
                .await?;
            Ok(values
                .into_iter()
                .map(|key| String::from_utf8_lossy(&key.unwrap_or_default()).into_owned())
                .collect())
        })
    }

    fn purge<'a>(
        &'a self,
        filter: &'a Filter,
        age: Duration,
        except: &'a [(String, Option<String>)],
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move {
            let sets: &[&str] = match filter.status {
                None => &["done", "dead"],
                Some(Status::Done | Status::Superseded) => &["done"],
                Some(Status::Dead) => &["dead"],
                Some(_) => &[],
            };
            let age = millis(age.min(super::MAX_PURGE_AGE));
            let mut removed = 0;
            for set in sets {
                let (mut offset, mut examined) = (0, 0);
                while removed < MAX_BATCH as u64 && examined < MAX_SCAN {
                    let mut call = self.call(&self.scripts.purge);
                    filter_args(&mut call, filter);
                    call.arg(*set)
                        .arg(age)
                        .arg(offset)
                        .arg(CHUNK)
                        .arg(MAX_BATCH as u64 - removed)
                        .arg(except.len());
                    for (sender, event_type) in except {
                        call.arg(sender)
                            .arg(u8::from(event_type.is_some()))
                            .arg(event_type.as_deref().unwrap_or_default());
                    }
                    let (gone, kept, ended): (u64, u64, u8) = self.invoke(&call).await?;
                    removed += gone;
                    offset += kept;
                    examined += CHUNK;
                    if ended == 1 {
                        break;
                    }
                }
            }
            Ok(removed)
        })
    }

    fn issues(&self, limit: usize) -> BoxFuture<'_, Result<Vec<Issue>, StoreError>> {
        Box::pin(async move {
            if limit == 0 {
                return Ok(Vec::new());
            }
            let mut call = self.call(&self.scripts.issues);
            call.arg(MAX_ISSUE_SCAN);
            let values: Vec<Option<Vec<u8>>> = self.invoke(&call).await?;
            let dead = values
                .chunks(16)
                .map(|chunk| {
                    let v = Values(chunk);
                    Ok((stored(chunk)?, v.text(14), v.millis(15)))
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            let mut issues = group_issues(dead);
            issues.truncate(limit);
            Ok(issues)
        })
    }

    fn forget<'a>(
        &'a self,
        key: &'a str,
        token: &'a ClaimToken,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.held("forget", key, token, 0, "", ""))
    }

    fn wait<'a>(&'a self, timeout: Duration) -> BoxFuture<'a, ()> {
        Box::pin(self.wait_async(timeout))
    }

    fn stats(&self) -> BoxFuture<'_, Result<InboxStats, StoreError>> {
        Box::pin(async move {
            let values: Vec<i64> = self.invoke(&self.call(&self.scripts.stats)).await?;
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
            let mut call = self.call(&self.scripts.requeue);
            call.arg(key);
            let requeued: i64 = self.invoke(&call).await?;
            Ok(requeued == 1)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Concurrent enqueues share script calls: each key is stored once (its other deliveries,
    /// in the same call or not, are duplicates), unordered entries are due at once, ordered ones
    /// wait behind their key's head, and every entry is in the index queries walk.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn grouped_enqueues_store_each_key_once_and_queue_it() {
        let Ok(url) = std::env::var("TEST_REDIS_URL") else {
            return;
        };
        let prefix = format!(
            "verihook-test:{{group-{}}}:",
            ClaimToken::generate().as_str()
        );
        let inbox = Arc::new(
            RedisInbox::connect_with_prefix(&url, &prefix)
                .await
                .unwrap(),
        );
        let tasks: Vec<_> = (0..400)
            .map(|n| {
                let inbox = inbox.clone();
                let key = n % 200;
                let event = crate::Event::builder("acme", Bytes::from_static(b"{}")).build();
                let mut entry = Entry::new(&event, format!("acme:evt_{key}"));
                if key % 4 == 0 {
                    entry.ordering_key = Some(format!("order_{}", key % 3));
                    entry.stamp = Some(key as u64);
                }
                tokio::spawn(async move { inbox.enqueue(&entry).await.unwrap() })
            })
            .collect();
        let mut new = 0;
        for task in tasks {
            if task.await.unwrap() == Enqueued::New {
                new += 1;
            }
        }
        assert_eq!(new, 200);
        assert_eq!(inbox.stats().await.unwrap().pending, 200);
        let mut filter = Filter::new();
        filter.limit = 1000;
        assert_eq!(inbox.find(&filter).await.unwrap().len(), 200);
        // 150 unordered entries, and the head of each of the 3 ordering keys.
        let leased = inbox.lease(1000, Duration::from_secs(60)).await.unwrap();
        assert_eq!(leased.len(), 153);
        let mut connection = inbox.connection.clone();
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{prefix}*"))
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut connection)
                .await
                .unwrap();
            if !keys.is_empty() {
                let _: () = redis::cmd("UNLINK")
                    .arg(keys)
                    .query_async(&mut connection)
                    .await
                    .unwrap();
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
    }
}
