#!/bin/sh
# export_case.sh SHEAR WORK SEQ_LEN FINALIZE_MAKE_CASE_ARGS...: a finalized sheared model, exported:
#   tests/finalize/make_case.py (prune output) -> shear finalize -> shear export (f32) loads in PyTorch with the
#   loss `shear eval` gives on the model file, tensors equal; bf16 sharded export == torch's rounding, imports
#   back with the PyTorch loss and re-exports byte-identical; f16 and bf16 rounding corner cases == torch.
set -eu
shear=$1 work=$2 T=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
py=${SHEAR_PYTHON:-/usr/bin/python3}
rm -rf "$work"
mkdir -p "$work"
"$py" "$here/../finalize/make_case.py" "$work/prune.h5" "$@"
"$shear" finalize --in "$work/prune.h5" --out "$work/sheared.h5"
"$py" "$here/make_hf.py" "$work" --text-only --seed 3
"$shear" tokenize --tokenizer "$work/tokenizer.json" < "$work/text.jsonl" > "$work/ids.jsonl"
ev() { "$shear" eval --model "$1" --tokenizer "$work/tokenizer.json" --text "$work/text.txt" --seq-len "$T" --json; }

ev "$work/sheared.h5" > "$work/eval.json"
"$shear" export --model "$work/sheared.h5" --out "$work/f32" --tokenizer "$work/tokenizer.json"
"$py" "$here/check.py" export "$work/sheared.h5" "$work/f32" F32 5GB
"$py" "$here/check.py" loss "$work/f32" "$work/ids.jsonl" "$work/eval.json" "$T"

"$shear" export --model "$work/sheared.h5" --out "$work/bf16" --dtype bf16 --max-shard-size 16KiB --tokenizer "$work/tokenizer.json"
"$py" "$here/check.py" export "$work/sheared.h5" "$work/bf16" BF16 16KiB
"$shear" import --from "$work/bf16" --out "$work/bf16.h5"
ev "$work/bf16.h5" > "$work/eval_bf16.json"
"$py" "$here/check.py" loss "$work/bf16" "$work/ids.jsonl" "$work/eval_bf16.json" "$T"
"$shear" export --model "$work/bf16.h5" --out "$work/bf16_again" --max-shard-size 16KiB
"$py" "$here/check.py" same "$work/bf16" "$work/bf16_again" 16KiB

"$py" "$here/corner_values.py" "$work/sheared.h5" "$work/corner.h5"
"$shear" export --model "$work/corner.h5" --out "$work/corner_f16" --dtype f16
"$py" "$here/check.py" export "$work/corner.h5" "$work/corner_f16" F16 5GB
"$shear" export --model "$work/corner.h5" --out "$work/corner_bf16" --dtype bf16
"$py" "$here/check.py" export "$work/corner.h5" "$work/corner_bf16" BF16 5GB
