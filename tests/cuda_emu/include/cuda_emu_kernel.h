// CUDA emulation, device side: what a .cu file of kernels/cuda sees when g++ compiles it as C++ against the
// emulation (-DSHEAR_CUDA_EMU=ON): the function qualifiers, the built-in indices, vector types, warp shuffles,
// barriers, atomics, the device math Shear uses, shared memory and the launch. The execution model behind them
// is tests/cuda_emu/src/emu_launch.cc: every CUDA thread is a fiber, the threads of a block run one at a time
// on one host thread in a chosen order between barriers (SHEAR_CUDA_EMU_ORDER), blocks spread over OpenMP
// threads. Included by the emulated cuda_runtime.h; C++ only.
#ifndef SHEAR_CUDA_EMU_KERNEL_H
#define SHEAR_CUDA_EMU_KERNEL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <tuple>
#include <type_traits>
#include <utility>

#include "cuda_runtime_api.h"

// ---- qualifiers ----
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
// __shared__ is deliberately not defined: kernels declare shared memory with CUDA_SHARED / CUDA_SHARED_DYNAMIC
// (cuda_common.cuh), which the emulation gives one per block, poisoned with NaN when the block starts.

// ---- vector types and indices ----
struct uint3 {
    unsigned x, y, z;
};
struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
    constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
};
struct __align__(8) float2 {
    float x, y;
};
struct __align__(16) float4 {
    float x, y, z, w;
};
struct __align__(16) int4 {
    int x, y, z, w;
};
struct __align__(16) uint4 {
    unsigned x, y, z, w;
};
static inline float2 make_float2(float x, float y) { return float2{x, y}; }
static inline float4 make_float4(float x, float y, float z, float w) { return float4{x, y, z, w}; }

// What a running CUDA thread sees; the launcher points emu_view at the running fiber's copy.
struct EmuView {
    uint3 tid, bid;   // threadIdx, blockIdx
    dim3 bdim, gdim;  // blockDim, gridDim
};
extern thread_local const EmuView *emu_view;
#define threadIdx (emu_view->tid)
#define blockIdx (emu_view->bid)
#define blockDim (emu_view->bdim)
#define gridDim (emu_view->gdim)
#define warpSize 32

// ---- barriers and warp operations (emu_launch.cc) ----
enum EmuWarpOp { EMU_SYNCWARP, EMU_SHFL_IDX, EMU_SHFL_XOR, EMU_SHFL_DOWN, EMU_SHFL_UP, EMU_BALLOT };
void __syncthreads(void);
// Waits until every lane of `mask` arrives at the same warp operation, then returns the value of the lane that
// `op`/`arg`/`width` name (EMU_BALLOT: the ballot of every lane's `bits != 0`).
uint64_t emu_warp_op(EmuWarpOp op, unsigned mask, uint64_t bits, int arg, int width);

static inline void __syncwarp(unsigned mask = 0xffffffffu) { emu_warp_op(EMU_SYNCWARP, mask, 0, 0, 32); }

template <typename T> static inline T emu_shfl(EmuWarpOp op, unsigned mask, T v, int arg, int width) {
    static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value, "shuffles move at most 8 bytes");
    uint64_t bits = 0;
    memcpy(&bits, &v, sizeof v);
    bits = emu_warp_op(op, mask, bits, arg, width);
    T out;
    memcpy(&out, &bits, sizeof out);
    return out;
}
template <typename T> static inline T __shfl_sync(unsigned mask, T v, int src, int width = 32) {
    return emu_shfl(EMU_SHFL_IDX, mask, v, src, width);
}
template <typename T> static inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {
    return emu_shfl(EMU_SHFL_XOR, mask, v, lane_mask, width);
}
template <typename T> static inline T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
    return emu_shfl(EMU_SHFL_DOWN, mask, v, (int)delta, width);
}
template <typename T> static inline T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32) {
    return emu_shfl(EMU_SHFL_UP, mask, v, (int)delta, width);
}
static inline unsigned __ballot_sync(unsigned mask, int pred) {
    return (unsigned)emu_warp_op(EMU_BALLOT, mask, pred != 0, 0, 32);
}
static inline int __any_sync(unsigned mask, int pred) { return __ballot_sync(mask, pred) != 0; }
static inline int __all_sync(unsigned mask, int pred) { return __ballot_sync(mask, pred) == __ballot_sync(mask, 1); }
static inline void __threadfence(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
static inline void __threadfence_block(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

// ---- shared memory (emu_launch.cc): the running block's ----
// Static: one region per declaration site (and template instantiation: `site` is a local static of it).
void *emu_shared_static(const void *site, size_t bytes, size_t align);
// Dynamic: the launch's third configuration argument, 16-byte aligned.
void *emu_shared_dynamic(void);

// ---- atomics: blocks run on several host threads, so these are real atomics ----
template <typename T> static inline T atomicAdd(T *a, T v) {
    if constexpr (std::is_floating_point<T>::value) {
        T old = __atomic_load_n(a, __ATOMIC_SEQ_CST);
        while (!__atomic_compare_exchange_n(a, &old, old + v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
        }
        return old;
    } else {
        return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST);
    }
}
template <typename T> static inline T atomicSub(T *a, T v) { return __atomic_fetch_sub(a, v, __ATOMIC_SEQ_CST); }
template <typename T> static inline T atomicExch(T *a, T v) { return __atomic_exchange_n(a, v, __ATOMIC_SEQ_CST); }
template <typename T> static inline T atomicCAS(T *a, T expect, T v) {
    __atomic_compare_exchange_n(a, &expect, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return expect;
}
template <typename T> static inline T atomicMin(T *a, T v) {
    T old = __atomic_load_n(a, __ATOMIC_SEQ_CST);
    while (v < old && !__atomic_compare_exchange_n(a, &old, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
    }
    return old;
}
template <typename T> static inline T atomicMax(T *a, T v) {
    T old = __atomic_load_n(a, __ATOMIC_SEQ_CST);
    while (v > old && !__atomic_compare_exchange_n(a, &old, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
    }
    return old;
}

// ---- device math: IEEE round-to-nearest like the GPU's _rn intrinsics; the build uses -ffp-contract=off so
// no product is fused where nvcc would not fuse it either (nvcc may fuse a*b+c elsewhere: last-ulp differences
// between the emulation and a GPU are expected, logic errors are not) ----
static inline float __fmul_rn(float a, float b) { return a * b; }
static inline float __fadd_rn(float a, float b) { return a + b; }
static inline float __fsub_rn(float a, float b) { return a - b; }
static inline float __fdiv_rn(float a, float b) { return a / b; }
static inline double __dmul_rn(double a, double b) { return a * b; }
static inline double __dadd_rn(double a, double b) { return a + b; }
static inline double __dsub_rn(double a, double b) { return a - b; }
static inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
// __expf, __logf: glibc declares both itself
static inline unsigned __float_as_uint(float x) {
    unsigned u;
    memcpy(&u, &x, 4);
    return u;
}
static inline float __uint_as_float(unsigned u) {
    float x;
    memcpy(&x, &u, 4);
    return x;
}
static inline int __float_as_int(float x) { return (int)__float_as_uint(x); }
static inline float __int_as_float(int i) { return __uint_as_float((unsigned)i); }
static inline int min(int a, int b) { return a < b ? a : b; }
static inline int max(int a, int b) { return a > b ? a : b; }
static inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
static inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
static inline long long min(long long a, long long b) { return a < b ? a : b; }
static inline long long max(long long a, long long b) { return a > b ? a : b; }
static inline unsigned long min(unsigned long a, unsigned long b) { return a < b ? a : b; }
static inline unsigned long max(unsigned long a, unsigned long b) { return a > b ? a : b; }
static inline float min(float a, float b) { return fminf(a, b); }
static inline float max(float a, float b) { return fmaxf(a, b); }

// ---- the launch ----
// What the launcher needs of one kernel launch; body(arg) runs the kernel once, as the calling fiber's thread.
struct EmuLaunch {
    const char *name; // the kernel as the launch wrote it
    const void *func; // its address: cudaFuncSetAttribute's key
    dim3 grid, block;
    size_t smem; // dynamic shared memory bytes
    void (*body)(void *arg);
    void *arg;
};
void emu_run(const EmuLaunch *L);
// A pointer argument that is not device memory (a host pointer, freed memory): printed and made a sticky
// illegal-address error, as the first access of the kernel would on a GPU. Returns 0 then.
int emu_check_kernel_pointer(const char *kernel, int index, const void *p);

template <typename T> static inline int emu_check_arg(const char *kernel, int index, const T &a) {
    if constexpr (std::is_pointer<T>::value) return emu_check_kernel_pointer(kernel, index, (const void *)a);
    else return 1;
}

template <typename... P> struct EmuCall {
    void (*kernel)(P...);
    std::tuple<typename std::decay<P>::type...> args; // converted once, as a launch converts its arguments
    static void body(void *self) {
        EmuCall *c = static_cast<EmuCall *>(self);
        std::apply(c->kernel, c->args); // each thread gets its own copies of the parameters
    }
};

// kernel<<<grid, block, smem, stream>>>(args...) of the CUDA build (CUDA_LAUNCH in cuda_common.cuh).
template <typename... P, typename... A>
void emu_launch(const char *name, void (*kernel)(P...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream,
                A &&...args) {
    static_assert(sizeof...(P) == sizeof...(A), "a kernel launch needs one argument per kernel parameter");
    (void)stream; // streams are synchronous in the emulation
    EmuCall<P...> call{kernel, std::tuple<typename std::decay<P>::type...>(std::forward<A>(args)...)};
    int ok = 1, index = 0;
    std::apply([&](const auto &...a) { ((ok = emu_check_arg(name, index++, a) && ok), ...); }, call.args);
    if (!ok) return;
    EmuLaunch L = {name, (const void *)kernel, grid, block, smem, &EmuCall<P...>::body, &call};
    emu_run(&L);
}

#endif
