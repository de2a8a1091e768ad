#!/usr/bin/env bash
# Runs shellcheck on every job script, the tests that drive them, and the tools/validation/input recipes; exit 77 (skip) without shellcheck.
# usage: shellcheck_test.sh SOURCE_DIR
command -v shellcheck >/dev/null || { echo "SKIP: shellcheck is not installed"; exit 77; }
cd "$1" || exit 1
files=(jobscripts/slurm/shear.sbatch jobscripts/pbs/shear.pbs jobscripts/slurm/chain.sh jobscripts/local/run.sh
       jobscripts/slurm/examples/*.sh tests/jobs/*.sh tools/*.sh validation/*.sh validation/bench/*.sh
       validation/gpu/*.sh inputs/tokenizer/*.sh inputs/corpus/*.sh)
shellcheck -s bash "${files[@]}" && echo "shellcheck: ${#files[@]} scripts clean"
