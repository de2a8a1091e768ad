// The CPU backend's GEMMs, for the linear layers (cpu_matmul.c) and the classifier: fp32 through CBLAS
// (cpu_sgemm), and the bf16 GEMMs (run.precision: bf16, ShearOps.set_precision): operands rounded to bf16 once,
// multiplied by oneDNN's matmul with fp32 accumulation and an fp32 result (AVX512-BF16 dot products where the
// CPU has them; validation/bench/gemm_bench.c measures it against OpenBLAS sgemm). oneDNN keeps its own cache of
// created primitives, so a shape seen before costs no new JIT.
#include <limits.h>

#include <oneapi/dnnl/dnnl.h>

#include "shear/bf16.h"
#include "cpu_ops.h"

// After cpu_ops.h on purpose: OpenBLAS's cblas.h pulls in <complex.h>, whose macro I would rewrite the
// `int I` parameters of ops.h.
#include <cblas.h>

void cpu_sgemm(int transA, int transB, size_t M, size_t Nc, size_t K, float alpha, const float *A, size_t lda,
               const float *B, size_t ldb, float beta, float *C, size_t ldc) {
    if (M == 0 || Nc == 0) return;
    if (M > INT_MAX || Nc > INT_MAX || K > INT_MAX || lda > INT_MAX || ldb > INT_MAX || ldc > INT_MAX) {
        CPU_DIE("matrix product %zu x %zu x %zu exceeds the 32-bit sizes BLAS takes", M, Nc, K);
    }
    if (K == 0) {
        // BLAS would only scale C by beta; do the same without it
        for (size_t i = 0; i < M; i++) {
            for (size_t j = 0; j < Nc; j++) C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
        }
        return;
    }
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, (int)M,
                (int)Nc, (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}


static ShearPrecision g_precision = SHEAR_FP32;
static dnnl_engine_t g_engine;
static dnnl_stream_t g_stream;

#define DNNL_CHECK(call)                                                                                          \
    do {                                                                                                          \
        dnnl_status_t s_ = (call);                                                                                \
        if (s_ != dnnl_success)                                                                                   \
            CPU_DIE("oneDNN %s failed with status %d; hint: check that libdnnl (oneDNN 2.x) is installed, or "    \
                    "use run.precision: fp32", #call, (int)s_);                                                   \
    } while (0)

int cpu_set_precision(ShearPrecision p) {
    if (p != SHEAR_FP32 && p != SHEAR_BF16) return -1;
    if (p == SHEAR_BF16 && !g_engine) {
        DNNL_CHECK(dnnl_engine_create(&g_engine, dnnl_cpu, 0));
        DNNL_CHECK(dnnl_stream_create(&g_stream, g_engine, dnnl_stream_default_flags));
    }
    g_precision = p;
    return 0;
}

uint16_t *cpu_bf16_copy(const float *x, size_t n) {
    if (g_precision != SHEAR_BF16 || !x) return NULL;
    uint16_t *h = cpu_scratch(n * sizeof(uint16_t)); // [n]
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) h[i] = bf16_from_f32(x[i]);
    return h;
}

// Row-major C[M,N] = alpha op(A) op(B) + beta C with bf16 A, B (ld = row length of the stored matrix).
static void gemm_bf16(int tA, int tB, size_t M, size_t N, size_t K, float alpha, const uint16_t *A, size_t lda,
                      const uint16_t *B, size_t ldb, float beta, float *C, size_t ldc) {
    dnnl_memory_desc_t amd, bmd, cmd;
    dnnl_dims_t ad = {(dnnl_dim_t)M, (dnnl_dim_t)K}, bd = {(dnnl_dim_t)K, (dnnl_dim_t)N}, cd = {(dnnl_dim_t)M, (dnnl_dim_t)N};
    // op(A)[i,k] sits at A[i lda + k], or at A[k lda + i] when transposed; the same for B
    dnnl_dims_t as = {tA ? 1 : (dnnl_dim_t)lda, tA ? (dnnl_dim_t)lda : 1};
    dnnl_dims_t bs = {tB ? 1 : (dnnl_dim_t)ldb, tB ? (dnnl_dim_t)ldb : 1};
    dnnl_dims_t cs = {(dnnl_dim_t)ldc, 1};
    DNNL_CHECK(dnnl_memory_desc_init_by_strides(&amd, 2, ad, dnnl_bf16, as));
    DNNL_CHECK(dnnl_memory_desc_init_by_strides(&bmd, 2, bd, dnnl_bf16, bs));
    DNNL_CHECK(dnnl_memory_desc_init_by_strides(&cmd, 2, cd, dnnl_f32, cs));
    dnnl_matmul_desc_t md;
    DNNL_CHECK(dnnl_matmul_desc_init(&md, &amd, &bmd, NULL, &cmd));
    dnnl_primitive_attr_t attr;
    DNNL_CHECK(dnnl_primitive_attr_create(&attr));
    if (alpha != 1.0f) DNNL_CHECK(dnnl_primitive_attr_set_output_scales(attr, 1, 0, &alpha));
    if (beta != 0.0f) {
        dnnl_post_ops_t po;
        DNNL_CHECK(dnnl_post_ops_create(&po));
        DNNL_CHECK(dnnl_post_ops_append_sum(po, beta));
        DNNL_CHECK(dnnl_primitive_attr_set_post_ops(attr, po));
        dnnl_post_ops_destroy(po);
    }
    dnnl_primitive_desc_t pd;
    DNNL_CHECK(dnnl_primitive_desc_create(&pd, &md, attr, g_engine, NULL));
    dnnl_primitive_attr_destroy(attr);
    dnnl_primitive_t prim;
    DNNL_CHECK(dnnl_primitive_create(&prim, pd));
    dnnl_primitive_desc_destroy(pd);
    dnnl_memory_t ma, mb, mc;
    DNNL_CHECK(dnnl_memory_create(&ma, &amd, g_engine, (void *)A));
    DNNL_CHECK(dnnl_memory_create(&mb, &bmd, g_engine, (void *)B));
    DNNL_CHECK(dnnl_memory_create(&mc, &cmd, g_engine, C));
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}};
    DNNL_CHECK(dnnl_primitive_execute(prim, g_stream, 3, args));
    DNNL_CHECK(dnnl_stream_wait(g_stream));
    dnnl_memory_destroy(ma);
    dnnl_memory_destroy(mb);
    dnnl_memory_destroy(mc);
    dnnl_primitive_destroy(prim);
}

void cpu_gemm(int tA, int tB, size_t M, size_t N, size_t K, float alpha, const float *A, const uint16_t *Ah,
              size_t lda, const float *B, const uint16_t *Bh, size_t ldb, float beta, float *C, size_t ldc) {
    if (g_precision != SHEAR_BF16 || M == 0 || N == 0 || K == 0) {
        cpu_sgemm(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    // the stored matrices: [M, lda] or [K, lda] rows for A, [K, ldb] or [N, ldb] for B
    uint16_t *ah = Ah ? NULL : cpu_bf16_copy(A, (tA ? K : M) * lda);
    uint16_t *bh = Bh ? NULL : cpu_bf16_copy(B, (tB ? N : K) * ldb);
    gemm_bf16(tA, tB, M, N, K, alpha, Ah ? Ah : ah, lda, Bh ? Bh : bh, ldb, beta, C, ldc);
    free(ah);
    free(bh);
}
