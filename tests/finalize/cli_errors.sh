#!/usr/bin/env bash
# Bad `shear finalize` inputs: each must exit non-zero with one message naming what is wrong.
# Usage: cli_errors.sh SHEAR WORKDIR
set -u
SHEAR=$1 WORK=$2
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${SHEAR_PYTHON:-/usr/bin/python3}
rm -rf "$WORK"
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
    echo "FAIL expected exit $code and '$pat', got exit $rc:"; echo "$out" | tail -5 | sed 's/^/     /'; fail=$((fail+1))
  fi
}
mk() { "$PY" "$HERE/make_case.py" "$WORK/$1.h5" "${@:2}" > /dev/null || { echo "FAIL make_case $1"; fail=$((fail+1)); }; }

expect 0 "usage: shear finalize --in PRUNE_OUTPUT --out MODEL.h5" -- "$SHEAR" finalize --help
expect 2 "--in PRUNE_OUTPUT is required" -- "$SHEAR" finalize --out "$WORK/x.h5"
expect 2 "--out MODEL.h5 is required" -- "$SHEAR" finalize --in "$WORK/x.h5"
expect 2 "unknown option '--input'" -- "$SHEAR" finalize --input "$WORK/x.h5"
expect 1 "model file '$WORK/none.h5' does not exist" -- "$SHEAR" finalize --in "$WORK/none.h5" --out "$WORK/o.h5"
printf 'not hdf5\n' > "$WORK/text.h5"
expect 1 "'$WORK/text.h5' is not a readable HDF5 file" -- "$SHEAR" finalize --in "$WORK/text.h5" --out "$WORK/o.h5"
"$PY" -c "import h5py,sys; h5py.File(sys.argv[1],'w').create_dataset('x', data=[1])" "$WORK/other.h5"
expect 1 "'$WORK/other.h5' is not a Shear model file" -- "$SHEAR" finalize --in "$WORK/other.h5" --out "$WORK/o.h5"
mk ok
expect 2 "is the input file" -- "$SHEAR" finalize --in "$WORK/ok.h5" --out "$WORK/ok.h5"
mk nomasks --break no-masks
expect 1 "'$WORK/nomasks.h5' has no /masks group" -- "$SHEAR" finalize --in "$WORK/nomasks.h5" --out "$WORK/o.h5"
mk empty --break empty-masks
expect 1 "/masks holds no gate dataset" -- "$SHEAR" finalize --in "$WORK/empty.h5" --out "$WORK/o.h5"
mk unknown --break unknown-type
expect 1 "unknown dataset /masks/heads" -- "$SHEAR" finalize --in "$WORK/unknown.h5" --out "$WORK/o.h5"
mk shape --break bad-shape
expect 1 "/masks/head has shape [5, 6], expected [5, 3]" -- "$SHEAR" finalize --in "$WORK/shape.h5" --out "$WORK/o.h5"
mk range --break out-of-range
expect 1 "/masks/hidden element 0 is 1.5, expected a gate value in [0, 1]" -- "$SHEAR" finalize --in "$WORK/range.h5" --out "$WORK/o.h5"
mk both --types layer,head_layer --break layer-with-cofi
expect 1 "they are alternatives" -- "$SHEAR" finalize --in "$WORK/both.h5" --out "$WORK/o.h5"
mk heads --break inconsistent-heads
expect 1 "inconsistent 'head' counts: source layer" -- "$SHEAR" finalize --in "$WORK/heads.h5" --out "$WORK/o.h5"
expect 1 "NOT a LLaMA shape" -- "$SHEAR" finalize --in "$WORK/heads.h5" --out "$WORK/o.h5"
mk inter --types intermediate --break inconsistent-intermediate
expect 1 "inconsistent 'intermediate' counts: source layer 0 keeps 24 of 36 channels but source layer 4 keeps 25" -- "$SHEAR" finalize --in "$WORK/inter.h5" --out "$WORK/o.h5"
mk zhidden --break zero-hidden
expect 1 "every 'hidden' gate is 0" -- "$SHEAR" finalize --in "$WORK/zhidden.h5" --out "$WORK/o.h5"
mk zlayer --break zero-layer
expect 1 "every 'layer' gate is 0" -- "$SHEAR" finalize --in "$WORK/zlayer.h5" --out "$WORK/o.h5"
# a dropped layer's rows are not part of the shape: all its head gates may be 0
mk dropped --break dropped-layer-odd
expect 0 "target: d=26 L=3 H=4 kv=2" -- "$SHEAR" finalize --in "$WORK/dropped.h5" --out "$WORK/dropped_out.h5"
# a failed finalize leaves no output behind
[[ ! -e "$WORK/o.h5" ]] && { echo "ok   no output after failures"; pass=$((pass+1)); } || { echo "FAIL $WORK/o.h5 exists"; fail=$((fail+1)); }
echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
