// Signal- and budget-driven stopping (stop.h). The handlers only store to a volatile sig_atomic_t: everything
// else (agreeing, checkpointing, exiting) happens at a step boundary in ordinary code.
#include "shear/stop.h"

#include <signal.h>
#include <string.h>

#include "shear/common.h"
#include "shear/watchdog.h"

static volatile sig_atomic_t stop_flag = STOP_NONE;
static double start_time, budget;

static void on_signal(int sig) {
    int reason = sig == SIGUSR1 ? STOP_SIGUSR1 : STOP_SIGTERM;
    if (reason > stop_flag) stop_flag = reason;
}

void stop_install(double walltime_s) {
    start_time = shear_now();
    budget = walltime_s > 0 ? walltime_s : 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART; // system calls in flight (file writes, MPI) resume instead of failing with EINTR
    SHEAR_CHECK(sigaction(SIGUSR1, &sa, NULL) == 0 && sigaction(SIGTERM, &sa, NULL) == 0,
                "cannot install the SIGUSR1/SIGTERM handlers");
}

double stop_elapsed(void) { return shear_now() - start_time; }

int stop_requested(const Dist *d, double est_step_and_ckpt_s) {
    int mine = stop_flag;
    if (budget > 0 && mine == STOP_NONE && stop_elapsed() + STOP_SAFETY * est_step_and_ckpt_s >= budget)
        mine = STOP_WALLTIME;
    // every rank meets here once per step: a peer that hangs after the gradient reduction is caught here
    mine = dist_world_max_int(mine); // bracketed by the watchdog
    (void)d;
    return mine;
}

const char *stop_reason_name(int reason) {
    switch (reason) {
    case STOP_SIGUSR1: return "SIGUSR1";
    case STOP_SIGTERM: return "SIGTERM";
    case STOP_WALLTIME: return "wall-clock budget";
    default: return "none";
    }
}
