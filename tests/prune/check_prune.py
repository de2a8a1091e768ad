#!/usr/bin/env python3
"""Contracts of a prune run and its finalized model: metrics hold every mask type's expected/target sparsity,
lambdas and DBL records whose proportions are distributions; the finalized model has exactly the target shape.
Usage: check_prune.py RUN_DIR FINAL.h5 dim layers heads kv_heads intermediate"""
import json
import math
import sys

import h5py

run, final = sys.argv[1], sys.argv[2]
want = dict(zip(["dim", "n_layers", "n_heads", "n_kv_heads", "intermediate"], map(int, sys.argv[3:8])))
ok = fail = 0
def check(cond, msg):
    global ok, fail
    print(("ok   " if cond else "FAIL ") + msg)
    ok, fail = ok + bool(cond), fail + (not cond)

recs = [json.loads(l) for l in open(f"{run}/metrics.jsonl")]
steps = [r for r in recs if r["event"] == "step"]
check(len(steps) > 0 and all(math.isfinite(s["lm_loss"]) for s in steps), f"{len(steps)} steps with finite LM loss")
types = [t for t in ("layer", "head", "intermediate", "hidden") if t in steps[0]]
check(types == ["layer", "head", "intermediate", "hidden"], f"per-type records for {types}")
last = steps[-1]
for t in types:
    check(abs(last[t]["target_sparsity"] - (1 - {"layer": 1 / 2, "head": 1 / 2, "intermediate": 48 / 64,
                                                  "hidden": 24 / 32}[t])) < 1e-6,
          f"{t}: target sparsity at the end is the full target ({last[t]['target_sparsity']:.4f})")
dbl = [r for r in recs if r["event"] == "dbl"]
check(len(dbl) >= 3, f"{len(dbl)} DBL records")
for r in dbl:
    w = list(r["weights_after"].values())
    check(abs(sum(w) - 1) < 1e-9 and min(w) > 0, f"step {r['step']}: proportions a distribution {[round(x, 4) for x in w]}")
masks = [r for r in recs if r["event"] == "masks"]
check(len(masks) >= 2, f"{len(masks)} deterministic-mask records")
ev = [r for r in recs if r["event"] == "eval"]
check(len(ev) == 1 and all(math.isfinite(v) for v in ev[0]["losses"].values()), "final per-domain evaluation")
with h5py.File(final, "r") as f:
    got = {k: int(f["config"].attrs[k]) for k in want}
    check(got == want, f"finalized shape {got} == target {want}")
    check(f["weights/model.layers.0.mlp.up_proj.weight"].shape == (want["intermediate"], want["dim"]),
          "tensor shapes follow the target")
print(f"{ok} passed, {fail} failed")
sys.exit(1 if fail else 0)
