#!/usr/bin/env bash
# Load test on loopback: the Axum receiver (examples/load_target.rs) against the same server's
# route that verifies nothing and its route that verifies without deduplicating, per scheme
# (GitHub, Stripe, Standard Webhooks), 1 KiB bodies, every request a new event.
#
# The client (examples/load_client.rs) signs all its requests with verihook's own signers
# before the clock starts and then only replays bytes over keep-alive connections, so the
# server sets the pace; it reports its own CPU beside the server's to show it.
#
#   bash scripts/load.sh            # ROUNDS (3) interleaved rounds; prints Markdown tables
#   SMOKE=1 bash scripts/load.sh    # every route and store once, a few thousand requests: seconds
#
# Per round and scheme, in an order that rotates each round, one fresh server per run:
#   unverified, verified (verify only), and the full receiver with each store:
#   preallocated (MemoryStore::preallocated: steady state), lazy (MemoryStore::with_capacity:
#   first touch), redis (REDIS_URL / TEST_REDIS_URL), postgres (DATABASE_URL / TEST_DATABASE_URL).
# Bounded: each run is WARMUP + REQUESTS requests (DB_REQUESTS for Redis and PostgreSQL), cut
# off after LIMIT seconds, to 127.0.0.1 only. The Redis keys (prefix `verihook-load:`) are
# deleted after each run; the PostgreSQL table `verihook_load` is emptied at each server start
# and dropped when the script ends.
#
# The server runs on core 0 with one Tokio worker, the client on core 1 (taskset). Every answer,
# warm-up and timed, must be 200 with "processed" (receiver) or "accepted" (the other routes).
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${PORT:-3917}"
CONNECTIONS="${CONNECTIONS:-32}"
# spin: the client polls its sockets without sleeping (the default: on loopback the server pays
# for waking a sleeping client, and pays more the slower the route); epoll: it sleeps in epoll.
MODE="${MODE:-spin}"
SCHEMES="${SCHEMES:-github stripe standard}"
STORES="${STORES:-preallocated lazy redis postgres}"
if [ "${SMOKE:-0}" = 1 ]; then
  ROUNDS="${ROUNDS:-1}" REQUESTS="${REQUESTS:-3000}" DB_REQUESTS="${DB_REQUESTS:-1000}"
  WARMUP="${WARMUP:-300}" LIMIT="${LIMIT:-20}"
else
  ROUNDS="${ROUNDS:-3}" REQUESTS="${REQUESTS:-150000}" DB_REQUESTS="${DB_REQUESTS:-20000}"
  WARMUP="${WARMUP:-10000}" LIMIT="${LIMIT:-30}"
fi
export REDIS_URL="${REDIS_URL:-${TEST_REDIS_URL:-redis://127.0.0.1:6379}}"
export DATABASE_URL="${DATABASE_URL:-${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}}"

cargo build --release --quiet -p verihook-examples --features redis,postgres \
  --bin load_target --bin load_client
target_dir=${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')}

work=$(mktemp -d)
server=
# The PostgreSQL store's table goes with the run (psql, where installed).
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi
  rm -rf "$work"
  if command -v psql >/dev/null; then
    psql -q "$DATABASE_URL" -c "DROP TABLE IF EXISTS verihook_load" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

server_cpu=()
client_cpu=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  server_cpu=(taskset -c 0)
  client_cpu=(taskset -c 1)
fi

forget_redis_keys() {
  if command -v redis-cli >/dev/null; then
    redis-cli -u "$REDIS_URL" --scan --pattern 'verihook-load:*' |
      xargs -r -n 1000 redis-cli -u "$REDIS_URL" del >/dev/null
  fi
}

run() {  # route store scheme -> the client's RESULT fields
  local route=$1 store=$2 scheme=$3 requests=$REQUESTS warmup=$WARMUP expect=accepted
  case $store in redis | postgres) requests=$DB_REQUESTS warmup=$((WARMUP / 10 + 1)) ;; esac
  [ "$route" = webhooks ] && expect=processed
  PORT="$PORT" STORE="$store" TOKIO_WORKER_THREADS=1 "${server_cpu[@]}" \
    "$target_dir"/release/load_target >/dev/null &
  server=$!
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    sleep 0.1
  done
  local result
  result=$("${client_cpu[@]}" "$target_dir"/release/load_client --addr "127.0.0.1:$PORT" \
    --path "/$route/$scheme" --scheme "$scheme" --requests "$requests" --warmup "$warmup" \
    --connections "$CONNECTIONS" --server-pid "$server" --expect "$expect" \
    --limit-secs "$LIMIT" --mode "$MODE" | sed -n 's/^RESULT //p')
  kill "$server"
  wait "$server" 2>/dev/null || true
  server=
  [ "$store" = redis ] && forget_redis_keys
  echo "$result"
}

echo "load average before: $(cat /proc/loadavg)"
echo
echo "| round | scheme | route | requests/s | p50 | p99 | requests | server CPU per request | server busy |"
echo "|---|---|---|---|---|---|---|---|---|"
results="$work/results"
: > "$results"
runs=(unverified:preallocated verified:preallocated)
for store in $STORES; do runs+=("webhooks:$store"); done
for round in $(seq 1 "$ROUNDS"); do
  for scheme in $SCHEMES; do
    # Rotate the order each round so that no run always comes first or last.
    for i in $(seq 0 $((${#runs[@]} - 1))); do
      IFS=: read -r route store <<<"${runs[$(((i + round - 1) % ${#runs[@]}))]}"
      name=$route
      [ "$route" = webhooks ] && name="webhooks-$store"
      read -r rps p50 p99 total bad server_us client_us client_share server_share \
        <<<"$(run "$route" "$store" "$scheme")"
      if [ -z "${rps:-}" ] || [ "$bad" != 0 ]; then
        echo "failed or unexpected answers on /$route/$scheme ($store): ${bad:-no result}" >&2
        exit 1
      fi
      printf '| %s | %s | %s | %.0f | %s ms | %s ms | %s | %s µs | %.0f%% |\n' "$round" \
        "$scheme" "$name" "$rps" "$p50" "$p99" "$total" "$server_us" \
        "$(python3 -c "print($server_share * 100)")"
      echo "$round $scheme $name $rps $p50 $p99 $server_us $client_us $client_share $server_share" >> "$results"
    done
  done
done
echo
echo "load average after: $(cat /proc/loadavg)"
python3 - "$results" <<'PY'
import collections, statistics, sys
rows = collections.defaultdict(dict)  # (round, scheme) -> route -> fields
for line in open(sys.argv[1]):
    round_, scheme, route, *fields = line.split()
    rows[(round_, scheme)][route] = [float(f) for f in fields]
RPS, P50, P99, CPU, CLIENT, SHARE, BUSY = range(7)
schemes = list(dict.fromkeys(s for _, s in rows))
routes = list(dict.fromkeys(r for v in rows.values() for r in v))
names = {
    "unverified": "unverified", "verified": "verify only",
    "webhooks-preallocated": "full, memory (steady state)",
    "webhooks-lazy": "full, memory (first touch)",
    "webhooks-redis": "full, Redis", "webhooks-postgres": "full, PostgreSQL",
}
print()
print("Medians over rounds; ratios are each round's ratio to that round's unverified run "
      "(CPU: unverified's CPU per request / the route's, so 90% means 11% more CPU).")
print()
print("| scheme | route | requests/s | vs unverified | p50 | p99 | server CPU per request | vs unverified (CPU) | server busy |")
print("|---|---|---|---|---|---|---|---|---|")
for scheme in schemes:
    mine = [v for (r, s), v in rows.items() if s == scheme]
    for route in routes:
        med = lambda f: statistics.median(v[route][f] for v in mine)
        ratio = lambda f, inv=False: statistics.median(
            (v["unverified"][f] / v[route][f]) if inv else (v[route][f] / v["unverified"][f])
            for v in mine)
        print(f"| {scheme} | {names.get(route, route)} | {med(RPS):,.0f} | {ratio(RPS):.1%} | "
              f"{med(P50):.3f} ms | {med(P99):.3f} ms | {med(CPU):.2f} µs | {ratio(CPU, True):.1%} | "
              f"{med(BUSY):.0%} |")
PY
