// Shared by every file of the CUDA backend: the error macros (CUDA_CHECK, CUBLAS_CHECK, CUDA_LAUNCH_CHECK), the
// backend's one stream and its cuBLASLt handle (created by cuda_select_device in cuda_backend.cu), the
// grid-size helper and a grow-only device scratch per user. Errors die through CUDA_DIE (kernel_die, shared with
// the CPU backend), which calls the host's fatal-error function (ShearOps.set_fatal: shear_die), so a failing GPU rank prints one message and takes the
// MPI job down with it like any other error. Kernels never include the host's headers (shear/common.h).
#ifndef SHEAR_CUDA_COMMON_CUH
#define SHEAR_CUDA_COMMON_CUH

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "../fatal/kernel_fatal.h"
#include "cuda_launch.cuh"
#include "cuda_ops.h"

#define CUDA_DIE(...) kernel_die(__FILE__, __LINE__, __VA_ARGS__)

// A hint for the error codes a user can act on; the rest point at the tool that finds the failing kernel.
static inline const char *cuda_error_hint(cudaError_t e) {
    switch (e) {
    case cudaErrorMemoryAllocation:
        return "the GPU is out of memory: lower micro_batch or seq_len, or use more GPUs";
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
        return "no usable GPU: check nvidia-smi, the driver version and CUDA_VISIBLE_DEVICES";
    case cudaErrorInvalidDevice:
        return "the device index is not one of the visible GPUs (CUDA_VISIBLE_DEVICES)";
    case cudaErrorInvalidConfiguration:
        return "a kernel was launched with a bad grid or block size (a shape the kernel does not support)";
    case cudaErrorIllegalAddress:
    case cudaErrorMisalignedAddress:
        return "a kernel accessed memory out of bounds: rerun under compute-sanitizer";
    case cudaErrorLaunchTimeout:
        return "a kernel ran into the display watchdog: use a compute GPU";
    default:
        return "rerun with CUDA_LAUNCH_BLOCKING=1 (or compute-sanitizer) to find the failing kernel";
    }
}

static inline const char *cublas_error_hint(cublasStatus_t s) {
    switch (s) {
    case CUBLAS_STATUS_NOT_INITIALIZED:
        return "cuBLAS has no handle: cuda_select_device must run before any op";
    case CUBLAS_STATUS_ALLOC_FAILED:
        return "the GPU is out of memory: lower micro_batch or seq_len, or use more GPUs";
    case CUBLAS_STATUS_INVALID_VALUE:
        return "a matrix size or leading dimension is invalid (negative, zero or above 2^31)";
    case CUBLAS_STATUS_ARCH_MISMATCH:
    case CUBLAS_STATUS_NOT_SUPPORTED:
        return "this GPU does not support the requested operation (Shear targets sm_80 and newer)";
    default:
        return "rerun with CUDA_LAUNCH_BLOCKING=1 and CUBLAS_LOGINFO_DBG=1 for details";
    }
}

#define CUDA_CHECK(call)                                                                                          \
    do {                                                                                                          \
        cudaError_t cuda_err_ = (call);                                                                           \
        if (cuda_err_ != cudaSuccess)                                                                             \
            kernel_die(__FILE__, __LINE__, "CUDA error %s (%s) in %s; hint: %s", cudaGetErrorName(cuda_err_),      \
                      cudaGetErrorString(cuda_err_), #call, cuda_error_hint(cuda_err_));                          \
    } while (0)

// CUBLAS_CHECK_FOR(call, what): `what` (a string expression, evaluated only on failure) names what the call
// worked on, e.g. the GEMM's shape.
#define CUBLAS_CHECK_FOR(call, what)                                                                              \
    do {                                                                                                          \
        cublasStatus_t cublas_st_ = (call);                                                                       \
        if (cublas_st_ != CUBLAS_STATUS_SUCCESS) {                                                                \
            const char *cublas_what_ = (what);                                                                    \
            kernel_die(__FILE__, __LINE__, "cuBLAS error %s (%d) in %s%s%s; hint: %s",                            \
                      cublasGetStatusString(cublas_st_), (int)cublas_st_, #call, cublas_what_ ? " for " : "",      \
                      cublas_what_ ? cublas_what_ : "", cublas_error_hint(cublas_st_));                           \
        }                                                                                                         \
    } while (0)
#define CUBLAS_CHECK(call) CUBLAS_CHECK_FOR(call, (const char *)NULL)

// After every <<<...>>>: a bad launch configuration is reported here, at its own line. Kernel faults are
// asynchronous and surface at the next synchronising call; build with -DSHEAR_CUDA_SYNC_LAUNCHES to make every
// launch wait for its kernel, so the fault is reported at the launch that caused it.
#ifdef SHEAR_CUDA_SYNC_LAUNCHES
#define CUDA_LAUNCH_CHECK()                                                                                       \
    do {                                                                                                          \
        CUDA_CHECK(cudaGetLastError());                                                                           \
        CUDA_CHECK(cudaStreamSynchronize(cuda_stream()));                                                         \
    } while (0)
#else
#define CUDA_LAUNCH_CHECK() CUDA_CHECK(cudaGetLastError())
#endif

// The objects cuda_select_device created; every kernel, copy and cuBLASLt call goes to this one stream, so the
// ops run in the order the host calls them and the host only waits where it reads a result.
// cuBLASLt has no math mode: the GEMMs (cuda_gemm_rm) pass CUBLAS_COMPUTE_32F, so fp32 GEMMs run on the fp32
// FMA units, never TF32 (TF32 keeps 10 mantissa bits and would break fp32 parity with the CPU backend; it is
// only used when asked for, by a *_FAST_TF32 compute type, which Shear never does).
cudaStream_t cuda_stream(void);
cublasLtHandle_t cuda_cublaslt(void);
// Streaming multiprocessors of the selected device (sizes grids of grid-stride loops).
int cuda_sm_count(void);

// Blocks for a grid-stride loop over n items with `threads` per block: enough to fill the device, never more
// than the items need, at least 1. Only for kernels whose result does not depend on the grid size (pointwise);
// reductions choose a fixed grid so their summation order is the same on every GPU.
static inline unsigned cuda_blocks(size_t n, int threads) {
    size_t need = (n + (size_t)threads - 1) / (size_t)threads;
    size_t cap = (size_t)cuda_sm_count() * 32;
    size_t b = need < cap ? need : cap;
    return (unsigned)(b > 0 ? b : 1);
}

// Grow-only device workspace, one per user so that nested ops never share one (e.g. the classifier calls the
// matmul, both with scratch). Valid until the next cuda_scratch call for the same slot; growing waits for the
// stream first, so work still queued on the old buffer finishes before it is freed. Contents are undefined.
enum {
    CUDA_SCRATCH_POINTWISE = 0, // cuda_pointwise.cu (reductions, embedding sort, rope table)
    CUDA_SCRATCH_NORM,          // cuda_norm.cu (column partial sums)
    CUDA_SCRATCH_MASKS,         // cuda_masks.cu
    CUDA_SCRATCH_ATTENTION,     // cuda_attention.cu
    CUDA_SCRATCH_MATMUL,        // cuda_matmul.cu: the cuBLASLt workspace, SHEAR_CUDA_GEMM_WORKSPACE_BYTES
    CUDA_SCRATCH_CLASSIFIER,    // cuda_classifier.cu (logit chunks)
    CUDA_SCRATCH_BF16_A,        // cuda_matmul.cu: bf16 copies of the GEMM operands (run.precision: bf16)
    CUDA_SCRATCH_BF16_B,
    CUDA_SCRATCH_BF16_SHARED,   // an operand two GEMMs share: matmul_bwd's dout, the classifier's dlogits
    CUDA_SCRATCH_BF16_HEAD,     // the classifier's head, rounded once per call
    CUDA_SCRATCH_BF16_THEAD,    // the distillation teacher's head
    CUDA_SCRATCH_SLOTS
};
void *cuda_scratch(int slot, size_t bytes);

// ---- the GEMMs' precision (cuda_matmul.cu; ShearOps.set_precision: cuda_set_precision) ----
// bf16 precision: x[n] rounded to bf16 (round to nearest even) into scratch `slot`; NULL in fp32.
const __nv_bfloat16 *cuda_bf16_copy(int slot, const float *x, size_t n);
// Row-major C[M,N] = alpha op(A) op(B) + beta C in the backend's precision (A [M,K] or [K,M] when transA, row
// length lda; B likewise). In bf16 A and B are rounded (Ah / Bh: bf16 copies made ahead by cuda_bf16_copy, NULL:
// rounded here) and multiplied with fp32 accumulation into the fp32 C.
void cuda_gemm_rm(int transA, int transB, size_t M, size_t N, size_t K, float alpha, const float *A,
                  const __nv_bfloat16 *Ah, size_t lda, const float *B, const __nv_bfloat16 *Bh, size_t ldb, float beta,
                  float *C, size_t ldc);

// Device to host copy on the backend stream, waiting for it (and for everything queued before it).
void cuda_to_host(void *dst_host, const void *src, size_t bytes);

// ---- device helpers ----

// for (size_t i = ...; i < n; ...) over the whole grid; size_t so that n may exceed 2^31
#define CUDA_GRID_STRIDE(i, n)                                                                                    \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (size_t)(n); i += (size_t)gridDim.x * blockDim.x)

// Sum of v over the block, returned to every thread. blockDim.x must be a multiple of 32 (at most 1024) and every
// thread of the block must call it. The order of the additions depends only on blockDim.x, so the result is
// the same bits on every run and every GPU; the xor butterfly gives all lanes the same bits (a+b == b+a).
template <typename T> __device__ __forceinline__ T cuda_block_sum(T v) {
    CUDA_SHARED(T, warp_sums, 32);
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
    __syncthreads(); // readers of a previous call are done with warp_sums
    if (lane == 0) warp_sums[warp] = v;
    __syncthreads();
    v = lane < nwarps ? warp_sums[lane] : T(0);
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

#endif
