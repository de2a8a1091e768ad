#!/usr/bin/env python3
"""Compares two runs of `shear train` or `shear prune` (their run.out_dir folders): the per-step metrics (losses,
gradient norm, Lagrangian, expected parameters) of every common step, and the final model file (model.h5 or
pruned.h5) dataset by dataset: bitwise with --exact, else within relative tolerances (--rtol for the model's
tensors, --loss-rtol for the metrics). Usage: compare_runs.py A_DIR B_DIR [--exact | --rtol R [--loss-rtol R]]"""
import json
import os
import sys

import h5py
import numpy as np

a_dir, b_dir = sys.argv[1], sys.argv[2]
exact = "--exact" in sys.argv
rtol = float(sys.argv[sys.argv.index("--rtol") + 1]) if "--rtol" in sys.argv else 0.0
loss_rtol = float(sys.argv[sys.argv.index("--loss-rtol") + 1]) if "--loss-rtol" in sys.argv else rtol
KEYS = ("loss", "lm_loss", "grad_norm", "lagrangian", "expected_params", "lr")
ok = fail = 0

def steps(d):
    return {r["step"]: r for r in map(json.loads, open(os.path.join(d, "metrics.jsonl"))) if r["event"] == "step"}

sa, sb = steps(a_dir), steps(b_dir)
common = sorted(set(sa) & set(sb))
if len(common) < 5:
    print(f"FAIL only {len(common)} common steps in the metrics"); fail += 1
worst = 0.0
for s in common:
    for k in KEYS:
        if k not in sa[s]:
            continue
        x, y = sa[s][k], sb[s][k]
        rel = abs(x - y) / max(abs(x), 1e-30)
        worst = max(worst, rel)
        if (exact and x != y) or (not exact and rel > loss_rtol):
            print(f"FAIL step {s} {k}: {x!r} vs {y!r} (rel {rel:.2e})"); fail += 1
print(f"{'ok  ' if not fail else 'info'} metrics of {len(common)} steps: max relative difference {worst:.2e}")
ok += not fail

name = "pruned.h5" if os.path.exists(os.path.join(a_dir, "pruned.h5")) else "model.h5"
fa, fb = h5py.File(os.path.join(a_dir, name), "r"), h5py.File(os.path.join(b_dir, name), "r")
names = []
fa.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
worst = 0.0
n_tensors = bad = 0
for n in sorted(names):
    if n == "deck":
        continue
    x, y = fa[n][()], fb[n][()] if n in fb else None
    if y is None or np.shape(x) != np.shape(y):
        print(f"FAIL {name}:{n}: missing or shape differs"); fail += 1; continue
    n_tensors += 1
    if exact:
        same = np.asarray(x).tobytes() == np.asarray(y).tobytes()
        rel = 0.0 if same else float("inf")
    else:
        x64, y64 = np.asarray(x, np.float64), np.asarray(y, np.float64)
        rel = float(np.linalg.norm(x64 - y64) / max(np.linalg.norm(y64), 1e-30))
        same = rel <= rtol
    worst = max(worst, rel) if same else worst
    if not same:
        print(f"FAIL {name}:{n}: differs (rel {rel:.2e})"); fail += 1; bad += 1
if n_tensors == 0:
    print(f"FAIL {name}: no datasets"); fail += 1
elif not bad:
    print(f"ok   {name}: {n_tensors} datasets {'bitwise equal' if exact else f'max relative difference {worst:.2e}'}")
    ok += 1
print(f"{ok} passed, {fail} failed")
sys.exit(1 if fail else 0)
