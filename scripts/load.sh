#!/usr/bin/env bash
# Load test on loopback: the Axum receiver (verify + memory dedup, 1 KiB bodies, a unique
# delivery id per request) against the same server's route that verifies nothing, and a route
# that verifies without deduplicating (examples/load_target.rs).
# Installs wrk (Debian) if absent. Bounded: each run lasts $DURATION (10s) against 127.0.0.1.
#
#   bash scripts/load.sh            # prints a Markdown table for BENCHMARKS.md
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${PORT:-3917}"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
ROUNDS="${ROUNDS:-2}"

if ! command -v wrk >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
cargo build --release --quiet --example load_target --features axum
cargo build --release --quiet --features cli --bin verihook

work=$(mktemp -d)
server=
trap 'if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi; rm -rf "$work"' EXIT

# A 1 KiB push-like body, signed once: GitHub signs only the body, so each request can carry
# its own X-GitHub-Delivery id (unique keys for the store) under the same signature.
python3 - "$work/body.json" <<'PY'
import json, sys
event = {"ref": "refs/heads/main", "repository": {"full_name": "octo-org/load"}, "commits": []}
event["padding"] = ""
event["padding"] = "x" * (1024 - len(json.dumps(event)))
body = json.dumps(event)
assert len(body) == 1024, len(body)
open(sys.argv[1], "w").write(body)
PY
signature=$(target/release/verihook sign -p github -s load-test-github-secret \
  --body-file "$work/body.json" | sed -n 's/^X-Hub-Signature-256: //p')

cat > "$work/load.lua" <<LUA
local body = io.open("$work/body.json"):read("*a")
local next_thread = 1
local threads = {}
function setup(thread)
  thread:set("tid", next_thread)
  next_thread = next_thread + 1
  table.insert(threads, thread)
end
local counter = 0
unexpected = 0
function request()
  counter = counter + 1
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["X-Hub-Signature-256"] = "$signature",
    ["X-GitHub-Event"] = "push",
    ["X-GitHub-Delivery"] = "load-" .. os.time() .. "-" .. tid .. "-" .. counter,
  }, body)
end
function response(status, headers, body)
  if status ~= 200 or not (body:find('"processed"', 1, true) or body:find('"accepted"', 1, true)) then
    unexpected = unexpected + 1
  end
end
function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do bad = bad + thread:get("unexpected") end
  io.write(string.format("RESULT %.1f %.3f %d %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(99) / 1000, summary.requests, bad))
end
LUA

# The server on core 0 with one Tokio worker, wrk on core 1, so they do not take each other's
# core (this machine has two).
server_cpu=()
client_cpu=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  server_cpu=(taskset -c 0)
  client_cpu=(taskset -c 1)
fi

run() {  # route -> "requests/s p99_ms requests unexpected"
  PORT="$PORT" TOKIO_WORKER_THREADS=1 "${server_cpu[@]}" target/release/examples/load_target >/dev/null &
  server=$!
  for _ in $(seq 1 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    sleep 0.1
  done
  # A 2 s warm-up, not counted, so neither route is measured on a cold process.
  "${client_cpu[@]}" wrk -t1 -c"$CONNECTIONS" -d2s -s "$work/load.lua" "http://127.0.0.1:$PORT/$1/github" >/dev/null
  "${client_cpu[@]}" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" -s "$work/load.lua" "http://127.0.0.1:$PORT/$1/github" \
    | sed -n 's/^RESULT //p'
  kill "$server"
  wait "$server" 2>/dev/null || true
  server=
}

echo "| run | route | requests/s | p99 latency | requests | unexpected answers |"
echo "|---|---|---|---|---|---|"
pipeline=()
verify_only=()
unverified=()
for round in $(seq 1 "$ROUNDS"); do
  for route in unverified verified webhooks; do
    read -r rps p99 total bad <<<"$(run "$route")"
    echo "| $round | /$route/github | $rps | ${p99} ms | $total | $bad |"
    case "$route" in
      webhooks) pipeline+=("$rps") ;;
      verified) verify_only+=("$rps") ;;
      *) unverified+=("$rps") ;;
    esac
    [ "$bad" = 0 ] || { echo "unexpected answers on /$route/github"; exit 1; }
  done
done
python3 - "${pipeline[*]}" "${verify_only[*]}" "${unverified[*]}" <<'PY'
import statistics, sys
pipeline, verify_only, unverified = ([float(x) for x in arg.split()] for arg in sys.argv[1:4])
base = statistics.median(unverified)
print(f"\nfull receiver (verify + memory dedup) / unverified, medians: {statistics.median(pipeline) / base:.1%}  (target: at least 90%)")
print(f"verify only / unverified, medians: {statistics.median(verify_only) / base:.1%}")
PY
