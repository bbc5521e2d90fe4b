#!/usr/bin/env bash
# Runs the README's demo for real: both example receivers, driven by `verihook send`.
# Checks the contract: routes, status codes, the log lines, deduplication shared through Redis
# by two receivers, and a clean stop on SIGTERM. Needs Redis at $TEST_REDIS_URL.
set -euo pipefail
cd "$(dirname "$0")/.."

redis_url="${TEST_REDIS_URL:-redis://127.0.0.1:6379}"
cargo build --quiet --all-features --examples --bin verihook
send=target/debug/verihook
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

start() {  # name port [VAR=value ...]
  local name=$1 port=$2
  shift 2
  env PORT="$port" "$@" "target/debug/examples/$name" >"$work/$name-$port.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do
    grep -q "listening on" "$work/$name-$port.log" 2>/dev/null && return 0
    sleep 0.1
  done
  cat "$work/$name-$port.log"
  echo "$name did not start"
  return 1
}

expect() {  # file pattern
  grep -q -- "$2" "$1" || { echo "missing in $1: $2"; cat "$1"; exit 1; }
}

# 1. Each receiver alone, in memory: every route, a rejection, duplicates.
for name in axum_receiver actix_receiver; do
  start "$name" 3931
  base=http://127.0.0.1:3931/webhooks
  $send send -p github -s demo-github-secret --url "$base/github" --id "gh-$name" --repeat 3 >"$work/out" 2>&1
  $send send -p stripe -s whsec_demo_stripe_secret --url "$base/stripe" --id "evt_$name" >>"$work/out" 2>&1
  $send send -p standard -s whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw --url "$base/standard" \
    --id "msg_$name" --event user.created >>"$work/out" 2>&1
  if $send send -p stripe -s whsec_not_the_secret --url "$base/stripe" >>"$work/out" 2>&1; then
    echo "a wrong secret was accepted"; exit 1
  fi
  log="$work/$name-3931.log"
  expect "$work/out" '"outcome":"duplicate"'
  expect "$work/out" ' 401 {"error":"bad_signature"'
  expect "$log" "processed provider=github id=gh-$name type=push"
  expect "$log" "processed provider=stripe id=evt_$name type=invoice.paid"
  expect "$log" "processed provider=standard-webhooks id=msg_$name type=user.created"
  expect "$log" "rejected provider=stripe error=bad_signature"
  [ "$(grep -c "processed provider=github" "$log")" = 1 ] || { echo "github delivery processed twice"; exit 1; }
  kill -TERM "${pids[-1]}"
  wait "${pids[-1]}" || true
  expect "$log" "stopped"
  echo "$name: routes, rejection, deduplication and shutdown behave"
done

# 2. Two receivers (one of each framework) sharing Redis: a delivery processed by one is a
#    duplicate for the other.
id="shared-$(date +%s%N)"
start axum_receiver 3932 REDIS_URL="$redis_url"
start actix_receiver 3933 REDIS_URL="$redis_url"
$send send -p stripe -s whsec_demo_stripe_secret --url http://127.0.0.1:3932/webhooks/stripe --id "$id" >"$work/shared" 2>&1
$send send -p stripe -s whsec_demo_stripe_secret --url http://127.0.0.1:3933/webhooks/stripe --id "$id" >>"$work/shared" 2>&1
expect "$work/shared" '"outcome":"processed"'
expect "$work/shared" '"outcome":"duplicate"'
expect "$work/axum_receiver-3932.log" "idempotency: Redis"
echo "axum_receiver and actix_receiver share deduplication through Redis"
