// CUDA emulation: the cuBLASLt API the backend calls (cuda_matmul.cu: the GEMMs; cuda_backend.cu: the handle),
// implemented in tests/cuda_emu/src/emu_blaslt.cc with cuBLASLt's column-major semantics, attribute sizes and
// argument checks. Enum values and struct layouts as CUDA 13's cublasLt.h. Only what Shear uses exists: fp32
// compute and scale, fp32 or bf16 A and B, fp32 C and D, the TRANSA / TRANSB attributes, the workspace and
// alignment preferences; anything else is CUBLAS_STATUS_NOT_SUPPORTED with a cuda-emu: message. C-compatible.
#ifndef SHEAR_CUDA_EMU_CUBLASLT_H
#define SHEAR_CUDA_EMU_CUBLASLT_H

#include <stddef.h>
#include <stdint.h>

#include "cublas_v2.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct EmuCublasLt *cublasLtHandle_t;
typedef struct EmuLtMatmulDesc *cublasLtMatmulDesc_t;
typedef struct EmuLtLayout *cublasLtMatrixLayout_t;
typedef struct EmuLtPreference *cublasLtMatmulPreference_t;

// semi-opaque, as the real one: the emulation keeps in it what the heuristic chose the algorithm for
typedef struct {
    uint64_t data[8];
} cublasLtMatmulAlgo_t;

typedef struct {
    cublasLtMatmulAlgo_t algo;
    size_t workspaceSize; // the workspace the algorithm needs
    cublasStatus_t state;
    float wavesCount;
    int reserved[4];
} cublasLtMatmulHeuristicResult_t;

typedef enum { CUBLASLT_MATMUL_DESC_TRANSA = 3, CUBLASLT_MATMUL_DESC_TRANSB = 4 } cublasLtMatmulDescAttributes_t;

typedef enum {
    CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES = 1,   // uint64_t, default 0
    CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES = 5, // uint32_t, default 256 (each of A, B, C, D)
    CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES = 6,
    CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES = 7,
    CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES = 8
} cublasLtMatmulPreferenceAttributes_t;

cublasStatus_t cublasLtCreate(cublasLtHandle_t *handle);
cublasStatus_t cublasLtDestroy(cublasLtHandle_t handle);

cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t *desc, cublasComputeType_t computeType,
                                        cudaDataType_t scaleType);
cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t desc);
// TRANSA / TRANSB: an int32_t cublasOperation_t; sizeInBytes must be 4
cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t desc, cublasLtMatmulDescAttributes_t attr,
                                              const void *buf, size_t sizeInBytes);

// a column-major rows x cols matrix of `type` with leading dimension ld (elements), as stored (before TRANSA/B)
cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *layout, cudaDataType type, uint64_t rows,
                                          uint64_t cols, int64_t ld);
cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t layout);

cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t *pref);
cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t pref);
cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t pref,
                                                    cublasLtMatmulPreferenceAttributes_t attr, const void *buf,
                                                    size_t sizeInBytes);

// One algorithm (whatever requestedAlgoCount >= 1 asks), with the workspace it needs within the preference's
// maximum: CUBLASLT_EMU_ALGO_WORKSPACE when that fits, else none; NOT_SUPPORTED for type combinations
// cuBLASLt has no kernel for.
#define CUBLASLT_EMU_ALGO_WORKSPACE ((size_t)4 << 20)
cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t handle, cublasLtMatmulDesc_t desc,
                                              cublasLtMatrixLayout_t Adesc, cublasLtMatrixLayout_t Bdesc,
                                              cublasLtMatrixLayout_t Cdesc, cublasLtMatrixLayout_t Ddesc,
                                              cublasLtMatmulPreference_t pref, int requestedAlgoCount,
                                              cublasLtMatmulHeuristicResult_t heuristicResultsArray[],
                                              int *returnAlgoCount);

// D[m,n] = alpha op(A)[m,k] op(B)[k,n] + beta C[m,n], column-major; algo NULL: an implicit heuristic query with
// the default preference (no workspace)
cublasStatus_t cublasLtMatmul(cublasLtHandle_t handle, cublasLtMatmulDesc_t desc, const void *alpha, const void *A,
                              cublasLtMatrixLayout_t Adesc, const void *B, cublasLtMatrixLayout_t Bdesc,
                              const void *beta, const void *C, cublasLtMatrixLayout_t Cdesc, void *D,
                              cublasLtMatrixLayout_t Ddesc, const cublasLtMatmulAlgo_t *algo, void *workspace,
                              size_t workspaceSizeInBytes, cudaStream_t stream);

// Emulation only (no such function in cuBLASLt): heuristic queries so far in this process, explicit
// (cublasLtMatmulAlgoGetHeuristic) and implicit (cublasLtMatmul with algo NULL), so a test can see that the
// backend's algorithm cache asks once per GEMM.
long long emu_cublaslt_heuristic_calls(void);

#ifdef __cplusplus
}
#endif
#endif
