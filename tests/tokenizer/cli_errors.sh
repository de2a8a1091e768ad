#!/usr/bin/env bash
# `shear tokenize` on bad input: every case must exit non-zero with a message naming what is wrong.
# Uses the synthetic tokenizer.json files of test_tokenizer and test_tokenizer_bytelevel, so it needs neither npm
# nor a real vocabulary.
# usage: cli_errors.sh SHEAR TEST_TOKENIZER WORKDIR TEST_TOKENIZER_BYTELEVEL
set -uo pipefail
shear="$1" test_tokenizer="$2" work="$3" test_bytelevel="$4"
mkdir -p "$work"
"$test_tokenizer" --write-mini "$work/mini.json" || exit 1
"$test_bytelevel" --write-mini "$work/mini_bl.json" || exit 1
fails=0

# expect NAME RC STDERR_PATTERN [STDOUT_PATTERN] -- command reads $work/in.jsonl
expect() {
  local name="$1" want_rc="$2" err_pat="$3" out_pat="$4"; shift 4
  "$@" < "$work/in.jsonl" > "$work/out" 2> "$work/err"
  local rc=$? err out
  err="$(cat "$work/err")"
  out="$(tr '\n' '|' < "$work/out")"
  if [ "$rc" != "$want_rc" ] || ! [[ $err =~ $err_pat ]] || ! [[ $out =~ $out_pat ]]; then
    echo "FAIL $name: exit $rc (want $want_rc), stderr must match /$err_pat/, stdout /$out_pat/"
    echo "  stderr: $(head -c 600 "$work/err")"
    echo "  stdout: $(head -c 300 "$work/out")"
    fails=$((fails + 1))
  else
    echo "ok   $name"
  fi
}

printf '{"text": "abc"}\n' > "$work/in.jsonl"
expect missing-tokenizer 1 "cannot open tokenizer file '$work/nope.json'" '^$' \
  "$shear" tokenize --tokenizer "$work/nope.json"
echo 'this is not JSON' > "$work/notjson.json"
expect tokenizer-not-json 1 "$work/notjson.json: not valid JSON" '^$' "$shear" tokenize --tokenizer "$work/notjson.json"
echo '{"model": {"type": "WordPiece", "vocab": {"a": 0}}}' > "$work/wordpiece.json"
expect tokenizer-not-bpe 1 'model.type is WordPiece, expected "BPE"' '^$' \
  "$shear" tokenize --tokenizer "$work/wordpiece.json"
expect no-tokenizer-option 2 'tokenizer FILE is required' '^$' "$shear" tokenize
expect unknown-option 2 "unknown option '--bogus'" '^$' "$shear" tokenize --tokenizer "$work/mini.json" --bogus
expect good-line 0 '^$' '^\[1(,[0-9]+)+\]\|$' "$shear" tokenize --tokenizer "$work/mini.json"
expect good-line-no-bos 0 '^$' '^\[[0-9]+(,[0-9]+)*\]\|$' "$shear" tokenize --tokenizer "$work/mini.json" --no-bos

printf '%s\n' '{"text": "ab"}' 'not json' '{"txt": "ab"}' '{"text": 5}' '["ab"]' '' '{"text": "a\u0000b"}' \
  '{"text": "b a"}' > "$work/in.jsonl"
for pat in 'line 2: not valid JSON' 'line 3: no "text" key' 'line 4: "text" is not a string' \
           'line 5: not a JSON object' 'line 6: empty line' 'line 7: contains a \\u0000' '6 of 8 lines'; do
  expect "malformed-jsonl: $pat" 1 "$pat" '^\[1[0-9,]*\]\|null\|null\|null\|null\|null\|null\|\[1[0-9,]*\]\|$' \
    "$shear" tokenize --tokenizer "$work/mini.json"
done

# a BPE tokenizer.json of neither kind
printf '%s\n' '{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": "Whitespace"}}' \
  > "$work/unknown_kind.json"
printf '{"text": "abc"}\n' > "$work/in.jsonl"
expect unknown-kind 1 'expected a ByteLevel pre_tokenizer \(byte-level BPE: Llama 3, Qwen\) or LLaMA-2' '^$' \
  "$shear" tokenize --tokenizer "$work/unknown_kind.json"

# --decode: both kinds give the text back; bad lines are named and written as null
printf '%s\n' '{"text": "ab  c<|endoftext|>ba"}' > "$work/in.jsonl"
"$shear" tokenize --tokenizer "$work/mini_bl.json" --no-bos < "$work/in.jsonl" > "$work/ids_bl.jsonl"
"$shear" tokenize --tokenizer "$work/mini.json" < "$work/in.jsonl" > "$work/ids_sp.jsonl"
cp "$work/ids_bl.jsonl" "$work/in.jsonl"
expect decode-bytelevel 0 '^$' '^\{"text":"ab  c<\|endoftext\|>ba"\}\|$' \
  "$shear" tokenize --tokenizer "$work/mini_bl.json" --decode
cp "$work/ids_sp.jsonl" "$work/in.jsonl"
expect decode-llama 0 '^$' '^\{"text":"ab  c<\|endoftext\|>ba"\}\|$' "$shear" tokenize --tokenizer "$work/mini.json" --decode
printf '%s\n' '[97,98]' '[1, 99999]' '[1.5]' '{"text": "a"}' '' '[]' > "$work/in.jsonl"
for pat in 'line 2: an entry is not a token id' 'line 3: an entry is not a token id' 'line 4: not a JSON array' \
           'line 5: empty line' '4 of 6 lines could not be decoded'; do
  expect "decode-errors: $pat" 1 "$pat" '^\{"text":"ab"\}\|null\|null\|null\|null\|\{"text":""\}\|$' \
    "$shear" tokenize --tokenizer "$work/mini_bl.json" --decode
done
expect decode-no-bos 2 '--no-bos and --decode do not go together' '^$' \
  "$shear" tokenize --tokenizer "$work/mini_bl.json" --decode --no-bos

[ "$fails" = 0 ] && echo "all cli error cases passed" || { echo "$fails cli error cases failed"; exit 1; }
