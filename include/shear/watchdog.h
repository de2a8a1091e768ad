// Hang watchdog: MPI and NCCL collectives have no timeout, so a dead or hung peer leaves every other rank waiting
// forever. Each collective is bracketed by watchdog_enter/watchdog_leave; a thread wakes once per second and,
// when this rank has been inside one collective for longer than the limit, prints which collective and step,
// then ends the whole job through shear_die (whose dist hook aborts the NCCL communicators and calls MPI_Abort).
//
// The bracket is a few relaxed atomic stores and no lock or system call, so it is free on the step's hot path.
// Brackets nest (a command labels "allreduce(grads)" around dist_allreduce_sum, which brackets itself): the
// outermost label is the one reported. Only the main thread may call enter/leave (MPI_THREAD_FUNNELED).
#ifndef SHEAR_WATCHDOG_H
#define SHEAR_WATCHDOG_H

// Starts the watchdog thread: a collective stuck for `seconds` aborts the job; 0 starts nothing. rank and the
// host name go into the message. Call once, after dist_init.
void watchdog_start(int seconds, int rank);
// Stops and joins the thread (dist_finalize calls it before MPI_Finalize). Safe when none was started.
void watchdog_stop(void);

// The step the next collectives belong to (the message says "at step N"); commands set it at each step start.
void watchdog_step(int step);
// `what` names the collective and must outlive the bracket (a string literal). step < 0 keeps the current step.
void watchdog_enter(const char *what, int step);
void watchdog_leave(void);

// A save (checkpoint, model file) is file-system time, not a collective: between watchdog_io_begin and
// watchdog_io_end nothing is timed, including the barriers that wait for the writing rank, so a slow shared file
// system is not reported as a hang. The clock of a collective entered inside restarts at watchdog_io_end. The
// job's wall-clock limit is what ends a save that never returns. Main thread; nests.
void watchdog_io_begin(void);
void watchdog_io_end(void);

// Test knobs, read once from the environment (documented in the README as test knobs, not for production):
// SHEAR_TEST_HANG_AT_STEP=N makes rank 1 sleep forever, SHEAR_TEST_DIE_AT_STEP=N makes rank 1 call SHEAR_DIE,
// both just before step N's gradient all-reduce. Commands call this there; without the variables it does nothing.
void watchdog_test_point(int rank, int step);
// SHEAR_TEST_SLOW_SAVE_S=S: rank 0 sleeps S seconds inside each save (a slow file system, for the watchdog test).
void watchdog_test_slow_save(int rank);

#endif
