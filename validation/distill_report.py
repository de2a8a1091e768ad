#!/usr/bin/env python3
"""Report of validation/distill_vs_plain.sh: per-domain final eval loss of continued pre-training with and without
distillation, the eval KD loss against the teacher, and the loss curves (PNG). The runs' step times are kept in
the JSON only: they ran one after another on a shared machine; the cost of distillation is measured side by side
by validation/bench/distill_bench.sh.
Usage: distill_report.py RUNS_DIR OUT_PREFIX"""
import json
import os
import statistics
import subprocess
import sys

runs_dir, prefix = sys.argv[1], sys.argv[2]
RUNS = [("plain", "no teacher"), ("alpha0.5", "distillation, alpha 0.5"), ("alpha1.0", "distillation, alpha 1.0")]


def recs(run):
    return [json.loads(l) for l in open(os.path.join(runs_dir, run, "metrics.jsonl"))]


def final_eval(run):
    return [r for r in recs(run) if r["event"] == "eval"][-1]


def steps(run):
    return [r for r in recs(run) if r["event"] == "step"]


ev = {run: final_eval(run) for run, _ in RUNS}
# the plain run's KD losses come from its alpha-0 twin (bitwise the same training, with the teacher logged)
twin = final_eval("plain_kd0")
assert twin["losses"] == ev["plain"]["losses"], "alpha 0 must be bitwise plain training"
kd = {"plain": twin["kd_losses"], "alpha0.5": ev["alpha0.5"]["kd_losses"], "alpha1.0": ev["alpha1.0"]["kd_losses"]}
names = list(ev["plain"]["losses"])
res = {}
rows = []
for run, label in RUNS:
    st = steps(run)
    step_s = statistics.median(r["step_s"] for r in st[1:])
    tokens = st[-1]["tokens"]
    avg = ev[run]["average_loss"]
    kd_avg = sum(kd[run].values()) / len(names)
    res[run] = {"losses": ev[run]["losses"], "average_loss": avg, "kd_losses": kd[run], "kd_average": kd_avg,
                "median_step_s": step_s, "tokens": tokens, "steps": len(st)}
    rows.append(f"| {label} | " + " | ".join(f"{ev[run]['losses'][n]:.4f}" for n in names) +
                f" | **{avg:.4f}** | {kd_avg:.4f} |")
for run, _ in RUNS:
    res[run]["step_time_vs_plain"] = res[run]["median_step_s"] / res["plain"]["median_step_s"]
table = ("| continued pre-training | " + " | ".join(names) + " | average | eval KD vs teacher |\n"
         "|---|" + "---:|" * (len(names) + 2) + "\n" + "\n".join(rows) + "\n")
with open(prefix + ".md", "w") as f:
    f.write("# Continued pre-training with and without distillation from the source\n\n"
            "Per-domain eval loss (LM) after 200 steps of continued pre-training of the sheared tiny model; "
            "'eval KD vs teacher' is the mean KD term (T = 1) against the source model on the eval splits.\n\n"
            + table + f"\nEvery run: {res['plain']['tokens']:,} tokens in {res['plain']['steps']} steps. Extra compute of "
            "the distilled runs: the teacher's forward on every micro-batch (measured by "
            "validation/bench/distill_bench.sh).\n")
with open(prefix + ".json", "w") as f:
    json.dump(res, f, indent=1)
# the LM loss per step of each run (training batches) and the KD loss of the distilled ones
data = os.path.join(os.path.dirname(prefix) or ".", os.path.basename(prefix) + ".dat.tmp")
with open(data, "w") as f:
    for run, _ in RUNS:
        f.write(f"# {run}\n")
        for r in steps(run):
            f.write(f"{r['step']} {r.get('lm_loss', r['loss'])} {r.get('kd_loss', 'nan')}\n")
        f.write("\n\n")
gp = f"""set terminal pngcairo size 1000,420
set output '{prefix}.png'
set multiplot layout 1,2
set title 'LM loss of the training batches'
set xlabel 'step'
plot '{data}' index 0 using 1:2 with lines title 'no teacher', '' index 1 using 1:2 with lines title 'alpha 0.5', \\
     '' index 2 using 1:2 with lines title 'alpha 1.0'
set title 'KD loss against the source (distilled runs)'
plot '{data}' index 1 using 1:3 with lines title 'alpha 0.5', '' index 2 using 1:3 with lines title 'alpha 1.0'
unset multiplot
"""
subprocess.run(["gnuplot"], input=gp, text=True, check=True)
os.remove(data)
print(open(prefix + ".md").read())
