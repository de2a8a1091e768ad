// The CPU backend's SIMD clones (CPU_SIMD_CLONES, kernels/cpu/cpu_ops.h) compute the bits of the plain scalar
// loops: AdamW, the classifier's cross-entropy rows (a vectorized row maximum, ties of zeros and rows whose length
// is no multiple of the vector width) and sumsq, each against its arithmetic written out here one element at a time
// and compiled for the build's baseline (no FMA, no wide vectors), compared byte for byte. On a CPU with AVX-512
// or AVX2 the backend runs those clones, so a clone that rounds differently fails here.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "expect.h"
#include "shear/adamw_coef.h"
#include "shear/ops.h"
#include "shear/rng.h"

static float *randn(size_t n, uint64_t seed, float scale) {
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = scale * (float)rng_normal(seed, 11, i);
    return x;
}

static int same_bits(const void *a, const void *b, size_t bytes) { return memcmp(a, b, bytes) == 0; }

static void test_adamw(const ShearOps *o, size_t n, float wd, float gscale, int t) {
    float *p = randn(n, 1, 0.1f), *g = randn(n, 2, 1.0f), *m = randn(n, 3, 0.01f), *v = randn(n, 4, 0.01f);
    for (size_t i = 0; i < n; i++) v[i] = v[i] * v[i]; // a second moment is >= 0
    float *rp = malloc(n * 4), *rm = malloc(n * 4), *rv = malloc(n * 4);
    memcpy(rp, p, n * 4), memcpy(rm, m, n * 4), memcpy(rv, v, n * 4);
    const float lr = 1e-3f, b1 = 0.9f, b2 = 0.95f, eps = 1e-8f;
    o->adamw(p, g, m, v, n, lr, b1, b2, eps, wd, gscale, t);
    AdamWCoef c = adamw_coef(lr, b1, b2, wd, t);
    for (size_t i = 0; i < n; i++) {
        float gi = gscale != 1.0f ? g[i] * gscale : g[i];
        float pi = rp[i] * c.decay;
        float mi = fmaf(c.one_minus_b1, gi, rm[i] * b1);
        float vi = fmaf(c.one_minus_b2 * gi, gi, rv[i] * b2);
        float denom = sqrtf(vi) / c.bc2_sqrt + eps;
        rp[i] = pi + c.neg_step * mi / denom;
        rm[i] = mi;
        rv[i] = vi;
    }
    EXPECT(same_bits(p, rp, n * 4) && same_bits(m, rm, n * 4) && same_bits(v, rv, n * 4),
           "adamw n %zu wd %g gscale %g t %d: not the scalar loop's bits", n, (double)wd, (double)gscale, t);
    free(p), free(g), free(m), free(v), free(rp), free(rm), free(rv);
}

// Rows of x: random, all zero (every logit a zero: the maximum is a tie of zeros), and one unscored (target -1).
static void test_classifier(const ShearOps *o, size_t N, int d, int V) {
    float *x = randn(N * (size_t)d, 5, 1.0f), *w = randn((size_t)V * d, 6, 0.3f); // [N, d], [V, d]
    memset(x + 1 * (size_t)d, 0, (size_t)d * 4);
    int32_t *tgt = malloc(N * sizeof *tgt);
    for (size_t n = 0; n < N; n++) tgt[n] = (int32_t)((n * 7919) % (size_t)V);
    tgt[2] = -1;
    float *logits = malloc(N * (size_t)V * 4), *row_loss = malloc(N * 4); // [N, V], [N]
    o->classifier(NULL, NULL, row_loss, logits, x, w, tgt, N, d, V, 0.5f);
    float *dw = calloc((size_t)V * d, 4), *rdw = calloc((size_t)V * d, 4); // [V, d]
    o->classifier(NULL, dw, NULL, NULL, x, w, tgt, N, d, V, 0.5f);
    float *rloss = calloc(N, 4);
    for (size_t n = 0; n < N; n++) { // logits -> dlogits in place, as the backend's scalar loop
        float *row = logits + n * (size_t)V;
        if (tgt[n] < 0) {
            memset(row, 0, (size_t)V * 4);
            continue;
        }
        float target_logit = row[tgt[n]], mx = row[0];
        for (int i = 1; i < V; i++) mx = row[i] > mx ? row[i] : mx;
        double sum = 0.0;
        for (int i = 0; i < V; i++) {
            row[i] = expf(row[i] - mx);
            sum += row[i];
        }
        rloss[n] = (float)((double)mx + log(sum) - (double)target_logit);
        float inv = (float)(1.0 / sum), p_target = row[tgt[n]] * inv;
        for (int i = 0; i < V; i++) row[i] = row[i] * inv * 0.5f;
        row[tgt[n]] = (p_target - 1.0f) * 0.5f;
    }
    // dw[V, d] += dlogits[N, V]^T @ x[N, d]: the classifier's GEMM (one chunk of rows at these sizes)
    o->matmul_bwd(NULL, rdw, logits, x, w, N, d, V);
    EXPECT(same_bits(row_loss, rloss, N * 4), "classifier N %zu V %d: row losses not the scalar loop's bits", N, V);
    EXPECT(same_bits(dw, rdw, (size_t)V * d * 4), "classifier N %zu V %d: d(lm_head) not the scalar loop's bits", N, V);
    free(x), free(w), free(tgt), free(logits), free(row_loss), free(dw), free(rdw), free(rloss);
}

static void test_sumsq(const ShearOps *o, size_t n) {
    float *x = randn(n, 7, 1.0f);
    double total = 0.0;
    for (size_t lo = 0; lo < n; lo += (size_t)1 << 16) { // the backend's blocks, four accumulators each
        size_t hi = lo + ((size_t)1 << 16) < n ? lo + ((size_t)1 << 16) : n, i = lo;
        double acc[4] = {0, 0, 0, 0};
        for (; i + 4 <= hi; i += 4)
            for (int l = 0; l < 4; l++) acc[l] += (double)x[i + l] * (double)x[i + l];
        for (; i < hi; i++) acc[0] += (double)x[i] * (double)x[i];
        total += (acc[0] + acc[1]) + (acc[2] + acc[3]);
    }
    double got = o->sumsq(x, n);
    EXPECT(same_bits(&got, &total, sizeof got), "sumsq n %zu: %.17g, the scalar loop %.17g", n, got, total);
    free(x);
}

int main(void) {
    const ShearOps *o = ops_cpu();
    test_adamw(o, 1000003, 0.1f, 1.0f, 1);
    test_adamw(o, 77, 0.0f, 0.5f, 9);
    test_classifier(o, 9, 24, 1003);
    test_classifier(o, 5, 40, 32000);
    test_sumsq(o, 200003);
    test_sumsq(o, 13);
    printf("test_ops_simd: %d checks, %d failures\n", checks, failures);
    return failures != 0;
}
