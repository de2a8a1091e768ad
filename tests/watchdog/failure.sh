#!/usr/bin/env bash
# A failing rank must end the whole MPI job promptly, never leave the others waiting in a collective:
#   hang: rank 1 sleeps forever before step 3's gradient all-reduce (SHEAR_TEST_HANG_AT_STEP); with
#         run.watchdog=3, rank 0's watchdog must name the collective and the step and abort the job.
#   die:  rank 1 calls SHEAR_DIE there (SHEAR_TEST_DIE_AT_STEP), watchdog off: the fatal hook's MPI_Abort alone
#         must end rank 0, which is already waiting in the all-reduce.
# SHEAR_TEST_DEVICE=cuda runs the same on the CUDA backend (the emulated one in CI: tests/cuda_emu.cmake), where
# the collective is an NCCL all-reduce inside the watchdog bracket of src/dist_nccl.c.
# usage: failure.sh hang|die SHEAR DECK STORE OUTDIR MPIRUN...
set -u
mode=$1 shear=$2 deck=$3 store=$4 out=$5
shift 5
rm -rf "$out"
mkdir -p "$out"
case $mode in
  hang) knob=SHEAR_TEST_HANG_AT_STEP=3 watchdog=3 ;;
  die) knob=SHEAR_TEST_DIE_AT_STEP=3 watchdog=0 ;;
  *) echo "unknown mode '$mode' (expected hang or die)"; exit 2 ;;
esac
limit=20 # seconds the whole job may take, start-up included
t0=$(date +%s.%N)
# the job gets 60 s: a failure shows as "timed out" below rather than as a hung ctest
timeout -k 5 60 env "$knob" "$@" -x "$knob" -np 2 "$shear" train "$deck" --set data.store="$store" \
  --set run.out_dir="$out/run" --set run.threads=1 --set run.watchdog=$watchdog \
  --set run.device="${SHEAR_TEST_DEVICE:-cpu}" >"$out/stdout" 2>"$out/stderr"
rc=$?
elapsed=$(echo "$(date +%s.%N) - $t0" | bc)
pass=0 fail=0
check() { # check NAME CONDITION-RESULT(0 = ok)
  if [[ $2 == 0 ]]; then echo "ok   $1"; pass=$((pass + 1)); else echo "FAIL $1"; fail=$((fail + 1)); fi
}
check "$mode: the job exits non-zero (rc $rc)" $([[ $rc != 0 ]]; echo $?)
check "$mode: the job did not hang until the 60 s timeout (rc $rc)" $([[ $rc != 124 && $rc != 137 ]]; echo $?)
check "$mode: the job ended within $limit s (took $elapsed s)" $([[ $(echo "$elapsed < $limit" | bc) == 1 ]]; echo $?)
if [[ $mode == hang ]]; then
  check "hang: rank 1 reached the hang point" $(grep -q "rank 1 hangs before the gradient all-reduce of step 3" "$out/stderr"; echo $?)
  check "hang: rank 0 reports the collective and the step" \
    $(grep -Eq "shear: error: rank 0: \(host [^)]+\): stuck for [0-9]+ s in allreduce\(grads\) at step 3 \(run.watchdog = 3 s\)" "$out/stderr"; echo $?)
  check "hang: steps 1 and 2 completed before" $(grep -q '"step":2,' "$out/run/metrics.jsonl"; echo $?)
else
  check "die: rank 1's message is printed" \
    $(grep -q "rank 1 dies before the gradient all-reduce of step 3, as SHEAR_TEST_DIE_AT_STEP asks" "$out/stderr"; echo $?)
  check "die: nothing reports a stuck collective (the watchdog is off)" $(! grep -q "stuck for" "$out/stderr"; echo $?)
fi
if [[ $fail != 0 ]]; then
  echo "---- stderr ----"; tail -30 "$out/stderr"
fi
echo "$pass passed, $fail failed"
[[ $fail == 0 ]]
