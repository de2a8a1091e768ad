#!/usr/bin/env python3
"""PyTorch LLaMA training throughput: the baseline that Shear's `train` / `prune` tokens/s are compared with.

The architecture of validation/ref_llama.py (RMSNorm, RoPE rotate-half, GQA through repeat_kv, SwiGLU, untied
lm_head, no biases) as an nn.Module, trained with AdamW on random tokens. One step = forward + backward +
AdamW step on one micro-batch of --batch sequences of --seq tokens. Attention is
F.scaled_dot_product_attention(is_causal=True) where torch has it (2.0+), else an explicit causal softmax.

--dtype bf16: torch.autocast to bfloat16 with fp32 weights, gradients and AdamW state (ordinary mixed precision);
--dtype fp32: everything fp32, TF32 matmuls OFF (what Shear's CUDA backend computes in: fp32 cuBLAS, TF32 off).

Timing: --warmup untimed steps, then --steps timed steps (each ended by a device synchronize); tok_s is from the
fastest timed step, tok_s_median from the median. FLOPs per token are include/shear/flops.h's
    6 P + 12 L H hd T,   P = L (2 H hd d + 2 Hkv hd d + 3 d I) + V d   (matmul weights; full T x T attention)
so tflops = tok_s x that / 1e12 matches Shear's `tflops` field. Peak memory: torch.cuda.max_memory_allocated
on cuda, the process's max RSS on cpu. Prints one JSON line; on out-of-memory the line has "error" and exit 3.

usage: torch_llama_bench.py [--dim 2048 --layers 24 --heads 16 --kv-heads 16 --intermediate 5504 --vocab 32000]
                            [--batch 1 --seq 4096 --steps 5 --warmup 2 --dtype bf16|fp32 --device cuda|cpu]
"""
import argparse
import json
import math
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--dim", type=int, default=2048)
ap.add_argument("--layers", type=int, default=24)
ap.add_argument("--heads", type=int, default=16)
ap.add_argument("--kv-heads", type=int, default=0, help="0 = --heads (MHA)")
ap.add_argument("--head-dim", type=int, default=0, help="0 = dim / heads")
ap.add_argument("--intermediate", type=int, default=5504)
ap.add_argument("--vocab", type=int, default=32000)
ap.add_argument("--batch", type=int, default=1, help="sequences per step (micro-batch)")
ap.add_argument("--seq", type=int, default=4096, help="tokens per sequence")
ap.add_argument("--steps", type=int, default=5, help="timed steps")
ap.add_argument("--warmup", type=int, default=2, help="untimed steps before them")
ap.add_argument("--dtype", choices=["bf16", "fp32"], default="bf16")
ap.add_argument("--device", choices=["cuda", "cpu"], default="cuda" if torch.cuda.is_available() else "cpu")
ap.add_argument("--threads", type=int, default=0, help="cpu threads; 0 = torch's default")
ap.add_argument("--seed", type=int, default=1234)
a = ap.parse_args()

kv = a.kv_heads or a.heads
hd = a.head_dim or (a.dim // a.heads if a.dim % a.heads == 0 else 0)
for name, v in (("dim", a.dim), ("layers", a.layers), ("heads", a.heads), ("intermediate", a.intermediate),
                ("vocab", a.vocab), ("batch", a.batch), ("seq", a.seq), ("steps", a.steps)):
    if v <= 0:
        sys.exit(f"torch_llama_bench: --{name} must be positive, got {v}")
if a.heads % kv != 0:
    sys.exit(f"torch_llama_bench: --heads {a.heads} is not a multiple of --kv-heads {kv}")
if hd <= 0 or hd % 2 != 0:
    sys.exit(f"torch_llama_bench: head_dim must be a positive even number (dim {a.dim} / heads {a.heads} "
             f"or --head-dim), got {hd}")
if a.device == "cuda" and not torch.cuda.is_available():
    sys.exit("torch_llama_bench: --device cuda but torch sees no CUDA device (torch.cuda.is_available() is False)")
if a.threads > 0:
    torch.set_num_threads(a.threads)
dev = torch.device(a.device)
torch.manual_seed(a.seed)
if a.device == "cuda":
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32 (bf16 autocast is unaffected)
    torch.backends.cudnn.allow_tf32 = False
HAVE_SDPA = hasattr(F, "scaled_dot_product_attention")


class RMSNorm(torch.nn.Module):
    def __init__(self, d, eps=1e-5):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):  # x [B,T,d]; the variance in fp32 as ref_llama / Hugging Face
        xf = x.float()
        return (self.w * (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps))).to(x.dtype)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        lin = lambda i, o: torch.nn.Linear(i, o, bias=False)  # noqa: E731
        self.n1, self.n2 = RMSNorm(a.dim), RMSNorm(a.dim)
        self.q, self.k, self.v = lin(a.dim, a.heads * hd), lin(a.dim, kv * hd), lin(a.dim, kv * hd)
        self.o = lin(a.heads * hd, a.dim)
        self.gate, self.up, self.down = lin(a.dim, a.intermediate), lin(a.dim, a.intermediate), lin(a.intermediate, a.dim)

    def forward(self, x, cos, sin):  # x [B,T,d], cos/sin [T,hd]
        B, T, _ = x.shape
        h = self.n1(x)
        q = self.q(h).view(B, T, a.heads, hd).transpose(1, 2)  # [B,H,T,hd]
        k = self.k(h).view(B, T, kv, hd).transpose(1, 2)       # [B,Hkv,T,hd]
        v = self.v(h).view(B, T, kv, hd).transpose(1, 2)       # [B,Hkv,T,hd]
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if kv != a.heads:  # repeat_kv: KV head j serves query heads j*n_rep..(j+1)*n_rep-1
            k = k.repeat_interleave(a.heads // kv, dim=1)
            v = v.repeat_interleave(a.heads // kv, dim=1)
        if HAVE_SDPA:
            ctx = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # [B,H,T,hd]
        else:
            s = (q @ k.transpose(-1, -2)) / math.sqrt(hd)                 # [B,H,T,T]
            causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
            ctx = s.masked_fill(~causal, float("-inf")).softmax(dim=-1) @ v
        x = x + self.o(ctx.transpose(1, 2).reshape(B, T, a.heads * hd))
        h = self.n2(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class Llama(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(a.vocab, a.dim)
        self.blocks = torch.nn.ModuleList(Block() for _ in range(a.layers))
        self.norm = RMSNorm(a.dim)
        self.head = torch.nn.Linear(a.dim, a.vocab, bias=False)  # untied from embed
        for p in self.parameters():
            if p.dim() == 2:
                torch.nn.init.normal_(p, std=0.02)
        inv = 1.0 / 10000.0 ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd)      # [hd/2]
        emb = torch.outer(torch.arange(a.seq, dtype=torch.float64), inv).repeat(1, 2)  # [T,hd]
        self.register_buffer("cos", emb.cos().float(), persistent=False)
        self.register_buffer("sin", emb.sin().float(), persistent=False)

    def forward(self, tokens):  # tokens [B,T] -> logits [B,T,V]
        x = self.embed(tokens)
        for b in self.blocks:
            x = b(x, self.cos, self.sin)
        return self.head(self.norm(x))


P = a.layers * (2 * a.heads * hd * a.dim + 2 * kv * hd * a.dim + 3 * a.dim * a.intermediate) + a.vocab * a.dim
flops_per_token = 6.0 * P + 12.0 * a.layers * a.heads * hd * a.seq
result = {"bench": "torch_llama", "torch": torch.__version__, "device": a.device,
          "device_name": torch.cuda.get_device_name() if a.device == "cuda" else "cpu",
          "dtype": a.dtype, "precision": ("bf16 autocast, fp32 weights/grads/AdamW" if a.dtype == "bf16"
                                          else "fp32, TF32 off"),
          "attention": "sdpa(is_causal)" if HAVE_SDPA else "explicit softmax",
          "dim": a.dim, "layers": a.layers, "heads": a.heads, "kv_heads": kv, "head_dim": hd,
          "intermediate": a.intermediate, "vocab": a.vocab, "batch": a.batch, "seq": a.seq,
          "params_matmul": P, "flops_per_token": flops_per_token, "threads": torch.get_num_threads()}


def sync():
    if a.device == "cuda":
        torch.cuda.synchronize()


def peak_mem_gib():
    if a.device == "cuda":
        return torch.cuda.max_memory_allocated() / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def main():
    model = Llama().to(dev)
    kw = {"lr": 1e-4, "betas": (0.9, 0.95), "eps": 1e-8, "weight_decay": 0.0}
    opt = None
    if a.device == "cuda":
        try:  # the fused kernel where this torch has it (2.0+): the fastest AdamW torch offers
            opt = torch.optim.AdamW(model.parameters(), fused=True, **kw)
        except (TypeError, RuntimeError):
            opt = None
    if opt is None:
        opt = torch.optim.AdamW(model.parameters(), **kw)
    gen = torch.Generator().manual_seed(a.seed)
    times = []
    loss = None
    for i in range(a.warmup + a.steps):
        tok = torch.randint(0, a.vocab, (a.batch, a.seq + 1), generator=gen).to(dev)  # [B,T+1]
        sync()
        t0 = time.perf_counter()
        with torch.autocast(device_type=a.device, dtype=torch.bfloat16, enabled=(a.dtype == "bf16")):
            logits = model(tok[:, :-1])                                                 # [B,T,V]
        loss = F.cross_entropy(logits.float().reshape(-1, a.vocab), tok[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        del logits
        sync()
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
    tokens = a.batch * a.seq
    best, med = min(times), statistics.median(times)
    result.update({"steps": a.steps, "warmup": a.warmup, "step_s_best": best, "step_s_median": med,
                   "tok_s": tokens / best, "tok_s_median": tokens / med,
                   "tflops": tokens / best * flops_per_token / 1e12,
                   "tflops_median": tokens / med * flops_per_token / 1e12,
                   "peak_mem_gib": peak_mem_gib(),
                   "peak_mem_kind": "cuda max_memory_allocated" if a.device == "cuda" else "process max RSS",
                   "final_loss": float(loss)})


try:
    main()
except RuntimeError as e:  # torch.cuda.OutOfMemoryError is a RuntimeError; CPU allocation failures too
    if "out of memory" not in str(e).lower() and "can't allocate memory" not in str(e).lower():
        raise
    result.update({"error": "out of memory", "detail": str(e).splitlines()[0][:300], "peak_mem_gib": peak_mem_gib()})
    print(json.dumps(result), flush=True)
    sys.exit(3)
print(json.dumps(result), flush=True)
