"""errors.py SHEAR WORK: every corrupt or unsupported input gives exit status 1 (2 for bad options) and one
message naming the problem, and never leaves an output model file behind.
Each case is a good Hugging Face folder (make_hf.write_folder) with one defect planted."""
import json
import os
import shutil
import struct
import subprocess
import sys

import h5py
import numpy as np
import torch

import make_hf
import ref_llama
import st

SHEAR, WORK = sys.argv[1], sys.argv[2]
# vocab 300: the folders carry st.py's 291-token tokenizer.json, and import refuses a tokenizer larger than vocab_size
C = ref_llama.Config(dim=16, n_layers=2, n_heads=4, n_kv_heads=2, head_dim=4, intermediate=24, vocab=300)
P = make_hf.random_params(C, 5)
Q = "model.layers.0.self_attn.q_proj.weight"
results = []


def folder(name, dtype="F32", shards=1, extra=None, inv_freq=False):
    d = os.path.join(WORK, name)
    shutil.rmtree(d, ignore_errors=True)
    make_hf.write_folder(d, C, P, dtype, shards, extra, inv_freq)
    return d


def header_of(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + n]), data[8 + n:]


def rewrite(path, header, body, pad=True):
    hj = json.dumps(header).encode()
    hj += b" " * (-len(hj) % 8 if pad else 0)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)) + hj + body)


def run(name, args, code, expect):
    p = subprocess.run([SHEAR] + args, capture_output=True, text=True)
    out = p.stdout + p.stderr
    ok = p.returncode == code and expect in out
    results.append(ok)
    print(f"{'ok  ' if ok else 'FAIL'} {name}: exit {p.returncode}, {'found' if expect in out else 'MISSING'} "
          f"'{expect}'" + ("" if ok else "\n     " + out.strip().replace("\n", "\n     ")))
    return p


def bad_import(name, d, expect):
    out = os.path.join(WORK, name + ".h5")
    if os.path.exists(out):
        os.remove(out)
    run(name, ["import", "--from", d, "--out", out], 1, expect)
    for left in (out, out + ".tmp"):
        if os.path.exists(left):
            results.append(False)
            print(f"FAIL {name}: {left} was left behind")


def single(d):
    return os.path.join(d, "model.safetensors")


# ---- corrupt safetensors ----
d = folder("truncated")
with open(single(d), "r+b") as f:
    f.truncate(os.path.getsize(single(d)) - 100)
bad_import("truncated", d, "(truncated file?)")

d = folder("header_length_past_eof")
with open(single(d), "r+b") as f:
    f.write(struct.pack("<Q", os.path.getsize(single(d))))
bad_import("header_length_past_eof", d, "exceeds the")

d = folder("too_short")
with open(single(d), "wb") as f:
    f.write(b"\x05\x00")
bad_import("too_short", d, "too short for the 8-byte header length")

d = folder("not_json")
h, body = header_of(single(d))
with open(single(d), "wb") as f:
    f.write(struct.pack("<Q", 16) + b"{\"a\": [1, 2,, }" + b" " + body)
bad_import("not_json", d, "header is not valid JSON")

d = folder("shape_lies")  # header claims a bigger tensor than its bytes
h, body = header_of(single(d))
h[Q]["shape"] = [C.n_heads * C.head_dim + 1, C.dim]
rewrite(single(d), h, body)
bad_import("shape_lies", d, f"tensor '{Q}': F32 shape")

d = folder("dtype_lies")  # F32 bytes labelled F16
h, body = header_of(single(d))
h[Q]["dtype"] = "F16"
rewrite(single(d), h, body)
bad_import("dtype_lies", d, "header lies about sizes or dtype?")

d = folder("overlap")
h, body = header_of(single(d))
names = sorted((e["data_offsets"][0], n) for n, e in h.items() if n != "__metadata__")
a, b = names[1][1], names[2][1]
sz = h[b]["data_offsets"][1] - h[b]["data_offsets"][0]
h[b]["data_offsets"] = [h[a]["data_offsets"][0], h[a]["data_offsets"][0] + sz]  # b on top of a
rewrite(single(d), h, body)
bad_import("overlap", d, "overlaps the tensor before it")

d = folder("hole")
h, body = header_of(single(d))
for n, e in h.items():
    if n != "__metadata__":
        e["data_offsets"] = [e["data_offsets"][0] + 8, e["data_offsets"][1] + 8]
rewrite(single(d), h, b"\0" * 8 + body)
bad_import("hole", d, "belong to no tensor")

d = folder("trailing_bytes")
with open(single(d), "ab") as f:
    f.write(b"\0" * 12)
bad_import("trailing_bytes", d, "trailing garbage?")

d = folder("duplicate_name")
h, body = header_of(single(d))
hj = json.dumps(h)
entry = json.dumps(h[Q])
hj = hj[:-1] + ", " + json.dumps(Q) + ": " + entry + "}"  # the same key twice (JSON allows it, safetensors not)
raw = hj.encode()
with open(single(d), "wb") as f:
    f.write(struct.pack("<Q", len(raw)) + raw + body)
bad_import("duplicate_name", d, "appears twice")

d = folder("int_dtype")
h, body = header_of(single(d))
h[Q]["dtype"] = "I32"  # same size as F32: the layout is valid, the dtype is not a weight dtype
rewrite(single(d), h, body)
bad_import("int_dtype", d, "has dtype I32; expected F32, F16 or BF16")

d = folder("unknown_dtype")
h, body = header_of(single(d))
h[Q]["dtype"] = "F12"
rewrite(single(d), h, body)
bad_import("unknown_dtype", d, "unknown dtype \"F12\"")

d = folder("unknown_tensor")
t = {n: (("F32", tuple(v.shape), st.tensor_bytes(v, "F32"))) for n, v in P.items()}
t["model.layers.0.self_attn.q_proj.bias"] = ("F32", (16,), st.tensor_bytes(torch.zeros(16), "F32"))
st.write_raw(single(d), [(n,) + v for n, v in sorted(t.items())], metadata={"format": "pt"})
bad_import("unknown_tensor", d, "tensor 'model.layers.0.self_attn.q_proj.bias' is not a weight")

d = folder("missing_tensor")
st.write(single(d), {n: v for n, v in P.items() if n != "lm_head.weight"}, "F32")
bad_import("missing_tensor", d, "tensor 'lm_head.weight' is missing")

d = folder("shape_vs_config", extra={"intermediate_size": 20})
bad_import("shape_vs_config", d, "down_proj.weight' has shape [16, 24], but config.json gives [16, 20]")

d = folder("non_finite")
Pn = dict(P)
Pn[Q] = P[Q].clone()
Pn[Q][1, 2] = float("nan")
st.write(single(d), Pn, "F32")
bad_import("non_finite", d, "holds a non-finite value at element")

d = folder("inv_freq_scaled", inv_freq=True)
h, body = header_of(single(d))
for n in list(h):
    if n.endswith("inv_freq"):
        b0, b1 = h[n]["data_offsets"]
        v = np.frombuffer(body[b0:b1], np.float32) / 4  # linear RoPE scaling baked into the buffer
        body = body[:b0] + v.tobytes() + body[b1:]
rewrite(single(d), h, body)
bad_import("inv_freq_scaled", d, "with rope_type default gives")

d = folder("no_weights")
os.remove(single(d))
bad_import("no_weights", d, "has neither model.safetensors nor model.safetensors.index.json")

d = folder("no_config")
os.remove(os.path.join(d, "config.json"))
bad_import("no_config", d, "has no config.json")

# ---- sharded ----
d = folder("missing_shard", shards=2)
os.remove(os.path.join(d, "model-00002-of-00002.safetensors"))
bad_import("missing_shard", d, "shard '" + os.path.join(d, "model-00002-of-00002.safetensors") + "' named in")

d = folder("index_wrong_shard", shards=2)
ip = os.path.join(d, "model.safetensors.index.json")
ix = json.load(open(ip))
first = sorted(ix["weight_map"])[0]
ix["weight_map"][first] = "model-00002-of-00002.safetensors"
json.dump(ix, open(ip, "w"))
bad_import("index_wrong_shard", d, f"puts tensor '{first}' in 'model-00002-of-00002.safetensors', which does not hold it")

d = folder("index_unlisted", shards=2)
ix = json.load(open(ip := os.path.join(d, "model.safetensors.index.json")))
del ix["weight_map"]["lm_head.weight"]
json.dump(ix, open(ip, "w"))
bad_import("index_unlisted", d, "holds tensor 'lm_head.weight' but")

d = folder("index_not_json", shards=2)
with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
    f.write('{"weight_map": {"a": ')
bad_import("index_not_json", d, "model.safetensors.index.json': not valid JSON")

d = folder("index_path_escape", shards=2)
ix = json.load(open(ip := os.path.join(d, "model.safetensors.index.json")))
ix["weight_map"]["lm_head.weight"] = "../model-00002-of-00002.safetensors"
json.dump(ix, open(ip, "w"))
bad_import("index_path_escape", d, "expected a plain file name in the same folder")

# ---- unsupported configs: each names its key ----
for i, (key, value, expect) in enumerate([
        ("rope_scaling", {"type": "dynamic", "factor": 2.0}, "key 'rope_scaling'"),
        ("rope_scaling", {"rope_type": "yarn", "factor": 4.0}, "key 'rope_scaling'"),
        ("rope_scaling", {"rope_type": "linear"}, "key 'rope_scaling.factor' must be a number"),
        ("rope_scaling", {"rope_type": "linear", "factor": 0.5}, "rope_scaling factor must be a finite number >= 1"),
        ("rope_scaling", {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0},
         "key 'rope_scaling.original_max_position_embeddings' must be a number"),
        ("rope_scaling", {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 4.0, "high_freq_factor": 1.0,
                          "original_max_position_embeddings": 64}, "low_freq_factor < high_freq_factor"),
        ("attention_bias", True, "key 'attention_bias' is true"),
        ("mlp_bias", True, "key 'mlp_bias' is true"),
        ("tie_word_embeddings", True, "differs from model.embed_tokens.weight"),  # the folder has its own lm_head
        ("tie_word_embeddings", "yes", "key 'tie_word_embeddings' must be true or false"),
        ("architectures", ["MistralForCausalLM"], "key 'architectures'"),  # with model_type llama
        ("model_type", "mixtral", "key 'model_type'"),
        ("model_type", "qwen2_moe", "key 'model_type'"),
        ("num_experts", 8, "mixture-of-experts models are not supported"),
        ("moe_intermediate_size", 64, "mixture-of-experts models are not supported"),
        ("hidden_act", "gelu", "key 'hidden_act'"),
        ("quantization_config", {"quant_method": "gptq"}, "key 'quantization_config'"),
        ("num_key_value_heads", 3, "n_kv_heads must divide"),
        ("hidden_size", 16.5, "key 'hidden_size' must be a positive integer"),
        ("rms_norm_eps", -1, "key 'rms_norm_eps' must be a positive number"),
        ("eos_token_id", [2, "</s>"], "key 'eos_token_id' must be a token id"),
        ("eos_token_id", -1, "key 'eos_token_id' must be a token id"),
        ("bos_token_id", 1.5, "key 'bos_token_id' must be a token id")]):
    bad_import(f"config_{i}_{key}", folder(f"config_{i}_{key}", extra={key: value}), expect)
# ---- families whose tensors or options do not match: each names what is wrong ----
for name, extra, expect in [
        ("qwen2_without_biases", {"model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"]},
         "tensor 'model.layers.0.self_attn.q_proj.bias' is missing"),
        ("qwen3_without_norms", {"model_type": "qwen3", "architectures": ["Qwen3ForCausalLM"], "head_dim": 4},
         "tensor 'model.layers.0.self_attn.q_norm.weight' is missing"),
        # Qwen3Config's head_dim defaults to 128 (not hidden / heads): the 4-wide heads then do not fit
        ("qwen3_default_head_dim", {"model_type": "qwen3", "architectures": ["Qwen3ForCausalLM"]},
         "has shape [8, 16], but config.json gives [256, 16]"),
        ("qwen3_attention_bias", {"model_type": "qwen3", "architectures": ["Qwen3ForCausalLM"], "attention_bias": True},
         "key 'attention_bias' is true"),
        ("qwen3_sliding_layers", {"model_type": "qwen3", "architectures": ["Qwen3ForCausalLM"],
                                  "use_sliding_window": True, "sliding_window": 8,
                                  "layer_types": ["sliding_attention", "full_attention"]}, "key 'layer_types'"),
        ("mistral_bad_window", {"model_type": "mistral", "architectures": ["MistralForCausalLM"], "sliding_window": -4},
         "key 'sliding_window' must be a positive integer"),
        ("model_type_vs_architectures", {"model_type": "qwen2", "architectures": ["LlamaForCausalLM"]},
         "Shear imports Qwen2ForCausalLM")]:
    bad_import(name, folder(name, extra=extra), expect)
# a model whose tensors mention biases it does not have (an untied llama with q_proj.bias added)
d = os.path.join(WORK, "llama_with_bias")
shutil.rmtree(d, ignore_errors=True)
make_hf.write_folder(d, C, dict(P, **{"model.layers.0.self_attn.q_proj.bias": torch.zeros(C.n_heads * C.head_dim)}),
                     "F32", 1)
bad_import("llama_with_bias", d, "tensor 'model.layers.0.self_attn.q_proj.bias' is not a weight of the llama model")
# a tokenizer with more tokens than the embedding has rows
d = folder("tokenizer_too_big")
cfg = json.load(open(os.path.join(d, "config.json")))
cfg["vocab_size"] = 200
json.dump(cfg, open(os.path.join(d, "config.json"), "w"))
bad_import("tokenizer_too_big", d, "has 291 tokens but config.json's vocab_size is 200")
# a Mistral window shorter than the evaluated sequences: imported, then refused where the length is known
d = folder("mistral_window", extra={"model_type": "mistral", "architectures": ["MistralForCausalLM"], "sliding_window": 16})
mw = os.path.join(WORK, "mistral_window.h5")
run("mistral_window_import", ["import", "--from", d, "--out", mw], 0, "import:")
with open(os.path.join(WORK, "mistral_window.txt"), "w") as f:
    f.write(make_hf.st.text(3))
run("mistral_window_eval", ["eval", "--model", mw, "--tokenizer", os.path.join(WORK, "mistral_window.tokenizer.json"), "--text", os.path.join(WORK, "mistral_window.txt"), "--seq-len", "32"],
    1, "sequences of 32 tokens are longer than the model's sliding_window (16)")

d = folder("generation_config_bad")
with open(os.path.join(d, "generation_config.json"), "w") as f:
    f.write('{"eos_token_id": [[2]]}')
bad_import("generation_config_nested_eos", d, "generation_config.json': key 'eos_token_id' must be a token id")
with open(os.path.join(d, "generation_config.json"), "w") as f:
    f.write('{"eos_token_id": [2,')
bad_import("generation_config_not_json", d, "generation_config.json' is not a JSON object")
d = folder("config_missing_key")
cfg = json.load(open(os.path.join(d, "config.json")))
del cfg["num_hidden_layers"]
json.dump(cfg, open(os.path.join(d, "config.json"), "w"))
bad_import("config_missing_key", d, "key 'num_hidden_layers' is missing")

# ---- accepted: rope_scaling null / default, inv_freq buffers that agree with rope_theta ----
good = os.path.join(WORK, "good.h5")
run("inv_freq_and_default_rope", ["import", "--from", folder("good", extra={"rope_scaling": {"rope_type": "default"}},
                                                              inv_freq=True), "--out", good], 0, "import:")

# ---- export ----
run("export_bad_dtype", ["export", "--model", good, "--out", os.path.join(WORK, "x"), "--dtype", "fp8"], 2, "--dtype 'fp8'")
run("export_bad_size", ["export", "--model", good, "--out", os.path.join(WORK, "x"), "--max-shard-size", "5XB"], 2,
    "--max-shard-size '5XB'")
run("export_not_model", ["export", "--model", os.path.join(WORK, "good", "config.json"), "--out", os.path.join(WORK, "x")],
    1, "not a readable HDF5 file")
big = os.path.join(WORK, "big.h5")
shutil.copyfile(good, big)
with h5py.File(big, "r+") as f:
    w = f["weights/" + Q]
    v = w[()]
    v[0, 3] = 1e5
    w[...] = v
    del w.attrs["checksum"]  # edited on purpose: unverified, as a file from another tool
run("export_f16_overflow", ["export", "--model", big, "--out", os.path.join(WORK, "big_f16"), "--dtype", "f16"], 1,
    f"tensor '{Q}' element 3 = 100000 does not fit in F16")
with open(os.path.join(WORK, "good.tokenizer.json"), "a") as f:
    f.write(" ")
run("export_tokenizer_changed", ["export", "--model", good, "--out", os.path.join(WORK, "x")], 1,
    "not the model's tokenizer")
os.remove(os.path.join(WORK, "good.tokenizer.json"))
run("export_tokenizer_missing", ["export", "--model", good, "--out", os.path.join(WORK, "x")], 1,
    "good.tokenizer.json' is missing")

print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
sys.exit(0 if all(results) else 1)
