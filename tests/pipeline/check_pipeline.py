#!/usr/bin/env python3
"""Contracts of the reduced pipeline (tools/pipeline.sh on the synthetic store): the sheared model has exactly
the target shape and the scratch baseline the same shape; every DBL proportion vector is a distribution; losses
are finite and training losses fall; the sheared model beats random init (ln V for a near-uniform init).
Usage: check_pipeline.py OUT_DIR"""
import json
import math
import sys

import h5py

out = sys.argv[1]
ok = fail = 0
def check(cond, msg):
    global ok, fail
    print(("ok   " if cond else "FAIL ") + msg)
    ok, fail = ok + bool(cond), fail + (not cond)

def recs(run):
    return [json.loads(l) for l in open(f"{out}/{run}/metrics.jsonl")]

def shape(path):
    with h5py.File(path, "r") as f:
        return {k: int(f["config"].attrs[k]) for k in ("dim", "n_layers", "n_heads", "n_kv_heads", "head_dim",
                                                         "intermediate", "vocab")}

target = {"dim": 24, "n_layers": 1, "n_heads": 2, "n_kv_heads": 1, "head_dim": 8, "intermediate": 48, "vocab": 64}
check(shape(f"{out}/sheared.h5") == target, f"sheared shape {shape(out + '/sheared.h5')} is the target")
check(shape(f"{out}/continue/model.h5") == target, "continued model keeps the target shape")
check(shape(f"{out}/scratch/model.h5") == target, "scratch baseline has the same shape")
for run, key in (("source", "loss"), ("prune", "lm_loss"), ("continue", "loss"), ("scratch", "loss")):
    steps = [r[key] for r in recs(run) if r["event"] == "step"]
    check(steps and all(math.isfinite(x) for x in steps), f"{run}: {len(steps)} finite losses")
    if run != "prune":  # pruning removes capacity: its LM loss may rise
        head, tail = sum(steps[:5]) / 5, sum(steps[-5:]) / 5
        check(tail < head, f"{run}: training loss falls {head:.3f} -> {tail:.3f}")
for run in ("prune", "continue"):
    dbl = [r for r in recs(run) if r["event"] == "dbl"]
    good = all(abs(sum(r["weights_after"].values()) - 1) < 1e-9 and min(r["weights_after"].values()) > 0
               for r in dbl)
    check(len(dbl) >= 3 and good, f"{run}: {len(dbl)} DBL updates, every proportion vector a distribution")
ev = {m: json.load(open(f"{out}/eval/{m}.json")) for m in ("source", "pruned", "sheared", "scratch")}
for m, e in ev.items():
    check(all(math.isfinite(d["loss"]) for d in e["domains"].values()), f"eval {m}: average {e['average_loss']:.4f}")
rand = math.log(64)
check(ev["sheared"]["average_loss"] < rand - 0.5, f"sheared {ev['sheared']['average_loss']:.4f} beats random init "
      f"(ln 64 = {rand:.4f}) by > 0.5")
check(ev["sheared"]["average_loss"] < ev["pruned"]["average_loss"], "continued pre-training improves the pruned model")
print(f"{ok} passed, {fail} failed")
sys.exit(1 if fail else 0)
