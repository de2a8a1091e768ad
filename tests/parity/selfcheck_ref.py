#!/usr/bin/python3
"""Checks the PyTorch reference (validation/ref_llama.py) on its own, before any C code is compared to it:
  naive       an independent loop-by-loop numpy LLaMA (explicit RoPE pair rotations, per-head softmax, GQA by
              h // n_rep, gates) gives the same logits and loss; head_dim != dim / n_heads
  fp32        float32 and float64 runs agree (logits, loss, weight and gate gradients)
  gradcheck   torch.autograd.gradcheck in float64 on a tiny GQA model, CoFi gates (head_layer, mlp, head,
              intermediate, hidden), then layer gates with exact zeros in hidden (kept-channel set held fixed)
              so d/d(zero gate) is checked too
  ones        gates of all ones give the ungated logits (bitwise) and gradients (to rounding)
  slice       hidden 0/1 gates equal the model sliced to the kept channels; general gates with zeros equal
              fold_and_slice (the finalization property of shearing.md section 4)
  gqa         GQA equals MHA with each KV head's k/v rows repeated for its query heads (logits, gate grads,
              k/v grads summed over the repeats)
  io          save_model / load_model round trip; load_model rejects a file that is not a Shear model
Family features (Llama 3.x tied, Mistral, Qwen2.5 q/k/v biases, Qwen3 q/k norms):
  naive       the loop-by-loop model with q/k/v biases, per-head q/k RMSNorm and a tied head, alone and together
  gradcheck   all three features with CoFi gates
  slice       fold_and_slice == masked forward: q/k/v biases with head gates (v's bias scaled), q/k norms with
              KV groups pruned, tied embedding with hidden channels pruned, all three; table order and family kept
  tied        d loss / d embedding of a tied model == embedding + lm_head gradients of the untied model whose
              lm_head is a copy of the embedding; logits and every other gradient equal
  decay       one AdamW step: 1-D tensors (biases, q/k norms) are not decayed, 2-D ones (the tied embedding once)
  window      sliding_window >= T runs the causal forward; T > sliding_window is refused
  io          family options round trip through the model file; a LLaMA file has none of their attributes
Prints one line per check and "N passed, N failed"; exits 1 on any failure.
"""
import dataclasses
import math
import os
import sys
import tempfile

import h5py
import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "validation"))
import make_case  # noqa: E402
import ref_llama as ref  # noqa: E402

results = []


def check(name, ok, detail=""):
    results.append(bool(ok))
    print(f"{'PASS' if ok else 'FAIL'} {name:<44} {detail}")


def rel(a, b):
    a, b = torch.as_tensor(a).double(), torch.as_tensor(b).double()
    nb = torch.linalg.norm(b).item()
    return torch.linalg.norm(a - b).item() / (nb if nb > 0 else 1.0)


def model(c, seed, B, T, gates=None):
    """Random float64 model, batch and (gates = "layer" or "cofi") gate values with exact zeros."""
    rng = np.random.default_rng(seed)
    P = {n: t.double() for n, t in make_case.random_params(c, rng).items()}
    tokens, targets = make_case.random_batch(c, B, T, rng)
    G = {n: t.double() for n, t in make_case.random_gates(c, rng, gates).items()} if gates else None
    return P, torch.from_numpy(tokens).long(), torch.from_numpy(targets).long(), G


def naive_logits(c, P, tokens, gates=None):
    """Loop-by-loop numpy float64 LLaMA, written apart from ref.forward: same math, different code path.
    Per head: q_h = (h W_q^T + b_q)[head rows], then q_norm: w * q_h / sqrt(mean(q_h^2) + eps), then RoPE."""
    W = {n: t.detach().numpy() for n, t in P.items()}
    Z = {n: t.detach().numpy() for n, t in (gates or {}).items()}
    B, T = tokens.shape
    H, hd, n_rep = c.n_heads, c.head_dim, c.n_heads // c.n_kv_heads
    hid = Z.get("hidden")

    def norm(x, w):                                                                 # x [d]
        if hid is None:
            return w * x / math.sqrt(np.mean(x * x) + c.norm_eps)
        keep = hid != 0
        return w * x / math.sqrt(np.mean(x[keep] ** 2) + c.norm_eps) * hid

    def rope(v, t):                                                                 # v [hd], position t
        out = v.copy()
        for i in range(hd // 2):                                                    # pairs (i, i + hd/2)
            ang = t * c.rope_theta ** (-2.0 * i / hd)
            a, b = v[i], v[i + hd // 2]
            out[i] = a * math.cos(ang) - b * math.sin(ang)
            out[i + hd // 2] = b * math.cos(ang) + a * math.sin(ang)
        return out

    def gate(name, *idx):
        return Z[name][idx] if name in Z else 1.0

    logits = np.zeros((B, T, c.vocab))
    for b in range(B):
        x = W["model.embed_tokens.weight"][tokens[b].numpy()].copy()               # [T, d]
        for l in range(c.n_layers):
            p = f"model.layers.{l}."
            h = np.stack([norm(x[t], W[p + "input_layernorm.weight"]) for t in range(T)])
            q = h @ W[p + "self_attn.q_proj.weight"].T
            k = h @ W[p + "self_attn.k_proj.weight"].T
            v = h @ W[p + "self_attn.v_proj.weight"].T
            if c.qkv_bias:
                q = q + W[p + "self_attn.q_proj.bias"]
                k = k + W[p + "self_attn.k_proj.bias"]
                v = v + W[p + "self_attn.v_proj.bias"]

            def head(vec, which):                                                   # vec [hd] of one head
                if not c.qk_norm:
                    return vec
                return W[p + f"self_attn.{which}_norm.weight"] * vec / math.sqrt(np.mean(vec * vec) + c.norm_eps)

            ctx = np.zeros((T, H * hd))
            for hh in range(H):
                g = hh // n_rep                                                     # KV group of query head hh
                for t in range(T):
                    qt = rope(head(q[t, hh * hd:(hh + 1) * hd], "q"), t)
                    s = np.array([qt @ rope(head(k[u, g * hd:(g + 1) * hd], "k"), u) / math.sqrt(hd)
                                  for u in range(t + 1)])
                    e = np.exp(s - s.max())
                    e /= e.sum()
                    ctx[t, hh * hd:(hh + 1) * hd] = gate("head", l, g) * (e @ v[:t + 1, g * hd:(g + 1) * hd])
            a = ctx @ W[p + "self_attn.o_proj.weight"].T
            x = x + a * gate("layer", l) * gate("head_layer", l) * (hid if hid is not None else 1.0)
            h = np.stack([norm(x[t], W[p + "post_attention_layernorm.weight"]) for t in range(T)])
            gt = h @ W[p + "mlp.gate_proj.weight"].T
            up = (h @ W[p + "mlp.up_proj.weight"].T) * (Z["intermediate"][l] if "intermediate" in Z else 1.0)
            m = (gt / (1 + np.exp(-gt)) * up) @ W[p + "mlp.down_proj.weight"].T
            x = x + m * gate("layer", l) * gate("mlp", l) * (hid if hid is not None else 1.0)
        xf = np.stack([norm(x[t], W["model.norm.weight"]) for t in range(T)])
        logits[b] = xf @ W["model.embed_tokens.weight" if c.tie_embeddings else "lm_head.weight"].T
    return logits


def naive_loss(logits, targets):
    total, n = 0.0, 0
    for (b, t), y in np.ndenumerate(targets.numpy()):
        if y >= 0:
            row = logits[b, t]
            total += np.log(np.sum(np.exp(row - row.max()))) + row.max() - row[y]
            n += 1
    return total / n


def check_naive():
    # head_dim 10 != dim 12 / heads 4; GQA 2 query heads per group; all gates with zeros
    c = ref.Config(dim=12, n_layers=2, n_heads=4, n_kv_heads=2, head_dim=10, intermediate=20, vocab=17,
                   rope_theta=500.0, norm_eps=1e-5)
    for gated in (None, "layer", "cofi"):
        P, tok, tgt, G = model(c, 11, 2, 7, gates=gated)
        lg = ref.forward(c, P, tok, G)
        want = naive_logits(c, P, tok, G)
        tag = f"gates {gated}" if gated else "ungated"
        check(f"naive logits ({tag}, hd != d/H, GQA)", rel(lg, want) < 1e-12, f"rel {rel(lg, want):.1e}")
        loss, wl = ref.lm_loss(lg, tgt).item(), naive_loss(want, tgt)
        check(f"naive loss ({tag})", abs(loss - wl) < 1e-12 * abs(wl), f"{loss:.15f} vs {wl:.15f}")


FAMILY = {"qkv_bias": dict(model_type="qwen2", qkv_bias=True), "qk_norm": dict(model_type="qwen3", qk_norm=True),
          "tied": dict(tie_embeddings=True),
          "all three": dict(model_type="qwen3", qkv_bias=True, qk_norm=True, tie_embeddings=True)}


def check_naive_family():
    c0 = ref.Config(dim=12, n_layers=2, n_heads=4, n_kv_heads=2, head_dim=10, intermediate=20, vocab=17,
                    rope_theta=500.0, norm_eps=1e-5)
    for feat, kw in FAMILY.items():
        c = dataclasses.replace(c0, **kw)
        for gated in (None, "layer"):
            P, tok, tgt, G = model(c, 21, 2, 7, gates=gated)
            lg, want = ref.forward(c, P, tok, G), naive_logits(c, P, tok, G)
            tag = f"{feat}, gates {gated}" if gated else feat
            check(f"naive logits ({tag})", rel(lg, want) < 1e-12, f"rel {rel(lg, want):.1e}")
    # the features do something: each changes the logits of the same weights
    P, tok, _, _ = model(dataclasses.replace(c0, **FAMILY["all three"]), 21, 2, 7)
    P = {**P, "lm_head.weight": P["model.embed_tokens.weight"]}
    base = ref.forward(c0, P, tok)
    moved = {feat: rel(ref.forward(dataclasses.replace(c0, **FAMILY[feat]), P, tok), base)
             for feat in ("qkv_bias", "qk_norm")}
    check("q/k/v biases and q/k norms change the logits", min(moved.values()) > 1e-3,
          ", ".join(f"{k} rel {v:.1e}" for k, v in moved.items()))


def check_gradcheck_family():
    c = ref.Config(dim=6, n_layers=2, n_heads=4, n_kv_heads=2, head_dim=4, intermediate=8, vocab=7,
                   **FAMILY["all three"])
    P, tok, tgt, G = model(c, 4, 2, 5, gates="cofi")
    G["hidden"] = torch.linspace(0.3, 1.0, c.dim, dtype=torch.float64)  # no zero: the kept set cannot move
    names, gnames = list(P), list(G)

    def f(*xs):
        logits = ref.forward(c, dict(zip(names, xs[:len(names)])), tok, dict(zip(gnames, xs[len(names):])))
        return logits, ref.lm_loss(logits, tgt)

    inputs = tuple(t.clone().requires_grad_(True) for t in list(P.values()) + [G[n] for n in gnames])
    try:
        ok = torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-7, rtol=1e-5)
        why = f"{sum(t.numel() for t in inputs)} inputs"
    except RuntimeError as e:
        ok, why = False, str(e).splitlines()[0]
    check("gradcheck, biases + q/k norms + tied, gates cofi", ok, why)


def check_slice_family():
    c0 = ref.Config(dim=24, n_layers=3, n_heads=6, n_kv_heads=3, head_dim=8, intermediate=40, vocab=31)
    for feat, kw in FAMILY.items():
        c = dataclasses.replace(c0, **kw)
        rng = np.random.default_rng(31)
        P, tok, _, _ = model(c, 31, 2, 11)
        # every gate kind with exact zeros: one KV group per layer, 10 MLP channels, 8 hidden channels, layer 1
        G = {n: torch.from_numpy(rng.uniform(0.3, 1.0, s)) for n, s in ref.gate_shapes(c).items()
             if n in ("layer", "head", "intermediate", "hidden")}
        G["hidden"][torch.from_numpy(rng.permutation(c.dim) < 8)] = 0.0
        for l in range(c.n_layers):
            G["head"][l, rng.integers(c.n_kv_heads)] = 0.0
            G["intermediate"][l, rng.choice(c.intermediate, 10, replace=False)] = 0.0
        G["layer"][1] = 0.0
        ct, Q = ref.fold_and_slice(c, P, G)
        a, b = ref.forward(c, P, tok, G), ref.forward(ct, Q, tok)
        table = [(n, tuple(t.shape)) for n, t in Q.items()] == list(ref.param_shapes(ct).items())
        kept = all(getattr(ct, k) == getattr(c, k) for k in ref.OPTION_FIELDS)
        shape = (ct.dim, ct.n_layers, ct.n_heads, ct.n_kv_heads, ct.intermediate)
        check(f"fold_and_slice == masked forward ({feat})",
              shape == (16, 2, 4, 2, 30) and table and kept and rel(a, b) < 1e-10,
              f"shape {shape}, table order {table}, family kept {kept}, rel {rel(a, b):.1e}")


def check_tied_grad():
    c = ref.Config(dim=16, n_layers=2, n_heads=4, n_kv_heads=2, head_dim=6, intermediate=24, vocab=19,
                   tie_embeddings=True)
    cu = dataclasses.replace(c, tie_embeddings=False)
    P, tok, tgt, G = model(c, 17, 2, 9, gates="layer")
    E = "model.embed_tokens.weight"
    a = ref.loss_and_grads(c, P, tok, tgt, G)
    b = ref.loss_and_grads(cu, {**P, "lm_head.weight": P[E].clone()}, tok, tgt, G)
    summed = b[2][E] + b[2]["lm_head.weight"]
    others = max(rel(a[2][n], b[2][n]) for n in a[2] if n != E)
    gates = max(rel(a[3][n], b[3][n]) for n in a[3])
    check("tied: no lm_head, logits == untied copy", "lm_head.weight" not in a[2] and torch.equal(a[0], b[0]),
          f"{len(a[2])} vs {len(b[2])} tensors, logits bitwise {torch.equal(a[0], b[0])}")
    check("tied: grad embed == grad embed + grad lm_head", rel(a[2][E], summed) < 1e-12,
          f"rel {rel(a[2][E], summed):.1e} (head part alone is rel {rel(b[2]['lm_head.weight'], summed):.1e})")
    check("tied: other weight and gate grads equal", max(others, gates) < 1e-12,
          f"worst rel {others:.1e} (weights), {gates:.1e} (gates)")


def check_decay():
    c = ref.Config(dim=16, n_layers=2, n_heads=4, n_kv_heads=2, head_dim=6, intermediate=24, vocab=19,
                   **FAMILY["all three"])
    P, tok, tgt, _ = model(c, 19, 2, 9)
    lr, wd = 1e-3, 0.1
    _, _, f0 = ref.train(c, P, tok, tgt, lr, (0.9, 0.95), 1e-8, 0.0, 1e9, 1)
    _, _, f1 = ref.train(c, P, tok, tgt, lr, (0.9, 0.95), 1e-8, wd, 1e9, 1)
    one_d = [n for n in P if P[n].dim() == 1]
    undecayed = all(torch.equal(f0[n], f1[n]) for n in one_d)
    worst = max(rel(f0[n] - f1[n], lr * wd * P[n]) for n in P if P[n].dim() == 2)
    check("decay: 2-D only (biases, q/k norms not)", undecayed and worst < 1e-9 and set(f1) == set(P),
          f"{len(one_d)} 1-D tensors unchanged by decay {undecayed}; 2-D p0 * lr*wd worst rel {worst:.1e}")


def check_window():
    c = ref.Config(dim=8, n_layers=1, n_heads=2, n_kv_heads=1, head_dim=4, intermediate=8, vocab=11,
                   model_type="mistral", sliding_window=6)
    P, tok, _, _ = model(c, 2, 1, 7)
    plain = ref.forward(dataclasses.replace(c, sliding_window=0), P, tok[:, :6])
    same = torch.equal(ref.forward(c, P, tok[:, :6]), plain)
    try:
        ref.forward(c, P, tok)
        why = "T 7 accepted"
    except ValueError as e:
        why = str(e)
    check("window >= T is causal; T > window refused", same and "sliding_window 6" in why, why)


def check_fp32():
    c = ref.Config(dim=40, n_layers=2, n_heads=6, n_kv_heads=2, head_dim=24, intermediate=70, vocab=101)
    P, tok, tgt, G = model(c, 5, 2, 19, gates="layer")
    P = {n: t.float().double() for n, t in P.items()}  # same float32-representable weights in both runs
    a = ref.loss_and_grads(c, P, tok, tgt, G)
    b = ref.loss_and_grads(c, {n: t.float() for n, t in P.items()}, tok, tgt, {n: g.float() for n, g in G.items()})
    check("fp32 vs fp64 logits", rel(b[0], a[0]) < 1e-5, f"rel {rel(b[0], a[0]):.1e}")
    check("fp32 vs fp64 loss", rel(b[1], a[1]) < 1e-6, f"rel {rel(b[1], a[1]):.1e}")
    worst = max(rel(b[2][n], a[2][n]) for n in a[2])
    check("fp32 vs fp64 weight grads (worst tensor)", worst < 1e-4, f"rel {worst:.1e}")
    worst = max(rel(b[3][n], a[3][n]) for n in a[3])
    check("fp32 vs fp64 gate grads (worst gate)", worst < 1e-4, f"rel {worst:.1e}")


def check_gradcheck():
    c = ref.Config(dim=6, n_layers=2, n_heads=4, n_kv_heads=2, head_dim=4, intermediate=8, vocab=7)
    for kind, with_zeros in (("cofi", False), ("layer", True)):
        P, tok, tgt, G = model(c, 3, 2, 5, gates=kind)
        names, gnames = list(P), list(G)
        h = torch.linspace(0.3, 1.0, c.dim, dtype=torch.float64)
        if with_zeros:
            h[[1, 4]] = 0.0
        G["hidden"] = h
        keep = h != 0   # fixed, so that finite differences around a zero gate do not change the averaged set

        def f(*xs):
            W = dict(zip(names, xs[:len(names)]))
            Z = dict(zip(gnames, xs[len(names):]))
            logits = ref.forward(c, W, tok, Z, hidden_keep=keep)
            return logits, ref.lm_loss(logits, tgt)

        inputs = tuple(t.clone().requires_grad_(True) for t in list(P.values()) + [G[n] for n in gnames])
        try:
            ok = torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-7, rtol=1e-5)
            why = f"{sum(t.numel() for t in inputs)} inputs"
        except RuntimeError as e:
            ok, why = False, str(e).splitlines()[0]
        check(f"gradcheck, gates {kind}{', hidden zeros' if with_zeros else ''}", ok, why)


def check_ones():
    c = ref.Config(dim=24, n_layers=2, n_heads=4, n_kv_heads=2, head_dim=8, intermediate=40, vocab=31)
    for kind in ("layer", "cofi"):
        P, tok, tgt, G = model(c, 7, 2, 9, gates=kind)
        ones = {n: torch.ones_like(g) for n, g in G.items()}
        a, b = ref.loss_and_grads(c, P, tok, tgt, None), ref.loss_and_grads(c, P, tok, tgt, ones)
        # logits are bitwise equal; gradients may differ in the last bit (the masked norm's x[..., keep] path
        # accumulates into x's gradient separately)
        worst = max(rel(b[2][n], a[2][n]) for n in a[2])
        check(f"gates {kind} all ones == no gates", torch.equal(a[0], b[0]) and worst < 1e-14,
              f"logits bitwise {torch.equal(a[0], b[0])}, grads worst rel {worst:.1e}")


def check_slice():
    c = ref.Config(dim=24, n_layers=3, n_heads=6, n_kv_heads=3, head_dim=8, intermediate=40, vocab=31)
    P, tok, _, _ = model(c, 9, 2, 11)
    rng = np.random.default_rng(9)
    keep = torch.from_numpy(rng.permutation(c.dim) < 16)                       # 16 of 24 channels kept
    h01 = keep.double()
    ct, Q = ref.fold_and_slice(c, P, {"hidden": h01})
    a, b = ref.forward(c, P, tok, {"hidden": h01}), ref.forward(ct, Q, tok)
    check("hidden 0/1 == model sliced to kept channels", ct.dim == 16 and rel(a, b) < 1e-12,
          f"dim {ct.dim}, rel {rel(a, b):.1e}")
    # general gate values, exact zeros in every kind: one KV group per layer, 10 MLP channels, layer 1
    for kind, scalars in (("layer", ("layer",)), ("cofi", ("head_layer", "mlp"))):
        names = scalars + ("head", "intermediate", "hidden")
        G = {n: torch.from_numpy(rng.uniform(0.3, 1.0, s)) for n, s in ref.gate_shapes(c).items() if n in names}
        G["hidden"] = h01 * G["hidden"]
        for l in range(c.n_layers):
            G["head"][l, rng.integers(c.n_kv_heads)] = 0.0
            G["intermediate"][l, rng.choice(c.intermediate, 10, replace=False)] = 0.0
        for n in scalars:
            G[n][1] = 0.0
        ct, Q = ref.fold_and_slice(c, P, G)
        a, b = ref.forward(c, P, tok, G), ref.forward(ct, Q, tok)
        shape = (ct.dim, ct.n_layers, ct.n_heads, ct.n_kv_heads, ct.intermediate)
        check(f"gates {kind} with zeros == fold_and_slice", shape == (16, 2, 4, 2, 30) and rel(a, b) < 1e-12,
              f"shape {shape}, rel {rel(a, b):.1e}")


def check_gqa():
    c = ref.Config(dim=16, n_layers=2, n_heads=6, n_kv_heads=2, head_dim=6, intermediate=24, vocab=19)
    cm = ref.Config(**{**c.__dict__, "n_kv_heads": c.n_heads})
    n_rep = c.n_heads // c.n_kv_heads
    P, tok, tgt, G = model(c, 13, 2, 8, gates="cofi")
    # MHA head h uses the k/v rows of GQA group h // n_rep
    rows = (torch.arange(c.n_heads).div(n_rep, rounding_mode="floor")[:, None] * c.head_dim
            + torch.arange(c.head_dim)).flatten()
    Pm = {n: (t[rows] if ("k_proj" in n or "v_proj" in n) else t) for n, t in P.items()}
    Gm = dict(G, head=G["head"].repeat_interleave(n_rep, dim=1))
    a, b = ref.loss_and_grads(c, P, tok, tgt, G), ref.loss_and_grads(cm, Pm, tok, tgt, Gm)
    check("GQA == MHA with repeated k/v: logits", rel(a[0], b[0]) < 1e-12, f"rel {rel(a[0], b[0]):.1e}")
    worst = 0.0
    for n, g in a[2].items():
        gm = b[2][n]
        if "k_proj" in n or "v_proj" in n:   # a GQA row's gradient is the sum over the MHA rows copying it
            gm = gm.view(c.n_kv_heads, n_rep, c.head_dim, -1).sum(1).reshape(g.shape)
        worst = max(worst, rel(gm, g))
    hg = b[3]["head"].view(c.n_layers, c.n_kv_heads, n_rep).sum(-1)
    worst = max(worst, rel(hg, a[3]["head"]))
    check("GQA == MHA with repeated k/v: all grads", worst < 1e-12, f"worst rel {worst:.1e}")


def check_io():
    c = ref.Config(dim=8, n_layers=2, n_heads=2, n_kv_heads=1, head_dim=6, intermediate=12, vocab=11,
                   rope_theta=1e4, norm_eps=1e-6)
    P, _, _, _ = model(c, 1, 1, 2)
    P = {n: t.float() for n, t in P.items()}
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "m.h5")
        ref.save_model(path, c, P)
        c2, P2 = ref.load_model(path, torch.float32)
        check("save/load round trip", c2 == c and all(torch.equal(P[n], P2[n]) for n in P), f"{len(P2)} tensors")
        with h5py.File(path, "r") as f:
            extra = sorted(set(ref.FAMILY_ATTRS.values()) & set(f["config"].attrs))
        check("a LLaMA file has no family attributes", not extra, f"found {extra}" if extra else "none")
        cf = dataclasses.replace(c, sliding_window=64, **FAMILY["all three"])
        Pf, _, _, _ = model(cf, 1, 1, 2)
        Pf = {n: t.float() for n, t in Pf.items()}
        pf = os.path.join(d, "f.h5")
        ref.save_model(pf, cf, Pf)
        c3, P3 = ref.load_model(pf, torch.float32)
        with h5py.File(pf, "r") as f:
            attrs = {k: ref._attr_str(f["config"].attrs[k]) for k in ref.FAMILY_ATTRS.values()}
        check("family options round trip", c3 == cf and set(P3) == set(Pf) and "lm_head.weight" not in P3
              and all(torch.equal(Pf[n], P3[n]) for n in Pf), f"{len(P3)} tensors, /config {attrs}")
        with h5py.File(path, "r+") as f:
            f.attrs["format"] = np.bytes_("something-else")
        try:
            ref.load_model(path)
            ok, why = False, "accepted"
        except ValueError as e:
            ok, why = "format" in str(e), str(e)
        check("load rejects a wrong format attribute", ok, why.replace(d, "<tmp>"))


def main():
    torch.set_num_threads(1)  # tiny tensors: threads only add contention
    for fn in (check_naive, check_fp32, check_gradcheck, check_ones, check_slice, check_gqa, check_io,
               check_naive_family, check_gradcheck_family, check_slice_family, check_tied_grad, check_decay,
               check_window):
        fn()
    n_fail = results.count(False)
    print(f"{len(results) - n_fail} passed, {n_fail} failed")
    sys.exit(1 if n_fail else 0)


if __name__ == "__main__":
    main()
