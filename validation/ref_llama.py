"""Reference LLaMA in a page of PyTorch: the oracle that Shear's C model is checked against.

Model (shared/spec/shearing.md sections 1-2): token embedding, L blocks of
    x += o_proj(Attn(RMSNorm1(x)));  x += down(silu(gate(h)) * up(h)),  h = RMSNorm2(x)
final RMSNorm, lm_head. RoPE rotate-half exactly as Hugging Face LlamaForCausalLM, causal softmax attention
scaled by 1/sqrt(head_dim), GQA through repeat_kv (KV head j serves query heads j*n_rep..(j+1)*n_rep-1).
head_dim may differ from dim / n_heads. Parameters are a dict {Hugging Face name: tensor}, all of one dtype
(float32 or float64), so the same code serves tight float64 checks.
Families (Config.model_type; the options are independent flags, set by config_from_hf as transformers does):
    llama / mistral  the model above (Llama 3.x: tie_embeddings; Mistral: sliding_window, which this reference
                     does not compute: it refuses T > sliding_window, where windowed attention is plain causal)
    qwen2            qkv_bias: q/k/v_proj biases (o_proj none), added before RoPE
    qwen3            qk_norm: RMSNorm over head_dim of every q and k head (weights q_norm / k_norm [hd],
                     eps norm_eps) after the projection, before RoPE
    tie_embeddings   no lm_head.weight: the logits are x @ model.embed_tokens.weight^T (both uses' gradients sum)

Optional gates (the L0 masks of pruning; any subset, tensors that may require grad, except that head_layer
and mlp are the CoFi pair used in place of layer, never with it):
    layer [L]         o_proj output and down_proj output        head_layer [L]  o_proj output only
    mlp [L]           down_proj output only                      head [L, G]     attention context of all query
    intermediate [L, I]  up_proj output, before silu(gate)*up                    heads of KV group g (G = n_kv)
    hidden [d]        the three RMSNorms (variance over channels where hidden != 0, output times hidden) and
                      both branch outputs. The embedding output is not gated.
The set of channels a masked RMSNorm averages over is not differentiable: it is taken from hidden != 0 (or
from `hidden_keep` when given, which lets a finite-difference check perturb a zero gate without moving it).

GEMM precision (Shear's run.precision, shear/ops.h ShearPrecision): with GEMM_BF16 set (set_gemm_bf16), every
linear layer's product and the classifier's rounds both inputs to bf16 (round to nearest even) and multiplies in
the parameters' dtype; its backward rounds the incoming gradient too (dinp = r(g) @ r(W), dW = r(g)^T @ r(x)),
as Shear's bf16 GEMMs and PyTorch's bf16 autocast do. Attention, norms and the loss are not rounded.

Shear model file (HDF5): root attrs format = "shear-model", format_version = 1 (int32); /config int32 attrs
dim, n_layers, n_heads, n_kv_heads, head_dim, intermediate, vocab and float64 attrs rope_theta, norm_eps; with
rope_scaling: rope_type (string linear | llama3), rope_factor, rope_low_freq_factor, rope_high_freq_factor (float64),
rope_original_max_position_embeddings (int); family options, each written only when not the default (so a
LLaMA-1/2 file has none of them and reads as before): model_type (string mistral | qwen2 | qwen3; absent =
llama), tie_word_embeddings, qkv_bias, qk_norm (int32 0/1; absent = 0), sliding_window (int32; absent = 0 = none);
/weights/<Hugging Face name> float32 in param_shapes order, linear weights stored [out_features, in_features],
biases and q/k norms 1-D.
"""
import math
from dataclasses import dataclass, fields, replace

import h5py
import numpy as np
import torch
import torch.nn.functional as F

GATE_NAMES = ("layer", "head_layer", "mlp", "head", "intermediate", "hidden")


@dataclass
class Config:
    dim: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5
    rope_scaling: dict = None  # config.json's rope_scaling: None, {"rope_type": "linear" | "llama3", ...}
    model_type: str = "llama"     # config.json's model_type, one of MODEL_TYPES
    tie_embeddings: bool = False  # lm_head is model.embed_tokens.weight (no lm_head.weight tensor)
    qkv_bias: bool = False        # q/k/v_proj biases (Qwen2)
    qk_norm: bool = False         # per-head RMSNorm of q and k before RoPE (Qwen3)
    sliding_window: int = 0       # attention window, 0 = none (forward refuses T > window)

    def check(self):
        if self.n_heads % self.n_kv_heads != 0:
            raise ValueError(f"n_heads {self.n_heads} is not a multiple of n_kv_heads {self.n_kv_heads}")
        if self.head_dim % 2 != 0:
            raise ValueError(f"head_dim {self.head_dim} must be even for rotate-half RoPE")
        for f in fields(self):
            if f.name not in OPTION_FIELDS and getattr(self, f.name) <= 0:
                raise ValueError(f"config {f.name} must be positive, got {getattr(self, f.name)}")
        if self.model_type not in MODEL_TYPES:
            raise ValueError(f"config model_type {self.model_type!r} is not one of {MODEL_TYPES}")
        if int(self.sliding_window) != self.sliding_window or self.sliding_window < 0:
            raise ValueError(f"config sliding_window must be an integer >= 0, got {self.sliding_window}")


MODEL_TYPES = ("llama", "mistral", "qwen2", "qwen3")
# fields with a default that is not a size: not checked > 0, stored as optional /config attributes
OPTION_FIELDS = ("rope_scaling", "model_type", "tie_embeddings", "qkv_bias", "qk_norm", "sliding_window")
# /config attribute of each family option (tie_embeddings under config.json's name)
FAMILY_ATTRS = {"model_type": "model_type", "tie_embeddings": "tie_word_embeddings", "qkv_bias": "qkv_bias",
                "qk_norm": "qk_norm", "sliding_window": "sliding_window"}


def param_shapes(c):
    """{Hugging Face name: shape} in the order of Shear's parameter table."""
    d, hd, I = c.dim, c.head_dim, c.intermediate
    s = {"model.embed_tokens.weight": (c.vocab, d)}
    for i in range(c.n_layers):
        p = f"model.layers.{i}."
        s[p + "self_attn.q_proj.weight"] = (c.n_heads * hd, d)
        s[p + "self_attn.k_proj.weight"] = (c.n_kv_heads * hd, d)
        s[p + "self_attn.v_proj.weight"] = (c.n_kv_heads * hd, d)
        s[p + "self_attn.o_proj.weight"] = (d, c.n_heads * hd)
        s[p + "mlp.gate_proj.weight"] = (I, d)
        s[p + "mlp.up_proj.weight"] = (I, d)
        s[p + "mlp.down_proj.weight"] = (d, I)
        s[p + "input_layernorm.weight"] = (d,)
        s[p + "post_attention_layernorm.weight"] = (d,)
        if c.qkv_bias:
            s[p + "self_attn.q_proj.bias"] = (c.n_heads * hd,)
            s[p + "self_attn.k_proj.bias"] = (c.n_kv_heads * hd,)
            s[p + "self_attn.v_proj.bias"] = (c.n_kv_heads * hd,)
        if c.qk_norm:
            s[p + "self_attn.q_norm.weight"] = (hd,)
            s[p + "self_attn.k_norm.weight"] = (hd,)
    s["model.norm.weight"] = (d,)
    if not c.tie_embeddings:
        s["lm_head.weight"] = (c.vocab, d)
    return s


def head_weight(c, P):
    """The classifier [V, d]: lm_head.weight, or the embedding itself when tied."""
    return P["model.embed_tokens.weight" if c.tie_embeddings else "lm_head.weight"]


def gate_shapes(c):
    L = c.n_layers
    return {"layer": (L,), "head_layer": (L,), "mlp": (L,), "head": (L, c.n_kv_heads),
            "intermediate": (L, c.intermediate), "hidden": (c.dim,)}


def rmsnorm(x, w, eps, hidden=None, keep=None):
    # x [B,T,d], w [d]; with hidden [d]: mean of x^2 over kept channels only, output times hidden
    if hidden is None:
        return w * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
    if keep is None:
        keep = hidden.detach() != 0
    var = x[..., keep].pow(2).mean(-1, keepdim=True)
    return w * x * torch.rsqrt(var + eps) * hidden


def rope_inv_freq(hd, theta, scaling=None):
    """[hd/2] float64: transformers' rope init of rope_type default, linear (inv_freq / factor) and llama3
    (low frequencies / factor, high ones kept, the band between blended)."""
    inv_freq = 1.0 / theta ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd)    # [hd/2]
    kind = (scaling or {}).get("rope_type", (scaling or {}).get("type", "default"))
    if kind == "default":
        return inv_freq
    factor = scaling["factor"]
    if kind == "linear":
        return inv_freq / factor
    if kind != "llama3":
        raise ValueError(f"rope_type {kind!r} is not one the reference implements")
    low, high, old = scaling["low_freq_factor"], scaling["high_freq_factor"], scaling["original_max_position_embeddings"]
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > old / low, inv_freq / factor, inv_freq)
    smooth = (old / wavelen - low) / (high - low)
    blended = (1 - smooth) * scaled / factor + smooth * scaled
    medium = (wavelen >= old / high) & (wavelen <= old / low)
    return torch.where(medium, blended, scaled)


def rope_cos_sin(T, hd, theta, dtype, scaling=None):
    # computed in float64 and rounded once: the angles are the truth the C side approximates
    inv_freq = rope_inv_freq(hd, theta, scaling)                                    # [hd/2]
    freqs = torch.outer(torch.arange(T, dtype=torch.float64), inv_freq)            # [T, hd/2]
    emb = torch.cat((freqs, freqs), dim=-1)                                        # [T, hd]
    return emb.cos().to(dtype), emb.sin().to(dtype)


GEMM_BF16 = False


def set_gemm_bf16(on):
    global GEMM_BF16
    GEMM_BF16 = bool(on)


def _bf16(t):
    return t.to(torch.bfloat16).to(t.dtype)


class _MatmulBf16(torch.autograd.Function):
    """x @ w.T with both inputs, and in the backward the gradient, rounded to bf16."""

    @staticmethod
    def forward(ctx, x, w):
        xr, wr = _bf16(x), _bf16(w)
        ctx.save_for_backward(xr, wr)
        return xr @ wr.T

    @staticmethod
    def backward(ctx, g):
        xr, wr = ctx.saved_tensors
        gr = _bf16(g)
        gx = gr @ wr
        gw = (gr.reshape(-1, gr.shape[-1]).T @ xr.reshape(-1, xr.shape[-1]))
        return gx, gw


def linear(x, w):
    """x [..., C] @ w [OC, C]^T in the GEMM precision."""
    return _MatmulBf16.apply(x, w) if GEMM_BF16 else x @ w.T


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def forward(c, P, tokens, gates=None, hidden_keep=None):
    """tokens int [B,T] -> logits [B,T,V] in the dtype of the parameters P."""
    gates = gates or {}
    unknown = set(gates) - set(GATE_NAMES)
    if unknown:
        raise ValueError(f"unknown gate names {sorted(unknown)}; expected a subset of {GATE_NAMES}")
    if "layer" in gates and ("head_layer" in gates or "mlp" in gates):
        raise ValueError("gates 'head_layer'/'mlp' are used in place of 'layer', not together with it")
    B, T = tokens.shape
    if c.sliding_window and T > c.sliding_window:
        raise ValueError(f"sequence length {T} > sliding_window {c.sliding_window}: windowed attention is not "
                         "implemented (it equals causal attention only up to the window)")
    H, G, hd = c.n_heads, c.n_kv_heads, c.head_dim
    n_rep = H // G
    hid = gates.get("hidden")
    dtype = P["model.norm.weight"].dtype
    cos, sin = rope_cos_sin(T, hd, c.rope_theta, dtype, c.rope_scaling)             # [T, hd]
    causal = torch.ones(T, T, dtype=torch.bool).tril()                             # [T, T] key <= query

    x = P["model.embed_tokens.weight"][tokens.long()]                               # [B,T,d]
    for l in range(c.n_layers):
        p = f"model.layers.{l}."
        h = rmsnorm(x, P[p + "input_layernorm.weight"], c.norm_eps, hid, hidden_keep)
        q, k, v = (linear(h, P[p + f"self_attn.{n}_proj.weight"]) for n in "qkv")       # [B,T,H*hd], [B,T,G*hd] x2
        if c.qkv_bias:
            q, k, v = (t + P[p + f"self_attn.{n}_proj.bias"] for t, n in zip((q, k, v), "qkv"))
        q = q.view(B, T, H, hd).transpose(1, 2)                                    # [B,H,T,hd]
        k = k.view(B, T, G, hd).transpose(1, 2)                                    # [B,G,T,hd]
        v = v.view(B, T, G, hd).transpose(1, 2)                                    # [B,G,T,hd]
        if c.qk_norm:  # over head_dim, per head; no gate enters it
            q = rmsnorm(q, P[p + "self_attn.q_norm.weight"], c.norm_eps)
            k = rmsnorm(k, P[p + "self_attn.k_norm.weight"], c.norm_eps)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(n_rep, dim=1)                                      # [B,H,T,hd] repeat_kv
        v = v.repeat_interleave(n_rep, dim=1)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(hd)                              # [B,H,T,T]
        s = s.masked_fill(~causal, float("-inf"))
        ctx = s.softmax(dim=-1) @ v                                                # [B,H,T,hd]
        if "head" in gates:
            ctx = ctx * gates["head"][l].repeat_interleave(n_rep).view(1, H, 1, 1)
        a = linear(ctx.transpose(1, 2).reshape(B, T, H * hd), P[p + "self_attn.o_proj.weight"])   # [B,T,d]
        for name in ("layer", "head_layer"):
            if name in gates:
                a = a * gates[name][l]
        if hid is not None:
            a = a * hid
        x = x + a

        h = rmsnorm(x, P[p + "post_attention_layernorm.weight"], c.norm_eps, hid, hidden_keep)
        g = linear(h, P[p + "mlp.gate_proj.weight"])                                   # [B,T,I]
        u = linear(h, P[p + "mlp.up_proj.weight"])                                     # [B,T,I]
        if "intermediate" in gates:
            u = u * gates["intermediate"][l]
        m = linear(F.silu(g) * u, P[p + "mlp.down_proj.weight"])                     # [B,T,d]
        for name in ("layer", "mlp"):
            if name in gates:
                m = m * gates[name][l]
        if hid is not None:
            m = m * hid
        x = x + m
    x = rmsnorm(x, P["model.norm.weight"], c.norm_eps, hid, hidden_keep)
    return linear(x, head_weight(c, P))                                               # [B,T,V]


def lm_loss(logits, targets):
    """Mean cross-entropy over scored positions (targets != -1)."""
    V = logits.shape[-1]
    return F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1).long(), ignore_index=-1)


def loss_and_grads(c, P, tokens, targets, gates=None):
    """(logits, loss, {name: d loss/d weight}, {gate name: d loss/d gate}) with fresh leaf copies."""
    W = {n: t.detach().clone().requires_grad_(True) for n, t in P.items()}
    Z = {n: t.detach().clone().requires_grad_(True) for n, t in (gates or {}).items()}
    logits = forward(c, W, tokens, Z)
    loss = lm_loss(logits, targets)
    loss.backward()
    return (logits.detach(), loss.detach(), {n: t.grad for n, t in W.items()},
            {n: t.grad for n, t in Z.items()})


def train(c, P, tokens, targets, lr, betas, eps, weight_decay, grad_clip, steps, gates=None):
    """The parity training loop: `steps` AdamW steps on one fixed batch, gates held constant.
    Each step: zero grads; mean loss backward; clip_grad_norm_ over all parameters (torch: coefficient
    min(1, clip / (norm + 1e-6))); AdamW (torch: p *= 1 - lr*wd, then the bias-corrected Adam step with
    eps added to sqrt(v_hat)), weight decay on 2-D tensors only, constant lr.
    Returns (step losses [steps], grad norms before clipping [steps], final parameters)."""
    W = {n: t.detach().clone().requires_grad_(True) for n, t in P.items()}
    Z = {n: t.detach() for n, t in (gates or {}).items()}
    groups = [{"params": [t for t in W.values() if t.dim() == 2], "weight_decay": weight_decay},
              {"params": [t for t in W.values() if t.dim() != 2], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps, foreach=False)
    step_loss, grad_norm = [], []
    for _ in range(steps):
        opt.zero_grad(set_to_none=False)
        loss = lm_loss(forward(c, W, tokens, Z), targets)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(list(W.values()), grad_clip)
        opt.step()
        step_loss.append(loss.item())
        grad_norm.append(norm.item())
    return np.array(step_loss), np.array(grad_norm), {n: t.detach() for n, t in W.items()}


def fold_and_slice(c, P, gates):
    """Finalization (shearing.md section 4) in reference form: fold every gate value into the weights once,
    drop what is gated to exactly 0, return (Config, params) of the dense model whose logits equal
    forward(c, P, tokens, gates). Rows must keep equal counts (KV groups, MLP channels) so the result is a
    standard LLaMA shape; raises ValueError otherwise. Family tensors: q/k/v biases are sliced with their rows
    (the head gate folded into v_proj scales v's bias too); q_norm / k_norm act per head over head_dim and are
    kept whole; a tied model slices its one embedding (columns) and has no lm_head. The Config keeps the family."""
    L, H, G, hd, d = c.n_layers, c.n_heads, c.n_kv_heads, c.head_dim, c.dim
    n_rep = H // G
    dt = P["model.norm.weight"].dtype

    def one(name, shape):
        return gates[name].detach().to(dt) if name in gates else torch.ones(shape, dtype=dt)
    layer, head_layer, mlp = one("layer", (L,)), one("head_layer", (L,)), one("mlp", (L,))
    head, inter, hidden = one("head", (L, G)), one("intermediate", (L, c.intermediate)), one("hidden", (d,))
    kd = torch.nonzero(hidden != 0).flatten()                                      # kept residual channels
    hk = hidden[kd]
    Q = {"model.embed_tokens.weight": P["model.embed_tokens.weight"][:, kd],
         "model.norm.weight": P["model.norm.weight"][kd] * hk}
    if not c.tie_embeddings:
        Q["lm_head.weight"] = P["lm_head.weight"][:, kd]
    kept_layers, n_groups, n_inter = [], set(), set()
    for l in range(L):
        a_scale, m_scale = layer[l] * head_layer[l], layer[l] * mlp[l]
        if a_scale == 0 and m_scale == 0:
            continue
        kg = torch.nonzero(head[l] != 0).flatten()                                  # kept KV groups
        ki = torch.nonzero(inter[l] != 0).flatten()                                 # kept MLP channels
        if a_scale == 0 or m_scale == 0 or len(kg) == 0 or len(ki) == 0:
            raise ValueError(f"layer {l}: one branch is gated off entirely but not the other")
        n_groups.add(len(kg))
        n_inter.add(len(ki))
        kh = (kg[:, None] * n_rep + torch.arange(n_rep)).flatten()                  # their query heads
        rows_q = (kh[:, None] * hd + torch.arange(hd)).flatten()
        rows_kv = (kg[:, None] * hd + torch.arange(hd)).flatten()
        p, n = f"model.layers.{l}.", f"model.layers.{len(kept_layers)}."
        kept_layers.append(l)
        v_scale = head[l][kg].repeat_interleave(hd)[:, None]                         # head gate -> v rows
        Q[n + "self_attn.q_proj.weight"] = P[p + "self_attn.q_proj.weight"][rows_q][:, kd]
        Q[n + "self_attn.k_proj.weight"] = P[p + "self_attn.k_proj.weight"][rows_kv][:, kd]
        Q[n + "self_attn.v_proj.weight"] = P[p + "self_attn.v_proj.weight"][rows_kv][:, kd] * v_scale
        Q[n + "self_attn.o_proj.weight"] = (P[p + "self_attn.o_proj.weight"][kd][:, rows_q]
                                            * (hk * a_scale)[:, None])
        Q[n + "mlp.gate_proj.weight"] = P[p + "mlp.gate_proj.weight"][ki][:, kd]
        Q[n + "mlp.up_proj.weight"] = P[p + "mlp.up_proj.weight"][ki][:, kd] * inter[l][ki][:, None]
        Q[n + "mlp.down_proj.weight"] = P[p + "mlp.down_proj.weight"][kd][:, ki] * (hk * m_scale)[:, None]
        Q[n + "input_layernorm.weight"] = P[p + "input_layernorm.weight"][kd] * hk
        Q[n + "post_attention_layernorm.weight"] = P[p + "post_attention_layernorm.weight"][kd] * hk
        if c.qkv_bias:
            Q[n + "self_attn.q_proj.bias"] = P[p + "self_attn.q_proj.bias"][rows_q]
            Q[n + "self_attn.k_proj.bias"] = P[p + "self_attn.k_proj.bias"][rows_kv]
            Q[n + "self_attn.v_proj.bias"] = P[p + "self_attn.v_proj.bias"][rows_kv] * v_scale[:, 0]
        if c.qk_norm:
            Q[n + "self_attn.q_norm.weight"] = P[p + "self_attn.q_norm.weight"].clone()
            Q[n + "self_attn.k_norm.weight"] = P[p + "self_attn.k_norm.weight"].clone()
    if len(n_groups) > 1 or len(n_inter) > 1:
        raise ValueError(f"kept KV groups per layer {sorted(n_groups)} or MLP channels {sorted(n_inter)} differ")
    if not kept_layers:
        raise ValueError("every layer is gated off")
    g_t = n_groups.pop()
    ct = replace(c, dim=len(kd), n_layers=len(kept_layers), n_heads=g_t * n_rep, n_kv_heads=g_t,
                 intermediate=n_inter.pop())                                       # family fields kept
    return ct, {name: Q[name] for name in param_shapes(ct)}                        # in table order


def _attr_str(v):
    return v.decode("ascii") if isinstance(v, (bytes, np.bytes_)) else str(v)


def load_model(path, dtype=torch.float64):
    """(Config, {name: tensor of dtype}) from a Shear model file; raises ValueError naming what is wrong."""
    with h5py.File(path, "r") as f:
        fmt = _attr_str(f.attrs.get("format", ""))
        if fmt != "shear-model":
            raise ValueError(f"{path}: root attribute format is '{fmt}', expected 'shear-model'")
        if int(f.attrs.get("format_version", -1)) != 1:
            raise ValueError(f"{path}: format_version {f.attrs.get('format_version')} is not 1")
        if "config" not in f or "weights" not in f:
            raise ValueError(f"{path}: missing group /config or /weights")
        a = f["config"].attrs
        kw = {}
        for fl in fields(Config):
            if fl.name in OPTION_FIELDS:
                continue
            if fl.name not in a:
                raise ValueError(f"{path}: /config has no attribute {fl.name}")
            kw[fl.name] = float(a[fl.name]) if fl.type is float else int(a[fl.name])
        for name, attr in FAMILY_ATTRS.items():  # optional: absent = the default (LLaMA-1/2)
            if attr in a:
                v = a[attr]
                kw[name] = _attr_str(v) if name == "model_type" else int(v)
                if isinstance(Config.__dataclass_fields__[name].default, bool):
                    if kw[name] not in (0, 1):
                        raise ValueError(f"{path}: /config attribute {attr} is {kw[name]}, expected 0 or 1")
                    kw[name] = bool(kw[name])
        if "rope_type" in a:  # rope_scaling, as config.json writes it
            s = {"rope_type": _attr_str(a["rope_type"]), "factor": float(a["rope_factor"])}
            if s["rope_type"] == "llama3":
                s.update(low_freq_factor=float(a["rope_low_freq_factor"]),
                         high_freq_factor=float(a["rope_high_freq_factor"]),
                         original_max_position_embeddings=int(a["rope_original_max_position_embeddings"]))
            kw["rope_scaling"] = s
        c = Config(**kw)
        c.check()
        P = {}
        for name, shape in param_shapes(c).items():
            key = "weights/" + name
            if key not in f:
                raise ValueError(f"{path}: missing dataset /{key}")
            arr = f[key][()]
            if tuple(arr.shape) != shape:
                raise ValueError(f"{path}: /{key} has shape {arr.shape}, expected {shape}")
            P[name] = torch.from_numpy(np.asarray(arr, dtype=np.float32)).to(dtype)
    return c, P


def write_model(f, c, P):
    """Writes the Shear model layout into an open h5py.File (weights rounded to float32)."""
    write_config(f, c)
    w = f.create_group("weights")
    for name, shape in param_shapes(c).items():
        arr = P[name].detach().cpu().numpy().astype(np.float32)
        assert arr.shape == shape, (name, arr.shape, shape)
        w.create_dataset(name, data=arr)


def write_config(f, c):
    """The root attributes and /config of a Shear model file (all a run reads before it allocates)."""
    f.attrs["format"] = np.bytes_("shear-model")
    f.attrs["format_version"] = np.int32(1)
    g = f.create_group("config")
    for fl in fields(Config):
        v = getattr(c, fl.name)
        if fl.name == "rope_scaling":
            if v and v.get("rope_type", v.get("type")) not in (None, "default"):
                g.attrs["rope_type"] = np.bytes_(v.get("rope_type", v.get("type")))
                g.attrs["rope_factor"] = np.float64(v["factor"])
                for k in ("low_freq_factor", "high_freq_factor"):
                    if k in v:
                        g.attrs["rope_" + k] = np.float64(v[k])
                if "original_max_position_embeddings" in v:
                    g.attrs["rope_original_max_position_embeddings"] = np.int32(v["original_max_position_embeddings"])
            continue
        if fl.name in FAMILY_ATTRS:
            if v != fl.default:  # only what differs from LLaMA-1/2: such files stay as they were
                g.attrs[FAMILY_ATTRS[fl.name]] = np.bytes_(v) if fl.name == "model_type" else np.int32(v)
            continue
        g.attrs[fl.name] = np.float64(v) if fl.type is float else np.int32(v)


def save_model(path, c, P):
    with h5py.File(path, "w") as f:
        write_model(f, c, P)
