#!/usr/bin/env bash
# The CUDA backend (run emulated) against the CPU backend on the same deck: the loss curves of the runs agree
# step by step within a stated tolerance, and so does the final evaluation. The emulated kernels sum in other
# orders than the CPU ones (warp-shuffle trees, tiled attention with online softmax), so fp32 rounding differs
# from the first step: measured 2.8e-8 relative at most over 30 train and 40 prune steps. The tolerance, 1e-5,
# leaves 350 times that; a wrong kernel (a missing term, a wrong mask gradient, a lost reduction) moves the loss
# by far more within a few steps. (On a real GPU cuBLAS's own blocking adds more: there the tolerance of
# tests/gpu applies, not this one.)
# run.precision: bf16 runs take COMPARE_TOL=1e-3: an fp32 rounding difference can move a GEMM input across a bf16
# boundary (2^-9 of it), and such flips grow from step to step (measured 8.9e-5 over 30 train steps); with
# COMPARE_DIFFERS=RUN_DIR the CUDA runs must also not equal that run's curve (the fp32 run of the same backend:
# the precision reached the kernels).
# usage: compare_backends.sh train|prune CPU_RUN_DIR CUDA_RUN_DIR...
set -u
kind=$1
cpu=$2
shift 2
tol=${COMPARE_TOL:-1e-5}
here=$(cd "$(dirname "$0")/.." && pwd)
py=/usr/bin/python3
case $kind in
  train) key=loss drop=0.3 ;;
  prune) key=lm_loss drop=-100 ;;
  *) echo "compare_backends.sh: kind must be train or prune, not '$kind'"; exit 2 ;;
esac
runs=()
for d in "$@"; do runs+=("$d/metrics.jsonl"); done
status=0
"$py" "$here/train/check_ranks.py" --key "$key" --drop "$drop" --tol "$tol" "$cpu/metrics.jsonl" "${runs[@]}" || status=1
# the final evaluation (train only: its last line), same tolerance
if [[ $kind == train ]]; then
  "$py" - "$tol" "$cpu/metrics.jsonl" "${runs[@]}" <<'PY' || status=1
import json, sys
tol = float(sys.argv[1])
def final(p):
    ev = [r for r in map(json.loads, open(p)) if r["event"] == "eval"]
    return ev[-1]["average_loss"] if ev else None
ref = final(sys.argv[2])
bad = 0
for p in sys.argv[3:]:
    v = final(p)
    if ref is None or v is None or abs(v - ref) / abs(ref) >= tol:
        print(f"FAIL {p}: final eval average_loss {v} vs CPU {ref}"); bad += 1
    else:
        print(f"ok   {p}: final eval average_loss {v:.6f} vs CPU {ref:.6f} (relative {abs(v - ref) / abs(ref):.2e})")
sys.exit(1 if bad else 0)
PY
fi
if [[ -n ${COMPARE_DIFFERS:-} ]]; then
  "$py" - "$key" "$COMPARE_DIFFERS/metrics.jsonl" "${runs[@]}" <<'PY' || status=1
import json, sys
key = sys.argv[1]
curve = lambda p: [r[key] for r in map(json.loads, open(p)) if r["event"] == "step"]  # noqa: E731
other = curve(sys.argv[2])
bad = 0
for p in sys.argv[3:]:
    c = curve(p)
    if c == other:
        print(f"FAIL {p}: the same {key} curve as {sys.argv[2]} ({len(c)} steps): the precision changed nothing"); bad += 1
    else:
        print(f"ok   {p}: differs from {sys.argv[2]} (step 1 {c[0]!r} vs {other[0]!r})")
sys.exit(1 if bad else 0)
PY
fi
exit $status
