// CUDA emulation: the cuBLASLt handle the backend creates (cuda_backend.cu); no cuBLASLt matmul is called yet
// (the bf16 GEMMs will add theirs here). Implemented in tests/cuda_emu/src/emu_blas.cc. C-compatible.
#ifndef SHEAR_CUDA_EMU_CUBLASLT_H
#define SHEAR_CUDA_EMU_CUBLASLT_H

#include "cublas_v2.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct EmuCublasLt *cublasLtHandle_t;
cublasStatus_t cublasLtCreate(cublasLtHandle_t *handle);
cublasStatus_t cublasLtDestroy(cublasLtHandle_t handle);

#ifdef __cplusplus
}
#endif
#endif
