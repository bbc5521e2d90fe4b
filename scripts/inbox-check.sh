#!/usr/bin/env bash
# Crash test of the inbox on the real PostgreSQL, with the processes of examples/inbox.rs:
# one receiver and two workers. 1,000 events are sent over HTTP; a worker is killed with
# SIGKILL mid-run (handlers in flight) and restarted; the receiver is killed with SIGKILL right
# after its last 2xx. Then: every acknowledged event is processed, and each effect row
# (committed with the event's completion) exists exactly once.
#
#   TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test bash scripts/inbox-check.sh
#
# Uses a database of its own (verihook_inbox_check, recreated), ports 3962; honours
# CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."

admin_url="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
db_url="${admin_url%/*}/verihook_inbox_check"
events="${INBOX_CHECK_EVENTS:-1000}"
port=3962

cargo build --quiet --features axum,inbox,postgres,cli --example inbox --bin verihook
target_dir=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
inbox_bin="$target_dir/debug/examples/inbox"
cli="$target_dir/debug/verihook"

psql -q "$admin_url" -c 'DROP DATABASE IF EXISTS verihook_inbox_check' >/dev/null 2>&1
psql -q "$admin_url" -c 'CREATE DATABASE verihook_inbox_check' >/dev/null

work=$(mktemp -d)
pids=()
trap 'kill -9 "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

sql() { psql -qtA "$db_url" -c "$1"; }

start() {  # name role [VAR=value ...]
  local name=$1 role=$2
  shift 2
  env DATABASE_URL="$db_url" INBOX_ROLE="$role" PORT="$port" WORKERS=8 HANDLER_DELAY_MS=30 \
    INBOX_LEASE_MS=1500 INBOX_BACKOFF_MS=100 "$@" "$inbox_bin" >>"$work/$name.log" 2>&1 &
  pids+=($!)
  eval "pid_$name=$!"
  for _ in $(seq 1 100); do
    grep -q "inbox: PostgreSQL" "$work/$name.log" 2>/dev/null && return 0
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
  [ "$(sql 'SELECT count(*) FROM inbox_demo_effects' 2>/dev/null || echo 0)" -ge $((events / 5)) ] && break
  sleep 0.05
done
# shellcheck disable=SC2154 # set by start()
kill -9 "$pid_worker1"
wait "$pid_worker1" 2>/dev/null || true
done_at_kill=$(sql "SELECT count(*) FROM verihook_inbox WHERE state = 'done'")
leased_at_kill=$(sql "SELECT count(*) FROM verihook_inbox WHERE state = 'leased'")
echo "worker 1 killed with SIGKILL: $done_at_kill of $events done, $leased_at_kill leased"
sleep 0.5
start worker1 worker

wait "$sender" || true
# shellcheck disable=SC2154
kill -9 "$pid_receiver"
wait "$pid_receiver" 2>/dev/null || true
acknowledged=$(grep -c '"outcome":"queued"' "$work/answers" || true)
echo "receiver killed with SIGKILL after $acknowledged acknowledged events"
[ "$acknowledged" = "$events" ] || { echo "only $acknowledged of $events were acknowledged"; head "$work/answers"; exit 1; }

# Everything acknowledged is processed: wait for the inbox to drain.
for _ in $(seq 1 600); do
  stats=$("$cli" inbox --database-url "$db_url" stats)
  case "$stats" in *'"pending":0,"in_flight":0,'*) break ;; esac
  sleep 0.1
done
echo "inbox: $stats"
done_count=$(sql "SELECT count(*) FROM verihook_inbox WHERE state = 'done'")
read -r rows distinct < <(sql "SELECT count(*), count(DISTINCT key) FROM inbox_demo_effects" | tr '|' ' ')
echo "done: $done_count; effect rows: $rows, distinct keys: $distinct"
[ "$done_count" = "$events" ] || { echo "not every acknowledged event was processed"; exit 1; }
[ "$rows" = "$events" ] && [ "$distinct" = "$events" ] || { echo "an effect is missing or doubled"; exit 1; }
[ "$done_at_kill" -lt "$events" ] || { echo "worker 1 was killed too late to test anything"; exit 1; }
retried=$(sql "SELECT count(*) FROM verihook_inbox WHERE attempts > 1")
echo "events that ran again after the kill (their lease ran out): $retried"

for name in worker1 worker2; do
  pid_var="pid_$name"
  kill -TERM "${!pid_var}"
  wait "${!pid_var}" 2>/dev/null || true
  grep -q "^stopped" "$work/$name.log" || { echo "$name did not stop gracefully"; tail "$work/$name.log"; exit 1; }
done
psql -q "$admin_url" -c 'DROP DATABASE IF EXISTS verihook_inbox_check' >/dev/null
echo "inbox crash test passed: $events acknowledged, $events processed, each effect once"
