"""The checks of family_pipeline.sh: `setup` before the pipeline, `check` after it (every check prints what it
compared, with the numbers; exit 1 when any failed).
  check_family.py setup FAMILY WORK TOKENIZER CORPUS
      WORK/hf: a tiny random model of FAMILY (tests/hf/make_hf.py --family) with the family's real tokenizer.json
      and its bos/eos ids in config.json; WORK/corpus: the first documents of each domain of CORPUS, cut to a few
      KB; WORK/text.txt, text.jsonl: a real text for `shear eval --text`.
  check_family.py check FAMILY WORK: the checks below, in this order.
  import: `shear eval --text` of source.h5 (eval_source_text.json) == the PyTorch loss of hf/ (tests/hf/check.py
      loss), and of sheared.h5 (eval_sheared_text.json) == the PyTorch loss of export/ (a mismatch ends the run)
  masked: prune/pruned.h5 (masked source + /masks) in the PyTorch reference, float64: the masked model's per-domain
      eval loss == the prune run's final evaluation (metrics.jsonl, Shear fp32); fold_and_slice's model gives the
      same loss; `shear finalize`'s sheared.h5 has fold_and_slice's shape and (float32) tensors, and its loss in
      the reference == `shear eval --json` of it (eval_sheared.json) == the masked model's; relative 1e-5.
  export: export/ (shear export of sheared.h5): config.json is the family's (model_type, architectures,
      tie_word_embeddings, head_dim, sliding_window, biases / q-k norms) and describes sheared.h5; no lm_head.weight
      when tied; tensors are sheared.h5's float32 bytes; what `shear import` recorded of the source (bos/eos ids,
      max_position_embeddings, tokenizer.json) is in the export. export -> import -> export2: tensor bytes and
      config.json identical.
  train: train/metrics.jsonl: every step loss finite (and whether it fell); eval_trained.json finite per domain.
The loss comparisons reuse tests/hf (st.py, check.py) and validation/ref_llama.py."""
import json
import math
import os
import shutil
import sys

import h5py
import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
HF_TESTS = os.path.join(HERE, "..", "hf")
sys.path.insert(0, HF_TESTS)
import st  # noqa: E402  (puts validation/ on the path)
import check  # noqa: E402
import make_hf  # noqa: E402
import ref_llama as R  # noqa: E402

REL_TOL = 1e-5
T = 32  # train.seq_len of prune.yaml / train.yaml
DOMAINS = ["cc", "github", "book", "stackexchange", "wiki", "arxiv", "c4"]

# make_hf.py arguments, the real model's bos/eos ids, and what config.json must say
SHAPE = ["--dim", "64", "--layers", "4", "--heads", "4", "--kv-heads", "2", "--intermediate", "128"]
LLAMA3_ROPE = {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
               "original_max_position_embeddings": 32, "rope_type": "llama3"}  # a short original context: all three bands differ
FAMILIES = {
    "llama3-tied": dict(args=["--family", "llama3-tied", "--head-dim", "16", "--vocab", "128256",
                              "--rope-theta", "500000", "--rope-scaling", json.dumps(LLAMA3_ROPE)],
                        bos=128000, eos=128001, model_type="llama", arch="LlamaForCausalLM", tied=True),
    "qwen2": dict(args=["--family", "qwen2", "--head-dim", "16", "--vocab", "151936", "--rope-theta", "1000000"],
                  bos=151643, eos=151643, model_type="qwen2", arch="Qwen2ForCausalLM", tied=False),
    "qwen3": dict(args=["--family", "qwen3", "--tie", "--head-dim", "24", "--vocab", "151936",
                        "--rope-theta", "1000000"],
                  bos=151643, eos=151643, model_type="qwen3", arch="Qwen3ForCausalLM", tied=True),
    "mistral": dict(args=["--family", "mistral", "--head-dim", "16", "--vocab", "32000", "--sliding-window", "4096"],
                    bos=1, eos=2, model_type="mistral", arch="MistralForCausalLM", tied=False),
}

fails = 0


def ok(cond, msg):
    global fails
    print(("ok   " if cond else "FAIL ") + msg)
    fails += not cond


def done():
    print(f"{'FAILED' if fails else 'passed'}: {fails} failure(s)")
    sys.exit(1 if fails else 0)


def rel(a, b):
    return abs(a - b) / abs(b)


# ---------------------------------------------------------------------------------------------------- setup
def corpus_subset(src, dst, docs_per_domain=8, chars=6000, min_chars=24000):
    """The first documents of each domain (files in name order, lines in order), each cut to `chars` characters,
    at least docs_per_domain of them and at least min_chars in all (wiki's entries are short)."""
    for dom in DOMAINS:
        out, n, total = [], 0, 0
        for fn in sorted(os.listdir(os.path.join(src, dom))):
            if not fn.endswith(".jsonl"):
                continue
            with open(os.path.join(src, dom, fn), encoding="utf-8") as f:
                for line in f:
                    if not line.strip():
                        continue
                    t = json.loads(line).get("text", "")[:chars]
                    if not t:
                        continue
                    out.append(json.dumps({"text": t}, ensure_ascii=False))
                    n, total = n + 1, total + len(t)
                    if n >= docs_per_domain and total >= min_chars:
                        break
            if n >= docs_per_domain and total >= min_chars:
                break
        os.makedirs(os.path.join(dst, dom), exist_ok=True)
        with open(os.path.join(dst, dom, "part.jsonl"), "w", encoding="utf-8") as f:
            f.write("\n".join(out) + "\n")
        print(f"corpus subset: {dom}: {n} documents, {total} characters")


def cmd_setup(family, work, tokenizer, corpus):
    fam = FAMILIES[family]
    argv, sys.argv = sys.argv, ["make_hf.py", work, *SHAPE, *fam["args"], "--dtype", "F32", "--seed", "5"]
    make_hf.main()
    sys.argv = argv
    hf = os.path.join(work, "hf")
    shutil.copyfile(tokenizer, os.path.join(hf, "tokenizer.json"))
    with open(os.path.join(hf, "config.json")) as f:
        cfg = json.load(f)
    cfg.update(bos_token_id=fam["bos"], eos_token_id=fam["eos"])
    with open(os.path.join(hf, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    corpus_subset(corpus, os.path.join(work, "corpus"))
    # a real text for `shear eval --text`: the start of the first cc document
    with open(os.path.join(work, "corpus", "cc", "part.jsonl"), encoding="utf-8") as f:
        text = json.loads(f.readline())["text"][:350]  # two or three windows of 32 tokens
    with open(os.path.join(work, "text.txt"), "w", encoding="utf-8") as f:
        f.write(text)
    with open(os.path.join(work, "text.jsonl"), "w", encoding="utf-8") as f:
        f.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
    print(f"setup: {family}: {cfg['architectures'][0]} model_type {cfg['model_type']}, vocab {cfg['vocab_size']}, "
          f"head_dim {cfg.get('head_dim', cfg['hidden_size'] // cfg['num_attention_heads'])}, tied "
          f"{cfg['tie_word_embeddings']}, bos {fam['bos']} eos {fam['eos']}, tokenizer {tokenizer}")


# --------------------------------------------------------------------------------------------------- masked
def store_eval(path):
    """{domain: int64 tensor [n_eval, T]} of the token store's eval splits, first T tokens, store order."""
    with h5py.File(path, "r") as f:
        names = f.attrs["domains"]
        names = (names.decode() if isinstance(names, bytes) else str(names)).split(",")
        return {d: torch.from_numpy(f[f"domains/{d}/eval"][()][:, :T].astype(np.int64)) for d in names}


def domain_losses(c, P, seqs, gates=None):
    """{domain: mean next-token loss over every predicted position of its sequences}, as Shear's eval_domains
    scores them; all domains in one forward pass."""
    tok = torch.cat(list(seqs.values()))                                            # [n, T]
    with torch.no_grad():
        logits = R.forward(c, P, tok[:, :-1], gates)                                # [n, T-1, V]
        ce = torch.nn.functional.cross_entropy(logits.reshape(-1, c.vocab), tok[:, 1:].reshape(-1),
                                               reduction="none").view(tok.shape[0], -1)
    out, at = {}, 0
    for d, t in seqs.items():
        out[d] = ce[at:at + t.shape[0]].mean().item()
        at += t.shape[0]
    return out


def last_eval(metrics):
    rec = None
    with open(metrics) as f:
        for line in f:
            r = json.loads(line)
            if r["event"] == "eval":
                rec = r
    return rec


def cmd_masked(work):
    p = lambda *a: os.path.join(work, *a)  # noqa: E731
    seqs = store_eval(p("tokens.h5"))
    # every file is read once, as float32 (what it holds); float64 copies of the same values for the reference
    c, P32 = R.load_model(p("prune", "pruned.h5"), torch.float32)
    P = {n: t.double() for n, t in P32.items()}
    with h5py.File(p("prune", "pruned.h5"), "r") as f:
        masks = {k: f["masks"][k][()] for k in f["masks"]}
    g64 = {k: torch.from_numpy(v.astype(np.float64)) for k, v in masks.items()}
    kept = {k: int((v != 0).sum()) for k, v in masks.items()}
    print(f"pruned.h5: {c.model_type}, d {c.dim}, L {c.n_layers}, H {c.n_heads}/{c.n_kv_heads}, hd {c.head_dim}, "
          f"I {c.intermediate}, tied {c.tie_embeddings}, qkv_bias {c.qkv_bias}, qk_norm {c.qk_norm}; masks kept "
          + ", ".join(f"{k} {n}/{masks[k].size}" for k, n in sorted(kept.items())))
    ct, Q = R.fold_and_slice(c, P, g64)

    # the finalized model: fold_and_slice's shape, and its tensors (fold in float32, as the C side computes)
    cd, D32 = R.load_model(p("sheared.h5"), torch.float32)
    D = {n: t.double() for n, t in D32.items()}
    ok(check.as_f32(cd) == check.as_f32(ct), f"sheared.h5 config == fold_and_slice's: {cd}")
    _, Q32 = R.fold_and_slice(c, P32, {k: torch.from_numpy(v.astype(np.float32)) for k, v in masks.items()})
    if set(Q32) != set(D32):
        ok(False, f"tensor names differ: {sorted(set(Q32) ^ set(D32))[:6]}")
    else:
        worst = max(float(((D32[n] - Q32[n]).abs() / Q32[n].abs().clamp_min(1e-30)).max()) for n in Q32)
        same = sum(torch.equal(D32[n], Q32[n]) for n in Q32)
        ok(worst <= 1e-6, f"sheared.h5's {len(Q32)} tensors == the reference fold in float32 (worst element rel "
           f"{worst:.2e}, {same} bit-identical)")

    with open(p("eval_sheared.json")) as f:
        ev = json.load(f)
    ev_dom = {d: v["loss"] for d, v in ev["domains"].items()}
    prune_eval = last_eval(p("prune", "metrics.jsonl"))
    ok(prune_eval is not None, "prune/metrics.jsonl has the final {\"event\":\"eval\"} record")
    if prune_eval is None:
        return
    worst = {"masked": 0.0, "fold": 0.0, "final": 0.0, "eval": 0.0}
    print(f"  {'domain':14s} {'prune eval (shear)':>19s} {'ref masked':>14s} {'ref fold':>14s} "
          f"{'ref sheared.h5':>14s} {'shear eval':>14s}")
    ref_masked, ref_final = domain_losses(c, P, seqs, g64), domain_losses(cd, D, seqs)
    # fold_and_slice's own model in float64 against the masked one: on the first domain's sequences (the
    # classifier over the whole vocabulary is what costs)
    first = next(iter(seqs))
    ref_fold = domain_losses(ct, Q, {first: seqs[first]})
    for d in seqs:
        masked, final = ref_masked[d], ref_final[d]
        fold = ref_fold.get(d, float("nan"))
        shear_masked, shear_final = prune_eval["losses"][d], ev_dom[d]
        print(f"  {d:14s} {shear_masked:19.9f} {masked:14.9f} {fold:14.9f} {final:14.9f} {shear_final:14.9f}")
        worst["masked"] = max(worst["masked"], rel(shear_masked, masked))
        if d in ref_fold:
            worst["fold"] = max(worst["fold"], rel(fold, masked))
        worst["final"] = max(worst["final"], rel(final, masked))
        worst["eval"] = max(worst["eval"], rel(shear_final, final))
    n = sum(t.shape[0] for t in seqs.values())
    print(f"  ({len(seqs)} domains, {n} eval sequences of {T} tokens, {n * (T - 1)} predictions)")
    ok(worst["masked"] <= REL_TOL, f"Shear's masked model (prune's final eval, fp32) == reference masked model "
       f"(float64): worst domain rel {worst['masked']:.2e}")
    ok(worst["fold"] <= 1e-10, f"reference fold_and_slice == reference masked model ({first}): rel {worst['fold']:.2e}")
    ok(worst["final"] <= REL_TOL, f"sheared.h5 in the reference == reference masked model: worst rel "
       f"{worst['final']:.2e}")
    ok(worst["eval"] <= REL_TOL, f"`shear eval` of sheared.h5 (fp32) == sheared.h5 in the reference: worst rel "
       f"{worst['eval']:.2e}")
    avg = sum(ev_dom.values()) / len(ev_dom)
    ok(abs(ev["average_loss"] - avg) <= 1e-9 * abs(avg), f"`shear eval` average {ev['average_loss']:.9f} is the "
       f"mean of its domains")


# --------------------------------------------------------------------------------------------------- export
def cmd_export(family, work):
    fam = FAMILIES[family]
    p = lambda *a: os.path.join(work, *a)  # noqa: E731
    cm, Pm = R.load_model(p("sheared.h5"), torch.float32)
    t, cfg = st.read_folder(p("export"))
    want = {"model_type": fam["model_type"], "architectures": [fam["arch"]], "tie_word_embeddings": fam["tied"],
            "head_dim": cm.head_dim, "hidden_size": cm.dim, "num_hidden_layers": cm.n_layers,
            "num_attention_heads": cm.n_heads, "num_key_value_heads": cm.n_kv_heads,
            "intermediate_size": cm.intermediate, "vocab_size": cm.vocab, "torch_dtype": "float32"}
    if family == "mistral":
        want["sliding_window"] = 4096
    if family == "llama3-tied":
        want["rope_scaling"] = LLAMA3_ROPE
    bad = {k: (cfg.get(k), v) for k, v in want.items() if cfg.get(k) != v}
    ok(not bad, "export/config.json: " + (", ".join(f"{k} {cfg.get(k)!r}" for k in want) if not bad else
                                          ", ".join(f"{k} is {a!r}, expected {b!r}" for k, (a, b) in bad.items())))
    seen = st.config_from_hf(cfg)
    ok(check.as_f32(seen) == check.as_f32(cm), f"config.json read as transformers would == sheared.h5's config "
       f"({seen.model_type}, tied {seen.tie_embeddings}, qkv_bias {seen.qkv_bias}, qk_norm {seen.qk_norm}, "
       f"sliding_window {seen.sliding_window})")
    ok(("lm_head.weight" in t) != fam["tied"], f"lm_head.weight {'present' if 'lm_head.weight' in t else 'absent'} "
       f"(tied {fam['tied']})")
    extra = sorted(n for n in t if n.endswith(("q_proj.bias", "k_proj.bias", "v_proj.bias", "q_norm.weight",
                                                "k_norm.weight")))
    ok(len(extra) == cm.n_layers * (3 * cm.qkv_bias + 2 * cm.qk_norm), f"family tensors: {len(extra)} biases / "
       f"q-k norms for {cm.n_layers} layers")
    if set(t) != set(Pm):
        ok(False, f"exported tensor names differ from sheared.h5: {sorted(set(t) ^ set(Pm))[:6]}")
    else:
        bad = [n for n, w in Pm.items() if t[n][0] != "F32" or t[n][1] != tuple(w.shape)
               or t[n][2] != st.tensor_bytes(w, "F32")]
        ok(not bad, f"{len(t)} exported tensors are sheared.h5's float32 bytes" + (f"; differ: {bad[:4]}" if bad else ""))
    # what `shear import` recorded (tokenizer, bos/eos, max_position_embeddings) must reach the export of the
    # finalized model, or a Llama 3 / Qwen export says LLaMA-2's bos 1 / eos 2 and comes without its tokenizer
    with open(p("export", "generation_config.json")) as f:
        g = json.load(f)
    with open(p("hf", "config.json")) as f:
        src_cfg = json.load(f)
    ids = [f"{where} bos {have.get('bos_token_id')} eos {have.get('eos_token_id')}"
           for where, have in [("generation_config.json", g), ("config.json", cfg)]
           if (have.get("bos_token_id"), have.get("eos_token_id")) != (fam["bos"], fam["eos"])]
    ok(not ids, f"the source's bos/eos ids ({fam['bos']}, {fam['eos']}) reach the export"
       + (": " + "; ".join(ids) if ids else ""))
    lost = []
    if cfg.get("max_position_embeddings") != src_cfg["max_position_embeddings"]:
        lost.append(f"max_position_embeddings {cfg.get('max_position_embeddings')} (source "
                    f"{src_cfg['max_position_embeddings']})")
    if not os.path.exists(p("export", "tokenizer.json")):
        lost.append("no tokenizer.json")
    else:
        with open(p("export", "tokenizer.json"), "rb") as f1, open(p("hf", "tokenizer.json"), "rb") as f2:
            if f1.read() != f2.read():
                lost.append("tokenizer.json is not the source's")
    ok(not lost, "the source's tokenizer.json and max_position_embeddings reach the export"
       + (": " + "; ".join(lost) if lost else ""))

    # export -> import -> export: the same bytes and the same config.json
    t2, cfg2 = st.read_folder(p("export2"))
    nbytes = sum(len(v[2]) for v in t.values())
    diff = sorted(n for n in set(t) | set(t2) if t.get(n) != t2.get(n))
    ok(not diff, f"export -> import -> export: {len(t2)} tensors, {nbytes} bytes of tensor data byte-identical"
       + (f"; differ: {diff[:4]}" if diff else ""))
    keys = sorted(k for k in set(cfg) | set(cfg2) if cfg.get(k) != cfg2.get(k))
    ok(not keys, "config.json identical after the round trip" + (f"; differs in {keys}" if keys else ""))


# ---------------------------------------------------------------------------------------------------- train
def cmd_train(work):
    p = lambda *a: os.path.join(work, *a)  # noqa: E731
    steps = []
    with open(p("train", "metrics.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            if r["event"] == "step":
                steps.append(r["loss"])
    ok(len(steps) == 4 and all(math.isfinite(x) for x in steps),
       f"train: {len(steps)} steps, loss " + " -> ".join(f"{x:.4f}" for x in steps)
       + (f" (fell by {steps[0] - steps[-1]:.4f})" if steps and steps[-1] < steps[0] else " (did not fall)"))
    with open(p("eval_trained.json")) as f:
        ev = json.load(f)
    with open(p("eval_sheared.json")) as f:
        ev0 = json.load(f)
    losses = {d: v["loss"] for d, v in ev["domains"].items()}
    ok(set(losses) == set(DOMAINS) and all(math.isfinite(x) for x in losses.values()),
       "shear eval of train/model.h5: " + ", ".join(f"{d} {x:.4f}" for d, x in losses.items()))
    print(f"average eval loss: finalized {ev0['average_loss']:.4f} -> trained {ev['average_loss']:.4f}")


def cmd_import(work):
    """`shear eval --text` against the PyTorch loss of the Hugging Face folders (check.py loss; exits on a mismatch)."""
    p = lambda *a: os.path.join(work, *a)  # noqa: E731
    print("source: hf/ imported")
    check.cmd_loss(p("hf"), p("ids.jsonl"), p("eval_source_text.json"), T)
    print("sheared: export/ of sheared.h5")
    check.cmd_loss(p("export"), p("ids.jsonl"), p("eval_sheared_text.json"), T)


def cmd_check(family, work):
    for name, fn, args in [("import", cmd_import, (work,)), ("masked", cmd_masked, (work,)),
                           ("export", cmd_export, (family, work)), ("train", cmd_train, (work,))]:
        print(f"--- {name}")
        fn(*args)
    done()


if __name__ == "__main__":
    cmds = {"setup": (cmd_setup, 4), "check": (cmd_check, 2)}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds or len(sys.argv) != 2 + cmds[sys.argv[1]][1]:
        print(__doc__)
        sys.exit(2)
    if sys.argv[2] not in FAMILIES:
        print(f"unknown family {sys.argv[2]!r}; one of {sorted(FAMILIES)}")
        sys.exit(2)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    cmds[sys.argv[1]][0](*sys.argv[2:])
