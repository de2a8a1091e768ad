#!/usr/bin/env bash
# jobscripts/slurm/chain.sh against a fake sbatch that records its arguments: N links, each with the same job
# name and --dependency=singleton (or afterany on the previous job id), requeue off, the command passed through.
# usage: chain_test.sh WORK
set -u
WORK=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$WORK"; mkdir -p "$WORK/calls"
pass=0 fail=0
check() { if "$@"; then pass=$((pass+1)); else echo "FAIL: $*"; fail=$((fail+1)); fi; }
cat > "$WORK/sbatch" <<FAKE
#!/usr/bin/env bash
n=\$(find "$WORK/calls" -type f | wc -l)
printf '%s\n' "\$@" > "$WORK/calls/\$n"
echo "\$((100 + n));cluster"
FAKE
chmod +x "$WORK/sbatch"
SBATCH=$WORK/sbatch bash "$ROOT/jobscripts/slurm/chain.sh" 3 --time=1:00:00 -- train deck.yaml --set a.b=1 > "$WORK/out" 2>&1
check test $? -eq 0
check test "$(find "$WORK/calls" -type f | wc -l)" -eq 3
for i in 0 1 2; do
  check grep -qx -- "--dependency=singleton" "$WORK/calls/$i"
  check grep -qx -- "--job-name=shear-train-deck" "$WORK/calls/$i"
  check grep -qx -- "--export=ALL,SHEAR_REQUEUE=0" "$WORK/calls/$i"
  check grep -qx -- "--time=1:00:00" "$WORK/calls/$i"
  check test "$(tail -n 5 "$WORK/calls/$i" | tr '\n' ' ')" == "$ROOT/jobscripts/slurm/shear.sbatch train deck.yaml --set a.b=1 "
done
check grep -q "link 3/3: job 102" "$WORK/out"
rm -f "$WORK"/calls/*
CHAIN_DEP=afterany SBATCH=$WORK/sbatch bash "$ROOT/jobscripts/slurm/chain.sh" 2 -- prune p.yaml > "$WORK/out2" 2>&1
check test $? -eq 0
check bash -c "! grep -q dependency '$WORK/calls/0'"
check grep -qx -- "--dependency=afterany:100" "$WORK/calls/1"
SBATCH=$WORK/sbatch bash "$ROOT/jobscripts/slurm/chain.sh" 2 train deck.yaml > "$WORK/out3" 2>&1
check test $? -eq 2
# the example submissions of the paper's runs go through the same scripts with decks that exist
rm -f "$WORK"/calls/*
PATH=$WORK:$PATH bash "$ROOT/jobscripts/slurm/examples/prune_llama2_7b.sh" 1.3b > "$WORK/out4" 2>&1
check test $? -eq 0
check grep -qx -- "--gpus-per-node=8" "$WORK/calls/0"
check test "$(tail -n 3 "$WORK/calls/0" | tr '\n' ' ')" == "jobscripts/slurm/shear.sbatch prune inputs/llama2-7b/prune-1.3b.yaml "
check test -f "$ROOT/inputs/llama2-7b/prune-1.3b.yaml"
rm -f "$WORK"/calls/*
PATH=$WORK:$PATH bash "$ROOT/jobscripts/slurm/examples/continue_sheared.sh" 2.7b 4 > "$WORK/out5" 2>&1
check test $? -eq 0
check test "$(find "$WORK/calls" -type f | wc -l)" -eq 4
check grep -qx -- "--nodes=2" "$WORK/calls/3"
check test "$(tail -n 2 "$WORK/calls/3" | tr '\n' ' ')" == "train inputs/llama2-7b/continue-2.7b.yaml "
check test -f "$ROOT/inputs/llama2-7b/continue-2.7b.yaml"
echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
