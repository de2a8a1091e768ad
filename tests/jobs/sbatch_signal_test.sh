#!/usr/bin/env bash
# jobscripts/slurm/shear.sbatch outside Slurm (run by bash, as `sbatch` would start it): USR1 and TERM to the
# batch shell are forwarded to mpirun as USR1, shear checkpoints and the script exits 75 (no SLURM_JOB_ID: no
# requeue); started again it resumes and finishes with exit 0; bad arguments fail with a message and exit 2.
# usage: sbatch_signal_test.sh SHEAR DECK STORE WORK
set -u
SHEAR=$1 DECK=$2 STORE=$3 WORK=$4
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$WORK"; mkdir -p "$WORK"
pass=0 fail=0
check() { if "$@"; then pass=$((pass+1)); else echo "FAIL: $*"; fail=$((fail+1)); fi; }
S=(--set data.store="$STORE" --set train.steps=2000 --set run.ckpt_every=0 --set run.threads=1
   --set run.log_every=1 --set run.out_dir="$WORK/run")
lines() { if [[ -f $WORK/run/metrics.jsonl ]]; then wc -l < "$WORK/run/metrics.jsonl"; else echo 0; fi; }
for sig in USR1 TERM; do
  n0=$(lines)
  env -u SLURM_JOB_ID SHEAR="$SHEAR" MPI_ARGS="--oversubscribe --mca btl self,vader -np 2" \
    bash "$ROOT/jobscripts/slurm/shear.sbatch" train "$DECK" "${S[@]}" > "$WORK/$sig.log" 2>&1 &
  pid=$!
  # signal once a few steps are logged (a step boundary, not a time, decides when)
  for _ in $(seq 600); do
    (($(lines) >= n0 + 5)) && break
    sleep 0.05
  done
  kill -"$sig" $pid
  wait $pid; rc=$?
  check test $rc -eq 75
  check grep -q "got $sig" "$WORK/$sig.log"
  check grep -q "stopping at step" "$WORK/$sig.log"
  check grep -q "checkpointed before the end" "$WORK/$sig.log"
  check bash -c "! grep -q requeueing '$WORK/$sig.log'"
done
check grep -q "resumed from" "$WORK/TERM.log"
SHEAR=$SHEAR MPI_ARGS="--oversubscribe --mca btl self,vader -np 2" \
  bash "$ROOT/jobscripts/slurm/shear.sbatch" train "$DECK" "${S[@]}" > "$WORK/end.log" 2>&1
check test $? -eq 0
check grep -q "train finished" "$WORK/end.log"
SHEAR=$SHEAR bash "$ROOT/jobscripts/slurm/shear.sbatch" frobnicate "$DECK" > "$WORK/bad.log" 2>&1
check test $? -eq 2
check grep -q "CMD must be train, prune, prep or eval" "$WORK/bad.log"
SHEAR=$SHEAR bash "$ROOT/jobscripts/slurm/shear.sbatch" train "$WORK/none.yaml" > "$WORK/bad2.log" 2>&1
check test $? -eq 2
check grep -q "none.yaml' does not exist" "$WORK/bad2.log"
echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
