// Free device memory and the device facts that give its peak FLOP/s (see cuda_meminfo.h). Never dies: a
// missing device reads as zeros, and the caller decides what that means (no estimate check, no MFU).
#include <cuda_runtime.h>

#include "cuda_meminfo.h"

extern "C" void cuda_mem_info(size_t *free_bytes, size_t *total_bytes) {
    size_t f = 0, t = 0;
    if (cudaMemGetInfo(&f, &t) != cudaSuccess) {
        f = t = 0;
        cudaGetLastError(); // clear the error so later calls start clean
    }
    *free_bytes = f;
    *total_bytes = t;
}

extern "C" void cuda_device_props(int *cc_major, int *cc_minor, int *sm_count, int *clock_khz) {
    int dev = 0;
    *cc_major = *cc_minor = *sm_count = *clock_khz = 0;
    if (cudaGetDevice(&dev) != cudaSuccess) { cudaGetLastError(); return; }
    // attributes, not cudaDeviceProp: CUDA 13 dropped cudaDeviceProp::clockRate
    if (cudaDeviceGetAttribute(cc_major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess ||
        cudaDeviceGetAttribute(cc_minor, cudaDevAttrComputeCapabilityMinor, dev) != cudaSuccess ||
        cudaDeviceGetAttribute(sm_count, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess ||
        cudaDeviceGetAttribute(clock_khz, cudaDevAttrClockRate, dev) != cudaSuccess) {
        *cc_major = *cc_minor = *sm_count = *clock_khz = 0;
        cudaGetLastError();
    }
}
