#!/usr/bin/env python3
"""Writes a Shear model file (the layout of include/shear/modelfile.h) with random weights, one tensor at a
time: the pruning benchmark's source model, without training one. 2-D weights ~ N(0, std) (model.init_std's
default 0.02), norms 1, float32. Far cheaper than `shear train ... train.steps=1`, which also writes the final
checkpoint (weights + AdamW m and v: 3x the model file).

usage: make_model.py OUT.h5 --dim 4096 --layers 8 --heads 32 [--kv-heads 32] --intermediate 11008 [--vocab 32000]
"""
import argparse
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from ref_llama import Config, param_shapes  # noqa: E402  (the one table of names and shapes)

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--dim", type=int, required=True)
ap.add_argument("--layers", type=int, required=True)
ap.add_argument("--heads", type=int, required=True)
ap.add_argument("--kv-heads", type=int, default=0, help="0 = --heads")
ap.add_argument("--head-dim", type=int, default=0, help="0 = dim / heads")
ap.add_argument("--intermediate", type=int, required=True)
ap.add_argument("--vocab", type=int, default=32000)
ap.add_argument("--std", type=float, default=0.02)
ap.add_argument("--seed", type=int, default=1234)
a = ap.parse_args()
if a.dim % a.heads != 0 and a.head_dim == 0:
    sys.exit(f"make_model: dim {a.dim} is not a multiple of heads {a.heads}: give --head-dim")
c = Config(dim=a.dim, n_layers=a.layers, n_heads=a.heads, n_kv_heads=a.kv_heads or a.heads,
           head_dim=a.head_dim or a.dim // a.heads, intermediate=a.intermediate, vocab=a.vocab)
try:
    c.check()
except ValueError as e:
    sys.exit(f"make_model: {e}")
rng = np.random.default_rng(a.seed)
tmp = a.out + ".tmp"
with h5py.File(tmp, "w") as f:
    f.attrs["format"] = np.bytes_("shear-model")
    f.attrs["format_version"] = np.int32(1)
    g = f.create_group("config")
    for name in ("dim", "n_layers", "n_heads", "n_kv_heads", "head_dim", "intermediate", "vocab"):
        g.attrs[name] = np.int32(getattr(c, name))
    g.attrs["rope_theta"] = np.float64(c.rope_theta)
    g.attrs["norm_eps"] = np.float64(c.norm_eps)
    w = f.create_group("weights")
    n = 0
    for name, shape in param_shapes(c).items():
        if len(shape) == 1:
            arr = np.ones(shape, np.float32)
        else:
            arr = rng.standard_normal(shape, dtype=np.float32)
            arr *= np.float32(a.std)
        w.create_dataset(name, data=arr)
        n += arr.size
os.replace(tmp, a.out)
print(f"make_model: {a.out}: {n} parameters ({n * 4 / 2**30:.2f} GiB fp32)")
