#!/usr/bin/env python3
"""Compares two trees of Shear run directories (bitwise_vs_base.sh's new/ and base/): for every run, every
metrics.jsonl record with its timing fields left out (keys ending in _s, tok_s_rank, tflops, mfu: they measure the
machine), and every dataset of every .h5 file, byte for byte (the raw bytes of the stored values, so -0.0 vs 0.0 or
two NaN payloads count as different). In the deck a file carries (text, stored as bytes) the new run's directory
is read as the base run's: the two runs differ in run.out_dir only. Prints one line per run and every difference; exit 1 on any.

usage: bitwise_h5.py NEW_DIR BASE_DIR
"""
import json
import os
import sys

import h5py
import numpy as np

TIMING = {"tok_s_rank", "tflops", "mfu"}


def records(path):
    out = []
    for line in open(path):
        r = json.loads(line)
        out.append({k: v for k, v in r.items() if not k.endswith("_s") and k not in TIMING})
    return out


def datasets(path, run_dir=b"", as_dir=b""):
    found = {}

    def visit(name, obj):
        if not isinstance(obj, h5py.Dataset):
            return
        raw = np.ascontiguousarray(obj[()]).tobytes()
        found[name] = raw.replace(run_dir, as_dir) if name.split("/")[-1] == "deck" else raw
    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return found


def compare_run(new, base):
    diffs, files, nsets = [], 0, 0
    for dirpath, _, names in os.walk(base):
        for n in sorted(names):
            b = os.path.join(dirpath, n)
            rel = os.path.relpath(b, base)
            a = os.path.join(new, rel)
            if not (n == "metrics.jsonl" or n.endswith(".h5")):
                continue
            files += 1
            if not os.path.exists(a):
                diffs.append(f"{rel}: missing in the new run")
                continue
            if n == "metrics.jsonl":
                ra, rb = records(a), records(b)
                if len(ra) != len(rb):
                    diffs.append(f"{rel}: {len(ra)} records vs {len(rb)}")
                for i, (x, y) in enumerate(zip(ra, rb)):
                    if x != y:
                        diffs.append(f"{rel}: record {i + 1} differs:\n    new  {x}\n    base {y}")
                        break
                continue
            da, db = datasets(a, os.path.abspath(new).encode(), os.path.abspath(base).encode()), datasets(b)
            nsets += len(db)
            for k in sorted(set(da) | set(db)):
                if k not in da or k not in db:
                    diffs.append(f"{rel}:{k}: only in {'base' if k in db else 'new'}")
                elif da[k] != db[k]:
                    diffs.append(f"{rel}:{k}: bytes differ")
    return files, nsets, diffs


def main():
    new, base = sys.argv[1], sys.argv[2]
    bad = 0
    for run in sorted(os.listdir(base)):
        files, nsets, diffs = compare_run(os.path.join(new, run), os.path.join(base, run))
        print(f"{run:20s} {files:3d} files, {nsets:4d} datasets: {'SAME' if not diffs and files else 'DIFFERENT'}")
        for d in diffs[:20]:
            print("   ", d)
        bad |= bool(diffs) or files == 0
    print("bitwise: every compared file is the same" if not bad else "bitwise: DIFFERENCES (above)")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
