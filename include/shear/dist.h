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
} Dist;

// MPI_Init_thread (FUNNELED), the node communicator, rank-0 logging. Safe to call once per process.
void dist_init(Dist *d, int *argc, char ***argv);
void dist_finalize(Dist *d);
// Sums a backend buffer over all ranks in place (MPI_Allreduce on the CPU backend).
void dist_allreduce_sum(const Dist *d, const ShearOps *ops, float *buf, size_t n);
// Sums host doubles over all ranks in place.
void dist_sum_doubles(const Dist *d, double *x, int n);
// The contiguous slice [*lo, *hi) of n global items that this rank owns: floor(r n / R) .. floor((r+1) n / R).
void dist_slice(const Dist *d, size_t n, size_t *lo, size_t *hi);
// OpenMP/BLAS threads for this rank: `requested` if > 0, else OMP_NUM_THREADS, else cores / local ranks.
int dist_threads(const Dist *d, int requested);

#endif
