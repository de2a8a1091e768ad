#!/usr/bin/python3
"""`shear eval DECK` on a synthetic token store against the PyTorch reference: per-domain loss within 1e-5
relative, tokens = sequences x (train.seq_len - 1) (the first seq_len tokens of each stored sequence), the
average = unweighted mean of the domain losses, 1 and 2 ranks equal, --max-seqs, data.domains order, and the
table output. Usage: deck_check.py SHEAR STORE.h5 WORKDIR MPIRUN..."""
import os
import subprocess
import sys

import h5py
import numpy as np

from evalref import make_model, ref_loss, rel, run_json

shear, store, work, mpirun = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
os.makedirs(work, exist_ok=True)
env = dict(os.environ, OMP_NUM_THREADS="1")
failures = []


def check(ok, msg):
    print(("ok   " if ok else "FAIL ") + msg)
    if not ok:
        failures.append(msg)


T = 24  # shorter than the store's sequences: only the first T tokens count
with h5py.File(store, "r") as f:
    names = f.attrs["domains"].split(",") if isinstance(f.attrs["domains"], str) else \
        f.attrs["domains"].decode().split(",")
    evals = {n: f[f"domains/{n}/eval"][()] for n in names}
    vocab = int(f.attrs["vocab_size"])
    store_T = int(f.attrs["seq_len"])
assert T < store_T, (T, store_T)
model = os.path.join(work, "model.h5")
make_model(model, vocab=vocab, seed=5)
deck = os.path.join(work, "eval.yaml")
with open(deck, "w") as f:
    f.write(f"data:\n  store: {store}\nmodel:\n  vocab: {vocab}\ntrain:\n  seq_len: {T}\n  micro_batch: 2\n"
            f"  init: {model}\n")


def reference(domains, max_seqs=0):
    out = {}
    for n in domains:
        seqs = [list(map(int, s[:T])) for s in evals[n][:max_seqs or None]]
        s, c = ref_loss(model, seqs)
        out[n] = (s / c, c)
    return out


ref = reference(names)
ref_avg = float(np.mean([v[0] for v in ref.values()]))
runs = {}
for np_ranks in (1, 2):
    r = run_json(mpirun + ["-np", str(np_ranks), shear, "eval", deck, "--json"], env)
    runs[np_ranks] = r
    check(list(r["domains"]) == names, f"np {np_ranks}: domains {list(r['domains'])} in store order {names}")
    for n in names:
        d = r["domains"].get(n, {})
        want_tokens = len(evals[n]) * (T - 1)
        check(d.get("tokens") == want_tokens and rel(d.get("loss", 0), ref[n][0]) < 1e-5
              and abs(d["ppl"] - np.exp(d["loss"])) < 1e-9 * d["ppl"],
              f"np {np_ranks} {n}: loss {d.get('loss')} vs reference {ref[n][0]:.9f}, tokens {d.get('tokens')} "
              f"(expected {want_tokens})")
    check(rel(r["average_loss"], ref_avg) < 1e-5, f"np {np_ranks}: average loss {r['average_loss']:.9f} vs "
          f"{ref_avg:.9f} (unweighted mean of the domains)")
worst = max(rel(runs[2]["domains"][n]["loss"], runs[1]["domains"][n]["loss"]) for n in names)
check(worst < 1e-7, f"1 and 2 ranks agree: worst relative difference {worst:.2e}")

# --max-seqs and the model from --model (overrides train.init), domains subset in deck order
sub = [names[2], names[0]]
ref3 = reference(sub, max_seqs=3)
r = run_json(mpirun + ["-np", "2", shear, "eval", deck, "--model", model, "--max-seqs", "3", "--micro-batch", "3",
                       "--set", f"data.domains=[{sub[0]}, {sub[1]}]", "--json"], env)
check(list(r["domains"]) == sub, f"data.domains order: {list(r['domains'])} == {sub}")
for n in sub:
    d = r["domains"].get(n, {})
    check(d.get("tokens") == 3 * (T - 1) and rel(d.get("loss", 0), ref3[n][0]) < 1e-5,
          f"--max-seqs 3 {n}: loss {d.get('loss')} vs {ref3[n][0]:.9f}, tokens {d.get('tokens')}")

# the table
p = subprocess.run(mpirun + ["-np", "1", shear, "eval", deck], capture_output=True, text=True, env=env)
lines = p.stdout.strip().splitlines()
check(p.returncode == 0 and lines[1].split() == ["domain", "loss", "ppl", "tokens"]
      and lines[-1].split()[:2] == ["average", f"{runs[1]['average_loss']:.4f}"]
      and all(lines[2 + i].split()[0] == n for i, n in enumerate(names)), "table:\n" + p.stdout)

print(f"{'FAILED' if failures else 'passed'}: {len(failures)} failure(s)")
sys.exit(1 if failures else 0)
