#!/usr/bin/env bash
# Runs benches/verify.rs three times and prints the table for BENCHMARKS.md.
# Each figure is the lowest of the three runs' medians: this machine is shared, and a slow
# stretch during one contender's turn would otherwise skew its ratio to the floor.
set -euo pipefail
cd "$(dirname "$0")/.."
for run in 1 2 3; do
  cargo bench --bench verify --all-features -- --noplot --warm-up-time 2 --measurement-time 4 \
    --save-baseline "run$run" > "target/bench-run$run.log" 2>&1
done
python3 scripts/bench-table.py run1 run2 run3
