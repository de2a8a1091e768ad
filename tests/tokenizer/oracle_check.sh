#!/usr/bin/env bash
# `shear tokenize` vs the node oracle llama-tokenizer-js on > 1000 texts (tests/tokenizer/gen_cases.mjs), then
# decode(encode(x)) == x on the same texts. Exit 77 (ctest SKIP) when tokenizer.json, node or the npm package
# cannot be had.
# usage: oracle_check.sh SHEAR TEST_TOKENIZER TOKENIZER_JSON WORKDIR
set -euo pipefail
shear="$1" test_tokenizer="$2" tokjson="$3" work="$4"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

if [ ! -f "$tokjson" ]; then
  echo "SKIP: $tokjson does not exist (test tokenizer_setup writes it; it needs node, npm and the npm registry)"
  exit 77
fi
command -v node >/dev/null 2>&1 || { echo "SKIP: node is not installed; the oracle is a node package"; exit 77; }
rc=0
js="$("$root/inputs/tokenizer/make_tokenizer.sh" --print-package)" || rc=$?
if [ "$rc" = 77 ]; then echo "SKIP: the oracle package llama-tokenizer-js cannot be fetched (see above)"; exit 77; fi
[ "$rc" = 0 ] || exit "$rc"

mkdir -p "$work"
node "$here/gen_cases.mjs" > "$work/cases.jsonl"
"$shear" tokenize --tokenizer "$tokjson" < "$work/cases.jsonl" > "$work/shear.jsonl"
node "$here/oracle_check.mjs" "$js" "$work/cases.jsonl" "$work/shear.jsonl"
"$test_tokenizer" --roundtrip "$tokjson" "$work/cases.jsonl"
