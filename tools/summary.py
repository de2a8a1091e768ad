#!/usr/bin/env python3
"""The embedded default's summary table: per-domain eval loss of every model, from `shear eval DECK --json`
outputs. Usage: summary.py OUT.md LABEL=EVAL.json..."""
import json
import sys

if len(sys.argv) < 3:
    sys.exit(__doc__)
cols = []
for spec in sys.argv[2:]:
    label, path = spec.split("=", 1)
    cols.append((label, json.load(open(path))))
names = list(cols[0][1]["domains"])
lines = ["| domain | " + " | ".join(l for l, _ in cols) + " |", "|---|" + "---:|" * len(cols)]
for n in names:
    lines.append(f"| {n} | " + " | ".join(f"{c['domains'][n]['loss']:.4f}" for _, c in cols) + " |")
lines.append("| **average** | " + " | ".join(f"**{c['average_loss']:.4f}**" for _, c in cols) + " |")
text = "per-domain eval loss (lower is better)\n\n" + "\n".join(lines) + "\n"
open(sys.argv[1], "w").write(text)
print(text)
