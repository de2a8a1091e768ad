#!/bin/bash
# Training throughput on one GPU, Shear vs PyTorch on the same shape, micro-batch and sequence length:
#   c1.3b    continued pre-training, Sheared-LLaMA-1.3B shape (d 2048, L 24, H 16, I 5504, V 32000), seq 4096
#   c2.7b    continued pre-training, Sheared-LLaMA-2.7B shape (d 2560, L 32, H 20, I 6912, V 32000), seq 4096
#   prune7b  pruning a LLaMA2-7B-shaped masked model (d 4096, H 32, I 11008) of PRUNE_LAYERS layers toward the
#            1.3B target (3/4 of the layers kept, as 24 of 32), seq 4096
# Each case runs `shear train` / `shear prune` (decks in validation/bench/decks/) for STEPS steps on a synthetic
# token store (tests/train/make_store.py), reads tok_s, tok_s_rank, tflops and mfu from metrics.jsonl (medians of
# steps 2..N), then validation/bench/torch_llama_bench.py on the same shape in bf16 and fp32 (pruning: the source
# shape, dense). Shear's CUDA backend computes in fp32 (cuBLAS, TF32 off): its rows say dtype fp32.
# The pruning source is random weights written by validation/bench/make_model.py (one model file, no checkpoint).
# Every Shear run also writes its final model and checkpoint (weights + AdamW state: 16 bytes a parameter, 43 GB
# for 2.7B): the run folder is deleted after each case.
#
# Writes gpu_bench.md (the table), gpu_bench.json (all rows) and gpu_bench.log (every command's output) to $OUT,
# or to validation/results when OUT is unset.
#
# usage (from anywhere): bash validation/bench/gpu_bench.sh
# environment:
#   SHEAR         the shear binary (default build-gpu/shear, what validation/gpu/run_gpu_checks.sh builds)
#   MPIRUN        launcher prefix, e.g. "mpirun -np 1 --allow-run-as-root" (default: none, MPI singleton)
#   DEVICE        cuda (default) or cpu: run.device and torch's --device
#   TINY=1        tiny shapes, seq 64, vocab 512: a smoke test of the script itself (any machine)
#   CASES         subset of "c1.3b c2.7b prune7b" (default all three)
#   STEPS         Shear steps per case (default 4; the first is not counted); torch: STEPS timed after 2 warm-up
#   MICRO_BATCH   sequences per step (default 1; one micro-batch per step, one rank)
#   PRUNE_LAYERS  source layer counts to try for prune7b, e.g. "16 12 8" (default 8); each is its own row
#   PRECISIONS    Shear's run.precision values, each its own row (default "fp32 bf16")
#   TORCH=0       skip the PyTorch rows;   PY  python with torch, h5py, numpy (default python3)
#   WORK          scratch folder (default /tmp/shear-bench; holds the store, the source model and the runs)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
SHEAR=${SHEAR:-$SRC/build-gpu/shear}
MPIRUN=${MPIRUN:-}
DEVICE=${DEVICE:-cuda}
TINY=${TINY:-0}
CASES=${CASES:-c1.3b c2.7b prune7b}
STEPS=${STEPS:-4}
MICRO=${MICRO_BATCH:-1}
PRUNE_LAYERS=${PRUNE_LAYERS:-8}
PRECISIONS=${PRECISIONS:-fp32 bf16}
TORCH=${TORCH:-1}
PY=${PY:-python3}
WORK=${WORK:-/tmp/shear-bench}
RES=${OUT:-$SRC/validation/results}
DECKS=$HERE/decks
REPORT=$HERE/gpu_bench_report.py

die() { echo "gpu_bench: $*" >&2; exit 1; }
[ -x "$SHEAR" ] || die "SHEAR=$SHEAR is not an executable (build Shear first, or set SHEAR=path/to/shear)"
case $DEVICE in cuda | cpu) ;; *) die "DEVICE=$DEVICE: expected cuda or cpu" ;; esac
for p in $PRECISIONS; do
    case $p in fp32 | bf16) ;; *) die "PRECISIONS: unknown precision '$p', expected fp32 and/or bf16" ;; esac
done
{ [[ $STEPS =~ ^[0-9]+$ ]] && [ "$STEPS" -ge 2 ]; } || die "STEPS=$STEPS: expected an integer >= 2 (the first step is not timed)"
{ [[ $MICRO =~ ^[0-9]+$ ]] && [ "$MICRO" -ge 1 ]; } || die "MICRO_BATCH=$MICRO: expected a positive integer"
for c in $CASES; do
    case $c in c1.3b | c2.7b | prune7b) ;; *) die "CASES: unknown case '$c', expected some of: c1.3b c2.7b prune7b" ;; esac
done
for l in $PRUNE_LAYERS; do
    { [[ $l =~ ^[0-9]+$ ]] && [ "$l" -ge 2 ]; } || die "PRUNE_LAYERS: '$l' is not an integer >= 2"
done
"$PY" -c 'import h5py, numpy' 2>/dev/null || die "PY=$PY cannot import h5py and numpy (set PY to a python that can)"
if [ "$TORCH" = 1 ]; then
    "$PY" -c 'import torch' 2>/dev/null || die "PY=$PY cannot import torch (set PY, or TORCH=0 to skip the PyTorch rows)"
fi

# shapes: dim layers heads intermediate (vocab separate; kv heads = heads, as in LLaMA2-7B and the Sheared models)
if [ "$TINY" = 1 ]; then
    SEQ=64 VOCAB=512
    S13=(64 2 4 176) S27=(80 3 5 216) S7B=(128 4 8 344) T7B=(64 4 172) # T7B: target dim heads intermediate
else
    SEQ=4096 VOCAB=32000
    S13=(2048 24 16 5504) S27=(2560 32 20 6912) S7B=(4096 0 32 11008) T7B=(2048 16 5504)
fi

mkdir -p "$WORK" "$RES" || die "cannot create $WORK or $RES"
LOG=$RES/gpu_bench.log
ROWS=$WORK/rows.jsonl
: >"$LOG"
: >"$ROWS"
say() { echo "$*" | tee -a "$LOG"; }
say "# gpu_bench $(date -u +%FT%TZ) DEVICE=$DEVICE TINY=$TINY STEPS=$STEPS MICRO_BATCH=$MICRO SEQ=$SEQ shear=$SHEAR"
if [ "$DEVICE" = cuda ]; then
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1 | tee -a "$LOG"
fi

STORE=$WORK/tokens.h5
# one domain, enough train sequences that no step repeats one; one eval sequence for the final evaluation
"$PY" "$SRC/tests/train/make_store.py" "$STORE" --domains cc --seq-len "$SEQ" --train $((STEPS * MICRO + 4)) \
    --eval 1 --vocab "$VOCAB" >>"$LOG" 2>&1 || die "make_store.py failed, see $LOG"

shape_str() { # dim layers heads intermediate
    echo "d$1 L$2 H$3 I$4 V$VOCAB T$SEQ B$MICRO"
}

# shear_case CASE SHAPE COMMAND DECK [--set ...]: one Shear run per precision of PRECISIONS, one row each (or a
# row naming the failure)
shear_case() {
    local case=$1 shape=$2 cmd=$3 deck=$4 prec
    shift 4
    local dir=$WORK/run-$case
    for prec in $PRECISIONS; do
        rm -rf "$dir"
        say "## $case: shear $cmd run.precision $prec ($shape)"
        # shellcheck disable=SC2086  # MPIRUN is a command prefix of several words
        $MPIRUN "$SHEAR" "$cmd" "$deck" --set "run.out_dir=$dir" --set "run.device=$DEVICE" --set "data.store=$STORE" \
            --set "data.domains=[cc]" --set "data.proportions=[1]" --set "train.steps=$STEPS" \
            --set "train.seq_len=$SEQ" --set "train.micro_batch=$MICRO" --set "train.global_batch=$MICRO" \
            --set "run.precision=$prec" "$@" >"$WORK/shear.out" 2>&1
        local rc=$?
        cat "$WORK/shear.out" >>"$LOG"
        if [ $rc -eq 0 ] && [ -s "$dir/metrics.jsonl" ]; then
            "$PY" "$REPORT" shear "$dir/metrics.jsonl" --case "$case" --shape "$shape" --impl "shear $cmd" \
                --dtype "$prec" >>"$ROWS" 2>>"$LOG" || say "   could not parse $dir/metrics.jsonl"
        else
            local why="failed (rc $rc)"
            grep -qi "out of memory" "$WORK/shear.out" && why="failed (rc $rc; out of memory in the log)"
            say "   shear $cmd $why; last lines:"
            tail -5 "$WORK/shear.out"
            "$PY" "$REPORT" fail --case "$case" --shape "$shape" --impl "shear $cmd" --dtype "$prec" --error "$why" >>"$ROWS"
        fi
        rm -rf "$dir"
    done
}

# torch_case CASE SHAPE dim layers heads intermediate
torch_case() {
    [ "$TORCH" = 1 ] || return 0
    local case=$1 shape=$2 dt rc
    shift 2
    for dt in bf16 fp32; do
        say "## $case: torch $dt ($shape)"
        PYTHONUNBUFFERED=1 "$PY" "$HERE/torch_llama_bench.py" --dim "$1" --layers "$2" --heads "$3" \
            --intermediate "$4" --vocab "$VOCAB" --batch "$MICRO" --seq "$SEQ" --steps "$STEPS" --warmup 2 \
            --dtype "$dt" --device "$DEVICE" >"$WORK/torch.out" 2>>"$LOG"
        rc=$?
        cat "$WORK/torch.out" >>"$LOG"
        if grep -q '^{' "$WORK/torch.out"; then
            "$PY" "$REPORT" torch "$WORK/torch.out" --case "$case" --shape "$shape" >>"$ROWS" 2>>"$LOG"
        else
            say "   torch_llama_bench.py failed (rc $rc)"
            "$PY" "$REPORT" fail --case "$case" --shape "$shape" --impl torch --dtype "$dt" \
                --error "failed (rc $rc)" >>"$ROWS"
        fi
    done
}

model_sets() { # dim layers heads intermediate -> --set arguments
    echo "--set model.dim=$1 --set model.n_layers=$2 --set model.n_heads=$3 --set model.n_kv_heads=$3"
    echo "--set model.intermediate=$4 --set model.vocab=$VOCAB"
}

for c in $CASES; do
    case $c in
    c1.3b | c2.7b)
        if [ "$c" = c1.3b ]; then s=("${S13[@]}") deck=$DECKS/continue-1.3b.yaml; else s=("${S27[@]}") deck=$DECKS/continue-2.7b.yaml; fi
        shape=$(shape_str "${s[@]}")
        # shellcheck disable=SC2046  # model_sets prints separate words on purpose
        shear_case "$c" "$shape" train "$deck" $(model_sets "${s[@]}")
        torch_case "$c" "$shape" "${s[@]}"
        ;;
    prune7b)
        for L in $PRUNE_LAYERS; do
            [ "$TINY" = 1 ] && L=${S7B[1]}
            src=$WORK/source-L$L.h5
            shape=$(shape_str "${S7B[0]}" "$L" "${S7B[2]}" "${S7B[3]}")
            say "## prune7b: source model, $L layers (make_model.py)"
            if ! "$PY" "$HERE/make_model.py" "$src" --dim "${S7B[0]}" --layers "$L" --heads "${S7B[2]}" \
                --intermediate "${S7B[3]}" --vocab "$VOCAB" >>"$LOG" 2>&1; then
                say "   make_model.py failed, see $LOG"
                "$PY" "$REPORT" fail --case "prune7b-L$L" --shape "$shape" --impl "shear prune" --dtype fp32 \
                    --error "make_model.py failed" >>"$ROWS"
                continue
            fi
            shear_case "prune7b-L$L" "$shape" prune "$DECKS/prune-7b.yaml" --set "prune.source=$src" \
                --set "prune.target_n_layers=$((L * 3 / 4))" --set "prune.target_dim=${T7B[0]}" \
                --set "prune.target_n_heads=${T7B[1]}" --set "prune.target_intermediate=${T7B[2]}"
            rm -f "$src"
            torch_case "prune7b-L$L" "$shape" "${S7B[0]}" "$L" "${S7B[2]}" "${S7B[3]}"
            [ "$TINY" = 1 ] && break
        done
        ;;
    esac
done

title="Training throughput, DEVICE=$DEVICE$([ "$TINY" = 1 ] && echo ', TINY smoke-test shapes'), $(date -u +%F)"
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
[ "$DEVICE" = cuda ] && [ -n "$gpu" ] && title="$title, $gpu"
"$PY" "$REPORT" table "$ROWS" "$RES/gpu_bench.md" "$RES/gpu_bench.json" --title "$title" | tee -a "$LOG"
echo "gpu_bench: wrote $RES/gpu_bench.md, $RES/gpu_bench.json, $RES/gpu_bench.log"
! grep -q '"error"' "$ROWS"
