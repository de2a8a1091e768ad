#!/usr/bin/env bash
# Exact restart of `shear train` or `shear prune` (CMD) on 2 ranks: a straight run of 20 steps writes checkpoints
# at 10 and 20; a run resumed from the step-10 checkpoint ends bitwise equal (weights, Adam state, masks,
# lambdas, sampler, proportions); resumed on 1 and 3 ranks it draws the same samples (same losses up to
# reduction-order rounding); a finished run started again says so and exits 0.
# usage: resume_test.sh SHEAR CMD DECK WORK [--set ...]
set -u
SHEAR=$1 CMD=$2 DECK=$3 WORK=$4; shift 4
MPI=(mpirun --oversubscribe --allow-run-as-root --mca btl self,vader)
PY=/usr/bin/python3 HERE=$(dirname "$0")
rm -rf "$WORK"; mkdir -p "$WORK"
pass=0 fail=0
check() { if "$@"; then pass=$((pass+1)); else echo "FAIL: $*"; fail=$((fail+1)); fi; }
run() { # RANKS OUT extra...: one run of CMD
  local np=$1 out=$2; shift 2
  "${MPI[@]}" -np "$np" "$SHEAR" "$CMD" "$DECK" "$@" --set run.out_dir="$out" --set train.steps=20 \
    --set run.ckpt_every=10 --set run.keep_last=0 --set run.threads=1 > "$out.log" 2>&1
}
run 2 "$WORK/straight" "$@"; check test $? -eq 0
for np in 2 1 3; do
  mkdir -p "$WORK/np$np/ckpt"
  cp "$WORK/straight/ckpt/step_00000010.h5" "$WORK/np$np/ckpt/"
  echo step_00000010.h5 > "$WORK/np$np/ckpt/LATEST"
  run "$np" "$WORK/np$np" "$@"; check test $? -eq 0
  check grep -q "resumed from .*step_00000010.h5 at step 10" "$WORK/np$np.log"
done
check $PY "$HERE/same_state.py" "$WORK/np2/ckpt/step_00000020.h5" "$WORK/straight/ckpt/step_00000020.h5" --exact
key=loss; [[ $CMD == prune ]] && key=lm_loss
for np in 1 3; do
  check $PY "$HERE/../train/check_ranks.py" --key $key --drop -100 "$WORK/straight/metrics.jsonl" "$WORK/np$np/metrics.jsonl"
  check $PY "$HERE/same_state.py" "$WORK/np$np/ckpt/step_00000020.h5" "$WORK/straight/ckpt/step_00000020.h5" --rtol 1e-3
done
run 2 "$WORK/straight" "$@"; check test $? -eq 0
check grep -q "the run is complete" "$WORK/straight.log"
echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
