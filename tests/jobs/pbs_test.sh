#!/usr/bin/env bash
# jobscripts/pbs/shear.pbs under a fake PBS environment (OpenPBS is not in Debian): PBS_NODEFILE with two
# localhost lines, PBS_JOBID, PBS_O_WORKDIR, and a fake qsub that records its arguments. The walltime minus the
# margin leaves shear a 2 s budget, far below the run's length (6000 steps: a fast machine ran 1500 in 2 s):
# shear checkpoints and exits 75, the script resubmits itself (qsub -W depend=afterany:JOBID with the command
# in -v); running the script again, as the resubmitted job would, resumes until the run finishes, and the end
# state equals an uninterrupted run's.
# usage: pbs_test.sh SHEAR DECK STORE WORK
set -u
SHEAR=$1 DECK=$2 STORE=$3 WORK=$4
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3
rm -rf "$WORK"; mkdir -p "$WORK/bin" "$WORK/submit"
WORK=$(cd "$WORK" && pwd)
pass=0 fail=0
check() { if "$@"; then pass=$((pass+1)); else echo "FAIL: $*"; fail=$((fail+1)); fi; }
cat > "$WORK/bin/qsub" <<FAKE
#!/usr/bin/env bash
n=\$(ls "$WORK/submit" | wc -l)
printf '%s\n' "\$@" > "$WORK/submit/\$n.args"
echo "\$n.fakepbs"
FAKE
chmod +x "$WORK/bin/qsub"
printf 'localhost\nlocalhost\n' > "$WORK/nodefile"
STEPS=6000
S=(--set data.store="$STORE" --set train.steps="$STEPS" --set run.ckpt_every=0 --set run.threads=1 --set run.log_every=500)
mpirun --oversubscribe --allow-run-as-root --mca btl self,vader -np 2 "$SHEAR" train "$DECK" "${S[@]}" \
  --set run.out_dir="$WORK/straight" > "$WORK/straight.log" 2>&1
check test $? -eq 0

job() { # N: one job of the chain, from the PBS_O_WORKDIR the resubmission keeps
  env PATH="$WORK/bin:$PATH" PBS_NODEFILE="$WORK/nodefile" PBS_JOBID="$1.fakepbs" PBS_O_WORKDIR="$ROOT" \
      QSUB="$WORK/bin/qsub" SHEAR="$SHEAR" SHEAR_WALLTIME=00:00:04 SHEAR_MARGIN=2 MPI_ARGS="--mca btl self,vader" \
      SHEAR_ARGS="${S[*]} --set run.out_dir=$WORK/run" SHEAR_RESTART="$1" \
      bash "$ROOT/jobscripts/pbs/shear.pbs" train "$DECK" > "$WORK/job$1.log" 2>&1
}
job 0; rc=$?
check test $rc -eq 75
check grep -q "wall-clock budget" "$WORK/job0.log"
check grep -q -- "--set run.walltime=2" "$WORK/job0.log"
check test -f "$WORK/run/ckpt/LATEST"
check test -f "$WORK/submit/0.args"
check grep -qx -- "-W" "$WORK/submit/0.args"
check grep -qx -- "depend=afterany:0.fakepbs" "$WORK/submit/0.args"
check grep -q "CMD=train,DECK=$DECK,.*SHEAR_RESTART=1" "$WORK/submit/0.args"
check grep -qx "$ROOT/jobscripts/pbs/shear.pbs" "$WORK/submit/0.args"
i=1
while ((rc == 75 && i < 100)); do job $i; rc=$?; i=$((i + 1)); done
echo "finished after $i jobs"
check test $rc -eq 0
check test "$i" -ge 2
check grep -q "resumed from" "$WORK/job1.log"
check test -f "$WORK/run/model.h5"
check test "$(find "$WORK/submit" -name "*.args" | wc -l)" -eq $((i - 1))   # every stop but the last resubmitted
last=$(printf 'step_%08d.h5' $STEPS)
check $PY "$ROOT/tests/resume/same_state.py" "$WORK/run/ckpt/$last" "$WORK/straight/ckpt/$last" --exact
# a job after the end: the run is complete, exit 0, no resubmission
job $i; check test $? -eq 0
check grep -q "the run is complete" "$WORK/job$i.log"
check test "$(find "$WORK/submit" -name "*.args" | wc -l)" -eq $((i - 1))
echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
