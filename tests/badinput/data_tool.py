#!/usr/bin/env python3
"""Helpers of the token-id and integrity tests (tests/badinput/store_ids.sh, integrity.sh), with h5py.

  data_tool.py tokenizer OUT.json          a small SentencePiece-style BPE with byte fallback (291 pieces)
  data_tool.py corpus DIR                  DIR/<domain>/*.txt for two domains of synthetic text
  data_tool.py plant SRC DST SPLIT POS ID  copy of store SRC with ID at position POS of every row of SPLIT (train
                                           or eval) of every domain; drops that split's checksum, as another tool
                                           writing the store would
  data_tool.py flip FILE DATASET ELEM      flips the lowest bit of element ELEM of DATASET in the file's bytes
                                           (offset from H5Dget_offset): an int32 id changes by one, a float32 by
                                           one ulp, so only the checksum can tell
  data_tool.py strip SRC DST               copy without any "checksum" attribute (a file from before checksums)
  data_tool.py has_sums FILE N             exits 1 unless at least N datasets carry a "checksum" attribute
"""
import json
import os
import shutil
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hf"))
from st import WORDS, tokenizer_json  # noqa: E402  the small BPE the safetensors tests use


def text(g, words):
    out = []
    for _ in range(words):
        if g.random() < 0.5:
            out.append(WORDS[g.integers(len(WORDS))])
        else:
            out.append("".join(chr(ord("a") + int(x)) for x in g.integers(0, 26, g.integers(1, 7))))
    return " ".join(out) + ".\n"


def corpus(root):
    g = np.random.default_rng(19)
    for dom in ("alpha", "beta"):
        os.makedirs(os.path.join(root, dom), exist_ok=True)
        for i in range(12):
            with open(os.path.join(root, dom, f"doc{i:02d}.txt"), "w") as f:
                f.write(text(g, 150))


def plant(src, dst, split, pos, value):
    shutil.copyfile(src, dst)
    with h5py.File(dst, "r+") as f:
        for dom in f["domains"]:
            ds = f["domains"][dom][split]
            a = ds[()]
            a[:, pos] = value
            ds[...] = a
            if "checksum" in ds.attrs:
                del ds.attrs["checksum"]


def flip(path, name, elem):
    with h5py.File(path, "r") as f:
        ds = f[name]
        off, size = ds.id.get_offset(), ds.dtype.itemsize
        assert off is not None and 0 <= elem < ds.size, (name, off, elem, ds.size)
    pos = off + elem * size  # little-endian: the element's lowest byte
    with open(path, "r+b") as fh:
        fh.seek(pos)
        b = fh.read(1)
        fh.seek(pos)
        fh.write(bytes([b[0] ^ 1]))
    print(f"flipped bit 0 of element {elem} of {name} (byte {pos})")


def strip(src, dst):
    shutil.copyfile(src, dst)
    with h5py.File(dst, "r+") as f:
        def drop(_, obj):
            if isinstance(obj, h5py.Dataset) and "checksum" in obj.attrs:
                del obj.attrs["checksum"]
        f.visititems(drop)


def has_sums(path, n):
    found = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: found.append(name)
                     if isinstance(obj, h5py.Dataset) and "checksum" in obj.attrs else None)
    print(f"{path}: {len(found)} datasets with a checksum")
    sys.exit(0 if len(found) >= n else 1)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "tokenizer":
        with open(args[0], "w") as f:
            json.dump(tokenizer_json(), f)
    elif cmd == "corpus":
        corpus(args[0])
    elif cmd == "plant":
        plant(args[0], args[1], args[2], int(args[3]), int(args[4]))
    elif cmd == "flip":
        flip(args[0], args[1], int(args[2]))
    elif cmd == "strip":
        strip(args[0], args[1])
    elif cmd == "has_sums":
        has_sums(args[0], int(args[1]))
    else:
        sys.exit(f"unknown command {cmd}")
