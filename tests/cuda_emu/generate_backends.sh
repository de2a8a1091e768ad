#!/usr/bin/env bash
# shear generate on the CUDA backend (emulated) against the CPU backend: the random GQA model and byte-fallback
# tokenizer of tests/generate/check.sh, 4 prompts (one longer than a 512-token prefill chunk), greedy: the
# token ids with the KV cache (the decode-step ops rope_at_fwd and attention_cached_fwd on the CUDA backend) and,
# for the 3 short prompts, with --no-cache equal the CPU backend's, token for token (the logits differ only by rounding; a wrong cached
# attention changes the argmax within a few tokens). CPU greedy is checked against PyTorch by generate_check.
# usage: generate_backends.sh SHEAR WORKDIR SRC_DIR
set -uo pipefail
shear="$1" work="$2" src="$3"
py=/usr/bin/python3
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
pass=0 fails=0
check() { if [[ $2 == 0 ]]; then echo "ok   $1"; pass=$((pass + 1)); else echo "FAIL $1"; fails=$((fails + 1)); fi; }
"$py" "$src/tests/badinput/data_tool.py" tokenizer tok.json || exit 1
"$py" "$src/validation/ref_generate.py" make m.h5 --vocab 291 --seed 3 || exit 1
"$py" - <<'PY' || exit 1
import json
long = " ".join(f"the {w} sat on the mat and the dog ran" for w in ["cat", "fox", "owl", "bee"] * 12)
with open("prompts.jsonl", "w") as f:
    for p in ["the cat sat on", "a", "caf\u00e9 \u65e5\u672c \U0001F600 x", long]:
        f.write(json.dumps({"prompt": p}) + "\n")
PY
gen() { "$shear" generate --model m.h5 --tokenizer tok.json --greedy --json --max-new 24 --threads 1 "$@" < prompts.jsonl; }
ids() { "$py" -c "import json,sys; [print(json.dumps(json.loads(l)['ids'])) for l in open(sys.argv[1])]" "$1"; }
gen --device cpu > cpu.jsonl 2> cpu.err
check "CPU backend runs" $?
gen --device cuda > cuda.jsonl 2> cuda.err
check "CUDA backend (emulated) runs with the KV cache" $?
# without the cache every step runs the whole sequence: the short prompts only (the long one alone costs 100 s
# emulated)
head -3 prompts.jsonl > short.jsonl
"$shear" generate --model m.h5 --tokenizer tok.json --greedy --json --max-new 24 --threads 1 --device cuda \
  --no-cache < short.jsonl > cuda_nc.jsonl 2> cuda_nc.err
check "CUDA backend (emulated) runs with --no-cache (3 short prompts)" $?
[[ -s cpu.jsonl && $(wc -l < cpu.jsonl) == 4 ]]
check "4 completions" $?
cmp -s <(ids cpu.jsonl) <(ids cuda.jsonl)
check "CUDA greedy ids with the KV cache equal the CPU's" $?
cmp -s <(ids cpu.jsonl | head -3) <(ids cuda_nc.jsonl)
check "CUDA greedy ids without the cache equal the CPU's" $?
if [[ $fails != 0 ]]; then tail -5 cuda.err cuda_nc.err; echo "cpu:"; ids cpu.jsonl; echo "cuda:"; ids cuda.jsonl; fi
echo "$pass passed, $fails failed"
[[ $fails == 0 ]]
