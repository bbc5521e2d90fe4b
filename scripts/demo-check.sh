#!/usr/bin/env bash
# Runs the README's demo for real: both example receivers, driven by `verihook send`.
# Checks the contract: routes, status codes, the log lines, deduplication shared through Redis
# by two receivers, a clean stop on SIGTERM, and one readable line for each start-up failure.
# Needs Redis at $TEST_REDIS_URL. Honours CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."

redis_url="${TEST_REDIS_URL:-redis://127.0.0.1:6379}"
# The example receivers (verihook-examples, every feature: Redis, PostgreSQL, Discord) and the CLI.
cargo build --quiet -p verihook-examples -p verihook-cli --all-features
# Wherever cargo puts its builds (CARGO_TARGET_DIR, a config file, or ./target).
target_dir=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
send="$target_dir/debug/verihook"
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

start() {  # name port [VAR=value ...]
  local name=$1 port=$2
  shift 2
  env PORT="$port" "$@" "$target_dir/debug/$name" >"$work/$name-$port.log" 2>&1 &
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
  grep -qF -- "$2" "$1" || { echo "missing in $1: $2"; cat "$1"; exit 1; }
}

# 1. Each receiver alone, in memory: every route, a rejection, duplicates.
for name in axum_receiver actix_receiver; do
  start "$name" 3931
  base=http://127.0.0.1:3931/webhooks
  $send send -p github -s demo-github-secret --url "$base/github" --id "gh-$name" --repeat 3 >"$work/out" 2>&1
  $send send -p stripe -s whsec_demo_stripe_secret --url "$base/stripe" --id "evt_$name" >>"$work/out" 2>&1
  $send send -p standard -s whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw --url "$base/standard" \
    --id "msg_$name" --event user.created >>"$work/out" 2>&1
  # Typed routes: a second Stripe type, GitHub's pull_request.opened, and a type no route takes.
  $send send -p stripe -s whsec_demo_stripe_secret --url "$base/stripe" \
    --body-file examples/samples/stripe-payment_intent.succeeded.json >>"$work/out" 2>&1
  $send send -p github -s demo-github-secret --url "$base/github" --id "pr-$name" \
    --event pull_request --body-file tests/vectors/payloads/github-pull_request-opened.json >>"$work/out" 2>&1
  # An invoice where a payment intent is expected: 422, never retried into success.
  if $send send -p stripe -s whsec_demo_stripe_secret --url "$base/stripe" --id "evt_misfit_$name" \
    --event payment_intent.succeeded >>"$work/out" 2>&1; then
    echo "a payload that does not fit was accepted"; exit 1
  fi
  $send send -p stripe -s whsec_demo_stripe_secret --url "$base/stripe" --id "evt_new_$name" \
    --event customer.tax_id.created >>"$work/out" 2>&1
  if $send send -p stripe -s whsec_not_the_secret --url "$base/stripe" >>"$work/out" 2>&1; then
    echo "a wrong secret was accepted"; exit 1
  fi
  # Every other sender on its own route, signed with its demo secret by `send`'s sample event.
  for sender in slack:demo-slack-signing-secret twilio:demo-twilio-auth-token \
    square:demo-square-signature-key shopify:demo-shopify-client-secret \
    gitlab:demo-gitlab-secret-token paddle:pdl_ntfset_demo_secret_key \
    linear:lin_wh_demo_signing_secret zoom:demo-zoom-secret-token; do
    $send send -p "${sender%%:*}" -s "${sender#*:}" --url "$base/${sender%%:*}" \
      --id "$name-${sender%%:*}" >>"$work/out" 2>&1 || { cat "$work/out"; echo "${sender%%:*} refused"; exit 1; }
  done
  log="$work/$name-3931.log"
  expect "$work/out" '"outcome":"duplicate"'
  expect "$work/out" ' 401 {"error":"bad_signature"'
  expect "$log" "processed provider=github id=gh-$name type=push"
  expect "$log" "processed provider=stripe id=evt_$name type=invoice.paid invoice=in_1QDemoInvoice amount_paid=4200"
  expect "$log" "processed provider=stripe id=evt_demo_payment_intent type=payment_intent.succeeded payment_intent=pi_3QDemo amount=4200"
  expect "$work/out" ' 422 {"error":"invalid_payload"'
  # Failures are verihook's own log lines (the `tracing` feature), one each, naming the sender.
  expect "$log" "webhook payload does not fit its route's type; the claim was released sender=\"stripe\" key=\"stripe:evt_misfit_$name\" code=\"invalid_payload\" status=422 path=data.object error=authentic payload does not match the expected type at \`data.object\`: missing field \`amount\`"
  [ "$(grep -c "evt_misfit_$name" "$log")" = 1 ] || { echo "a misfit logged in more than one line"; exit 1; }
  expect "$log" "processed provider=github id=pr-$name type=pull_request #2 \"Update the README with new information.\""
  expect "$log" "webhook acknowledged without a route for its type sender=\"stripe\" key=\"stripe:evt_new_$name\" code=\"unrouted\" status=200 event_type=customer.tax_id.created"
  expect "$work/out" '"outcome":"unrouted"'
  expect "$log" "processed provider=standard-webhooks id=msg_$name type=user.created"
  expect "$log" "webhook rejected sender=\"stripe\" code=\"bad_signature\" status=401 error=no signature matched"
  expect "$log" "duplicate provider=github"
  expect "$log" "idempotency: in memory"
  expect "$log" "POST /webhooks/standard"
  for sender in slack twilio square shopify gitlab paddle linear zoom; do
    expect "$log" "POST /webhooks/$sender"
    expect "$log" "processed provider=$sender"
  done
  [ "$(grep -c "processed provider=github id=gh-" "$log")" = 1 ] || { echo "github delivery processed twice"; exit 1; }
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
redis-cli -u "$redis_url" DEL "verihook:stripe:$id" >/dev/null  # leave Redis as it was
echo "axum_receiver and actix_receiver share deduplication through Redis"

# 3. `verihook listen --forward` in front of the example receiver: listen verifies and prints,
#    the request reaches the app unchanged, and the app's answer goes back to the sender.
start axum_receiver 3934
"$send" listen --port 3935 --count 2 --json --forward http://127.0.0.1:3934 \
  --secret stripe=whsec_demo_stripe_secret >"$work/listen.out" 2>"$work/listen.err" &
pids+=($!)
listen_pid=$!
for _ in $(seq 1 100); do grep -q "verihook listen:" "$work/listen.err" 2>/dev/null && break; sleep 0.1; done
$send send -p stripe -s whsec_demo_stripe_secret --url http://127.0.0.1:3935/webhooks/stripe \
  --id evt_listened >"$work/forward" 2>&1
if $send send -p stripe -s whsec_demo_stripe_secret --url http://127.0.0.1:3935/webhooks/stripe \
  --alter trailing-newline >>"$work/forward" 2>&1; then
  echo "a body changed after signing was accepted through listen"; exit 1
fi
wait "$listen_pid"
expect "$work/forward" '#1 200 {"outcome":"processed"'
expect "$work/forward" '#1 401 {"error":"bad_signature"'
expect "$work/axum_receiver-3934.log" "processed provider=stripe id=evt_listened type=invoice.paid"
expect "$work/listen.out" '"ok":true'
expect "$work/listen.out" '"forwarded":{"url":"http://127.0.0.1:3934/webhooks/stripe","status":200'
expect "$work/listen.out" '"cause":"body_gained_trailing_newline"'
expect "$work/listen.out" '["stripe-signature","[redacted]"]'
if grep -q demo_stripe_secret "$work/listen.out"; then echo "listen printed a secret"; exit 1; fi
echo "verihook listen forwards to the example receiver and diagnoses the altered body"

# 4. The operated receiver: guards on every route (429 past the burst) and Prometheus metrics.
start prometheus 3936 RATE_PER_SECOND=1 RATE_BURST=3
$send send -p stripe -s whsec_demo_stripe_secret --url http://127.0.0.1:3936/webhooks/stripe \
  --repeat 5 >"$work/limited" 2>&1 || true
expect "$work/limited" '#5 429 {"error":"rate_limited"'
python3 -c 'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:3936/metrics").read().decode())' >"$work/metrics"
expect "$work/metrics" 'verihook_requests_total{sender="stripe",outcome="processed"} 1'
expect "$work/metrics" 'verihook_guard_rejections_total{sender="stripe",code="rate_limited"} 2'
expect "$work/metrics" 'verihook_verification_duration_seconds_count{sender="stripe"} 3'
echo "prometheus: guards answer 429 past the burst and GET /metrics serves the counters"

# 5. Start-up failures: one readable line naming what to change, exit status 1.
fails() {  # name expected-line [VAR=value ...]
  local name=$1 line=$2
  shift 2
  if env "$@" "$target_dir/debug/$name" >"$work/fail.out" 2>&1; then
    echo "$name started with $*"; exit 1
  fi
  [ "$(wc -l <"$work/fail.out")" = 1 ] || { echo "$name: more than one line"; cat "$work/fail.out"; exit 1; }
  expect "$work/fail.out" "$line"
  if grep -q hunter2 "$work/fail.out"; then echo "$name printed a password"; exit 1; fi
}
fails axum_receiver "error: cannot listen on 127.0.0.1:3932 (PORT=3932): " PORT=3932
fails actix_receiver "error: cannot listen on 127.0.0.1:3933 (PORT=3933): " PORT=3933
fails axum_receiver "error: cannot connect to Redis at redis://:***@127.0.0.1:1: " REDIS_URL=redis://:hunter2@127.0.0.1:1
fails actix_receiver "error: cannot connect to PostgreSQL at postgres://postgres@127.0.0.1:1/test: " DATABASE_URL=postgres://postgres@127.0.0.1:1/test
fails axum_receiver "error: STRIPE_WEBHOOK_SECRET: stripe: bad secret: the secret is 5 bytes" STRIPE_WEBHOOK_SECRET=whsec_short
fails actix_receiver "error: STRIPE_WEBHOOK_SECRET: stripe: bad secret: this is a Stripe API key, not a webhook signing secret" STRIPE_WEBHOOK_SECRET=sk_live_hunter2hunter2
fails axum_receiver "error: STRIPE_WEBHOOK_SECRET: stripe: bad secret: the secret contains spaces, a newline or quotes" 'STRIPE_WEBHOOK_SECRET="whsec_hunter2hunter2"'
fails axum_receiver "error: STANDARD_WEBHOOK_SECRET: standard-webhooks: bad secret: the text after whsec_ is not base64" 'STANDARD_WEBHOOK_SECRET=whsec_hunter2 hunter2!' 
fails axum_receiver 'error: PORT="eighty" is not a port number' PORT=eighty
echo "start-up failures are one readable line each"
