"""Reference generation for `shear generate`, on validation/ref_llama.py's model: greedy continuation without a
cache (the whole sequence through ref_llama.forward at every step, float64) and with its own KV cache (one new
token per step, the keys and values of earlier positions kept, in the dtype asked for). Also the tiny random
models and the timing the tests and the benchmark use.

  ref_generate.py make MODEL.h5 --vocab V [--seed S] [--std X] [--eos-like ID] [--shape D,L,H,HKV,HD,I]
          a random model (default GQA, head_dim 16 != dim / heads); --eos-like ID: lm_head row 2 (the EOS of
          LLaMA-2 tokenizers) := 1.01 x row ID, so EOS wins wherever ID would
  ref_generate.py greedy MODEL.h5 IDS.jsonl MAX_NEW EOS [--cache] [--dtype float32|float64]
          IDS.jsonl: one JSON array of prompt ids per line; prints one JSON array of new ids per line (EOS ends a
          sequence and is not printed)
  ref_generate.py forced MODEL.h5 IDS.jsonl NEW.jsonl [--precision bf16]
          teacher forcing on another generator's greedy ids: prompt i of IDS.jsonl, then the ids of line i of
          NEW.jsonl one at a time through the KV cache, in float64 and float32 at once; prints one JSON object per
          line: per step the float64 argmax, the float64 margin max - logit[new id] (0 when the new id is the
          argmax) and the largest |float64 - float32| logit difference (the rounding noise of two correct
          implementations of the same arithmetic); --precision bf16: every linear layer's inputs rounded to bf16
          (Shear's bf16 GEMMs, ref_llama.set_gemm_bf16)
  ref_generate.py bench MODEL.h5 IDS.json NEW [--threads N] [--rounds R]
          decode tokens/s of the cached reference (float32) after the prompt IDS.json (a JSON array), greedy, NEW
          tokens, best of R rounds, as JSON
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_llama as R  # noqa: E402


def make(path, vocab, seed, std, eos_like, shape=None):
    if shape:  # "dim,n_layers,n_heads,n_kv_heads,head_dim,intermediate"
        d, L, H, G, hd, I = (int(x) for x in shape.split(","))
        c = R.Config(dim=d, n_layers=L, n_heads=H, n_kv_heads=G, head_dim=hd, intermediate=I, vocab=vocab)
    else:
        c = R.Config(dim=48, n_layers=3, n_heads=6, n_kv_heads=2, head_dim=16, intermediate=80, vocab=vocab)
    g = torch.Generator().manual_seed(seed)
    P = {}
    for name, shape in R.param_shapes(c).items():
        if len(shape) == 1:
            P[name] = 1.0 + 0.1 * torch.randn(shape, generator=g, dtype=torch.float64)
        else:
            P[name] = std * torch.randn(shape, generator=g, dtype=torch.float64)
    if eos_like is not None:
        P["lm_head.weight"][2] = 1.01 * P["lm_head.weight"][eos_like]
    R.save_model(path, c, P)


def rope_at(x, pos, hd, theta):
    """x [H, n, hd] at positions pos [n] (RoPE of ref_llama, float64 angles rounded once)."""
    inv_freq = 1.0 / theta ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd)
    freqs = torch.outer(pos.to(torch.float64), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return x * emb.cos().to(x.dtype) + R.rotate_half(x) * emb.sin().to(x.dtype)


class Cached:
    """The model with a KV cache: feed(tokens) runs tokens at the next positions and returns the last logits."""

    def __init__(self, c, P):
        self.c, self.P, self.k, self.v, self.len = c, P, [None] * c.n_layers, [None] * c.n_layers, 0

    def feed(self, tokens):
        c, P = self.c, self.P
        n, H, G, hd = len(tokens), c.n_heads, c.n_kv_heads, c.head_dim
        pos = torch.arange(self.len, self.len + n)
        x = P["model.embed_tokens.weight"][torch.tensor(tokens)]                           # [n, d]
        for l in range(c.n_layers):
            p = f"model.layers.{l}."
            h = R.rmsnorm(x, P[p + "input_layernorm.weight"], c.norm_eps)
            q = R.linear(h, P[p + "self_attn.q_proj.weight"]).view(n, H, hd).transpose(0, 1)  # [H, n, hd]
            k = R.linear(h, P[p + "self_attn.k_proj.weight"]).view(n, G, hd).transpose(0, 1)  # [G, n, hd]
            v = R.linear(h, P[p + "self_attn.v_proj.weight"]).view(n, G, hd).transpose(0, 1)
            q, k = rope_at(q, pos, hd, c.rope_theta), rope_at(k, pos, hd, c.rope_theta)
            self.k[l] = k if self.k[l] is None else torch.cat((self.k[l], k), dim=1)      # [G, len + n, hd]
            self.v[l] = v if self.v[l] is None else torch.cat((self.v[l], v), dim=1)
            kk = self.k[l].repeat_interleave(H // G, dim=0)                                # [H, len + n, hd]
            vv = self.v[l].repeat_interleave(H // G, dim=0)
            s = (q @ kk.transpose(-1, -2)) / math.sqrt(hd)                                 # [H, n, len + n]
            allowed = torch.arange(self.len + n)[None, :] <= pos[:, None]                   # [n, len + n]
            s = s.masked_fill(~allowed, float("-inf"))
            ctx = (s.softmax(-1) @ vv).transpose(0, 1).reshape(n, H * hd)
            x = x + R.linear(ctx, P[p + "self_attn.o_proj.weight"])
            h = R.rmsnorm(x, P[p + "post_attention_layernorm.weight"], c.norm_eps)
            g = R.linear(h, P[p + "mlp.gate_proj.weight"])
            u = R.linear(h, P[p + "mlp.up_proj.weight"])
            x = x + R.linear(F.silu(g) * u, P[p + "mlp.down_proj.weight"])
        self.len += n
        x = R.rmsnorm(x[-1:], P["model.norm.weight"], c.norm_eps)
        return R.linear(x, P["lm_head.weight"])[0]                                         # [V]


def greedy(c, P, prompt, max_new, eos, cache):
    ids, new = list(prompt), []
    gen = Cached(c, P) if cache else None
    logits = gen.feed(ids) if cache else R.forward(c, P, torch.tensor([ids]))[0, -1]
    for _ in range(max_new):
        nxt = int(torch.argmax(logits))  # the first maximal index on ties, as Shear's sample_argmax
        if nxt == eos:
            break
        new.append(nxt)
        ids.append(nxt)
        if len(new) == max_new:
            break
        logits = gen.feed([nxt]) if cache else R.forward(c, P, torch.tensor([ids]))[0, -1]
    return new


def forced(path, prompt, new):
    models = [Cached(*R.load_model(path, dt)) for dt in (torch.float64, torch.float32)]
    argmax, margin, noise = [], [], []
    logits = [g.feed(list(prompt)) for g in models]
    for t in new:
        l64, l32 = logits[0], logits[1].to(torch.float64)
        argmax.append(int(torch.argmax(l64)))
        margin.append(float(l64.max() - l64[t]))
        noise.append(float((l64 - l32).abs().max()))
        logits = [g.feed([t]) for g in models]
    return {"argmax": argmax, "margin": margin, "noise": noise}


def bench(path, ids_path, new, threads, rounds):
    torch.set_num_threads(threads)
    c, P = R.load_model(path, torch.float32)
    prompt = json.load(open(ids_path))
    best = float("inf")
    with torch.no_grad():
        for _ in range(rounds):
            gen = Cached(c, P)
            logits = gen.feed(prompt)
            t0 = time.perf_counter()
            for _ in range(new):
                logits = gen.feed([int(torch.argmax(logits))])
            best = min(best, time.perf_counter() - t0)
    print(json.dumps({"decode_tokens_per_s": new / best, "threads": threads, "prompt_len": len(prompt), "new": new,
                      "torch": torch.__version__}))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("model")
    m.add_argument("--vocab", type=int, required=True)
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--std", type=float, default=0.3)
    m.add_argument("--eos-like", type=int)
    m.add_argument("--shape", help="dim,n_layers,n_heads,n_kv_heads,head_dim,intermediate (default 48,3,6,2,16,80)")
    g = sub.add_parser("greedy")
    g.add_argument("model")
    g.add_argument("ids")
    g.add_argument("max_new", type=int)
    g.add_argument("eos", type=int)
    g.add_argument("--cache", action="store_true")
    g.add_argument("--dtype", choices=("float32", "float64"), default="float64")
    t = sub.add_parser("forced")
    t.add_argument("model")
    t.add_argument("ids")
    t.add_argument("new")
    t.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    b = sub.add_parser("bench")
    b.add_argument("model")
    b.add_argument("ids")
    b.add_argument("new", type=int)
    b.add_argument("--threads", type=int, default=1)
    b.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    if a.cmd == "make":
        make(a.model, a.vocab, a.seed, a.std, a.eos_like, a.shape)
    elif a.cmd == "greedy":
        c, P = R.load_model(a.model, getattr(torch, a.dtype))
        with torch.no_grad(), open(a.ids) as f:
            for line in f:
                print(json.dumps(greedy(c, P, json.loads(line), a.max_new, a.eos, a.cache)))
    elif a.cmd == "forced":
        R.set_gemm_bf16(a.precision == "bf16")
        with torch.no_grad(), open(a.ids) as f, open(a.new) as g:
            for line, new in zip(f, g):
                print(json.dumps(forced(a.model, json.loads(line), json.loads(new))))
    else:
        bench(a.model, a.ids, a.new, a.threads, a.rounds)


if __name__ == "__main__":
    main()
