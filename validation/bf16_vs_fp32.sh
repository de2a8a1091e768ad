#!/usr/bin/env bash
# run.precision: bf16 on the embedded default (issue 15), against the main job's fp32 pipeline (runs/tiny):
#  - stage by stage, each stage in bf16 from the fp32 pipeline's own input (source and scratch from nothing,
#    prune from its fp32 source, continued pre-training from its fp32 sheared model): every 10th step's loss
#    against the fp32 stage's (goal: within 2%);
#  - the whole tiny pipeline (tools/pipeline.sh) with every train and prune in bf16: the same per stage, and
#    claim (1), the sheared model beats the same shape trained from scratch on the same tokens, in bf16.
# Writes validation/results/bf16_vs_fp32.{md,json}. Needs the main job's outputs (bash tools/main_job.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# shellcheck source=tools/repro_env.sh
source tools/repro_env.sh # the same bits on every machine
OUT=${OUT:-runs/validation/bf16}
for f in runs/tiny/eval/sheared.json runs/tiny/eval/scratch.json data/tiny/tokens.h5; do
  [[ -e $f ]] || { echo "missing $f: run bash tools/main_job.sh first" >&2; exit 1; }
done
PRECISION=bf16 bash tools/pipeline.sh inputs/tiny data/tiny/tokens.h5 "$OUT"
# stage by stage: prune and continued pre-training in bf16 from the fp32 pipeline's inputs
MPIRUN=(mpirun -np "${SHEAR_RANKS:-2}" --oversubscribe --bind-to none)
S=(--set data.store=data/tiny/tokens.h5 --set run.precision=bf16)
[[ -e $OUT/stage_prune/pruned.h5 ]] || "${MPIRUN[@]}" build/shear prune inputs/tiny/prune.yaml "${S[@]}" \
  --set prune.source=runs/tiny/source/model.h5 --set run.out_dir="$OUT/stage_prune"
[[ -e $OUT/stage_continue/model.h5 ]] || "${MPIRUN[@]}" build/shear train inputs/tiny/continue.yaml "${S[@]}" \
  --set train.init=runs/tiny/sheared.h5 --set prune.source=runs/tiny/source/model.h5 \
  --set run.out_dir="$OUT/stage_continue"
/usr/bin/python3 validation/bf16_report.py runs/tiny "$OUT" validation/results/bf16_vs_fp32
