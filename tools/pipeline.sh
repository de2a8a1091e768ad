#!/usr/bin/env bash
# The method's stages on a token store, with the decks of DECK_DIR (train.yaml, prune.yaml, continue.yaml,
# scratch.yaml, eval.yaml): pre-train a source model, prune it with dynamic batch loading, finalize, continue
# pre-training with dynamic batch loading, train the same shape from scratch on the same token budget, evaluate
# every model per domain, write a summary table and plots. Paths between stages are set here (--set), so the
# decks only hold the method's settings. Every stage is skipped when its output exists.
# usage: pipeline.sh DECK_DIR STORE OUT_DIR   (env: SHEAR, SHEAR_RANKS, PRECISION: run.precision of train and
# prune, default the decks')
set -euo pipefail
[[ $# -eq 3 ]] || { echo "usage: pipeline.sh DECK_DIR STORE OUT_DIR" >&2; exit 2; }
DECKS=$1 STORE=$2 OUT=$3
SHEAR=${SHEAR:-build/shear}
RANKS=${SHEAR_RANKS:-2}
MPIRUN=(mpirun -np "$RANKS" --oversubscribe --bind-to none)
T0=$SECONDS
stage() { echo; echo "== [$((SECONDS - T0)) s] $1 =="; }
# run_unless OUTPUT CMD...: the stage's command, unless its output exists
run_unless() {
  local out=$1; shift
  if [[ -e $out ]]; then echo "$out exists: skipped"; else "$@"; fi
}
S=(--set "data.store=$STORE")
# shellcheck source=tools/repro_env.sh
source "$(dirname "$0")/repro_env.sh" # the same bits on every machine
L=("${S[@]}") # the long commands': with PRECISION, their run.precision
[[ -n ${PRECISION:-} ]] && L+=(--set "run.precision=$PRECISION")

stage "pre-training the source model"
run_unless "$OUT/source/model.h5" "${MPIRUN[@]}" "$SHEAR" train "$DECKS/train.yaml" "${L[@]}" --set "run.out_dir=$OUT/source"
stage "pruning to the target shape (masks + Lagrangian + dynamic batch loading)"
run_unless "$OUT/prune/pruned.h5" "${MPIRUN[@]}" "$SHEAR" prune "$DECKS/prune.yaml" "${L[@]}" \
  --set "prune.source=$OUT/source/model.h5" --set "run.out_dir=$OUT/prune"
stage "finalizing: fold the masks, cut to the dense target"
run_unless "$OUT/sheared.h5" "$SHEAR" finalize --in "$OUT/prune/pruned.h5" --out "$OUT/sheared.h5"
stage "continued pre-training of the sheared model (dynamic batch loading)"
run_unless "$OUT/continue/model.h5" "${MPIRUN[@]}" "$SHEAR" train "$DECKS/continue.yaml" "${L[@]}" \
  --set "train.init=$OUT/sheared.h5" --set "prune.source=$OUT/source/model.h5" --set "run.out_dir=$OUT/continue"
stage "baseline: the same shape from scratch on the same token budget"
run_unless "$OUT/scratch/model.h5" "${MPIRUN[@]}" "$SHEAR" train "$DECKS/scratch.yaml" "${L[@]}" --set "run.out_dir=$OUT/scratch"

stage "per-domain evaluation"
mkdir -p "$OUT/eval"
eval_model() { # LABEL MODEL: per-domain eval as JSON, written whole or not at all
  "${MPIRUN[@]}" "$SHEAR" eval "$DECKS/eval.yaml" "${S[@]}" --model "$2" --json > "$OUT/eval/$1.json.tmp"
  mv "$OUT/eval/$1.json.tmp" "$OUT/eval/$1.json"
}
for m in "source:$OUT/source/model.h5" "pruned:$OUT/sheared.h5" "sheared:$OUT/continue/model.h5" \
         "scratch:$OUT/scratch/model.h5"; do
  run_unless "$OUT/eval/${m%%:*}.json" eval_model "${m%%:*}" "${m#*:}"
done

stage "summary and plots"
/usr/bin/python3 tools/summary.py "$OUT/summary.md" "source=$OUT/eval/source.json" \
  "pruned, before continued pre-training=$OUT/eval/pruned.json" "sheared=$OUT/eval/sheared.json" \
  "scratch, same shape and tokens=$OUT/eval/scratch.json"
/usr/bin/python3 tools/plot_metrics.py losses "$OUT/losses.png" "source=$OUT/source" "prune=$OUT/prune" \
  "continued pre-training=$OUT/continue" "scratch=$OUT/scratch"
/usr/bin/python3 tools/plot_metrics.py dbl "$OUT/dbl_prune.png" "$OUT/prune"
/usr/bin/python3 tools/plot_metrics.py dbl "$OUT/dbl_continue.png" "$OUT/continue"
/usr/bin/python3 tools/plot_prune.py "$OUT/prune/metrics.jsonl" "$OUT/prune_lagrangian.png"
echo "pipeline done in $((SECONDS - T0)) s: $OUT/summary.md and $OUT/*.png"
