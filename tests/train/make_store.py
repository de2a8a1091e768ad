#!/usr/bin/env python3
"""Writes a small synthetic token store (the layout of include/shear/store.h) for training tests: each domain
is a different order-1 Markov chain over a small vocabulary, so a model can learn it and loss must fall."""
import argparse
import h5py
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--domains", default="cc,github,book")
ap.add_argument("--seq-len", type=int, default=32)
ap.add_argument("--train", type=int, default=40)
ap.add_argument("--eval", type=int, default=4)
ap.add_argument("--vocab", type=int, default=64)
ap.add_argument("--seed", type=int, default=7)
a = ap.parse_args()
rng = np.random.default_rng(a.seed)
names = a.domains.split(",")
with h5py.File(a.out, "w") as f:
    f.attrs["format"] = "shear-token-store"
    f.attrs["version"] = 1
    f.attrs["seq_len"] = a.seq_len
    f.attrs["tokenizer"] = "synthetic-markov"
    f.attrs["vocab_size"] = a.vocab
    f.attrs["n_domains"] = len(names)
    f.attrs["domains"] = ",".join(names)
    for d, name in enumerate(names):
        # sparse transition table: each token has 3 likely successors, different per domain
        succ = rng.integers(3, a.vocab, size=(a.vocab, 3))
        def chain(n):
            out = np.empty((n, a.seq_len), np.int32)
            for i in range(n):
                t = 1
                for j in range(a.seq_len):
                    out[i, j] = t
                    t = int(succ[t, rng.integers(0, 3)]) if rng.random() < 0.9 else int(rng.integers(3, a.vocab))
            return out
        g = f.create_group(f"domains/{name}")
        tr, ev = chain(a.train), chain(a.eval)
        g.create_dataset("train", data=tr)
        g.create_dataset("eval", data=ev)
        g.attrs["documents"] = a.train + a.eval
        g.attrs["tokens"] = tr.size + ev.size
        g.attrs["train_tokens"] = tr.size
        g.attrs["eval_tokens"] = ev.size
        g.attrs["dropped_tokens"] = 0
