"""Claim (3): targeted (uniform) pruning vs non-uniform pruning at equal parameter count.

Reads two prune outputs (pruned.h5 = masked source model + exact deterministic gates, metrics.jsonl) of the same
deck, one with prune.uniform 1 (Sheared LLaMA: every layer keeps the target's heads and channels) and one with
prune.uniform 0 (CoFi-style: only each mask type's total is constrained, so layers keep different numbers).
For each it
  1. folds the gates into the weights and slices every layer to its own width (ref_llama.fold_and_slice does the
     same for uniform rows; here rows may differ, a layer may keep no head or no channel), and checks that the
     dense per-layer model's logits equal the masked source model's (float64), and for the uniform run that it
     equals `shear finalize`'s output when --finalized is given;
  2. takes the loss Shear measured on the eval split under the exact masks (the last "eval" record of the prune
     run's metrics.jsonl: the masked model with those gates scores what the dense model scores);
  3. measures inference throughput of both dense models side by side in one process: fp32 PyTorch on the CPU,
     softmax attention as ref_llama (torch 1.13 has no fused
     scaled-dot-product attention), (a) prefill: forward of B x T tokens, whole model and the blocks alone (at this
     scale the classifier is most of the work and hides the blocks' shapes), (b) decoding: 1 sequence, N new tokens
     with a KV cache; rounds alternate between the models, best round kept.
Writes a Markdown table and a JSON file.
usage: nonuniform.py --uniform DIR --nonuniform DIR [--finalized SHEARED.h5] --out-md F --out-json F
"""
import argparse
import json
import math
import os
import sys
import time

import h5py
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_llama  # noqa: E402


def read_gates(path):
    with h5py.File(path, "r") as f:
        if "masks" not in f:
            raise SystemExit(f"{path}: no /masks group: expected a prune output (pruned.h5)")
        return {k: torch.from_numpy(np.asarray(f["masks"][k][()], dtype=np.float64)) for k in f["masks"]}


def fold_layers(c, P, gates):
    """Fold every gate into the weights once and slice each layer to its own kept heads and channels.
    Returns {"dim", "vocab", "head_dim", "n_rep", "embed", "norm", "lm_head", "layers": [per-layer dict]};
    a layer dict holds G (kept KV groups, may be 0), I (kept channels, may be 0) and its weights."""
    L, H, G, hd, d = c.n_layers, c.n_heads, c.n_kv_heads, c.head_dim, c.dim
    n_rep = H // G
    dt = P["model.norm.weight"].dtype

    def one(name, shape):
        return gates[name].to(dt) if name in gates else torch.ones(shape, dtype=dt)
    layer, head_layer, mlp = one("layer", (L,)), one("head_layer", (L,)), one("mlp", (L,))
    head, inter, hidden = one("head", (L, G)), one("intermediate", (L, c.intermediate)), one("hidden", (d,))
    kd = torch.nonzero(hidden != 0).flatten()
    hk = hidden[kd]
    out = {"dim": len(kd), "vocab": c.vocab, "head_dim": hd, "n_rep": n_rep, "theta": c.rope_theta,
           "eps": c.norm_eps, "embed": P["model.embed_tokens.weight"][:, kd],
           "norm": P["model.norm.weight"][kd] * hk, "lm_head": P["lm_head.weight"][:, kd], "layers": []}
    for l in range(L):
        a_scale, m_scale = layer[l] * head_layer[l], layer[l] * mlp[l]
        if a_scale == 0 and m_scale == 0:
            continue
        p = f"model.layers.{l}."
        kg = torch.nonzero(head[l] != 0).flatten() if a_scale != 0 else torch.zeros(0, dtype=torch.long)
        ki = torch.nonzero(inter[l] != 0).flatten() if m_scale != 0 else torch.zeros(0, dtype=torch.long)
        kh = (kg[:, None] * n_rep + torch.arange(n_rep)).flatten()
        rows_q = (kh[:, None] * hd + torch.arange(hd)).flatten()
        rows_kv = (kg[:, None] * hd + torch.arange(hd)).flatten()
        v_scale = head[l][kg].repeat_interleave(hd)[:, None]
        out["layers"].append({
            "source": l, "G": len(kg), "I": len(ki),
            "ln1": P[p + "input_layernorm.weight"][kd] * hk,
            "ln2": P[p + "post_attention_layernorm.weight"][kd] * hk,
            "q": P[p + "self_attn.q_proj.weight"][rows_q][:, kd],
            "k": P[p + "self_attn.k_proj.weight"][rows_kv][:, kd],
            "v": P[p + "self_attn.v_proj.weight"][rows_kv][:, kd] * v_scale,
            "o": P[p + "self_attn.o_proj.weight"][kd][:, rows_q] * (hk * a_scale)[:, None],
            "gate": P[p + "mlp.gate_proj.weight"][ki][:, kd],
            "up": P[p + "mlp.up_proj.weight"][ki][:, kd] * inter[l][ki][:, None],
            "down": P[p + "mlp.down_proj.weight"][kd][:, ki] * (hk * m_scale)[:, None]})
    return out


def n_params(M):
    n = M["embed"].numel() + M["norm"].numel() + M["lm_head"].numel()
    for ly in M["layers"]:
        n += sum(ly[k].numel() for k in ("ln1", "ln2", "q", "k", "v", "o", "gate", "up", "down"))
    return n


def to_dtype(M, dt):
    R = {k: (v.to(dt).contiguous() if torch.is_tensor(v) else v) for k, v in M.items() if k != "layers"}
    R["layers"] = [{k: (v.to(dt).contiguous() if torch.is_tensor(v) else v) for k, v in ly.items()}
                   for ly in M["layers"]]
    return R


def rms(x, w, eps):
    return w * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)


def rope(x, pos0, theta):
    """x [B,h,T,hd] rotate-half RoPE at positions pos0 .. pos0+T-1 (as ref_llama)."""
    T, hd = x.shape[2], x.shape[3]
    inv = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    ang = torch.arange(pos0, pos0 + T, dtype=torch.float64)[:, None] * inv[None, :]
    cos = torch.cat([ang.cos(), ang.cos()], -1).to(x.dtype)
    sin = torch.cat([ang.sin(), ang.sin()], -1).to(x.dtype)
    return x * cos + ref_llama.rotate_half(x) * sin


def forward(M, tokens, cache=None, pos0=0, head=True):
    """Dense per-layer-width LLaMA. tokens [B,T] -> logits [B,T,V] (head=False: the final hidden state [B,T,d],
    the blocks alone). cache: list of (k, v) per layer, appended to (decoding) when given."""
    B, T = tokens.shape
    hd, n_rep, eps = M["head_dim"], M["n_rep"], M["eps"]
    x = M["embed"][tokens]                                                           # [B,T,d]
    for i, ly in enumerate(M["layers"]):
        G = ly["G"]
        if G > 0:
            h = rms(x, ly["ln1"], eps)
            q = (h @ ly["q"].T).view(B, T, G * n_rep, hd).transpose(1, 2)             # [B,H_l,T,hd]
            k = (h @ ly["k"].T).view(B, T, G, hd).transpose(1, 2)                     # [B,G_l,T,hd]
            v = (h @ ly["v"].T).view(B, T, G, hd).transpose(1, 2)
            q, k = rope(q, pos0, M["theta"]), rope(k, pos0, M["theta"])
            if cache is not None:
                if len(cache) > i and cache[i] is not None:
                    k = torch.cat([cache[i][0], k], 2)
                    v = torch.cat([cache[i][1], v], 2)
                while len(cache) <= i:
                    cache.append(None)
                cache[i] = (k, v)
            k, v = k.repeat_interleave(n_rep, 1), v.repeat_interleave(n_rep, 1)
            S = k.shape[2]                                                              # keys so far
            att = (q @ k.transpose(-1, -2)) / math.sqrt(hd)                            # [B,H_l,T,S]
            if T > 1:   # query t sits at position S-T+t and sees keys 0..S-T+t
                causal = torch.ones(T, S, dtype=torch.bool).tril(S - T)
                att = att.masked_fill(~causal, float("-inf"))
            ctx = att.softmax(-1) @ v                                                  # [B,H_l,T,hd]
            x = x + ctx.transpose(1, 2).reshape(B, T, -1) @ ly["o"].T
        if ly["I"] > 0:
            h = rms(x, ly["ln2"], eps)
            x = x + (F.silu(h @ ly["gate"].T) * (h @ ly["up"].T)) @ ly["down"].T
    return rms(x, M["norm"], eps) @ M["lm_head"].T if head else x


def last_eval(metrics):
    rec = None
    with open(metrics) as f:
        for line in f:
            r = json.loads(line)
            if r.get("event") == "eval":
                rec = r
    if rec is None:
        raise SystemExit(f"{metrics}: no eval record (did the prune run finish?)")
    return rec


def bench(models, B, T, new_tokens, rounds, vocab):
    g = torch.Generator().manual_seed(7)
    toks = torch.randint(0, vocab, (B, T), generator=g)
    prompt = toks[:1, :16]
    best = {name: {"prefill": math.inf, "blocks": math.inf, "decode": math.inf} for name in models}
    with torch.inference_mode():
        for name, M in models.items():       # warm-up
            forward(M, toks)
        for _ in range(rounds):
            for name, M in models.items():
                t0 = time.perf_counter()
                forward(M, toks)
                best[name]["prefill"] = min(best[name]["prefill"], time.perf_counter() - t0)
                t0 = time.perf_counter()
                forward(M, toks, head=False)
                best[name]["blocks"] = min(best[name]["blocks"], time.perf_counter() - t0)
                cache = []
                logits = forward(M, prompt, cache, 0)
                t0 = time.perf_counter()
                nxt = logits[:, -1:].argmax(-1)
                for s in range(new_tokens):
                    logits = forward(M, nxt, cache, prompt.shape[1] + s)
                    nxt = logits[:, -1:].argmax(-1)
                best[name]["decode"] = min(best[name]["decode"], time.perf_counter() - t0)
    return {name: {"prefill_tok_s": B * T / b["prefill"], "blocks_tok_s": B * T / b["blocks"],
                   "decode_tok_s": new_tokens / b["decode"]}
            for name, b in best.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--uniform", required=True, help="prune output dir of the prune.uniform 1 run")
    ap.add_argument("--nonuniform", required=True, help="prune output dir of the prune.uniform 0 run")
    ap.add_argument("--finalized", help="shear finalize output of the uniform run (checked against the fold)")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--threads", default="1", help="comma-separated torch thread counts, each measured")
    ap.add_argument("--out-md", required=True)
    ap.add_argument("--out-json", required=True)
    a = ap.parse_args()
    threads = [int(t) for t in a.threads.split(",")]

    res, dense = {}, {}
    for name, d in (("uniform", a.uniform), ("non-uniform", a.nonuniform)):
        path = os.path.join(d, "pruned.h5")
        for f in (path, os.path.join(d, "metrics.jsonl")):
            if not os.path.isfile(f):
                raise SystemExit(f"{name}: {f} does not exist: expected a finished `shear prune` output folder")
        c, P = ref_llama.load_model(path, torch.float64)
        gates = read_gates(path)
        M = fold_layers(c, P, gates)
        # the dense per-layer model computes what the masked source model computes under the same gates
        toks = torch.randint(0, c.vocab, (2, 33), generator=torch.Generator().manual_seed(3))
        ref = ref_llama.forward(c, P, toks, {k: v for k, v in gates.items()})
        got = forward(M, toks)
        err = ((got - ref).abs().max() / ref.abs().max()).item()
        if err > 1e-10:
            raise SystemExit(f"{name}: folded model differs from the masked model (rel {err:.2e})")
        ev = last_eval(os.path.join(d, "metrics.jsonl"))
        res[name] = {"heads_per_layer": [ly["G"] * M["n_rep"] for ly in M["layers"]],
                     "intermediate_per_layer": [ly["I"] for ly in M["layers"]],
                     "source_layers": [ly["source"] for ly in M["layers"]], "dim": M["dim"],
                     "params": n_params(M), "fold_vs_masked_rel_err": err,
                     "eval_losses": ev["losses"], "average_loss": ev["average_loss"]}
        dense[name] = to_dtype(M, torch.float32)
        if name == "uniform" and a.finalized:
            cf, Pf = ref_llama.load_model(a.finalized, torch.float64)
            lf = ref_llama.forward(cf, Pf, toks)
            e2 = ((lf - got).abs().max() / got.abs().max()).item()
            if e2 > 1e-6:   # the finalized file holds float32 weights
                raise SystemExit(f"uniform: shear finalize's model differs from the fold (rel {e2:.2e})")
            res[name]["finalize_vs_fold_rel_err"] = e2
    if res["uniform"]["params"] != res["non-uniform"]["params"]:
        print(f"note: parameter counts differ: {res['uniform']['params']} vs {res['non-uniform']['params']}")
    for t in threads:
        torch.set_num_threads(t)
        speed = bench(dense, a.batch, a.seq, a.new_tokens, a.rounds, dense["uniform"]["vocab"])
        for name in speed:
            res[name].setdefault("speed", {})[str(t)] = speed[name]
    u, n = res["uniform"], res["non-uniform"]
    res["setup"] = {"batch": a.batch, "seq": a.seq, "new_tokens": a.new_tokens, "rounds": a.rounds,
                    "threads": threads, "torch": torch.__version__}
    rows = []
    for name in ("uniform", "non-uniform"):
        r = res[name]
        sp = " | ".join(f"{r['speed'][str(t)]['prefill_tok_s']:,.0f} | {r['speed'][str(t)]['blocks_tok_s']:,.0f} | "
                        f"{r['speed'][str(t)]['decode_tok_s']:,.1f}" for t in threads)
        rows.append(f"| {name} | {r['heads_per_layer']} | {r['intermediate_per_layer']} | {r['params']:,} | "
                    f"{r['average_loss']:.4f} | {sp} |")
    cols = " | ".join(f"prefill tok/s ({t} thr) | blocks only ({t} thr) | decode tok/s ({t} thr)" for t in threads)

    def ratio(t, k):
        return n["speed"][str(t)][k] / u["speed"][str(t)][k]
    ratios = "; ".join(f"{t} thread(s): prefill {ratio(t, 'prefill_tok_s'):.3f}x, blocks only "
                       f"{ratio(t, 'blocks_tok_s'):.3f}x, decode {ratio(t, 'decode_tok_s'):.3f}x" for t in threads)
    text = (f"Targeted (uniform) vs non-uniform pruning of the tiny source (same deck, same steps; "
            f"prune.uniform 1 vs 0). Loss: Shear's eval-split average under the exact masks. Speed: fp32 PyTorch "
            f"{torch.__version__} on the CPU, best of {a.rounds} alternating rounds: prefill {a.batch}x{a.seq} "
            f"tokens (whole model, and the blocks alone without the 32000-row classifier), decoding {a.new_tokens} "
            f"tokens with a KV cache.\n\n"
            f"| pruning | heads per layer | MLP channels per layer | params | avg eval loss | {cols} |\n"
            "|---|---|---|---:|---:|" + "---:|" * (3 * len(threads)) + "\n" + "\n".join(rows) + "\n\n"
            f"non-uniform / uniform: {ratios}; loss {n['average_loss'] - u['average_loss']:+.4f}\n")
    with open(a.out_md, "w") as f:
        f.write(text)
    with open(a.out_json, "w") as f:
        json.dump(res, f, indent=1)
    print(text)


if __name__ == "__main__":
    main()
