// Shared by the CUDA-vs-CPU parity test (tests/gpu): test_cuda_ops.c (per op, main), test_cuda_cached.c (the KV
// cache ops), test_cuda_bf16.c and test_cuda_gemm.c (bf16 GEMMs, the GEMMs' algorithm table), test_cuda_model.c
// (whole model + AdamW) and cuda_parity.c (the helpers below). Tolerances and error
// measures: top of test_cuda_ops.c.
#ifndef SHEAR_TESTS_CUDA_PARITY_H
#define SHEAR_TESTS_CUDA_PARITY_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_ops.h"
#include "shear/masks.h"
#include "shear/model.h"
#include "shear/ops.h"
#include "shear/optim.h"
#include "shear/rng.h"

#define TOL_POINT 2e-6
#define TOL_REDUCE 1e-5
#define TOL_ROPE 5e-5
#define TOL_ATTN_BWD 1e-4
#define TOL_SUMSQ 1e-10
#define TOL_MODEL 1e-4
#define TOL_CURVE 1e-4

extern const ShearOps *CPU, *GPU;
extern int passed, failed;
extern uint64_t rng_counter; // every random number of the test comes from (seed 2024, stream 91, counter++)

// ---------------- paired buffers: the same data on both backends ----------------

typedef struct {
    float *c, *g; // CPU and GPU copies, [n] each
    size_t n;
    float *init;  // host copy of the initial values of a gradient (NULL otherwise): errors are measured against
                  // the size of what the op added, so large initial values cannot hide an error in the increment
} Pair;

typedef struct {
    int32_t *c, *g; // [n]
    size_t n;
} IPair;

void report(int ok, const char *what, const char *detail);
double rnd_normal(void);
double rnd_uniform(void);
void pair_set(Pair *p, const float *host);
Pair pair_new(size_t n, double scale);
Pair grad_new(size_t n, double scale);
Pair pair_uniform(size_t n, double lo, double hi);
void pair_free(Pair *p);
IPair ipair_new(const int32_t *host, size_t n);
void ipair_free(IPair *p);
void download_both(const Pair *p, float **hc, float **hg);
double scaled_err(const float *c, const float *g, const float *init, size_t n, double *maxabs_out);
void cmp(const char *what, const Pair *p, double tol);
void cmp_exact(const char *what, const Pair *p);
void cmp_gpu(const char *what, const float *a, const float *b, size_t n, double tol);
uint64_t ulp_dist(float a, float b);
void cmp_ulp(const char *what, const Pair *p, uint64_t max_ulp);
void cmp_scalar(const char *what, double c, double g, double tol);

// test_cuda_model.c: forward + backward of a whole model with and without pruning gates, then 10 AdamW steps;
// then the same for a family twin of the shape (GQA: Qwen2-like biases, tied; head_dim != d/H: Qwen3-like q/k norms)
void test_model(const ModelConfig *c, int B, int T, const char *label);
// test_cuda_ops.c: matmul_fwd / matmul_bwd, and the classifier (mode 0 everything, 1 loss and row_loss, 2 dx
// only, 3 dw only; dx and dw within grad_tol), in the backends' current precision
void test_matmul(size_t N, int C, int OC);
void test_classifier(size_t N, int d, int V, int mode, double grad_tol);
// test_cuda_bf16.c: the group "bf16", run.precision: bf16 on both backends
void test_bf16(void);
// test_cuda_gemm.c: the GEMMs' algorithm table in the backends' current precision (`precision` names it):
// one plan and one heuristic query per new GEMM, none on a repeat (same bits), K = 0 planned never
void test_gemm_cache(const char *precision);
// test_cuda_cached.c: the group "cached", rope_at_fwd and attention_cached_fwd (generation with a KV cache)
void test_cached(void);

#endif
