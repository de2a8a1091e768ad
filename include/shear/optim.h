// AdamW over a parameter table (weight decay on 2-D weights only), global-norm clipping, learning-rate
// schedules. Walks the table; never names a tensor.
#ifndef SHEAR_OPTIM_H
#define SHEAR_OPTIM_H

#include <stddef.h>

#include "shear/model.h"
#include "shear/ops.h"

typedef struct {
    float lr;           // this step's learning rate (after the schedule)
    float beta1, beta2, eps;
    float weight_decay; // 2-D tensors only
    float grad_clip;    // global-norm clip; 0 = off
} AdamWHyper;

typedef struct {
    const ShearOps *ops;
    size_t n;   // floats in m and v (== the table's total, or a ZeRO-1 shard's size: zero.h)
    size_t lo;  // flat table index that m[0] and v[0] stand for (0; a ZeRO-1 shard's start)
    int sharded;// 1: m and v hold this rank's ZeRO-1 shard (set on every rank alike by zero_adamw_create)
    float *m;   // [n] first moments (backend memory)
    float *v;   // [n] second moments
    int t;      // steps taken
} AdamW;

void adamw_create(AdamW *a, const ShearOps *ops, size_t n);
void adamw_free(AdamW *a);
// Global L2 norm of the gradients of every tensor in the table (double accumulation).
double grad_global_norm(const ShearOps *ops, const ParamTable *t, const float *g);
// Clip coefficient as torch.nn.utils.clip_grad_norm_: min(1, clip / (norm + 1e-6)); 1 when clip == 0.
float grad_clip_scale(double norm, float clip);
// One AdamW step over every tensor of the table, gradients scaled by gscale.
void adamw_step(AdamW *a, const ParamTable *t, float *w, const float *g, const AdamWHyper *h, float gscale);

// Learning rate at optimizer step s (1-based) of total: linear warm-up over `warmup` steps to lr, then either
// constant or cosine decay to min_ratio * lr at the last step.
double lr_at(int cosine, double lr, int warmup, int total, double min_ratio, int s);

#endif
