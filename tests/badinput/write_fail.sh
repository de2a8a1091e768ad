#!/usr/bin/env bash
# Issue 19, item 5: a save that hits a full disk or a write error part-way ends with one message naming the file
# and the system error, exit 1, its temporary file removed, the previous checkpoint and LATEST untouched; the
# next run resumes from that checkpoint. The failure is a real one: RLIMIT_FSIZE set by the process itself after
# MPI start-up (SHEAR_TEST_FSIZE_LIMIT, SIGXFSZ ignored: writes fail with EFBIG), and, where this test may mount
# one, a 480 KiB tmpfs that fills up (ENOSPC).
# usage: write_fail.sh SHEAR DECK STORE WORKDIR MPIRUN...
# shellcheck source=tests/badinput/lib.sh
source "$(dirname "$0")/lib.sh" "$@"
train() { # train OUT_DIR STEPS [args...]
  local out=$1 steps=$2
  shift 2
  "$shear" train "$deck" --set data.store="$store" --set run.out_dir="$out" --set run.threads=1 \
    --set run.ckpt_every=10 --set train.steps="$steps" "$@"
}
# expect_fail NAME FILE_PATTERN ERRNO_TEXT OUTPUT_FILE RC [RANKS]: one error line naming the file and the system
# error (with RANKS ranks writing, each rank that failed says so on its own whole line, at most RANKS lines)
expect_fail() {
  local name=$1 file=$2 why=$3 out=$4 rc=$5 ranks=${6:-1} n
  n=$(grep -c 'shear: error:' "$out")
  check "$name: exit 1 (rc $rc)" $([[ $rc == 1 ]]; echo $?)
  check "$name: 1 to $ranks error lines (got $n)" $([[ $n -ge 1 && $n -le $ranks ]]; echo $?)
  check "$name: every error line is whole" \
    $([[ $(grep -cE '^shear: error: .*\([^()]+\.c:[0-9]+\)$' "$out") == "$n" ]]; echo $?)
  check "$name: the message names '$file' and '$why'" \
    $([[ $(grep 'shear: error:' "$out" | grep -F -- "$file" | grep -cF -- "$why") == "$n" ]]; echo $?)
  check "$name: no *.tmp left" $([[ -z $(find "$work" -name '*.tmp' -o -name '*.part') ]]; echo $?)
}
# a committed checkpoint at step 10 to fall back on
train "$work/run" 10 >"$work/first.out" 2>&1
check "setup: a 10-step run commits step 10" $(grep -qx step_00000010.h5 "$work/run/ckpt/LATEST"; echo $?)
rm -f "$work/run/model.h5"
cp -r "$work/run" "$work/run2"
ckpt_bytes=$(stat -c %s "$work/run/ckpt/step_00000010.h5")
limit=$((ckpt_bytes * 2 / 3)) # the next checkpoint cannot be written whole; metrics.jsonl can

# 1 rank: the step-20 save fails part-way
SHEAR_TEST_FSIZE_LIMIT=$limit train "$work/run" 20 >"$work/one.out" 2>&1
expect_fail "checkpoint, 1 rank" "step_00000020.h5" "File too large" "$work/one.out" $?
check "checkpoint, 1 rank: LATEST still names step 10" $(grep -qx step_00000010.h5 "$work/run/ckpt/LATEST"; echo $?)
check "checkpoint, 1 rank: step 10 is untouched" $(cmp -s "$work/run/ckpt/step_00000010.h5" "$work/run2/ckpt/step_00000010.h5"; echo $?)
check "checkpoint, 1 rank: no model.h5" $([[ ! -e $work/run/model.h5 ]]; echo $?)
train "$work/run" 20 >"$work/resume.out" 2>&1
check "checkpoint, 1 rank: the next run resumes from step 10 and finishes (rc $?)" \
  $(grep -q "resumed from .*step_00000010.h5 at step 10" "$work/resume.out" && [[ -e $work/run/model.h5 ]]; echo $?)

# 2 ranks, collective MPI-IO write
timeout -k 5 60 env SHEAR_TEST_FSIZE_LIMIT=$limit "${MPIRUN[@]}" -x SHEAR_TEST_FSIZE_LIMIT -np 2 "$shear" train "$deck" \
  --set data.store="$store" --set run.out_dir="$work/run2" --set run.threads=1 --set run.ckpt_every=10 \
  --set train.steps=20 >"$work/two.out" 2>&1
expect_fail "checkpoint, 2 ranks" "step_00000020.h5" "File too large" "$work/two.out" $? 2
check "checkpoint, 2 ranks: LATEST still names step 10" $(grep -qx step_00000010.h5 "$work/run2/ckpt/LATEST"; echo $?)

# model files (shear export writes safetensors, shear import and finalize write model files)
"$shear" export --model "$work/run/model.h5" --out "$work/hf" >/dev/null 2>&1
model_bytes=$(stat -c %s "$work/run/model.h5")
SHEAR_TEST_FSIZE_LIMIT=$((model_bytes / 2)) "$shear" import --from "$work/hf" --out "$work/imported.h5" >"$work/import.out" 2>&1
expect_fail "model file (import)" "imported.h5" "File too large" "$work/import.out" $?
check "model file (import): no imported.h5" $([[ ! -e $work/imported.h5 ]]; echo $?)
SHEAR_TEST_FSIZE_LIMIT=$((model_bytes / 2)) "$shear" export --model "$work/run/model.h5" --out "$work/hf2" >"$work/export.out" 2>&1
expect_fail "safetensors (export)" "model.safetensors" "File too large" "$work/export.out" $?
check "safetensors (export): no model.safetensors" $([[ ! -e $work/hf2/model.safetensors ]]; echo $?)

# a real full disk, where a tmpfs can be mounted (root, not in every container)
mnt=$work/tmpfs
mkdir -p "$mnt"
if mount -t tmpfs -o size=480k tmpfs "$mnt" 2>/dev/null; then
  mkdir -p "$mnt/run/ckpt"
  cp "$work/run2/ckpt/step_00000010.h5" "$work/run2/ckpt/LATEST" "$mnt/run/ckpt/"
  cp "$work/run2/metrics.jsonl" "$mnt/run/"
  train "$mnt/run" 20 >"$work/full.out" 2>&1
  expect_fail "full disk (tmpfs)" "step_00000020.h5" "No space left on device" "$work/full.out" $?
  check "full disk: no *.tmp on the disk" $([[ -z $(find "$mnt" -name '*.tmp') ]]; echo $?)
  check "full disk: LATEST still names step 10" $(grep -qx step_00000010.h5 "$mnt/run/ckpt/LATEST"; echo $?)
  umount "$mnt"
else
  echo "note: cannot mount a tmpfs here; the full-disk case is covered by SHEAR_TEST_FSIZE_LIMIT only"
fi
finish
