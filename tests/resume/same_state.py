#!/usr/bin/env python3
"""Compares two checkpoints dataset by dataset (weights, Adam state, masks, lambdas, sampler, proportions):
bitwise with --exact, else within a relative tolerance. Model files (no step/tokens/phase attributes) compare
their datasets only. Usage: same_state.py A.h5 B.h5 [--exact | --rtol R] [--skip DATASET]..."""
import sys

import h5py
import numpy as np

a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
exact = "--exact" in sys.argv
rtol = float(sys.argv[sys.argv.index("--rtol") + 1]) if "--rtol" in sys.argv else 0.0
skip = {"deck"} | {sys.argv[i + 1] for i, v in enumerate(sys.argv) if v == "--skip"}
names = []
a.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
ok = fail = 0
for n in sorted(names):
    if n in skip:
        continue
    x, y = a[n][()], b[n][()] if n in b else None
    if y is None or np.shape(x) != np.shape(y):
        print(f"FAIL {n}: missing or shape differs"); fail += 1; continue
    if exact:
        same = np.asarray(x).tobytes() == np.asarray(y).tobytes()
        diff = 0.0
    else:
        x64, y64 = np.asarray(x, np.float64), np.asarray(y, np.float64)
        diff = float(np.linalg.norm(x64 - y64) / max(np.linalg.norm(y64), 1e-30))
        same = diff <= rtol
    ok, fail = ok + same, fail + (not same)
    if not same:
        print(f"FAIL {n}: differs (rel {diff:.2e})")
for attr in ("step", "tokens", "phase"):
    if attr not in a.attrs and attr not in b.attrs:  # model files
        continue
    same = a.attrs[attr] == b.attrs[attr]
    print(("ok   " if same else "FAIL ") + f"attribute {attr}: {a.attrs[attr]} vs {b.attrs[attr]}")
    ok, fail = ok + same, fail + (not same)
print(f"ok   {ok} datasets and attributes {'bitwise equal' if exact else f'within {rtol}'}" if not fail else "")
print(f"{ok} passed, {fail} failed")
sys.exit(1 if fail else 0)
