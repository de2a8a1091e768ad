// Linear layers (no bias) through cuBLASLt, fp32 in and out with fp32 accumulation, or with run.precision: bf16
// the inputs rounded to bf16 first (ShearOps.set_precision, the rounding points of ops.h); w is [OC, C] as Hugging
// Face stores it, so the forward is inp @ w^T.
//
// Row-major to column-major: cuBLASLt reads a column-major matrix, and a row-major [R, K] buffer read
// column-major with leading dimension K is its transpose [K, R]. So a row-major product C[M,N] = A @ B is
// computed as the column-major product C^T[N,M] = B^T @ A^T, i.e. cuBLASLt gets the operands swapped (B first),
// m = N, n = M, and every leading dimension is the row length of the row-major buffer. cuda_gemm_rm below does
// that once, so the callers read like the row-major formulas in ops.h.
//
// Algorithms: cuBLASLt's heuristic is asked once per distinct GEMM (GemmKey) and its choice kept in a grow-only
// table with the descriptors, so every later call of that GEMM runs the same algorithm on the same workspace:
// cuBLAS guarantees the same bits run to run for the same algorithm, architecture and SM count on one stream,
// and with a user-owned workspace (cublasLtMatmul) even beside other streams.
#include <limits.h>
#include <string.h>

#include "cuda_common.cuh"

static ShearPrecision g_precision = SHEAR_FP32;

extern "C" int cuda_set_precision(ShearPrecision p) {
    if (p != SHEAR_FP32 && p != SHEAR_BF16) return -1;
    g_precision = p;
    return 0;
}

static __global__ void bf16_round_kernel(__nv_bfloat16 *dst, const float *src, size_t n) { // dst, src [n]
    CUDA_GRID_STRIDE(i, n) dst[i] = __float2bfloat16_rn(src[i]);
}

const __nv_bfloat16 *cuda_bf16_copy(int slot, const float *x, size_t n) {
    if (g_precision != SHEAR_BF16 || !x || n == 0) return NULL;
    __nv_bfloat16 *h = (__nv_bfloat16 *)cuda_scratch(slot, n * sizeof(__nv_bfloat16)); // [n]
    CUDA_LAUNCH(bf16_round_kernel, cuda_blocks(n, 256), 256, 0, cuda_stream(), h, x, n);
    CUDA_LAUNCH_CHECK();
    return h;
}

// What a cached algorithm is kept for: everything the heuristic is told (the precision, the transposes, the
// sizes and leading dimensions, row-major as the caller passes them, each pointer's alignment) and whether beta
// is 0 (not told to the heuristic: the forward overwrites, the backward adds, and each gets its own entry, so
// the table holds one entry per distinct GEMM call). cuBLASLt assumes 256-byte aligned operands unless told
// less, and offset pointers (a classifier chunk's rows, a tensor at an odd row) may be only 4-byte aligned, so
// the alignment is stated, capped at 16 bytes (a GPU thread's widest load, 128 bits): stating less than a
// pointer has only rules out algorithms.
typedef struct {
    int precision, transA, transB;
    int M, N, K, lda, ldb, ldc;
    int beta_zero;
    int align_a, align_b, align_c; // bytes: 1, 2, 4, 8 or 16
} GemmKey;

typedef struct {
    GemmKey key;
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t lt_a, lt_b, lt_c; // cuBLASLt's A is our B, its B our A (above); its C and D our C
    cublasLtMatmulAlgo_t algo;
} GemmPlan;

static GemmPlan *g_plans = NULL; // [g_plans_cap], the first g_nplans used; grow-only, for the process's life
static size_t g_nplans = 0, g_plans_cap = 0;

extern "C" size_t cuda_gemm_plan_count(void) { return g_nplans; }

static int gemm_alignment(const void *p) {
    int a = 16;
    while (a > 1 && (uintptr_t)p % (uintptr_t)a != 0) a /= 2;
    return a;
}

// For messages: the GEMM in the caller's row-major terms.
static const char *gemm_describe(const GemmKey *k, char *buf, size_t len) {
    snprintf(buf, len, "the %s GEMM C[%d,%d] %s= %s[%d,%d] @ %s[%d,%d] (lda %d, ldb %d, ldc %d; alignment A %d, B %d, "
             "C %d bytes)", k->precision == SHEAR_BF16 ? "bf16" : "fp32", k->M, k->N, k->beta_zero ? "" : "+",
             k->transA ? "A^T" : "A", k->M, k->K, k->transB ? "B^T" : "B", k->K, k->N, k->lda, k->ldb, k->ldc,
             k->align_a, k->align_b, k->align_c);
    return buf;
}

// The plan of key: from the table, or made now (descriptors, layouts, one heuristic query) and added to it.
static const GemmPlan *gemm_plan(const GemmKey *key) {
    for (size_t i = 0; i < g_nplans; i++)
        if (memcmp(&g_plans[i].key, key, sizeof *key) == 0) return &g_plans[i];
    char what[256];
    if (g_nplans == g_plans_cap) {
        size_t cap = g_plans_cap ? 2 * g_plans_cap : 32;
        GemmPlan *grown = (GemmPlan *)realloc(g_plans, cap * sizeof(GemmPlan));
        if (!grown) CUDA_DIE("out of host memory for the GEMM algorithm table (%zu entries)", cap);
        g_plans = grown;
        g_plans_cap = cap;
    }
    GemmPlan *p = &g_plans[g_nplans];
    memset(p, 0, sizeof *p);
    p->key = *key;
    const cudaDataType_t in = key->precision == SHEAR_BF16 ? CUDA_R_16BF : CUDA_R_32F;
    // CUBLAS_COMPUTE_32F with fp32 scale: fp32 FMAs, so fp32 results match the CPU backend's sgemm to summation
    // order; bf16 inputs take the tensor cores, whose products of two bf16 are exact in fp32, summed in fp32
    CUBLAS_CHECK_FOR(cublasLtMatmulDescCreate(&p->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F),
                     gemm_describe(key, what, sizeof what));
    // column-major C^T[N,M] = op(B)^T[N,K] @ op(A)^T[K,M]: a row-major B (no transB) read column-major is
    // already B^T, so cuBLASLt's op on it is N; with transB it is T. Same for A.
    const int32_t op_b = key->transB ? CUBLAS_OP_T : CUBLAS_OP_N, op_a = key->transA ? CUBLAS_OP_T : CUBLAS_OP_N;
    CUBLAS_CHECK_FOR(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, &op_b, sizeof op_b),
                     gemm_describe(key, what, sizeof what));
    CUBLAS_CHECK_FOR(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, &op_a, sizeof op_a),
                     gemm_describe(key, what, sizeof what));
    // as stored, column-major: B is N x K (K x N with transB), A is K x M (M x K with transA), C is N x M
    CUBLAS_CHECK_FOR(cublasLtMatrixLayoutCreate(&p->lt_a, in, key->transB ? key->K : key->N,
                                                key->transB ? key->N : key->K, key->ldb),
                     gemm_describe(key, what, sizeof what));
    CUBLAS_CHECK_FOR(cublasLtMatrixLayoutCreate(&p->lt_b, in, key->transA ? key->M : key->K,
                                                key->transA ? key->K : key->M, key->lda),
                     gemm_describe(key, what, sizeof what));
    CUBLAS_CHECK_FOR(cublasLtMatrixLayoutCreate(&p->lt_c, CUDA_R_32F, key->N, key->M, key->ldc),
                     gemm_describe(key, what, sizeof what));
    cublasLtMatmulPreference_t pref;
    CUBLAS_CHECK_FOR(cublasLtMatmulPreferenceCreate(&pref), gemm_describe(key, what, sizeof what));
    const uint64_t ws = SHEAR_CUDA_GEMM_WORKSPACE_BYTES;
    const uint32_t align[4] = {(uint32_t)key->align_b, (uint32_t)key->align_a, (uint32_t)key->align_c,
                               (uint32_t)key->align_c}; // cuBLASLt's A, B, C, D
    CUBLAS_CHECK_FOR(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws,
                                                          sizeof ws),
                     gemm_describe(key, what, sizeof what));
    const cublasLtMatmulPreferenceAttributes_t align_attr[4] = {
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
    for (int i = 0; i < 4; i++)
        CUBLAS_CHECK_FOR(cublasLtMatmulPreferenceSetAttribute(pref, align_attr[i], &align[i], sizeof align[i]),
                         gemm_describe(key, what, sizeof what));
    cublasLtMatmulHeuristicResult_t result;
    int found = 0;
    CUBLAS_CHECK_FOR(cublasLtMatmulAlgoGetHeuristic(cuda_cublaslt(), p->desc, p->lt_a, p->lt_b, p->lt_c, p->lt_c,
                                                    pref, 1, &result, &found),
                     gemm_describe(key, what, sizeof what));
    CUBLAS_CHECK(cublasLtMatmulPreferenceDestroy(pref));
    if (found < 1 || result.state != CUBLAS_STATUS_SUCCESS)
        CUDA_DIE("cuBLASLt's heuristic has no algorithm for %s within a %zu-byte workspace; hint: %s",
                 gemm_describe(key, what, sizeof what), (size_t)SHEAR_CUDA_GEMM_WORKSPACE_BYTES,
                 cublas_error_hint(CUBLAS_STATUS_NOT_SUPPORTED));
    p->algo = result.algo;
    g_nplans++;
    return p;
}

void cuda_gemm_rm(int transA, int transB, size_t M, size_t N, size_t K, float alpha, const float *A,
                  const __nv_bfloat16 *Ah, size_t lda, const float *B, const __nv_bfloat16 *Bh, size_t ldb, float beta,
                  float *C, size_t ldc) {
    if (M == 0 || N == 0) return;
    if (M > INT_MAX || N > INT_MAX || K > INT_MAX || lda > INT_MAX || ldb > INT_MAX || ldc > INT_MAX) {
        CUDA_DIE("matrix product %zu x %zu x %zu exceeds the 32-bit sizes cuBLASLt takes", M, N, K);
    }
    if (K == 0) {
        // op(A) @ op(B) is empty: C = beta * C, done here so cuBLASLt never sees an empty inner dimension
        if (beta == 1.0f) return;
        if (beta == 0.0f) {
            CUDA_CHECK(cudaMemset2DAsync(C, ldc * sizeof(float), 0, N * sizeof(float), M, cuda_stream()));
        } else if (ldc == N) {
            cuda_scale(C, beta, M * N);
        } else {
            CUDA_DIE("empty matrix product with beta %g into a strided C is not supported", (double)beta);
        }
        return;
    }
    const void *a = A, *b = B;
    if (g_precision == SHEAR_BF16) {
        // the stored matrices: [M or K, lda] and [K or N, ldb] rows, rounded unless the caller did already
        a = Ah ? Ah : cuda_bf16_copy(CUDA_SCRATCH_BF16_A, A, (transA ? K : M) * lda);
        b = Bh ? Bh : cuda_bf16_copy(CUDA_SCRATCH_BF16_B, B, (transB ? N : K) * ldb);
    }
    GemmKey key;
    memset(&key, 0, sizeof key); // no padding bytes of chance in the memcmp of gemm_plan
    key.precision = (int)g_precision, key.transA = transA != 0, key.transB = transB != 0;
    key.M = (int)M, key.N = (int)N, key.K = (int)K, key.lda = (int)lda, key.ldb = (int)ldb, key.ldc = (int)ldc;
    key.beta_zero = beta == 0.0f;
    key.align_a = gemm_alignment(a), key.align_b = gemm_alignment(b), key.align_c = gemm_alignment(C);
    const GemmPlan *p = gemm_plan(&key);
    void *ws = cuda_scratch(CUDA_SCRATCH_MATMUL, SHEAR_CUDA_GEMM_WORKSPACE_BYTES); // allocated at the first call
    char what[256];
    CUBLAS_CHECK_FOR(cublasLtMatmul(cuda_cublaslt(), p->desc, &alpha, b, p->lt_a, a, p->lt_b, &beta, C, p->lt_c, C,
                                    p->lt_c, &p->algo, ws, SHEAR_CUDA_GEMM_WORKSPACE_BYTES, cuda_stream()),
                     gemm_describe(&key, what, sizeof what));
}

extern "C" void cuda_matmul_fwd(float *out, const float *inp, const float *w, size_t N, int C, int OC) {
    // out[N,OC] = inp[N,C] @ w[OC,C]^T
    cuda_gemm_rm(0, 1, N, (size_t)OC, (size_t)C, 1.0f, inp, NULL, (size_t)C, w, NULL, (size_t)C, 0.0f, out,
                 (size_t)OC);
}

extern "C" void cuda_matmul_bwd(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                                size_t N, int C, int OC) {
    // bf16: dout rounded once for both products
    const __nv_bfloat16 *douth = dinp && dw ? cuda_bf16_copy(CUDA_SCRATCH_BF16_SHARED, dout, N * (size_t)OC) : NULL;
    // dinp[N,C] += dout[N,OC] @ w[OC,C]   (beta = 1: the backward adds)
    if (dinp)
        cuda_gemm_rm(0, 0, N, (size_t)C, (size_t)OC, 1.0f, dout, douth, (size_t)OC, w, NULL, (size_t)C, 1.0f, dinp,
                     (size_t)C);
    // dw[OC,C] += dout[N,OC]^T @ inp[N,C]
    if (dw)
        cuda_gemm_rm(1, 0, (size_t)OC, (size_t)C, N, 1.0f, dout, douth, (size_t)OC, inp, NULL, (size_t)C, 1.0f, dw,
                     (size_t)C);
}
