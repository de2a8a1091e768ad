#!/usr/bin/env bash
# Does a Shear build compute the same fp32 (and bf16) bits as a baseline build? Runs the same decks with both
# and compares what they wrote: every metrics.jsonl record with the timing fields (*_s, tflops, mfu) left out,
# and every dataset of every HDF5 file of the run (model.h5 / pruned.h5, the checkpoints) byte for byte
# (bitwise_h5.py). For a speed change that must not move a result bit; not a ctest: it needs the other build.
#
# The runs: tests/train/deck.yaml (tiny GQA model, 30 steps) on 1 and 2 ranks, run.threads 1 and 2, run.recompute
# 0 and 1, run.precision bf16; tests/prune/deck.yaml (masks on every structure, DBL) on 1 and 2 ranks, threads 1
# and 2, recompute on; distillation from the first run's model (top-8 with alpha 0.5, full vocabulary at
# temperature 2 on 2 ranks); the CPU benchmark's shape (d 256, 4 layers, I 688, V 32000, 4 x 256 tokens, 2 steps) in
# train and prune on 2 threads, so kernels see the vocabulary's chunked classifier and a real head dimension.
#
# usage: bash validation/bench/bitwise_vs_base.sh NEW/shear BASE/shear [WORK_DIR]
# exit 0: every compared file is the same; 1: a difference (printed); 2: bad usage or a run failed.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 NEW/shear BASE/shear [WORK_DIR]" >&2; exit 2; }
NEW=$(realpath "$1"); BASE=$(realpath "$2")
WORK=${3:-$(mktemp -d /tmp/shear-bitwise-XXXXXX)}
HERE=$(cd "$(dirname "$0")" && pwd); ROOT=$(cd "$HERE/../.." && pwd)
PY=${SHEAR_PYTHON:-/usr/bin/python3}
MPIRUN=(mpirun --oversubscribe --allow-run-as-root --mca btl "self,vader")
mkdir -p "$WORK"
"$PY" "$ROOT/tests/train/make_store.py" "$WORK/tokens.h5" > /dev/null
"$PY" "$ROOT/tests/train/make_store.py" "$WORK/tokens_v32k.h5" --domains cc --seq-len 256 --train 16 --eval 1 \
      --vocab 32000 > /dev/null
cat > "$WORK/bench.yaml" <<EOF
model: {dim: 256, n_layers: 4, n_heads: 8, n_kv_heads: 8, intermediate: 688, vocab: 32000}
data: {store: $WORK/tokens_v32k.h5}
prune: {target_dim: 192, target_n_layers: 3, target_n_heads: 4, target_intermediate: 516}
train: {steps: 2, seq_len: 256, global_batch: 4, micro_batch: 4}
optim: {lr: 1.0e-3, warmup: 0, schedule: constant, grad_clip: 1.0}
dbl: {rule: constant}
run: {threads: 2, log_every: 1000}
EOF

# run NAME NP CMD DECK SETS...: the same run with both builds, into $WORK/{new,base}/NAME
run() {
    local name=$1 np=$2 cmd=$3 deck=$4; shift 4
    for which in new base; do
        local bin=$NEW; [ $which = base ] && bin=$BASE
        rm -rf "${WORK:?}/$which/$name"
        if ! "${MPIRUN[@]}" -np "$np" "$bin" "$cmd" "$deck" --set run.out_dir="$WORK/$which/$name" "$@" \
             > "$WORK/$which.$name.log" 2>&1; then
            echo "bitwise_vs_base: $which run $name failed (log: $WORK/$which.$name.log)" >&2; exit 2
        fi
    done
}
T=(--set data.store="$WORK/tokens.h5")
run train_np1_t1 1 train "$ROOT/tests/train/deck.yaml" "${T[@]}" --set run.threads=1
run train_np2_t1 2 train "$ROOT/tests/train/deck.yaml" "${T[@]}" --set run.threads=1
run train_np1_t2 1 train "$ROOT/tests/train/deck.yaml" "${T[@]}" --set run.threads=2
run train_np2_t2_rc 2 train "$ROOT/tests/train/deck.yaml" "${T[@]}" --set run.threads=2 --set run.recompute=1
run train_np1_t2_bf16 1 train "$ROOT/tests/train/deck.yaml" "${T[@]}" --set run.threads=2 --set run.precision=bf16
P=("${T[@]}" --set prune.source="$WORK/base/train_np1_t1/model.h5")
run prune_np1_t1 1 prune "$ROOT/tests/prune/deck.yaml" "${P[@]}" --set run.threads=1
run prune_np2_t2_rc 2 prune "$ROOT/tests/prune/deck.yaml" "${P[@]}" --set run.threads=2 --set run.recompute=1
KD=(--set distill.teacher="$WORK/base/train_np1_t1/model.h5")
run distill_topk_t2 1 train "$ROOT/tests/train/deck.yaml" "${T[@]}" --set run.threads=2 "${KD[@]}" \
    --set distill.alpha=0.5 --set distill.topk=8
run distill_temp2_np2 2 train "$ROOT/tests/train/deck.yaml" "${T[@]}" --set run.threads=1 "${KD[@]}" \
    --set distill.temperature=2
run bench_train 1 train "$WORK/bench.yaml"
run bench_prune 1 prune "$WORK/bench.yaml" --set prune.source="$WORK/base/bench_train/model.h5"
"$PY" "$HERE/bitwise_h5.py" "$WORK/new" "$WORK/base"
