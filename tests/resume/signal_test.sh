#!/usr/bin/env bash
# SIGUSR1 delivered to mpirun mid-run (as Slurm's --signal=B:USR1 does through the batch script): all ranks stop at
# the next step boundary, write a checkpoint and exit 75; the same command resumes and the final state is
# bitwise the state of an uninterrupted run. run.walltime does the same without a signal (PBS).
# usage: signal_test.sh SHEAR DECK WORK --set ...
set -u
SHEAR=$1 DECK=$2 WORK=$3; shift 3
MPI=(mpirun --oversubscribe --allow-run-as-root --mca btl self,vader -np 2)
PY=/usr/bin/python3 HERE=$(dirname "$0")
rm -rf "$WORK"; mkdir -p "$WORK"
pass=0 fail=0
check() { if "$@"; then pass=$((pass+1)); else echo "FAIL: $*"; fail=$((fail+1)); fi; }
S=(--set train.steps=300 --set run.ckpt_every=0 --set run.threads=1 --set run.log_every=100)
"${MPI[@]}" "$SHEAR" train "$DECK" "$@" "${S[@]}" --set run.out_dir="$WORK/straight" > "$WORK/straight.log" 2>&1
check test $? -eq 0
"${MPI[@]}" "$SHEAR" train "$DECK" "$@" "${S[@]}" --set run.out_dir="$WORK/sig" > "$WORK/sig.log" 2>&1 &
pid=$!
# wait until a few steps are logged, then signal mpirun (Open MPI forwards USR1 to every rank)
for _ in $(seq 600); do
  [[ -f $WORK/sig/metrics.jsonl ]] && (( $(wc -l < "$WORK/sig/metrics.jsonl") >= 5 )) && break
  sleep 0.05
done
kill -USR1 $pid
wait $pid; rc=$?
check test $rc -eq 75
check grep -q "stopping at step" "$WORK/sig.log"
"${MPI[@]}" "$SHEAR" train "$DECK" "$@" "${S[@]}" --set run.out_dir="$WORK/sig" > "$WORK/sig2.log" 2>&1
check test $? -eq 0
check grep -q "resumed from" "$WORK/sig2.log"
check $PY "$HERE/same_state.py" "$WORK/sig/ckpt/step_00000300.h5" "$WORK/straight/ckpt/step_00000300.h5" --exact
# the wall-clock budget: 1 s is far below the run's length, so it must stop early with 75
"${MPI[@]}" "$SHEAR" train "$DECK" "$@" "${S[@]}" --set train.steps=100000 --set run.walltime=1 \
  --set run.out_dir="$WORK/wall" > "$WORK/wall.log" 2>&1
check test $? -eq 75
check grep -q "wall-clock budget" "$WORK/wall.log"
echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
