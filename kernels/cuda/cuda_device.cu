// Device facts of the CUDA backend, the members of ShearOps that host code reaches through ops_cuda() (see
// shear/ops.h): the number of visible devices, free memory and the facts behind the peak FLOP/s of the current
// device, the CUDA stack's versions, the stream as an opaque pointer, and the host's fatal-error function. None
// of these dies: a missing device reads as zeros, and the caller decides what that means.
#include <nccl.h>

#include "cuda_common.cuh"

extern "C" int cuda_device_count(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) n = 0;
    cudaGetLastError(); // without a driver the probe leaves an error behind; later checks must not see it
    return n;
}

// cudaMemGetInfo and the compute capability, SM count and maximum SM clock (kHz) of the current device.
extern "C" void cuda_device_info(ShearDeviceInfo *info) {
    size_t f = 0, t = 0;
    if (cudaMemGetInfo(&f, &t) != cudaSuccess) {
        f = t = 0;
        cudaGetLastError(); // clear the error so later calls start clean
    }
    info->mem_free = f;
    info->mem_total = t;
    int dev = 0;
    info->cc_major = info->cc_minor = info->sm_count = info->clock_khz = 0;
    if (cudaGetDevice(&dev) != cudaSuccess) { cudaGetLastError(); return; }
    // attributes, not cudaDeviceProp: CUDA 13 dropped cudaDeviceProp::clockRate
    if (cudaDeviceGetAttribute(&info->cc_major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&info->cc_minor, cudaDevAttrComputeCapabilityMinor, dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&info->sm_count, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&info->clock_khz, cudaDevAttrClockRate, dev) != cudaSuccess) {
        info->cc_major = info->cc_minor = info->sm_count = info->clock_khz = 0;
        cudaGetLastError();
    }
}

// Build and runtime facts of the CUDA stack (cudart, cuBLAS, NCCL versions, visible devices): printed by
// `shear --version` and stored in checkpoints. Linking this file proves the build finds all three libraries.
extern "C" void cuda_version_info(char *buf, size_t len) {
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

// The backend's one stream (cuda_stream(), C++ linkage and a CUDA type) as an opaque pointer for C code.
extern "C" void *cuda_stream_handle(void) { return (void *)cuda_stream(); }
