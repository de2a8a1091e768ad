#!/usr/bin/env bash
# jobscripts/slurm/shear.sbatch under a real single-node Slurm (slurmctld + slurmd + munged on localhost, all in a
# temp dir, started and stopped by this script): the batch shell gets USR1 mid-run, shear checkpoints and exits
# 75, the script requeues the job, the requeued job (SLURM_RESTART_COUNT 1) resumes and finishes, and the final
# state equals an uninterrupted run's bit for bit. Exit 77 (skip) when Slurm or munge is not installed or the
# daemons do not come up; nothing is installed here (tools/setup.sh installs slurm-wlm and munge).
# usage: slurm_test.sh SHEAR DECK STORE WORK
set -u
SHEAR=$1 DECK=$2 STORE=$3 WORK=$4
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3
skip() { echo "SKIP: $*"; exit 77; }
for b in slurmctld slurmd munged sbatch sinfo squeue scontrol scancel; do
  command -v "$b" >/dev/null || [[ -x /usr/sbin/$b ]] || skip "$b is not installed (apt-get install slurm-wlm munge)"
done
export PATH=$PATH:/usr/sbin
[[ $(id -u) == 0 ]] || skip "the localhost cluster runs its daemons as root (SlurmUser=root)"

rm -rf "$WORK"; mkdir -p "$WORK"/{state,spool,munge,job}
WORK=$(cd "$WORK" && pwd)
pids=()
cleanup() {
  local p
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do p=${pids[i]}; kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
  done
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# two free TCP ports for slurmctld and slurmd (other tests or a real Slurm may hold the defaults)
read -r CPORT DPORT < <($PY -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1",0)) for x in s]
print(*[x.getsockname()[1] for x in s])')
CPUS=$(nproc)
cat > "$WORK/slurm.conf" <<CONF
ClusterName=sheartest
SlurmctldHost=localhost
SlurmctldPort=$CPORT
SlurmdPort=$DPORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$WORK/munge/munge.socket,cred_expire=10
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/slurmctld.pid
SlurmdPidFile=$WORK/slurmd.pid
SlurmctldLogFile=$WORK/slurmctld.log
SlurmdLogFile=$WORK/slurmd.log
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
JobRequeue=1
SchedulerType=sched/builtin
SchedulerParameters=sched_interval=2
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$WORK/slurm.conf

dd if=/dev/urandom of="$WORK/munge/munge.key" bs=1024 count=1 status=none
chmod 600 "$WORK/munge/munge.key"
munged --force --foreground --key-file="$WORK/munge/munge.key" --socket="$WORK/munge/munge.socket" \
  --pid-file="$WORK/munge/munged.pid" --log-file="$WORK/munge/munged.log" --seed-file="$WORK/munge/seed" \
  > "$WORK/munge/stdout" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [[ -S $WORK/munge/munge.socket ]] && break; sleep 0.1; done
[[ -S $WORK/munge/munge.socket ]] || { cat "$WORK/munge/munged.log" "$WORK/munge/stdout"; skip "munged did not start"; }
slurmctld -D -i > "$WORK/slurmctld.stdout" 2>&1 &
pids+=($!)
slurmd -D -N localhost > "$WORK/slurmd.stdout" 2>&1 &
pids+=($!)
idle=0
for _ in $(seq 60); do
  state=$(sinfo -h -n localhost -o %t 2>/dev/null)
  [[ $state == idle ]] && { idle=1; break; }
  sleep 1
done
if ((!idle)); then
  tail -n 20 "$WORK"/slurmctld.log "$WORK"/slurmd.log "$WORK"/*.stdout 2>/dev/null
  skip "the localhost Slurm node never became idle within 60 s (state '${state:-none}')"
fi
echo "slurm up: $(sinfo -h -o '%P %D %t %c')"

pass=0 fail=0
check() { if "$@"; then pass=$((pass+1)); else echo "FAIL: $*"; fail=$((fail+1)); fi; }
# The batch shell gets USR1 from `scancel --batch --signal=USR1` as soon as the job's metrics show a finished
# step: the job cannot end before the signal, however fast the machine (CI ran 10000 steps in about 10 s, before
# Slurm's own time-limit check). --signal=B:USR1@80 with --time=2 stays as well: Slurm sends it at its
# time-limit checks (every 30 s) to a segment still running then. Every segment resumes from the last
# checkpoint, so the end state is the same however many segments there are.
STEPS=${SLURM_TEST_STEPS:-10000}
SIGNAL=${SLURM_TEST_SIGNAL:-B:USR1@80}
S=(--set data.store="$STORE" --set train.steps="$STEPS" --set run.ckpt_every=0 --set run.threads=1
   --set run.log_every=1000)
cd "$WORK/job" || exit 1
SHEAR=$SHEAR MPI_ARGS="--mca btl self,vader" \
  sbatch --parsable --nodes=1 --ntasks-per-node=2 --gpus-per-node=0 --cpus-per-task=1 --time=2 --signal="$SIGNAL" \
         --job-name=sheartest --output="$WORK/job/slurm.out" \
         "$ROOT/jobscripts/slurm/shear.sbatch" train "$DECK" "${S[@]}" --set run.out_dir="$WORK/job/run" \
         > "$WORK/jobid" 2> "$WORK/sbatch.err" || { cat "$WORK/sbatch.err"; echo "FAIL: sbatch"; exit 1; }
JOB=$(cat "$WORK/jobid")
echo "submitted job $JOB ($(date -u +%T))"
# the uninterrupted reference run, while Slurm runs the job (both are deterministic; they only share the cores)
mpirun --oversubscribe --allow-run-as-root --mca btl self,vader -np 2 "$SHEAR" train "$DECK" "${S[@]}" \
  --set run.out_dir="$WORK/straight" > "$WORK/straight.log" 2>&1 &
ref=$!
# signal the batch shell once the first segment has finished a step (metrics.jsonl is flushed every step)
signalled=0
for _ in $(seq 1200); do
  if grep -q '"event":"step"' "$WORK/job/run/metrics.jsonl" 2>/dev/null; then
    scancel --batch --signal=USR1 "$JOB" && signalled=1
    echo "sent USR1 to the batch shell of job $JOB ($(date -u +%T))"
    break
  fi
  [[ -z $(squeue -h -j "$JOB" 2>/dev/null) ]] && break
  sleep 0.1
done
check test "$signalled" -eq 1
done_=0
for _ in $(seq 200); do
  [[ -z $(squeue -h -j "$JOB" 2>/dev/null) ]] && { done_=1; break; }
  sleep 1
done
wait $ref; check test $? -eq 0
check test "$done_" -eq 1
echo "--- job log ($(date -u +%T))"; cat "$WORK/job/slurm.out"
check grep -q "got USR1" "$WORK/job/slurm.out"
check grep -q "stopping at step" "$WORK/job/slurm.out"
check grep -q "requeueing job $JOB" "$WORK/job/slurm.out"
check grep -Eq "restart [1-9][0-9]* on" "$WORK/job/slurm.out"
check grep -q "resumed from" "$WORK/job/slurm.out"
check grep -Eq "train finished \(restart [1-9]" "$WORK/job/slurm.out"
last=$(printf 'step_%08d.h5' "$STEPS")
check test -f "$WORK/job/run/model.h5"
check $PY "$ROOT/tests/resume/same_state.py" "$WORK/job/run/ckpt/$last" "$WORK/straight/ckpt/$last" --exact
echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
