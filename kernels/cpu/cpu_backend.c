// The CPU backend's table, its memory (plain host memory), the thread count, the elementwise ops, the
// reductions and AdamW. Reductions are deterministic: partial sums over fixed-size blocks (independent of the
// thread count) are added in block order, so a result is the same bit for bit on every run.
#include <math.h>
#include <omp.h>
#include <string.h>

#include "shear/adamw_coef.h"
#include "cpu_ops.h"

// Declared by OpenBLAS's cblas.h, but not by every cblas.h a build may pick up.
extern void openblas_set_num_threads(int num_threads);

// Elements per partial sum of a reduction: large enough to amortise the thread fork, small enough to balance.
#define CPU_REDUCE_BLOCK ((size_t)1 << 16)
#define CPU_ALIGN 64

void *cpu_scratch(size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) CPU_DIE("out of host memory allocating %zu bytes of kernel scratch", bytes);
    return p;
}

void *cpu_alloc(size_t bytes) {
    // aligned_alloc wants a multiple of the alignment; a zero-byte request still gets a valid, freeable pointer
    size_t rounded = (bytes + CPU_ALIGN - 1) / CPU_ALIGN * CPU_ALIGN;
    if (rounded == 0) rounded = CPU_ALIGN;
    void *p = aligned_alloc(CPU_ALIGN, rounded);
    if (!p) CPU_DIE("out of host memory allocating %zu bytes", bytes);
    memset(p, 0, rounded);
    return p;
}

void cpu_free(void *p) { free(p); }

void cpu_upload(void *dst, const void *src_host, size_t bytes) {
    if (bytes) memcpy(dst, src_host, bytes);
}

void cpu_download(void *dst_host, const void *src, size_t bytes) {
    if (bytes) memcpy(dst_host, src, bytes);
}

void cpu_copy(void *dst, const void *src, size_t bytes) {
    if (bytes && dst != src) memmove(dst, src, bytes);
}

// A gradient buffer is tens of MB: each thread clears its own blocks (first-touch and bandwidth of both cores).
void cpu_zero(void *p, size_t bytes) {
    const size_t blk_bytes = CPU_REDUCE_BLOCK * sizeof(float);
    size_t nblocks = (bytes + blk_bytes - 1) / blk_bytes;
    if (nblocks <= 1) {
        if (bytes) memset(p, 0, bytes);
        return;
    }
#pragma omp parallel for schedule(static)
    for (size_t blk = 0; blk < nblocks; blk++) {
        size_t lo = blk * blk_bytes;
        memset((char *)p + lo, 0, lo + blk_bytes < bytes ? blk_bytes : bytes - lo);
    }
}

void cpu_sync(void) {}

void cpu_axpy(float *y, const float *x, float a, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) y[i] += a * x[i];
}

void cpu_scale(float *x, float s, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) x[i] *= s;
}

// sum of x[i]^2 over one block, four independent accumulators: the adds pipeline without reassociating across runs
CPU_SIMD_CLONES static double sumsq_block(const float *x, size_t n) {
    double acc[4] = {0.0, 0.0, 0.0, 0.0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        for (int l = 0; l < 4; l++) acc[l] += (double)x[i + l] * (double)x[i + l];
    }
    for (; i < n; i++) acc[0] += (double)x[i] * (double)x[i];
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

double cpu_sumsq(const float *x, size_t n) {
    size_t nblocks = (n + CPU_REDUCE_BLOCK - 1) / CPU_REDUCE_BLOCK;
    if (nblocks == 0) return 0.0;
    double *partial = cpu_scratch(nblocks * sizeof(double)); // [nblocks]
#pragma omp parallel for schedule(static)
    for (size_t blk = 0; blk < nblocks; blk++) {
        size_t lo = blk * CPU_REDUCE_BLOCK, hi = lo + CPU_REDUCE_BLOCK < n ? lo + CPU_REDUCE_BLOCK : n;
        partial[blk] = sumsq_block(x + lo, hi - lo);
    }
    double total = 0.0;
    for (size_t blk = 0; blk < nblocks; blk++) total += partial[blk];
    free(partial);
    return total;
}

int cpu_all_finite(const float *x, size_t n) {
    int ok = 1;
#pragma omp parallel for schedule(static) reduction(&& : ok)
    for (size_t i = 0; i < n; i++) ok = ok && isfinite(x[i]);
    return ok;
}

// The order of operations is torch.optim.AdamW's (torch 1.13, single-tensor path), so the CPU backend tracks a
// PyTorch run as closely as float rounding allows:
//   p *= 1 - lr*wd;  m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g*g;
//   denom = sqrt(v)/sqrt(1-b2^t) + eps;  p += (-lr/(1-b1^t)) * m / denom
// which is the header's p -= lr*(mhat/(sqrt(vhat)+eps) + wd*p) up to rounding (the two are equal in exact
// arithmetic: both decay the old p). Scalars that torch computes in
// Python (double) are computed in double here and rounded to float once, as torch does.
// One span [0, n) of the update; c's floats as adamw_coef computes them.
CPU_SIMD_CLONES static void adamw_span(float *p, const float *g, float *m, float *v, size_t n, AdamWCoef c, float b1,
                                       float b2, float eps, float gscale) {
    const float decay = c.decay, one_minus_b1 = c.one_minus_b1, one_minus_b2 = c.one_minus_b2;
    const float neg_step = c.neg_step, bc2_sqrt = c.bc2_sqrt;
    const int scaled = gscale != 1.0f;
    for (size_t i = 0; i < n; i++) {
        float gi = scaled ? g[i] * gscale : g[i];
        float pi = p[i] * decay;
        // torch's AVX2 kernels fuse these multiply-adds (vec::fmadd, contracted addcmul); fmaf rounds the same
        float mi = fmaf(one_minus_b1, gi, m[i] * b1);
        float vi = fmaf(one_minus_b2 * gi, gi, v[i] * b2);
        float denom = sqrtf(vi) / bc2_sqrt + eps;
        p[i] = pi + neg_step * mi / denom;
        m[i] = mi;
        v[i] = vi;
    }
}

void cpu_adamw(float *p, const float *g, float *m, float *v, size_t n, float lr, float b1, float b2, float eps,
               float wd, float gscale, int t) {
    if (t < 1) CPU_DIE("adamw step count must be >= 1, got %d", t);
    const AdamWCoef c = adamw_coef(lr, b1, b2, wd, t); // shear/adamw_coef.h: the same floats as torch and CUDA
    size_t nblocks = (n + CPU_REDUCE_BLOCK - 1) / CPU_REDUCE_BLOCK;
#pragma omp parallel for schedule(static)
    for (size_t blk = 0; blk < nblocks; blk++) {
        size_t lo = blk * CPU_REDUCE_BLOCK, len = lo + CPU_REDUCE_BLOCK < n ? CPU_REDUCE_BLOCK : n - lo;
        adamw_span(p + lo, g + lo, m + lo, v + lo, len, c, b1, b2, eps, gscale);
    }
}

static const ShearOps cpu_ops_table = {
    .name = "cpu",
    .set_fatal = kernel_set_fatal,
    .set_precision = cpu_set_precision,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_upload,
    .download = cpu_download,
    .copy = cpu_copy,
    .zero = cpu_zero,
    .sync = cpu_sync,
    .axpy = cpu_axpy,
    .scale = cpu_scale,
    .sumsq = cpu_sumsq,
    .all_finite = cpu_all_finite,
    .embedding_fwd = cpu_embedding_fwd,
    .embedding_bwd = cpu_embedding_bwd,
    .rmsnorm_fwd = cpu_rmsnorm_fwd,
    .rmsnorm_bwd = cpu_rmsnorm_bwd,
    .matmul_fwd = cpu_matmul_fwd,
    .matmul_bwd = cpu_matmul_bwd,
    .rope_fwd = cpu_rope_fwd,
    .rope_bwd = cpu_rope_bwd,
    .rope_at_fwd = cpu_rope_at_fwd,
    .attention_cached_fwd = cpu_attention_cached_fwd,
    .attention_fwd = cpu_attention_fwd,
    .attention_bwd = cpu_attention_bwd,
    .gate_fwd = cpu_gate_fwd,
    .gate_bwd = cpu_gate_bwd,
    .bias_fwd = cpu_bias_fwd,
    .bias_bwd = cpu_bias_bwd,
    .swiglu_fwd = cpu_swiglu_fwd,
    .swiglu_bwd = cpu_swiglu_bwd,
    .classifier = cpu_classifier,
    .classifier_kd = cpu_classifier_kd,
    .adamw = cpu_adamw,
    .hardconcrete_sample = cpu_hardconcrete_sample,
    .hardconcrete_bwd = cpu_hardconcrete_bwd,
};

void ops_cpu_set_threads(int n) {
    if (n <= 0) return;
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}

const ShearOps *ops_cpu(void) { return &cpu_ops_table; }
