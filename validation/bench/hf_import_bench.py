#!/usr/bin/env python3
"""Streaming import: time and peak memory (max RSS of the child) of `shear import` and `shear export` on a
Hugging Face folder of random bf16 weights in 3 shards written by tests/hf/make_hf.py. Peak memory should follow
the largest tensor, not the model size.
usage: hf_import_bench.py --shear build/shear [--dim 1024 --layers 16 --intermediate 2816] [--out results.json]"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ap = argparse.ArgumentParser()
ap.add_argument("--shear", required=True)
ap.add_argument("--dim", type=int, default=1024)
ap.add_argument("--layers", type=int, default=16)
ap.add_argument("--heads", type=int, default=16)
ap.add_argument("--intermediate", type=int, default=2816)
ap.add_argument("--out", default="")
a = ap.parse_args()
work = tempfile.mkdtemp(prefix="shear-hf-bench-")
subprocess.run([sys.executable, os.path.join(HERE, "..", "..", "tests", "hf", "make_hf.py"), work, "--dim", str(a.dim),
                "--layers", str(a.layers), "--heads", str(a.heads), "--kv-heads", str(a.heads), "--head-dim",
                str(a.dim // a.heads), "--intermediate", str(a.intermediate), "--dtype", "BF16", "--shards", "3",
                "--seed", "1"], check=True, stdout=subprocess.DEVNULL)


def measured(cmd):
    """seconds and max RSS (MB) of one child process (RUSAGE_CHILDREN is a running max: run each in a fresh child)"""
    code = ("import resource,subprocess,sys,time; t=time.perf_counter(); subprocess.run(sys.argv[1:], check=True, "
            "stdout=subprocess.DEVNULL); print(time.perf_counter()-t, "
            "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)")
    out = subprocess.run([sys.executable, "-c", code] + cmd, check=True, capture_output=True, text=True).stdout.split()
    return float(out[0]), float(out[1])


model = os.path.join(work, "model.h5")
t_imp, rss_imp = measured([a.shear, "import", "--from", os.path.join(work, "hf"), "--out", model])
t_exp, rss_exp = measured([a.shear, "export", "--model", model, "--out", os.path.join(work, "exported"),
                           "--dtype", "bf16"])
bf16 = sum(os.path.getsize(os.path.join(work, "hf", f)) for f in os.listdir(os.path.join(work, "hf"))
           if f.endswith(".safetensors"))
params = bf16 / 2
res = {"params": params, "bf16_bytes": bf16, "fp32_bytes": 2 * bf16, "import_s": t_imp, "import_max_rss_mb": rss_imp,
       "export_bf16_s": t_exp, "export_max_rss_mb": rss_exp}
print(f"{params / 1e6:.0f}M parameters, bf16 in 3 shards ({bf16 / 1e9:.2f} GB; {2 * bf16 / 1e9:.2f} GB in fp32)")
print(f"  import      {t_imp:6.1f} s, peak memory {rss_imp:6.0f} MB")
print(f"  export bf16 {t_exp:6.1f} s, peak memory {rss_exp:6.0f} MB")
if a.out:
    json.dump(res, open(a.out, "w"), indent=1)
