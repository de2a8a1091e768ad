#!/usr/bin/env bash
# The paper's continued pre-training of a finalized Sheared-LLaMA (2.7B default, or 1.3B) on 2 nodes x 8 GPUs
# = 16 ranks: 48000 steps x 256 x 4096 tokens (50.3B tokens; at the paper's 4957 (2.7B) / 8684 (1.3B)
# tokens/s/GPU that is about 7 / 4 days). A chain of LINKS 24-hour jobs (singleton dependency), each resuming
# from the last checkpoint; links after the end exit 0 at once.
#   jobscripts/slurm/examples/continue_sheared.sh [2.7b|1.3b] [LINKS]     (from the repository root)
set -eu
target=${1:-2.7b}
links=${2:-8}
[[ $target == 2.7b || $target == 1.3b ]] || { echo "usage: continue_sheared.sh [2.7b|1.3b] [LINKS]" >&2; exit 2; }
cd "$(dirname "$0")/../../.."
mkdir -p runs/llama2-7b
jobscripts/slurm/chain.sh "$links" --nodes=2 --ntasks-per-node=8 --gpus-per-node=8 --cpus-per-task=8 \
  --time=24:00:00 --signal=B:USR1@600 --output="runs/llama2-7b/continue-$target-%j.out" \
  -- train "inputs/llama2-7b/continue-$target.yaml"
