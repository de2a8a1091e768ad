// Part of the groups "matmul" (fp32) and "bf16" of test_cuda_ops: the GEMMs' algorithm table (cuda_matmul.cu).
// A GEMM of a new shape makes one plan (and asks cuBLASLt's heuristic once: counted by the CUDA emulation);
// repeating it makes none, asks nothing and gives the same bits; a new shape, precision or output alignment
// makes its own plan; an empty product (K = 0) makes none and still overwrites (beta 0) or keeps (beta 1) C.
#include "cuda_parity.h"

#ifdef SHEAR_TEST_CUDA_EMU
#include <cublasLt.h> // the emulation's own: emu_cublaslt_heuristic_calls
#endif

typedef struct {
    size_t plans;      // cuda_gemm_plan_count
    long long queries; // heuristic queries where the library counts them (the emulation), else -1
} GemmCount;

static GemmCount gemm_count(void) {
    GemmCount c = {cuda_gemm_plan_count(), -1};
#ifdef SHEAR_TEST_CUDA_EMU
    c.queries = emu_cublaslt_heuristic_calls();
#endif
    return c;
}

// Since `before`: `want` new plans and, where counted, as many heuristic queries.
static void check_new(const char *what, GemmCount before, size_t want) {
    GemmCount now = gemm_count();
    char detail[96];
    snprintf(detail, sizeof detail, "%zu new plans, %lld heuristic queries (want %zu)", now.plans - before.plans,
             now.queries < 0 ? -1 : now.queries - before.queries, want);
    report(now.plans - before.plans == want && (now.queries < 0 || now.queries - before.queries == (long long)want),
           what, detail);
}

// p's GPU buffer into a fresh one of the same size
static float *gpu_copy(const Pair *p) {
    float *h = malloc((p->n ? p->n : 1) * sizeof(float)), *d = GPU->alloc(p->n * sizeof(float));
    GPU->download(h, p->g, p->n * sizeof(float));
    GPU->upload(d, h, p->n * sizeof(float));
    free(h);
    return d;
}

void test_gemm_cache(const char *precision) {
    const size_t N = 29;
    const int C = 33, OC = 41; // a shape no other test of the program uses
    char what[128];
    Pair inp = pair_new(N * (size_t)C, 1.0), w = pair_new((size_t)OC * C, 0.1), out = pair_new(N * (size_t)OC, 0.0);
    float *out2 = GPU->alloc(N * (size_t)OC * sizeof(float));

    GemmCount c = gemm_count();
    GPU->matmul_fwd(out.g, inp.g, w.g, N, C, OC);
    snprintf(what, sizeof what, "%s GEMM table: the first matmul_fwd N=29 C=33 OC=41 makes one plan", precision);
    check_new(what, c, 1);
    c = gemm_count();
    GPU->matmul_fwd(out2, inp.g, w.g, N, C, OC);
    GPU->matmul_fwd(out2, inp.g, w.g, N, C, OC);
    snprintf(what, sizeof what, "%s GEMM table: two more of it make none", precision);
    check_new(what, c, 0);
    snprintf(what, sizeof what, "%s matmul_fwd N=29 C=33 OC=41 repeated: the same bits", precision);
    cmp_gpu(what, out.g, out2, out.n, 0);
    CPU->matmul_fwd(out.c, inp.c, w.c, N, C, OC);
    snprintf(what, sizeof what, "%s matmul_fwd N=29 C=33 OC=41 (planned) against the CPU", precision);
    cmp(what, &out, TOL_REDUCE);

    // backward twice from the same initial gradients: two plans (dinp, dw) the first time, the same bits after
    Pair dout = pair_new(N * (size_t)OC, 1.0), dinp = grad_new(N * (size_t)C, 0.5), dw = grad_new((size_t)OC * C, 0.5);
    float *dinp2 = gpu_copy(&dinp), *dw2 = gpu_copy(&dw);
    c = gemm_count();
    GPU->matmul_bwd(dinp.g, dw.g, dout.g, inp.g, w.g, N, C, OC);
    snprintf(what, sizeof what, "%s GEMM table: the first matmul_bwd makes two plans (dinp, dw)", precision);
    check_new(what, c, 2);
    c = gemm_count();
    GPU->matmul_bwd(dinp2, dw2, dout.g, inp.g, w.g, N, C, OC);
    snprintf(what, sizeof what, "%s GEMM table: the second makes none", precision);
    check_new(what, c, 0);
    snprintf(what, sizeof what, "%s matmul_bwd repeated: dinp the same bits", precision);
    cmp_gpu(what, dinp.g, dinp2, dinp.n, 0);
    snprintf(what, sizeof what, "%s matmul_bwd repeated: dw the same bits", precision);
    cmp_gpu(what, dw.g, dw2, dw.n, 0);
    CPU->matmul_bwd(dinp.c, dw.c, dout.c, inp.c, w.c, N, C, OC);
    snprintf(what, sizeof what, "%s matmul_bwd dinp += (planned) against the CPU", precision);
    cmp(what, &dinp, TOL_REDUCE);
    snprintf(what, sizeof what, "%s matmul_bwd dw += (planned) against the CPU", precision);
    cmp(what, &dw, TOL_REDUCE);

    // one more row: a new shape; the same shape into an output only 4-byte aligned: its own plan too (cuBLASLt
    // is told each pointer's alignment; the emulation faults on a pointer less aligned than its algorithm's)
    Pair out30 = pair_new((N + 1) * (size_t)OC, 0.0), inp30 = pair_new((N + 1) * (size_t)C, 1.0);
    c = gemm_count();
    GPU->matmul_fwd(out30.g, inp30.g, w.g, N + 1, C, OC);
    snprintf(what, sizeof what, "%s GEMM table: N=30, a new shape, makes one plan", precision);
    check_new(what, c, 1);
    float *shifted = GPU->alloc((N * (size_t)OC + 1) * sizeof(float)); // [1 + N*OC]
    c = gemm_count();
    GPU->matmul_fwd(shifted + 1, inp.g, w.g, N, C, OC);
    snprintf(what, sizeof what, "%s GEMM table: N=29 into a 4-byte aligned output makes one plan", precision);
    check_new(what, c, 1);
    snprintf(what, sizeof what, "%s matmul_fwd into the 4-byte aligned output against the 16-byte aligned one",
             precision);
    cmp_gpu(what, out2, shifted + 1, out.n, TOL_REDUCE);

    // K = 0 (C = 0 in the forward, N = 0 for dw): no GEMM is planned; the forward overwrites its output with
    // zeros, the backward leaves dw as it was
    Pair ones = pair_uniform(N * (size_t)OC, 1.0, 2.0), dw0 = grad_new((size_t)OC * C, 0.5);
    float *empty = GPU->alloc(0);
    c = gemm_count();
    GPU->matmul_fwd(ones.g, empty, empty, N, 0, OC);
    GPU->matmul_bwd(empty, dw0.g, empty, empty, w.g, 0, C, OC);
    snprintf(what, sizeof what, "%s GEMM table: products with K = 0 make no plan", precision);
    check_new(what, c, 0);
    float *h = malloc(ones.n * sizeof(float));
    GPU->download(h, ones.g, ones.n * sizeof(float));
    int zeros = 1;
    for (size_t i = 0; i < ones.n; i++) zeros = zeros && h[i] == 0.0f;
    snprintf(what, sizeof what, "%s matmul_fwd C=0: out all zeros (its 1..2 overwritten)", precision);
    report(zeros, what, "");
    float *dw_now = malloc(dw0.n * sizeof(float));
    GPU->download(dw_now, dw0.g, dw0.n * sizeof(float));
    snprintf(what, sizeof what, "%s matmul_bwd N=0: dw += nothing (bitwise as it was)", precision);
    report(memcmp(dw_now, dw0.init, dw0.n * sizeof(float)) == 0, what, "");
    free(h), free(dw_now);

    GPU->free(out2), GPU->free(dinp2), GPU->free(dw2), GPU->free(shifted), GPU->free(empty);
    pair_free(&inp), pair_free(&w), pair_free(&out), pair_free(&dout), pair_free(&dinp), pair_free(&dw);
    pair_free(&out30), pair_free(&inp30), pair_free(&ones), pair_free(&dw0);
}
