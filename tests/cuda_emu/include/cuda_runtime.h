// CUDA emulation: the emulated cuda_runtime.h, found before the toolkit's by the -DSHEAR_CUDA_EMU=ON build. The
// runtime API (cuda_runtime_api.h) and, for C++ (the .cu files compiled by g++), the device side
// (cuda_emu_kernel.h) and the typed overloads the toolkit's cuda_runtime.h adds for C++.
#ifndef SHEAR_CUDA_EMU_RUNTIME_H
#define SHEAR_CUDA_EMU_RUNTIME_H
#include "cuda_runtime_api.h"
#ifdef __cplusplus
#include "cuda_emu_kernel.h"
// as the toolkit's: cudaMalloc(&typed_ptr, bytes) without a cast
template <class T> static inline cudaError_t cudaMalloc(T **p, size_t bytes) {
    return cudaMalloc(reinterpret_cast<void **>(p), bytes);
}
template <class T> static inline cudaError_t cudaMallocHost(T **p, size_t bytes) {
    return cudaMallocHost(reinterpret_cast<void **>(p), bytes);
}
#endif
#endif
