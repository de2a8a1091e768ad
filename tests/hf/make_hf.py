"""make_hf.py WORK [shape options] --dtype F32|F16|BF16 --shards K --seed S [--inv-freq] [--rope-theta X]
  [--rope-scaling JSON] [--family F] [--tie] [--sliding-window N]
Writes WORK/hf: a Hugging Face folder of random validation-model weights (config.json, model.safetensors
or K shards + model.safetensors.index.json, tokenizer.json), WORK/text.txt and WORK/text.jsonl (for
`shear tokenize`). Tensors are stored in sorted-name order, not Shear's table order, as transformers does.
--family (config.json as the family's transformers configuration class writes it, see st.hf_config):
  llama        LlamaForCausalLM (default; attention_bias / mlp_bias false)
  llama3-tied  llama with tie_word_embeddings true: no lm_head.weight tensor (Llama 3.2 1B / 3B)
  mistral      MistralForCausalLM; sliding_window null, or N with --sliding-window N
  qwen2        Qwen2ForCausalLM: q/k/v_proj biases; use_sliding_window false with Qwen2Config's unused
               sliding_window 4096, max_window_layers = layers (--sliding-window N: true, N, 0)
  qwen3        Qwen3ForCausalLM: q_norm / k_norm weights [head_dim], head_dim explicit, attention_bias false,
               use_sliding_window false, sliding_window null (--sliding-window N as qwen2)
--tie: tie_word_embeddings true for any family (no lm_head.weight). The random weights of a llama folder are
those of before the families (same seed, same tensors).
make_hf.py WORK --text-only --seed S: only the text files and WORK/tokenizer.json."""
import argparse
import json
import os

import numpy as np
import torch

import st
import ref_llama


def random_params(c, seed):
    g = torch.Generator().manual_seed(seed)
    P = {}
    for name, shape in ref_llama.param_shapes(c).items():
        if name.endswith(".bias"):  # big enough that a missing or misplaced bias moves the loss
            P[name] = 0.1 * torch.randn(shape, generator=g, dtype=torch.float64)
        elif len(shape) == 1:       # RMSNorm weights, q_norm / k_norm included
            P[name] = 1 + 0.2 * torch.randn(shape, generator=g, dtype=torch.float64)
        else:
            P[name] = 0.3 / np.sqrt(shape[1]) * 4 * torch.randn(shape, generator=g, dtype=torch.float64)
    return {n: t.float() for n, t in P.items()}


def write_folder(d, c, P, dtype, shards, extra=None, inv_freq=False):
    os.makedirs(d, exist_ok=True)
    torch_dtype = {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[dtype]
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(st.hf_config(c, torch_dtype, **(extra or {})), f, indent=2)
    T = dict(P)
    if inv_freq:  # what older transformers versions saved as buffers
        inv = ref_llama.rope_inv_freq(c.head_dim, c.rope_theta, c.rope_scaling)
        for l in range(c.n_layers):
            T[f"model.layers.{l}.self_attn.rotary_emb.inv_freq"] = inv.float()
    names = sorted(T)
    if shards == 1:
        st.write(os.path.join(d, "model.safetensors"), T, dtype, names)
    else:
        parts = np.array_split(np.array(names, dtype=object), shards)
        wm = {}
        for k, part in enumerate(parts):
            fn = "model-%05d-of-%05d.safetensors" % (k + 1, shards)
            st.write(os.path.join(d, fn), T, dtype, list(part))
            wm.update({n: fn for n in part})
        total = sum(len(st.tensor_bytes(T[n], dtype)) for n in names)
        with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": wm}, f, indent=2)
    with open(os.path.join(d, "tokenizer.json"), "w") as f:
        json.dump(st.tokenizer_json(), f, ensure_ascii=False)


def write_text(work, seed):
    t = st.text(seed)
    with open(os.path.join(work, "text.txt"), "w") as f:
        f.write(t)
    with open(os.path.join(work, "text.jsonl"), "w") as f:
        f.write(json.dumps({"text": t}) + "\n")


def shape_args(ap):
    for k, v in [("dim", 32), ("layers", 2), ("heads", 4), ("kv-heads", 4), ("head-dim", 8), ("intermediate", 64),
                 ("vocab", st.TOKENIZER_VOCAB)]:
        ap.add_argument("--" + k, type=int, default=v)


FAMILIES = ("llama", "llama3-tied", "mistral", "qwen2", "qwen3")


def config_of(a):
    mt = "llama" if a.family == "llama3-tied" else a.family
    if a.sliding_window and mt == "llama":
        raise SystemExit("make_hf.py: --sliding-window needs --family mistral, qwen2 or qwen3")
    c = ref_llama.Config(dim=a.dim, n_layers=a.layers, n_heads=a.heads, n_kv_heads=a.kv_heads, head_dim=a.head_dim,
                         intermediate=a.intermediate, vocab=a.vocab, rope_theta=a.rope_theta, norm_eps=1e-5,
                         rope_scaling=json.loads(a.rope_scaling) if a.rope_scaling else None, model_type=mt,
                         tie_embeddings=a.tie or a.family == "llama3-tied", qkv_bias=mt == "qwen2",
                         qk_norm=mt == "qwen3", sliding_window=a.sliding_window)
    c.check()
    return c


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("work")
    shape_args(ap)
    ap.add_argument("--dtype", default="F32", choices=["F32", "F16", "BF16"])
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--inv-freq", action="store_true")
    ap.add_argument("--rope-theta", type=float, default=10000.0)
    ap.add_argument("--rope-scaling", default="", help="config.json's rope_scaling as JSON (default: null)")
    ap.add_argument("--family", default="llama", choices=FAMILIES)
    ap.add_argument("--tie", action="store_true", help="tie_word_embeddings true (no lm_head.weight)")
    ap.add_argument("--sliding-window", type=int, default=0, help="mistral/qwen attention window (default: none)")
    ap.add_argument("--text-only", action="store_true")
    a = ap.parse_args()
    if a.text_only:
        os.makedirs(a.work, exist_ok=True)
        with open(os.path.join(a.work, "tokenizer.json"), "w") as f:
            json.dump(st.tokenizer_json(), f, ensure_ascii=False)
        write_text(a.work, a.seed)
        return
    c = config_of(a)
    write_folder(os.path.join(a.work, "hf"), c, random_params(c, a.seed), a.dtype, a.shards, inv_freq=a.inv_freq)
    write_text(a.work, a.seed)


if __name__ == "__main__":
    main()
