// Hang watchdog (see watchdog.h).
//
// Hot path: the main thread publishes "inside collective #k" as an odd sequence number (even = outside) with
// plain atomic stores; the label and step go in before the sequence number, seqlock style, so the watchdog
// thread reads a consistent triple without any lock. The thread samples once per second: a sequence number that
// stays the same odd value for `limit` seconds is a stuck collective (time counted from the first sample that
// saw it, so the report errs by at most one second on the short side).
//
// Why MPI_Abort from this thread: under MPI_THREAD_FUNNELED the standard only promises MPI calls from the main
// thread, and the main thread is the one stuck inside MPI (or polling NCCL): nothing can run there. Open MPI
// 4.1's MPI_Abort (ompi_mpi_abort) guards itself against a second invocation and hands the kill to the runtime
// (PMIx/ORTE, which has its own progress thread), so it works from here; that is what ends peers that are not
// in any collective (a rank asleep or spinning in compute), which a plain _exit could not reach under launchers
// that do not kill the job when one rank exits (srun without --kill-on-bad-exit). In case an MPI
// implementation blocks there, alarm() arms SIGALRM first: its default action ends this process 10 s later,
// and the launcher sees a rank exit non-zero.
#include "shear/watchdog.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shear/common.h"

// Written only by the main thread, read by the watchdog thread.
static _Atomic(const char *) wd_what;
static atomic_int wd_step = -1;
static atomic_ulong wd_seq;   // odd while inside a collective
static unsigned long wd_seq_main; // the main thread's copy: publishing needs a store, not a locked add
static int wd_depth;          // nesting of brackets, main thread only
static atomic_int wd_io;      // > 0 while the rank is inside a save (watchdog_io_begin/end)

static pthread_t wd_thread;
static int wd_running, wd_stop_flag, wd_limit, wd_rank;
static char wd_host[256];
static pthread_mutex_t wd_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wd_cv;

void watchdog_step(int step) { atomic_store_explicit(&wd_step, step, memory_order_relaxed); }

void watchdog_enter(const char *what, int step) {
    if (wd_depth++ > 0) return;
    atomic_thread_fence(memory_order_release); // the last leave's sequence number is visible before the new label
    atomic_store_explicit(&wd_what, what, memory_order_relaxed);
    if (step >= 0) atomic_store_explicit(&wd_step, step, memory_order_relaxed);
    atomic_store_explicit(&wd_seq, ++wd_seq_main, memory_order_release);
}

void watchdog_leave(void) {
    if (wd_depth <= 0) SHEAR_DIE("watchdog_leave without watchdog_enter: a collective bracket is unbalanced");
    if (--wd_depth > 0) return;
    atomic_store_explicit(&wd_seq, ++wd_seq_main, memory_order_release);
}

static void wd_fire(const char *what, int step, double stuck) {
    // Backstop should MPI_Abort block when called off the main thread (see the top of this file).
    alarm(10);
    char at[48], rank_name[32] = ""; // shear_die names the rank itself on a multi-rank job
    if (shear_world_size <= 1) snprintf(rank_name, sizeof rank_name, "rank %d ", wd_rank);
    if (step >= 0) snprintf(at, sizeof at, "at step %d", step);
    else snprintf(at, sizeof at, "before the first step");
    shear_die(__FILE__, __LINE__,
              "%s(host %s): stuck for %.0f s in %s %s (run.watchdog = %d s); a peer rank died or hangs: look "
              "for its error above, or attach gdb/py-spy to the ranks still running; NCCL_DEBUG=INFO shows NCCL's "
              "view (GPU runs); raise run.watchdog if a collective legitimately takes this long",
              rank_name, wd_host, stuck, what ? what : "a collective", at, wd_limit);
}

static void *wd_main(void *arg) {
    (void)arg;
    unsigned long seen = 0; // the odd sequence number being timed; 0 = none
    double since = 0;
    pthread_mutex_lock(&wd_mu);
    while (!wd_stop_flag) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += 1;
        while (!wd_stop_flag && pthread_cond_timedwait(&wd_cv, &wd_mu, &ts) != ETIMEDOUT) {}
        if (wd_stop_flag) break;
        unsigned long s = atomic_load_explicit(&wd_seq, memory_order_acquire);
        if (!(s & 1) || atomic_load_explicit(&wd_io, memory_order_relaxed) > 0) {
            seen = 0;
            continue;
        }
        const char *what = atomic_load_explicit(&wd_what, memory_order_relaxed);
        int step = atomic_load_explicit(&wd_step, memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&wd_seq, memory_order_relaxed) != s) continue; // it just left: not stuck
        double now = shear_now();
        if (s != seen) {
            seen = s;
            since = now;
        } else if (now - since >= wd_limit) {
            pthread_mutex_unlock(&wd_mu);
            wd_fire(what, step, now - since);
        }
    }
    pthread_mutex_unlock(&wd_mu);
    return NULL;
}

void watchdog_start(int seconds, int rank) {
    if (seconds <= 0 || wd_running) return;
    wd_limit = seconds;
    wd_rank = rank;
    if (gethostname(wd_host, sizeof wd_host) != 0) snprintf(wd_host, sizeof wd_host, "?");
    wd_host[sizeof wd_host - 1] = 0;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&wd_cv, &ca);
    pthread_condattr_destroy(&ca);
    wd_stop_flag = 0;
    // The thread blocks every signal, so SIGUSR1/SIGTERM (stop.c) and SIGALRM still go to the main thread.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&wd_thread, NULL, wd_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) SHEAR_DIE("cannot start the watchdog thread: %s; set run.watchdog: 0 to run without it", strerror(rc));
    wd_running = 1;
}

void watchdog_stop(void) {
    if (!wd_running) return;
    pthread_mutex_lock(&wd_mu);
    wd_stop_flag = 1;
    pthread_cond_signal(&wd_cv);
    pthread_mutex_unlock(&wd_mu);
    pthread_join(wd_thread, NULL);
    pthread_cond_destroy(&wd_cv);
    wd_running = 0;
}

void watchdog_io_begin(void) { atomic_fetch_add(&wd_io, 1); }
void watchdog_io_end(void) { atomic_fetch_sub(&wd_io, 1); }

static int env_step(const char *name) {
    const char *v = getenv(name);
    if (!v || !*v) return -1;
    char *end;
    errno = 0;
    long s = strtol(v, &end, 10);
    if (errno || *end || s < 1 || s > 2147483647L)
        SHEAR_DIE("%s='%s': expected a whole number >= 1 (a test knob; unset it for real runs)", name, v);
    return (int)s;
}

void watchdog_test_point(int rank, int step) {
    static int read, hang_at = -1, die_at = -1;
    if (!read) {
        hang_at = env_step("SHEAR_TEST_HANG_AT_STEP");
        die_at = env_step("SHEAR_TEST_DIE_AT_STEP");
        read = 1;
    }
    if (rank != 1) return;
    if (step == die_at)
        SHEAR_DIE("rank 1 dies before the gradient all-reduce of step %d, as SHEAR_TEST_DIE_AT_STEP asks", step);
    if (step == hang_at) {
        fprintf(stderr, "shear: test: rank 1 hangs before the gradient all-reduce of step %d "
                        "(SHEAR_TEST_HANG_AT_STEP)\n", step);
        fflush(stderr);
        for (;;) pause();
    }
}

void watchdog_test_slow_save(int rank) {
    static int read, seconds = -1;
    if (!read) {
        seconds = env_step("SHEAR_TEST_SLOW_SAVE_S");
        read = 1;
    }
    if (rank != 0 || seconds < 0) return;
    shear_log("shear: test: rank 0 takes %d s longer to save (SHEAR_TEST_SLOW_SAVE_S)\n", seconds);
    sleep((unsigned)seconds);
}
