#!/usr/bin/python3
"""Oracle for `shear prep` (tests/data/prep_test.sh). Run with Debian's /usr/bin/python3 (h5py, numpy).

  prep_check.py gen CORPUS            write a small synthetic 3-domain corpus (txt, jsonl, mixed; a few KB each)
  prep_check.py verify STORE CORPUS SHEAR TOKENIZER
                                      check a store against the corpus, tokenized independently of prep (the
                                      documents are enumerated here and encoded by `shear tokenize`): counts add
                                      up, every document lands whole in exactly one split in order, no eval window
                                      appears in train
  prep_check.py same STORE STORE...   every dataset and attribute identical (1, 2, 3 ranks)
"""
import hashlib
import json
import os
import random
import subprocess
import sys

import h5py
import numpy as np

WORDS = ("the of and to in a is that for it as was with be by on not he this are or his from at which but have "
         "an they you were her she there all one their we him been has when who will more no if out so said what "
         "data model token prune shear llama café naïve façade über smörgåsbord Ελληνικά русский 東京 日本語 "
         "🦙 🚀 x=1; int main(void) { return 0; } def f(x): return x").split(" ")


def paragraph(rng, n):
    words = [rng.choice(WORDS) for _ in range(n)]
    text = " ".join(words)
    # some structure the tokenizer must keep: newlines, tabs, double spaces
    if n > 30:
        cut = rng.randrange(1, n)
        text = " ".join(words[:cut]) + rng.choice(["\n", "\n\n", "\t", "  "]) + " ".join(words[cut:])
    return text


def gen(corpus):
    rng = random.Random(20240501)
    books = os.path.join(corpus, "books")
    code = os.path.join(corpus, "code")
    mixed = os.path.join(corpus, "mixed")
    for d in (books, code, mixed):
        os.makedirs(d, exist_ok=True)
    for i in range(14):
        text = "\n\n".join(paragraph(rng, rng.randint(10, 60)) for _ in range(rng.randint(1, 4)))
        if i == 3:
            text = text.replace("\n", "\r\n")  # CRLF is text like any other
        end = "" if i == 5 else "\n"           # a file without a trailing newline
        with open(os.path.join(books, f"book{i:02d}.txt"), "w", encoding="utf-8", newline="") as f:
            f.write(text + end)
    open(os.path.join(books, "zz_empty.txt"), "w").close()   # no text: not a document
    with open(os.path.join(books, "README.md"), "w") as f:   # neither .txt nor .jsonl: ignored
        f.write("not part of the corpus\n")
    for part, n in (("a", 45), ("b", 35)):
        with open(os.path.join(code, f"part-{part}.jsonl"), "w", encoding="utf-8") as f:
            for i in range(n):
                rec = {"id": i, "text": paragraph(rng, rng.randint(3, 50)), "meta": {"lang": "xx"}}
                f.write(json.dumps(rec, ensure_ascii=(i % 2 == 0)) + "\n")
                if i == 10:
                    f.write("\n")                                   # blank line: skipped
                if i == 20:
                    f.write(json.dumps({"text": ""}) + "\n")       # empty text: not a document
            if part == "b":
                f.write(json.dumps({"text": paragraph(rng, 12)}))  # last line without newline
    for i in range(6):
        with open(os.path.join(mixed, f"m{i}.txt"), "w", encoding="utf-8") as f:
            f.write(paragraph(rng, rng.randint(20, 80)) + "\n")
    with open(os.path.join(mixed, "m9.jsonl"), "w", encoding="utf-8") as f:
        for i in range(40):
            f.write(json.dumps({"text": paragraph(rng, rng.randint(3, 40))}, ensure_ascii=False) + "\r\n")


def documents(folder):
    """The documents of a domain folder, in prep's order: files sorted by name; a .txt file is one document, a
    .jsonl line with a non-empty "text" is one; empty texts and blank lines are none."""
    docs = []
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if name.startswith(".") or not os.path.isfile(path):
            continue
        if name.endswith(".txt"):
            text = open(path, "rb").read().decode("utf-8")
            if text:
                docs.append(text)
        elif name.endswith(".jsonl"):
            for line in open(path, "rb").read().split(b"\n"):
                line = line.rstrip(b"\r\n")
                if not line.strip(b" \t"):
                    continue
                text = json.loads(line.decode("utf-8"))["text"]
                if text:
                    docs.append(text)
    return docs


def tokenize(shear, tokenizer, texts):
    inp = "".join(json.dumps({"text": t}) + "\n" for t in texts)
    out = subprocess.run([shear, "tokenize", "--tokenizer", tokenizer, "--no-bos"], input=inp.encode(),
                         stdout=subprocess.PIPE, check=True).stdout.decode().splitlines()
    assert len(out) == len(texts), f"shear tokenize gave {len(out)} lines for {len(texts)} texts"
    return [[1] + json.loads(line) + [2] for line in out]


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def text_attr(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def verify(store, corpus, shear, tokenizer):
    f = h5py.File(store, "r")
    L = int(f.attrs["seq_len"])
    eval_seqs = int(f.attrs["eval_seqs"])
    max_train = int(f.attrs["max_train_seqs"])
    domains = text_attr(f.attrs["domains"]).split(",")
    if text_attr(f.attrs["format"]) != "shear-token-store" or int(f.attrs["n_domains"]) != len(domains):
        fail("root attributes format / n_domains")
    missing = [d for d in domains if not os.path.isdir(os.path.join(corpus, d))]
    if missing:
        fail(f"store domains {missing} are not folders of {corpus}")
    for name in domains:
        g = f["domains"][name]
        train, ev = g["train"][...], g["eval"][...]
        a = {k: int(v) for k, v in g.attrs.items()}
        docs = tokenize(shear, tokenizer, documents(os.path.join(corpus, name)))
        tokens_in = sum(len(d) for d in docs)
        if train.dtype != np.int32 or ev.dtype != np.int32 or train.shape[1] != L or ev.shape[1] != L:
            fail(f"{name}: train {train.dtype}{train.shape}, eval {ev.dtype}{ev.shape}; expected int32 [n, {L}]")
        # counts add up: tokens in (computed here) == stored + dropped
        if a["documents"] != len(docs) or a["tokens"] != tokens_in:
            fail(f"{name}: store says {a['documents']} documents / {a['tokens']} tokens, "
                 f"the corpus has {len(docs)} / {tokens_in}")
        if a["train_tokens"] != train.size or a["eval_tokens"] != ev.size:
            fail(f"{name}: train/eval token attributes do not match the dataset sizes")
        if train.size + ev.size + a["dropped_tokens"] != tokens_in:
            fail(f"{name}: stored {train.size} + {ev.size} + dropped {a['dropped_tokens']} != tokens in {tokens_in}")
        if ev.shape[0] != eval_seqs or train.shape[0] < 1 or (max_train and train.shape[0] > max_train):
            fail(f"{name}: {ev.shape[0]} eval / {train.shape[0]} train sequences (eval_seqs {eval_seqs}, "
                 f"max_train_seqs {max_train})")
        if a["train_documents"] + a["eval_documents"] != len(docs):
            fail(f"{name}: train + eval documents != documents")
        # every document is whole, in order, in exactly one split: walk both streams in document order
        streams = {"train": train.reshape(-1).tolist(), "eval": ev.reshape(-1).tolist()}
        pos = {"train": 0, "eval": 0}
        placed = {"train": 0, "eval": 0}
        for i, d in enumerate(docs):
            fits = []
            for s in ("train", "eval"):
                rest = streams[s][pos[s]:pos[s] + len(d)]
                if rest and rest == d[:len(rest)]:
                    fits.append((len(rest) < len(d), s))  # (partial, split): a whole match wins over the
            fits.sort()                                   # few tokens left at the end of the other split
            if len(fits) > 1 and fits[0][0] == fits[1][0]:
                fail(f"{name}: document {i} matches both splits at their current positions (ambiguous corpus)")
            fits = [s for _, s in fits]
            if fits:
                s = fits[0]
                pos[s] += min(len(d), len(streams[s]) - pos[s])
                placed[s] += 1
        for s in ("train", "eval"):
            if pos[s] != len(streams[s]):
                fail(f"{name}: the {s} split is not its documents in order: matched {pos[s]} of "
                     f"{len(streams[s])} tokens")
        if placed["eval"] > a["eval_documents"] or placed["train"] > a["train_documents"]:
            fail(f"{name}: more documents placed than the split attributes say")
        # no eval window appears in train
        train_hashes = {hashlib.sha1(row.tobytes()).digest() for row in train}
        shared = sum(hashlib.sha1(row.tobytes()).digest() in train_hashes for row in ev)
        if shared:
            fail(f"{name}: {shared} eval sequences also appear in train")
        print(f"ok   {name}: {len(docs)} documents, {tokens_in} tokens = {train.size} train + {ev.size} eval + "
              f"{a['dropped_tokens']} dropped; {placed['train']} train / {placed['eval']} eval documents placed "
              f"in order; no eval window in train")
    deck = bytes(f["deck"][...]).decode()
    if "prep:" not in deck:
        fail("/deck does not hold the prep deck")


def same(stores):
    def walk(f):
        items = {}
        def visit(name, obj):
            items[name] = obj
        f.visititems(visit)
        return items
    ref = h5py.File(stores[0], "r")
    ref_items = walk(ref)
    for other_path in stores[1:]:
        other = h5py.File(other_path, "r")
        items = walk(other)
        if sorted(items) != sorted(ref_items):
            fail(f"{other_path} has objects {sorted(items)}, {stores[0]} has {sorted(ref_items)}")
        for name in [""] + sorted(items):
            a = ref[name] if name else ref
            b = other[name] if name else other
            if sorted(a.attrs) != sorted(b.attrs) or any(np.any(a.attrs[k] != b.attrs[k]) for k in a.attrs):
                fail(f"{other_path}: attributes of /{name} differ from {stores[0]}")
            if isinstance(a, h5py.Dataset):
                x, y = a[...], b[...]
                if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
                    fail(f"{other_path}: dataset /{name} differs from {stores[0]}")
        n = sum(isinstance(o, h5py.Dataset) for o in items.values())
        print(f"ok   {other_path}: {n} datasets and all attributes identical to {stores[0]}")


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "gen" and len(sys.argv) == 3:
        gen(sys.argv[2])
    elif cmd == "verify" and len(sys.argv) == 6:
        verify(*sys.argv[2:])
    elif cmd == "same" and len(sys.argv) >= 4:
        same(sys.argv[2:])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
