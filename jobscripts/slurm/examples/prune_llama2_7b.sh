#!/usr/bin/env bash
# The paper's pruning runs as Slurm submissions: LLaMA2-7B -> Sheared-LLaMA-2.7B (default) or -1.3B on one node
# of 8 GPUs, one rank per GPU, 3200 steps x 32 x 4096 tokens (about 0.42B tokens; the paper reports 1844
# tokens/s/GPU, i.e. some 8 hours on 8 A100s). Requeues itself on the pre-timeout signal until done.
#   jobscripts/slurm/examples/prune_llama2_7b.sh [2.7b|1.3b]        (from the repository root)
# Before: shear import --from PATH/Llama-2-7b-hf --out runs/llama2-7b/source.h5, and the token store of
# inputs/llama2-7b/prep.yaml. After: shear finalize --in runs/llama2-7b/prune-T/pruned.h5 --out runs/llama2-7b/sheared-T.h5
set -eu
target=${1:-2.7b}
[[ $target == 2.7b || $target == 1.3b ]] || { echo "usage: prune_llama2_7b.sh [2.7b|1.3b]" >&2; exit 2; }
cd "$(dirname "$0")/../../.."
mkdir -p runs/llama2-7b
sbatch --job-name="prune-$target" --nodes=1 --ntasks-per-node=8 --gpus-per-node=8 --cpus-per-task=8 \
       --time=12:00:00 --signal=B:USR1@600 --output="runs/llama2-7b/prune-$target-%j.out" \
       jobscripts/slurm/shear.sbatch prune "inputs/llama2-7b/prune-$target.yaml"
