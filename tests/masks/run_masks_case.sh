#!/bin/sh
# run_masks_case.sh DRIVER WORKDIR MAKE_CASE_ARGS... -- MAKE_MASKS_ARGS...: one mask case, end to end:
#   tests/parity/make_case.py --out WORKDIR/case.h5 MAKE_CASE_ARGS
#   make_masks.py --case case.h5 --out masks.h5 MAKE_MASKS_ARGS
#   DRIVER case.h5 masks.h5 out.h5  ->  check_masks.py case.h5 masks.h5 out.h5 (its exit status)
set -eu
if [ $# -lt 4 ]; then
    echo "usage: run_masks_case.sh DRIVER WORKDIR MAKE_CASE_ARGS... -- MAKE_MASKS_ARGS..." >&2
    exit 2
fi
driver=$1
work=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
py=${SHEAR_PYTHON:-/usr/bin/python3}
case_args=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    case_args="$case_args $1"
    shift
done
[ $# -gt 0 ] || { echo "run_masks_case.sh: missing -- before the make_masks.py arguments" >&2; exit 2; }
shift
mkdir -p "$work"
rm -f "$work/case.h5" "$work/masks.h5" "$work/out.h5"
# shellcheck disable=SC2086  # the case arguments are plain words
"$py" "$here/../parity/make_case.py" --out "$work/case.h5" $case_args
"$py" "$here/make_masks.py" --case "$work/case.h5" --out "$work/masks.h5" "$@"
if ! "$driver" "$work/case.h5" "$work/masks.h5" "$work/out.h5"; then
    echo "run_masks_case.sh: driver $driver failed on $work" >&2
    exit 1
fi
exec "$py" "$here/check_masks.py" "$work/case.h5" "$work/masks.h5" "$work/out.h5"
