#!/usr/bin/env bash
# Byte-level BPE (Llama 3, Llama 3.1, Qwen3): `shear tokenize` against the JS oracle @huggingface/tokenizers on
# the texts of gen_cases.mjs and gen_bytelevel_cases.mjs (edge cases and every domain of CORPUS_DIR when it
# exists), then `shear tokenize --decode` of the --no-bos ids must give every text back (Qwen: its NFC form, as
# Qwen's normalizer NFC is part of encoding), and `--decode` of id lines that cut characters (each case's ids
# reversed) or are not UTF-8 must equal the oracle's decode. Exit 77 (ctest SKIP)
# when the tokenizer files or node cannot be had.
# usage: bytelevel_check.sh SHEAR TOKENIZER_DIR WORKDIR [CORPUS_DIR...]   (the first CORPUS_DIR that exists)
set -euo pipefail
shear="$1" tokdir="$2" work="$3"; shift 3
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
corpus=""
for c in "$@"; do [ -d "$c" ] && { corpus="$c"; break; }; done

command -v node >/dev/null 2>&1 || { echo "SKIP: node is not installed; the oracle is a node package"; exit 77; }
rc=0
lib="$("$root/inputs/tokenizer/fetch_bytelevel.sh" --print-oracle)" || rc=$?
if [ "$rc" = 77 ]; then echo "SKIP: the oracle @huggingface/tokenizers cannot be fetched (see above)"; exit 77; fi
[ "$rc" = 0 ] || exit "$rc"
for fam in llama3 llama3_1 qwen3; do
  [ -f "$tokdir/$fam/tokenizer.json" ] || { echo "SKIP: $tokdir/$fam/tokenizer.json is missing (test tokenizer_bytelevel_setup)"; exit 77; }
done

mkdir -p "$work"
node "$here/gen_cases.mjs" > "$work/cases.jsonl"
node "$here/gen_bytelevel_cases.mjs" "$corpus" >> "$work/cases.jsonl"
python3 - "$work/cases.jsonl" "$work/texts.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], encoding='utf-8') as f, open(sys.argv[2], 'w', encoding='utf-8') as g:
    for line in f:  # the texts as `shear tokenize --decode` writes them, to compare byte for byte
        g.write(json.dumps({"text": json.loads(line)["text"]}, ensure_ascii=False, separators=(',', ':')) + '\n')
PY
fails=0
for fam in llama3 llama3_1 qwen3; do
  tj="$tokdir/$fam/tokenizer.json"
  "$shear" tokenize --tokenizer "$tj" < "$work/cases.jsonl" > "$work/$fam.ids"
  "$shear" tokenize --tokenizer "$tj" --no-bos < "$work/cases.jsonl" > "$work/$fam.nobos"
  "$shear" tokenize --tokenizer "$tj" --decode < "$work/$fam.nobos" > "$work/$fam.decoded"
  # decoding also of ids that cut characters or are not UTF-8 at all: each case's ids reversed, then one
  # token per byte of "ok \xff\xfe caf\xc3 \xed\xa0\x80 end\xe2\x82 \xf0\x9f\x98 x\xf4\x90\x80\x80y\xc0\xaf"
  python3 - "$work/$fam.nobos" "$work/$fam.cut_ids" <<'PY'
import json, sys
with open(sys.argv[2], 'w') as g:
    for line in open(sys.argv[1]):
        g.write(json.dumps(json.loads(line)[::-1], separators=(',', ':')) + '\n')
PY
  # (shear tokenize refuses text that is not UTF-8, so these ids come from the byte-level alphabet itself)
  python3 - "$tj" >> "$work/$fam.cut_ids" <<'PY'
import json, sys
vocab = json.load(open(sys.argv[1], encoding='utf-8'))["model"]["vocab"]
# GPT-2's bytes_to_unicode: printable bytes stand for themselves, the others for 256 + their rank
keep = list(range(0x21, 0x7f)) + list(range(0xa1, 0xad)) + list(range(0xae, 0x100))
char = {b: chr(b) for b in keep}
char.update({b: chr(256 + i) for i, b in enumerate(b for b in range(256) if b not in char)})
bad = b"ok \xff\xfe caf\xc3 \xed\xa0\x80 end\xe2\x82 \xf0\x9f\x98 x\xf4\x90\x80\x80y\xc0\xaf"
print(json.dumps([vocab[char[b]] for b in bad], separators=(',', ':')))
PY
  "$shear" tokenize --tokenizer "$tj" --decode < "$work/$fam.cut_ids" > "$work/$fam.cut_decoded"
  node "$here/bytelevel_oracle.mjs" "$lib" "$tj" "$tokdir/$fam/tokenizer_config.json" "$work/cases.jsonl" \
       "$work/$fam.ids" "$work/$fam.cut_ids" "$work/$fam.cut_decoded" || fails=$((fails + 1))
  nfc=0; [ "$fam" = qwen3 ] && nfc=1
  if python3 - "$work/texts.jsonl" "$work/$fam.decoded" "$nfc" <<'PY'
import json, sys, unicodedata
want = [json.loads(l)["text"] for l in open(sys.argv[1], encoding='utf-8')]
if sys.argv[3] == '1':
    want = [unicodedata.normalize('NFC', t) for t in want]
got = [json.loads(l)["text"] for l in open(sys.argv[2], encoding='utf-8')]
bad = [i for i, (a, b) in enumerate(zip(want, got)) if a != b] + ([-1] if len(want) != len(got) else [])
for i in bad[:5]:
    print(f"  round trip differs on line {i + 1}: {want[i][:80]!r} -> {got[i][:80]!r}" if i >= 0 else
          f"  {len(got)} decoded lines for {len(want)} texts")
print(f"round trip{' (NFC)' if sys.argv[3] == '1' else ''}: {len(want)} texts, {len(bad)} differ")
sys.exit(1 if bad else 0)
PY
  then :; else fails=$((fails + 1)); fi
done
echo "bytelevel_check: $fails failed"
[ "$fails" = 0 ]
