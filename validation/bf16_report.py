#!/usr/bin/env python3
"""bf16_report.py FP32_PIPELINE BF16_PIPELINE OUT_PREFIX: the report of validation/bf16_vs_fp32.sh. Per stage
(source, prune, continue, scratch) the relative difference of every 10th step's loss (prune: lm_loss) between
the bf16 and the fp32 run, and claim (1) in both: the sheared model's average eval loss below scratch's.
Writes OUT_PREFIX.md and OUT_PREFIX.json; exits 1 when a stage is off by 2% or more or claim (1) fails."""
import json
import sys

f32, b16, out = sys.argv[1:4]


def losses(run, key):
    recs = [json.loads(line) for line in open(f"{run}/metrics.jsonl")]
    return {r["step"]: r[key] for r in recs if r["event"] == "step"}


def avg(path):
    return json.load(open(path))["average_loss"]


rows, res, bad = [], {"stages": {}}, 0
for stage, key in (("source", "loss"), ("prune", "lm_loss"), ("continue", "loss"), ("scratch", "loss")):
    a, b = losses(f"{f32}/{stage}", key), losses(f"{b16}/{stage}", key)
    steps = [s for s in sorted(a) if s % 10 == 0 and s in b]
    diff = {s: abs(b[s] - a[s]) / abs(a[s]) for s in steps}
    worst = max(diff, key=diff.get)
    ok = diff[worst] < 0.02
    bad += not ok
    res["stages"][stage] = {"steps": len(steps), "worst_rel_diff": diff[worst], "worst_step": worst,
                            "fp32_last": a[steps[-1]], "bf16_last": b[steps[-1]]}
    rows.append(f"| {stage} | {key} | {len(steps)} | {diff[worst]:.2e} (step {worst}) | {a[steps[-1]]:.4f} | "
                f"{b[steps[-1]]:.4f} | {'yes' if ok else 'NO'} |")
claim = {}
for name, run in (("fp32", f32), ("bf16", b16)):
    sh, sc = avg(f"{run}/eval/sheared.json"), avg(f"{run}/eval/scratch.json")
    claim[name] = {"sheared": sh, "scratch": sc, "holds": sh < sc}
    bad += not (sh < sc)
res["claim1"] = claim
md = ["| stage | loss | steps compared (every 10th) | worst relative difference bf16 vs fp32 | fp32 last | bf16 last "
      "| within 2% |", "|---|---|---:|---:|---:|---:|---|"] + rows + [
      "", "| precision | sheared average eval loss | scratch average eval loss | claim (1): sheared < scratch |",
      "|---|---:|---:|---|"] + [f"| {n} | {c['sheared']:.4f} | {c['scratch']:.4f} | {'holds' if c['holds'] else 'FAILS'} |"
                               for n, c in claim.items()]
open(out + ".md", "w").write("\n".join(md) + "\n")
json.dump(res, open(out + ".json", "w"), indent=1)
print("\n".join(md))
sys.exit(1 if bad else 0)
