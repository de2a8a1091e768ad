"""check_decks.py SHEAR WORKDIR [--gpu-mem SIZE] DECK_DIR...: every deck of the real runs is read and validated
by `shear` itself up to the point where it would load weights, without a GPU, a token store or a model.

DECK_DIR holds prep*.yaml, prune-NAME.yaml, continue-NAME.yaml and source.config.json (the Hugging Face config.json
of the source model the decks are written for). Each deck runs in WORKDIR/<dir>/<deck>/ (the decks' relative
paths resolve there; inputs/ is a link to the repository's, so the tokenizer paths resolve):
  prep      `shear prep DECK` must get past the deck (every key known, every value in range) and stop at the
            missing prep.input_dir (or, where the tokenizer was never fetched, at prep.tokenizer)
  prune     prune.source is a model file holding only /config (the source's shape and family, from
            source.config.json); `mpirun -np R shear prune DECK --set run.device=cpu` checks the deck, the target
            against the source (GQA group, masks, feasibility) and prints the memory estimate of R ranks; the
            weights' allocation then fails on purpose (ulimit -v): the error must be exactly that allocation,
            4 x the source's parameter count in bytes, so nothing before it failed
  continue  the same with train.init a /config-only file of the prune deck's target shape (continue-NAME.yaml
            <- prune-NAME.yaml): 4 x the target's parameter count
Without --gpu-mem the decks are checked as input only, on one rank, with the memory check off
(SHEAR_MEM_AVAILABLE=1T). With --gpu-mem 78G they run on R ranks, the rank count of the deck's own command line
(--nodes=N --ntasks-per-node=G in its comments), and every train and prune deck must fit its estimate in that
much memory per GPU (an 80 GB H100 or A100 has about 79 GiB free to a process). A continue deck with
dbl.reference: source also gets its prune.source as a /config-only file: train holds a frozen copy of it for the
reference losses, and its estimate must count that copy (at least 4 x the source's parameter count), not the
trained model.
Exit 1 when any deck fails."""
import json
import os
import re
import subprocess
import sys

import h5py
import numpy as np
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(HERE, "..", "hf"))
import st  # noqa: E402  (puts validation/ on the path)
import ref_llama as R  # noqa: E402

MPIRUN = os.environ.get("MPIRUN", "mpirun --oversubscribe --allow-run-as-root").split()
VMEM_KB = 4 * 1024 * 1024  # ulimit -v for train / prune: far below any real model's weights
fails = 0


def ok(cond, msg):
    global fails
    print(("ok   " if cond else "FAIL ") + msg)
    fails += not cond
    return cond


def write_config_only(path, c):
    """A Shear model file with /config only (ref_llama's attribute layout, no /weights): enough for
    modelfile_read_config, which is all a run reads before the memory estimate and the allocation."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with h5py.File(path, "w") as f:
        R.write_config(f, c)


def n_params(c):
    return sum(int(np.prod(s)) for s in R.param_shapes(c).values())


def target_of(c, prune):
    """The finalized shape: prune.target_* (0 keeps the source's), the GQA group size kept (cmd_prune.c)."""
    group = c.n_heads // c.n_kv_heads
    heads = prune.get("target_n_heads", 0) or c.n_heads
    return R.Config(**{**c.__dict__, "dim": prune.get("target_dim", 0) or c.dim,
                       "n_layers": prune.get("target_n_layers", 0) or c.n_layers, "n_heads": heads,
                       "n_kv_heads": heads // group,
                       "intermediate": prune.get("target_intermediate", 0) or c.intermediate})


def ranks_of(text):
    nodes = re.search(r"--nodes=(\d+)", text)
    per = re.search(r"--ntasks-per-node=(\d+)", text)
    if not per:
        return None
    return (int(nodes.group(1)) if nodes else 1) * int(per.group(1))


def run(cmd, cwd, env, vmem=None):
    pre = f"ulimit -v {vmem}; " if vmem else ""
    p = subprocess.run(["bash", "-c", pre + 'exec "$@"', "bash", *cmd], cwd=cwd, env=env, capture_output=True,
                       text=True, timeout=300)
    return p.returncode, p.stdout + p.stderr


def errors_of(out):
    """The distinct `shear: error:` messages, without the `rank N:` that an error of one rank carries."""
    parts = re.split(r"shear: error: (?:rank \d+: )?", out)[1:]
    return sorted(set(p.split("\n")[0].strip() for p in parts) - {""})


UNITS = {"B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}


def size_of(text):
    """Bytes of a size as memest prints it ("68.67 GiB")."""
    v, u = text.split()
    return float(v) * UNITS[u]


def check_prep(shear, deck, work, env):
    d = yaml.safe_load(open(deck))
    rc, out = run([shear, "prep", deck], work, env)
    errs = errors_of(out)
    tok = d["prep"]["tokenizer"]
    if os.path.exists(os.path.join(work, tok)):
        want = d["prep"]["input_dir"]
        good = rc == 1 and len(errs) == 1 and f"'{want}" in errs[0]
        ok(good, f"{os.path.basename(deck)}: read and validated; stops at the missing prep.input_dir '{want}'"
           + ("" if good else f": rc {rc}, errors {errs or out[-500:]}"))
    else:
        good = rc == 1 and len(errs) == 1 and tok in errs[0] and "prep.tokenizer" in errs[0]
        ok(good, f"{os.path.basename(deck)}: read and validated; stops at prep.tokenizer '{tok}' (not fetched: "
           f"bash inputs/tokenizer/fetch_bytelevel.sh)" + ("" if good else f": rc {rc}, errors {errs or out[-500:]}"))


def estimate(shear, cmd, deck, work, env, ranks, sets, gpu_mem):
    """(exit code, output, memory estimate line or None) of the deck on `ranks` ranks (1: no mpirun), stopped
    at the weights."""
    launch = MPIRUN + ["-np", str(ranks)] if ranks > 1 else []  # the estimate shards over the ranks (run.zero)
    rc, out = run(launch + [shear, cmd, deck] + sets, work,
                  dict(env, SHEAR_MEM_AVAILABLE=gpu_mem or "1T", OMP_NUM_THREADS="1"), VMEM_KB)
    est = re.search(r"memory estimate per rank: (.*)", out)
    return rc, out, est.group(1) if est else None


def check_run(shear, cmd, deck, work, env, model_cfg, model_path, gpu_mem, source=None):
    name = os.path.basename(deck)
    text = open(deck).read()
    d = yaml.safe_load(text)
    ranks = ranks_of(text)
    if not ok(ranks is not None, f"{name}: its command line names the GPUs (--ntasks-per-node=G [--nodes=N])"):
        return
    write_config_only(os.path.join(work, model_path), model_cfg)
    if source is not None:
        write_config_only(os.path.join(work, d["prune"]["source"]), source)
    P = n_params(model_cfg)
    sets = ["--set", "run.threads=1"] + (["--set", "run.device=cpu"] if d.get("run", {}).get("device") == "cuda" else [])
    rc, out, est = estimate(shear, cmd, deck, work, env, ranks if gpu_mem else 1, sets, gpu_mem)
    print(f"     {name}: {ranks if gpu_mem else 1} rank(s), {model_path}: d {model_cfg.dim}, L {model_cfg.n_layers}, H "
          f"{model_cfg.n_heads}/{model_cfg.n_kv_heads}, hd {model_cfg.head_dim}, I {model_cfg.intermediate}, V "
          f"{model_cfg.vocab}, {model_cfg.model_type}{', tied' if model_cfg.tie_embeddings else ''}: {P:,} parameters")
    if est:
        print(f"     memory estimate per rank: {est}")
    errs = errors_of(out)
    want = f"out of host memory allocating {4 * P} bytes"
    # before the first step every rank fails the same way: rank 0 says it once, every rank exits with 1
    good = rc == 1 and len(errs) == 1 and errs[0].startswith(want)
    why = "" if good else f": rc {rc}, errors {errs or out[-800:]}"
    if gpu_mem:
        ok(good, f"{name}: fits {gpu_mem} per GPU on {ranks} GPUs and validates up to the weights ({want})" + why)
    else:
        ok(good, f"{name}: read and validated up to the weights ({want})" + why)
    ref = re.search(r"DBL reference model ([0-9.]+ \w+)", est or "")
    if source is None:
        ok(ref is None, f"{name}: no DBL reference model beside the run's own" + (f" ({ref.group(1)})" if ref else ""))
        return
    # the frozen copy of prune.source: its weights at least (plus one block of activations)
    ok(ref is not None and size_of(ref.group(1)) >= 4 * n_params(source) * 0.999,
       f"{name}: the estimate holds prune.source ({n_params(source):,} parameters) as the DBL reference model"
       + (f": {ref.group(1)}" if ref else ": no reference term"))


def main():
    args = sys.argv[1:]
    gpu_mem = None
    if "--gpu-mem" in args:
        i = args.index("--gpu-mem")
        gpu_mem = args[i + 1]
        del args[i:i + 2]
    if len(args) < 3:
        print(__doc__)
        sys.exit(2)
    shear, workdir, dirs = os.path.abspath(args[0]), os.path.abspath(args[1]), args[2:]
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    for deck_dir in dirs:
        deck_dir = os.path.abspath(deck_dir)
        with open(os.path.join(deck_dir, "source.config.json")) as f:
            src = st.config_from_hf(json.load(f))
        src.check()
        decks = sorted(f for f in os.listdir(deck_dir) if f.endswith((".yaml", ".yml")))
        print(f"--- {deck_dir}: {len(decks)} decks; source {src.model_type}, {n_params(src):,} parameters")
        for deck in decks:
            stem = os.path.splitext(deck)[0]
            work = os.path.join(workdir, os.path.basename(deck_dir), stem)
            subprocess.run(["rm", "-rf", work], check=True)
            os.makedirs(work)
            os.symlink(os.path.join(ROOT, "inputs"), os.path.join(work, "inputs"))
            path = os.path.join(deck_dir, deck)
            if stem.startswith("prep"):
                if not gpu_mem:  # prep has no memory estimate
                    check_prep(shear, path, work, env)
            elif stem.startswith("prune-"):
                d = yaml.safe_load(open(path))
                check_run(shear, "prune", path, work, env, src, d["prune"]["source"], gpu_mem)
            elif stem.startswith("continue-"):
                pair = os.path.join(deck_dir, "prune-" + stem[len("continue-"):] + ".yaml")
                if not ok(os.path.exists(pair), f"{deck}: its prune deck {os.path.basename(pair)} exists"):
                    continue
                tgt = target_of(src, yaml.safe_load(open(pair))["prune"])
                d = yaml.safe_load(open(path))
                ref_src = src if d.get("dbl", {}).get("reference") == "source" and \
                    d.get("dbl", {}).get("rule", "paper") != "constant" else None
                check_run(shear, "train", path, work, env, tgt, d["train"]["init"], gpu_mem, ref_src)
            else:
                ok(False, f"{deck}: not a prep*, prune-* or continue-* deck")
    print(f"{'FAILED' if fails else 'passed'}: {fails} failure(s)")
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
