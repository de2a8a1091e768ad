#!/usr/bin/env bash
# Decoding speed of `shear generate` on the CPU against the PyTorch reference with its own KV cache
# (validation/ref_generate.py, fp32 PyTorch, torch.no_grad), side by side in one run: random models of the tiny
# pipeline's shapes (the source, and the sheared target), vocab 32000, a prompt of 37 tokens, 128 greedy new tokens,
# 1 thread each, ROUNDS alternating rounds (shear, then PyTorch), best of each. Shear's figure is its own
# tokens_per_s (decode time only, no process start), PyTorch's the same span. Writes
# validation/results/generate_bench.{md,json}.
# usage: generate_bench.sh BUILD_DIR [ROUNDS]      (default 5)
set -euo pipefail
build="$(cd "$1" && pwd)"; rounds="${2:-5}"
src="$(cd "$(dirname "$0")/../.." && pwd)"
py=/usr/bin/python3
out="$src/validation/results/generate_bench"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$py" "$src/tests/badinput/data_tool.py" tokenizer "$work/tok.json"
# the prompt: its ids (BOS first, as shear feeds them) go to PyTorch too
prompt=$("$py" -c "print(' '.join(['the cat sat on the mat'] * 6))")
rows=()
for spec in "source:128,4,4,2,32,352" "sheared:96,3,2,1,32,256"; do
  name=${spec%%:*} shape=${spec#*:}
  m="$work/$name.h5"
  "$py" "$src/validation/ref_generate.py" make "$m" --vocab 32000 --seed 7 --std 0.05 --shape "$shape"
  "$build/shear" generate --model "$m" --tokenizer "$work/tok.json" --prompt "$prompt" --max-new 1 --greedy --json \
    2>/dev/null | "$py" -c "import json,sys; print(json.dumps(json.load(sys.stdin)['prompt_ids']))" > "$work/ids.json"
  n_prompt=$("$py" -c "import json; print(len(json.load(open('$work/ids.json'))))")
  best_s=0 best_t=0
  for r in $(seq "$rounds"); do
    s=$("$build/shear" generate --model "$m" --tokenizer "$work/tok.json" --prompt "$prompt" --max-new 128 --greedy \
        --json --threads 1 2>/dev/null)
    t=$("$py" "$src/validation/ref_generate.py" bench "$m" "$work/ids.json" 128 --threads 1 --rounds 1)
    echo "round $r $name: shear $s" | cut -c1-200
    echo "round $r $name: torch $t"
    best_s=$("$py" -c "import json,sys; r=json.loads(sys.argv[1]); print(max(float(sys.argv[2]), r['tokens_per_s']) if r['new_tokens'] == 128 else sys.exit('shear stopped after %d tokens' % r['new_tokens']))" "$s" "$best_s")
    best_t=$("$py" -c "import json,sys; print(max(float(sys.argv[2]), json.loads(sys.argv[1])['decode_tokens_per_s']))" "$t" "$best_t")
  done
  rows+=("$name|$shape|$n_prompt|$best_s|$best_t")
done
"$py" - "$out" "$rounds" "${rows[@]}" <<'PY'
import json, subprocess, sys, datetime
out, rounds, rows = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
res = []
for r in rows:
    name, shape, n, s, t = r.split("|")
    res.append({"model": name, "shape": shape, "prompt_tokens": int(n), "shear_tokens_per_s": float(s),
                "torch_tokens_per_s": float(t)})
import torch
with open(out + ".json", "w") as f:
    json.dump({"rounds": rounds, "torch": torch.__version__, "date": datetime.date.today().isoformat(), "results": res}, f, indent=1)
with open(out + ".md", "w") as f:
    f.write(f"`bash validation/bench/generate_bench.sh build {rounds}`, {datetime.date.today().isoformat()}: decoding, "
            f"1 thread, a {res[0]['prompt_tokens']}-token prompt, 128 greedy tokens, vocab 32000, best of {rounds} alternating rounds; "
            f"PyTorch {torch.__version__} fp32 with its own KV cache.\n\n")
    f.write("| model | d, L, H, Hkv, hd, I | shear tok/s | PyTorch tok/s | shear / PyTorch |\n|---|---|---:|---:|---:|\n")
    for r in res:
        f.write(f"| {r['model']} | {r['shape'].replace(',', ', ')} | {r['shear_tokens_per_s']:,.0f} | "
                f"{r['torch_tokens_per_s']:,.0f} | {r['shear_tokens_per_s'] / r['torch_tokens_per_s']:.2f}x |\n")
print(open(out + ".md").read())
PY
