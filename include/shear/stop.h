// Stopping a long run cleanly: SIGUSR1 (Slurm's pre-timeout signal, forwarded by mpirun), SIGTERM (scancel,
// preemption, PBS qdel) or a wall-clock budget ask the run to stop; at the next step boundary all ranks agree,
// write a checkpoint and exit with SHEAR_EXIT_CHECKPOINTED (75) so the job script requeues.
#ifndef SHEAR_STOP_H
#define SHEAR_STOP_H

#include "shear/dist.h"

// Why a run stops; when ranks disagree the highest wins.
enum { STOP_NONE = 0, STOP_WALLTIME = 1, STOP_SIGTERM = 2, STOP_SIGUSR1 = 3 };

// Installs SIGUSR1 and SIGTERM handlers that only set a flag, and starts the wall clock: walltime_s > 0 is the
// budget in seconds from this call (0 = none). Call once, early.
void stop_install(double walltime_s);
// Collective, at a step boundary: the reason to stop now (max over ranks of the flags), or STOP_NONE.
// The budget asks to stop when elapsed + STOP_SAFETY * est_step_and_ckpt_s reaches walltime_s, where the
// estimate is what one more step plus one checkpoint costs (the caller measures both).
int stop_requested(const Dist *d, double est_step_and_ckpt_s);
// "SIGUSR1", "SIGTERM", "wall-clock budget" or "none".
const char *stop_reason_name(int reason);
// Seconds since stop_install.
double stop_elapsed(void);

// Measured step and checkpoint times vary (file-system load, an eval step): the budget keeps this much more.
#define STOP_SAFETY 1.5

#endif
