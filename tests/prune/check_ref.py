#!/usr/bin/env python3
"""dbl.reference: source without a second source model. Prune (and train from prune.source itself) measures the
source's per-domain losses on the run's own model before its first step; train from another model file loads a
frozen copy of prune.source. Both must give the same reference losses bit for bit (the records print %.17g), the
copy must show in the memory estimate and only there, and the on-model runs must train exactly as before.
Usage: check_ref.py SHEAR DECK MODEL.h5 TOKENS.h5 WORK_DIR"""
import json
import os
import shutil
import subprocess
import sys

shear, deck, model, store, work = sys.argv[1:6]
ok = fail = 0


def check(cond, msg):
    global ok, fail
    print(("ok   " if cond else "FAIL ") + msg)
    ok, fail = ok + bool(cond), fail + (not cond)
    return cond


def run(cmd, name, *sets):
    out_dir = os.path.join(work, name)
    shutil.rmtree(out_dir, ignore_errors=True)
    args = [shear, cmd, deck, "--set", f"data.store={store}", "--set", f"run.out_dir={out_dir}", "--set",
            "run.threads=1", "--set", "train.steps=3", "--set", "optim.warmup=1", "--set", "dbl.interval=1"]
    for s in sets:
        args += ["--set", s]
    p = subprocess.run(args, capture_output=True, text=True, timeout=300)
    log = p.stdout + p.stderr
    if not check(p.returncode == 0, f"{name}: shear {cmd} ran (rc {p.returncode})"):
        print(log[-2000:])
        sys.exit(1)
    recs = [json.loads(l) for l in open(os.path.join(out_dir, "metrics.jsonl"))]
    dbl = [r for r in recs if r["event"] == "dbl"]
    steps = [r.get("loss", r.get("lm_loss")) for r in recs if r["event"] == "step"]
    est = [l for l in log.splitlines() if "memory estimate per rank" in l]
    return dbl[0]["reference"] if dbl else None, steps, est[0] if est else "", log


os.makedirs(work, exist_ok=True)
copy = os.path.join(work, "source_copy.h5")  # the same weights under another file: the run's model is not it
shutil.copyfile(model, copy)
ref_copy, steps_copy, est_copy, _ = run("train", "train_copy", f"train.init={model}", f"prune.source={copy}")
ref_same, steps_same, est_same, log_same = run("train", "train_same", f"train.init={model}", f"prune.source={model}")
ref_prune, _, est_prune, log_prune = run("prune", "prune", f"prune.source={model}")

check(ref_copy is not None and len(ref_copy) >= 2, f"the frozen copy's reference losses {ref_copy}")
check(ref_same == ref_copy, f"train from prune.source itself: the same losses measured on the run's model {ref_same}")
check(ref_prune == ref_copy, f"prune: the same losses measured on the model being pruned, ungated {ref_prune}")
check(steps_same == steps_copy and len(steps_same) == 3,
      f"train from prune.source itself trains as with the copy: LM losses {steps_same}")
check("DBL reference model" in est_copy, "the copy is in the memory estimate: " + est_copy.split(": ", 1)[-1])
check(est_same and "DBL reference model" not in est_same, "no copy in train's estimate when its model is the source")
check(est_prune and "DBL reference model" not in est_prune, "no copy in prune's estimate")
for name, log in (("train_same", log_same), ("prune", log_prune)):
    check("dbl: rule paper, reference (source):" in log, f"{name}: the reference losses are logged")
print(f"{ok} passed, {fail} failed")
sys.exit(1 if fail else 0)
