#!/usr/bin/env bash
# Load test on loopback: the Axum receiver (verify + memory dedup, 1 KiB bodies, every request a
# new event with its own signed body) against the same server's route that verifies nothing,
# and a route that verifies without deduplicating (examples/load_target.rs). The receiver runs
# twice: with its memory store preallocated at start-up (steady state) and growing as it fills
# (first touch: table growth and page faults on the request path).
#
# Installs wrk (Debian) if absent. Bounded: every run lasts $DURATION (6s) after a 2 s warm-up,
# against 127.0.0.1 only; $ROUNDS (3) rounds of the three routes, about 1 minute per round.
#
#   bash scripts/load.sh            # prints the Markdown table and summary for BENCHMARKS.md
#
# The server must be the bottleneck, or the routes cannot differ: it runs on core 0 with one
# Tokio worker and wrk on core 1, and the timed runs do no Lua work per response (a check per
# response slows wrk below the server's pace). Correctness is checked in each warm-up instead:
# every answer must be 200 with `"processed"` (receiver) or `"accepted"` (the other routes), and
# the timed runs must see no non-2xx answer and no socket error.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${PORT:-3917}"
DURATION="${DURATION:-6s}"
CONNECTIONS="${CONNECTIONS:-32}"
ROUNDS="${ROUNDS:-3}"

if ! command -v wrk >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
cargo build --release --quiet -p verihook-examples -p verihook-cli --bin load_target --bin verihook
target_dir=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')

work=$(mktemp -d)
server=
trap 'if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi; rm -rf "$work"' EXIT

# SCHEME=standard (the default): one 1 KiB body, each request its own signed `webhook-id`, so
# the key (the signed id) is new every time and wrk does no more work per request than before.
# SCHEME=github: GitHub signs only the body and de-duplicates on its digest, so each request
# needs its own 1 KiB body; building it in Lua costs wrk enough that the client, not the server,
# may set the pace (check the unverified route's p99). Each run is one fresh server with an empty
# store, and POOL signed requests cover a whole run; a run that needed more fails rather than send
# duplicates, which cost less.
SCHEME="${SCHEME:-standard}"
POOL="${POOL:-900000}"
python3 - "$work" "$POOL" "$SCHEME" <<'PY'
import base64, hashlib, hmac, json, sys, time
work, pool, scheme = sys.argv[1], int(sys.argv[2]), sys.argv[3]
event = {"ref": "refs/heads/main", "repository": {"full_name": "octo-org/load"}, "after": "#" * 12, "padding": ""}
event["padding"] = "x" * (1024 - len(json.dumps(event)))
template = json.dumps(event)
assert len(template) == 1024, len(template)
prefix, suffix = template.split("#" * 12)
open(f"{work}/prefix", "w").write(prefix)
open(f"{work}/suffix", "w").write(suffix)
timestamp = str(int(time.time()))
open(f"{work}/timestamp", "w").write(timestamp)
with open(f"{work}/signatures", "w") as out:
    if scheme == "github":
        key = b"load-test-github-secret"
        for n in range(pool):
            body = (prefix + "%012d" % n + suffix).encode()
            out.write("sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest() + "\n")
    else:
        key = base64.b64decode("bG9hZC10ZXN0LXN0YW5kYXJkLXNlY3JldA==")
        body = (prefix + "%012d" % 0 + suffix).encode()
        for n in range(pool):
            signed = b"msg_%d.%s." % (n, timestamp.encode()) + body
            tag = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
            out.write("v1," + tag + "\n")
PY

# Requests: request n with its signature, n counting up across the run.
cat > "$work/requests.lua" <<LUA
local prefix = io.open("$work/prefix"):read("*a")
local suffix = io.open("$work/suffix"):read("*a")
local timestamp = io.open("$work/timestamp"):read("*a")
local fixed_body = prefix .. string.format("%012d", 0) .. suffix
-- One string, fixed-width lines: a table of 900,000 strings would cost the garbage collector a
-- walk over all of them on every cycle, and make wrk, not the server, the bottleneck.
local signatures = io.open("$work/signatures"):read("*a")
local width = ("$SCHEME" == "github") and 72 or 48
local pool = #signatures / width
threads = {}
function setup(thread)
  table.insert(threads, thread)
end
-- The timed run starts where the warm-up stopped: its requests are new events too.
local offset = tonumber(os.getenv("OFFSET") or "0")
local counter = 0
exhausted = 0
function request()
  counter = counter + 1
  if offset + counter > pool then exhausted = 1 end
  local n = (offset + counter - 1) % pool
  local signature = signatures:sub(n * width + 1, n * width + width - 1)
  if "$SCHEME" == "github" then
    return wrk.format("POST", nil, {
      ["Content-Type"] = "application/json",
      ["X-Hub-Signature-256"] = signature,
      ["X-GitHub-Event"] = "push",
      ["X-GitHub-Delivery"] = "load-" .. counter,
    }, prefix .. string.format("%012d", n) .. suffix)
  end
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["webhook-id"] = "msg_" .. n,
    ["webhook-timestamp"] = timestamp,
    ["webhook-signature"] = signature,
  }, fixed_body)
end
LUA

# The timed runs: requests/s, p99 in ms, requests, and answers that were not 2xx or failed.
cat "$work/requests.lua" - > "$work/timed.lua" <<'LUA'
function done(summary, latency, requests)
  local e = summary.errors
  local exhausted = 0
  for _, thread in ipairs(threads) do exhausted = exhausted + thread:get("exhausted") end
  io.write(string.format("RESULT %.1f %.3f %d %d %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(99) / 1000, summary.requests,
    e.status + e.connect + e.read + e.write + e.timeout, exhausted))
end
LUA

# The warm-ups: every answer's status and body checked.
cat "$work/requests.lua" - > "$work/checked.lua" <<'LUA'
unexpected = 0
function response(status, headers, body)
  if status ~= 200 or not (body:find('"processed"', 1, true) or body:find('"accepted"', 1, true)) then
    unexpected = unexpected + 1
  end
end
function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do bad = bad + thread:get("unexpected") end
  io.write(string.format("CHECKED %d %d\n", summary.requests, bad))
end
LUA

server_cpu=()
client_cpu=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  server_cpu=(taskset -c 0)
  client_cpu=(taskset -c 1)
fi
ticks=$(getconf CLK_TCK)

cpu_ticks() {  # user + system CPU ticks the process has used
  awk '{print $14 + $15}' "/proc/$1/stat"
}

run() {  # route store -> "requests/s p99_ms requests bad cpu_us_per_request"
  PORT="$PORT" STORE="$2" TOKIO_WORKER_THREADS=1 "${server_cpu[@]}" "$target_dir"/release/load_target >/dev/null &
  server=$!
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    sleep 0.1
  done
  local url="http://127.0.0.1:$PORT/$1/$SCHEME" checked bad before after
  checked=$("${client_cpu[@]}" wrk -t1 -c"$CONNECTIONS" -d2s -s "$work/checked.lua" "$url" | sed -n 's/^CHECKED //p')
  local warmed
  read -r warmed bad <<<"$checked"
  if [ "$bad" != 0 ]; then
    echo "unexpected answers on /$1/$SCHEME during the warm-up: $checked" >&2
    exit 1
  fi
  before=$(cpu_ticks "$server")
  local result
  result=$(OFFSET="$((warmed + 1000))" "${client_cpu[@]}" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" -s "$work/timed.lua" "$url" | sed -n 's/^RESULT //p')
  after=$(cpu_ticks "$server")
  kill "$server"
  wait "$server" 2>/dev/null || true
  server=
  read -r rps p99 total bad exhausted <<<"$result"
  if [ "$exhausted" != 0 ]; then
    echo "the run needed more than POOL=$POOL signed bodies: raise POOL" >&2
    exit 1
  fi
  echo "$rps $p99 $total $bad $(python3 -c "print(f'{($after - $before) / $ticks / $total * 1e6:.2f}')")"
}

echo "| round | route | requests/s | p99 latency | requests | server CPU per request |"
echo "|---|---|---|---|---|---|"
results="$work/results"
: > "$results"
runs=(unverified:preallocated verified:preallocated webhooks:preallocated webhooks:lazy)
for round in $(seq 1 "$ROUNDS"); do
  # Rotate the order each round so that no run always comes first or last.
  for i in 0 1 2 3; do
    IFS=: read -r route store <<<"${runs[$(((i + round - 1) % 4))]}"
    read -r rps p99 total bad cpu <<<"$(run "$route" "$store")"
    label="/$route/$SCHEME"
    name=$route
    if [ "$route" = webhooks ]; then label="$label ($store store)"; name="webhooks-$store"; fi
    printf '| %s | %s | %.0f | %s ms | %s | %s µs |\n' "$round" "$label" "$rps" "$p99" "$total" "$cpu"
    if [ "$bad" != 0 ]; then
      echo "$bad failed or non-2xx answers on $label" >&2
      exit 1
    fi
    echo "$round $name $rps $p99 $cpu" >> "$results"
  done
done
python3 - "$results" <<'PY'
import collections, statistics, sys
rows = collections.defaultdict(dict)
for line in open(sys.argv[1]):
    round_, route, rps, p99, cpu = line.split()
    rows[round_][route] = (float(rps), float(p99), float(cpu))
def median_ratio(route, field):
    return statistics.median(r[route][field] / r["unverified"][field] for r in rows.values())
def median(route, field):
    return statistics.median(r[route][field] for r in rows.values())
print()
print("Medians over rounds of each round's ratio to the unverified route:")
for route, name in (
    ("webhooks-preallocated", "full receiver, steady state (store preallocated at start-up)"),
    ("webhooks-lazy", "full receiver, first touch (store grows on the request path)"),
    ("verified", "verify only"),
):
    print(f"- {name}: {median_ratio(route, 0):.1%} of the unverified throughput "
          f"(target for the full receiver: at least 90%); p99 {median(route, 1):.2f} ms vs "
          f"{median('unverified', 1):.2f} ms; server CPU {median(route, 2):.2f} µs vs "
          f"{median('unverified', 2):.2f} µs per request")
PY
