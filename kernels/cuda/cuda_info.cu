// Build and runtime facts of the CUDA stack (cudart, cuBLAS, NCCL versions, visible devices): printed by
// `shear --version` and stored in checkpoints. Linking this file proves the build finds all three libraries.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <nccl.h>
#include <stdio.h>

#include "cuda_info.h"

extern "C" void cuda_build_info(char *buf, size_t len) {
    int rt = 0, drv = 0, ndev = 0, nccl = 0;
    cudaRuntimeGetVersion(&rt);
    cudaDriverGetVersion(&drv); // 0 when no driver is installed
    if (cudaGetDeviceCount(&ndev) != cudaSuccess) ndev = 0;
    ncclGetVersion(&nccl);
    int cublas = 0;
    cublasHandle_t h;
    if (ndev > 0 && cublasCreate(&h) == CUBLAS_STATUS_SUCCESS) {
        cublasGetVersion(h, &cublas);
        cublasDestroy(h);
    } else {
        cublas = CUBLAS_VERSION; // compile-time version when no device can host a handle
    }
    snprintf(buf, len, "cuda runtime %d.%d, driver %d.%d, cublas %d, nccl %d.%d.%d, %d device(s)", rt / 1000,
             (rt % 1000) / 10, drv / 1000, (drv % 1000) / 10, cublas, nccl / 10000, (nccl % 10000) / 100, nccl % 100,
             ndev);
    cudaGetLastError(); // clear the sticky "no device" error so later probes start clean
}
