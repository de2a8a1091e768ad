# Sourced by the issue-19 scripts (die_ranks.sh, write_fail.sh, slow_save.sh): their common arguments, a fresh
# work folder, and one counted line per check.
# usage in a script: source lib.sh "$@"; then shear deck store work are set and MPIRUN is the mpirun command
set -u
shear=$1 deck=$2 store=$3 work=$4
shift 4
MPIRUN=("$@")
rm -rf "$work"
mkdir -p "$work"
pass=0 fail=0
# check NAME STATUS: STATUS 0 is a pass
check() { if [[ $2 == 0 ]]; then echo "ok   $1"; pass=$((pass + 1)); else echo "FAIL $1"; fail=$((fail + 1)); fi; }
finish() {
  echo "$pass passed, $fail failed"
  [[ $fail == 0 ]]
}
