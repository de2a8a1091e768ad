#!/usr/bin/env bash
# `shear eval` on bad input: each case must exit with the given code and one message naming what is wrong.
# Usage: cli_errors.sh SHEAR WORKDIR STORE.h5 TOKENIZER.json   (the tokenizer cases are left out without it)
set -u
SHEAR=$1 WORK=$2 STORE=$3 TOK=$4
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$WORK"
pass=0 fail=0
expect() {  # expect CODE PATTERN -- command...
  local code=$1 pat=$2; shift 3
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [[ $rc -eq $code ]] && grep -qF -- "$pat" <<<"$out"; then
    echo "ok   [$rc] $pat"; pass=$((pass+1))
  else
    echo "FAIL expected exit $code and '$pat', got exit $rc:"; echo "$out" | head -5 | sed 's/^/     /'; fail=$((fail+1))
  fi
}
MODEL=$WORK/model.h5 SMALL=$WORK/vocab16.h5
(cd "$HERE" && /usr/bin/python3 -c "
import sys; from evalref import make_model
make_model(sys.argv[1], vocab=64, seed=1); make_model(sys.argv[2], vocab=16, seed=1)" "$MODEL" "$SMALL") || exit 1
printf 'Some text to score.\n' > "$WORK/text.txt"
: > "$WORK/empty.txt"
printf 'data:\n  store: %s\nmodel:\n  vocab: 64\ntrain:\n  seq_len: 16\n  micro_batch: 2\n' "$STORE" > "$WORK/deck.yaml"
printf 'model:\n  vocab: 64\n' > "$WORK/nostore.yaml"
TXT=(--text "$WORK/text.txt" --seq-len 8)

# command line
expect 2 "expected an input deck or --text FILE" -- "$SHEAR" eval
expect 0 "usage: shear eval --model" -- "$SHEAR" eval --help
expect 2 "give either a DECK or --text FILE, not both" -- "$SHEAR" eval "$WORK/deck.yaml" --text "$WORK/text.txt"
expect 2 "--set applies to deck mode only" -- "$SHEAR" eval --model "$MODEL" "${TXT[@]}" --set train.seq_len=4
expect 2 "unknown option '--seqlen'" -- "$SHEAR" eval --model "$MODEL" --seqlen 8
expect 2 "option --precision: expected fp32 or bf16, got 'fp16'" -- "$SHEAR" eval --model "$MODEL" --tokenizer "$TOK" "${TXT[@]}" --precision fp16
expect 2 "option --precision: expected fp32 or bf16, got 'fp16'" -- "$SHEAR" eval "$WORK/deck.yaml" --model "$MODEL" --precision fp16
# text mode
expect 1 "--model MODEL.h5 is required" -- "$SHEAR" eval --tokenizer "$TOK" "${TXT[@]}"
expect 1 "--tokenizer tokenizer.json is required" -- "$SHEAR" eval --model "$MODEL" "${TXT[@]}"
expect 1 "--seq-len N (tokens per window, >= 2) is required" -- "$SHEAR" eval --model "$MODEL" --tokenizer "$TOK" --text "$WORK/text.txt"
expect 2 "option --seq-len: expected an integer in [2, " -- "$SHEAR" eval --model "$MODEL" --tokenizer "$TOK" --text "$WORK/text.txt" --seq-len 1
expect 2 "option --seq-len: expected an integer in [2, " -- "$SHEAR" eval --model "$MODEL" --tokenizer "$TOK" --text "$WORK/text.txt" --seq-len x
expect 2 "option --micro-batch: expected an integer in [1, " -- "$SHEAR" eval --model "$MODEL" --tokenizer "$TOK" "${TXT[@]}" --micro-batch 0
expect 1 "model file '$WORK/none.h5' does not exist" -- "$SHEAR" eval --model "$WORK/none.h5" --tokenizer "$TOK" "${TXT[@]}"
expect 1 "not a readable HDF5 file" -- "$SHEAR" eval --model "$WORK/text.txt" --tokenizer "$TOK" "${TXT[@]}"
expect 1 "text file '$WORK/empty.txt' is empty: expected text to score" -- "$SHEAR" eval --model "$MODEL" --tokenizer "$TOK" --text "$WORK/empty.txt" --seq-len 8
expect 1 "cannot open '$WORK/missing.txt'" -- "$SHEAR" eval --model "$MODEL" --tokenizer "$TOK" --text "$WORK/missing.txt" --seq-len 8
cp "$MODEL" "$WORK/badprec.h5"
/usr/bin/python3 -c "import h5py, sys; h5py.File(sys.argv[1], 'a').attrs['precision'] = 'tf32'" "$WORK/badprec.h5"
expect 1 "'$WORK/badprec.h5': root attribute precision is 'tf32'; expected fp32 or bf16" -- "$SHEAR" eval --model "$WORK/badprec.h5" --tokenizer "$TOK" "${TXT[@]}"
expect 1 "cannot open tokenizer file '$WORK/none.json'" -- "$SHEAR" eval --model "$MODEL" --tokenizer "$WORK/none.json" "${TXT[@]}"
if [[ -f "$TOK" ]]; then
  expect 1 "is outside the vocabulary of model '$MODEL' (64): the tokenizer does not belong to the model" -- \
    "$SHEAR" eval --model "$MODEL" --tokenizer "$TOK" "${TXT[@]}"
else
  echo "skip the tokenizer cases: $TOK does not exist"
fi
# deck mode
expect 1 "cannot open '$WORK/missing.yaml'" -- "$SHEAR" eval "$WORK/missing.yaml" --model "$MODEL"
expect 1 "no model to evaluate: give --model MODEL.h5 or set train.init" -- "$SHEAR" eval "$WORK/deck.yaml"
expect 1 "model file '$WORK/none.h5' does not exist" -- "$SHEAR" eval "$WORK/deck.yaml" --set train.init="$WORK/none.h5"
expect 1 "data.store is required" -- "$SHEAR" eval "$WORK/nostore.yaml" --model "$MODEL"
expect 1 "train.seq_len 64 is longer than the token store's sequences" -- "$SHEAR" eval "$WORK/deck.yaml" --model "$MODEL" --set train.seq_len=64
expect 1 "data.domains: domain 'pile' is not in the token store" -- "$SHEAR" eval "$WORK/deck.yaml" --model "$MODEL" --set "data.domains=[cc, pile]"
expect 1 "but the model '$SMALL' has vocab 16" -- "$SHEAR" eval "$WORK/deck.yaml" --model "$SMALL"
expect 2 "option --max-seqs: expected an integer in [0, " -- "$SHEAR" eval "$WORK/deck.yaml" --model "$MODEL" --max-seqs -1
expect 1 "train.seq_len is 1; evaluation needs at least 2 tokens per sequence" -- "$SHEAR" eval "$WORK/deck.yaml" --model "$MODEL" --set train.seq_len=1
echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
