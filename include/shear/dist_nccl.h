// NCCL half of the distributed glue (src/dist_nccl.c): the CUDA backend's collectives. Without CUDA in the build
// these die naming the missing backend. The stream comes from the backend (ShearOps.stream of ops_cuda()).
#ifndef SHEAR_DIST_NCCL_H
#define SHEAR_DIST_NCCL_H

#include <stddef.h>

#include "shear/dist.h"

// For the CUDA backend, right after dist_init: selects this rank's GPU, ops_cuda()->select_device(local_rank %
// visible devices), before any other CUDA call; refuses two local ranks on one physical GPU (NCCL cannot run two ranks
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

#endif
