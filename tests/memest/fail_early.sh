#!/usr/bin/env bash
# Runs that cannot fit fail before they allocate: exit 1 within seconds, one message with the sizes and the
# lever that works (the largest micro-batch that fits, run.zero with more ranks, or a shorter seq_len), and no
# run folder. SHEAR_MEM_AVAILABLE fakes the available bytes so the verdicts do not depend on this machine.
set -u
SHEAR=$1 DECK=$2 STORE=$3 WORK=$4 MPIRUN=$5 SOURCE=${6:-}
rm -rf "$WORK"; mkdir -p "$WORK"
pass=0 fail=0
# expect CMD_PREFIX PATTERN ARGS...: non-zero exit, PATTERN in the output, no run folder, under 30 s
expect() {
  local prefix=$1 pat=$2; shift 2
  local out rc t0=$SECONDS
  out=$($prefix "$SHEAR" "$@" --set data.store="$STORE" --set run.out_dir="$WORK/out" --set run.threads=1 2>&1)
  rc=$?
  if [[ $rc -ne 0 ]] && grep -qF -- "$pat" <<<"$out" && [[ ! -e "$WORK/out" ]] && (( SECONDS - t0 < 30 )); then
    echo "ok   [$rc] $pat"; pass=$((pass+1))
  else
    echo "FAIL expected an early failure with '$pat', got exit $rc:"; echo "$out" | tail -4 | sed 's/^/     /'
    fail=$((fail+1))
  fi
  LAST=$out
}
# an absurd micro-batch on this machine's real memory: 65536 sequences of a 16-layer model (about 1 TB)
expect "" "is the largest that fits" train "$DECK" --set train.global_batch=65536 --set train.micro_batch=65536 \
  --set model.dim=256 --set model.n_heads=8 --set model.n_kv_heads=8 --set model.intermediate=1024 --set model.n_layers=16
grep -q -- "--set train.micro_batch=" <<<"$LAST" \
  && { echo "ok   suggests --set train.micro_batch=N"; pass=$((pass+1)); } \
  || { echo "FAIL no --set train.micro_batch= suggestion"; fail=$((fail+1)); }
# the tiny deck (global batch 8, micro-batch 2) needs 798.8 KiB; micro-batch 1 needs 576.6 KiB of which the
# optimizer state is 177.2 KiB
export SHEAR_MEM_AVAILABLE=700K
expect "" "train.micro_batch = 1 is the largest that fits (576.6 KiB" train "$DECK"
expect "$MPIRUN -np 2" "train.micro_batch = 1 is the largest that fits" train "$DECK"
n=$(grep -c "shear: error: .*largest that fits" <<<"$LAST")
[[ $n -eq 1 ]] && { echo "ok   2 ranks: one error message"; pass=$((pass+1)); } \
  || { echo "FAIL 2 ranks: $n messages"; fail=$((fail+1)); }
export SHEAR_MEM_AVAILABLE=450K
expect "" "run on more ranks with run.zero = 1" train "$DECK"
export SHEAR_MEM_AVAILABLE=100K
expect "" "so more ranks do not help" train "$DECK"
line="memory estimate per rank: weights 88.6 KiB, grads 88.6 KiB, optim 177.2 KiB, activations 427.8 KiB"
grep -qF "$line (micro-batch 2 x 32)" <<<"$LAST" \
  && { echo "ok   estimate line"; pass=$((pass+1)); } || { echo "FAIL estimate line"; fail=$((fail+1)); }
if [[ -n "$SOURCE" ]]; then
  expect "" "even train.micro_batch = 1 needs" prune "$DECK" --set prune.source="$SOURCE" --set prune.target_dim=24 \
    --set "prune.masks=[layer, head, intermediate, hidden]"
  grep -qF ", masks " <<<"$LAST" && { echo "ok   prune estimate counts the masks"; pass=$((pass+1)); } \
    || { echo "FAIL prune estimate has no masks"; fail=$((fail+1)); }
fi
export SHEAR_MEM_AVAILABLE=lots
expect "" "SHEAR_MEM_AVAILABLE='lots': expected a size in bytes" train "$DECK"
echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
