#!/usr/bin/env python3
"""Prints the Markdown table for BENCHMARKS.md from criterion's saved baselines.

Usage: python3 scripts/bench-table.py BASELINE [BASELINE ...]   (scripts/bench.sh runs it)
Each figure is the lowest median among the baselines given.
"""
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent / "target" / "criterion"
SIZES = [("256 B", 256), ("1 KiB", 1024), ("64 KiB", 65536), ("1 MiB", 1048576)]
SCHEMES = ["github", "stripe", "standard-webhooks"]
TARGETS = {1024: {"github": 1.15, "stripe": 1.30, "standard-webhooks": 1.30},
           65536: {"github": 1.03, "stripe": 1.03, "standard-webhooks": 1.03}}


def median_ns(baselines, size, name):
    return min(
        json.loads((ROOT / f"verify_{size}" / name / b / "estimates.json").read_text())["median"]["point_estimate"]
        for b in baselines
    )


def fmt(ns):
    return f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.0f} ns"


def main(baselines):
    print("| body | floor: pre-keyed HMAC-SHA256 | github | stripe | standard-webhooks | `standardwebhooks` crate | verihook vs crate (same request) |")
    print("|---|---|---|---|---|---|---|")
    misses = []
    for label, size in SIZES:
        floor = median_ns(baselines, size, "floor-hmac-sha256")
        cells = [label, fmt(floor)]
        for scheme in SCHEMES:
            ns = median_ns(baselines, size, scheme)
            ratio = ns / floor
            target = TARGETS.get(size, {}).get(scheme)
            mark = ""
            if target is not None:
                mark = " ✓" if ratio <= target else f" ✗ (target {target}×)"
                if ratio > target:
                    misses.append(f"{scheme} at {label}: {ratio:.3f}× > {target}×")
            cells.append(f"{fmt(ns)} ({ratio:.3f}×){mark}")
        theirs = median_ns(baselines, size, "standardwebhooks-crate")
        ours = median_ns(baselines, size, "standard-webhooks")
        speedup = theirs / ours
        if speedup < 4:
            misses.append(f"only {speedup:.1f}× faster than the crate at {label}")
        cells += [fmt(theirs), f"{speedup:.1f}× faster"]
        print("| " + " | ".join(cells) + " |")
    print()
    print("Targets missed: " + ("; ".join(misses) if misses else "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["new"]))
