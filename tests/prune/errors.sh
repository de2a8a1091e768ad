#!/usr/bin/env bash
# Infeasible targets and bad prune decks: one clear message naming the dimension, non-zero exit, no output.
set -u
SHEAR=$1 DECK=$2 SOURCE=$3 STORE=$4 WORK=$5
mkdir -p "$WORK"
pass=0 fail=0
expect() {
  local pat=$1; shift
  local out rc
  out=$("$SHEAR" prune "$DECK" --set prune.source="$SOURCE" --set data.store="$STORE" --set run.out_dir="$WORK/out" "$@" 2>&1); rc=$?
  if [[ $rc -ne 0 ]] && grep -qF -- "$pat" <<<"$out" && [[ ! -e "$WORK/out/pruned.h5" ]]; then
    echo "ok   [$rc] $pat"; pass=$((pass+1))
  else
    echo "FAIL expected failure with '$pat', got exit $rc:"; echo "$out" | tail -3 | sed 's/^/     /'; fail=$((fail+1))
  fi
}
expect "dim" --set prune.target_dim=40
expect "n_layers" --set prune.target_n_layers=3
expect "group size" --set prune.target_n_heads=3
expect "intermediate" --set prune.target_intermediate=65
expect "hidden" --set "prune.masks=[head, intermediate, layer]"
expect "prune.masks" --set "prune.masks=[head, bogus]"
expect "model file '$WORK/none.h5' does not exist" --set prune.source="$WORK/none.h5"
expect "dbl.ref_losses has 0 values" --set dbl.reference=deck
echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
