// CUDA emulation: the emulated cuda_runtime.h, found before the toolkit's by the -DSHEAR_CUDA_EMU=ON build. The
// runtime API (cuda_runtime_api.h) and, for C++ (the .cu files compiled by g++), the device side
// (cuda_emu_kernel.h).
#ifndef SHEAR_CUDA_EMU_RUNTIME_H
#define SHEAR_CUDA_EMU_RUNTIME_H
#include "cuda_runtime_api.h"
#ifdef __cplusplus
#include "cuda_emu_kernel.h"
#endif
#endif
