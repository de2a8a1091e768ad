#!/usr/bin/env bash
# jobscripts/local/run.sh: with a budget per segment (SHEAR_SEGMENT -> run.walltime) of a sixth of what the
# uninterrupted run took here (at least 1 s: a fast machine ran 1500 steps inside a fixed 2-s budget; a sixth, not
# a third: on a shared machine the straight run can be 3x slower than the segments after it), shear stops
# with exit 75 several times; the launcher starts it again each time until the run finishes, and the end state equals an
# uninterrupted run's bit for bit.
# usage: local_test.sh SHEAR DECK STORE WORK
set -u
SHEAR=$1 DECK=$2 STORE=$3 WORK=$4
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$WORK"; mkdir -p "$WORK"
pass=0 fail=0
check() { if "$@"; then pass=$((pass+1)); else echo "FAIL: $*"; fail=$((fail+1)); fi; }
STEPS=4000
S=(--set data.store="$STORE" --set train.steps="$STEPS" --set run.ckpt_every=0 --set run.threads=1 --set run.log_every=500)
t0=$(date +%s.%N)
mpirun --oversubscribe --allow-run-as-root --mca btl self,vader -np 2 "$SHEAR" train "$DECK" "${S[@]}" \
  --set run.out_dir="$WORK/straight" > "$WORK/straight.log" 2>&1
check test $? -eq 0
segment=$(/usr/bin/python3 -c "import sys; print(f'{max(1.0, (float(sys.argv[2]) - float(sys.argv[1])) / 6):.2f}')" \
          "$t0" "$(date +%s.%N)")
echo "uninterrupted run: segments of $segment s"
SHEAR=$SHEAR SHEAR_SEGMENT=$segment MPI_ARGS="--oversubscribe --mca btl self,vader" \
  bash "$ROOT/jobscripts/local/run.sh" -n 2 train "$DECK" "${S[@]}" --set run.out_dir="$WORK/run" > "$WORK/run.log" 2>&1
check test $? -eq 0
check grep -q "wall-clock budget" "$WORK/run.log"
check grep -q "starting again (restart 1)" "$WORK/run.log"
check grep -q "resumed from" "$WORK/run.log"
check grep -Eq "finished after [1-9][0-9]* restarts" "$WORK/run.log"
check test -f "$WORK/run/model.h5"
last=$(printf 'step_%08d.h5' "$STEPS")
check /usr/bin/python3 "$ROOT/tests/resume/same_state.py" "$WORK/run/ckpt/$last" "$WORK/straight/ckpt/$last" --exact
# a failure that is not 75 ends the loop at once with that code
SHEAR=$SHEAR bash "$ROOT/jobscripts/local/run.sh" -n 1 train "$WORK/missing.yaml" > "$WORK/fail.log" 2>&1
rc=$?
check test $rc -ne 0
check test $rc -ne 75
check test "$(grep -c "segment" "$WORK/fail.log")" -eq 1
grep "run.sh:" "$WORK/run.log"
echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
