#!/usr/bin/env bash
# Bad command lines and bad decks: each must exit non-zero with one message naming what is wrong.
# Usage: cli_errors.sh SHEAR WORKDIR TOKENS.h5 [MODEL.h5]
set -u
SHEAR=$1 WORK=$2 STORE=$3 MODEL=${4:-}
mkdir -p "$WORK"
pass=0 fail=0
# expect CODE PATTERN -- command...: exit code must equal CODE and stderr+stdout must contain PATTERN
expect() {
  local code=$1 pat=$2; shift 3
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [[ $rc -eq $code ]] && grep -qF -- "$pat" <<<"$out"; then
    echo "ok   [$rc] $pat"; pass=$((pass+1))
  else
    echo "FAIL expected exit $code and '$pat', got exit $rc:"; echo "$out" | head -5 | sed 's/^/     /'; fail=$((fail+1))
  fi
}
deck() { printf '%s\n' "$@" > "$WORK/deck.yaml"; echo "$WORK/deck.yaml"; }
base=("data:" "  store: $STORE" "model:" "  dim: 32" "  n_heads: 4" "  vocab: 64" "train:" "  seq_len: 16" "dbl:" "  rule: constant" "run:" "  out_dir: $WORK/out")

expect 2 "usage: shear COMMAND" -- "$SHEAR"
expect 2 "unknown command 'frobnicate'" -- "$SHEAR" frobnicate
expect 0 "usage: shear train" -- "$SHEAR" train --help
expect 2 "unknown option '--bogus'" -- "$SHEAR" train --bogus x.yaml
expect 2 "expected one input deck" -- "$SHEAR" train
expect 1 "cannot open '$WORK/missing.yaml'" -- "$SHEAR" train "$WORK/missing.yaml"
expect 1 "deck.yaml:4: optim.lrr" -- "$SHEAR" train "$(deck "${base[@]:0:2}" "optim:" "  lrr: 0.1")"
expect 1 "model.dim" -- "$SHEAR" train "$(deck "model:" "  dim: big")"
expect 1 "deck.yaml:2: train.steps" -- "$SHEAR" train "$(deck "train:" "  steps: 0")"
expect 1 "optim.schedule" -- "$SHEAR" train "$(deck "optim:" "  schedule: linear")"
expect 1 "unknown section" -- "$SHEAR" train "$(deck "trian:" "  steps: 3")"
expect 1 "optim.lr" -- "$SHEAR" train "$(deck "${base[@]}")" --set optim.lr=fast
expect 1 "train.global_batch" -- "$SHEAR" train "$(deck "${base[@]}")" --set train.global_batch=5 --set train.micro_batch=3
expect 1 "data.store is required" -- "$SHEAR" train "$(deck "model:" "  vocab: 64")"
expect 1 "train.seq_len 64 is longer" -- "$SHEAR" train "$(deck "${base[@]}")" --set train.seq_len=64
expect 1 "model has vocab 16" -- "$SHEAR" train "$(deck "${base[@]}")" --set model.vocab=16
expect 1 "model file '$WORK/none.h5' does not exist" -- "$SHEAR" train "$(deck "${base[@]}")" --init "$WORK/none.h5"
expect 1 "not a readable HDF5 file" -- "$SHEAR" train "$(deck "${base[@]}")" --init "$WORK/deck.yaml"
if [[ -n "$MODEL" ]]; then
  head -c 3000 "$MODEL" > "$WORK/truncated.h5"
  expect 1 "'$WORK/truncated.h5'" -- "$SHEAR" train "$(deck "${base[@]}")" --init "$WORK/truncated.h5"
  cp "$MODEL" "$WORK/nan.h5"
  /usr/bin/python3 -c "import h5py,sys; f=h5py.File(sys.argv[1],'r+'); d=f['weights/model.norm.weight']; a=d[:]; a[3]=float('nan'); d[:]=a; del d.attrs['checksum']" "$WORK/nan.h5"
  expect 1 "tensor 'model.norm.weight' holds a non-finite value" -- "$SHEAR" train "$(deck "${base[@]}")" --init "$WORK/nan.h5"
  # finite weights whose logits overflow float: the first loss is not finite
  cp "$MODEL" "$WORK/huge.h5"
  /usr/bin/python3 -c "import h5py,sys; f=h5py.File(sys.argv[1],'r+'); d=f['weights/lm_head.weight']; d[:]=d[:]*3e38; del d.attrs['checksum']" "$WORK/huge.h5"
  expect 1 "expected a finite loss" -- "$SHEAR" train "$(deck "${base[@]}")" --init "$WORK/huge.h5"
fi
echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
