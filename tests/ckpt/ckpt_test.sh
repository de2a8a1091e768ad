#!/usr/bin/env bash
# Checkpoint and stop tests (tests/ckpt.cmake). One mode per ctest test:
#   ranks_ompio / ranks_romio321  save on 1, 2, 3 ranks: same content; load bit-exactly on other rank counts
#   commit    LATEST follows the newest, keep_last/major_every retention, *.tmp ignored and cleaned, no-LATEST
#   corrupt   bit flip and truncation refused naming the dataset/file, fallback to the previous checkpoint,
#             changed shape and phase refused
#   kill      a rank SIGKILLed between dataset writes leaves the previous checkpoint committed and loadable
#   stop      SIGUSR1 to mpirun and SIGTERM to one rank exit 75 after a checkpoint; the resumed run ends where an
#             uninterrupted one does; the wall-clock budget stops; a finished run exits 0 at once
#   info      shear info on a checkpoint (ok, then corrupted: exit 1), a model file and a token store
# usage: ckpt_test.sh MODE TEST_CKPT SHEAR WORKDIR PYTHON MPIRUN [MPIRUN ARGS...]
set -uo pipefail
mode="$1"; t="$(realpath "$2")"; shear="$(realpath "$3")"; work="$4"; py="$5"; shift 5
mpi=("$@")
here="$(cd "$(dirname "$0")" && pwd)"
check="$py $here/h5check.py"
rm -rf "$work"; mkdir -p "$work"; cd "$work" || exit 1

fails=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
# expect_ok NAME CMD...: exit 0
expect_ok() {
  local name="$1"; shift
  "$@" >"$name.log" 2>&1; local rc=$?
  if [ $rc = 0 ]; then pass "$name"; else cat "$name.log"; fail "$name (exit $rc)"; fi
}
# expect_fail NAME CODE PATTERN CMD...: exit CODE ("nz" = any non-zero) and PATTERN (grep -E) in the output
expect_fail() {
  local name="$1" code="$2" pat="$3"; shift 3
  "$@" >"$name.log" 2>&1; local rc=$?
  if { [ "$code" = nz ] && [ $rc -ne 0 ]; } || [ "$rc" = "$code" ]; then
    if grep -qE -- "$pat" "$name.log"; then pass "$name (exit $rc: $(grep -oE -- "$pat" "$name.log" | head -1))"
    else cat "$name.log"; fail "$name: message /$pat/ missing"; fi
  else cat "$name.log"; fail "$name: exit $rc, expected $code"; fi
}
latest_is() { [ "$(cat "$1/ckpt/LATEST")" = "$2" ]; }
ckfile() { printf '%s/ckpt/step_%08d.h5' "$1" "$2"; }

case "$mode" in
ranks_ompio|ranks_romio321)
  io="${mode#ranks_}"
  m=("${mpi[@]}" --mca io "$io")
  for np in 1 2 3; do expect_ok "save_np$np" "${m[@]}" -np $np "$t" save np$np 7; done
  expect_ok same_1_2 $check same "$(ckfile np1 7)" "$(ckfile np2 7)"
  expect_ok same_1_3 $check same "$(ckfile np1 7)" "$(ckfile np3 7)"
  expect_ok sums_np3 $check sums "$(ckfile np3 7)"
  # restart on another rank count: each file loaded by the other counts
  for np in 1 2 3; do for src in 1 2 3; do
    [ $np = $src ] && continue
    expect_ok "load_np${src}_on_np$np" "${m[@]}" -np $np "$t" load "$(ckfile np$src 7)" 7
  done; done
  # pieces of 1000 bytes: items take many collective rounds (rows of 192 bytes: 5 rows a round)
  for np in 2 3; do expect_ok "save_pieces_np$np" env TEST_CKPT_PIECE_BYTES=1000 "${m[@]}" -np $np "$t" save pc$np 7; done
  expect_ok same_pieces_2 $check same "$(ckfile np1 7)" "$(ckfile pc2 7)"
  expect_ok same_pieces_3 $check same "$(ckfile np1 7)" "$(ckfile pc3 7)"
  expect_ok load_pieces_np3 env TEST_CKPT_PIECE_BYTES=1000 "${m[@]}" -np 3 "$t" load "$(ckfile np2 7)" 7
  expect_ok load_pieces_np2 env TEST_CKPT_PIECE_BYTES=700 "${m[@]}" -np 2 "$t" load "$(ckfile pc3 7)" 7
  # step 10: the DBL history has 0 rows (empty dataset) and 3 ranks split 7-row items unevenly
  expect_ok save_empty_np3 "${m[@]}" -np 3 "$t" save np3 10
  expect_ok load_empty_np2 "${m[@]}" -np 2 "$t" load "$(ckfile np3 10)" 10
  ;;

commit)
  for s in 1 2 3 4 5 6 7 8 9; do
    "${mpi[@]}" -np 2 "$t" save c $s 2 4 >/dev/null 2>&1 || fail "save step $s"
    latest_is c "$(basename "$(ckfile c $s)")" || fail "LATEST after step $s is $(cat c/ckpt/LATEST)"
  done
  left="$(cd c/ckpt && ls step_* | tr '\n' ' ')"
  # keep_last 2 at step 9: 9 and 7 (newest non-major below); majors 4 and 8 stay
  [ "$left" = "step_00000004.h5 step_00000007.h5 step_00000008.h5 step_00000009.h5 " ] &&
    pass "retention keep_last=2 major_every=4 leaves: $left" || fail "retention left: $left"
  # a killed save's .tmp (newer than LATEST) is never read
  echo "half a file" > c/ckpt/step_00000011.h5.tmp
  expect_fail resume_ignores_tmp 0 "resumed from .*step_00000009.h5" "${mpi[@]}" -np 2 "$t" resume c 0 4
  expect_ok save_10 "${mpi[@]}" -np 3 "$t" save c 10 2 4
  [ ! -e c/ckpt/step_00000011.h5.tmp ] && pass "the next save removed the stale .tmp" || fail "stale .tmp still there"
  latest_is c step_00000010.h5 && pass "LATEST names step 10" || fail "LATEST: $(cat c/ckpt/LATEST)"
  # LATEST lost: refused without fallback (telling about it), newest committed one with fallback
  rm c/ckpt/LATEST
  expect_fail no_latest nz "no LATEST pointer.*run.fallback" "${mpi[@]}" -np 2 "$t" resume c 0 0
  expect_fail no_latest_fallback 0 "resumed from .*step_00000010.h5" "${mpi[@]}" -np 2 "$t" resume c 1 0
  # an empty run folder: a fresh start
  expect_fail fresh 3 "no checkpoint" "${mpi[@]}" -np 2 "$t" resume empty 0 0
  ;;

corrupt)
  # steps 3 and 8 share step % 5, so the same state shape loads either
  expect_ok save_3 "${mpi[@]}" -np 2 "$t" save c 3
  expect_ok save_8 "${mpi[@]}" -np 2 "$t" save c 8
  cp "$(ckfile c 8)" good8.h5
  ds="weights/model.layers.1.mlp.up_proj.weight"
  expect_ok flip $check flip "$(ckfile c 8)" "$ds"
  expect_fail flipped_refused nz "dataset '$ds' fails its checksum" "${mpi[@]}" -np 3 "$t" load "$(ckfile c 8)" 8
  expect_fail no_fallback nz "refusing to resume: .*'$ds' fails its checksum.*run.fallback" \
    "${mpi[@]}" -np 2 "$t" resume c 0 3
  expect_fail fallback 0 "resumed from .*step_00000003.h5" "${mpi[@]}" -np 3 "$t" resume c 1 3
  grep -q "refusing checkpoint .*step_00000008.h5.*fails its checksum.*; trying the previous committed checkpoint '.*step_00000003.h5'" fallback.log &&
    pass "fallback says which checkpoint it refused and why" || { cat fallback.log; fail "fallback warning"; }
  grep -q "restored bit-exactly" fallback.log && pass "fallback state is step 3's, bit-exact" || fail "fallback state"
  # truncation
  cp good8.h5 "$(ckfile c 8)"
  truncate -s $(( $(stat -c %s good8.h5) / 2 )) "$(ckfile c 8)"
  expect_fail truncated_refused nz "step_00000008.h5' \([0-9]+ bytes\) cannot be opened: it is truncated" \
    "${mpi[@]}" -np 2 "$t" load "$(ckfile c 8)" 8
  expect_fail truncated_fallback 0 "resumed from .*step_00000003.h5" "${mpi[@]}" -np 2 "$t" resume c 1 3
  # everything corrupt: fatal, naming the folder
  $check flip "$(ckfile c 3)" adam_t >/dev/null
  expect_fail all_corrupt nz "no committed checkpoint in '.*' verifies" "${mpi[@]}" -np 2 "$t" resume c 1 3
  # configuration changes: refused before anything is read, naming the dataset and both shapes
  cp good8.h5 "$(ckfile c 8)"
  expect_fail shape_refused nz "dataset 'weights/model.embed_tokens.weight' has shape \[61, 48\], this run expects \[62, 48\]" \
    "${mpi[@]}" -np 2 "$t" load "$(ckfile c 8)" 8 62
  expect_fail phase_refused nz "written by phase 'prune', this run is 'train'" \
    "${mpi[@]}" -np 2 "$t" load "$(ckfile c 8)" 8 61 train
  "$t" model model.h5 >/dev/null 2>&1
  expect_fail not_ckpt nz "'model.h5' is not a Shear checkpoint: root attribute 'format' is 'shear-model'" \
    "${mpi[@]}" -np 2 "$t" load model.h5 8
  expect_fail not_hdf5 nz "h5check.py' \([0-9]+ bytes\) cannot be opened: it is truncated or not an HDF5 file" \
    "${mpi[@]}" -np 2 "$t" load "$here/h5check.py" 8
  ;;

kill)
  expect_ok save_5 "${mpi[@]}" -np 2 "$t" save k 5
  # rank 1 raises SIGKILL after writing item 30 of the step-10 save
  "${mpi[@]}" -np 2 "$t" save k 10 0 0 30 > kill.log 2>&1; rc=$?
  [ $rc -ne 0 ] && pass "killed save exits $rc" || fail "killed save exited 0"
  [ -e k/ckpt/step_00000010.h5.tmp ] && [ ! -e k/ckpt/step_00000010.h5 ] &&
    pass "the killed save left only step_00000010.h5.tmp" || { ls -la k/ckpt; fail "killed save files"; }
  latest_is k step_00000005.h5 && pass "LATEST still names step 5" || fail "LATEST: $(cat k/ckpt/LATEST)"
  expect_fail resume_after_kill 0 "restored bit-exactly: .* at step 5" "${mpi[@]}" -np 2 "$t" resume k 0 0
  expect_ok save_after_kill "${mpi[@]}" -np 2 "$t" save k 15
  [ ! -e k/ckpt/step_00000010.h5.tmp ] && pass "the next save cleaned the killed one's .tmp" || fail ".tmp left"
  ;;

stop)
  expect_fail reference 0 "finished step 40 digest" "${mpi[@]}" -np 2 "$t" loop ref 40 0 0 0 0
  want="$(grep -oE 'digest [0-9a-f]+' reference.log)"
  # wait_ready DIR PID: the loop has reached its waiting point (no timing: it waits for the signal)
  wait_ready() { for _ in $(seq 600); do [ -e "$1/ready" ] && return 0; kill -0 "$2" 2>/dev/null || return 1; sleep 0.1; done; return 1; }
  "${mpi[@]}" -np 2 "$t" loop usr1 40 0 0 0 1 > usr1.log 2>&1 & pid=$!
  if wait_ready usr1 $pid; then kill -USR1 $pid; fi
  wait $pid; rc=$?
  [ $rc = 75 ] && grep -q "stopping at step 3: SIGUSR1; checkpoint written" usr1.log &&
    pass "SIGUSR1 to mpirun: checkpoint at step 3, exit 75" || { cat usr1.log; fail "SIGUSR1: exit $rc"; }
  # resume on another rank count and finish: same end state as the uninterrupted run
  expect_fail usr1_resume 0 "resumed from .*step_00000003.h5 at step 3" "${mpi[@]}" -np 3 "$t" loop usr1 40 0 0 0 0
  grep -q "$want" usr1_resume.log && pass "resumed run ends with the uninterrupted $want" || fail "digest after resume"
  expect_fail usr1_done 0 "already complete at step 40" "${mpi[@]}" -np 2 "$t" loop usr1 40 0 0 0 0
  # SIGTERM to one rank only (scancel/preemption signal ranks directly): the ranks agree and stop together
  "${mpi[@]}" -np 2 "$t" loop term 40 0 0 0 1 > term.log 2>&1 & pid=$!
  if wait_ready term $pid; then kill -TERM "$(pgrep -P $pid | head -1)"; fi
  wait $pid; rc=$?
  [ $rc = 75 ] && grep -q "stopping at step 3: SIGTERM" term.log && [ -e "$(ckfile term 3)" ] &&
    pass "SIGTERM to one rank: all stop at step 3, exit 75" || { cat term.log; fail "SIGTERM: exit $rc"; }
  # budget: 1 s of wall clock for a loop of 20 ms steps that would take hours
  expect_fail walltime 75 "stopping at step [0-9]+: wall-clock budget" "${mpi[@]}" -np 2 "$t" loop wall 1000000 1 0 20 0
  # an estimate of step + checkpoint larger than the budget stops at the first boundary
  expect_fail walltime_est 75 "stopping at step 1: wall-clock budget" "${mpi[@]}" -np 2 "$t" loop est 40 100 1000 0 0
  ;;

info)
  expect_ok save "${mpi[@]}" -np 2 "$t" save i 7
  f="$(ckfile i 7)"
  expect_fail info_ok 0 "phase: prune \| step: 7 \| tokens: 28672 \| world size at save: 2" "$shear" info "$f"
  n_ok=$(grep -c "checksum ok" info_ok.log)
  grep -qE "weights/model.embed_tokens.weight +float32 +\[61, 48\] +checksum ok" info_ok.log && grep -q "^build: shear" info_ok.log &&
    grep -q "^config: dim=48 n_layers=2" info_ok.log && [ "$n_ok" = 72 ] &&
    pass "info lists 72 datasets with shapes, all verified" || fail "info content ($n_ok ok)"
  $check flip "$f" "adam_v/lm_head.weight" >/dev/null
  expect_fail info_corrupt 1 "adam_v/lm_head.weight .*CHECKSUM FAILED" "$shear" info "$f"
  expect_ok model "$t" model model.h5
  expect_fail info_model 0 "config: dim=48 n_layers=2 n_heads=4 n_kv_heads=2 head_dim=12 intermediate=80 vocab=61" \
    "$shear" info model.h5
  grep -qE "weights/model.layers.1.mlp.down_proj.weight +float32 +\[48, 80\]" info_model.log &&
    pass "info shows a model file's tensor shapes" || fail "info model shapes"
  expect_ok make_store "$py" "$here/../train/make_store.py" tokens.h5
  expect_fail info_store 0 "github +train 40 seqs \(1280 tokens\) \| eval 4 seqs" "$shear" info tokens.h5
  expect_fail info_missing 1 "does not exist" "$shear" info nothere.h5
  ;;

*) echo "unknown mode $mode" >&2; exit 2 ;;
esac

if [ $fails -ne 0 ]; then echo "ckpt_test $mode: $fails check(s) failed" >&2; exit 1; fi
echo "ckpt_test $mode: all checks passed"
