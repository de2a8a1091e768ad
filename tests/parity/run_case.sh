#!/bin/sh
# run_case.sh DRIVER WORKDIR MAKE_CASE_ARGS...: one parity case, end to end:
#   make_case.py --out WORKDIR/case.h5 MAKE_CASE_ARGS  ->  DRIVER case.h5 out.h5  ->  compare.py case.h5 out.h5
# DRIVER is the C parity_driver (or ref_driver.py, which checks the harness itself). Exit status: compare's.
# PARITY_COMPARE=SCRIPT (in this folder) compares with SCRIPT instead of compare.py (compare_autocast.py).
set -eu
if [ $# -lt 3 ]; then
    echo "usage: run_case.sh DRIVER WORKDIR MAKE_CASE_ARGS..." >&2
    exit 2
fi
driver=$1
work=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
py=${SHEAR_PYTHON:-/usr/bin/python3}
mkdir -p "$work"
rm -f "$work/case.h5" "$work/out.h5"
"$py" "$here/make_case.py" --out "$work/case.h5" "$@"
case $driver in
    *.py) set -- "$py" "$driver" ;;
    *) set -- "$driver" ;;
esac
if ! "$@" "$work/case.h5" "$work/out.h5"; then
    echo "run_case.sh: driver $driver failed on $work/case.h5" >&2
    exit 1
fi
exec "$py" "$here/${PARITY_COMPARE:-compare.py}" "$work/case.h5" "$work/out.h5"
