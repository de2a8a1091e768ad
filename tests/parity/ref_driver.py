#!/usr/bin/python3
"""ref_driver.py case.h5 out.h5: the PyTorch reference run in float32, written in parity_driver's output
contract (see compare.py). It checks the harness itself: compare.py must pass it (so the tolerances are
reachable by a correct float32 implementation) and must catch a planted error: with PARITY_PERTURB=<key>
(e.g. grad/model.layers.1.mlp.up_proj.weight) that one output is scaled by 1 + 1e-3.
"""
import os
import sys

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402


def main():
    torch.set_num_threads(1)  # tiny tensors: threads only add contention
    if len(sys.argv) != 3:
        sys.exit("usage: ref_driver.py case.h5 out.h5")
    r, _, _ = compare.reference(sys.argv[1], torch.float32)
    perturb = os.environ.get("PARITY_PERTURB")
    if perturb:
        if perturb not in r:
            sys.exit(f"ref_driver.py: PARITY_PERTURB={perturb} names no output; known: {sorted(r)}")
        r[perturb] = r[perturb] * (1 + 1e-3)
    with h5py.File(sys.argv[2], "w") as f:
        for key, v in r.items():
            is64 = key in ("loss", "step_loss", "grad_norm")
            f.create_dataset("out/" + key, data=np.asarray(v, dtype=np.float64 if is64 else np.float32))


if __name__ == "__main__":
    main()
