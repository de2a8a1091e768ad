// The pruning masks: hard-concrete (L0) gates over layers, heads (KV groups), MLP channels and the hidden
// dimension, and the Lagrangian that pulls their expected sparsity to the target shape's
// (shared/spec/shearing.md sections 2 and 3). Pure mask math: no MPI, no file I/O. Gate buffers live on the
// backend; the per-row statistics (scores, sparsity, Lagrangian, deterministic masks) are computed in double on
// host copies, which are small (at most L*I gates, 352K for LLaMA2-7B).
//
// Random numbers: gate i (index into the [total] buffers) of micro-batch `mb` at step `step` draws
// u = Philox(seed, RNG_STREAM_MASK, masks_counter0(step, mb) + i), masks_counter0 = ((step << 20) | mb) << 24:
// 20 bits of step, 20 bits of GLOBAL micro-batch index, 24 bits of gate. So the sample is a function of
// (seed, step, micro-batch) only: every rank, any rank count and a restart see the same z.
// Log-alpha init: a = mean + std * rng_normal(seed, RNG_STREAM_LOGALPHA, (type << 32) + element), so a mask's
// init does not depend on which other masks are learned.
#ifndef SHEAR_MASKS_H
#define SHEAR_MASKS_H

#include <stddef.h>
#include <stdint.h>

#include "shear/model.h"
#include "shear/ops.h"

typedef enum { MASK_LAYER, MASK_HEAD_LAYER, MASK_MLP, MASK_HEAD, MASK_INTERMEDIATE, MASK_HIDDEN, MASK_TYPES } MaskType;
extern const char *const MASK_NAMES[MASK_TYPES]; // "layer","head_layer","mlp","head","intermediate","hidden"

#define MASK_STEP_BITS 20
#define MASK_MICROBATCH_BITS 20
#define MASK_GATE_BITS 24

typedef struct {
    const ShearOps *ops;
    ModelConfig src, tgt;        // source shape, target shape (tgt.n_kv_heads = tgt.n_heads / group size)
    int on[MASK_TYPES];          // learned?
    int rows[MASK_TYPES], cols[MASK_TYPES]; // layer/head_layer/mlp 1 x L, head L x G (G = n_kv_heads, gates per KV
                                 // group; == H for MHA), intermediate L x I, hidden 1 x d (set for every type)
    int target[MASK_TYPES];      // kept gates per row at the target (L_T, G_T, I_T, d_T)
    int uniform;                 // 1 (masks_create's default): the Lagrangian and the deterministic masks work
                                 // row by row, so every layer reaches the target (targeted pruning). 0
                                 // (prune.uniform: 0, CoFi-style): a 2-D type's rows count as one row of L*N
                                 // gates: only its total is pulled to L*target, and the exact deterministic
                                 // mask keeps the L_T*target best gates of the layers the layer mask keeps
    size_t offset[MASK_TYPES], total; // into the [total] buffers below (types that are off: an empty range)
    float *log_alpha;            // [total] backend
    float *grad;                 // [total] d loss / d log_alpha (accumulated)
    float *z;                    // [total] gate values of the current micro-batch (or deterministic)
    float *dz;                   // [total] d loss / d z, filled by model_forward_backward through ModelGates
    float *adam_m, *adam_v;      // [total] AdamW state of the log-alphas
    float lambda[MASK_TYPES][2]; // lambda1, lambda2 per type (host, fp32)
    float lambda_grad[MASK_TYPES][2];
    float lambda_m[MASK_TYPES][2], lambda_v[MASK_TYPES][2];
    int t;                       // optimizer steps taken
    float *scratch;              // [total] backend: host-computed Lagrangian gradients on their way into grad
} Masks;

typedef struct {                  // what the progress line and metrics show, per type
    double expected_sparsity[MASK_TYPES], target_sparsity[MASK_TYPES]; // means over rows (0 for types off)
    double lagrangian;            // the whole Lagrangian term (unscaled)
    double expected_params;       // E[#prunable params], spec section 3 (GQA-aware: per KV group = n_rep heads)
} MaskStats;

// Validates the target (each target dim in 1..source, head_dim and vocab unchanged, GQA group size kept:
// H_T % (H/Hkv) == 0 and tgt.n_kv_heads == H_T / (H/Hkv), a target differing from the source in a dimension
// whose mask is not learned is an error, a layer count change needs `layer` or both `head_layer` and `mlp`)
// and sets up the tables and zeroed buffers; on error writes a message naming the dimension / deck key and
// returns -1 (nothing allocated). names: the deck's prune.masks.
int masks_create(Masks *m, const ShearOps *ops, const ModelConfig *src, const ModelConfig *tgt,
                 char names[][32], int n_names, char *err, size_t errlen);
void masks_free(Masks *m);
void masks_init_log_alpha(Masks *m, uint64_t seed, double mean, double std); // Philox RNG_STREAM_LOGALPHA
void masks_clamp(Masks *m);     // log_alpha into [ln 0.01, ln 100], in place (no gradient effect)
// The Philox counter of gate 0 of (step, micro-batch); dies when step or microbatch does not fit its bits.
uint64_t masks_counter0(uint64_t step, uint64_t microbatch);
// z = hard-concrete sample, one u per gate from Philox(seed, RNG_STREAM_MASK, counter0(step, microbatch) + i),
// microbatch = GLOBAL micro-batch index (same z on every rank for the same micro-batch)
void masks_sample(Masks *m, uint64_t seed, uint64_t step, uint64_t microbatch);
// after model_forward_backward with masks_gates(): grad += dz * dz/dlog_alpha (recomputing u), then dz = 0
void masks_backward_sample(Masks *m, uint64_t seed, uint64_t step, uint64_t microbatch);
void masks_gates(Masks *m, ModelGates *g);   // points g's z and dz pointers into m->z / m->dz (NULL where off)
// deterministic z (spec: soft value sigmoid(1.2 a), k smallest per row set to 0): exact_target=1 uses
// k = N - target per row (finalization), 0 uses k = round(N - sum s(a)) (evaluation during pruning; round half
// to even, as Python's round). "Smallest" orders by log-alpha; among equal log-alphas the higher index goes
// first, so equal gates keep the lowest indices. Computed from clamped log-alphas (log_alpha itself unchanged).
void masks_deterministic(Masks *m, int exact_target);
// Lagrangian at this step (from log_alpha as it is: call masks_clamp first, as before sampling): target sparsity
// warmed up linearly (warmup_steps = round(frac * total_steps), half
// to even;
// T(step) = T * min(1, step / warmup_steps), T when warmup_steps == 0); adds d(term)/d(log_alpha) into m->grad
// and sets m->lambda_grad; returns the term and fills stats (may be NULL).
double masks_lagrangian(Masks *m, int step, int total_steps, double warmup_frac, MaskStats *stats);
// The same with the term's gradients (log-alpha and lambda) multiplied by grad_scale (the returned term and
// stats are unscaled): e.g. 1/ranks when every rank adds it before a summing all-reduce.
double masks_lagrangian_scaled(Masks *m, int step, int total_steps, double warmup_frac, double grad_scale,
                               MaskStats *stats);
double masks_grad_sumsq(const Masks *m);      // log-alpha grads + lambda grads (for global-norm clipping)
// one AdamW step (weight decay 0): log-alphas with lr_log_alpha, lambdas with lr_lambda (negative: ascent),
// grads scaled by gscale (clipping), then grads zeroed
void masks_step(Masks *m, float lr_log_alpha, float lr_lambda, float beta1, float beta2, float eps, float gscale);
void masks_zero_grad(Masks *m); // grad, lambda_grad and dz
// host copies for logging/finalize: z of one type [rows*cols]
void masks_download(const Masks *m, MaskType t, const float *buf /* m->z or m->log_alpha */, float *host);

// ---- host math, exposed for tests and logging ----
// Parses a mask name; -1 when unknown.
int mask_type_from_name(const char *name);
// Expected number of prunable parameters given host scores [total] (keep probabilities, laid out like the
// buffers): sum_j s_hidden[j] * (per_group * sum_{l,g} s_att[l] s_head[l,g] + 3 sum_{l,i} s_mlp[l] s_int[l,i]),
// per_group = (2 n_rep + 2) head_dim (q and o rows/columns of n_rep heads, k and v rows of one KV head),
// s_att = s_layer or s_head_layer, s_mlp = s_layer or s_mlp; a type not learned counts as all ones.
double masks_expected_params(const Masks *m, const double *scores);
// The same count for a model shape with everything kept: L (2 H hd d + 2 Hkv hd d + 3 d I).
double masks_prunable_params(const ModelConfig *c);

#endif
