"""safetensors read/write in a page of Python (the `safetensors` package is not installed): the format is an
8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}}, then the bytes.
Also: Hugging Face folders of the validation model (config.json, shards + index, a tiny tokenizer.json) in the
families llama (Llama 1-3.x), mistral, qwen2 (Qwen2 / Qwen2.5) and qwen3, as transformers writes and reads them."""
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "validation"))
import ref_llama  # noqa: E402

TORCH = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}
SIZE = {"F32": 4, "F16": 2, "BF16": 2, "I32": 4, "I64": 8, "F64": 8}


def tensor_bytes(t, dtype):
    t = t.detach().to(TORCH[dtype]).contiguous()
    if dtype == "BF16":
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def bytes_tensor(raw, dtype, shape):
    if dtype == "BF16":
        a = np.frombuffer(raw, dtype=np.int16).copy()
        return torch.from_numpy(a).view(torch.bfloat16).reshape(shape)
    npt = {"F32": np.float32, "F16": np.float16}[dtype]
    return torch.from_numpy(np.frombuffer(raw, dtype=npt).copy()).reshape(shape)


def write_raw(path, entries, metadata=None, pad=True):
    """entries: list of (name, dtype, shape, raw bytes) in file order."""
    header, blobs, off = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in entries:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    hj = json.dumps(header).encode()
    if pad:
        hj += b" " * (-len(hj) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)


def write(path, tensors, dtype, order=None):
    """tensors {name: tensor}; all written in dtype; order: names in file order (default sorted, as HF)."""
    order = order or sorted(tensors)
    write_raw(path, [(n, dtype, tuple(tensors[n].shape), tensor_bytes(tensors[n], dtype)) for n in order],
              metadata={"format": "pt"})


def read(path):
    """{name: (dtype, shape, raw bytes)} and the metadata, checking the layout like a strict reader."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", None)
    body = data[8 + n:]
    out, spans = {}, []
    for name, e in header.items():
        b, en = e["data_offsets"]
        numel = int(np.prod(e["shape"])) if e["shape"] else 1
        assert en - b == numel * SIZE[e["dtype"]], (path, name)
        out[name] = (e["dtype"], tuple(e["shape"]), body[b:en])
        spans.append((b, en))
    spans.sort()
    at = 0
    for b, en in spans:
        assert b == at, (path, "hole or overlap at", at)
        at = en
    assert at == len(body), (path, "data region not covered")
    return out, meta


def read_folder(d):
    """{name: (dtype, shape, raw)} over model.safetensors or the index's shards, and the parsed config."""
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    single = os.path.join(d, "model.safetensors")
    if os.path.exists(single):
        return read(single)[0], cfg
    with open(os.path.join(d, "model.safetensors.index.json")) as f:
        wm = json.load(f)["weight_map"]
    out = {}
    for shard in sorted(set(wm.values())):
        t, meta = read(os.path.join(d, shard))
        assert meta.get("format") == "pt", shard
        for name in t:
            assert wm[name] == shard, (name, shard)
        out.update(t)
    assert set(out) == set(wm)
    return out, cfg


ARCH = {"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM", "qwen2": "Qwen2ForCausalLM",
        "qwen3": "Qwen3ForCausalLM"}
QWEN = ("qwen2", "qwen3")
# Qwen2Config's default sliding_window: transformers before 4.48 serialized it even with use_sliding_window false
# (Qwen2.5 checkpoints hold such an unused value, e.g. 32768); newer versions, and Qwen3Config, write null.
QWEN2_UNUSED_WINDOW = 4096


def default_head_dim(cfg):
    """head_dim as transformers takes it when config.json lacks it: Qwen3Config's default is 128, the others
    use hidden_size / num_attention_heads."""
    if cfg.get("head_dim"):
        return cfg["head_dim"]
    return 128 if cfg.get("model_type") == "qwen3" else cfg["hidden_size"] // cfg["num_attention_heads"]


def sliding_window_of(cfg):
    """The attention window transformers applies (0 = none): Mistral's whenever set; Qwen's only with
    use_sliding_window, on the layers from max_window_layers on (the reference takes any such layer as all)."""
    mt = cfg.get("model_type", "llama")
    w = cfg.get("sliding_window") or 0
    if mt in QWEN:
        used = cfg.get("use_sliding_window", False) and cfg.get("max_window_layers", 28) < cfg["num_hidden_layers"]
        return w if used else 0
    return w if mt == "mistral" else 0


def config_from_hf(cfg):
    mt = cfg.get("model_type", "llama")
    return ref_llama.Config(dim=cfg["hidden_size"], n_layers=cfg["num_hidden_layers"],
                            n_heads=cfg["num_attention_heads"],
                            n_kv_heads=cfg.get("num_key_value_heads", cfg["num_attention_heads"]),
                            head_dim=default_head_dim(cfg),
                            intermediate=cfg["intermediate_size"], vocab=cfg["vocab_size"],
                            rope_theta=float(cfg.get("rope_theta", 10000.0)),
                            norm_eps=float(cfg.get("rms_norm_eps", 1e-6)),
                            rope_scaling=cfg.get("rope_scaling"), model_type=mt,
                            tie_embeddings=bool(cfg.get("tie_word_embeddings", False)),
                            qkv_bias=mt == "qwen2", qk_norm=mt == "qwen3", sliding_window=sliding_window_of(cfg))


def load_folder(d, dtype=torch.float64):
    """(ref Config, {name: tensor}) of a Hugging Face folder, the way transformers would see it."""
    t, cfg = read_folder(d)
    c = config_from_hf(cfg)
    shapes = ref_llama.param_shapes(c)
    assert set(shapes) <= set(t), sorted(set(shapes) - set(t))
    return c, {n: bytes_tensor(t[n][2], t[n][0], t[n][1]).to(dtype) for n in shapes}


def hf_config(c, torch_dtype, **extra):
    """config.json of the family c.model_type with the keys its transformers configuration class serializes
    (the ones that decide the model; initializer_range, attention_dropout and the like left out)."""
    mt = c.model_type
    if (mt == "qwen2") != bool(c.qkv_bias) or (mt == "qwen3") != bool(c.qk_norm):
        raise ValueError(f"model_type {mt} with qkv_bias {c.qkv_bias}, qk_norm {c.qk_norm}: no such family")
    if c.sliding_window and mt not in ("mistral",) + QWEN:
        raise ValueError(f"model_type {mt} has no sliding_window")
    cfg = {"architectures": [ARCH[mt]], "model_type": mt, "hidden_size": c.dim,
           "intermediate_size": c.intermediate, "num_attention_heads": c.n_heads,
           "num_key_value_heads": c.n_kv_heads, "num_hidden_layers": c.n_layers, "vocab_size": c.vocab,
           "rms_norm_eps": c.norm_eps, "rope_theta": c.rope_theta, "max_position_embeddings": 2048,
           "hidden_act": "silu", "tie_word_embeddings": bool(c.tie_embeddings), "rope_scaling": c.rope_scaling,
           "torch_dtype": torch_dtype, "bos_token_id": 1, "eos_token_id": 2, "use_cache": True}
    if mt == "qwen3" or c.head_dim * c.n_heads != c.dim:  # Qwen3Config always has it (default 128)
        cfg["head_dim"] = c.head_dim
    if mt == "llama":
        cfg.update(attention_bias=False, mlp_bias=False, pretraining_tp=1)
    elif mt == "mistral":
        cfg["sliding_window"] = c.sliding_window or None
    else:
        if mt == "qwen3":
            cfg["attention_bias"] = False  # Qwen3's attention_bias would put biases on q/k/v/o; Qwen2's are fixed
        unused = QWEN2_UNUSED_WINDOW if mt == "qwen2" else None
        # a window: every layer windowed (max_window_layers = number of leading full-attention layers)
        cfg.update(use_sliding_window=bool(c.sliding_window), sliding_window=c.sliding_window or unused,
                   max_window_layers=0 if c.sliding_window else c.n_layers)
    cfg.update(extra)
    return cfg


WORDS = ["the", "in", "at", "then", "than", "thin", "a", "an"]


def tokenizer_json():
    """A small SentencePiece-style BPE with byte fallback that Shear's tokenizer reads: 259 special/byte
    pieces, the letters, a few merges (291 pieces)."""
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab["<0x%02X>" % b] = 3 + b
    for p in ["\u2581"] + [chr(ord("a") + i) for i in range(26)]:
        vocab[p] = len(vocab)
    merges = [("\u2581", "t"), ("h", "e"), ("\u2581t", "he"), ("\u2581", "a"), ("i", "n")]
    for a, b in merges:
        vocab[a + b] = len(vocab)
    return {"version": "1.0",
            "added_tokens": [{"id": i, "content": s, "special": True} for i, s in enumerate(["<unk>", "<s>", "</s>"])],
            "normalizer": {"type": "Sequence", "normalizers": [
                {"type": "Prepend", "prepend": "\u2581"},
                {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
            "pre_tokenizer": None,
            "model": {"type": "BPE", "unk_token": "<unk>", "byte_fallback": True, "vocab": vocab,
                      "merges": [a + " " + b for a, b in merges]}}


TOKENIZER_VOCAB = 291


def text(seed, words=600):
    g = np.random.default_rng(seed)
    out = []
    for _ in range(words):
        if g.random() < 0.5:
            out.append(WORDS[g.integers(len(WORDS))])
        else:
            out.append("".join(chr(ord("a") + int(x)) for x in g.integers(0, 26, g.integers(1, 7))))
    return " ".join(out) + ".\n"


def eval_loss(c, P, ids, T):
    """Mean loss over the windows `shear eval --text` scores: consecutive windows of T ids (BOS first), the
    trailing partial window dropped unless it is the only one; a window of n ids scores n - 1 predictions."""
    n = len(ids)
    wl, nw = (n, 1) if n < T else (T, n // T)
    tok = torch.tensor(ids[:wl * nw], dtype=torch.long).view(nw, wl)
    logits = ref_llama.forward(c, P, tok[:, :-1])
    return ref_llama.lm_loss(logits, tok[:, 1:]).item()
