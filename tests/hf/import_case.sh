#!/bin/sh
# import_case.sh SHEAR WORK SEQ_LEN SHARD_SIZE MAKE_HF_ARGS...: one Hugging Face folder, end to end:
#   make_hf.py (random validation-model weights) -> shear import -> shear eval --text == PyTorch loss on the
#   same windows -> shear export (SHARD_SIZE: --max-shard-size, 0 = default) -> tensor bytes identical.
set -eu
shear=$1 work=$2 T=$3 shard=$4
shift 4
here=$(cd "$(dirname "$0")" && pwd)
py=${SHEAR_PYTHON:-/usr/bin/python3}
rm -rf "$work"
mkdir -p "$work"
"$py" "$here/make_hf.py" "$work" "$@"
"$shear" import --from "$work/hf" --out "$work/model.h5"
test -f "$work/model.tokenizer.json" || { echo "FAIL import did not copy tokenizer.json"; exit 1; }
"$shear" tokenize --tokenizer "$work/hf/tokenizer.json" < "$work/text.jsonl" > "$work/ids.jsonl"
"$shear" eval --model "$work/model.h5" --tokenizer "$work/model.tokenizer.json" --text "$work/text.txt" \
    --seq-len "$T" --json > "$work/eval.json"
"$py" "$here/check.py" loss "$work/hf" "$work/ids.jsonl" "$work/eval.json" "$T"
if [ "$shard" = 0 ]; then
    "$shear" export --model "$work/model.h5" --out "$work/out"
    "$py" "$here/check.py" same "$work/hf" "$work/out" 5GB
else
    "$shear" export --model "$work/model.h5" --out "$work/out" --max-shard-size "$shard"
    "$py" "$here/check.py" same "$work/hf" "$work/out" "$shard"
fi
