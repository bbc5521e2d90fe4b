#!/usr/bin/env python3
"""Turns criterion's estimates for `benches/verify.rs` into the Markdown table in BENCHMARKS.md.

Usage: cargo bench --bench verify --all-features && python3 scripts/bench-table.py
"""
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent / "target" / "criterion"
SIZES = [("256 B", 256), ("1 KiB", 1024), ("64 KiB", 65536), ("1 MiB", 1048576)]
SCHEMES = ["github", "stripe", "standard-webhooks"]


def median_ns(size, name):
    path = ROOT / f"verify_{size}" / name / "new" / "estimates.json"
    return json.loads(path.read_text())["median"]["point_estimate"]


def fmt(ns):
    return f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.0f} ns"


def main():
    print("| body | floor (HMAC-SHA256) | github | stripe | standard-webhooks | standardwebhooks crate | verihook standard vs crate |")
    print("|---|---|---|---|---|---|---|")
    for label, size in SIZES:
        floor = median_ns(size, "floor-hmac-sha256")
        cells = [label, fmt(floor)]
        for scheme in SCHEMES:
            ns = median_ns(size, scheme)
            cells.append(f"{fmt(ns)} ({ns / floor:.3f}×)")
        theirs = median_ns(size, "standardwebhooks-crate")
        ours = median_ns(size, "standard-webhooks")
        cells.append(fmt(theirs))
        cells.append(f"{theirs / ours:.1f}× faster")
        print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
