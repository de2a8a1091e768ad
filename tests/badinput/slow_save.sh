#!/usr/bin/env bash
# Issue 19, item 6: a save slower than run.watchdog is file-system time, not a hang. Rank 0 takes 6 s longer on
# every save (SHEAR_TEST_SLOW_SAVE_S: two checkpoints and the final model) while rank 1 waits at the save's
# barriers; with run.watchdog = 2 the run must still finish, and the watchdog must still be armed outside
# saves (watchdog_hang covers that).
# usage: slow_save.sh SHEAR DECK STORE WORKDIR MPIRUN...
# shellcheck source=tests/badinput/lib.sh
source "$(dirname "$0")/lib.sh" "$@"
timeout -k 5 100 env SHEAR_TEST_SLOW_SAVE_S=6 "${MPIRUN[@]}" -x SHEAR_TEST_SLOW_SAVE_S -np 2 "$shear" train "$deck" \
  --set data.store="$store" --set run.out_dir="$work/run" --set run.threads=1 --set run.watchdog=2 \
  --set run.ckpt_every=5 --set train.steps=10 >"$work/out" 2>&1
rc=$?
check "the run finishes (rc $rc)" $([[ $rc == 0 ]]; echo $?)
check "the saves were slowed (3 saves)" $([[ $(grep -c 'takes 6 s longer to save' "$work/out") == 3 ]]; echo $?)
check "nothing reports a stuck collective" $(! grep -q "stuck for" "$work/out"; echo $?)
check "checkpoint 10 committed and the model written" \
  $(grep -qx step_00000010.h5 "$work/run/ckpt/LATEST" && [[ -e $work/run/model.h5 ]]; echo $?)
[[ $fail == 0 ]] || sed 's/^/     /' "$work/out" | tail -20
finish
