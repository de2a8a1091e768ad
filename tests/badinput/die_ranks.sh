#!/usr/bin/env bash
# Issue 19, item 4: one error line on many ranks.
#   shared: every rank meets the same bad deck key: exactly one "shear: error:" line, from rank 0, unprefixed.
#   one:    only rank 1 fails (SHEAR_TEST_DIE_AT_STEP): exactly one line, "shear: error: rank 1: ...".
# Every error line must be whole: it starts with "shear: error:" and ends with the "(file.c:N)" location.
# usage: die_ranks.sh SHEAR DECK STORE WORKDIR MPIRUN...
# shellcheck source=tests/badinput/lib.sh
source "$(dirname "$0")/lib.sh" "$@"
# run NAME NP ENV... -- ARGS...: combined output in $work/NAME.out, exit status in rc
run() {
  local name=$1 np=$2
  shift 2
  local envs=() xs=()
  while [[ $1 != -- ]]; do envs+=("$1"); xs+=(-x "${1%%=*}"); shift; done
  shift
  timeout -k 5 60 env "${envs[@]}" "${MPIRUN[@]}" "${xs[@]}" -np "$np" "$shear" "$@" >"$work/$name.out" 2>&1
  rc=$?
}
sed 's/^  log_every: 10/  log_evry: 10/' "$deck" >"$work/bad.yaml"
for np in 2 3; do
  run shared$np $np SHEAR_X=1 -- train "$work/bad.yaml" --set data.store="$store" --set run.out_dir="$work/out"
  out=$work/shared$np.out
  check "shared, $np ranks: exit 1 (rc $rc)" $([[ $rc == 1 ]]; echo $?)
  check "shared, $np ranks: one error line (got $(grep -c 'shear: error:' "$out"))" \
    $([[ $(grep -c 'shear: error:' "$out") == 1 ]]; echo $?)
  check "shared, $np ranks: the line is whole and from rank 0 unprefixed" \
    $(grep -Eq '^shear: error: [^ ]*bad.yaml:[0-9]+: run.log_evry: unknown key .*\([^()]+\.c:[0-9]+\)$' "$out"; echo $?)
  check "shared, $np ranks: nothing written" $([[ ! -e $work/out ]]; echo $?)
done
# a command-line error before MPI starts: once, from rank 0 (the launcher's rank), exit 2
run usage 3 SHEAR_X=1 -- train "$work/bad.yaml" --bogus 1
check "usage, 3 ranks: exit 2 (rc $rc)" $([[ $rc == 2 ]]; echo $?)
check "usage, 3 ranks: said once (got $(grep -c "unknown option '--bogus'" "$work/usage.out"))" \
  $([[ $(grep -c "unknown option '--bogus'" "$work/usage.out") == 1 ]]; echo $?)
run one 2 SHEAR_TEST_DIE_AT_STEP=3 -- train "$deck" --set data.store="$store" --set run.out_dir="$work/one" \
  --set run.threads=1 --set run.watchdog=0
out=$work/one.out
check "one rank: exit 1 (rc $rc)" $([[ $rc == 1 ]]; echo $?)
check "one rank: one error line (got $(grep -c 'shear: error:' "$out"))" \
  $([[ $(grep -c 'shear: error:' "$out") == 1 ]]; echo $?)
check "one rank: the line names rank 1 and is whole" \
  $(grep -Eq '^shear: error: rank 1: rank 1 dies before the gradient all-reduce of step 3.*\([^()]+\.c:[0-9]+\)$' "$out"; echo $?)
finish
