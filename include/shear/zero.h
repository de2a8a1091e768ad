// ZeRO-1 for data parallel training and pruning: the optimizer state is sharded over the ranks instead of
// replicated. The flat parameter buffer (model.h: one [total] buffer per role) is padded to padded = R * S floats,
// S a multiple of ZERO_ALIGN, and rank r owns the flat range [r S, (r+1) S). Per step:
//   1. gradients are reduce-scattered (sum) in buckets: rank r ends with the summed gradients of its shard only;
//   2. the global gradient norm is the all-reduced sum of the shards' sums of squares;
//   3. each rank runs AdamW on its shard of the weights with Adam m and v for its shard only (weight decay per
//      tensor from the parameter table: a shard crosses tensor boundaries);
//   4. the weights are all-gathered in buckets, so every rank again holds the whole model for the next forward.
// Memory: Adam m and v take 2 S = 2 ceil(total / (R A)) A floats per rank (A = ZERO_ALIGN) instead of 2 total,
// plus a reduced-gradient shard [S] and one bucket stage [R, bucket].
// With zero off every entry point does exactly what plain data parallel does (all-reduce, replicated AdamW).
// Equality with plain data parallel: on 1 rank bitwise (same calls on the same tensors in the same order); on
// R ranks the summed gradients are bitwise equal when MPI's reduce-scatter adds the R contributions in the same
// order as its all-reduce (always for R = 2: one addition, commutative), and the norm's double sum is taken in
// another order (shard by shard instead of tensor by tensor): it agrees to about 1e-16 relative, which changes
// the float clip factor only when it lands on a rounding boundary.
#ifndef SHEAR_ZERO_H
#define SHEAR_ZERO_H

#include <stddef.h>

#include "shear/dist.h"
#include "shear/model.h"
#include "shear/ops.h"
#include "shear/optim.h"

#define ZERO_ALIGN 64 // floats: shard starts and bucket sizes are multiples of this (256-byte aligned on a GPU)

typedef struct {
    int on;               // 1: ZeRO-1; 0: plain data parallel
    int R, rank;
    const ShearOps *ops;
    size_t total;         // floats in the parameter table
    size_t shard;         // S: floats per rank (R * S >= total)
    size_t lo, hi;        // this rank's shard is the flat range [lo, lo + S); its real part [lo, hi), hi <= total
    size_t bucket;        // floats per rank per bucket (a multiple of ZERO_ALIGN, <= S)
    float *gshard;        // [S] this rank's summed gradients (backend memory; NULL when off)
    float *stage;         // [R, bucket] one bucket packed rank after rank (backend memory; NULL when off)
} Zero;

// bucket_floats: floats per bucket over all ranks (run.zero_bucket); each rank's part is rounded up to
// ZERO_ALIGN. Collective-free: every rank computes the same layout.
void zero_init(Zero *z, const Dist *d, const ShearOps *ops, size_t total, int on, size_t bucket_floats);
void zero_free(Zero *z);
// The AdamW state this rank needs: m, v of [S] for its shard (a->lo = the shard's start), or [total] when off.
void zero_adamw_create(const Zero *z, AdamW *a);
// Bytes of optimizer state (Adam m and v) this rank holds, and what plain data parallel would hold.
size_t zero_state_bytes(const Zero *z);
// Logs (rank 0) the optimizer state per rank, the saving and the extra buffers.
void zero_log_memory(const Zero *z, const char *cmd);

// Sums the gradients g [total] over the ranks: off, all-reduce in place; on, z->gshard receives this rank's
// shard of the sum (g is left as it was: a partial sum).
void zero_reduce_grads(Zero *z, const Dist *d, float *g);
// The global L2 norm of the summed gradients (double accumulation; off: grad_global_norm over g).
double zero_grad_norm(const Zero *z, const Dist *d, const ParamTable *t, const float *g);
// One AdamW step (gradients scaled by gscale): off, adamw_step over the whole table; on, this rank's shard of
// w, then the weights are all-gathered so every rank holds the whole updated model.
void zero_step(Zero *z, const Dist *d, AdamW *a, const ParamTable *t, float *w, const float *g, const AdamWHyper *h,
               float gscale);

#endif
