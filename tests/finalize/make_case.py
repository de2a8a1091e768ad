#!/usr/bin/env python3
"""Writes a prune output for finalize tests with h5py: a Shear model file of the source shape (random weights,
random norm weights) plus /masks/<type> float32 gate values with exact counts per row (layout: finalize.h), and a
/deck text. --break plants one error for the command-line error tests."""
import argparse
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "validation"))
import ref_llama as R  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--dim", type=int, default=40)
ap.add_argument("--layers", type=int, default=5)
ap.add_argument("--heads", type=int, default=6)
ap.add_argument("--kv-heads", type=int, default=3)
ap.add_argument("--head-dim", type=int, default=8)
ap.add_argument("--intermediate", type=int, default=36)
ap.add_argument("--vocab", type=int, default=64)
ap.add_argument("--types", default="layer,head,intermediate,hidden", help="comma list of learned mask types")
ap.add_argument("--layer-mode", choices=("keep", "prune"), default="prune", help="layer gates: all kept or 3 of 5")
ap.add_argument("--style", choices=("det", "uniform"), default="det",
                help="nonzero values: det = around 0.996 (deterministic masks), uniform = random in (0.5, 1)")
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--break", dest="brk", default="",
                choices=("", "no-masks", "inconsistent-heads", "inconsistent-intermediate", "zero-hidden",
                         "zero-layer", "dropped-layer-odd", "bad-shape", "unknown-type", "out-of-range", "layer-with-cofi", "empty-masks"))
a = ap.parse_args()
rng = np.random.default_rng(a.seed)
c = R.Config(dim=a.dim, n_layers=a.layers, n_heads=a.heads, n_kv_heads=a.kv_heads, head_dim=a.head_dim,
             intermediate=a.intermediate, vocab=a.vocab)
c.check()
P = {}
for name, shape in R.param_shapes(c).items():
    if len(shape) == 1:
        P[name] = rng.uniform(0.5, 1.5, size=shape).astype(np.float32)
    else:
        P[name] = (0.25 * rng.standard_normal(shape)).astype(np.float32)


def row(n, k):
    """n gates, exactly k nonzero at random positions."""
    z = np.zeros(n, np.float32)
    keep = rng.permutation(n)[:k]
    if a.style == "det":
        z[keep] = 0.996 + 0.003 * (2 * rng.random(k) - 1)
    else:
        z[keep] = 0.5 + 0.5 * (0.001 + 0.998 * rng.random(k))
    return z


L, G, I, d = c.n_layers, c.n_kv_heads, c.intermediate, c.dim
kg, ki, kd, kl = (G + 1) // 2, (2 * I) // 3, (2 * d) // 3, (3 * L) // 5 if a.layer_mode == "prune" else L
masks = {}
for t in a.types.split(","):
    if t in ("layer",):
        masks[t] = row(L, kl)
    elif t in ("head_layer", "mlp"):
        masks[t] = row(L, L)
    elif t == "head":
        masks[t] = np.stack([row(G, kg) for _ in range(L)])
    elif t == "intermediate":
        masks[t] = np.stack([row(I, ki) for _ in range(L)])
    elif t == "hidden":
        masks[t] = row(d, kd)
    else:
        sys.exit(f"unknown mask type {t}")

kept_layers = np.flatnonzero(masks["layer"]) if "layer" in masks else np.arange(L)
if a.brk == "inconsistent-heads":          # the second kept layer keeps one KV group fewer
    h = masks["head"][kept_layers[1]]
    h[np.flatnonzero(h)[0]] = 0
if a.brk == "dropped-layer-odd":           # a dropped layer's rows are never used: any count is fine there
    masks["head"][np.flatnonzero(masks["layer"] == 0)[0]][:] = 0
if a.brk == "inconsistent-intermediate":   # the last kept layer keeps one channel more
    m = masks["intermediate"][kept_layers[-1]]
    m[np.flatnonzero(m == 0)[0]] = 0.9
if a.brk == "zero-hidden":
    masks["hidden"][:] = 0
if a.brk == "zero-layer":
    masks["layer"][:] = 0
if a.brk == "bad-shape":                   # head gates per query head instead of per KV group
    masks["head"] = np.ones((L, c.n_heads), np.float32)
if a.brk == "out-of-range":
    masks["hidden"][0] = 1.5
if a.brk == "layer-with-cofi":
    masks["mlp"] = row(L, L)

with h5py.File(a.out, "w") as f:
    R.write_model(f, c, {n: R.torch.from_numpy(v) for n, v in P.items()})
    f.create_dataset("deck", data=np.frombuffer(f"# finalize test case seed {a.seed}\nmodel:\n  dim: {d}\n".encode(),
                                                np.uint8))
    if a.brk != "no-masks":
        g = f.create_group("masks")
        g.attrs["format_version"] = np.int64(1)
        if a.brk == "unknown-type":
            g.create_dataset("heads", data=np.ones((L, G), np.float32))
        if a.brk != "empty-masks":
            for t, v in masks.items():
                g.create_dataset(t, data=v.astype(np.float32))
print(f"{a.out}: d={d} L={L} H={c.n_heads} kv={G} I={I}; masks {sorted(masks)}"
      f"{'; break ' + a.brk if a.brk else ''}")
