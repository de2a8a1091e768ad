#!/usr/bin/env python3
"""CPU throughput, side by side in one run, same shape, batch, sequence length and thread count, fp32:
  - Shear `train` step vs the PyTorch reference model (validation/ref_llama.py) training step;
  - Shear `prune` step (hard-concrete masks on heads, intermediate, layers, hidden + Lagrangian) vs Shear's
    plain training step of the same source model (the overhead of masks), and vs the PyTorch reference with the
    same masks (validation/ref_masks.py sampling, Lagrangian, lambdas by ascent).
Shear's time per step is read from its metrics.jsonl (the whole step: data, forward, backward, reduction,
optimizer); PyTorch's is time.perf_counter around the same work. Medians over the steps after warm-up. The four
variants run in alternation for --rounds rounds and each keeps its fastest median: on a shared machine, the
least-disturbed measurement (every round's numbers go to the JSON too).

With --bf16 Shear's train and prune steps with run.precision: bf16 (bf16 GEMM inputs, fp32 accumulation) run in
the same alternation and the JSON gets bf16/fp32 step-time ratios.

With --shear-before OLD (another build of Shear, e.g. the commit before a redesign) its train and prune steps run
in the same alternation and the JSON gets after/before step-time ratios: a before/after check from one run.

With --vs-sgemm GEMM_BENCH (build/tests/gemm_bench) every round also times OpenBLAS sgemm at the step's GEMM shapes
(gemm_bench's "step_gflops_sgemm": the GEMMs of every linear layer and the classifier, same threads, token count
batch x seq), and the JSON gets the fp32 train step's achieved GFLOP/s (the model FLOPs per token Shear counts for
MFU, src/flops.c, read back from metrics.jsonl, x tokens per step / the step time) and its ratio to sgemm's rate,
for this build and for --shear-before. --no-torch leaves PyTorch out (a Shear-only run).

usage: cpu_bench.py --shear build/shear [--bf16] [--shear-before OLD/shear] [--vs-sgemm build/tests/gemm_bench]
                    [--no-torch] [--threads 2] [--dim 256 ...] [--out results.json]
"""
import argparse
import json
import math
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
import ref_masks  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--shear", required=True)
ap.add_argument("--shear-before", default="", help="an older Shear build timed in the same rounds")
ap.add_argument("--bf16", action="store_true", help="also time Shear's steps with run.precision: bf16")
ap.add_argument("--vs-sgemm", default="", help="gemm_bench binary: sgemm's rate at the step's GEMMs, same rounds")
ap.add_argument("--no-torch", action="store_true", help="time Shear only")
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--dim", type=int, default=256)
ap.add_argument("--layers", type=int, default=4)
ap.add_argument("--heads", type=int, default=8)
ap.add_argument("--kv-heads", type=int, default=8)
ap.add_argument("--intermediate", type=int, default=688)
ap.add_argument("--vocab", type=int, default=32000)
ap.add_argument("--batch", type=int, default=4)
ap.add_argument("--seq", type=int, default=256)
ap.add_argument("--steps", type=int, default=8)
ap.add_argument("--warmup", type=int, default=2)
ap.add_argument("--rounds", type=int, default=3)
ap.add_argument("--out", default="")
a = ap.parse_args()
hd = a.dim // a.heads
tgt = dict(dim=a.dim * 3 // 4, layers=max(1, a.layers - 1), heads=a.heads // 2, intermediate=a.intermediate * 3 // 4)

tmp = tempfile.mkdtemp(prefix="shear-bench-")
store = os.path.join(tmp, "tokens.h5")
subprocess.run([sys.executable, os.path.join(HERE, "..", "..", "tests", "train", "make_store.py"), store,
                "--domains", "cc", "--seq-len", str(a.seq), "--train", str(a.batch * (a.steps + 1)),
                "--eval", "1", "--vocab", str(a.vocab)], check=True)
deck = os.path.join(tmp, "bench.yaml")
with open(deck, "w") as f:
    f.write(f"""model: {{dim: {a.dim}, n_layers: {a.layers}, n_heads: {a.heads}, n_kv_heads: {a.kv_heads},
        intermediate: {a.intermediate}, vocab: {a.vocab}}}
data: {{store: {store}}}
prune: {{target_dim: {tgt['dim']}, target_n_layers: {tgt['layers']}, target_n_heads: {tgt['heads']},
        target_intermediate: {tgt['intermediate']}}}
train: {{steps: {a.steps}, seq_len: {a.seq}, global_batch: {a.batch}, micro_batch: {a.batch}}}
optim: {{lr: 1.0e-3, warmup: 0, schedule: constant, grad_clip: 1.0}}
dbl: {{rule: constant}}
run: {{threads: {a.threads}, log_every: 1000}}
""")
env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), OPENBLAS_NUM_THREADS=str(a.threads))


flops_tok = {}  # model FLOPs per token as each Shear build counts them (metrics: tflops = flops_tok tok_s / 1e12)


def shear_step_s(cmd, run, shear=None, precision="fp32"):
    subprocess.run([shear or a.shear, cmd, deck, "--set", f"run.out_dir={run}", "--set", f"prune.source={tmp}/train0/model.h5",
                    "--set", f"run.precision={precision}"], check=True, env=env, stdout=subprocess.DEVNULL)
    steps = [json.loads(l) for l in open(os.path.join(run, "metrics.jsonl")) if '"event":"step"' in l]
    flops_tok[(shear or a.shear, cmd)] = steps[-1]["tflops"] * 1e12 / steps[-1]["tok_s_rank"]
    return statistics.median(s["step_s"] for s in steps[a.warmup:])


def sgemm_gflops(r):
    out = f"{tmp}/gemm{r}.json"
    subprocess.run([a.vs_sgemm, "--dim", str(a.dim), "--intermediate", str(a.intermediate), "--heads", str(a.heads),
                    "--kv-heads", str(a.kv_heads), "--vocab", str(a.vocab), "--tokens", str(a.batch * a.seq),
                    "--layers", str(a.layers), "--threads", str(a.threads), "--reps", "5", "--json", out],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    return json.load(open(out))["step_gflops_sgemm"]



torch.set_num_threads(a.threads)
torch.manual_seed(0)
c = ref_llama.Config(a.dim, a.layers, a.heads, a.kv_heads, hd, a.intermediate, a.vocab)
P = {n: (torch.randn(s) * 0.02 if len(s) == 2 else torch.ones(s)).requires_grad_(True)
     for n, s in ref_llama.param_shapes(c).items()}
tokens = torch.randint(3, a.vocab, (a.batch, a.seq), dtype=torch.int64)
targets = torch.cat([tokens[:, 1:], torch.full((a.batch, 1), -1)], dim=1)


def torch_steps(masked):
    groups = [{"params": [t for t in P.values() if t.dim() == 2], "weight_decay": 0.0},
              {"params": [t for t in P.values() if t.dim() != 2], "weight_decay": 0.0}]
    extra = []
    if masked:
        t_cfg = ref_llama.Config(tgt["dim"], tgt["layers"], tgt["heads"], tgt["heads"] * a.kv_heads // a.heads, hd,
                                 tgt["intermediate"], a.vocab)
        shapes, _, _ = ref_masks.layout(c, t_cfg, ("head", "intermediate", "layer", "hidden"))
        LA = {t: torch.full((r * n,), 5.0).view(r, n).requires_grad_(True) for t, (r, n, _) in shapes.items()}
        LM = {t: torch.zeros(2, requires_grad=True) for t in shapes}
        groups.append({"params": list(LA.values()), "lr": 1.0, "weight_decay": 0.0})
        extra = [torch.optim.AdamW(list(LM.values()), lr=1.0, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.0,
                                   maximize=True)]
    opt = torch.optim.AdamW(groups, lr=1e-3, betas=(0.9, 0.95), eps=1e-8)
    times = []
    for step in range(1, a.steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=False)
        for o in extra:
            o.zero_grad(set_to_none=False)
        gates, lag = None, 0.0
        if masked:
            gates = {}
            for t, la in LA.items():
                la.data.clamp_(ref_masks.LOG_ALPHA_MIN, ref_masks.LOG_ALPHA_MAX)
                z = ref_masks.sample_z(la, torch.rand_like(la).clamp(ref_masks.EPS, 1 - ref_masks.EPS))
                gates[t] = z.view(-1) if shapes[t][0] == 1 else z
            lag, _ = ref_masks.lagrangian(LA, {t: (LM[t][0], LM[t][1]) for t in LM}, shapes, step, a.steps, 0.2)
        loss = ref_llama.lm_loss(ref_llama.forward(c, P, tokens, gates), targets) + lag
        loss.backward()
        params = list(P.values()) + ([p for g in groups[2:] for p in g["params"]] + list(LM.values()) if masked else [])
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        for o in extra:
            o.step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times[a.warmup:])


rounds = []
for r in range(a.rounds):
    rounds.append({"shear_train": shear_step_s("train", f"{tmp}/train{r}"),
                   "shear_prune": shear_step_s("prune", f"{tmp}/prune{r}")})
    if not a.no_torch:
        rounds[-1].update({"torch_train": torch_steps(False), "torch_prune": torch_steps(True)})
    if a.vs_sgemm:
        rounds[-1]["sgemm_gflops"] = sgemm_gflops(r)
    if a.bf16:
        rounds[-1]["bf16_train"] = shear_step_s("train", f"{tmp}/bf16_train{r}", precision="bf16")
        rounds[-1]["bf16_prune"] = shear_step_s("prune", f"{tmp}/bf16_prune{r}", precision="bf16")
    if a.shear_before:
        rounds[-1]["before_train"] = shear_step_s("train", f"{tmp}/before_train{r}", a.shear_before)
        rounds[-1]["before_prune"] = shear_step_s("prune", f"{tmp}/before_prune{r}", a.shear_before)
# step times: the fastest; sgemm's rate: the fastest too
best = {k: (max if k == "sgemm_gflops" else min)(r[k] for r in rounds) for k in rounds[0]}
shear_train, shear_prune = best["shear_train"], best["shear_prune"]

tok = a.batch * a.seq
res = {"shape": {"dim": a.dim, "layers": a.layers, "heads": a.heads, "kv_heads": a.kv_heads,
                 "intermediate": a.intermediate, "vocab": a.vocab}, "target": tgt, "batch": a.batch, "seq": a.seq,
       "threads": a.threads, "torch": torch.__version__,
       "tok_s": {"shear_train": tok / shear_train, "shear_prune": tok / shear_prune},
       "prune_overhead": shear_prune / shear_train, "rounds_step_s": rounds}
if not a.no_torch:
    torch_train, torch_prune = best["torch_train"], best["torch_prune"]
    res["tok_s"].update({"torch_train": tok / torch_train, "torch_prune": tok / torch_prune})
    res["train_speedup_vs_torch"] = torch_train / shear_train
    res["prune_speedup_vs_torch"] = torch_prune / shear_prune
if a.vs_sgemm:
    sg = best["sgemm_gflops"]
    ft = flops_tok[(a.shear, "train")]
    res["vs_sgemm"] = {"sgemm_gflops": sg, "train_flops_per_token": ft, "train_gflops": ft * tok / shear_train / 1e9,
                       "train_over_sgemm": ft * tok / shear_train / 1e9 / sg}
    if a.shear_before:
        fb = flops_tok[(a.shear_before, "train")]
        res["vs_sgemm"]["before_train_gflops"] = fb * tok / best["before_train"] / 1e9
        res["vs_sgemm"]["before_train_over_sgemm"] = fb * tok / best["before_train"] / 1e9 / sg
if a.bf16:
    res["tok_s"].update({"bf16_train": tok / best["bf16_train"], "bf16_prune": tok / best["bf16_prune"]})
    res["bf16_train_step_over_fp32"] = best["bf16_train"] / shear_train
    res["bf16_prune_step_over_fp32"] = best["bf16_prune"] / shear_prune
if a.shear_before:
    res["before"] = a.shear_before
    res["train_step_after_over_before"] = shear_train / best["before_train"]
    res["prune_step_after_over_before"] = shear_prune / best["before_prune"]
print(f"best of {a.rounds} alternating rounds; shape d={a.dim} L={a.layers} H={a.heads} kv={a.kv_heads} I={a.intermediate} V={a.vocab}, batch {a.batch} x "
      f"{a.seq}, {a.threads} threads, torch {torch.__version__}")
for k, v in res["tok_s"].items():
    print(f"  {k:12s} {v:9.0f} tok/s")
if not a.no_torch:
    print(f"  train: shear / pytorch = {res['train_speedup_vs_torch']:.2f}x")
    print(f"  prune: shear / pytorch = {res['prune_speedup_vs_torch']:.2f}x")
print(f"  mask overhead: shear prune step = {res['prune_overhead']:.2f}x a plain training step")
if a.bf16:
    print(f"  run.precision bf16 / fp32 step time: train {res['bf16_train_step_over_fp32']:.3f}x, "
          f"prune {res['bf16_prune_step_over_fp32']:.3f}x")
if a.shear_before:
    print(f"  step time, this build / {a.shear_before}: train {res['train_step_after_over_before']:.3f}x, "
          f"prune {res['prune_step_after_over_before']:.3f}x")
if a.vs_sgemm:
    v = res["vs_sgemm"]
    print(f"  fp32 train step {v['train_gflops']:.1f} GFLOP/s ({v['train_flops_per_token'] / 1e6:.2f} MFLOP/token) vs "
          f"sgemm at the step's GEMMs {v['sgemm_gflops']:.1f} GFLOP/s: {100 * v['train_over_sgemm']:.1f}%")
    if a.shear_before:
        print(f"  {a.shear_before}: {v['before_train_gflops']:.1f} GFLOP/s, {100 * v['before_train_over_sgemm']:.1f}% of sgemm")
if a.out:
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
