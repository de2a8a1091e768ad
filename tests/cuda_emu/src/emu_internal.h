// Between the parts of the CUDA emulation: the launcher (emu_launch.cc, the execution model), the NCCL
// emulation (emu_nccl.cc) and the cuBLAS / cuBLASLt ones (emu_blas.cc, emu_blaslt.cc) ask the runtime
// (emu_runtime.cc: device memory, errors, device facts) about pointers, limits and errors; cuBLASLt computes
// with cuBLAS's product (emu_gemm); the emulation's own tests reach a few internals here. Not seen by Shear.
#ifndef SHEAR_CUDA_EMU_INTERNAL_H
#define SHEAR_CUDA_EMU_INTERNAL_H

#include <stddef.h>

#include "cublas_v2.h"
#include "cuda_runtime_api.h"

#ifdef __cplusplus
extern "C" {
#endif

// Every diagnosis of the emulation starts with this prefix, so tests can grep for it.
#define EMU_PREFIX "cuda-emu: "

// The last-error state of the runtime. sticky = 1 for faults a real GPU makes sticky (illegal address, launch
// failure, deadlock): every later runtime call then returns the error, as after a real kernel fault.
void emu_set_error(cudaError_t e, int sticky);
cudaError_t emu_sticky_error(void);

// The device memory allocation holding [p, p + bytes), or 0 when there is none (a host pointer, freed memory,
// or a range running past the end of its allocation). NULL with bytes 0 is fine (returns 1).
int emu_is_device_range(const void *p, size_t bytes);
// For messages: "allocation of N bytes at P, offset O" or "not device memory".
void emu_describe_pointer(const void *p, char *buf, size_t len);

// Checks the guard zones of every live allocation; on a corrupted one prints the allocation, the first
// overwritten offset and `after` (the kernel or call that ran last), sets the sticky cudaErrorIllegalAddress and
// returns 0.
int emu_check_guards(const char *after);

// The dynamic shared memory a kernel opted into with cudaFuncSetAttribute (0 when it never did).
int emu_func_max_dynamic_smem(const void *func);

// Facts of the current device (cudaGetDeviceProperties of the selected device).
const struct cudaDeviceProp *emu_device_prop(void);

// CUDA_VISIBLE_DEVICES as the real runtime reads it: a comma list of physical indices below `physical`; the
// first invalid entry (not a number, out of range, negative, listed before) ends the list, so "" and "-1" hide
// every device. Writes up to max physical indices to out, returns how many are visible.
int emu_parse_visible(const char *s, int physical, int *out, int max);

// The product of the emulated cublasGemmEx and cublasLtMatmul (emu_blas.cc), after each API's own argument
// checks (sizes >= 0, leading dimensions large enough, m, n > 0, no sticky error): column-major C[m,n] = alpha
// op(A) op(B) + beta C, A m x k as stored (k x m when transa), B k x n (n x k when transb), fp32 or (bf16 = 1)
// bf16 A and B, fp32 C. Operand spans as device memory (else the sticky fault, named after `who`), beta == 0
// never reads C, the guard zones are checked after.
cublasStatus_t emu_gemm(const char *who, int transa, int transb, int m, int n, int k, float alpha, const void *A,
                        int lda, const void *B, int ldb, float beta, float *C, int ldc, int bf16);

// Writes the digest of device-to-host copies now ("copies N bytes B fnv1a HEX" to SHEAR_CUDA_EMU_DIGEST, %r the
// MPI rank from the environment); a no-op without SHEAR_CUDA_EMU_DIGEST. Also runs at exit.
void emu_digest_flush(void);

#ifdef __cplusplus
}
#endif
#endif
