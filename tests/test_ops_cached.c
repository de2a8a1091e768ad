// The CPU backend's generation ops against the training ops they shortcut (bitwise: the same arithmetic):
// rope_at_fwd of rows at pos0 .. pos0 + n - 1 equals those rows of rope_fwd over positions 0 .. pos0 + n - 1;
// attention_cached_fwd of n query rows at pos0 over a cache of pos0 + n rows (plus rows after them that must not
// be read, filled with NaN) equals the last n rows of attention_fwd over the whole sequence, MHA and GQA, head_dim
// 16 to 256, decode (n = 1) and prefill (n up to 300); RoPE plain and with Llama 3.1's rope_scaling.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "expect.h"
#include "shear/ops.h"
#include "shear/rng.h"

static float *randn(size_t n, uint64_t seed) {
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = (float)rng_normal(seed, 9, i);
    return x;
}

static void test_rope_at(const ShearOps *o, int pos0, int n, int nh, int hd, const ShearRope *rope) {
    int T = pos0 + n;
    size_t row = (size_t)nh * hd;
    float *full = randn((size_t)T * row, 1), *part = malloc((size_t)n * row * sizeof(float));
    memcpy(part, full + (size_t)pos0 * row, (size_t)n * row * sizeof(float));
    o->rope_fwd(full, 1, T, nh, hd, rope);
    o->rope_at_fwd(part, n, pos0, nh, hd, rope);
    EXPECT(memcmp(part, full + (size_t)pos0 * row, (size_t)n * row * sizeof(float)) == 0,
           "rope_at_fwd pos0=%d n=%d nh=%d hd=%d differs from rope_fwd's rows", pos0, n, nh, hd);
    free(full);
    free(part);
}

static void test_cached(const ShearOps *o, int pos0, int n, int H, int Hkv, int hd) {
    int T = pos0 + n, extra = 3;
    size_t qrow = (size_t)H * hd, kvrow = (size_t)Hkv * hd;
    float *q = randn((size_t)T * qrow, 2), *k = randn((size_t)(T + extra) * kvrow, 3);
    float *v = randn((size_t)(T + extra) * kvrow, 4);
    for (size_t i = (size_t)T * kvrow; i < (size_t)(T + extra) * kvrow; i++) k[i] = v[i] = NAN; // never read
    float *out = malloc((size_t)T * qrow * sizeof(float)), *lse = malloc((size_t)H * T * sizeof(float));
    float *got = malloc((size_t)n * qrow * sizeof(float));
    o->attention_fwd(out, lse, q, k, v, 1, T, H, Hkv, hd);
    o->attention_cached_fwd(got, q + (size_t)pos0 * qrow, k, v, n, pos0, H, Hkv, hd);
    EXPECT(memcmp(got, out + (size_t)pos0 * qrow, (size_t)n * qrow * sizeof(float)) == 0,
           "attention_cached_fwd pos0=%d n=%d H=%d Hkv=%d hd=%d differs from attention_fwd's last rows", pos0, n, H,
           Hkv, hd);
    free(q); free(k); free(v); free(out); free(lse); free(got);
}

int main(void) {
    const ShearOps *o = ops_cpu();
    int pos[] = {0, 1, 37, 1000}, ns[] = {1, 5, 64};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++) test_rope_at(o, pos[i], ns[j], 3, 16, &(ShearRope){.theta = 10000.0f});
    test_rope_at(o, 4090, 7, 2, 128, &(ShearRope){.theta = 500000.0f});
    // Llama 3.1's rope_scaling
    test_rope_at(o, 9000, 5, 2, 128, &(ShearRope){500000.0f, ROPE_LLAMA3, 8.0f, 1.0f, 4.0f, 8192});
    int cases[][2] = {{0, 1}, {200, 1}, {0, 17}, {31, 9}, {0, 300}, {130, 70}}; // (pos0, n)
    int hds[] = {16, 64, 128, 256};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int h = 0; h < 4; h++) {
            test_cached(o, cases[c][0], cases[c][1], 4, 4, hds[h]);
            test_cached(o, cases[c][0], cases[c][1], 8, 2, hds[h]);
        }
    printf("%d checks, %d failures\n", checks, failures);
    return failures != 0;
}
