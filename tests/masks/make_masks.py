#!/usr/bin/python3
"""Writes one mask setting for tests/masks/masks_driver.c next to a parity case (tests/parity/make_case.py):
which types are learned, the target shape, the RNG coordinates (seed, step, micro-batch), the Lagrangian
schedule, and random log-alphas and lambdas. Everything is a function of the arguments.

Layout: root attrs masks (comma-separated names), target_dim, target_n_layers, target_n_heads,
target_intermediate, seed, step, microbatch, total_steps (int64), warmup_frac (float64);
/log_alpha/<type> float32 [rows, cols]; /lambda/<type> float32 [2] (lambda1, lambda2).

Log-alphas: mostly U(-2.5, 3.5) (so sampled gates fall inside (0, 1), at 0 and at 1), a few beyond the clamp
limits (+-6, must be clamped to +-4.6052); rows narrower than 8 (layer gates) U(-1, 1.5), where a sample lands
inside (0, 1) two times in three, so the LM gradient reaches them; and one pair of equal values per row of width >= 4 (the
deterministic masks' tie rule). Lambdas U(-1, 2): the Lagrangian has gradients of both signs.
"""
import argparse
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "validation"))
import ref_llama as ref  # noqa: E402
import ref_masks as rm  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--case", required=True, help="parity case (its /config is the source shape)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--masks", required=True, help="comma-separated learned types")
    for k in ("target-dim", "target-layers", "target-heads", "target-intermediate"):
        ap.add_argument("--" + k, type=int, required=True)
    ap.add_argument("--seed", type=int, default=7, help="mask RNG seed")
    ap.add_argument("--step", type=int, default=3)
    ap.add_argument("--microbatch", type=int, default=5)
    ap.add_argument("--total-steps", type=int, default=100)
    ap.add_argument("--warmup-frac", type=float, default=0.2)
    ap.add_argument("--values-seed", type=int, default=11, help="seed of the random log-alphas and lambdas")
    a = ap.parse_args()

    c, _ = ref.load_model(a.case)
    names = a.masks.split(",")
    n_rep = c.n_heads // c.n_kv_heads
    tgt = ref.Config(dim=a.target_dim, n_layers=a.target_layers, n_heads=a.target_heads,
                     n_kv_heads=a.target_heads // n_rep, head_dim=c.head_dim, intermediate=a.target_intermediate,
                     vocab=c.vocab)
    shapes, _, total = rm.layout(c, tgt, names)
    rng = np.random.default_rng(a.values_seed)
    with h5py.File(a.out, "w") as f:
        f.attrs["masks"] = np.bytes_(a.masks)
        for k, v in (("target_dim", a.target_dim), ("target_n_layers", a.target_layers),
                     ("target_n_heads", a.target_heads), ("target_intermediate", a.target_intermediate),
                     ("seed", a.seed), ("step", a.step), ("microbatch", a.microbatch),
                     ("total_steps", a.total_steps)):
            f.attrs[k] = np.int64(v)
        f.attrs["warmup_frac"] = np.float64(a.warmup_frac)
        for t, (rows, cols, _) in shapes.items():
            if cols < 8:  # a handful of layer gates: keep them where a sample is likely inside (0, 1)
                la = rng.uniform(-1.0, 1.5, (rows, cols))
            else:
                la = rng.uniform(-2.5, 3.5, (rows, cols))
                out = rng.random((rows, cols)) < 0.05
                la[out] = rng.choice([-6.0, 6.0], size=int(out.sum()))
            if cols >= 4:
                for r in range(rows):
                    i, j = rng.choice(cols, size=2, replace=False)
                    la[r, j] = la[r, i]
            f.create_dataset("log_alpha/" + t, data=la.astype(np.float32))
            f.create_dataset("lambda/" + t, data=rng.uniform(-1.0, 2.0, 2).astype(np.float32))
    print(f"make_masks: wrote {a.out}: {', '.join(f'{t} {r}x{n} keep {k}' for t, (r, n, k) in shapes.items())}, "
          f"{total} gates")


if __name__ == "__main__":
    main()
