"""Reference hard-concrete (L0) masks and Lagrangian in a page of PyTorch: the oracle for src/masks.c.

Written from shared/spec/shearing.md sections 2-3 (the authors' L0Module, made GQA-aware): per mask type a
tensor of log-alphas [rows, cols], keep scores, expected sparsity per row, the Lagrangian with its linear target
warm-up, hard-concrete samples from given u, deterministic masks, and the expected prunable parameter count.
Everything is differentiable with autograd where the spec says there is a gradient; the dtype is the caller's
(float64 for tight checks).

Mask types in Shear's buffer order (masks.h): layer [1,L], head_layer [1,L], mlp [1,L], head [L,G] (one gate per
KV group), intermediate [L,I], hidden [1,d]. The u of gate i of the concatenated buffer (learned types only, in
that order) at (seed, step, micro-batch) is Philox4x32-10(seed, stream 4, ((step << 20 | mb) << 24) + i), its
first two words as a 64-bit integer, top 53 bits as a uniform r in [0,1), u = eps + (1 - 2 eps) r
(include/shear/rng.h, masks.h); philox() below reimplements it independently in numpy.
"""
import math

import numpy as np
import torch

MASK_TYPES = ("layer", "head_layer", "mlp", "head", "intermediate", "hidden")
GAMMA, ZETA, BETA, EPS = -0.1, 1.1, 2.0 / 3.0, 1e-6
LOG_ALPHA_MIN, LOG_ALPHA_MAX = math.log(1e-2), math.log(1e2)
RNG_STREAM_MASK = 4


def layout(src, tgt, names):
    """{type: (rows, cols, target per row)} for the learned types, in buffer order, and their offsets."""
    L, G = src.n_layers, src.n_kv_heads
    n_rep = src.n_heads // src.n_kv_heads
    shapes = {"layer": (1, L, tgt.n_layers), "head_layer": (1, L, tgt.n_layers), "mlp": (1, L, tgt.n_layers),
              "head": (L, G, tgt.n_heads // n_rep), "intermediate": (L, src.intermediate, tgt.intermediate),
              "hidden": (1, src.dim, tgt.dim)}
    out, offsets, total = {}, {}, 0
    for t in MASK_TYPES:
        if t in names:
            out[t] = shapes[t]
            offsets[t] = total
            total += shapes[t][0] * shapes[t][1]
    return out, offsets, total


# ---------------- Philox4x32-10, numpy, vectorised over counters ----------------

def philox(seed, stream, counters):
    M = np.uint64(0xFFFFFFFF)
    ctr = np.asarray(counters, dtype=np.uint64)
    c0, c1 = ctr & M, ctr >> np.uint64(32)
    c2 = np.full_like(ctr, np.uint64(stream & 0xFFFFFFFF))
    c3 = np.full_like(ctr, np.uint64(stream >> 32))
    k0, k1 = np.uint64(seed & 0xFFFFFFFF), np.uint64(seed >> 32)
    for _ in range(10):
        p0 = np.uint64(0xD2511F53) * c0
        p1 = np.uint64(0xCD9E8D57) * c2
        n0 = (p1 >> np.uint64(32)) ^ c1 ^ k0
        n2 = (p0 >> np.uint64(32)) ^ c3 ^ k1
        c0, c1, c2, c3 = n0, p1 & M, n2, p0 & M
        k0 = (k0 + np.uint64(0x9E3779B9)) & M
        k1 = (k1 + np.uint64(0xBB67AE85)) & M
    return c0, c1, c2, c3


def mask_uniforms(seed, step, microbatch, total):
    """u [total] in [eps, 1-eps] (float64) for the gates of one micro-batch."""
    assert step < 2 ** 20 and microbatch < 2 ** 20 and total < 2 ** 24
    counter0 = ((step << 20) | microbatch) << 24
    v0, v1, _, _ = philox(seed, RNG_STREAM_MASK, np.arange(total, dtype=np.uint64) + np.uint64(counter0))
    r = (((v0 << np.uint64(32)) | v1) >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)
    return EPS + (1.0 - 2.0 * EPS) * r


# ---------------- the L0 module ----------------

def clamp_log_alpha(a):
    return a.clamp(LOG_ALPHA_MIN, LOG_ALPHA_MAX)


def sample_z(a, u):
    """Hard-concrete sample: z = hardtanh(sigmoid((log u - log(1-u) + a) / beta) (zeta - gamma) + gamma, 0, 1)."""
    y = torch.sigmoid((torch.log(u) - torch.log(1 - u) + a) / BETA)
    return torch.nn.functional.hardtanh(y * (ZETA - GAMMA) + GAMMA, min_val=0.0, max_val=1.0)


def score(a):
    """Keep probability 1 - Q0(a), Q0 = clamp(sigmoid(beta ln(-gamma/zeta) - a), eps, 1-eps)."""
    q0 = torch.sigmoid(BETA * math.log(-GAMMA / ZETA) - a).clamp(min=EPS, max=1 - EPS)
    return 1 - q0


def expected_sparsity(a):
    """[rows] 1 - sum of scores / N per row of a [rows, N]."""
    return 1 - score(a).sum(-1) / a.shape[-1]


def warmup_steps(total_steps, warmup_frac):
    return round(warmup_frac * total_steps)


def target_sparsity(keep, n, step, total_steps, warmup_frac):
    """T(step) = (1 - keep/n) * min(1, step / warmup); T when warmup == 0."""
    w = warmup_steps(total_steps, warmup_frac)
    ramp = min(1.0, step / w) if w > 0 else 1.0
    return (1.0 - keep / n) * ramp


def lagrangian(log_alpha, lambdas, shapes, step, total_steps, warmup_frac):
    """sum over types of mean over rows of l1 (sh - T) + l2 (sh - T)^2; also {type: (mean sh, T)}."""
    term, info = 0.0, {}
    for t, a in log_alpha.items():
        rows, n, keep = shapes[t]
        sh = expected_sparsity(a)
        T = target_sparsity(keep, n, step, total_steps, warmup_frac)
        l1, l2 = lambdas[t]
        term = term + (l1 * (sh - T) + l2 * (sh - T) ** 2).mean()
        info[t] = (float(sh.mean()), T)
    return term, info


def expected_params(c, scores):
    """E[#prunable params] from {type: score [rows, cols]} (types absent count as ones), GQA-aware: a KV group
    gate carries n_rep query heads: q rows and o columns of n_rep heads, k and v rows of one head, per hidden
    channel (2 n_rep + 2) head_dim parameters; an MLP channel 3 per hidden channel."""
    L, G, I, d = c.n_layers, c.n_kv_heads, c.intermediate, c.dim
    n_rep = c.n_heads // G
    dt = next(iter(scores.values())).dtype
    one = lambda shape: torch.ones(shape, dtype=dt)  # noqa: E731
    att = scores.get("layer", scores.get("head_layer", one((1, L)))).reshape(L, 1)
    mlp = scores.get("layer", scores.get("mlp", one((1, L)))).reshape(L, 1)
    head = scores.get("head", one((L, G)))
    inter = scores.get("intermediate", one((L, I)))
    hidden = scores.get("hidden", one((1, d))).reshape(d)
    per_group = (2 * n_rep + 2) * c.head_dim
    return (torch.outer(hidden, (att * head).reshape(-1)).sum() * per_group
            + torch.outer(hidden, (mlp * inter).reshape(-1)).sum() * 3)


def deterministic_row(a, k):
    """Soft values sigmoid(a / beta * 0.8) of one row, the k smallest log-alphas set to 0 (equal log-alphas: the
    higher index first)."""
    soft = torch.sigmoid(a / BETA * 0.8)
    order = sorted(range(a.shape[0]), key=lambda i: (float(a[i]), -i))
    z = soft.clone()
    for i in order[:k]:
        z[i] = 0.0
    return z


def deterministic(a, keep, exact_target):
    """Per row of a [rows, N]: k = N - keep (exact_target) or round(N - sum scores) (half to even)."""
    rows, n = a.shape
    out = []
    for r in range(rows):
        if exact_target:
            k = n - keep
        else:
            k = round(n - float(score(a[r]).sum()))
        out.append(deterministic_row(a[r], min(max(k, 0), n)))
    return torch.stack(out)
