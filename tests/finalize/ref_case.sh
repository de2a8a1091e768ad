#!/bin/sh
# ref_case.sh SHEAR WORKDIR MAKE_CASE_ARGS...: writes a prune output with h5py, finalizes it with Shear and
# compares the result with the PyTorch reference (compare.py).
set -eu
SHEAR=$1 WORK=$2
shift 2
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${SHEAR_PYTHON:-/usr/bin/python3}
mkdir -p "$WORK"
"$PY" "$HERE/make_case.py" "$WORK/prune.h5" "$@"
"$SHEAR" finalize --in "$WORK/prune.h5" --out "$WORK/dense.h5"
"$PY" "$HERE/compare.py" "$WORK/prune.h5" "$WORK/dense.h5"
