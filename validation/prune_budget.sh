#!/usr/bin/env bash
# Claim (4) of the paper at small scale: more pruning tokens give a lower loss after pruning and after continued
# pre-training, with diminishing returns. On the embedded default (needs the main job's runs/tiny/source/model.h5
# and data/tiny/tokens.h5): prune for 25, 50, 100, 200 steps (same target, same seed), finalize, then 100 steps of
# continued pre-training with DBL; per-domain eval after each stage.
# Writes validation/results/prune_budget.{md,json}.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# shellcheck source=tools/repro_env.sh
source tools/repro_env.sh # the same bits on every machine
SHEAR=${SHEAR:-build/shear}
OUT=${OUT:-runs/validation/budget}
MPIRUN=(mpirun -np "${SHEAR_RANKS:-2}" --oversubscribe --bind-to none)
for f in runs/tiny/source/model.h5 data/tiny/tokens.h5; do
  [[ -e $f ]] || { echo "missing $f: run bash tools/main_job.sh first" >&2; exit 1; }
done
for steps in 25 50 100 200; do
  d=$OUT/prune_$steps
  [[ -e $d/pruned.h5 ]] || "${MPIRUN[@]}" "$SHEAR" prune inputs/tiny/prune.yaml --set train.steps=$steps \
    --set "optim.warmup=$((steps / 10))" --set prune.source=runs/tiny/source/model.h5 --set run.out_dir="$d" --set run.log_every=50
  [[ -e $d/sheared.h5 ]] || "$SHEAR" finalize --in "$d/pruned.h5" --out "$d/sheared.h5" > /dev/null
  [[ -e $d/pruned.json ]] || "${MPIRUN[@]}" "$SHEAR" eval inputs/tiny/eval.yaml --model "$d/sheared.h5" --json > "$d/pruned.json"
  c=$OUT/continue_$steps
  [[ -e $c/model.h5 ]] || "${MPIRUN[@]}" "$SHEAR" train inputs/tiny/continue.yaml --set train.init="$d/sheared.h5" \
    --set prune.source=runs/tiny/source/model.h5 --set train.steps=100 --set dbl.interval=25 --set run.out_dir="$c" --set run.log_every=50
  [[ -e $c/eval.json ]] || "${MPIRUN[@]}" "$SHEAR" eval inputs/tiny/eval.yaml --model "$c/model.h5" --json > "$c/eval.json"
done
/usr/bin/python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
rows, res = [], {}
for steps in (25, 50, 100, 200):
    p = json.load(open(f"{out}/prune_{steps}/pruned.json"))["average_loss"]
    c = json.load(open(f"{out}/continue_{steps}/eval.json"))["average_loss"]
    res[steps] = {"after_pruning": p, "after_continued_pretraining": c}
    rows.append(f"| {steps} | {steps * 2048:,} | {p:.4f} | {c:.4f} |")
text = ("Average per-domain eval loss of the sheared tiny model vs pruning budget (then 100 steps of continued\n"
        "pre-training with DBL, 204,800 tokens):\n\n| pruning steps | pruning tokens | after pruning + finalize | "
        "after continued pre-training |\n|---:|---:|---:|---:|\n" + "\n".join(rows) + "\n")
open("validation/results/prune_budget.md", "w").write(text)
json.dump(res, open("validation/results/prune_budget.json", "w"), indent=1)
print(text)
PY
