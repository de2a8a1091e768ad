#!/usr/bin/env python3
"""Report of validation/dbl_vs_constant.sh: per-domain final loss - reference for DBL and constant runs at each
budget, the spread max-min of those gaps, the average loss, and the DBL proportions over steps (PNG).
Usage: dbl_report.py RUNS_DIR OUT_PREFIX"""
import glob
import json
import os
import subprocess
import sys

runs_dir, prefix = sys.argv[1], sys.argv[2]


def recs(run):
    return [json.loads(l) for l in open(os.path.join(run, "metrics.jsonl"))]


ref = None
for run in sorted(glob.glob(os.path.join(runs_dir, "paper_*"))):
    d = [r for r in recs(run) if r["event"] == "dbl"]
    ref = d[0]["reference"]
if ref is None:
    sys.exit(f"no paper_* runs with dbl records in {runs_dir}")
names = list(ref)
rows, res = [], {}
for run in sorted(glob.glob(os.path.join(runs_dir, "*_*")), key=lambda p: (int(p.rsplit("_", 1)[1]), p)):
    rule, steps = os.path.basename(run).rsplit("_", 1)
    ev = [r for r in recs(run) if r["event"] == "eval"][-1]
    gaps = {n: ev["losses"][n] - ref[n] for n in names}
    spread = max(gaps.values()) - min(gaps.values())
    res[f"{rule}_{steps}"] = {"gaps": gaps, "spread": spread, "average_loss": ev["average_loss"],
                              "max_gap": max(gaps.values())}
    rows.append(f"| {rule} | {steps} | " + " | ".join(f"{gaps[n]:+.3f}" for n in names) +
                f" | {max(gaps.values()):.3f} | {spread:.3f} | {ev['average_loss']:.4f} |")
dbl_runs = sorted(glob.glob(os.path.join(runs_dir, "paper_*")), key=lambda p: int(p.rsplit("_", 1)[1]))
last = [r for r in recs(dbl_runs[-1]) if r["event"] == "dbl"]
w0, w1 = last[0]["weights_before"], last[-1]["weights_after"]
table = ("| rule | steps | " + " | ".join(names) + " | max gap | spread (max-min) | average loss |\n|---|---:|" +
         "---:|" * (len(names) + 3) + "\n" + "\n".join(rows) + "\n")
shift = "| domain | reference | initial weight | final DBL weight |\n|---|---:|---:|---:|\n" + "\n".join(
    f"| {n} | {ref[n]:.4f} | {w0[n]:.4f} | {w1[n]:.4f} |" for n in names) + "\n"
text = ("Per-domain eval loss minus reference (the source model's loss) after continued pre-training of the sheared\n"
        f"tiny model, DBL (paper rule) vs constant proportions:\n\n{table}\nProportions of the longest DBL run:\n\n"
        f"{shift}")
open(prefix + ".md", "w").write(text)
json.dump({"reference": ref, "runs": res, "weights_initial": w0, "weights_final": w1}, open(prefix + ".json", "w"),
          indent=1)
subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "..", "tools", "plot_metrics.py"), "dbl",
                prefix + ".png", dbl_runs[-1]], check=True)
print(text)
