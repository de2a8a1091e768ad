#!/usr/bin/env bash
# Tokenizer throughput: `shear tokenize` (C, one core) vs the node oracle llama-tokenizer-js on the same text,
# a few MB of prose and of code taken from files on this machine. Prints MB/s (10^6 bytes of UTF-8 text per
# second) of both and their ratio, and checks that both give the same ids. Whole runs are timed for both (start,
# load the tokenizer, parse JSON Lines, encode, write ids; best of 3 for C); the oracle's encode loop alone is
# shown in parentheses. Then the same for the byte-level BPE tokenizers (Llama 3, Llama 3.1, Qwen3) against the
# JS oracle @huggingface/tokenizers. Goal: at least 5 MB/s per core for every tokenizer (the C encoder is one
# thread).
# usage: validation/bench/tokenizer_bench.sh [SHEAR] [TOKENIZER_JSON] [MB_PER_KIND] [BYTELEVEL_DIR]
#   SHEAR           default build/shear; TOKENIZER_JSON default inputs/tokenizer/tokenizer.json (made if absent)
#   BYTELEVEL_DIR   default inputs/tokenizer/bytelevel (fetched by inputs/tokenizer/fetch_bytelevel.sh if absent)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
shear="${1:-$root/build/shear}"
tokjson="${2:-$root/inputs/tokenizer/tokenizer.json}"
mb="${3:-4}"
bldir="${4:-$root/inputs/tokenizer/bytelevel}"
[ -x "$shear" ] || { echo "tokenizer_bench: no shear executable at '$shear' (build it, or pass its path)" >&2; exit 1; }
[ -f "$tokjson" ] || "$root/inputs/tokenizer/make_tokenizer.sh" --out "$tokjson"
js="$("$root/inputs/tokenizer/make_tokenizer.sh" --print-package)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
now() { date +%s.%N; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.2f", b / s / 1e6 }'; }

echo "tokenizer_bench: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "tokenizer_bench: shear $shear, oracle llama-tokenizer-js 1.2.2 on node $(node --version)"
printf '%-6s %8s %5s | %11s | %12s %17s | %s\n' kind "MB text" docs "C MB/s" "node MB/s" "(encode only)" "C/node"
: > "$work/empty.jsonl"
for kind in prose code; do
  read -r bytes docs < <(node "$here/tokenizer_bench.mjs" corpus "$kind" "$((mb * 1000000))" "$work/$kind.jsonl")
  # C: best of 3 whole runs (load tokenizer.json, parse JSON Lines, encode, write ids)
  best=""
  for _ in 1 2 3; do
    t0=$(now); "$shear" tokenize --tokenizer "$tokjson" < "$work/$kind.jsonl" > "$work/$kind.c.jsonl"; t1=$(now)
    s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
    best=$(awk -v a="$s" -v b="$best" 'BEGIN { print (b == "" || a < b) ? a : b }')
  done
  t0=$(now); node "$here/tokenizer_bench.mjs" oracle "$js" "$work/$kind.jsonl" "$work/$kind.js.jsonl" > "$work/enc"; t1=$(now)
  read -r js_enc _ < "$work/enc"
  js_all=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
  same=$(cmp -s "$work/$kind.c.jsonl" "$work/$kind.js.jsonl" && echo "same ids" || echo "IDS DIFFER")
  c=$(mbps "$bytes" "$best") n_all=$(mbps "$bytes" "$js_all") n_enc=$(mbps "$bytes" "$js_enc")
  printf '%-6s %8.2f %5d | %11s | %12s %17s | %5.1fx  %s\n' "$kind" "$(awk -v b="$bytes" 'BEGIN { print b / 1e6 }')" \
    "$docs" "$c" "$n_all" "($n_enc)" "$(awk -v a="$c" -v b="$n_all" 'BEGIN { print a / b }')" "$same"
  [ "$same" = "same ids" ] || exit 1
done

# Byte-level BPE: the same texts, C vs @huggingface/tokenizers
"$root/inputs/tokenizer/fetch_bytelevel.sh" --out "$bldir"
hf="$("$root/inputs/tokenizer/fetch_bytelevel.sh" --print-oracle)"
echo "tokenizer_bench: byte-level BPE, oracle @huggingface/tokenizers 0.2.0"
printf '%-15s %8s | %11s | %12s %17s | %s\n' "tokenizer/kind" "MB text" "C MB/s" "node MB/s" "(encode only)" "C/node"
for fam in llama3 llama3_1 qwen3; do
  tj="$bldir/$fam/tokenizer.json"
  for kind in prose code; do
    bytes=$(read -r b _ < <(node "$here/tokenizer_bench.mjs" corpus "$kind" "$((mb * 1000000))" "$work/$kind.jsonl"); echo "$b")
    best=""
    for _ in 1 2 3; do
      t0=$(now); "$shear" tokenize --tokenizer "$tj" < "$work/$kind.jsonl" > "$work/$kind.c.jsonl"; t1=$(now)
      s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
      best=$(awk -v a="$s" -v b="$best" 'BEGIN { print (b == "" || a < b) ? a : b }')
    done
    t0=$(now)
    node "$here/tokenizer_bench.mjs" hf "$hf" "$tj" "$bldir/$fam/tokenizer_config.json" "$work/$kind.jsonl" \
         "$work/$kind.js.jsonl" > "$work/enc"
    t1=$(now)
    read -r js_enc _ < "$work/enc"
    js_all=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
    same=$(cmp -s "$work/$kind.c.jsonl" "$work/$kind.js.jsonl" && echo "same ids" || echo "IDS DIFFER")
    c=$(mbps "$bytes" "$best") n_all=$(mbps "$bytes" "$js_all") n_enc=$(mbps "$bytes" "$js_enc")
    printf '%-15s %8.2f | %11s | %12s %17s | %5.1fx  %s\n' "$fam/$kind" "$(awk -v b="$bytes" 'BEGIN { print b / 1e6 }')" \
      "$c" "$n_all" "($n_enc)" "$(awk -v a="$c" -v b="$n_all" 'BEGIN { print a / b }')" "$same"
    [ "$same" = "same ids" ] || exit 1
  done
done
