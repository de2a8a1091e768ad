// MPI (and, on GPU builds, NCCL) glue: ranks, the node-local communicator, gradient and scalar reductions,
// the rank-independent split of a global batch.
#ifndef SHEAR_DIST_H
#define SHEAR_DIST_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "shear/ops.h"

typedef struct {
    int rank, size;             // MPI_COMM_WORLD
    int local_rank, local_size; // ranks on this node (MPI_COMM_TYPE_SHARED): picks the GPU
    MPI_Comm node;
    void *nccl;                 // NCCL state of the CUDA backend (dist_nccl.c), NULL until dist_nccl_init
} Dist;

// MPI_Init_thread (FUNNELED), the node communicator, rank-0 logging, and the fatal hook: from here on any
// shear_die aborts live NCCL communicators and, with more than one rank, MPI_Abort's the whole job.
// Safe to call once per process.
void dist_init(Dist *d, int *argc, char ***argv);
// Stops the watchdog, destroys the NCCL communicators, MPI_Finalize.
void dist_finalize(Dist *d);
// Sums a backend buffer over all ranks in place: MPI_Allreduce on the CPU backend, NCCL on the CUDA backend
// (after dist_nccl_init). Every collective here is bracketed by the watchdog (shear/watchdog.h).
void dist_allreduce_sum(const Dist *d, const ShearOps *ops, float *buf, size_t n);
// Sums host doubles over all ranks in place.
void dist_sum_doubles(const Dist *d, double *x, int n);
// MPI_Barrier on all ranks; `what` names it in a watchdog report (a string literal).
void dist_barrier(const Dist *d, const char *what);

// NCCL (the CUDA backend's collectives, dist_nccl_init): shear/dist_nccl.h.
// The contiguous slice [*lo, *hi) of n global items that this rank owns: floor(r n / R) .. floor((r+1) n / R).
void dist_slice(const Dist *d, size_t n, size_t *lo, size_t *hi);
// OpenMP/BLAS threads for this rank: `requested` if > 0, else OMP_NUM_THREADS, else cores / local ranks.
int dist_threads(const Dist *d, int requested);

// ---- sharded collectives (src/dist_shard.c), for ZeRO-1 (shear/zero.h) ----
// Reduce-scatter: send [R, count] on every rank; rank r receives recv[count] = sum over ranks of send[r, :]
// (MPI_Reduce_scatter_block on the CPU backend). send and recv must not overlap.
void dist_reduce_scatter_sum(const Dist *d, const ShearOps *ops, const float *send, float *recv, size_t count);
// All-gather: rank r contributes buf[r, :] (in place); afterwards every rank holds all of buf [R, count]
// (MPI_Allgather with MPI_IN_PLACE on the CPU backend).
void dist_allgather(const Dist *d, const ShearOps *ops, float *buf, size_t count);


// ---- world helpers (src/dist_util.c) ----
// Rule: these act on MPI_COMM_WORLD and take no Dist (most callers have none at hand); dist_world_* names say
// so. All are collectives over every rank, bracketed by the watchdog, and MPI_CHECK'ed: a failing MPI call
// is one shear_die naming it (dist_init sets MPI_ERRORS_RETURN).
// The world communicator, for APIs that need one (H5Pset_fapl_mpio, store_writer_create).
MPI_Comm dist_comm_world(void);
// This rank in the world (no collective).
int dist_world_rank(void);
// Broadcasts `bytes` bytes of buf from `root` (at most INT_MAX bytes).
void dist_world_bcast(void *buf, size_t bytes, int root);
// Broadcasts n doubles from root (the world communicator; d is for the caller's symmetry).
void dist_bcast_doubles(const Dist *d, double *x, int n, int root);
// MPI_Barrier on all ranks; `what` names it in a watchdog report.
void dist_world_barrier(const char *what);
// The max / min / sum of x over all ranks.
int dist_world_max_int(int x);
int dist_world_min_int(int x);
unsigned long long dist_world_max_u64(unsigned long long x);
unsigned long long dist_world_min_u64(unsigned long long x);
unsigned long long dist_world_sum_u64(unsigned long long x);
double dist_world_max_double(double x);
// Rank r's n values mine[0..n) land in all[r n .. (r+1) n) on every rank.
void dist_world_allgather_u64(const uint64_t *mine, uint64_t *all, int n);
// Rank r's counts[r] values mine[..] land at all[displs[r] ..) on every rank.
void dist_world_allgatherv_u64(const uint64_t *mine, uint64_t *all, const int *counts, const int *displs);
// In place: rank r's counts[r] rows of row_bytes bytes, at row displs[r] of buf, land on every rank.
void dist_world_allgatherv_rows(void *buf, const int *counts, const int *displs, size_t row_bytes);
// Agree on failure: the lowest rank with failed_here != 0, with its err[errlen] broadcast to every rank, or
// -1 (err untouched) when no rank failed.
int dist_world_first_failure(int failed_here, char *err, size_t errlen);
// The same, and on a failure die once with that rank's message: it dies (aborting the job), the others wait.
void dist_agree_or_die(int failed_here, char *err, size_t errlen);

#endif
