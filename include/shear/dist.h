// MPI (and, on GPU builds, NCCL) glue: ranks, the node-local communicator, gradient and scalar reductions,
// the rank-independent split of a global batch.
#ifndef SHEAR_DIST_H
#define SHEAR_DIST_H

#include <mpi.h>
#include <stddef.h>

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

// ---- NCCL (src/dist_nccl.c; without CUDA in the build these die naming the missing backend) ----
// For the CUDA backend, right after dist_init: selects this rank's GPU, cuda_select_device(local_rank % visible
// devices), before any other CUDA call; refuses two local ranks on one physical GPU (NCCL cannot run two ranks
// of a communicator on one device); then one NCCL communicator per group (today the data-parallel group = all
// ranks): rank 0 of the group calls ncclGetUniqueId, MPI_Bcast sends it, all call ncclCommInitRank.
void dist_nccl_init(Dist *d);
// ncclCommFinalize + ncclCommDestroy of every group (dist_finalize calls it).
void dist_nccl_free(Dist *d);
// fp32 collectives over the data-parallel group on device buffers, on the backend's stream. Each returns when
// the collective has completed (polling ncclCommGetAsyncError meanwhile), so the watchdog sees a hang where it
// happens and an asynchronous NCCL failure dies with NCCL's own message.
void dist_nccl_allreduce_sum(const Dist *d, float *buf, size_t n);                        // buf [n], in place
void dist_nccl_reduce_scatter_sum(const Dist *d, const float *send, float *recv, size_t count); // [R,count] -> [count]
void dist_nccl_allgather(const Dist *d, float *buf, size_t count); // buf [R,count]; rank r's row in place
// ncclCommAbort on every live communicator (never blocks on a peer). Called from the fatal hook, any thread.
void dist_nccl_abort_all(void);
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

#endif
