// CUDA emulation: cuBLAS (cublasGemmEx) on OpenBLAS, and the product it shares with the emulated cuBLASLt
// (emu_gemm; emu_blaslt.cc). cuBLAS's semantics are kept where a backend bug would hide behind a forgiving BLAS:
// column-major operands with leading dimensions checked as cuBLAS checks them (CUBLAS_STATUS_INVALID_VALUE),
// every operand's spanned bytes inside one device allocation (else the fault a GPU would take: a message, sticky
// cudaErrorIllegalAddress), beta == 0 never reading C (a fresh output holds NaN poison, and NaN * 0 is NaN:
// cuBLAS overwrites, so must this), and the guard zones checked after the product. Math modes are recorded;
// TF32 is accepted and ignored (the emulation computes in fp32 on the CPU).
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <vector>

#include "cublas_v2.h"
#include "emu_internal.h"

struct EmuCublas {
    cudaStream_t stream;
    cublasMath_t math;
};

extern "C" {

cublasStatus_t cublasCreate(cublasHandle_t *handle) {
    if (!handle) return CUBLAS_STATUS_INVALID_VALUE;
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) return CUBLAS_STATUS_NOT_INITIALIZED;
    *handle = (cublasHandle_t)calloc(1, sizeof(EmuCublas));
    return *handle ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_ALLOC_FAILED;
}

cublasStatus_t cublasDestroy(cublasHandle_t handle) {
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    free(handle);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream) {
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    handle->stream = stream;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    handle->math = mode;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetVersion(cublasHandle_t handle, int *version) {
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (!version) return CUBLAS_STATUS_INVALID_VALUE;
    *version = CUBLAS_VERSION;
    return CUBLAS_STATUS_SUCCESS;
}

const char *cublasGetStatusString(cublasStatus_t s) {
    switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    }
    return "CUBLAS_STATUS_UNKNOWN";
}

// A column-major rows x cols operand with leading dimension ld spans (cols - 1) ld + rows elements of elt bytes.
static int operand_ok(const char *who, const char *name, const void *p, int rows, int cols, int ld, size_t elt) {
    if (rows == 0 || cols == 0) return 1;
    size_t bytes = ((size_t)(cols - 1) * (size_t)ld + (size_t)rows) * elt;
    if (emu_is_device_range(p, bytes)) return 1;
    char what[160];
    emu_describe_pointer(p, what, sizeof what);
    fprintf(stderr, EMU_PREFIX "%s: operand %s (%d x %d, ld %d, %zu bytes at %p) is not inside one device "
            "allocation (%s): the GPU would fault here\n", who, name, rows, cols, ld, bytes, p, what);
    emu_set_error(cudaErrorIllegalAddress, 1);
    return 0;
}

// emu_internal.h; bf16 A and B are widened to fp32 exactly, so the bf16 product is the fp32 one of the rounded
// inputs (what the tensor cores compute: exact products, fp32 sums)
cublasStatus_t emu_gemm(const char *who, int transa, int transb, int m, int n, int k, float alpha, const void *A,
                        int lda, const void *B, int ldb, float beta, float *C, int ldc, int bf16) {
    const size_t elt = bf16 ? 2 : sizeof(float);
    const int a_rows = transa ? k : m, a_cols = transa ? m : k, b_rows = transb ? n : k, b_cols = transb ? k : n;
    if (!operand_ok(who, "C", C, m, n, ldc, sizeof(float))) return CUBLAS_STATUS_EXECUTION_FAILED;
    if (k > 0 && alpha != 0.0f &&
        (!operand_ok(who, "A", A, a_rows, a_cols, lda, elt) || !operand_ok(who, "B", B, b_rows, b_cols, ldb, elt)))
        return CUBLAS_STATUS_EXECUTION_FAILED;
    if (beta == 0.0f) {
        // overwrite without reading: BLAS may compute 0 * C, and C may be NaN poison
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++) C[(size_t)j * ldc + i] = 0.0f;
    }
    if (k == 0 || alpha == 0.0f) {
        if (beta != 0.0f && beta != 1.0f)
            for (int j = 0; j < n; j++)
                for (int i = 0; i < m; i++) C[(size_t)j * ldc + i] *= beta;
    } else {
        // bf16: widened to fp32 (exact), then the fp32 product
        std::vector<float> wa, wb;
        const float *fa = (const float *)A, *fb = (const float *)B;
        if (bf16) {
            auto widen = [](std::vector<float> &w, const void *p, int rows, int cols, int ld) {
                const uint16_t *h = (const uint16_t *)p;
                w.assign((size_t)(cols - 1) * (size_t)ld + (size_t)rows, 0.0f);
                for (int j = 0; j < cols; j++)
                    for (int i = 0; i < rows; i++) {
                        uint32_t u = (uint32_t)h[(size_t)j * ld + i] << 16;
                        memcpy(&w[(size_t)j * ld + i], &u, 4);
                    }
            };
            widen(wa, A, a_rows, a_cols, lda);
            widen(wb, B, b_rows, b_cols, ldb);
            fa = wa.data();
            fb = wb.data();
        }
        cblas_sgemm(CblasColMajor, transa ? CblasTrans : CblasNoTrans, transb ? CblasTrans : CblasNoTrans, m, n, k,
                    alpha, fa, lda, fb, ldb, beta == 0.0f ? 1.0f : beta, C, ldc);
    }
    if (!emu_check_guards(who)) return CUBLAS_STATUS_EXECUTION_FAILED;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                            int k, const void *alpha, const void *A, cudaDataType_t Atype, int lda, const void *B,
                            cudaDataType_t Btype, int ldb, const void *beta, void *C, cudaDataType_t Ctype, int ldc,
                            cublasComputeType_t computeType, cublasGemmAlgo_t algo) {
    (void)algo;
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    // fp32, or bf16 A and B with fp32 C and accumulation (what cuBLAS does on the tensor cores: the products of
    // two bf16 are exact in fp32, the sum is fp32)
    const int bf16 = Atype == CUDA_R_16BF && Btype == CUDA_R_16BF;
    if (!((Atype == CUDA_R_32F && Btype == CUDA_R_32F) || bf16) || Ctype != CUDA_R_32F ||
        computeType != CUBLAS_COMPUTE_32F) {
        fprintf(stderr, EMU_PREFIX "cublasGemmEx: types A %d, B %d, C %d, compute %d; the emulation has fp32, and "
                "bf16 A and B with an fp32 C, only\n", (int)Atype, (int)Btype, (int)Ctype, (int)computeType);
        return CUBLAS_STATUS_NOT_SUPPORTED;
    }
    if ((transa != CUBLAS_OP_N && transa != CUBLAS_OP_T) || (transb != CUBLAS_OP_N && transb != CUBLAS_OP_T))
        return CUBLAS_STATUS_INVALID_VALUE;
    // as stored: A is m x k (k x m when transposed), B is k x n (n x k)
    const int a_rows = transa == CUBLAS_OP_N ? m : k, b_rows = transb == CUBLAS_OP_N ? k : n;
    if (m < 0 || n < 0 || k < 0 || lda < std::max(1, a_rows) || ldb < std::max(1, b_rows) || ldc < std::max(1, m) ||
        !alpha || !beta)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (emu_sticky_error() != cudaSuccess) return CUBLAS_STATUS_EXECUTION_FAILED;
    if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
    return emu_gemm("cublasGemmEx", transa == CUBLAS_OP_T, transb == CUBLAS_OP_T, m, n, k, *(const float *)alpha, A,
                    lda, B, ldb, *(const float *)beta, (float *)C, ldc, bf16);
}

} // extern "C"
