// Hard-concrete mask sampling and its gradient on the GPU. The formulas are the ones the CPU kernels and the
// host mask code use (shear/hardconcrete.h, host and device), computed in double and rounded to float once;
// each gate redraws its u from its own Philox counter, so the backward pass needs no stored noise and both
// backends draw the same u for the same (seed, counter).
#include "shear/hardconcrete.h"

#include "cuda_common.cuh"

#define MASK_THREADS 256

static __global__ void hardconcrete_sample_kernel(float *z, const float *log_alpha, size_t n, uint64_t seed,
                                                  uint64_t counter0) { // z, log_alpha [n]
    CUDA_GRID_STRIDE(i, n) z[i] = (float)hc_z(hc_y(hc_uniform(seed, counter0 + i), (double)log_alpha[i]));
}

static __global__ void hardconcrete_bwd_kernel(float *dlog_alpha, const float *dz, const float *log_alpha, size_t n,
                                               uint64_t seed, uint64_t counter0) { // all [n]
    CUDA_GRID_STRIDE(i, n) {
        double y = hc_y(hc_uniform(seed, counter0 + i), (double)log_alpha[i]);
        dlog_alpha[i] += (float)((double)dz[i] * hc_dz_da(y));
    }
}

extern "C" void cuda_hardconcrete_sample(float *z, const float *log_alpha, size_t n, uint64_t seed,
                                         uint64_t counter0) {
    if (n == 0) return;
    CUDA_LAUNCH(hardconcrete_sample_kernel, cuda_blocks(n, MASK_THREADS), MASK_THREADS, 0, cuda_stream(), z, log_alpha,
                n, seed, counter0);
    CUDA_LAUNCH_CHECK();
}

extern "C" void cuda_hardconcrete_bwd(float *dlog_alpha, const float *dz, const float *log_alpha, size_t n,
                                      uint64_t seed, uint64_t counter0) {
    if (n == 0 || !dlog_alpha) return;
    CUDA_LAUNCH(hardconcrete_bwd_kernel, cuda_blocks(n, MASK_THREADS), MASK_THREADS, 0, cuda_stream(), dlog_alpha, dz,
                log_alpha, n, seed, counter0);
    CUDA_LAUNCH_CHECK();
}
