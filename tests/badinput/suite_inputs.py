"""Bad-input suite, part 1: decks, --set, the command line, text inputs, tokenizer.json, 2-rank runs."""
import json
import os
import random

DIM = "  dim: 32\n"
LR = "  lr: 1.0e-2\n"


def register(s):
    D = s.deck_text
    assert DIM in D and LR in D and "  n_heads: 4\n" in D and "  rule: constant" in D

    def out_of(c):
        return c.path("out")

    def train(c, deck_file, *extra, store=True):
        sets = s.train_sets(out_of(c))
        if not store:
            sets = sets[2:]
        return {"argv": ["train", deck_file] + sets + list(extra), "outputs": [c.path("out", "model.h5")]}

    # ------------------------------------------------------------------ decks
    def deck(name, text, *extra, want=None, store=True, expected=None):
        def build(c):
            p = c.write("deck.yaml", text)
            spec = train(c, p, *extra, store=store)
            spec["want"] = want
            return spec
        s.case("decks", name, build, expected)

    def sub(old, new):
        assert old in D, old
        return D.replace(old, new, 1)

    deck("malformed_yaml", sub(DIM, "  dim: [32\n"), want="deck.yaml")
    deck("tab_indent", sub(DIM, "\tdim: 32\n"), want="deck.yaml")
    deck("bad_indent", sub(DIM, DIM + "   n_extra: 2\n"), want="deck.yaml")
    deck("unknown_section", D + "trian:\n  steps: 3\n", want="trian")
    deck("unknown_key", sub(LR, "  lrr: 1.0e-2\n"), want="optim.lrr")
    deck("wrong_type_int", sub(DIM, "  dim: big\n"), want="model.dim")
    deck("float_for_int", sub(DIM, "  dim: 32.5\n"), want="model.dim")
    deck("bool_for_int", sub(DIM, "  dim: true\n"), want="model.dim")
    deck("null_value", sub(LR, "  lr:\n"), want="optim.lr")
    deck("mapping_for_scalar", sub(DIM, "  dim: {a: 1}\n"), want="model.dim")
    deck("list_for_scalar", sub(DIM, "  dim: [32, 48]\n"), want="model.dim")
    deck("scalar_for_list", D + "data:\n  domains: cc\n", want="data.domains")
    deck("out_of_range_int", sub("  n_layers: 2\n", "  n_layers: 0\n"), want="model.n_layers")
    deck("out_of_range_number", sub(LR, "  lr: 50\n"), want="optim.lr")
    deck("negative", sub("  global_batch: 8\n", "  global_batch: -8\n"), want="train.global_batch")
    deck("huge_integer", sub(DIM, "  dim: 99999999999999999999999999\n"), want="model.dim")
    deck("number_overflows_double", sub(LR, "  lr: 1e999\n"), want="optim.lr")
    deck("nan_number", sub(LR, "  lr: .nan\n"), want="optim.lr")
    deck("duplicate_key", sub(DIM, DIM + "  dim: 48\n"), want="model.dim")
    deck("duplicate_section", D + "model:\n  vocab: 64\n", want="model")
    deck("bad_enum", sub("  rule: constant", "  rule: sometimes"), want="dbl.rule")
    deck("missing_required_store", D, store=False, want="data.store")
    deck("empty_file", "", want="deck")
    deck("top_level_list", "- model\n- train\n", want="deck.yaml")
    deck("top_level_scalar", "just a sentence\n", want="deck.yaml")
    deck("section_is_scalar", D + "prune: 5\n", want="prune")
    deck("complex_key", sub(DIM, "  [a, b]: 32\n"), want="deck.yaml")
    deck("two_documents", D + "---\n" + D, want="deck.yaml")
    deck("invalid_utf8", (D + "# caf\xe9\n").encode("latin-1"), want="deck.yaml")
    deck("binary_file", bytes(random.Random(1).randrange(256) for _ in range(4096)), want="deck.yaml")
    deck("list_too_long", D + "data:\n  domains: [" + ", ".join(f"d{i}" for i in range(17)) + "]\n",
         want="data.domains")
    deck("bad_domain_name", D + "data:\n  domains: [cc, 'a/b']\n", want="data.domains")
    deck("proportions_not_summing_to_1", D + "data:\n  domains: [cc, github, book]\n  proportions: [0.5, 0.6, 0.2]\n",
         want="data.proportions")
    deck("proportions_length", D + "data:\n  domains: [cc, github, book]\n  proportions: [0.5, 0.5]\n",
         want="data.proportions")
    deck("string_too_long", D + "prep:\n  input_dir: " + "x" * 2000 + "\n", want="prep.input_dir")
    deck("heads_do_not_divide_dim", sub("  n_heads: 4\n", "  n_heads: 6\n"), want="n_heads")
    deck("kv_heads_do_not_divide_heads", sub("  n_kv_heads: 2\n", "  n_kv_heads: 3\n"), want="n_kv_heads")
    deck("micro_batch_not_divisor", sub("  micro_batch: 2\n", "  micro_batch: 3\n"), want="micro_batch")
    deck("seq_len_beyond_store", sub("  seq_len: 32\n", "  seq_len: 64\n"), want="train.seq_len")
    deck("vocab_below_store", sub("  vocab: 64\n", "  vocab: 16\n"), want="vocab")
    deck("domain_not_in_store", D + "data:\n  domains: [cc, pile]\n", want="pile")
    deck("ref_losses_count", sub("  rule: constant", "  rule: paper\n  reference: deck\n  ref_losses: [3.0]\n #"),
         want="dbl.ref_losses")
    deck("scaling_file_missing", sub("  rule: constant", f"  rule: paper\n  reference: scaling\n  scaling_file: "
                                     f"{s.work}/none.csv\n #"), want="none.csv")

    def scaling_bad(c):
        csv = c.write("scaling.csv", "params,cc,github,book\n1e9,abc,2.0,2.0\n")
        p = c.write("deck.yaml", sub("  rule: constant", f"  rule: paper\n  reference: scaling\n  scaling_file: {csv}\n #"))
        return dict(train(c, p), want="scaling.csv")
    s.case("decks", "scaling_file_malformed", scaling_bad)

    def deck_dir(c):
        os.makedirs(c.path("deck.yaml"))
        return dict(train(c, c.path("deck.yaml")), want="deck.yaml")
    s.case("decks", "directory_as_deck", deck_dir)
    s.case("decks", "missing_deck", lambda c: dict(train(c, c.path("none.yaml")), want="none.yaml"))

    def out_dir_file(c):
        f = c.write("notadir", "a file\n")
        spec = train(c, s.deck_path, "--set", f"run.out_dir={f}")
        spec.update(keep=[f], outputs=[os.path.join(f, "model.h5")], want="notadir")
        return spec
    s.case("decks", "out_dir_is_a_file", out_dir_file)

    # 9 levels of aliases, each 10 references to the one before: 10^9 nodes if anything expands them
    bomb = "".join(f"lol{i}: &a{i} [" + ", ".join([f"*a{i - 1}" if i else "x"] * 10) + "]\n" for i in range(9))
    deck("alias_bomb", D + bomb, want="lol0")
    # issue 19 (3): 200,000 nested flow sequences, about 2 MB
    deck("nested_200000_deep", "x: " + "[{a: " * 200000 + "1" + "}]" * 200000 + "\n" + "#" * 400000 + "\n",
         want="deck", expected="deck size/depth limit")
    deck("over_1_mib", D + ("# padding " + "x" * 90 + "\n") * 12000, want="deck", expected="deck size/depth limit")
    deck("nested_300_deep", "model:\n  dim: " + "[" * 300 + "1" + "]" * 300 + "\n", want="deck")

    def prune(name, *sets, want=None):
        def build(c):
            argv = ["prune", s.deck_path] + s.train_sets(out_of(c)) + \
                ["--set", f"prune.source={s.model}"] + list(sets)
            return {"argv": argv, "outputs": [c.path("out", "pruned.h5")], "want": want}
        s.case("decks", name, build)
    prune("prune_target_dim_above_source", "--set", "prune.target_dim=40", want="dim")
    prune("prune_unknown_mask_type", "--set", "prune.masks=[head, bogus]", want="prune.masks")
    prune("prune_target_heads_not_group_multiple", "--set", "prune.target_n_heads=3", want="group")

    # ------------------------------------------------------------------ --set
    def setc(name, *sets, want=None, expected=None):
        s.case("set", name, lambda c: dict(train(c, s.deck_path, *sets), want=want), expected)

    setc("no_equals", "--set", "model.dim", want="model.dim")
    setc("empty", "--set", "", want="--set")
    setc("empty_key", "--set", "=5", want="--set")
    setc("no_dot", "--set", "dim=32", want="dim")
    setc("unknown_section", "--set", "foo.bar=1", want="foo")
    setc("unknown_key", "--set", "model.dimm=3", want="model.dimm")
    setc("bad_value", "--set", "optim.lr=fast", want="optim.lr")
    setc("empty_value", "--set", "model.dim=", want="model.dim")
    setc("trailing_garbage", "--set", "model.dim=32abc", want="model.dim")
    setc("out_of_range", "--set", "model.n_layers=2000", want="model.n_layers")
    setc("nan", "--set", "optim.lr=nan", want="optim.lr")
    setc("mapping_value", "--set", "model.dim={a: 1}", want="model.dim")
    setc("unclosed_list", "--set=data.domains=[cc,", want="data.domains")
    setc("bad_enum", "--set", "run.device=tpu", want="run.device")
    setc("warmup_over_steps", "--set", "optim.warmup=5", want="optim.warmup")
    setc("value_missing_at_end", "--set", want="--set")
    s.case("set", "prep_out_of_range", lambda c: {
        "argv": ["prep", s.prep_deck(c.dir), "--set", "prep.seq_len=0"], "outputs": [c.path("store.h5")],
        "want": "prep.seq_len"})
    s.case("set", "eval_text_mode", lambda c: {
        "argv": ["eval", "--model", s.imported, "--tokenizer", s.mini_tok, "--text", s.text, "--seq-len", "8",
                 "--set", "train.seq_len=4"], "want": "--set"})

    # ------------------------------------------------------------------ command line
    def cli(name, argv, want=None):
        s.case("cli", name, lambda c: {"argv": argv(c) if callable(argv) else argv, "want": want})

    cli("unknown_command", ["frobnicate"], want="frobnicate")
    cli("option_as_command", ["--bogus"], want="--bogus")
    cli("unknown_option", lambda c: ["train", "--bogus", s.deck_path], want="--bogus")
    cli("unknown_option_with_value", lambda c: ["train", s.deck_path, "--bogus=1"], want="--bogus")
    cli("train_no_deck", ["train"], want="deck")
    cli("train_two_decks", lambda c: ["train", s.deck_path, s.deck_path], want="deck")
    cli("init_without_value", lambda c: ["train", s.deck_path, "--init"], want="--init")
    cli("prune_no_deck", ["prune"], want="deck")
    cli("prep_no_deck", ["prep"], want="deck")
    cli("prep_unknown_option", lambda c: ["prep", s.deck_path, "--frce"], want="--frce")
    cli("eval_nothing", ["eval"], want="eval")
    cli("eval_deck_and_text", lambda c: ["eval", s.deck_path, "--text", s.text], want="--text")
    cli("eval_seq_len_1", lambda c: ["eval", "--model", s.imported, "--tokenizer", s.mini_tok, "--text", s.text,
                                     "--seq-len", "1"], want="--seq-len")
    cli("eval_seq_len_not_number", lambda c: ["eval", "--model", s.imported, "--tokenizer", s.mini_tok, "--text",
                                              s.text, "--seq-len", "x"], want="--seq-len")
    cli("eval_micro_batch_0", lambda c: ["eval", "--model", s.imported, "--tokenizer", s.mini_tok, "--text", s.text,
                                         "--seq-len", "8", "--micro-batch", "0"], want="--micro-batch")
    cli("eval_max_seqs_negative", lambda c: ["eval", s.deck_path, "--model", s.model, "--set", f"data.store={s.store}",
                                                 "--max-seqs", "-1"],
        want="--max-seqs")
    cli("eval_text_without_model", lambda c: ["eval", "--tokenizer", s.mini_tok, "--text", s.text, "--seq-len", "8"],
        want="--model")
    cli("eval_text_without_tokenizer", lambda c: ["eval", "--model", s.imported, "--text", s.text, "--seq-len", "8"],
        want="--tokenizer")
    cli("import_without_out", lambda c: ["import", "--from", s.hf], want="--out")
    cli("import_from_without_value", ["import", "--from"], want="--from")
    cli("export_bad_dtype", lambda c: ["export", "--model", s.imported, "--out", c.path("x"), "--dtype", "fp8"],
        want="fp8")
    cli("export_bad_shard_size", lambda c: ["export", "--model", s.imported, "--out", c.path("x"),
                                            "--max-shard-size", "5XB"], want="5XB")
    cli("finalize_in_is_out", lambda c: ["finalize", "--in", s.model, "--out", s.model], want="input")
    cli("finalize_without_out", lambda c: ["finalize", "--in", s.model], want="--out")
    cli("tokenize_no_bos_and_decode", lambda c: ["tokenize", "--tokenizer", s.mini_tok, "--decode", "--no-bos"],
        want="--decode")
    cli("tokenize_without_tokenizer", ["tokenize"], want="--tokenizer")
    cli("info_no_file", ["info"], want="info")
    cli("info_two_files", lambda c: ["info", s.model, s.store], want="info")
    cli("keys_extra_argument", ["keys", "extra"], want="extra")

    # ------------------------------------------------------------------ text inputs
    def corpus(c, **files):
        """a copy of the good corpus with files planted (name -> bytes), e.g. beta__bad.txt"""
        import shutil
        d = c.path("corpus")
        shutil.copytree(s.corpus, d)
        for k, v in files.items():
            dom, fn = k.split("__")
            os.makedirs(os.path.join(d, dom), exist_ok=True)
            base, ext = fn.rsplit("_", 1)
            with open(os.path.join(d, dom, base + "." + ext), "wb") as f:
                f.write(v)
        return d

    def prep(name, files=None, want=None, keep_out=None, **over):
        def build(c):
            if files is not None:
                over["input_dir"] = corpus(c, **files)
            keep = []
            if keep_out is not None:
                keep_out(c)
                keep = [c.path("store.h5")]
            return {"argv": ["prep", s.prep_deck(c.dir, **over)],
                    "outputs": [] if keep else [c.path("store.h5")], "keep": keep, "want": want}
        s.case("text", "prep_" + name, build)

    prep("invalid_utf8_txt", {"beta__bad_txt": b"good line\nbad \xc3\x28 byte\n"}, want="invalid UTF-8")
    prep("invalid_utf8_jsonl", {"beta__bad_jsonl": b'{"text": "caf\xe9 au lait"}\n'}, want="invalid UTF-8")
    prep("utf8_surrogate", {"beta__bad_txt": b"a surrogate \xed\xa0\x80 here\n"}, want="UTF-8")
    prep("utf8_overlong", {"beta__bad_txt": b"an overlong slash \xc0\xaf here\n"}, want="UTF-8")
    prep("utf8_cut_at_end", {"beta__bad_txt": b"the text ends in the middle of a character \xe2\x82"}, want="UTF-8")
    prep("bad_json_line", {"beta__bad_jsonl": b'{"text": "fine"}\n{"text": unquoted}\n'}, want="not valid JSON")
    prep("jsonl_no_text_key", {"beta__bad_jsonl": b'{"body": "no text key"}\n'}, want="text")
    prep("jsonl_text_not_string", {"beta__bad_jsonl": b'{"text": 42}\n'}, want="text")
    prep("empty_domain", {"gamma__empty_txt": b""}, want="gamma")
    prep("missing_input_dir", input_dir="/nonexistent/corpus", want="/nonexistent/corpus")
    prep("seq_len_beyond_data", seq_len=100000, want="alpha")
    prep("missing_tokenizer", tokenizer="/nonexistent/tokenizer.json", want="/nonexistent/tokenizer.json")

    def out_dir(c):
        os.makedirs(c.path("store.h5"))
    prep("out_is_directory", keep_out=out_dir, want="store.h5")

    def out_junk(c):
        c.write("store.h5", "not a store\n")
    prep("out_exists_not_a_store", keep_out=out_junk, want="store.h5")

    def prep_parent_file(c):
        f = c.write("afile", "a file where a folder should be\n")
        return {"argv": ["prep", s.prep_deck(c.dir, out=c.path("afile", "store.h5"))], "keep": [f], "want": "afile"}
    s.case("text", "prep_out_parent_is_a_file", prep_parent_file)

    def prep_domains(c):
        return {"argv": ["prep", s.prep_deck(c.dir), "--set=data.domains=[alpha, nope]"],
                "outputs": [c.path("store.h5")], "want": "nope"}
    s.case("text", "prep_unknown_domain", prep_domains)

    def evaltext(name, make, want=None):
        def build(c):
            t = make(c)
            return {"argv": ["eval", "--model", s.imported, "--tokenizer", s.mini_tok, "--text", t, "--seq-len", "8"],
                    "want": want}
        s.case("text", "eval_" + name, build)
    evaltext("invalid_utf8", lambda c: c.write("t.txt", b"the cat \xc3\x28 sat\n"), want="UTF-8")
    evaltext("empty", lambda c: c.write("t.txt", b""), want="empty")
    evaltext("missing", lambda c: c.path("none.txt"), want="none.txt")
    evaltext("directory", lambda c: (os.makedirs(c.path("t.txt")), c.path("t.txt"))[1], want="t.txt")

    def tokz(name, stdin, *extra, want=None):
        s.case("text", "tokenize_" + name, lambda c: {
            "argv": ["tokenize", "--tokenizer", s.mini_tok] + list(extra), "stdin": stdin, "want": want})
    tokz("invalid_utf8", b'{"text": "caf\xe9"}\n', want="UTF-8")
    tokz("not_json", b"this is not json\n")
    tokz("no_text_key", b'{"txt": "abc"}\n')
    tokz("text_not_string", b'{"text": 5}\n')
    tokz("nul_escape", b'{"text": "a\\u0000b"}\n')
    tokz("empty_line", b"\n")
    tokz("binary_stdin", bytes(random.Random(2).randrange(256) for _ in range(2000)))
    tokz("decode_id_out_of_range", b"[1, 99999]\n", "--decode")
    tokz("decode_negative_id", b"[1, -3]\n", "--decode")
    tokz("decode_not_array", b'{"text": "a"}\n', "--decode")

    # ------------------------------------------------------------------ tokenizer.json
    def tokfile(name, make, via="prep", base=True, want=None):
        def build(c):
            src = s.tokenizer
            if base and not src:
                print(f"skip tokenizer/{name}: no LLaMA-2 tokenizer.json")
                return None
            p = make(c, src)
            if via == "tokenize":
                return {"argv": ["tokenize", "--tokenizer", p], "stdin": b'{"text": "the cat"}\n', "want": want}
            if via == "prep":
                return {"argv": ["prep", s.prep_deck(c.dir, tokenizer=p)], "outputs": [c.path("store.h5")],
                        "want": want}
            return {"argv": ["eval", "--model", s.imported, "--tokenizer", p, "--text", s.text, "--seq-len", "8"],
                    "want": want}
        s.case("tokenizer", name, build)

    def edit(fn):
        def make(c, src):
            with open(src, encoding="utf-8") as f:
                j = json.load(f)
            fn(j)
            p = c.path("tokenizer.json")
            with open(p, "w", encoding="utf-8") as f:
                json.dump(j, f, ensure_ascii=False)
            return p
        return make

    def raw(data):
        return lambda c, src: c.write("tokenizer.json", data(src) if callable(data) else data)

    def truncated(src):
        with open(src, "rb") as f:
            b = f.read()
        return b[:len(b) // 2]

    def first_piece(j):
        return next(k for k in j["model"]["vocab"] if not k.startswith("<"))

    tokfile("truncated_json", raw(truncated), want="tokenizer.json")
    tokfile("no_model", edit(lambda j: j.pop("model")), want="model")
    tokfile("no_vocab", edit(lambda j: j["model"].pop("vocab")), want="vocab")
    tokfile("no_merges", edit(lambda j: j["model"].pop("merges")), want="merges")
    tokfile("vocab_not_object", edit(lambda j: j["model"].__setitem__("vocab", list(j["model"]["vocab"]))),
            want="vocab")
    tokfile("merges_not_list", edit(lambda j: j["model"].__setitem__("merges", "a b")), want="merges")
    tokfile("merge_without_space", edit(lambda j: j["model"]["merges"].__setitem__(5, "abc")), want="merge")
    tokfile("merge_of_unknown_pieces", edit(lambda j: j["model"]["merges"].insert(0, "qqzzq xxjjx")), want="merge")
    tokfile("merge_not_string", edit(lambda j: j["model"]["merges"].__setitem__(3, 17)), want="merge")
    tokfile("vocab_id_beyond_size", edit(lambda j: j["model"]["vocab"].__setitem__(first_piece(j), 10 ** 9)),
            want="vocab")
    tokfile("vocab_negative_id", edit(lambda j: j["model"]["vocab"].__setitem__(first_piece(j), -4)), want="vocab")
    tokfile("vocab_duplicate_id", edit(lambda j: j["model"]["vocab"].__setitem__(first_piece(j), 5)), want="vocab")
    tokfile("vocab_id_not_integer", edit(lambda j: j["model"]["vocab"].__setitem__(first_piece(j), "seven")),
            want="vocab")
    tokfile("byte_piece_missing", edit(lambda j: j["model"]["vocab"].pop("<0x41>")), want="68")
    tokfile("model_type_wordpiece", edit(lambda j: j["model"].__setitem__("type", "WordPiece")), want="WordPiece")
    tokfile("added_tokens_not_list", edit(lambda j: j.__setitem__("added_tokens", 5)), want="added_tokens")
    tokfile("top_level_array", raw(b"[1, 2, 3]\n"), base=False, want="tokenizer.json")
    tokfile("empty_file", raw(b""), base=False, want="tokenizer.json")
    tokfile("binary_file", raw(bytes(random.Random(3).randrange(256) for _ in range(3000))), base=False,
            want="tokenizer.json")
    tokfile("missing_file", lambda c, src: c.path("none.json"), base=False, want="none.json")
    tokfile("tokenize_missing_file", lambda c, src: c.path("none.json"), via="tokenize", base=False, want="none.json")
    tokfile("eval_text_no_vocab", edit(lambda j: j["model"].pop("vocab")), via="eval", want="vocab")
    tokfile("directory", lambda c, src: (os.makedirs(c.path("tok.json")), c.path("tok.json"))[1], base=False,
            want="tok.json")
    tokfile("tokenize_truncated_json", raw(truncated), via="tokenize", want="tokenizer.json")
    tokfile("not_the_models_vocabulary", lambda c, src: src, via="eval", want="vocabulary")

    # ------------------------------------------------------------------ 2 ranks
    def mpi(name, build_extra, want=None, expected="one error line on many ranks"):
        def build(c):
            spec = train(c, *build_extra(c))
            spec["argv"] = ["MPI2"] + spec["argv"]
            spec["want"] = want
            return spec
        s.case("mpi", name, build, expected)
    mpi("deck_unknown_key", lambda c: [c.write("deck.yaml", sub(LR, "  lrr: 1.0e-2\n"))], want="optim.lrr")
    mpi("set_bad_value", lambda c: [s.deck_path, "--set", "model.dim=big"], want="model.dim")
    mpi("store_missing", lambda c: [s.deck_path, "--set", f"data.store={c.path('none.h5')}"], want="none.h5")

    def trunc_model(c):
        with open(s.model, "rb") as f:
            b = f.read()
        return [s.deck_path, "--init", c.write("trunc.h5", b[:3000])]
    mpi("model_truncated", trunc_model, want="trunc.h5")
