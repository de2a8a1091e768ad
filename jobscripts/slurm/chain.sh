#!/usr/bin/env bash
# Submits N dependent Slurm jobs of shear.sbatch for a run longer than the time limit: each job runs the same
# command, which resumes from the last checkpoint; a job after the end exits 0 at once ("the run is complete").
#   jobscripts/slurm/chain.sh N [sbatch options...] -- CMD DECK [shear options...]
#   jobscripts/slurm/chain.sh 10 --nodes=2 --ntasks-per-node=8 --gpus-per-node=8 --time=24:00:00 \
#       -- train inputs/llama2-7b/continue-2.7b.yaml
# CHAIN_DEP=singleton (default: jobs of the same name and user run one after another) or afterany (each waits for
# the previous job id; afterok would never fire after a job that ran out of time). The jobs do not requeue
# themselves (SHEAR_REQUEUE=0): the next link continues. SBATCH (default sbatch) and SCRIPT (default
# shear.sbatch next to this file) can be overridden.
set -eu
if (($# < 4)) || ! [[ $1 =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: chain.sh N [sbatch options...] -- CMD DECK [shear options...]" >&2
  exit 2
fi
n=$1; shift
opts=()
while (($#)) && [[ $1 != -- ]]; do opts+=("$1"); shift; done
[[ ${1:-} == -- ]] || { echo "chain.sh: missing -- before CMD DECK" >&2; exit 2; }
shift
read -r -a sbatch <<< "${SBATCH:-sbatch}"
script=${SCRIPT:-$(cd "$(dirname "$0")" && pwd)/shear.sbatch}
name=${CHAIN_NAME:-shear-$1-$(basename "$2" .yaml)}
dep=${CHAIN_DEP:-singleton}
prev=
for ((i = 1; i <= n; i++)); do
  d=()
  if [[ $dep == singleton ]]; then d=(--dependency=singleton)
  elif [[ $dep == afterany ]]; then [[ -n $prev ]] && d=("--dependency=afterany:$prev")
  else echo "chain.sh: CHAIN_DEP must be singleton or afterany (got '$dep')" >&2; exit 2
  fi
  prev=$(SHEAR_REQUEUE=0 "${sbatch[@]}" --parsable --export=ALL,SHEAR_REQUEUE=0 --job-name="$name" "${d[@]}" \
           "${opts[@]}" "$script" "$@")
  prev=${prev%%;*}
  echo "chain.sh: link $i/$n: job $prev"
done
