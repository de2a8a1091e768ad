#!/usr/bin/env bash
# Claim (3) of the paper at small scale: targeted (uniform) pruning vs non-uniform pruning at equal parameter
# count. On the embedded default (needs the main job's runs/tiny/source/model.h5 and data/tiny/tokens.h5): the
# same prune deck (inputs/tiny/prune.yaml, 100 steps, 2 ranks) with prune.uniform 1 and with prune.uniform 0,
# the uniform one finalized by shear finalize; validation/nonuniform.py folds both into dense per-layer models
# (checked against the masked models and against shear finalize), takes Shear's eval-split losses and measures
# inference throughput side by side. Writes validation/results/uniform_vs_nonuniform.{md,json}.
# Run it on an otherwise idle machine: the throughput numbers are timings.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# shellcheck source=tools/repro_env.sh
source tools/repro_env.sh # the same bits on every machine
SHEAR=${SHEAR:-build/shear}
OUT=${OUT:-runs/validation/nonuniform}
MPIRUN=(mpirun -np "${SHEAR_RANKS:-2}" --oversubscribe --bind-to none)
for f in runs/tiny/source/model.h5 data/tiny/tokens.h5; do
  [[ -e $f ]] || { echo "missing $f: run bash tools/main_job.sh first" >&2; exit 1; }
done
for mode in uniform nonuniform; do
  d=$OUT/$mode
  u=1; [[ $mode == nonuniform ]] && u=0
  [[ -e $d/pruned.h5 ]] || "${MPIRUN[@]}" "$SHEAR" prune inputs/tiny/prune.yaml --set prune.uniform=$u \
    --set prune.source=runs/tiny/source/model.h5 --set run.out_dir="$d" --set run.log_every=50
done
[[ -e $OUT/uniform/sheared.h5 ]] || "$SHEAR" finalize --in "$OUT/uniform/pruned.h5" --out "$OUT/uniform/sheared.h5" > /dev/null
# shear finalize refuses the non-uniform masks (layers of different widths are not a LLaMA shape): say so
if "$SHEAR" finalize --in "$OUT/nonuniform/pruned.h5" --out "$OUT/nonuniform/sheared.h5" > "$OUT/nonuniform/finalize.log" 2>&1; then
  echo "note: the non-uniform masks happen to keep equal counts in every layer" >&2
fi
/usr/bin/python3 validation/nonuniform.py --uniform "$OUT/uniform" --nonuniform "$OUT/nonuniform" \
  --finalized "$OUT/uniform/sheared.h5" --threads "${THREADS:-1}" \
  --out-md validation/results/uniform_vs_nonuniform.md --out-json validation/results/uniform_vs_nonuniform.json
