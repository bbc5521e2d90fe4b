#!/usr/bin/env bash
# Fuzzes every header and secret parser with cargo-fuzz (libFuzzer + AddressSanitizer): the
# GitHub, Stripe, Standard Webhooks, Slack, Twilio, Discord, Square, Shopify, GitLab, Paddle,
# Linear and Zoom verifiers, the declared schemes and CloudEvents on arbitrary headers, bodies and
# (for URL-signing schemes) request targets (from scratch, and starting from a valid signature
# with bytes appended), every secret constructor, and (target `operations`) the guards' IP lists
# and forwarded headers and the diagnosis of an arbitrary request.
# A panic, a failed assertion or a sanitizer report fails the script and leaves the input in
# fuzz/artifacts/<target>/.
#
#   bash scripts/fuzz.sh                  # 30 s per target
#   FUZZ_SECONDS=600 bash scripts/fuzz.sh
#
# cargo-fuzz needs nightly-only compiler flags; this machine has one stable toolchain, so
# RUSTC_BOOTSTRAP=1 lets stable accept them (for this build only).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

SECONDS_PER_TARGET="${FUZZ_SECONDS:-30}"
export RUSTC_BOOTSTRAP=1

if ! command -v cargo-fuzz >/dev/null; then
  cargo install --locked --quiet cargo-fuzz
fi
cargo fuzz build 2>&1 | tail -1
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for target in $(cargo fuzz list); do
  echo "--- $target: ${SECONDS_PER_TARGET}s"
  if ! cargo fuzz run "$target" -- -max_total_time="$SECONDS_PER_TARGET" >"$log" 2>&1; then
    tail -60 "$log"
    echo "fuzz target $target failed; the input is in fuzz/artifacts/$target/" >&2
    exit 1
  fi
  grep -E 'DONE|^Done' "$log" | tail -2
done
