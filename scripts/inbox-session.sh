#!/bin/bash
# The session the guide's inbox chapter quotes ("Operating the inbox"): the inbox example on a
# scratch database (verihook_doc, dropped at the end), six Stripe events sent with verihook send,
# then the operator's commands. Needs PostgreSQL at 127.0.0.1:5432 (trust auth, user postgres).
set -u
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$(dirname "$0")/.."
cargo build --quiet -p verihook-cli -p verihook-examples --bin verihook --bin inbox --features verihook-examples/inbox,verihook-examples/postgres
DB=verihook_doc
psql -q -h 127.0.0.1 -U postgres test -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
export DATABASE_URL=postgres://postgres@127.0.0.1:5432/$DB
SECRET=$(grep -h "const DEMO_STRIPE_SECRET" examples/common/*.rs | sed -E 's/.*"(.*)".*/\1/')
INBOX_MAX_ATTEMPTS=1 INBOX_STALE_GUARD=1 PORT=3977 "${CARGO_TARGET_DIR:-target}"/debug/inbox > "$work/inbox.log" 2>&1 &
pid=$!
sleep 2
body() { # id object created email fail
  printf '{"id":"%s","object":"event","type":"%s","created":%s,"data":{"object":{"id":"%s","customer_email":"%s"}},"fail_times":%s}' "$1" "$2" "$3" "$4" "$5" "$6"
}
now=$(date +%s)
send() { body "$@" > "$work/body.json"; "${CARGO_TARGET_DIR:-target}"/debug/verihook send -p stripe -s "$SECRET" --url http://127.0.0.1:3977/webhooks/stripe --body-file "$work/body.json" >/dev/null; }
send evt_1QsubUpd customer.subscription.updated $((now-60)) sub_1QxA jo@example.com 0
send evt_1QsubOld customer.subscription.updated $((now-120)) sub_1QxA jo@example.com 0
send evt_1Qinv1 invoice.paid $((now-50)) in_1Qa jo@example.com 1
send evt_1Qinv2 invoice.paid $((now-40)) in_1Qb al@example.com 1
send evt_1Qinv3 invoice.paid $((now-30)) in_1Qc li@example.com 0
send evt_1Qref refund.created $((now-20)) re_1Qd li@example.com 1
sleep 2
V="${CARGO_TARGET_DIR:-target}/debug/verihook inbox --database-url $DATABASE_URL"
echo '$ verihook inbox stats'; $V stats
echo '$ verihook inbox list --status superseded'; $V list --status superseded
echo '$ verihook inbox issues'; $V issues
ISSUE=$($V issues | python3 -c 'import json,sys; print([json.loads(l) for l in sys.stdin if json.loads(l)["count"]==2][0]["id"])')
echo "\$ verihook inbox retry --issue $ISSUE"; $V retry --issue $ISSUE
sleep 1
echo '$ verihook inbox replay --sender stripe --type invoice.paid --since 1h --status done --dry-run'; $V replay --sender stripe --type invoice.paid --since 1h --status done --dry-run
echo '$ verihook inbox replay --sender stripe --type invoice.paid --since 1h --status done --reason "VAT rounding fixed"'; $V replay --sender stripe --type invoice.paid --since 1h --status done --reason "VAT rounding fixed"
sleep 2
echo '$ verihook inbox stats'; $V stats
echo '$ verihook inbox list --type invoice.paid --status done'; $V list --type invoice.paid --status done
kill -INT $pid; wait $pid
echo "--- worker log"; grep -E "^(processed|superseded|dead|retry)" "$work/inbox.log"
psql -q -h 127.0.0.1 -U postgres test -c "DROP DATABASE $DB"
