#!/usr/bin/python3
"""Writes one parity case: a random LLaMA in the Shear model layout plus a batch, training settings and
(with --gates) fixed gate values. Everything is a function of the arguments (seed included).
Family features (ref_llama.Config; each independent, any combination): --qkv-bias (Qwen2's q/k/v biases),
--qk-norm (Qwen3's per-head q/k RMSNorm), --tie (tied embedding, no lm_head.weight), --sliding-window N (a
window >= --seq: a config fact only); --model-type defaults to qwen3 with --qk-norm, else qwen2 with --qkv-bias,
else mistral with --sliding-window, else llama. Without them the case is byte-identical to before the families.

Layout added to the model file: /batch/tokens int32 [B,T]; /batch/targets int32 [B,T] (next token, -1 = not
scored: the last position of each row and a few others); /train attrs lr, beta1, beta2, eps, weight_decay,
grad_clip (float64), steps (int32); with --gates [layer|cofi] /gates/<name> float32 (see ref_llama.py).
"""
import argparse
import json
import os
import sys

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "validation"))
import ref_llama as ref  # noqa: E402

# lr 1e-3 and eps 1e-4 rather than the paper's 1e-4 / 1e-8 or a bolder 1e-2 / 1e-8: ten steps on one batch
# must stay well-conditioned enough that a correct float32 run ends within 1e-4 of the float64 one.
# Measured, torch float32 vs float64 over 28 cases (the 3 ctest shapes + gated, seeds 1-7), worst final-weight
# / grad-norm relative error: lr 1e-2 eps 1e-8: 4.8e-3 / 7.0e-4 (Adam divides gradients near eps by
# themselves, so their float32 noise becomes a full-size update, and 10 large steps amplify it);
# lr 1e-3 eps 1e-8: 6.8e-5 / 2.0e-5; lr 1e-3 eps 1e-4: 1.4e-6 / 7.5e-6. Matrices still move by 20-40% of their
# norm and the loss falls from about 4.2 to 2.8; eps is large enough that its place in the update is tested;
# a missing weight decay (lr*wd*steps = 1e-3) is ten times the tolerance.
TRAIN = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.95, "eps": 1e-4, "weight_decay": 0.1}
STEPS = 10
# Relative distance every step's grad norm keeps from the clip value, so that whether a step clips does not
# hinge on float32 rounding (the clip coefficient is continuous anyway, this only keeps the test legible).
CLIP_MARGIN = 0.02


def random_params(c, rng):
    """Normal(0, 0.02) matrices, Normal(0, 0.2) for q/k (attention far from uniform), norms (q_norm / k_norm
    too) 1 + 0.1 N(0,1) (norm gradients then depend on the weights), biases 0.1 N(0,1) (v's about the size of
    v itself)."""
    P = {}
    for name, shape in ref.param_shapes(c).items():
        if name.endswith(".bias"):
            a = 0.1 * rng.standard_normal(shape)
        elif len(shape) == 1:
            a = 1.0 + 0.1 * rng.standard_normal(shape)
        elif name.endswith(("q_proj.weight", "k_proj.weight")):
            a = 0.2 * rng.standard_normal(shape)
        else:
            a = 0.02 * rng.standard_normal(shape)
        P[name] = torch.from_numpy(a.astype(np.float32))
    return P


def random_batch(c, B, T, rng):
    seq = rng.integers(0, c.vocab, size=(B, T + 1))
    tokens = seq[:, :T].astype(np.int32)
    targets = seq[:, 1:].astype(np.int32)
    targets[:, T - 1] = -1
    # about one position in ten more unscored per row, never a whole row
    k = min(max(1, (T - 1) // 10), T - 2)
    for b in range(B):
        targets[b, rng.choice(T - 1, size=k, replace=False)] = -1
    return tokens, targets


def random_gates(c, rng, kind="layer"):
    """Gate values in [0, 1] for the reference mask set (kind "layer": layer, head, intermediate, hidden) or
    the CoFi one ("cofi": head_layer and mlp in place of layer). A quarter of hidden channels and one KV group
    in every other layer are exactly zero, some intermediate channels too, the rest drawn away from zero."""
    G = {}
    L = c.n_layers
    if kind == "cofi":
        G["head_layer"] = rng.uniform(0.5, 1.0, L)
        G["mlp"] = rng.uniform(0.5, 1.0, L)
    else:
        G["layer"] = rng.uniform(0.5, 1.0, L)
    head = rng.uniform(0.2, 1.0, (L, c.n_kv_heads))
    for l in range(0, L, 2):
        head[l, rng.integers(c.n_kv_heads)] = 0.0
    G["head"] = head
    inter = rng.uniform(0.2, 1.0, (L, c.intermediate))
    inter[rng.random((L, c.intermediate)) < 0.1] = 0.0
    G["intermediate"] = inter
    hidden = rng.uniform(0.2, 1.0, c.dim)
    hidden[rng.choice(c.dim, size=c.dim // 4, replace=False)] = 0.0
    G["hidden"] = hidden
    return {n: torch.from_numpy(v.astype(np.float32)) for n, v in G.items()}


def choose_grad_clip(c, P, tokens, targets, gates):
    """A clip value below the initial grad norm, so clipping triggers at least on step 1, with every step's
    norm (float64 reference run) at least CLIP_MARGIN away from it. Preferred: some steps clip and some do
    not; else the largest candidate that clips every step with the margin."""
    P64 = {n: t.to(torch.float64) for n, t in P.items()}
    G64 = {n: t.to(torch.float64) for n, t in gates.items()} if gates else None
    _, _, grads, _ = ref.loss_and_grads(c, P64, tokens, targets, G64)
    g0 = float(torch.sqrt(sum((g * g).sum() for g in grads.values())))
    tried, fallback = [], None
    for frac in (0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5):
        clip = float(f"{frac * g0:.3g}")
        _, norms, _ = ref.train(c, P64, tokens, targets, TRAIN["lr"], (TRAIN["beta1"], TRAIN["beta2"]),
                                TRAIN["eps"], TRAIN["weight_decay"], clip, STEPS, G64)
        clipped = norms > clip * (1 + CLIP_MARGIN)
        unclipped = norms < clip * (1 - CLIP_MARGIN)
        tried.append((clip, int(clipped.sum()), int(unclipped.sum())))
        if clipped[0] and (clipped | unclipped).all():
            if unclipped.any():
                return clip, g0, norms
            if fallback is None:
                fallback = (clip, g0, norms)
    if fallback is not None:
        return fallback
    sys.exit(f"make_case: no grad_clip value clips step 1 with every norm {CLIP_MARGIN:.0%} away from it "
             f"(initial grad norm {g0:.4g}; tried clip, #clipped, #unclipped: {tried}); change the seed")


def main():
    torch.set_num_threads(1)  # tiny tensors: threads only add contention
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    for name in ("dim", "layers", "heads", "kv-heads", "head-dim", "intermediate", "vocab", "batch", "seq"):
        ap.add_argument("--" + name, type=int, required=True)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--rope-theta", type=float, default=10000.0)
    ap.add_argument("--norm-eps", type=float, default=1e-5)
    ap.add_argument("--rope-scaling", default="", help="config.json's rope_scaling as JSON (default: plain RoPE)")
    ap.add_argument("--gates", nargs="?", const="layer", choices=("layer", "cofi"),
                    help="also write /gates (applied in every forward): layer, head, intermediate, hidden; "
                         "with 'cofi' head_layer and mlp in place of layer")
    ap.add_argument("--qkv-bias", action="store_true", help="q/k/v_proj biases (Qwen2)")
    ap.add_argument("--qk-norm", action="store_true", help="q_norm / k_norm over head_dim before RoPE (Qwen3)")
    ap.add_argument("--tie", action="store_true", help="tied embedding: no lm_head.weight (Llama 3.2, small Qwen)")
    ap.add_argument("--sliding-window", type=int, default=0, help="attention window, >= --seq (default: none)")
    ap.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                    help="the GEMMs' precision (run.precision): bf16 rounds every GEMM input (ref_llama.linear)")
    ap.add_argument("--model-type", choices=ref.MODEL_TYPES,
                    help="/config model_type (default: from the features, see above)")
    a = ap.parse_args()
    if a.seq < 2 or a.batch < 1:
        ap.error("need --seq >= 2 (the last position is never scored) and --batch >= 1")
    if a.sliding_window and a.sliding_window < a.seq:
        ap.error(f"--sliding-window {a.sliding_window} < --seq {a.seq}: the reference computes causal attention")
    model_type = a.model_type or ("qwen3" if a.qk_norm else "qwen2" if a.qkv_bias else
                                  "mistral" if a.sliding_window else "llama")
    c = ref.Config(dim=a.dim, n_layers=a.layers, n_heads=a.heads, n_kv_heads=a.kv_heads, head_dim=a.head_dim,
                   intermediate=a.intermediate, vocab=a.vocab, rope_theta=a.rope_theta, norm_eps=a.norm_eps,
                   rope_scaling=json.loads(a.rope_scaling) if a.rope_scaling else None, model_type=model_type,
                   tie_embeddings=a.tie, qkv_bias=a.qkv_bias, qk_norm=a.qk_norm, sliding_window=a.sliding_window)
    try:
        c.check()
    except ValueError as e:
        ap.error(str(e))

    rng = np.random.default_rng(a.seed)
    P = random_params(c, rng)
    tokens, targets = random_batch(c, a.batch, a.seq, rng)
    gates = random_gates(c, rng, a.gates) if a.gates else None
    ref.set_gemm_bf16(a.precision == "bf16")
    clip, g0, norms = choose_grad_clip(c, P, torch.from_numpy(tokens), torch.from_numpy(targets), gates)

    with h5py.File(a.out, "w") as f:
        ref.write_model(f, c, P)
        f.create_dataset("batch/tokens", data=tokens)
        f.create_dataset("batch/targets", data=targets)
        t = f.create_group("train")
        for k, v in TRAIN.items():
            t.attrs[k] = np.float64(v)
        t.attrs["grad_clip"] = np.float64(clip)
        t.attrs["steps"] = np.int32(STEPS)
        t.attrs["gemm_bf16"] = np.int32(a.precision == "bf16")
        if gates:
            for n, v in gates.items():
                f.create_dataset("gates/" + n, data=v.numpy())
    n_clip = int((norms > clip).sum())
    print(f"make_case: wrote {a.out}: {sum(t.numel() for t in P.values())} params, B={a.batch} T={a.seq}, "
          f"{int((targets >= 0).sum())} scored, initial grad norm {g0:.4g}, grad_clip {clip:.4g} "
          f"(clips {n_clip} of {STEPS} steps), gates: {', '.join(gates) if gates else 'none'}; {c.model_type}"
          f"{''.join(f', {k}' for k in ('qkv_bias', 'qk_norm', 'tie_embeddings') if getattr(c, k))}"
          f"{f', sliding_window {c.sliding_window}' if c.sliding_window else ''}")


if __name__ == "__main__":
    main()
