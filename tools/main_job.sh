#!/usr/bin/env bash
# The main job on the embedded default, from nothing, on the CPU with 2 MPI ranks: set-up, the small 7-domain
# corpus from Debian packages, the LLaMA-2 tokenizer, the token store, pre-training a tiny source model (the
# stand-in for a pretrained LLaMA), pruning it to a smaller shape with dynamic batch loading, finalizing,
# continued pre-training with dynamic batch loading, a same-shape model trained from scratch on the same token
# budget, per-domain evaluation of all of them, a summary table and plots, and a few generations of the sheared
# and the scratch model. Decks: inputs/tiny/.
# Every stage is skipped when its output exists (delete runs/tiny to start over).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# shellcheck source=tools/repro_env.sh
source tools/repro_env.sh # the same bits on every machine
RANKS=${SHEAR_RANKS:-2}
MPIRUN=(mpirun -np "$RANKS" --oversubscribe --bind-to none)
T0=$SECONDS
stage() { echo; echo "== [$((SECONDS - T0)) s] $1 =="; }

stage "corpus: 7 domains from Debian packages (small profile)"
bash inputs/corpus/build_corpus.sh small corpus/small
stage "token store (LLaMA-2 tokenizer, $RANKS ranks)"
"${MPIRUN[@]}" build/shear prep inputs/tiny/prep.yaml
bash tools/pipeline.sh inputs/tiny data/tiny/tokens.h5 runs/tiny
stage "what the models write: shear generate on inputs/tiny/prompts.jsonl (sampled: temperature 0.8, top-k 40, seed 1)"
for m in sheared:continue scratch:scratch; do
  name=${m%%:*}
  echo "-- $name (runs/tiny/${m#*:}/model.h5) --"
  build/shear generate --model "runs/tiny/${m#*:}/model.h5" --tokenizer inputs/tokenizer/tokenizer.json --max-new 40 \
    --temperature 0.8 --top-k 40 --seed 1 < inputs/tiny/prompts.jsonl | tee "runs/tiny/generations_$name.txt.tmp"
  mv "runs/tiny/generations_$name.txt.tmp" "runs/tiny/generations_$name.txt"
done
echo "main job done in $((SECONDS - T0)) s"
