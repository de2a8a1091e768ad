// Linear layers (no bias) through cuBLAS, fp32 in and out with fp32 accumulation, or with run.precision: bf16 the
// inputs rounded to bf16 first (ShearOps.set_precision, the rounding points of ops.h); w is [OC, C] as Hugging
// Face stores it, so the forward is inp @ w^T.
//
// Row-major to column-major: cuBLAS reads a column-major matrix, and a row-major [R, K] buffer read column-major
// with leading dimension K is its transpose [K, R]. So a row-major product C[M,N] = A @ B is computed as the
// column-major product C^T[N,M] = B^T @ A^T, i.e. cuBLAS gets the operands swapped (B first), m = N, n = M, and
// every leading dimension is the row length of the row-major buffer. cuda_gemm_rm below does that once, so the
// callers read like the row-major formulas in ops.h.
#include <limits.h>

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

void cuda_gemm_rm(int transA, int transB, size_t M, size_t N, size_t K, float alpha, const float *A,
                  const __nv_bfloat16 *Ah, size_t lda, const float *B, const __nv_bfloat16 *Bh, size_t ldb, float beta,
                  float *C, size_t ldc) {
    if (M == 0 || N == 0) return;
    if (M > INT_MAX || N > INT_MAX || K > INT_MAX || lda > INT_MAX || ldb > INT_MAX || ldc > INT_MAX) {
        CUDA_DIE("matrix product %zu x %zu x %zu exceeds the 32-bit sizes cuBLAS takes", M, N, K);
    }
    if (K == 0) {
        // op(A) @ op(B) is empty: C = beta * C, done here so cuBLAS never sees a zero leading dimension
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
    // Column-major: C^T[N,M] = op(B)^T[N,K] @ op(A)^T[K,M]. A row-major B (no transB) read column-major is
    // already B^T, so cuBLAS's op on it is N; with transB it is T. Same for A.
    cublasOperation_t opB = transB ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasOperation_t opA = transA ? CUBLAS_OP_T : CUBLAS_OP_N;
    const void *a = A, *b = B;
    cudaDataType_t type = CUDA_R_32F;
    if (g_precision == SHEAR_BF16) {
        // the stored matrices: [M or K, lda] and [K or N, ldb] rows; bf16 in, fp32 accumulation on the tensor
        // cores (the products of two bf16 are exact in fp32), fp32 out
        a = Ah ? Ah : cuda_bf16_copy(CUDA_SCRATCH_BF16_A, A, (transA ? K : M) * lda);
        b = Bh ? Bh : cuda_bf16_copy(CUDA_SCRATCH_BF16_B, B, (transB ? N : K) * ldb);
        type = CUDA_R_16BF;
    }
    // CUBLAS_COMPUTE_32F with the handle's default math (cuda_select_device never enables TF32): fp32 FMAs, so
    // results match the CPU backend's sgemm to summation order
    CUBLAS_CHECK(cublasGemmEx(cuda_cublas(), opB, opA, (int)N, (int)M, (int)K, &alpha, b, type, (int)ldb, a, type,
                              (int)lda, &beta, C, CUDA_R_32F, (int)ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
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
