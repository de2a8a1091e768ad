#!/usr/bin/env bash
# Claim (5) at small scale: continued pre-training of the sheared tiny model (the main job's runs/tiny/sheared.h5)
# with knowledge distillation from the source model (runs/tiny/source/model.h5) against plain continued
# pre-training: inputs/tiny/continue.yaml (200 steps, the same batches, seed and DBL), the teacher at two alphas
# (0.5 and 1.0; full vocabulary, temperature 1). Writes validation/results/distill_vs_plain.{md,json,png}: the
# per-domain eval loss of each, the eval KD loss against the teacher, and the step time (the teacher's forward
# is the extra compute). Needs the main job's outputs (bash tools/main_job.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# shellcheck source=tools/repro_env.sh
source tools/repro_env.sh # the same bits on every machine
SHEAR=${SHEAR:-build/shear}
OUT=${OUT:-runs/validation/distill}
for f in runs/tiny/sheared.h5 runs/tiny/source/model.h5 data/tiny/tokens.h5; do
  [[ -e $f ]] || { echo "missing $f: run bash tools/main_job.sh first" >&2; exit 1; }
done
for run in plain alpha0.5 alpha1.0; do
  dir=$OUT/$run
  [[ -e $dir/model.h5 ]] && { echo "$dir exists: skipped"; continue; }
  kd=()
  [[ $run != plain ]] && kd=(--set distill.teacher=runs/tiny/source/model.h5 --set "distill.alpha=${run#alpha}")
  mpirun -np "${SHEAR_RANKS:-2}" --oversubscribe --bind-to none "$SHEAR" train inputs/tiny/continue.yaml \
    --set train.init=runs/tiny/sheared.h5 --set run.out_dir="$dir" --set run.log_every=50 "${kd[@]}"
done
# the plain run's eval KD loss against the same teacher (what distillation lowers), by a 0-step-equivalent eval:
# shear train with alpha 0 is bitwise plain training, so its eval record carries the plain model's kd_losses
dir=$OUT/plain_kd0
if [[ ! -e $dir/model.h5 ]]; then
  mpirun -np "${SHEAR_RANKS:-2}" --oversubscribe --bind-to none "$SHEAR" train inputs/tiny/continue.yaml \
    --set train.init=runs/tiny/sheared.h5 --set run.out_dir="$dir" --set run.log_every=50 \
    --set distill.teacher=runs/tiny/source/model.h5 --set distill.alpha=0
fi
/usr/bin/python3 validation/distill_report.py "$OUT" validation/results/distill_vs_plain
