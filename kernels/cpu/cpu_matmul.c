// Linear layers (no bias) through CBLAS (fp32) or oneDNN (bf16 inputs: cpu_gemm_bf16.c); w is [OC, C] as Hugging Face stores it, so the forward is inp @ w^T.
#include <limits.h>

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

void cpu_matmul_fwd(float *out, const float *inp, const float *w, size_t N, int C, int OC) {
    // out[N,OC] = inp[N,C] @ w[OC,C]^T
    cpu_gemm(0, 1, N, (size_t)OC, (size_t)C, 1.0f, inp, NULL, (size_t)C, w, NULL, (size_t)C, 0.0f, out, (size_t)OC);
}

void cpu_matmul_bwd(float *dinp, float *dw, const float *dout, const float *inp, const float *w, size_t N, int C,
                    int OC) {
    uint16_t *douth = dinp && dw ? cpu_bf16_copy(dout, N * (size_t)OC) : NULL; // bf16: rounded once for both
    // dinp[N,C] += dout[N,OC] @ w[OC,C]
    if (dinp)
        cpu_gemm(0, 0, N, (size_t)C, (size_t)OC, 1.0f, dout, douth, (size_t)OC, w, NULL, (size_t)C, 1.0f, dinp,
                 (size_t)C);
    // dw[OC,C] += dout[N,OC]^T @ inp[N,C]
    if (dw)
        cpu_gemm(1, 0, (size_t)OC, (size_t)C, N, 1.0f, dout, douth, (size_t)OC, inp, NULL, (size_t)C, 1.0f, dw,
                 (size_t)C);
    free(douth);
}
