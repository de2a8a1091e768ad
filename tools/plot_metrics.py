#!/usr/bin/env python3
"""Plots of Shear runs from their metrics.jsonl (gnuplot, pngcairo; no Python packages beyond the stdlib).
  plot_metrics.py losses OUT.png LABEL=RUN_DIR...  training loss (train: loss, prune: LM loss) against tokens
  plot_metrics.py dbl OUT.png RUN_DIR                per-domain (loss - reference) and proportions over steps
"""
import json
import os
import subprocess
import sys
import tempfile


def records(run):
    path = os.path.join(run, "metrics.jsonl")
    if not os.path.exists(path):
        sys.exit(f"{path} does not exist: expected the metrics of a finished run")
    return [json.loads(l) for l in open(path)]


def gnuplot(script):
    subprocess.run(["gnuplot"], input=script.encode(), check=True)


def losses(out, runs):
    tmp = tempfile.mkdtemp(prefix="shear-plot-")
    plots = []
    for i, spec in enumerate(runs):
        label, run = spec.split("=", 1)
        dat = os.path.join(tmp, f"{i}.tsv")
        tokens = 0
        with open(dat, "w") as f:
            for r in records(run):
                if r["event"] != "step":
                    continue
                tokens = r.get("tokens", tokens + r.get("tok_s", 0) * r.get("step_s", 0))
                f.write(f"{tokens / 1e6}\t{r.get('loss', r.get('lm_loss'))}\n")
        plots.append(f"'{dat}' u 1:2 w l lw 2 t '{label}'")
    gnuplot(f"""set terminal pngcairo noenhanced size 1000,600 font ',11'
set output '{out}'
set grid; set key top right; set xlabel 'tokens seen by the run (M)'; set ylabel 'training loss'
set title 'training loss'
plot {', '.join(plots)}
""")


def dbl(out, run):
    recs = [r for r in records(run) if r["event"] == "dbl"]
    if not recs:
        sys.exit(f"{run}/metrics.jsonl has no dbl records (dbl.rule constant?)")
    names = list(recs[0]["losses"])
    tmp = tempfile.mkdtemp(prefix="shear-plot-")
    dat = os.path.join(tmp, "dbl.tsv")
    with open(dat, "w") as f:
        for r in recs:
            row = [r["step"]] + [r["losses"][n] - r["reference"][n] for n in names] + \
                  [r["weights_after"][n] for n in names]
            f.write("\t".join(str(v) for v in row) + "\n")
    k = len(names)
    gap = ", ".join(f"'{dat}' u 1:{2 + i} w lp lw 2 t '{n}'" for i, n in enumerate(names))
    prop = ", ".join(f"'{dat}' u 1:{2 + k + i} w lp lw 2 t '{n}'" for i, n in enumerate(names))
    gnuplot(f"""set terminal pngcairo noenhanced size 1400,600 font ',11'
set output '{out}'
set multiplot layout 1,2 title 'dynamic batch loading: {run}'
set grid; set key outside right; set xlabel 'step'
set title 'per-domain eval loss - reference'; plot {gap}
set title 'domain proportions'; set logscale y; plot {prop}
unset multiplot
""")


if len(sys.argv) < 4 or sys.argv[1] not in ("losses", "dbl"):
    sys.exit(__doc__)
if sys.argv[1] == "losses":
    losses(sys.argv[2], sys.argv[3:])
else:
    dbl(sys.argv[2], sys.argv[3])
print(f"wrote {sys.argv[2]}")
