"""Contracts of a prune.uniform 0 run: the exact gates keep L_T * target heads (KV groups) and MLP channels in
total over the layers the layer mask keeps (rows may differ), dropped layers keep nothing, and
validation/nonuniform.py folds both runs into dense per-layer models whose logits equal the masked models'.
usage: check_nonuniform.py NONUNIFORM_DIR UNIFORM_DIR L_T KV_T I_T WORK"""
import subprocess
import sys

import h5py
import numpy as np

nu, uni, LT, GT, IT, work = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
fails = 0


def check(what, ok):
    global fails
    print(("ok   " if ok else "FAIL ") + what)
    fails += not ok


with h5py.File(f"{nu}/pruned.h5", "r") as f:
    layer = f["masks/layer"][()]
    head = f["masks/head"][()]
    inter = f["masks/intermediate"][()]
kept = layer != 0
check(f"layers kept: {int(kept.sum())} == {LT}", int(kept.sum()) == LT)
for name, z, t in (("head", head, GT), ("intermediate", inter, IT)):
    per_row = (z != 0).sum(axis=1)
    check(f"{name}: kept per source layer {per_row.tolist()}: {int(per_row[kept].sum())} over kept layers == "
          f"{LT} x {t}", int(per_row[kept].sum()) == LT * t)
    check(f"{name}: dropped layers keep nothing", int(per_row[~kept].sum()) == 0)
r = subprocess.run([sys.executable, sys.argv[0].replace("tests/prune/check_nonuniform.py", "validation/nonuniform.py"),
                    "--uniform", uni, "--nonuniform", nu, "--rounds", "1", "--batch", "1", "--seq", "16",
                    "--new-tokens", "4", "--threads", "1", "--out-md", f"{work}/nonuniform.md",
                    "--out-json", f"{work}/nonuniform.json"], capture_output=True, text=True)
print(r.stdout[-2000:], r.stderr[-2000:])
check("validation/nonuniform.py: both folds equal their masked models and the table is written", r.returncode == 0)
print(f"{fails} failed")
sys.exit(1 if fails else 0)
