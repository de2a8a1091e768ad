#!/usr/bin/env bash
# ZeRO-1 (run.zero: 1, src/zero.c) against plain data parallel (run.zero: 0) for `shear train` or `shear prune`
# (CMD), 20 steps with checkpoints at 10 and 20, small buckets (several per step, the last one short), gradient
# clipping active at every step (so the global norm computed from the shards feeds the update):
#  (a) 1 rank: zero=1 equals zero=0 bit for bit (metrics of every step, final model, every checkpoint dataset);
#  (b) 2 ranks: bit for bit too; 3 ranks: within 1e-6 (metrics) and 1e-5 (model, checkpoint), which is rounding:
#      MPI adds the 3 ranks' gradients in another order in a reduce-scatter than in an all-reduce;
#  (c) the step-10 checkpoint of a 2-rank zero=1 run resumes with zero=1 on 2 ranks and with zero=0 on 2 ranks to
#      the uninterrupted run's step-20 state bit for bit, and with zero=1 on 3 ranks and zero=0 on 1 rank within
#      1e-5; a zero=0 checkpoint resumes with zero=1 the same ways (the checkpoint format does not change);
#  (d) each rank's optimizer state is 2 x S floats, S = ceil(total / (R 64)) 64, as printed at start.
# usage: zero_test.sh SHEAR CMD DECK WORK [--set ...]
set -u
SHEAR=$1 CMD=$2 DECK=$3 WORK=$4; shift 4
EXTRA=("$@")
MPI=(mpirun --oversubscribe --allow-run-as-root --mca btl self,vader)
PY=/usr/bin/python3 HERE=$(dirname "$0")
rm -rf "$WORK"; mkdir -p "$WORK"
pass=0 fail=0
check() { if "$@"; then pass=$((pass+1)); else echo "FAIL: $*"; fail=$((fail+1)); fi; }
run() { # RANKS ZERO OUT extra...: one run of CMD
  local np=$1 zero=$2 out=$3; shift 3
  "${MPI[@]}" -np "$np" "$SHEAR" "$CMD" "$DECK" "$@" --set run.out_dir="$out" --set train.steps=20 \
    --set run.ckpt_every=10 --set run.keep_last=0 --set run.threads=1 --set run.zero="$zero" \
    --set run.zero_bucket=1000 --set optim.grad_clip=0.5 > "$out.log" 2>&1
}
same_ckpt() { $PY "$HERE/../resume/same_state.py" "$1/ckpt/step_00000020.h5" "$2/ckpt/step_00000020.h5" "${@:3}"; }
compare() { $PY "$HERE/compare_runs.py" "$@"; }

for np in 1 2 3; do
  for z in 0 1; do run $np $z "$WORK/np${np}_z$z" "${EXTRA[@]}"; check test $? -eq 0; done
done
# (a), (b)
for np in 1 2; do
  check compare "$WORK/np${np}_z0" "$WORK/np${np}_z1" --exact
  check same_ckpt "$WORK/np${np}_z0" "$WORK/np${np}_z1" --exact
done
check compare "$WORK/np3_z0" "$WORK/np3_z1" --rtol 1e-5 --loss-rtol 1e-6
check same_ckpt "$WORK/np3_z0" "$WORK/np3_z1" --rtol 1e-5
# (d) the optimizer state each rank holds, from the start-up line
bytes() { sed -n 's/.*optimizer state \([0-9]*\) bytes.*/\1/p' "$1" | head -1; }
full=$(bytes "$WORK/np1_z0.log")
for np in 1 2 3; do
  total=$((full / 8)); S=$(( ( (total + np - 1) / np + 63 ) / 64 * 64 ))
  check test "$(bytes "$WORK/np${np}_z1.log")" = $((8 * S))
  check test "$(bytes "$WORK/np${np}_z0.log")" = "$full"
done
echo "optimizer state per rank: zero=0 $full bytes; zero=1 on 3 ranks $(bytes "$WORK/np3_z1.log") bytes"
# (c) resume across zero and rank counts, from a zero=1 and from a zero=0 checkpoint written on 2 ranks
for from in 1 0; do
  for case in "2 1 exact" "2 0 exact" "3 1 tol" "1 0 tol"; do
    read -r np z how <<<"$case"
    out="$WORK/from_z${from}_np${np}_z$z"
    mkdir -p "$out/ckpt"
    cp "$WORK/np2_z$from/ckpt/step_00000010.h5" "$out/ckpt/"
    echo step_00000010.h5 > "$out/ckpt/LATEST"
    run "$np" "$z" "$out" "${EXTRA[@]}"; check test $? -eq 0
    check grep -q "resumed from .*step_00000010.h5 at step 10" "$out.log"
    if [[ $how == exact ]]; then
      check same_ckpt "$out" "$WORK/np2_z$from" --exact
    else
      check same_ckpt "$out" "$WORK/np2_z$from" --rtol 1e-5
    fi
  done
done
echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
