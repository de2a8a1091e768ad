#!/usr/bin/env bash
# The main job on the embedded default, from nothing: set-up, the small 7-domain corpus from Debian packages,
# the LLaMA-2 tokenizer, the token store, then `shear train` on the tiny deck with 2 MPI ranks on the CPU.
# Each stage is skipped when its output exists.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
RANKS=${SHEAR_RANKS:-2}
MPIRUN=(mpirun -np "$RANKS" --oversubscribe --bind-to none)

echo "== corpus (small profile) =="
bash inputs/corpus/build_corpus.sh small corpus/small
echo "== token store =="
"${MPIRUN[@]}" build/shear prep inputs/tiny/prep.yaml
echo "== pre-training the tiny model =="
if [[ -f runs/tiny/source/model.h5 ]]; then
  echo "runs/tiny/source/model.h5 exists: skipped (delete it to train again)"
else
  "${MPIRUN[@]}" build/shear train inputs/tiny/train.yaml
fi
