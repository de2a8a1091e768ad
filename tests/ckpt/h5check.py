#!/usr/bin/env python3
"""Independent checks of Shear checkpoint files with h5py (the oracle side of tests/ckpt/ckpt_test.sh).

  h5check.py same A.h5 B.h5        same objects, dtypes, shapes, bytes and attributes (root world_size excepted)
  h5check.py sums A.h5             recomputes every dataset's checksum from its definition (ckpt.h) and compares
  h5check.py flip A.h5 DATASET     flips one bit in the middle of DATASET's stored bytes (offset from H5Dget_offset)
  h5check.py attr A.h5 NAME        prints a root attribute
"""
import sys

import h5py
import numpy as np

P = (1 << 61) - 1
X = 0x0F3D5B79A2C4E681 % P


def poly_sum(raw: bytes) -> int:
    """ckpt_sum_final of the bytes: h = sum w_i X^(n-1-i) mod P over little-endian u32 words (zero-padded)."""
    n = len(raw)
    pad = raw + b"\0" * ((-n) % 4)
    h = 0
    for w in np.frombuffer(pad, dtype="<u4").tolist():
        h = (h * X + w) % P
    m = (1 << 64) - 1
    z = h ^ ((n * 0x9E3779B97F4A7C15) & m)
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
    return z ^ (z >> 31)


def datasets(f):
    out = {}
    f.visititems(lambda name, obj: out.__setitem__(name, obj) if isinstance(obj, h5py.Dataset) else None)
    return out


def attrs_of(obj, skip=()):
    return {k: (v.tobytes() if isinstance(v, np.ndarray) else v) for k, v in obj.attrs.items() if k not in skip}


def same(a, b):
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        da, db = datasets(fa), datasets(fb)
        if sorted(da) != sorted(db):
            sys.exit(f"FAIL: different datasets: {sorted(set(da) ^ set(db))}")
        for name in da:
            x, y = da[name], db[name]
            if x.dtype != y.dtype or x.shape != y.shape:
                sys.exit(f"FAIL: {name}: {x.dtype}{x.shape} vs {y.dtype}{y.shape}")
            if x[()].tobytes() != y[()].tobytes():
                sys.exit(f"FAIL: {name}: bytes differ")
            if attrs_of(x) != attrs_of(y):
                sys.exit(f"FAIL: {name}: attributes differ")
        ra, rb = attrs_of(fa, ("world_size",)), attrs_of(fb, ("world_size",))
        if ra != rb:
            sys.exit(f"FAIL: root attributes differ: {ra} vs {rb}")
        print(f"same content: {len(da)} datasets (world_size {fa.attrs['world_size']} vs {fb.attrs['world_size']})")


def sums(a):
    with h5py.File(a, "r") as f:
        n = 0
        for name, ds in datasets(f).items():
            if "checksum" not in ds.attrs:
                continue
            raw = ds[()].astype(ds.dtype.newbyteorder("<")).tobytes() if ds.size else b""
            got, stored = poly_sum(raw), int(ds.attrs["checksum"])
            if got != stored:
                sys.exit(f"FAIL: {name}: stored checksum {stored:016x}, python computes {got:016x}")
            n += 1
        print(f"checksums recomputed independently: {n} datasets agree")


def flip(a, name):
    with h5py.File(a, "r") as f:
        ds = f[name]
        off, nbytes = ds.id.get_offset(), ds.id.get_storage_size()
    pos = off + nbytes // 2
    with open(a, "r+b") as fh:
        fh.seek(pos)
        b = fh.read(1)
        fh.seek(pos)
        fh.write(bytes([b[0] ^ 0x10]))
    print(f"flipped a bit at byte {pos} (dataset {name} spans {off}..{off + nbytes})")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "same":
        same(sys.argv[2], sys.argv[3])
    elif cmd == "sums":
        sums(sys.argv[2])
    elif cmd == "flip":
        flip(sys.argv[2], sys.argv[3])
    elif cmd == "attr":
        with h5py.File(sys.argv[2], "r") as f:
            v = f.attrs[sys.argv[3]]
            print(v.decode() if isinstance(v, bytes) else v)
    else:
        sys.exit(__doc__)
