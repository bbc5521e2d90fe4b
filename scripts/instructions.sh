#!/usr/bin/env bash
# Instructions per 1 KiB verification for GitHub, Stripe and Standard Webhooks, counted by
# callgrind (benches/instructions.rs): each scheme's program runs at N=0 and at N=$ITERATIONS
# verifications of the same request, and the table gives (count at N - count at 0) / N. The
# count is the same on every run of one binary, so two commits compare exactly: run this in a
# checkout (or `git worktree`) of each. valgrind runs SHA-256 in software, so the totals are far
# above the SHA-NI path; the differences are the code around the MAC.
#
#   bash scripts/instructions.sh     # about a minute after the build; honours CARGO_TARGET_DIR
#
# Needs valgrind (installed with apt-get when absent).
set -euo pipefail
cd "$(dirname "$0")/.."

ITERATIONS="${ITERATIONS:-2000}"
SCHEMES="${SCHEMES:-github stripe standard}"

if ! command -v valgrind >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
fi

# The bench profile (release); the executable's path comes from cargo's own report.
bin="$(cargo bench -p verihook --no-run --bench instructions --message-format=json 2>/dev/null \
  | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)"
[ -x "$bin" ] || { echo "no executable built for benches/instructions.rs"; exit 1; }

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

# Instructions callgrind counted for one scheme at n verifications (plus the first, unrolled).
count() {
  INSTRUCTIONS_SCHEME="$1" INSTRUCTIONS_ITERATIONS="$2" \
    valgrind --tool=callgrind --callgrind-out-file="$out/$1-$2.out" "$bin" 2>"$out/$1-$2.log" \
    || { cat "$out/$1-$2.log"; exit 1; }
  sed -n 's/^==[0-9]*== Collected : \([0-9]*\)$/\1/p' "$out/$1-$2.log"
}

echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), ${ITERATIONS} verifications of 1 KiB"
echo
echo "| scheme | instructions per verification |"
echo "|---|---|"
for scheme in $SCHEMES; do
  base="$(count "$scheme" 0)"
  total="$(count "$scheme" "$ITERATIONS")"
  per="$(( (total - base + ITERATIONS / 2) / ITERATIONS ))"
  case "$scheme" in
    github) name="GitHub" ;;
    stripe) name="Stripe" ;;
    standard) name="Standard Webhooks" ;;
    *) name="$scheme" ;;
  esac
  printf '| %s | %s |\n' "$name" "$(echo "$per" | sed ':a; s/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/; ta')"
done
