#!/usr/bin/env bash
# run.device: cuda without a usable GPU (a CPU-only build, or a CUDA build on a machine without a device) fails
# at once with one message naming run.device, exit 1, and no output folder. Skips (77) where a GPU is visible:
# there the same command trains on it.
# usage: device_error.sh SHEAR DECK STORE WORK
SHEAR=$1 DECK=$2 STORE=$3 WORK=$4
if "$SHEAR" --version | grep -Eq ' [1-9][0-9]* device\(s\)'; then
  echo "SKIP: a CUDA device is visible (run.device: cuda would run)"; exit 77
fi
rm -rf "$WORK"
out=$("$SHEAR" train "$DECK" --set data.store="$STORE" --set run.out_dir="$WORK/run" --set run.device=cuda 2>&1)
rc=$?
echo "$out"
fail=0
[[ $rc == 1 ]] || { echo "FAIL: exit code $rc, expected 1"; fail=1; }
grep -q "run.device is cuda but" <<< "$out" || { echo "FAIL: no message naming run.device"; fail=1; }
[[ $(grep -c "shear: error:" <<< "$out") == 1 ]] || { echo "FAIL: expected exactly one error line"; fail=1; }
[[ ! -e $WORK/run ]] || { echo "FAIL: the failed run left $WORK/run behind"; fail=1; }
exit $fail
