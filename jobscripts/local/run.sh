#!/usr/bin/env bash
# Workstation launcher: runs a Shear command under mpirun and starts it again whenever it stops with exit 75
# (checkpointed, not finished: Ctrl-\ is not needed, `kill -USR1` on this script or a run.walltime budget does
# it), the way a cluster requeues the job. Each start resumes from OUT_DIR/ckpt/LATEST by itself.
#   jobscripts/local/run.sh [-n RANKS] CMD DECK [shear options...]
# Environment knobs: SHEAR (default build/shear, else PATH), MPIRUN (default mpirun), MPI_ARGS (extra mpirun
# options), NP (ranks, default 2), MAX_RESTARTS (default 1000), SHEAR_SEGMENT (seconds per segment, passed as
# --set run.walltime=..., to checkpoint regularly; default none). Ctrl-C (INT) or TERM to this script stop the
# current segment with a checkpoint and end the loop; USR1 stops the segment and starts the next one.
set -u
np=${NP:-2}
if [[ ${1:-} == -n ]]; then np=$2; shift 2; fi
if (($# < 2)); then
  echo "usage: run.sh [-n RANKS] train|prune|prep|eval DECK [shear options...]" >&2
  exit 2
fi
CMD=$1 DECK=$2; shift 2
if [[ -z ${SHEAR:-} ]]; then
  if [[ -x build/shear ]]; then SHEAR=$PWD/build/shear; else SHEAR=$(command -v shear || true); fi
fi
if [[ -z $SHEAR || ! -x $SHEAR ]]; then
  echo "run.sh: no shear executable (set SHEAR=path/to/shear; tried build/shear and PATH)" >&2
  exit 2
fi
read -r -a launcher <<< "${MPIRUN:-mpirun}"
read -r -a mpi_args <<< "${MPI_ARGS:-}"
[[ $(id -u) == 0 ]] && mpi_args+=(--allow-run-as-root)
segment=()
[[ -n ${SHEAR_SEGMENT:-} ]] && segment=(--set "run.walltime=$SHEAR_SEGMENT")

PID='' quit=0 signals=0
# shellcheck disable=SC2317  # called from the traps
forward() { signals=$((signals + 1)); [[ $1 == stop ]] && quit=1; [[ -n $PID ]] && kill -USR1 "$PID" 2>/dev/null; }
trap 'forward next' USR1
trap 'forward stop' INT TERM

restart=0
while :; do
  echo "run.sh: segment $restart: $CMD $DECK $* ${segment[*]} ($(date -u +%FT%TZ))"
  "${launcher[@]}" "${mpi_args[@]}" -np "$np" "$SHEAR" "$CMD" "$DECK" "$@" "${segment[@]}" &
  PID=$!
  while :; do
    seen=$signals
    wait "$PID"; rc=$?
    ((rc > 128 && signals != seen)) || break
  done
  PID=
  ((rc == 75)) || break
  if ((quit)); then echo "run.sh: stopped with a checkpoint; run the same command to resume"; break; fi
  restart=$((restart + 1))
  if ((restart > ${MAX_RESTARTS:-1000})); then echo "run.sh: more than MAX_RESTARTS restarts, giving up" >&2; break; fi
  echo "run.sh: $CMD checkpointed (exit 75): starting again (restart $restart)"
done
((rc == 0)) && echo "run.sh: $CMD finished after $restart restarts"
exit "$rc"
