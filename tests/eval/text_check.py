#!/usr/bin/python3
"""`shear eval --text` against the PyTorch reference: the same windows (tokenized by `shear tokenize`), the
mean next-token loss within 1e-5 relative, the window rule (a trailing partial window dropped unless it is
the only one), and the same result on 1, 2 and 3 ranks and with other micro-batches. bf16 (issue 15): a model file
recording precision = "bf16" is scored with bf16 GEMMs, against the reference rounding the same GEMM inputs, not
the fp32 loss; --precision overrides the file both ways; the set-up line names the precision and its source.
Usage: text_check.py SHEAR TOKENIZER.json WORKDIR MPIRUN...   (exit 77 = skipped: no tokenizer.json)"""
import json
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np
import torch

from evalref import make_model, ref_loss, rel, run_json

shear, tokenizer, work, mpirun = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
if not os.path.exists(tokenizer):
    print(f"SKIP: {tokenizer} does not exist (inputs/tokenizer/make_tokenizer.sh writes it)")
    sys.exit(77)
os.makedirs(work, exist_ok=True)
env = dict(os.environ, OMP_NUM_THREADS="1")
failures = []


def check(ok, msg):
    print(("ok   " if ok else "FAIL ") + msg)
    if not ok:
        failures.append(msg)


# ---- inputs: a random model over LLaMA-2's vocabulary, a text, its ids from shear tokenize ----
model = os.path.join(work, "model.h5")
make_model(model, vocab=32000, seed=11)
rng = np.random.default_rng(3)
words = ("the model learns to predict the next token of every window , and its loss falls as training goes on ."
         " Sheared LLaMA prunes heads , layers and channels . naïve café 東京 2024 3.14159 ( x + y ) ** 2").split()
T = 64


def tokenize(text):
    p = subprocess.run([shear, "tokenize", "--tokenizer", tokenizer], input=json.dumps({"text": text}) + "\n",
                       capture_output=True, text=True, check=True)
    return json.loads(p.stdout)


text = " ".join(rng.choice(words, size=400))
ids = tokenize(text)
while len(ids) % T == 0 or len(ids) // T < 7:  # a partial trailing window, and 7+ windows to split over 3 ranks
    text += " token"
    ids = tokenize(text)
text_path = os.path.join(work, "text.txt")
with open(text_path, "w", encoding="utf-8") as f:
    f.write(text)
check(ids[0] == 1 and 2 not in ids, f"{len(ids)} ids from shear tokenize, BOS first, no EOS")

# ---- windows of T: the reference loss on the same windows ----
n_win = len(ids) // T
windows = [ids[w * T:(w + 1) * T] for w in range(n_win)]
ref_sum, ref_count = ref_loss(model, windows)
ref_mean = ref_sum / ref_count
print(f"reference: {len(ids)} tokens, {n_win} windows of {T} (trailing {len(ids) % T} dropped), "
      f"{ref_count} positions, loss {ref_mean:.9f}")
results = {}
for np_ranks, mb in ((1, 4), (1, 3), (2, 4), (3, 4), (3, 1)):
    cmd = mpirun + ["-np", str(np_ranks), shear, "eval", "--model", model, "--tokenizer", tokenizer, "--text",
                    text_path, "--seq-len", str(T), "--micro-batch", str(mb), "--json"]
    r = run_json(cmd, env)
    results[(np_ranks, mb)] = r
    check(r["windows"] == n_win and r["tokens"] == ref_count and r["text_tokens"] == len(ids)
          and r["window_len"] == T, f"np {np_ranks} mb {mb}: {r['windows']} windows, {r['tokens']} positions "
          f"(expected {n_win}, {ref_count})")
    check(rel(r["loss"], ref_mean) < 1e-5, f"np {np_ranks} mb {mb}: loss {r['loss']:.9f} vs reference "
          f"{ref_mean:.9f} (rel {rel(r['loss'], ref_mean):.2e} < 1e-5)")
    check(abs(r["ppl"] - np.exp(r["loss"])) < 1e-9 * r["ppl"], f"np {np_ranks} mb {mb}: ppl = exp(loss)")
base = results[(1, 4)]["loss"]
worst = max(rel(r["loss"], base) for r in results.values())
check(worst < 1e-7, f"1/2/3 ranks and micro-batches 1/3/4 agree: worst relative difference {worst:.2e} < 1e-7")

# ---- the only window is partial: kept whole (n tokens, n-1 positions) ----
short = " ".join(words[:12])
short_ids = tokenize(short)
short_path = os.path.join(work, "short.txt")
with open(short_path, "w", encoding="utf-8") as f:
    f.write(short)
s_sum, s_count = ref_loss(model, [short_ids])
for np_ranks in (1, 2):
    r = run_json(mpirun + ["-np", str(np_ranks), shear, "eval", "--model", model, "--tokenizer", tokenizer, "--text",
                           short_path, "--seq-len", "1000", "--json"], env)
    check(r["windows"] == 1 and r["window_len"] == len(short_ids) and r["tokens"] == len(short_ids) - 1,
          f"short text on {np_ranks} rank(s): one window of {r['window_len']} tokens, {r['tokens']} positions "
          f"(expected {len(short_ids)}, {len(short_ids) - 1})")
    check(rel(r["loss"], s_sum / s_count) < 1e-5, f"short text on {np_ranks} rank(s): loss {r['loss']:.9f} vs "
          f"reference {s_sum / s_count:.9f}")
# exactly one full window: seq-len == the token count
r = run_json(mpirun + ["-np", "1", shear, "eval", "--model", model, "--tokenizer", tokenizer, "--text", short_path,
                       "--seq-len", str(len(short_ids)), "--json"], env)
check(r["windows"] == 1 and r["tokens"] == len(short_ids) - 1 and rel(r["loss"], s_sum / s_count) < 1e-5,
      f"seq-len = token count: one window, loss {r['loss']:.9f}")
# one token short of two windows: the second, partial, is dropped
half = len(short_ids) // 2 + 1
r = run_json(mpirun + ["-np", "1", shear, "eval", "--model", model, "--tokenizer", tokenizer, "--text", short_path,
                       "--seq-len", str(half), "--json"], env)
h_sum, h_count = ref_loss(model, [short_ids[:half]])
check(r["windows"] == 1 and r["tokens"] == half - 1 and rel(r["loss"], h_sum / h_count) < 1e-5,
      f"seq-len {half} of {len(short_ids)} tokens: the partial second window dropped, loss {r['loss']:.9f} vs "
      f"{h_sum / h_count:.9f}")

# ---- bf16: a model file recording precision = "bf16" (what a run.precision: bf16 run writes) ----
# The reference rounds the same GEMM inputs (ref_llama.set_gemm_bf16) in float64 and in float32. The two differ
# where a GEMM input lies a rounding error from a bf16 boundary and rounds the other way in one of them; Shear,
# float32 with another summation order, has the same freedom. So Shear must be within 3x the reference's
# float32-vs-float64 distance of its float64 loss (compare.py's BF16_FACTOR for the same rounding points), with a
# floor of 1e-6 relative for a case where that distance happens to be near zero (fp32 Shear is within 2e-9
# relative of its reference here). Measured: float32 vs float64 4.5e-6, Shear 5.5e-6 from the float64 loss, the
# bf16 loss 3.7e-4 from the fp32 one.
bf16_model = os.path.join(work, "model_bf16.h5")
shutil.copyfile(model, bf16_model)
with h5py.File(bf16_model, "a") as f:
    f.attrs["precision"] = "bf16"
b64_sum, _ = ref_loss(model, windows, bf16=True)
b32_sum, _ = ref_loss(model, windows, dtype=torch.float32, bf16=True)
b64, b32 = b64_sum / ref_count, b32_sum / ref_count
bound = max(3 * abs(b32 - b64), 1e-6 * abs(b64))
print(f"bf16 reference: loss {b64:.9f} (float64), {b32:.9f} (float32): bound {bound:.3g}")
eval_text = [shear, "eval", "--tokenizer", tokenizer, "--text", text_path, "--seq-len", str(T), "--json"]
bf16_loss = {}
for np_ranks in (1, 2):
    r = run_json(mpirun + ["-np", str(np_ranks)] + eval_text + ["--model", bf16_model], env)
    bf16_loss[np_ranks] = r["loss"]
    check(r["precision"] == "bf16" and abs(r["loss"] - b64) <= bound,
          f"bf16 file on {np_ranks} rank(s): precision {r['precision']}, loss {r['loss']:.9f} vs the bf16 reference "
          f"{b64:.9f} (|diff| {abs(r['loss'] - b64):.3g} <= {bound:.3g})")
# rounding must show: the bf16 loss is not the fp32 one, by far more than the bound
check(abs(bf16_loss[1] - base) > 10 * bound, f"the bf16 loss differs from the fp32 loss {base:.9f} by "
      f"{abs(bf16_loss[1] - base):.3g} > 10 x the bound")
# the overrides on one rank, micro-batch 4 as the runs they are compared with: equal to the 12 digits --json prints
r = run_json(mpirun + ["-np", "1"] + eval_text + ["--model", bf16_model, "--precision", "fp32"], env)
check(r["precision"] == "fp32" and r["loss"] == base,
      f"--precision fp32 on the bf16 file: loss {r['loss']:.12g}, the fp32 loss {base:.12g}")
r = run_json(mpirun + ["-np", "1"] + eval_text + ["--model", model, "--precision", "bf16"], env)
check(r["precision"] == "bf16" and r["loss"] == bf16_loss[1],
      f"--precision bf16 on the fp32 file: loss {r['loss']:.12g}, the bf16 file's {bf16_loss[1]:.12g}")
for m, extra, want in ((bf16_model, [], "precision bf16 (model file)"), (model, [], "precision fp32 (default)"),
                       (bf16_model, ["--precision", "fp32"], "precision fp32 (--precision)")):
    p = subprocess.run(mpirun + ["-np", "1"] + eval_text[:-1] + ["--model", m] + extra, capture_output=True,
                       text=True, env=env)
    check(p.returncode == 0 and want in p.stdout, f"set-up line names '{want}': {p.stdout.strip()}")

# ---- the human line ----
p = subprocess.run(mpirun + ["-np", "1", shear, "eval", "--model", model, "--tokenizer", tokenizer, "--text",
                             text_path, "--seq-len", str(T)], capture_output=True, text=True, env=env)
check(p.returncode == 0 and f"loss {base:.4f}" in p.stdout and f"{n_win} window(s) of {T}" in p.stdout,
      f"human output: {p.stdout.strip()}")

print(f"{'FAILED' if failures else 'passed'}: {len(failures)} failure(s)")
sys.exit(1 if failures else 0)
