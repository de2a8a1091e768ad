#!/usr/bin/env python3
"""A run.recompute = 1 run against its recompute-off twin (same deck, same rank count): every step record's
numbers except timings are EQUAL (==, no tolerance: recomputation calls the same ops on the same inputs), and
every float dataset of the final model file (weights; masks of a prune) is bitwise equal.
Usage: same_run.py KEY REF_DIR RC_DIR MODEL_FILE   (KEY: loss (train) or lm_loss (prune), must be present)"""
import json
import sys

import h5py
import numpy as np

key, ref_dir, rc_dir, model = sys.argv[1:5]
# wall-clock numbers (tok_s, tok_s_rank, step_s, elapsed_s, tflops, mfu) differ from run to run; everything else
# (loss, lm_loss, lr, grad_norm, lambdas, sparsities, tokens) is a function of the deck and the data
def timing(k):
    return k.endswith("_s") or k.endswith("_s_rank") or k in ("tflops", "mfu")

def steps(path):
    out = {}
    for r in map(json.loads, open(path)):
        if r.get("event") == "step":
            out[r["step"]] = {k: v for k, v in r.items() if not timing(k)}
    return out

ok = fail = 0
ref, rc = steps(f"{ref_dir}/metrics.jsonl"), steps(f"{rc_dir}/metrics.jsonl")
if len(ref) < 5 or sorted(ref) != sorted(rc) or any(key not in r for r in ref.values()):
    print(f"FAIL steps {sorted(ref)} vs {sorted(rc)}, or {key} missing"); fail += 1
else:
    diff = [(s, k, ref[s][k], rc[s].get(k)) for s in sorted(ref) for k in ref[s] if ref[s][k] != rc[s].get(k)]
    if diff:
        print(f"FAIL {len(diff)} values differ, first: step {diff[0][0]} {diff[0][1]}: {diff[0][2]} vs {diff[0][3]}")
        fail += 1
    else:
        fields = sorted(next(iter(ref.values())))
        print(f"ok   {len(ref)} steps equal in {fields} ({key} {ref[min(ref)][key]} -> {ref[max(ref)][key]})"); ok += 1

def datasets(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, o: out.__setitem__(n, np.asarray(o[()])) if isinstance(o, h5py.Dataset) else None)
    return out

a, b = datasets(f"{ref_dir}/{model}"), datasets(f"{rc_dir}/{model}")
# the float datasets (weights, masks); the stored deck text differs by run.recompute itself
numeric = [n for n in a if a[n].dtype.kind == "f"]
bad = [n for n in numeric if n not in b or a[n].shape != b[n].shape or a[n].tobytes() != b[n].tobytes()]
if sorted(a) != sorted(b) or bad or not numeric:
    print(f"FAIL {model}: datasets differ: {bad[:5]} (names equal: {sorted(a) == sorted(b)})"); fail += 1
else:
    print(f"ok   {model}: {len(numeric)} numeric datasets bitwise equal"); ok += 1
print(f"{ok} passed, {fail} failed")
sys.exit(1 if fail else 0)
