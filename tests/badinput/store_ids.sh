#!/usr/bin/env bash
# Token ids outside the vocabulary never reach the embedding (issue 19, item 1). A synthetic store (vocab 64,
# seq_len 32, written by tests/train/make_store.py) gets id 64 or -1 planted at position 31 (a target only) or 0
# (an input) of every row of its train or eval split; `shear train` and `shear eval` on it must exit 1 within
# 60 s with one `shear: error:` line naming the store, domain, split, sequence, position, the id and the
# vocabulary: at open (the check that reads the store once), and with SHEAR_NO_VERIFY=1 when the row is read.
# `shear info` reports such a store and exits 1.
# usage: store_ids.sh SHEAR WORKDIR SRC_DIR MPIRUN [MPIRUN ARGS...]
set -uo pipefail
shear="$1"; work="$2"; src="$3"; shift 3
mpirun=("$@")
py=/usr/bin/python3
tool="$src/tests/badinput/data_tool.py"
deck="$src/tests/train/deck.yaml"
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
ulimit -c 0 # a crash must show as its exit status, not leave a core file

pass=0; fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# expect_bad NAME PATTERN... -- CMD...: exit 1 in at most 60 s, exactly one `shear: error:` line, and that line
# contains every PATTERN (fixed strings)
expect_bad() {
  local name="$1"; shift
  local pats=()
  while [[ "$1" != "--" ]]; do pats+=("$1"); shift; done
  shift
  local t0=$SECONDS
  timeout 60 "$@" >"$name.log" 2>&1
  local rc=$? dt=$((SECONDS - t0))
  local n
  n=$(grep -c '^shear: error:' "$name.log")
  local line
  line=$(grep -m1 '^shear: error:' "$name.log")
  if [[ $rc -ne 1 ]]; then fail "$name: exit $rc (expected 1; 124 = over 60 s, 139 = SIGSEGV)"; tail -5 "$name.log"; return; fi
  if [[ $n -ne 1 ]]; then fail "$name: $n 'shear: error:' lines (expected 1)"; cat "$name.log"; return; fi
  for p in "${pats[@]}"; do
    if [[ "$line" != *"$p"* ]]; then fail "$name: no '$p' in: $line"; return; fi
  done
  pass=$((pass + 1))
  echo "ok   $name (${dt}s): $line"
}

"$py" "$src/tests/train/make_store.py" tokens.h5 >/dev/null || { echo "make_store.py failed"; exit 1; }
common=(--set data.store="$work/tokens.h5" --set train.steps=2 --set optim.warmup=0 --set run.threads=1)
"$shear" train "$deck" "${common[@]}" --set run.out_dir="$work/model" >model.log 2>&1 ||
  { echo "training the model on the good store failed"; cat model.log; exit 1; }
model="$work/model/model.h5"
"$shear" eval "$deck" --model "$model" --set data.store="$work/tokens.h5" >good_eval.log 2>&1 ||
  { fail "eval on the good store"; cat good_eval.log; }

for split in train eval; do
  for id in 64 -1; do
    for pos in 31 0; do
      case_="${split}_id${id}_pos${pos}"
      store="$work/$case_.h5"
      "$py" "$tool" plant tokens.h5 "$store" "$split" "$pos" "$id" || { fail "plant $case_"; continue; }
      # at open the first split of the first domain with a bad id is named: sequence 0 of domain cc
      what=("token store '$store': domain 'cc', $split sequence 0, position $pos holds token id $id"
            "outside the store's vocabulary [0, 64)")
      bad=(--set data.store="$store" --set train.steps=2 --set optim.warmup=0 --set run.threads=1)
      expect_bad "train_$case_" "${what[@]}" -- "$shear" train "$deck" "${bad[@]}" --set run.out_dir="$work/out_$case_"
      expect_bad "eval_$case_" "${what[@]}" -- "$shear" eval "$deck" --model "$model" --set data.store="$store"
      # without the check at open, the read itself refuses the row (train: the first batch, or the final
      # evaluation on the eval split; eval reads only the eval split)
      expect_bad "train_noverify_$case_" "holds token id $id" "$split sequence" "position $pos" "[0, 64)" -- \
        env SHEAR_NO_VERIFY=1 "$shear" train "$deck" "${bad[@]}" --set run.out_dir="$work/nv_$case_"
      if [[ $split == eval ]]; then
        expect_bad "eval_noverify_$case_" "holds token id $id" "eval sequence" "position $pos" "[0, 64)" -- \
          env SHEAR_NO_VERIFY=1 "$shear" eval "$deck" --model "$model" --set data.store="$store"
      fi
    done
  done
done

# two ranks: exit 1, the id named, no crash (how many lines the ranks print is item 4's business)
store="$work/train_id64_pos31.h5"
timeout 60 "${mpirun[@]}" -np 2 "$shear" train "$deck" --set data.store="$store" --set train.steps=2 \
  --set optim.warmup=0 --set run.threads=1 --set run.out_dir="$work/np2" >np2.log 2>&1
rc=$?
if [[ $rc -ne 0 && $rc -ne 124 && $rc -lt 128 ]] && grep -q "holds token id 64" np2.log; then
  pass=$((pass + 1)); echo "ok   2 ranks: exit $rc, $(grep -m1 'shear: error:' np2.log)"
else
  fail "2 ranks: exit $rc"; tail -5 np2.log
fi

# shear info names the split, the sequence, the position and the id, exits 1, and does not crash
expect_bad info_train_id64 "train_id64_pos31.h5" "domains/cc/train sequence 0 position 31 holds id 64" -- \
  "$shear" info "$work/train_id64_pos31.h5"
expect_bad info_eval_neg "domains/cc/eval sequence 0 position 0 holds id -1" -- "$shear" info "$work/eval_id-1_pos0.h5"
grep -q "ID(S) OUTSIDE \[0, 64)" info_train_id64.log || fail "info lists no bad-id count per split"
"$shear" info tokens.h5 >info_good.log 2>&1 || { fail "info on the good store: exit $?"; cat info_good.log; }

echo "$pass passed, $fails failed"
[[ $fails -eq 0 ]]
