// The CUDA-vs-CPU parity test, generation with a KV cache (cuda_parity.h; tolerances at the top of
// test_cuda_ops.c): rope_at_fwd and attention_cached_fwd against the CPU backend, and on the GPU against the
// whole-sequence rope_fwd / attention_fwd whose rows they must reproduce. test_cuda_ops.c's group "cached".
#include "cuda_parity.h"

// ---------------- helpers ----------------

// Normal(0, scale) host values from the test's generator, [n]
static float *host_normal(size_t n, double scale) {
    float *h = malloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) h[i] = (float)(scale * rnd_normal());
    return h;
}

// rope_at_fwd: n rows at positions pos0 .. pos0+n-1, GPU against CPU; then on the GPU against rope_fwd of the
// whole sequence 0 .. pos0+n-1 (B = 1) whose last n rows are the same input: the rotation at an offset is the
// same arithmetic, so the two agree bitwise (for pos0 = 0 that is the contract's rope_fwd B = 1, T = n)
static void test_rope_at(int n, int pos0, int nh, int hd, float theta) {
    const ShearRope rope = {.theta = theta};
    char what[160];
    const size_t row = (size_t)nh * hd, nx = (size_t)n * row, nfull = (size_t)(pos0 + n) * row;
    float *hfull = host_normal(nfull, 1.0); // [pos0 + n, nh, hd]; x is its last n rows
    Pair x = pair_new(nx, 0.0);
    pair_set(&x, hfull + (size_t)pos0 * row);
    float *full = GPU->alloc(nfull * sizeof(float));
    GPU->upload(full, hfull, nfull * sizeof(float));
    CPU->rope_at_fwd(x.c, n, pos0, nh, hd, &rope);
    GPU->rope_at_fwd(x.g, n, pos0, nh, hd, &rope);
    snprintf(what, sizeof what, "rope_at_fwd n=%d pos0=%d nh=%d hd=%d theta=%g", n, pos0, nh, hd, (double)theta);
    cmp(what, &x, TOL_ROPE);
    GPU->rope_fwd(full, 1, pos0 + n, nh, hd, &rope);
    snprintf(what, sizeof what, "rope_at_fwd n=%d pos0=%d = rows of rope_fwd T=%d (GPU, bitwise)", n, pos0, pos0 + n);
    cmp_gpu(what, full + (size_t)pos0 * row, x.g, nx, 0.0);
    GPU->free(full);
    pair_free(&x);
    free(hfull);
}

// attention_cached_fwd: n query rows at positions pos0 .. pos0+n-1 against a cache of pos0 + n + 3 rows (the 3
// past pos0 + n must not be read), GPU against CPU. Then on the GPU against attention_fwd B = 1 over the whole
// sequence 0 .. pos0+n-1, whose keys and values are the cache's first pos0 + n rows and whose last n query rows
// are q: its last n output rows must match (for pos0 = 0 that is the contract's attention_fwd B = 1, T = n; for
// pos0 > 0, prefill in one call = prefill of pos0 rows then n more). Same tolerance; the GPU's two are expected to
// agree bitwise (one kernel, each row reduced over the same key tiles in the same order).
static void test_attention_cached(int n, int pos0, int H, int Hkv, int hd) {
    char what[160];
    const int L = pos0 + n + 3;
    const size_t qrow = (size_t)H * hd, nq = (size_t)n * qrow, nqfull = (size_t)(pos0 + n) * qrow;
    const size_t nkv = (size_t)L * Hkv * hd;
    float *hq = host_normal(nqfull, 1.0); // [pos0 + n, H, hd]; q is its last n rows
    Pair q = pair_new(nq, 0.0), kc = pair_new(nkv, 1.0), vc = pair_new(nkv, 1.0); // kc, vc [L, Hkv, hd]
    pair_set(&q, hq + (size_t)pos0 * qrow);
    Pair out = pair_new(nq, 1.0); // [n, H, hd]; overwritten
    CPU->attention_cached_fwd(out.c, q.c, kc.c, vc.c, n, pos0, H, Hkv, hd);
    GPU->attention_cached_fwd(out.g, q.g, kc.g, vc.g, n, pos0, H, Hkv, hd);
    const char *kind = H == Hkv ? "MHA" : "GQA";
    snprintf(what, sizeof what, "attention_cached_fwd n=%d pos0=%d H=%d Hkv=%d hd=%d %s", n, pos0, H, Hkv, hd, kind);
    cmp(what, &out, TOL_REDUCE);
    float *qfull = GPU->alloc(nqfull * sizeof(float)), *ofull = GPU->alloc(nqfull * sizeof(float)); // [pos0+n,H,hd]
    float *lse = GPU->alloc((size_t)H * (pos0 + n) * sizeof(float));                                   // [1,H,pos0+n]
    GPU->upload(qfull, hq, nqfull * sizeof(float));
    GPU->attention_fwd(ofull, lse, qfull, kc.g, vc.g, 1, pos0 + n, H, Hkv, hd);
    snprintf(what, sizeof what, "attention_cached_fwd n=%d pos0=%d hd=%d %s = rows of attention_fwd T=%d (GPU)", n,
             pos0, hd, kind, pos0 + n);
    cmp_gpu(what, ofull + (size_t)pos0 * qrow, out.g, nq, TOL_REDUCE);
    GPU->free(qfull);
    GPU->free(ofull);
    GPU->free(lse);
    pair_free(&q);
    pair_free(&kc);
    pair_free(&vc);
    pair_free(&out);
    free(hq);
}

// The group "cached": positions in growing order, so the GPU's cached rope table grows along the way
void test_cached(void) {
    const int pos0s[] = {0, 1, 37, 1000}, ns[] = {1, 5, 64};
    for (int p = 0; p < 4; p++)
        for (int i = 0; i < 3; i++) test_rope_at(ns[i], pos0s[p], 3, 64, 10000.0f);
    test_rope_at(7, 4093, 2, 128, 500000.0f); // another head_dim and theta: a new table
    test_rope_at(1, 3, 3, 64, 10000.0f);      // and back: rebuilt again
    const int cases[][2] = {{1, 0}, {1, 200}, {17, 0}, {9, 31}}; // {n, pos0}: decode, prefill, chunked prefill
    const int hds[] = {16, 64, 128, 256};
    for (int c = 0; c < 4; c++) {
        for (int d = 0; d < 4; d++) {
            test_attention_cached(cases[c][0], cases[c][1], 4, 4, hds[d]); // MHA
            test_attention_cached(cases[c][0], cases[c][1], 8, 2, hds[d]); // GQA
        }
    }
    test_attention_cached(257, 0, 8, 2, 128); // long prefill: several Q and K tiles
    test_attention_cached(70, 130, 6, 6, 24); // a chunk far into the cache
}
