#!/usr/bin/env python3
"""CPU training throughput, Shear vs the PyTorch reference model (validation/ref_llama.py), side by side in one
run: same shape, batch, sequence length and thread count, AdamW with clipping, fp32.
Shear's time per step comes from its metrics.jsonl (the whole step: forward, backward, reduction, AdamW);
PyTorch's from time.perf_counter around the same work. Median over the steps after warm-up.

usage: train_bench.py --shear build/shear [--threads 2] [--dim 256 --layers 4 ...] [--out results.json]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import ref_llama  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--shear", required=True)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--dim", type=int, default=256)
ap.add_argument("--layers", type=int, default=4)
ap.add_argument("--heads", type=int, default=8)
ap.add_argument("--kv-heads", type=int, default=8)
ap.add_argument("--intermediate", type=int, default=688)
ap.add_argument("--vocab", type=int, default=32000)
ap.add_argument("--batch", type=int, default=4)
ap.add_argument("--seq", type=int, default=256)
ap.add_argument("--steps", type=int, default=12)
ap.add_argument("--warmup", type=int, default=2)
ap.add_argument("--out", default="")
a = ap.parse_args()

tmp = tempfile.mkdtemp(prefix="shear-bench-")
store = os.path.join(tmp, "tokens.h5")
subprocess.run([sys.executable, os.path.join(HERE, "..", "..", "tests", "train", "make_store.py"), store,
                "--domains", "cc", "--seq-len", str(a.seq), "--train", str(a.batch * (a.steps + 1)),
                "--vocab", str(a.vocab)], check=True)
deck = os.path.join(tmp, "bench.yaml")
with open(deck, "w") as f:
    f.write(f"""model: {{dim: {a.dim}, n_layers: {a.layers}, n_heads: {a.heads}, n_kv_heads: {a.kv_heads},
        intermediate: {a.intermediate}, vocab: {a.vocab}}}
data: {{store: {store}}}
train: {{steps: {a.steps}, seq_len: {a.seq}, global_batch: {a.batch}, micro_batch: {a.batch}}}
optim: {{lr: 1.0e-3, warmup: 0, schedule: constant, grad_clip: 1.0}}
run: {{out_dir: {tmp}/run, threads: {a.threads}, log_every: 100}}
""")
env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), OPENBLAS_NUM_THREADS=str(a.threads))
subprocess.run([a.shear, "train", deck], check=True, env=env, stdout=subprocess.DEVNULL)
steps = [json.loads(l) for l in open(os.path.join(tmp, "run", "metrics.jsonl")) if '"step"' in l]
shear_s = statistics.median(s["step_s"] for s in steps[a.warmup:])

torch.set_num_threads(a.threads)
torch.manual_seed(0)
c = ref_llama.Config(a.dim, a.layers, a.heads, a.kv_heads, a.dim // a.heads, a.intermediate, a.vocab)
P = {n: (torch.randn(s) * 0.02 if len(s) == 2 else torch.ones(s)).requires_grad_(True)
     for n, s in ref_llama.param_shapes(c).items()}
groups = [{"params": [t for t in P.values() if t.dim() == 2], "weight_decay": 0.0},
          {"params": [t for t in P.values() if t.dim() != 2], "weight_decay": 0.0}]
opt = torch.optim.AdamW(groups, lr=1e-3, betas=(0.9, 0.95), eps=1e-8)
tokens = torch.randint(3, a.vocab, (a.batch, a.seq), dtype=torch.int64)
targets = torch.cat([tokens[:, 1:], torch.full((a.batch, 1), -1)], dim=1)
times = []
for i in range(a.steps):
    t0 = time.perf_counter()
    opt.zero_grad(set_to_none=False)
    loss = ref_llama.lm_loss(ref_llama.forward(c, P, tokens), targets)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(list(P.values()), 1.0)
    opt.step()
    times.append(time.perf_counter() - t0)
torch_s = statistics.median(times[a.warmup:])

tok = a.batch * a.seq
res = {"shape": {"dim": a.dim, "layers": a.layers, "heads": a.heads, "kv_heads": a.kv_heads,
                 "intermediate": a.intermediate, "vocab": a.vocab}, "batch": a.batch, "seq": a.seq,
       "threads": a.threads, "torch": torch.__version__,
       "shear_tok_s": tok / shear_s, "torch_tok_s": tok / torch_s, "ratio": torch_s / shear_s}
print(f"shape d={a.dim} L={a.layers} H={a.heads} kv={a.kv_heads} I={a.intermediate} V={a.vocab}, "
      f"batch {a.batch} x {a.seq}, {a.threads} threads")
print(f"  shear   {res['shear_tok_s']:9.0f} tok/s  ({shear_s * 1e3:.1f} ms/step)")
print(f"  pytorch {res['torch_tok_s']:9.0f} tok/s  ({torch_s * 1e3:.1f} ms/step, torch {torch.__version__})")
print(f"  ratio shear/pytorch: {res['ratio']:.2f}x")
if a.out:
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
