#!/usr/bin/env python3
"""The KD term of ShearOps.classifier_kd against PyTorch (float64 autograd), full vocabulary and top-k, at several
temperatures and alphas: the LM and KD sums, and the gradients dx, dw of dscale ((1 - alpha) LM + alpha KD).

  kd_torch.py KD_DRIVER WORKDIR [cpu|cuda]

The reference is written the way a PyTorch user writes distillation: F.kl_div over log_softmax / softmax at
temperature T scaled by T^2, and for top-k torch.topk of the teacher's logits, renormalised, against the
student's full-vocabulary log_softmax gathered at those ids. Tolerances: sums 1e-6 relative, gradients 1e-4
relative to the largest reference element. Exits 1 on any failure (a NaN fails)."""
import os
import subprocess
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F

CASES = [  # N, d, td, V, alpha, T, topk
    (37, 16, 24, 53, 0.5, 1.0, 0),
    (37, 16, 24, 53, 1.0, 2.0, 0),
    (37, 16, 12, 53, 0.3, 0.5, 0),
    (37, 16, 24, 53, 1.0, 4.0, 0),
    (37, 16, 24, 53, 0.5, 1.0, 5),
    (37, 16, 24, 53, 0.9, 2.0, 1),
    (37, 16, 24, 53, 1.0, 0.7, 20),
    (37, 16, 24, 53, 0.5, 1.0, 53),
    (70, 8, 8, 60000, 0.5, 2.0, 0),   # two chunks on the CPU (2^22 / V = 69 rows)
    (70, 8, 8, 60000, 1.0, 1.0, 64),
]


def reference(x, w, tx, tw, tgt, alpha, T, topk, dscale):
    x = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    w = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    s = x @ w.T
    t = torch.tensor(tx, dtype=torch.float64) @ torch.tensor(tw, dtype=torch.float64).T
    tgt = torch.tensor(tgt, dtype=torch.long)
    keep = tgt >= 0
    s, t, tgt = s[keep], t[keep], tgt[keep]
    lm = F.cross_entropy(s, tgt, reduction="sum")
    logq = F.log_softmax(s / T, dim=-1)
    if topk == 0:
        kd = F.kl_div(logq, F.log_softmax(t / T, dim=-1), reduction="sum", log_target=True) * T * T
    else:
        vals, idx = torch.topk(t, topk, dim=-1)
        logp = F.log_softmax(vals / T, dim=-1)
        kd = (logp.exp() * (logp - logq.gather(-1, idx))).sum() * T * T
    (dscale * ((1 - alpha) * lm + alpha * kd)).backward()
    return lm.item(), kd.item(), x.grad.numpy(), w.grad.numpy()


def rel(a, b):
    den = np.max(np.abs(b))
    err = np.max(np.abs(a.astype(np.float64) - b))
    return err / den if den > 0 else err


def main():
    driver, work = sys.argv[1], sys.argv[2]
    backend = sys.argv[3] if len(sys.argv) > 3 else "cpu"
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(7)
    fails = 0
    for i, (N, d, td, V, alpha, T, topk) in enumerate(CASES):
        x = rng.standard_normal((N, d)).astype(np.float32)
        w = (0.5 * rng.standard_normal((V, d))).astype(np.float32)
        tx = rng.standard_normal((N, td)).astype(np.float32)
        tw = (0.6 * rng.standard_normal((V, td))).astype(np.float32)
        tgt = rng.integers(0, V, N).astype(np.int32)
        tgt[::5] = -1
        dscale = 1.0 / N
        case, out = os.path.join(work, f"case{i}.h5"), os.path.join(work, f"out{i}.h5")
        with h5py.File(case, "w") as f:
            for k, v in (("x", x), ("w", w), ("tx", tx), ("tw", tw), ("targets", tgt)):
                f[k] = v
            f.attrs.update(alpha=alpha, temperature=T, dscale=dscale, topk=float(topk))
        subprocess.run([driver, case, out, backend], check=True)
        with h5py.File(out, "r") as f:
            lm, kd, dx, dw = f["lm"][()], f["kd"][()], f["dx"][()], f["dw"][()]
        rlm, rkd, rdx, rdw = reference(x, w, tx, tw, tgt, alpha, T, topk, dscale)
        errs = {"lm": abs(lm - rlm) / abs(rlm), "kd": abs(kd - rkd) / abs(rkd), "dx": rel(dx, rdx), "dw": rel(dw, rdw)}
        tols = {"lm": 1e-6, "kd": 1e-6, "dx": 1e-4, "dw": 1e-4}
        label = f"N={N} d={d} td={td} V={V} alpha={alpha} T={T} " + (f"top-{topk}" if topk else "full")
        for k in errs:
            ok = errs[k] <= tols[k]  # NaN fails
            fails += not ok
            print(f"{'PASS' if ok else 'FAIL'} {backend} {label} {k} err {errs[k]:.3e} (tol {tols[k]:.0e})")
    print(f"{len(CASES) * 4 - fails} passed, {fails} failed")
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
