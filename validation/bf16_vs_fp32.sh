#!/usr/bin/env bash
# run.precision: bf16 on the embedded default (issue 15): the whole tiny pipeline (tools/pipeline.sh: source
# pre-training, prune with DBL, finalize, continued pre-training, scratch baseline, per-domain evaluation) with
# every train and prune in bf16, against the main job's fp32 pipeline (runs/tiny): every 10th step's loss of
# each stage within 2% of fp32, and claim (1), the sheared model beats the same shape trained from scratch on
# the same tokens, still holding in bf16. Writes validation/results/bf16_vs_fp32.{md,json}. Needs the main job's
# outputs (bash tools/main_job.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
OUT=${OUT:-runs/validation/bf16}
for f in runs/tiny/eval/sheared.json runs/tiny/eval/scratch.json data/tiny/tokens.h5; do
  [[ -e $f ]] || { echo "missing $f: run bash tools/main_job.sh first" >&2; exit 1; }
done
PRECISION=bf16 bash tools/pipeline.sh inputs/tiny data/tiny/tokens.h5 "$OUT"
/usr/bin/python3 validation/bf16_report.py runs/tiny "$OUT" validation/results/bf16_vs_fp32
