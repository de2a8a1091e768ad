// MPI glue (see dist.h); the NCCL half is dist_nccl.c. Every collective is bracketed by the watchdog.
#include "shear/dist.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shear/common.h"
#include "shear/dist_nccl.h"
#include "shear/watchdog.h"

#include "dist_check.h" // MPI_CHECK

static pthread_t main_thread;
static int world_size = 1; // read by the fatal hook, which may run on the watchdog thread (no MPI call there)

// shear_die's last act on an MPI rank. NCCL first: ncclCommAbort releases the GPU kernels and proxy threads
// without waiting for peers (ncclCommDestroy could block on the dead one). Then MPI_Abort ends every rank, so no
// peer waits in a collective for this one; a single rank just finalizes (MPI_Abort would print a wall of text
// for nothing). MPI_Finalize only from the main thread (MPI_THREAD_FUNNELED), and not while a file is being
// written: finalizing would make HDF5 close (flush) it, on the disk that just failed.
static void dist_fatal(int code) {
    dist_nccl_abort_all();
    int up = 0, down = 0;
    MPI_Initialized(&up);
    if (up) MPI_Finalized(&down);
    if (!up || down) return;
    if (world_size > 1) MPI_Abort(MPI_COMM_WORLD, code);
    if (pthread_equal(pthread_self(), main_thread) && !shear_writing()) MPI_Finalize();
}

void dist_init(Dist *d, int *argc, char ***argv) {
    memset(d, 0, sizeof *d);
    int up = 0;
    MPI_Initialized(&up);
    if (!up) {
        int provided = 0;
        MPI_CHECK(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided));
    }
    // failures return codes (MPI_CHECK turns them into one shear_die) instead of MPI's default abort
    MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
    MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &d->rank));
    MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &d->size));
    MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL, &d->node));
    MPI_CHECK(MPI_Comm_set_errhandler(d->node, MPI_ERRORS_RETURN));
    MPI_CHECK(MPI_Comm_rank(d->node, &d->local_rank));
    MPI_CHECK(MPI_Comm_size(d->node, &d->local_size));
    shear_log_rank = d->rank;
    main_thread = pthread_self();
    world_size = d->size;
    shear_world_size = d->size;
    shear_set_fatal_hook(dist_fatal);
    shear_test_write_limit();
}

void dist_finalize(Dist *d) {
    int fin = 0;
    MPI_Finalized(&fin);
    if (fin) return;
    if (d->nccl) dist_nccl_free(d); // under the watchdog: ncclCommFinalize waits for the peers
    watchdog_stop();
    if (d->node != MPI_COMM_NULL && d->node) MPI_Comm_free(&d->node);
    MPI_Finalize();
}

void dist_allreduce_sum(const Dist *d, const ShearOps *ops, float *buf, size_t n) {
    if (d->size == 1) return;
    if (ops->is_device) {
        dist_nccl_allreduce_sum(d, buf, n); // brackets itself with the watchdog
        return;
    }
    watchdog_enter("allreduce", -1);
    // MPI counts are int: reduce in chunks
    for (size_t off = 0; off < n; off += (size_t)INT_MAX / 2) {
        size_t c = n - off < (size_t)INT_MAX / 2 ? n - off : (size_t)INT_MAX / 2;
        MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, buf + off, (int)c, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD));
    }
    watchdog_leave();
}

void dist_sum_doubles(const Dist *d, double *x, int n) {
    if (d->size == 1) return;
    watchdog_enter("allreduce(doubles)", -1);
    MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD));
    watchdog_leave();
}

void dist_barrier(const Dist *d, const char *what) {
    if (d->size == 1) return;
    watchdog_enter(what, -1);
    MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD));
    watchdog_leave();
}

void dist_slice(const Dist *d, size_t n, size_t *lo, size_t *hi) {
    *lo = n * (size_t)d->rank / (size_t)d->size;
    *hi = n * (size_t)(d->rank + 1) / (size_t)d->size;
}

int dist_threads(const Dist *d, int requested) {
    if (requested > 0) return requested;
    const char *env = getenv("OMP_NUM_THREADS");
    if (env && atoi(env) > 0) return atoi(env);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int t = (int)(cores / (d->local_size > 0 ? d->local_size : 1));
    return t > 0 ? t : 1;
}
