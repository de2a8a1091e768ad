"""corner_values.py SRC.h5 DST.h5: a copy of a Shear model file whose model.norm.weight starts with values that
exercise float32 -> bf16 / f16 rounding: exact ties (to even, both directions), f16 subnormal ties, a float32
subnormal, -0.0. check.py export then compares Shear's conversion with torch's byte for byte."""
import shutil
import sys

import h5py
import numpy as np

CORNERS = [1 + 2**-8, 1 + 3 * 2**-8,        # bf16 ties: down to 1, up to 1 + 2^-6
           1 + 2**-11, 1 + 3 * 2**-11,      # f16 ties: down to 1, up to 1 + 2^-9
           1.5 * 2**-24, 2.5 * 2**-24,      # f16 subnormal ties: up to 2^-23, down to 2^-23
           1e-40, -0.0, 65504.0 / 4096]     # float32 subnormal (bf16 keeps a subnormal, f16 flushes), -0

src, dst = sys.argv[1:3]
shutil.copyfile(src, dst)
with h5py.File(dst, "r+") as f:
    w = f["weights/model.norm.weight"]
    v = w[()]
    assert v.size >= len(CORNERS), "model.norm.weight is too small for the corner values"
    v[:len(CORNERS)] = np.array(CORNERS, dtype=np.float32)
    w[...] = v
    del w.attrs["checksum"]  # edited on purpose: unverified, as a file from another tool
print(f"{dst}: model.norm.weight[:{len(CORNERS)}] = {v[:len(CORNERS)].tolist()}")
