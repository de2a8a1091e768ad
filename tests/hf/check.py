"""Checks of the hf tests (each prints what it compared and exits non-zero on a mismatch):
  check.py loss HF_DIR IDS.jsonl EVAL.json T     `shear eval --json` loss == the PyTorch reference (float64) on
                                                 the folder's weights, same windows; relative 1e-5
  check.py same HF_A HF_B MAX_SHARD             tensor data byte-identical per name and dtype, same shape
                                                 config, tokenizer.json identical; HF_B sharded as MAX_SHARD
                                                 (--max-shard-size) asks
  check.py export MODEL.h5 HF_DIR DTYPE MAX_SHARD  HF_DIR's tensors are MODEL.h5's float32 weights converted
                                                 to DTYPE by torch (round to nearest even), config.json is the
                                                 model's shape (head_dim explicit) and family (model_type,
                                                 architectures, tie_word_embeddings, biases / q-k norms as
                                                 tensors, window), sharded as MAX_SHARD asks
The config.json keys of `same` (SHAPE_KEYS) are compared as transformers reads them (key_value): a key that
is absent means the family's default, a key the family ignores compares as None.
"""
import dataclasses
import json
import os
import sys

import numpy as np
import torch

import st
import ref_llama

REL_TOL = 1e-5


def fail(msg):
    print("FAIL " + msg)
    sys.exit(1)


def cmd_loss(hf_dir, ids_path, eval_path, T):
    c, P = st.load_folder(hf_dir, torch.float64)
    with open(ids_path) as f:
        ids = json.loads(f.readline())
    with open(eval_path) as f:
        ev = json.load(f)
    if ev["text_tokens"] != len(ids):
        fail(f"shear eval saw {ev['text_tokens']} tokens, shear tokenize gave {len(ids)}")
    ref = st.eval_loss(c, P, ids, int(T))
    rel = abs(ev["loss"] - ref) / abs(ref)
    print(f"loss: shear eval {ev['loss']:.10f}  PyTorch float64 {ref:.10f}  relative difference {rel:.2e} "
          f"({ev['windows']} windows of {ev['window_len']}, tolerance {REL_TOL:g})")
    if not rel <= REL_TOL:
        fail("loss differs")


def shard_files(d):
    return sorted(f for f in os.listdir(d) if f.endswith(".safetensors"))


UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30}


def expected_shards(c, sizes, max_shard):
    """Greedy in Shear's table order, as transformers shards: a new shard when the next tensor would not fit."""
    num = max_shard.rstrip("BbKkMmGgIi")
    limit = float(num) * UNITS[max_shard[len(num):].upper()]
    n, cur = 1, 0
    for name in ref_llama.param_shapes(c):
        if cur > 0 and cur + sizes[name] > limit:
            n, cur = n + 1, 0
        cur += sizes[name]
    return n


def check_sharding(d, c, t, max_shard):
    n_files = len(shard_files(d))
    want = expected_shards(c, {n: len(v[2]) for n, v in t.items()}, max_shard)
    if n_files != want:
        fail(f"{d} has {n_files} safetensors files; --max-shard-size {max_shard} gives {want}")
    if n_files > 1 and os.path.exists(os.path.join(d, "model.safetensors")):
        fail(f"{d}: a stale model.safetensors next to shards")
    return n_files


SHAPE_KEYS = ["hidden_size", "intermediate_size", "num_attention_heads", "num_key_value_heads", "num_hidden_layers",
              "vocab_size", "rms_norm_eps", "rope_theta", "rope_scaling", "head_dim", "model_type", "architectures",
              "tie_word_embeddings", "attention_bias", "mlp_bias", "sliding_window", "use_sliding_window",
              "max_window_layers"]


def key_value(cfg, k):
    """config.json's value of k as transformers reads it: the family's default where the key is absent (where the
    family's configuration has the key), and None for what the family ignores (Qwen's sliding_window and
    max_window_layers without use_sliding_window; keys the family does not have)."""
    mt = cfg.get("model_type", "llama")
    qwen = mt in st.QWEN
    if k == "head_dim":
        return st.default_head_dim(cfg)
    if k == "model_type":
        return mt
    if k == "architectures":
        return cfg.get(k, [st.ARCH.get(mt)])
    if k in ("sliding_window", "max_window_layers"):
        if mt == "mistral" and k == "sliding_window":
            return cfg.get(k)
        return cfg.get(k, {"sliding_window": 4096, "max_window_layers": 28}[k]) \
            if qwen and cfg.get("use_sliding_window") else None
    family_has = {"tie_word_embeddings": True, "attention_bias": mt in ("llama", "qwen3"), "mlp_bias": mt == "llama",
                  "use_sliding_window": qwen}
    if k in family_has:
        return cfg.get(k, False) if family_has[k] else None
    return cfg.get(k)


def cmd_same(a, b, max_shard):
    ta, ca = st.read_folder(a)
    tb, cb = st.read_folder(b)
    ta = {n: v for n, v in ta.items() if not n.endswith("rotary_emb.inv_freq")}
    if set(ta) != set(tb):
        fail(f"tensor names differ: only in {a}: {sorted(set(ta) - set(tb))[:5]}, only in {b}: {sorted(set(tb) - set(ta))[:5]}")
    nbytes = 0
    for n in sorted(ta):
        if ta[n][:2] != tb[n][:2]:
            fail(f"{n}: {ta[n][:2]} in {a}, {tb[n][:2]} in {b}")
        if ta[n][2] != tb[n][2]:
            fail(f"{n}: tensor bytes differ")
        nbytes += len(ta[n][2])
    for k in SHAPE_KEYS:
        if key_value(ca, k) != key_value(cb, k):
            fail(f"config.json {k}: {ca.get(k, '(absent)')} vs {cb.get(k, '(absent)')}: "
                 f"{key_value(ca, k)} vs {key_value(cb, k)} as transformers reads them")
    if st.config_from_hf(ca) != st.config_from_hf(cb):
        fail("configs describe different models")
    if ca.get("max_position_embeddings") != cb.get("max_position_embeddings"):
        fail("max_position_embeddings not kept")
    with open(os.path.join(a, "tokenizer.json"), "rb") as f1, open(os.path.join(b, "tokenizer.json"), "rb") as f2:
        if f1.read() != f2.read():
            fail("tokenizer.json differs")
    with open(os.path.join(b, "generation_config.json")) as f:
        g = json.load(f)
    if (g.get("bos_token_id"), g.get("eos_token_id")) != (1, 2):
        fail("generation_config.json bos/eos")
    n_files = check_sharding(b, st.config_from_hf(cb), tb, max_shard)
    print(f"same: {len(ta)} tensors, {nbytes} bytes of tensor data byte-identical, dtypes "
          f"{sorted(set(v[0] for v in tb.values()))}, {n_files} shard file(s)")


def as_f32(c):
    """Shear keeps rope_theta and rms_norm_eps as float32: the model file's 9.99999975e-06 is config.json's 1e-05."""
    return dataclasses.replace(c, rope_theta=float(np.float32(c.rope_theta)), norm_eps=float(np.float32(c.norm_eps)))


def cmd_export(model, hf_dir, dtype, max_shard):
    cm, Pm = ref_llama.load_model(model, torch.float32)
    t, cfg = st.read_folder(hf_dir)
    if as_f32(st.config_from_hf(cfg)) != as_f32(cm):
        fail(f"config.json describes {st.config_from_hf(cfg)}, the model file {cm}")
    if cfg.get("head_dim") != cm.head_dim:
        fail(f"config.json head_dim {cfg.get('head_dim')}, expected {cm.head_dim} written explicitly")
    torch_dtype = {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[dtype]
    if cfg.get("torch_dtype") != torch_dtype or cfg.get("tie_word_embeddings") is not bool(cm.tie_embeddings):
        fail(f"config.json torch_dtype {cfg.get('torch_dtype')} / tie_word_embeddings {cfg.get('tie_word_embeddings')}"
             f"; expected {torch_dtype} / {bool(cm.tie_embeddings)}")
    if cfg.get("model_type") != cm.model_type or cfg.get("architectures") != [st.ARCH[cm.model_type]]:
        fail(f"config.json model_type {cfg.get('model_type')} / architectures {cfg.get('architectures')}; the model "
             f"file is a {cm.model_type} ({st.ARCH[cm.model_type]})")
    if set(t) != set(Pm):
        fail(f"tensor names differ from the model file: {sorted(set(t) ^ set(Pm))[:5]}")
    for n, w in Pm.items():
        want = st.tensor_bytes(w, dtype)
        if t[n][0] != dtype or t[n][1] != tuple(w.shape) or t[n][2] != want:
            fail(f"{n}: exported {t[n][:2]}, bytes {'equal' if t[n][2] == want else 'differ'}; expected {dtype} "
                 f"{tuple(w.shape)} equal to torch's conversion")
    n_files = check_sharding(hf_dir, cm, t, max_shard)
    print(f"export: {len(t)} tensors are torch's {dtype} conversion of the model file, byte for byte; "
          f"head_dim {cm.head_dim} explicit (hidden {cm.dim}, {cm.n_heads} heads); {cm.model_type}"
          f"{', tied' if cm.tie_embeddings else ''}; {n_files} shard file(s)")


if __name__ == "__main__":
    cmds = {"loss": (cmd_loss, 4), "same": (cmd_same, 3), "export": (cmd_export, 4)}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds or len(sys.argv) != 2 + cmds[sys.argv[1]][1]:
        print(__doc__)
        sys.exit(2)
    cmds[sys.argv[1]][0](*sys.argv[2:])
