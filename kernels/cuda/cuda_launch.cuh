// Kernel launches and shared-memory declarations of the CUDA backend, one source for nvcc and for the CPU
// emulation of the CUDA execution model (tests/cuda_emu, where g++ compiles kernels as C++: no <<< >>> syntax,
// and every block gets its own shared memory, poisoned with NaN when the block starts). Included by
// cuda_common.cuh; the emulation's own tests include it alone.
#ifndef SHEAR_CUDA_LAUNCH_CUH
#define SHEAR_CUDA_LAUNCH_CUH

#include <cuda_runtime.h>

// A templated kernel goes in parentheses: CUDA_LAUNCH((kern<64, 32>), grid, block, smem, stream, args...).
// SHEAR_CUDA_EMU is defined by the emulation's cuda_runtime.h.
#ifdef SHEAR_CUDA_EMU
#define CUDA_LAUNCH(kernel, grid, block, smem, stream, ...)                                                       \
    emu_launch(#kernel, kernel, dim3(grid), dim3(block), (size_t)(smem), stream, __VA_ARGS__)
#define CUDA_SHARED(T, name, n)                                                                                   \
    static char name##_site_;                                                                                     \
    T *const name = static_cast<T *>(emu_shared_static(&name##_site_, sizeof(T) * (n), alignof(T)))
#define CUDA_SHARED_DYNAMIC(T, name) T *const name = static_cast<T *>(emu_shared_dynamic())
#else
#define CUDA_LAUNCH(kernel, grid, block, smem, stream, ...) kernel<<<grid, block, smem, stream>>>(__VA_ARGS__)
#define CUDA_SHARED(T, name, n) __shared__ T name[n]
#define CUDA_SHARED_DYNAMIC(T, name) extern __shared__ __align__(16) T name[]
#endif

#endif
