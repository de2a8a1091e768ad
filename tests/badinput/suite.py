#!/usr/bin/env python3
"""Bad-input suite (issue 19): every case plants ONE defect in an otherwise good input and runs Shear on it.

usage: suite.py SHEAR WORKDIR [--tokenizer LLAMA2_TOKENIZER.json] [--mpirun "mpirun --oversubscribe ..."]
                [--only SUBSTRING]

Good inputs are built once under WORKDIR/fix (a synthetic token store from tests/train/make_store.py, a model
and checkpoints from a 2-step `shear train` of tests/train/deck.yaml, a Hugging Face folder from
tests/hf/make_hf.py imported with `shear import`, a small corpus for `shear prep`), each checked to work, then
every case runs in its own folder WORKDIR/cases/<area>_<name>.

What every case must do (the contract of issue 19):
  - exit status 1 (an error) or 2 (a usage error); never 0, never a signal (>= 128 or killed), within 60 s;
  - exit 1: the combined stdout+stderr holds exactly one line starting with `shear: error:`, and the text
    `shear: error:` occurs nowhere else (two ranks' messages run together in one line count as garbled);
  - exit 2: exactly one diagnostic line starting with `shear: ` or `shear <command>: ` (the usage text that
    may follow starts with `usage:` or blanks), and at most that one `shear: error:`;
  - afterwards no `*.tmp` file anywhere under WORKDIR, and none of the case's outputs (model file, token
    store, export folder, run.out_dir/model.h5) exists; a file the case says must be kept is unchanged.
Some cases also check that the message names the thing that is wrong (a substring).
Cases marked "expected" are the defects issue 19's fixes address; they fail until those fixes land.
One line per case, then a summary by area; exit 1 if any case failed.
"""
import argparse
import hashlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
for p in (HERE, os.path.join(ROOT, "tests", "hf"), os.path.join(ROOT, "tests", "ckpt"),
          os.path.join(ROOT, "validation")):
    sys.path.insert(0, p)

TIMEOUT = 60
ERR = "shear: error:"
DIAG = re.compile(r"^shear(?: [a-z]+)?: ")


class Case:
    def __init__(self, suite, area, name):
        self.suite, self.area, self.name = suite, area, name
        self.dir = os.path.join(suite.work, "cases", f"{area}_{name}")
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)

    def path(self, *p):
        return os.path.join(self.dir, *p)

    def write(self, name, data):
        p = self.path(name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
        return p


def digest(path):
    if os.path.isdir(path):
        return "dir"
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class Suite:
    def __init__(self, shear, work, mpirun, tokenizer, only):
        self.shear, self.work, self.mpirun, self.tokenizer, self.only = shear, work, mpirun, tokenizer, only
        self.results = []  # (area, name, ok, expected)
        self.names = set()
        self.env = dict(os.environ, OMP_NUM_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1",
                        OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_rmaps_base_oversubscribe="1")

    # ---- running ----
    def raw(self, argv, stdin=None, cwd=None, timeout=TIMEOUT):
        """(rc, combined output, seconds); rc None on timeout, negative for a signal."""
        t0 = time.time()
        p = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=cwd, env=self.env,
                             start_new_session=True)
        try:
            out, _ = p.communicate(stdin, timeout=timeout)
            rc = p.returncode
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            out, _ = p.communicate()
            rc = None
        return rc, out.decode("utf-8", "replace"), time.time() - t0

    def must(self, what, argv, **kw):
        rc, out, _ = self.raw(argv, **kw)
        if rc != 0:
            sys.exit(f"setup failed: {what}: exit {rc}\n  {' '.join(argv)}\n{out}")
        return out

    def py(self, what, *args):
        return self.must(what, [sys.executable] + list(args))

    def case(self, area, name, build, expected=None):
        """Registers and runs one case. build(c) plants the defect under c.dir and returns a dict:
        argv (list, without the shear binary; may start with the marker 'MPI2' for a 2-rank run), optional
        outputs (paths that must not exist afterwards), keep (paths that must be unchanged), stdin (bytes),
        want (a substring the error line must hold), cwd."""
        key = f"{area}/{name}"
        assert key not in self.names, key
        self.names.add(key)
        if self.only and self.only not in key:
            return
        c = Case(self, area, name)
        try:
            spec = build(c)
        except Exception as e:  # a broken case is a failure of the suite, not of Shear
            self.report(area, name, False, expected, "-", f"case could not be built: {e!r}")
            return
        if spec is None:
            return
        argv = list(spec["argv"])
        if argv and argv[0] == "MPI2":
            if not self.mpirun:
                print(f"skip {key}: no --mpirun given")
                return
            argv = self.mpirun + ["-np", "2", self.shear] + argv[1:]
        else:
            argv = [self.shear] + argv
        keep = {p: digest(p) for p in spec.get("keep", ())}
        rc, out, secs = self.raw(argv, stdin=spec.get("stdin"), cwd=spec.get("cwd"))
        lines = out.splitlines()
        errs = [l for l in lines if l.startswith(ERR)]
        diags = [l for l in lines if DIAG.match(l)]
        shown = (errs or diags or [l for l in lines if l.strip()][-1:] or ["(no output)"])[0]
        problems = []
        if rc is None:
            problems.append(f"did not finish within {TIMEOUT} s")
        elif rc < 0 or rc >= 128:
            problems.append(f"crashed (exit {rc}, signal {-rc if rc < 0 else rc - 128})")
        elif rc == 0:
            problems.append("exit 0: the defect was accepted")
        elif rc not in (1, 2):
            problems.append(f"exit {rc}, expected 1 or 2")
        if rc == 1:
            if len(errs) != 1 or out.count(ERR) != 1:
                problems.append(f"{len(errs)} lines start with '{ERR}' and it occurs {out.count(ERR)} times "
                                "(want exactly one line)")
        elif rc == 2:
            if len(diags) != 1 or out.count(ERR) > 1:
                problems.append(f"{len(diags)} diagnostic lines 'shear[ CMD]: ...' (want exactly one)")
        if rc in (1, 2) and spec.get("want") and not any(spec["want"] in l for l in errs + diags):
            problems.append(f"the message does not name '{spec['want']}'")
        for left in self.tmp_files():
            problems.append(f"left {os.path.relpath(left, self.work)}")
            os.remove(left)
        for o in spec.get("outputs", ()):
            if os.path.lexists(o):
                problems.append(f"left output {os.path.relpath(o, self.work)}")
        for p, d in keep.items():
            if not os.path.exists(p) or digest(p) != d:
                problems.append(f"changed or removed {os.path.relpath(p, self.work)}")
        ok = not problems
        detail = shown.strip()[:220]
        if not ok:
            detail += "\n       " + "; ".join(problems)
            detail += "\n       command: " + " ".join(shlex.quote(a) for a in argv)
            if spec.get("stdin") is not None:
                detail += f"  (stdin: {spec['stdin'][:80]!r})"
            tail = [l for l in lines if l.strip()][-6:]
            detail += "\n       output: " + "\n               ".join(l[:300] for l in tail)
        self.report(area, name, ok, expected, rc, detail, secs)

    def report(self, area, name, ok, expected, rc, detail, secs=0.0):
        self.results.append((area, name, ok, expected))
        tag = "ok  " if ok else ("FAIL" + (" (expected until fixed: " + expected + ")" if expected else ""))
        print(f"{tag} {area}/{name} [exit {rc}, {secs:.1f} s] {detail}", flush=True)

    def tmp_files(self):
        out = []
        for d, _, files in os.walk(self.work):
            out += [os.path.join(d, f) for f in files if f.endswith(".tmp")]
        return out

    # ---- good inputs ----
    def setup(self):
        import make_hf
        import ref_llama
        import st
        fx = self.fix = os.path.join(self.work, "fix")
        shutil.rmtree(fx, ignore_errors=True)
        os.makedirs(fx)
        t0 = time.time()
        self.store = os.path.join(fx, "tokens.h5")
        self.py("make_store", os.path.join(ROOT, "tests", "train", "make_store.py"), self.store)
        self.store2 = os.path.join(fx, "tokens_other.h5")
        self.py("make_store (other)", os.path.join(ROOT, "tests", "train", "make_store.py"), self.store2,
                "--seed", "11")
        self.deck_path = os.path.join(ROOT, "tests", "train", "deck.yaml")
        with open(self.deck_path) as f:
            self.deck_text = f.read()
        self.run_dir = os.path.join(fx, "run")
        self.must("2-step train", [self.shear, "train", self.deck_path] + self.train_sets(self.run_dir) +
                  ["--set", "run.ckpt_every=1"])
        self.model = os.path.join(self.run_dir, "model.h5")
        self.ckpt_dir = os.path.join(self.run_dir, "ckpt")
        with open(os.path.join(self.ckpt_dir, "LATEST")) as f:
            self.latest = f.read().strip()
        # Hugging Face folder of a small GQA model whose vocabulary is the synthetic tokenizer's (291)
        self.hf_cfg = ref_llama.Config(dim=16, n_layers=2, n_heads=4, n_kv_heads=2, head_dim=4, intermediate=24,
                                       vocab=st.TOKENIZER_VOCAB)
        self.hf_params = make_hf.random_params(self.hf_cfg, 5)
        self.hf = os.path.join(fx, "hf")
        make_hf.write_folder(self.hf, self.hf_cfg, self.hf_params, "F32", 1)
        self.hf_sharded = os.path.join(fx, "hf_sharded")
        make_hf.write_folder(self.hf_sharded, self.hf_cfg, self.hf_params, "F32", 2)
        self.imported = os.path.join(fx, "imported.h5")
        self.must("import", [self.shear, "import", "--from", self.hf, "--out", self.imported])
        self.mini_tok = os.path.join(self.hf, "tokenizer.json")
        # text for prep / eval --text / tokenize
        self.text = os.path.join(fx, "text.txt")
        with open(self.text, "w") as f:
            f.write(st.text(3))
        self.corpus = os.path.join(fx, "corpus")
        for i, dom in enumerate(["alpha", "beta"]):
            os.makedirs(os.path.join(self.corpus, dom))
            for j in range(3):
                with open(os.path.join(self.corpus, dom, f"doc{j}.txt"), "w") as f:
                    f.write(st.text(10 * i + j))
        self.prep_good = os.path.join(fx, "prep_good")
        os.makedirs(self.prep_good)
        self.must("prep", [self.shear, "prep", self.prep_deck(self.prep_good)])
        self.must("eval deck", [self.shear, "eval", self.deck_path, "--model", self.model] +
                  self.train_sets(os.path.join(fx, "evalrun"))[:2])
        self.must("eval --text", [self.shear, "eval", "--model", self.imported, "--tokenizer", self.mini_tok,
                                  "--text", self.text, "--seq-len", "16"])
        self.must("tokenize", [self.shear, "tokenize", "--tokenizer", self.mini_tok], stdin=b'{"text": "the cat"}\n')
        # a resume of the fixture run works (so checkpoint cases fail because of their defect)
        good = os.path.join(fx, "resume_good")
        shutil.copytree(self.ckpt_dir, os.path.join(good, "ckpt"))
        self.must("resume", [self.shear, "train", self.deck_path] + self.train_sets(good) + ["--set", "train.steps=3"])
        if self.tokenizer and not os.path.isfile(self.tokenizer):
            print(f"note: the LLaMA-2 tokenizer.json '{self.tokenizer}' does not exist "
                  "(tests/tokenizer.cmake's tokenizer_setup writes it with npm): its cases are skipped")
            self.tokenizer = None
        elif not self.tokenizer:
            print("note: no --tokenizer given: the LLaMA-2 tokenizer.json cases are skipped")
        left = self.tmp_files()
        if left:
            sys.exit(f"setup left {left}")
        print(f"setup: good inputs built and checked in {time.time() - t0:.1f} s", flush=True)

    def train_sets(self, out_dir, store=None):
        return ["--set", f"data.store={store or self.store}", "--set", f"run.out_dir={out_dir}",
                "--set", "train.steps=2", "--set", "optim.warmup=0", "--set", "run.threads=1"]

    def prep_deck(self, d, **over):
        keys = {"input_dir": self.corpus, "tokenizer": self.mini_tok, "out": os.path.join(d, "store.h5"),
                "seq_len": 16, "eval_seqs": 2, "seed": 5}
        keys.update(over)
        p = os.path.join(d, "prep.yaml")
        with open(p, "w") as f:
            f.write("prep:\n" + "".join(f"  {k}: {v}\n" for k, v in keys.items()))
        return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("shear")
    ap.add_argument("work")
    ap.add_argument("--tokenizer", default="")
    ap.add_argument("--mpirun", default="")
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    t0 = time.time()
    work = os.path.abspath(a.work)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    s = Suite(os.path.abspath(a.shear), work, shlex.split(a.mpirun), a.tokenizer, a.only)
    s.setup()
    import suite_inputs
    import suite_files
    suite_inputs.register(s)
    suite_files.register(s)
    n = len(s.results)
    passed = sum(1 for r in s.results if r[2])
    areas = []
    for area, *_ in s.results:
        if area not in areas:
            areas.append(area)
    by = ", ".join(f"{ar} {sum(1 for r in s.results if r[0] == ar)}" for ar in areas)
    failed = [r for r in s.results if not r[2]]
    print(f"{n} cases, {passed} passed, {n - passed} failed (by area: {by}) in {time.time() - t0:.0f} s")
    exp = [f"{r[0]}/{r[1]}" for r in failed if r[3]]
    real = [f"{r[0]}/{r[1]}" for r in failed if not r[3]]
    if exp:
        print(f"failing, expected until issue 19's fixes land ({len(exp)}): {' '.join(exp)}")
    if real:
        print(f"failing, not expected ({len(real)}): {' '.join(real)}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
