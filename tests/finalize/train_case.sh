#!/bin/sh
# train_case.sh SHEAR WORKDIR PRUNE_OUTPUT MAKE_STORE DECK: finalizes a prune output written by the C side
# (modelfile_save + maskfile_write), checks it against the reference, then continues pre-training the dense
# model for 2 steps on a synthetic token store (shear train --init) and checks the steps were logged.
set -eu
SHEAR=$1 WORK=$2 PRUNE=$3 MAKE_STORE=$4 DECK=$5
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${SHEAR_PYTHON:-/usr/bin/python3}
rm -rf "$WORK"
mkdir -p "$WORK"
"$PY" "$MAKE_STORE" "$WORK/tokens.h5"
"$SHEAR" finalize --in "$PRUNE" --out "$WORK/dense.h5"
"$PY" "$HERE/compare.py" "$PRUNE" "$WORK/dense.h5"
"$SHEAR" train "$DECK" --init "$WORK/dense.h5" --set data.store="$WORK/tokens.h5" --set run.out_dir="$WORK/run"
"$PY" - "$WORK/run/metrics.jsonl" "$WORK/run/model.h5" "$WORK/dense.h5" <<'PYEOF'
import json, math, sys
import h5py
steps = [json.loads(l) for l in open(sys.argv[1]) if '"event":"step"' in l]
assert [s["step"] for s in steps] == [1, 2], f"expected steps 1 and 2 in {sys.argv[1]}, got {steps}"
assert all(math.isfinite(s["loss"]) for s in steps), steps
with h5py.File(sys.argv[2]) as a, h5py.File(sys.argv[3]) as b:
    assert dict(a["config"].attrs) == dict(b["config"].attrs), "trained model changed shape"
    moved = sum(float(abs(a["weights"][n][()] - b["weights"][n][()]).max()) > 0 for n in b["weights"])
    assert moved == len(b["weights"]), f"only {moved} of {len(b['weights'])} tensors changed in training"
print(f"ok   trained 2 steps from the finalized model: losses {[round(s['loss'], 4) for s in steps]}")
PYEOF
