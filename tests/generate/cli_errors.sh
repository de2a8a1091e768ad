#!/usr/bin/env bash
# `shear generate` on bad input: each case exits with the stated code (2: usage, 1: bad input), prints exactly one
# `shear: error:` line naming what is wrong (usage errors: one line naming the option), writes nothing to
# stdout, and never crashes (no signal exit).
# usage: cli_errors.sh SHEAR WORKDIR SRC_DIR
set -uo pipefail
shear="$1" work="$2" src="$3"
py="${SHEAR_PYTHON:-/usr/bin/python3}"
ref="$src/validation/ref_generate.py"
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
ulimit -c 0
"$py" "$src/tests/badinput/data_tool.py" tokenizer tok.json || exit 1
"$py" "$ref" make m.h5 --vocab 291 --seed 3 || exit 1
"$py" "$ref" make small.h5 --vocab 64 --seed 3 || exit 1
: > empty.jsonl
fails=0

# expect NAME RC PATTERN STDIN -- command...
expect() {
  local name="$1" want_rc="$2" pat="$3" in="$4"; shift 5
  timeout 60 "$@" < "$in" > out 2> err
  local rc=$? n
  n=$(grep -c '^shear: error:' err)
  if [[ $rc != "$want_rc" ]] || ! grep -qE -- "$pat" err || [[ -s out ]] || { [[ $want_rc == 1 ]] && [[ $n != 1 ]]; }; then
    echo "FAIL $name: exit $rc (want $want_rc), $n error lines, stderr must match /$pat/, stdout empty"
    echo "  stderr: $(head -c 600 err)"
    echo "  stdout: $(head -c 200 out)"
    fails=$((fails + 1))
  else
    echo "ok   $name: $(grep -m1 -E -- "$pat" err | cut -c1-200)"
  fi
}
G=(--model m.h5 --tokenizer tok.json)
g=("$shear" generate)
expect no-model 2 '--model MODEL.h5 is required' empty.jsonl -- "${g[@]}" --prompt hi
expect prompt-and-file 2 'give --prompt or --prompt-file, not both' empty.jsonl -- "${g[@]}" "${G[@]}" --prompt hi --prompt-file x
expect unknown-option 2 "unknown option '--bogus'" empty.jsonl -- "${g[@]}" "${G[@]}" --prompt hi --bogus
expect empty-prompt 1 'error: --prompt: the prompt is empty' empty.jsonl -- "${g[@]}" "${G[@]}" --prompt ""
expect invalid-utf8 1 'error: --prompt: the prompt is not valid UTF-8 \(byte 1 of 3\)' empty.jsonl -- \
  "${g[@]}" "${G[@]}" --prompt $'a\xc3\x28'
printf 'caf\xe9\n' > latin1.txt
expect invalid-utf8-file 1 "prompt-file 'latin1.txt': the prompt is not valid UTF-8" empty.jsonl -- \
  "${g[@]}" "${G[@]}" --prompt-file latin1.txt
: > empty.txt
expect empty-prompt-file 1 "prompt-file 'empty.txt': the prompt is empty" empty.jsonl -- "${g[@]}" "${G[@]}" --prompt-file empty.txt
expect missing-prompt-file 1 "nope.txt" empty.jsonl -- "${g[@]}" "${G[@]}" --prompt-file nope.txt
expect too-long 1 "prompt 1 is 13 tokens, and the model's limit \(--max-len\) is 10" empty.jsonl -- \
  "${g[@]}" "${G[@]}" --prompt "the cat sat on" --max-len 10
expect top-p-zero 2 "option --top-p: expected a number in \(0, 1\], got '0'" empty.jsonl -- "${g[@]}" "${G[@]}" --prompt hi --top-p 0
expect top-p-above-1 2 "option --top-p: .*got '1.5'" empty.jsonl -- "${g[@]}" "${G[@]}" --prompt hi --top-p 1.5
expect top-p-nan 2 "option --top-p: .*got 'nan'" empty.jsonl -- "${g[@]}" "${G[@]}" --prompt hi --top-p nan
expect top-p-text 2 "option --top-p: .*got 'most'" empty.jsonl -- "${g[@]}" "${G[@]}" --prompt hi --top-p most
expect temperature-zero 2 "option --temperature: expected a number > 0 \(or --greedy\), got '0'" empty.jsonl -- "${g[@]}" "${G[@]}" --prompt hi --temperature 0
expect temperature-inf 2 "option --temperature: .*got 'inf'" empty.jsonl -- "${g[@]}" "${G[@]}" --prompt hi --temperature inf
expect top-k-negative 2 "option --top-k: expected an integer in \[0, [0-9]+\], got '-1'" empty.jsonl -- "${g[@]}" "${G[@]}" --prompt hi --top-k -1
expect max-new-zero 2 "option --max-new: expected an integer in \[1, [0-9]+\], got '0'" empty.jsonl -- "${g[@]}" "${G[@]}" --prompt hi --max-new 0
expect precision 2 "option --precision: expected fp32 or bf16, got 'fp16'" empty.jsonl -- "${g[@]}" "${G[@]}" --prompt hi --precision fp16
cp m.h5 badprec.h5
"$py" -c "import h5py; h5py.File('badprec.h5', 'a').attrs['precision'] = 'tf32'"
expect recorded-precision 1 "'badprec.h5': root attribute precision is 'tf32'; expected fp32 or bf16" empty.jsonl -- \
  "${g[@]}" --model badprec.h5 --tokenizer tok.json --prompt hi
expect device 2 "option --device: expected cpu or cuda, got 'tpu'" empty.jsonl -- "${g[@]}" "${G[@]}" --prompt hi --device tpu
expect tokenizer-mismatch 1 "tokenizer 'tok.json' has 291 tokens but the model 'small.h5' has vocab 64: the tokenizer does not belong" \
  empty.jsonl -- "${g[@]}" --model small.h5 --tokenizer tok.json --prompt hi
expect no-recorded-tokenizer 1 "'m.h5' records no tokenizer .*--tokenizer FILE" empty.jsonl -- "${g[@]}" --model m.h5 --prompt hi
expect missing-tokenizer 1 "nope.json" empty.jsonl -- "${g[@]}" --model m.h5 --tokenizer nope.json --prompt hi
expect missing-model 1 "model file 'nope.h5' does not exist" empty.jsonl -- "${g[@]}" --model nope.h5 --tokenizer tok.json --prompt hi
echo "not an hdf5 file" > text.h5
expect model-not-hdf5 1 "text.h5" empty.jsonl -- "${g[@]}" --model text.h5 --tokenizer tok.json --prompt hi
expect stdin-empty 1 'stdin held no prompt; expected JSON Lines' empty.jsonl -- "${g[@]}" "${G[@]}"
printf '{"prompt": "ok"}\nnot json\n' > bad1.jsonl
expect stdin-not-json 1 'stdin line 2: not a JSON object' bad1.jsonl -- "${g[@]}" "${G[@]}"
printf '{"text": "ok"}\n' > bad2.jsonl
expect stdin-no-key 1 'stdin line 1: no "prompt" key' bad2.jsonl -- "${g[@]}" "${G[@]}"
printf '{"prompt": 5}\n' > bad3.jsonl
expect stdin-not-string 1 'stdin line 1: "prompt" is not a string' bad3.jsonl -- "${g[@]}" "${G[@]}"
printf '{"prompt": ""}\n' > bad4.jsonl
expect stdin-empty-prompt 1 'stdin line 1: the prompt is empty' bad4.jsonl -- "${g[@]}" "${G[@]}"
printf '{"prompt": "a\\u0000b"}\n' > bad5.jsonl
expect stdin-nul 1 'stdin line 1: the prompt holds a \\u0000 escape' bad5.jsonl -- "${g[@]}" "${G[@]}"
printf '{"prompt": "caf\xe9"}\n' > bad6.jsonl
expect stdin-invalid-utf8 1 'stdin line 1: (the prompt is not valid UTF-8|not a JSON object)' bad6.jsonl -- "${g[@]}" "${G[@]}"
# a bad line anywhere stops the run before anything is generated: stdout stays empty (checked by expect)
printf '{"prompt": "the cat"}\n{"prompt": "the dog"}\n{"prompt": 1}\n' > bad7.jsonl
expect stdin-bad-third-line 1 'stdin line 3' bad7.jsonl -- "${g[@]}" "${G[@]}"
if "$shear" --version | grep -q "cuda"; then
  expect cuda-without-gpu 1 "no CUDA device is visible|this build has no CUDA backend" empty.jsonl -- \
    env CUDA_VISIBLE_DEVICES= "$shear" generate "${G[@]}" --prompt hi --device cuda
fi
echo "$fails failed"
[[ $fails == 0 ]]
