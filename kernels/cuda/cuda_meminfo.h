// Device facts host code needs before it allocates anything: free memory (the up-front memory estimate,
// src/memest.c) and compute capability, SM count and clock (the peak FLOP/s behind MFU, src/flops.c).
// Compiled only when SHEAR_HAVE_CUDA. Both act on the current device (cudaSetDevice / cuda_select_device).
#ifndef SHEAR_CUDA_MEMINFO_H
#define SHEAR_CUDA_MEMINFO_H
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif
// cudaMemGetInfo: bytes free and in total on the current device; both 0 when there is no usable device.
void cuda_mem_info(size_t *free_bytes, size_t *total_bytes);
// Compute capability, SM count and the maximum SM clock in kHz of the current device; 0 on failure (never dies).
void cuda_device_props(int *cc_major, int *cc_minor, int *sm_count, int *clock_khz);
#ifdef __cplusplus
}
#endif
#endif
