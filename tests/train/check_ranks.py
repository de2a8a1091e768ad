#!/usr/bin/env python3
"""Compares the loss curves (metrics.jsonl) of runs on different rank counts over the same global batch: equal
up to reduction-order rounding, and the loss must fall.
Usage: check_ranks.py [--key KEY] [--drop D] [--tol R] REF.jsonl OTHER.jsonl...   (KEY: loss (train) or lm_loss
(prune); D: the reference's loss must fall by at least D; R: the largest relative difference allowed, 1e-4)"""
import json
import sys

args = sys.argv[1:]
key, drop, tol = "loss", 0.3, 1e-4
while args and args[0].startswith("--"):
    if args[0] == "--key":
        key = args[1]
    elif args[0] == "--drop":
        drop = float(args[1])
    elif args[0] == "--tol":
        tol = float(args[1])
    args = args[2:]

def losses(path):
    return {r["step"]: r[key] for r in map(json.loads, open(path)) if r["event"] == "step"}

sys.argv[1:] = args
ref_by_step = losses(sys.argv[1])
ref = [ref_by_step[s] for s in sorted(ref_by_step)]
ok = fail = 0
if len(ref) < 5 or not ref[-1] < ref[0] - drop:
    print(f"FAIL loss did not fall on the reference run: {ref[:1]} -> {ref[-1:]}"); fail += 1
else:
    print(f"ok   reference {key} {ref[0]:.4f} -> {ref[-1]:.4f} (required drop {drop})"); ok += 1
for p in sys.argv[2:]:
    # compared step by step: a resumed run logs only the steps after its checkpoint
    other = losses(p)
    common = sorted(set(other) & set(ref_by_step))
    worst = max(abs(other[s] - ref_by_step[s]) / abs(ref_by_step[s]) for s in common) if len(common) >= 5 else float("inf")
    if worst < tol:
        print(f"ok   {p}: {len(common)} steps, max relative loss difference {worst:.2e} (allowed {tol:.0e})"); ok += 1
    else:
        print(f"FAIL {p}: max relative loss difference {worst:.2e} ({len(common)} common steps)"); fail += 1
print(f"{ok} passed, {fail} failed")
sys.exit(1 if fail else 0)
