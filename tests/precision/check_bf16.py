#!/usr/bin/env python3
"""run.precision: bf16 in the real commands, on the CPU backend: train and prune runs of the test decks in bf16
against the same runs in fp32 (every 10th step's loss within 2%, and not equal: the GEMMs really were rounded),
exact restart of a bf16 run, and checkpoints crossing precisions (an fp32 checkpoint resumed in bf16 and the
other way round: both hold fp32 master weights, so each continues within 2% of the run it came from).
Usage: check_bf16.py SHEAR TRAIN_DECK PRUNE_DECK TOKENS.h5 SOURCE.h5 WORK_DIR"""
import json
import os
import shutil
import subprocess
import sys

shear, train_deck, prune_deck, store, source, work = sys.argv[1:7]
ok = fail = 0


def check(cond, msg):
    global ok, fail
    print(("ok   " if cond else "FAIL ") + msg)
    ok, fail = ok + bool(cond), fail + (not cond)
    return cond


def run(cmd, deck, name, precision, *sets, fresh=True):
    out = os.path.join(work, name)
    if fresh:
        shutil.rmtree(out, ignore_errors=True)
    args = [shear, cmd, deck, "--set", f"data.store={store}", "--set", f"run.out_dir={out}", "--set",
            "run.threads=2", "--set", f"run.precision={precision}", "--set", "run.ckpt_every=10",
            "--set", "run.keep_last=0"]
    if cmd == "prune":
        args += ["--set", f"prune.source={source}"]
    for s in sets:
        args += ["--set", s]
    p = subprocess.run(args, capture_output=True, text=True, timeout=600)
    log = p.stdout + p.stderr
    if not check(p.returncode == 0, f"{name}: shear {cmd} --set run.precision={precision} (rc {p.returncode})"):
        print(log[-3000:])
        sys.exit(1)
    recs = [json.loads(line) for line in open(os.path.join(out, "metrics.jsonl"))]
    key = "lm_loss" if cmd == "prune" else "loss"
    return {r["step"]: r[key] for r in recs if r["event"] == "step"}, log


def close(a, b, steps, what):
    worst = max(abs(a[s] - b[s]) / abs(b[s]) for s in steps)
    check(worst < 0.02, f"{what}: steps {steps[0]}..{steps[-1]} every 10th within 2% (worst {worst:.2e})")
    return worst


os.makedirs(work, exist_ok=True)
last = {}
for cmd, deck in (("train", train_deck), ("prune", prune_deck)):
    f32, _ = run(cmd, deck, f"{cmd}_fp32", "fp32")
    b16, log = run(cmd, deck, f"{cmd}_bf16", "bf16")
    steps = [s for s in sorted(f32) if s % 10 == 0]
    close(b16, f32, steps, f"{cmd} bf16 vs fp32")
    check(any(b16[s] != f32[s] for s in f32), f"{cmd} bf16 differs from fp32 (the GEMMs were rounded): step 1 "
          f"{b16[1]:.6f} vs {f32[1]:.6f}")
    last[cmd] = max(f32)

# exact restart in bf16: resumed from its own step-10 checkpoint, it ends on the same state bit for bit
src = os.path.join(work, "train_bf16", "ckpt", "step_00000010.h5")
res = os.path.join(work, "train_bf16_resumed")
shutil.rmtree(res, ignore_errors=True)
os.makedirs(os.path.join(res, "ckpt"))
shutil.copy(src, os.path.join(res, "ckpt"))
open(os.path.join(res, "ckpt", "LATEST"), "w").write("step_00000010.h5\n")
b16r, log = run("train", train_deck, "train_bf16_resumed", "bf16", fresh=False)
check("resumed from" in log, "bf16 resumed from its step-10 checkpoint")
final = f"step_{last['train']:08d}.h5"
same = subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "resume",
                                         "same_state.py"), os.path.join(res, "ckpt", final),
                       os.path.join(work, "train_bf16", "ckpt", final), "--exact"]).returncode == 0
check(same, f"bf16 resumed at step 10 ends in the straight run's state bit for bit ({final}: weights, Adam, sampler)")

# checkpoints across precisions: the step-10 fp32 checkpoint resumed in bf16 and the bf16 one in fp32
for frm, to in (("fp32", "bf16"), ("bf16", "fp32")):
    name = f"train_{frm}_to_{to}"
    d = os.path.join(work, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "ckpt"))
    shutil.copy(os.path.join(work, f"train_{frm}", "ckpt", "step_00000010.h5"), os.path.join(d, "ckpt"))
    open(os.path.join(d, "ckpt", "LATEST"), "w").write("step_00000010.h5\n")
    got, log = run("train", train_deck, name, to, fresh=False)
    check("resumed from" in log, f"{name}: the {frm} checkpoint resumed in {to}")
    with open(os.path.join(work, f"train_{frm}", "metrics.jsonl")) as f:
        base = {r["step"]: r["loss"] for r in map(json.loads, f) if r["event"] == "step"}
    steps = [s for s in sorted(got) if s > 10 and s % 10 == 0]
    close(got, base, steps, f"{name} vs the {frm} run it came from")


def exported_dtypes(model, name, *extra):
    """shear export of model (with extra options) -> the set of tensor dtypes in its safetensors."""
    out = os.path.join(work, name)
    shutil.rmtree(out, ignore_errors=True)
    p = subprocess.run([shear, "export", "--model", model, "--out", out, *extra], capture_output=True, text=True)
    if not check(p.returncode == 0, f"shear export --model {os.path.relpath(model, work)} {' '.join(extra)}"):
        print(p.stdout + p.stderr)
        return set()
    kinds = set()
    for f in os.listdir(out):
        if f.endswith(".safetensors"):
            with open(os.path.join(out, f), "rb") as fh:
                n = int.from_bytes(fh.read(8), "little")
                head = json.loads(fh.read(n))
            kinds |= {v["dtype"] for k, v in head.items() if k != "__metadata__"}
    return kinds


# a model trained in bf16 exports in bf16 by default (finalize carries it from a bf16 prune); fp32 stays F32
p = subprocess.run([shear, "info", os.path.join(work, "train_bf16", "model.h5")], capture_output=True, text=True)
check("trained with run.precision: bf16" in p.stdout, "shear info names the precision the model was trained in")
d = exported_dtypes(os.path.join(work, "train_bf16", "model.h5"), "export_bf16")
check(d == {"BF16"}, f"train in bf16 -> export writes {sorted(d)}, expected BF16")
d = exported_dtypes(os.path.join(work, "train_bf16", "model.h5"), "export_bf16_f32", "--dtype", "f32")
check(d == {"F32"}, f"--dtype f32 overrides it: {sorted(d)}")
d = exported_dtypes(os.path.join(work, "train_fp32", "model.h5"), "export_fp32")
check(d == {"F32"}, f"train in fp32 -> export writes {sorted(d)}, expected F32")
fin = os.path.join(work, "prune_bf16_final.h5")
p = subprocess.run([shear, "finalize", "--in", os.path.join(work, "prune_bf16", "pruned.h5"), "--out", fin],
                   capture_output=True, text=True)
check(p.returncode == 0, "shear finalize of the bf16 prune")
d = exported_dtypes(fin, "export_prune_bf16")
check(d == {"BF16"}, f"prune in bf16 -> finalize -> export writes {sorted(d)}, expected BF16")
# shear eval (deck mode) follows run.precision: the bf16 model evaluated with bf16 GEMMs and with fp32 ones
ev = {}
for prec in ("fp32", "bf16"):
    p = subprocess.run([shear, "eval", train_deck, "--model", os.path.join(work, "train_bf16", "model.h5"), "--set",
                        f"data.store={store}", "--set", f"run.precision={prec}", "--json"], capture_output=True,
                       text=True)
    if check(p.returncode == 0, f"shear eval --set run.precision={prec}"):
        ev[prec] = json.loads(p.stdout)["average_loss"]
if len(ev) == 2:
    check(ev["bf16"] != ev["fp32"] and abs(ev["bf16"] - ev["fp32"]) / ev["fp32"] < 0.01,
          f"shear eval in bf16 {ev['bf16']:.6f} vs fp32 {ev['fp32']:.6f}: rounded, within 1%")
print(f"{ok} passed, {fail} failed")
sys.exit(1 if fail else 0)
