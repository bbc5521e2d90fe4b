#!/usr/bin/env bash
# Crash test of the inbox on the real servers, with the processes of examples/inbox.rs: one
# receiver and two workers. 1,000 events are sent over HTTP; a worker is killed with SIGKILL
# mid-run (handlers in flight) and restarted; the receiver is killed with SIGKILL right after
# its last 2xx. Then every acknowledged event is processed; on PostgreSQL, each effect row
# (committed with the event's completion) exists exactly once.
#
#   bash scripts/inbox-check.sh              # PostgreSQL, then Redis
#   BACKENDS=redis bash scripts/inbox-check.sh
#
# PostgreSQL: a database of its own (verihook_inbox_check, recreated) on $TEST_DATABASE_URL's
# server. Redis: the inbox example's keys (verihook:{inbox}:*) on $TEST_REDIS_URL, deleted
# first. Port 3962; honours CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."

admin_url="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
db_url="${admin_url%/*}/verihook_inbox_check"
redis_url="${TEST_REDIS_URL:-redis://127.0.0.1:6379}"
events="${INBOX_CHECK_EVENTS:-1000}"
port=3962

cargo build --quiet -p verihook-examples -p verihook-cli --bin inbox --bin verihook \
  --features verihook-examples/inbox,verihook-examples/postgres,verihook-examples/redis
target_dir=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
inbox_bin="$target_dir/debug/inbox"
cli="$target_dir/debug/verihook"

work=$(mktemp -d)
pids=()
trap 'kill -9 "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

sql() { psql -qtA "$db_url" -c "$1"; }

stats() {  # the inbox's stats, one JSON object
  if [ "$backend" = postgres ]; then
    "$cli" inbox --database-url "$db_url" stats
  else
    "$cli" inbox --redis-url "$redis_url" stats
  fi
}

field() {  # name json -> the number
  python3 -c 'import json, sys; print(json.loads(sys.argv[2])[sys.argv[1]])' "$1" "$2"
}

check() {  # backend
backend=$1
rm -f "$work"/*.log "$work/answers"
if [ "$backend" = postgres ]; then
  psql -q "$admin_url" -c 'DROP DATABASE IF EXISTS verihook_inbox_check' >/dev/null 2>&1
  psql -q "$admin_url" -c 'CREATE DATABASE verihook_inbox_check' >/dev/null
  store=(DATABASE_URL="$db_url")
else
  redis-cli -u "$redis_url" --scan --pattern 'verihook:{inbox}:*' | xargs -r redis-cli -u "$redis_url" DEL >/dev/null
  store=(REDIS_URL="$redis_url")
fi

start() {  # name role [VAR=value ...]
  local name=$1 role=$2
  shift 2
  env "${store[@]}" INBOX_ROLE="$role" PORT="$port" WORKERS=8 HANDLER_DELAY_MS=30 \
    INBOX_LEASE_MS=1500 INBOX_BACKOFF_MS=100 "$@" "$inbox_bin" >>"$work/$name.log" 2>&1 &
  pids+=($!)
  eval "pid_$name=$!"
  for _ in $(seq 1 100); do
    grep -q "^inbox: " "$work/$name.log" 2>/dev/null && return 0
    sleep 0.1
  done
  cat "$work/$name.log"
  echo "$name did not start"
  exit 1
}

start receiver receiver
start worker1 worker
start worker2 worker

# Send the events, 8 at a time, each with its own id.
seq 1 "$events" | xargs -P 8 -I{} "$cli" send --provider stripe \
  --secret whsec_demo_stripe_secret --url "http://127.0.0.1:$port/webhooks/stripe" \
  --id "evt_check_{}" >"$work/answers" 2>/dev/null &
sender=$!

# Kill worker 1 mid-run, handlers in flight, once a fifth of the events took effect.
for _ in $(seq 1 600); do
  [ "$(field done "$(stats)")" -ge $((events / 5)) ] && break
  sleep 0.05
done
# shellcheck disable=SC2154 # set by start()
kill -9 "$pid_worker1"
wait "$pid_worker1" 2>/dev/null || true
at_kill=$(stats)
done_at_kill=$(field done "$at_kill")
echo "$backend: worker 1 killed with SIGKILL: $done_at_kill of $events done, $(field in_flight "$at_kill") in flight"
sleep 0.5
start worker1 worker

wait "$sender" || true
# shellcheck disable=SC2154
kill -9 "$pid_receiver"
wait "$pid_receiver" 2>/dev/null || true
acknowledged=$(grep -c '"outcome":"queued"' "$work/answers" || true)
echo "$backend: receiver killed with SIGKILL after $acknowledged acknowledged events"
[ "$acknowledged" = "$events" ] || { echo "only $acknowledged of $events were acknowledged"; head "$work/answers"; exit 1; }

# Everything acknowledged is processed: wait for the inbox to drain.
for _ in $(seq 1 600); do
  now=$(stats)
  case "$now" in *'"pending":0,"in_flight":0,'*) break ;; esac
  sleep 0.1
done
echo "$backend: inbox $now"
done_count=$(field done "$now")
[ "$done_count" = "$events" ] || { echo "not every acknowledged event was processed"; exit 1; }
[ "$done_at_kill" -lt "$events" ] || { echo "worker 1 was killed too late to test anything"; exit 1; }
again=$(cat "$work"/worker*.log | grep -c "^processed .* attempt=[2-9]" || true)
echo "$backend: events processed again after the kill (their lease ran out): $again"
if [ "$backend" = postgres ]; then
  read -r rows distinct < <(sql "SELECT count(*), count(DISTINCT key) FROM inbox_demo_effects" | tr '|' ' ')
  echo "$backend: effect rows: $rows, distinct keys: $distinct"
  [ "$rows" = "$events" ] && [ "$distinct" = "$events" ] || { echo "an effect is missing or doubled"; exit 1; }
fi

for name in worker1 worker2; do
  pid_var="pid_$name"
  kill -TERM "${!pid_var}"
  wait "${!pid_var}" 2>/dev/null || true
  grep -q "^stopped" "$work/$name.log" || { echo "$name did not stop gracefully"; tail "$work/$name.log"; exit 1; }
done
if [ "$backend" = postgres ]; then
  psql -q "$admin_url" -c 'DROP DATABASE IF EXISTS verihook_inbox_check' >/dev/null
else
  redis-cli -u "$redis_url" --scan --pattern 'verihook:{inbox}:*' | xargs -r redis-cli -u "$redis_url" DEL >/dev/null
fi
echo "$backend: inbox crash test passed: $events acknowledged, $events processed"
}

for backend in ${BACKENDS:-postgres redis}; do
  check "$backend"
done
