#!/usr/bin/env bash
# Runs shellcheck on every job script and on the tests that drive them; exit 77 (skip) without shellcheck.
# usage: shellcheck_test.sh SOURCE_DIR
command -v shellcheck >/dev/null || { echo "SKIP: shellcheck is not installed"; exit 77; }
cd "$1" || exit 1
files=(jobscripts/slurm/shear.sbatch jobscripts/pbs/shear.pbs jobscripts/slurm/chain.sh jobscripts/local/run.sh
       jobscripts/slurm/examples/*.sh tests/jobs/*.sh)
shellcheck -s bash "${files[@]}" && echo "shellcheck: ${#files[@]} scripts clean"
