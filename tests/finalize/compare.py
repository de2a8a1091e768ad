#!/usr/bin/env python3
"""compare.py PRUNE_OUTPUT DENSE.h5: checks `shear finalize`'s dense model against validation/ref_llama.py.
1. the reference on its own, in float64: fold_and_slice's model has the masked source model's logits (1e-10);
2. the same fold in float32 (the C side's precision): Shear's shape equals it and every tensor matches to a
   relative 1e-6 per element (they should be bit-identical: one product per folded element);
3. Shear's dense model (its fp32 weights, run in float64) has the masked source's logits (relative 1e-5);
4. the input's /deck text was carried over."""
import os
import sys

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "validation"))
import ref_llama as R  # noqa: E402

src_path, dense_path = sys.argv[1], sys.argv[2]
fails = 0


def check(ok, msg):
    global fails
    print(("ok   " if ok else "FAIL ") + msg)
    fails += not ok


def rel(a, b):
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


with h5py.File(src_path, "r") as f:
    gates_np = {k: f["masks"][k][()] for k in f["masks"]}
    deck_in = bytes(f["deck"][()]) if "deck" in f else None
with h5py.File(dense_path, "r") as f:
    deck_out = bytes(f["deck"][()]) if "deck" in f else None

torch.manual_seed(0)
c64, P64 = R.load_model(src_path, torch.float64)
tokens = torch.randint(0, c64.vocab, (2, 11))
g64 = {k: torch.from_numpy(v.astype(np.float64)) for k, v in gates_np.items()}
masked = R.forward(c64, P64, tokens, g64)
ct64, Q64 = R.fold_and_slice(c64, P64, g64)
check(rel(R.forward(ct64, Q64, tokens), masked) < 1e-10, f"reference fold in float64 keeps the logits "
      f"(rel {rel(R.forward(ct64, Q64, tokens), masked):.2e})")

c32, P32 = R.load_model(src_path, torch.float32)
g32 = {k: torch.from_numpy(v.astype(np.float32)) for k, v in gates_np.items()}
ct, Q = R.fold_and_slice(c32, P32, g32)
cd, D = R.load_model(dense_path, torch.float32)
# rope_theta and norm_eps: Shear keeps them as float32 (1e-5 is stored as 9.99999975e-06)
same = all(getattr(ct, k) == getattr(cd, k) for k in ("dim", "n_layers", "n_heads", "n_kv_heads", "head_dim",
                                                       "intermediate", "vocab")) and \
    all(abs(getattr(ct, k) - getattr(cd, k)) <= 1e-6 * abs(getattr(ct, k)) for k in ("rope_theta", "norm_eps"))
check(same, f"shape: shear {cd} vs reference {ct}")
if same:
    worst, identical = 0.0, 0
    for name, ref in Q.items():
        got = D[name]
        if got.shape != ref.shape:
            check(False, f"{name}: shape {tuple(got.shape)} vs {tuple(ref.shape)}")
            continue
        r = float(((got - ref).abs() / ref.abs().clamp_min(1e-30)).max())
        worst = max(worst, r)
        identical += bool(torch.equal(got, ref))
        if r > 1e-6:
            check(False, f"{name}: max element relative difference {r:.3e} > 1e-6")
    check(worst <= 1e-6, f"{len(Q)} tensors match the reference fold (worst rel {worst:.2e}, "
          f"{identical} bit-identical)")
    _, D64 = R.load_model(dense_path, torch.float64)
    r = rel(R.forward(cd, D64, tokens), masked)
    check(r < 1e-5, f"shear's dense model has the masked source's logits (rel {r:.2e})")
check(deck_in == deck_out, "the input deck text is carried into the dense model")
print(f"{'FAILED' if fails else 'passed'}: {fails} failures")
sys.exit(1 if fails else 0)
