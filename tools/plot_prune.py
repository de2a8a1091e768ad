#!/usr/bin/env python3
"""Draws the Lagrangian dynamics and mask statistics of a `shear prune` run as one PNG (gnuplot, pngcairo):
LM loss and Lagrangian term; expected vs target sparsity per mask type; lambda1/lambda2 per type; expected
number of prunable parameters. Usage: plot_prune.py RUN_DIR/metrics.jsonl OUT.png"""
import json
import os
import subprocess
import sys
import tempfile

if len(sys.argv) != 3:
    sys.exit("usage: plot_prune.py METRICS.jsonl OUT.png")
steps = [json.loads(l) for l in open(sys.argv[1]) if '"event":"step"' in l]
if not steps or "lagrangian" not in steps[0]:
    sys.exit(f"{sys.argv[1]}: no prune steps (expected lines with \"event\":\"step\" and \"lagrangian\")")
types = [t for t in ("layer", "head_layer", "mlp", "head", "intermediate", "hidden") if t in steps[0]]
tmp = tempfile.mkdtemp(prefix="shear-plot-")
dat = os.path.join(tmp, "prune.tsv")
with open(dat, "w") as f:
    for s in steps:
        row = [s["step"], s["lm_loss"], s["lagrangian"], s["expected_params"] / 1e6]
        for t in types:
            row += [s[t]["expected_sparsity"], s[t]["target_sparsity"], s[t]["lambda1"], s[t]["lambda2"]]
        f.write("\t".join(str(v) for v in row) + "\n")
col = {t: 5 + 4 * i for i, t in enumerate(types)}
sp = ", ".join(f"'{dat}' u 1:{col[t]} w l lw 2 t '{t} expected', '{dat}' u 1:{col[t] + 1} w l dt 2 t '{t} target'"
               for t in types)
lam = ", ".join(f"'{dat}' u 1:{col[t] + 2} w l lw 2 t '{t} {chr(955)}1', '{dat}' u 1:{col[t] + 3} w l dt 2 t '{t} {chr(955)}2'"
                for t in types)
script = f"""
set terminal pngcairo noenhanced size 1400,1000 font ',11'
set output '{sys.argv[2]}'
set multiplot layout 2,2 title 'shear prune: {os.path.dirname(os.path.abspath(sys.argv[1]))}'
set grid; set key outside right; set xlabel 'step'
set title 'losses'; plot '{dat}' u 1:2 w l lw 2 t 'LM loss', '{dat}' u 1:3 w l lw 2 t 'Lagrangian'
set title 'expected vs target sparsity'; set yrange [0:1]; plot {sp}
set title 'Lagrange multipliers'; set autoscale y; plot {lam}
set title 'expected prunable parameters (M)'; plot '{dat}' u 1:4 w l lw 2 t 'E[params]'
unset multiplot
"""
subprocess.run(["gnuplot"], input=script.encode(), check=True)
print(f"wrote {sys.argv[2]}")
