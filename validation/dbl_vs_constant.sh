#!/usr/bin/env bash
# Claim (2) of the paper at small scale: dynamic batch loading vs constant proportions in continued
# pre-training of the sheared tiny model (the main job's runs/tiny/sheared.h5), on the real 7-domain corpus.
# Same budget, same seed, same initial mix (RedPajama); DBL references = the source model's per-domain losses.
# Budgets of 100 and 200 steps show how fast the per-domain gaps (loss - reference) close.
# Writes validation/results/dbl_vs_constant.{md,json,png}. Needs the main job's outputs (bash tools/main_job.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# shellcheck source=tools/repro_env.sh
source tools/repro_env.sh # the same bits on every machine
SHEAR=${SHEAR:-build/shear}
OUT=${OUT:-runs/validation/dbl}
for f in runs/tiny/sheared.h5 runs/tiny/source/model.h5 data/tiny/tokens.h5; do
  [[ -e $f ]] || { echo "missing $f: run bash tools/main_job.sh first" >&2; exit 1; }
done
for steps in 100 200; do
  for rule in paper constant; do
    run=$OUT/${rule}_$steps
    [[ -e $run/model.h5 ]] && { echo "$run exists: skipped"; continue; }
    mpirun -np "${SHEAR_RANKS:-2}" --oversubscribe --bind-to none "$SHEAR" train inputs/tiny/continue.yaml \
      --set train.init=runs/tiny/sheared.h5 --set prune.source=runs/tiny/source/model.h5 \
      --set train.steps=$steps --set dbl.rule=$rule --set dbl.interval=25 --set run.out_dir="$run" --set run.log_every=50
  done
done
/usr/bin/python3 validation/dbl_report.py "$OUT" validation/results/dbl_vs_constant
