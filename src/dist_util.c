// World-communicator helpers (see the "world helpers" section of shear/dist.h): every call is MPI_CHECK'ed
// and bracketed by the watchdog.
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "shear/dist.h"
#include "shear/watchdog.h"
#include "dist_check.h"

MPI_Comm dist_comm_world(void) { return MPI_COMM_WORLD; }

int dist_world_rank(void) {
    int rank = 0;
    MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank));
    return rank;
}

void dist_world_bcast(void *buf, size_t bytes, int root) {
    if (bytes > (size_t)INT_MAX) SHEAR_DIE("broadcast of %zu bytes: more than one MPI call carries", bytes);
    watchdog_enter("broadcast", -1);
    MPI_CHECK(MPI_Bcast(buf, (int)bytes, MPI_BYTE, root, MPI_COMM_WORLD));
    watchdog_leave();
}

void dist_bcast_doubles(const Dist *d, double *x, int n, int root) {
    (void)d;
    dist_world_bcast(x, (size_t)n * sizeof *x, root);
}

void dist_world_barrier(const char *what) {
    watchdog_enter(what, -1);
    MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD));
    watchdog_leave();
}

static int reduce_int(int x, MPI_Op op) {
    watchdog_enter("allreduce(int)", -1);
    MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &x, 1, MPI_INT, op, MPI_COMM_WORLD));
    watchdog_leave();
    return x;
}
int dist_world_max_int(int x) { return reduce_int(x, MPI_MAX); }
int dist_world_min_int(int x) { return reduce_int(x, MPI_MIN); }

static unsigned long long reduce_u64(unsigned long long x, MPI_Op op) {
    watchdog_enter("allreduce(u64)", -1);
    MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &x, 1, MPI_UNSIGNED_LONG_LONG, op, MPI_COMM_WORLD));
    watchdog_leave();
    return x;
}
unsigned long long dist_world_max_u64(unsigned long long x) { return reduce_u64(x, MPI_MAX); }
unsigned long long dist_world_min_u64(unsigned long long x) { return reduce_u64(x, MPI_MIN); }
unsigned long long dist_world_sum_u64(unsigned long long x) { return reduce_u64(x, MPI_SUM); }

double dist_world_max_double(double x) {
    watchdog_enter("allreduce(double)", -1);
    MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &x, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD));
    watchdog_leave();
    return x;
}

void dist_world_allgather_u64(const uint64_t *mine, uint64_t *all, int n) {
    watchdog_enter("allgather(u64)", -1);
    MPI_CHECK(MPI_Allgather(mine, n, MPI_UINT64_T, all, n, MPI_UINT64_T, MPI_COMM_WORLD));
    watchdog_leave();
}

void dist_world_allgatherv_u64(const uint64_t *mine, uint64_t *all, const int *counts, const int *displs) {
    int rank = 0;
    MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank));
    watchdog_enter("allgatherv(u64)", -1);
    MPI_CHECK(MPI_Allgatherv(mine, counts[rank], MPI_UINT64_T, all, counts, displs, MPI_UINT64_T, MPI_COMM_WORLD));
    watchdog_leave();
}

void dist_world_allgatherv_rows(void *buf, const int *counts, const int *displs, size_t row_bytes) {
    if (row_bytes > (size_t)INT_MAX) SHEAR_DIE("allgather of %zu-byte rows: wider than one MPI datatype", row_bytes);
    MPI_Datatype row_t;
    MPI_CHECK(MPI_Type_contiguous((int)row_bytes, MPI_BYTE, &row_t));
    MPI_CHECK(MPI_Type_commit(&row_t));
    MPI_CHECK(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, counts, displs, row_t, MPI_COMM_WORLD));
    MPI_CHECK(MPI_Type_free(&row_t));
}

int dist_world_first_failure(int failed_here, char *err, size_t errlen) {
    int size = 1, rank = 0;
    MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &size));
    MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank));
    int first = dist_world_min_int(failed_here ? rank : size);
    if (first == size) return -1;
    dist_world_bcast(err, errlen, first);
    return first;
}

void dist_agree_or_die(int failed_here, char *err, size_t errlen) {
    int first = dist_world_first_failure(failed_here, err, errlen);
    if (first < 0) return;
    int rank = 0;
    MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank));
    if (rank != first) dist_world_barrier("agree on failure"); // the failing rank's die aborts the job
    SHEAR_DIE("%s", err);
}
