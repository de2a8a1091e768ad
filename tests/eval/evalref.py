"""Shared by the `shear eval` checks: a random LLaMA written as a Shear model file, and the PyTorch reference
loss (validation/ref_llama.py, float64 on the file's float32 weights) over a list of token sequences."""
import json
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "validation"))
sys.path.insert(0, os.path.join(HERE, "..", "parity"))
import ref_llama as ref  # noqa: E402
from make_case import random_params  # noqa: E402


def make_model(path, vocab, seed, dim=32, layers=2, heads=4, kv_heads=2, head_dim=8, intermediate=48):
    """A random GQA model (make_case.random_params: q/k far from uniform attention) saved to path."""
    c = ref.Config(dim=dim, n_layers=layers, n_heads=heads, n_kv_heads=kv_heads, head_dim=head_dim,
                   intermediate=intermediate, vocab=vocab)
    P = random_params(c, np.random.default_rng(seed))
    # larger embeddings and head than make_case's 0.02: logits then spread, so positions differ in loss
    P["model.embed_tokens.weight"] *= 25
    P["lm_head.weight"] *= 25
    ref.save_model(path, c, P)


def ref_loss(model_path, seqs, dtype=torch.float64, bf16=False):
    """(sum of next-token losses, scored positions) of every sequence (each a list of ids) in dtype (default
    float64); bf16: every linear layer's inputs rounded to bf16 (Shear's bf16 GEMMs, ref_llama.set_gemm_bf16)."""
    torch.set_num_threads(2)
    c, P = ref.load_model(model_path, dtype)
    total, count = 0.0, 0
    ref.set_gemm_bf16(bf16)
    try:
        with torch.no_grad():
            for s in seqs:
                t = torch.tensor([s], dtype=torch.long)
                logits = ref.forward(c, P, t)[0]                                 # [T, V]
                total += float(F.cross_entropy(logits[:-1], t[0, 1:], reduction="sum"))
                count += len(s) - 1
    finally:
        ref.set_gemm_bf16(False)
    return total, count


def run_json(cmd, env=None):
    """Runs a shear command that prints one JSON object on stdout; exits with its output on failure."""
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    try:
        return json.loads(p.stdout)
    except json.JSONDecodeError:
        sys.exit(f"FAIL: {' '.join(cmd)} printed no single JSON object:\n{p.stdout}")


def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-300)
