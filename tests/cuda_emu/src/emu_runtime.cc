// CUDA emulation, the runtime API of cuda_runtime_api.h on the CPU: errors (sticky after a fault, like a real
// kernel fault), one emulated H100 SXM, device memory with guard zones and NaN poison, copies that check their
// direction, synchronous streams and events, kernel attributes. The internal functions of emu_internal.h serve
// the launcher (emu_launch.cc).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <map>
#include <mutex>
#include <set>

#include "emu_internal.h"

namespace {

constexpr size_t GUARD = 256;           // bytes before and after every allocation
constexpr unsigned char GUARD_BYTE = 0xa5;
constexpr size_t TOTAL_MEM = 80ull << 30; // an H100 80 GB

std::mutex g_lock; // kernels run on OpenMP threads
cudaError_t g_last = cudaSuccess, g_sticky = cudaSuccess;
std::map<const char *, size_t> g_allocs; // user address -> bytes
size_t g_used = 0;
std::map<const void *, int> g_max_dyn_smem;
std::set<void *> g_handles; // live streams and events
int g_device = 0;

cudaError_t fail(cudaError_t e) {
    g_last = e;
    return e;
}

cudaDeviceProp make_prop() {
    cudaDeviceProp p;
    memset(&p, 0, sizeof p);
    snprintf(p.name, sizeof p.name, "NVIDIA H100 80GB HBM3 (cuda-emu)");
    for (int i = 0; i < 16; i++) p.uuid.bytes[i] = (char)(0x5e + i);
    p.totalGlobalMem = TOTAL_MEM;
    p.sharedMemPerBlock = 48 * 1024;
    p.sharedMemPerBlockOptin = 232448;
    p.sharedMemPerMultiprocessor = 233472;
    p.regsPerBlock = 65536;
    p.warpSize = 32;
    p.maxThreadsPerBlock = 1024;
    p.maxThreadsDim[0] = 1024, p.maxThreadsDim[1] = 1024, p.maxThreadsDim[2] = 64;
    p.maxGridSize[0] = 2147483647, p.maxGridSize[1] = 65535, p.maxGridSize[2] = 65535;
    p.major = 9, p.minor = 0;
    p.multiProcessorCount = 132;
    p.l2CacheSize = 50 << 20;
    return p;
}
const cudaDeviceProp g_prop = make_prop();

// The live allocation holding p, or end(); caller holds g_lock.
std::map<const char *, size_t>::iterator find_alloc(const void *p) {
    auto it = g_allocs.upper_bound((const char *)p);
    if (it == g_allocs.begin()) return g_allocs.end();
    --it;
    if ((const char *)p <= it->first + it->second) return it;
    return g_allocs.end();
}

int guard_ok(const char *user, size_t bytes, long *where) {
    const unsigned char *lo = (const unsigned char *)user - GUARD, *hi = (const unsigned char *)user + bytes;
    for (size_t i = 0; i < GUARD; i++) {
        if (lo[i] != GUARD_BYTE) { *where = -(long)(GUARD - i); return 0; }
        if (hi[i] != GUARD_BYTE) { *where = (long)i; return 0; }
    }
    return 1;
}

int in_range(const void *p, size_t bytes) {
    if (!p) return bytes == 0;
    auto it = find_alloc(p);
    return it != g_allocs.end() && (const char *)p + bytes <= it->first + it->second;
}

} // namespace

// ---- for the launcher ----

void emu_set_error(cudaError_t e, int sticky) {
    std::lock_guard<std::mutex> g(g_lock);
    g_last = e;
    if (sticky && g_sticky == cudaSuccess) g_sticky = e;
}

cudaError_t emu_sticky_error(void) { return g_sticky; }

int emu_is_device_range(const void *p, size_t bytes) {
    std::lock_guard<std::mutex> g(g_lock);
    return in_range(p, bytes);
}

void emu_describe_pointer(const void *p, char *buf, size_t len) {
    std::lock_guard<std::mutex> g(g_lock);
    auto it = find_alloc(p);
    if (it == g_allocs.end()) snprintf(buf, len, "not device memory (a host pointer, or freed)");
    else snprintf(buf, len, "offset %zu of the allocation of %zu bytes at %p", (size_t)((const char *)p - it->first),
                  it->second, (const void *)it->first);
}

int emu_check_guards(const char *after) {
    std::lock_guard<std::mutex> g(g_lock);
    for (auto &a : g_allocs) {
        long where = 0;
        if (!guard_ok(a.first, a.second, &where)) {
            fprintf(stderr, EMU_PREFIX "out-of-bounds write after %s: %ld bytes %s the allocation of %zu bytes at %p\n",
                    after, where < 0 ? -where : where + 1, where < 0 ? "before" : "past the end of", a.second,
                    (const void *)a.first);
            g_last = cudaErrorIllegalAddress;
            if (g_sticky == cudaSuccess) g_sticky = cudaErrorIllegalAddress;
            return 0;
        }
    }
    return 1;
}

int emu_func_max_dynamic_smem(const void *func) {
    std::lock_guard<std::mutex> g(g_lock);
    auto it = g_max_dyn_smem.find(func);
    return it == g_max_dyn_smem.end() ? 0 : it->second;
}

const cudaDeviceProp *emu_device_prop(void) { return &g_prop; }

// ---- the runtime API ----

extern "C" {

const char *cudaGetErrorName(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInitializationError: return "cudaErrorInitializationError";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection: return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorInsufficientDriver: return "cudaErrorInsufficientDriver";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotReady: return "cudaErrorNotReady";
    case cudaErrorIllegalAddress: return "cudaErrorIllegalAddress";
    case cudaErrorLaunchOutOfResources: return "cudaErrorLaunchOutOfResources";
    case cudaErrorLaunchTimeout: return "cudaErrorLaunchTimeout";
    case cudaErrorMisalignedAddress: return "cudaErrorMisalignedAddress";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    default: return "cudaErrorUnknown";
    }
}

const char *cudaGetErrorString(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorIllegalAddress: return "an illegal memory access was encountered";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    default: return cudaGetErrorName(e);
    }
}

cudaError_t cudaGetLastError(void) {
    std::lock_guard<std::mutex> g(g_lock);
    cudaError_t e = g_last;
    g_last = g_sticky; // a sticky error stays
    return e;
}

cudaError_t cudaPeekAtLastError(void) { return g_last; }

cudaError_t cudaGetDeviceCount(int *count) {
    *count = 1;
    return cudaSuccess;
}

cudaError_t cudaSetDevice(int dev) {
    if (dev != 0) return fail(cudaErrorInvalidDevice);
    g_device = dev;
    return g_sticky;
}

cudaError_t cudaGetDevice(int *dev) {
    *dev = g_device;
    return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *prop, int dev) {
    if (dev != 0) return fail(cudaErrorInvalidDevice);
    *prop = g_prop;
    return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attr, int dev) {
    if (dev != 0) return fail(cudaErrorInvalidDevice);
    switch (attr) {
    case cudaDevAttrMaxThreadsPerBlock: *value = g_prop.maxThreadsPerBlock; break;
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = (int)g_prop.sharedMemPerBlock; break;
    case cudaDevAttrWarpSize: *value = 32; break;
    case cudaDevAttrClockRate: *value = 1980000; break;
    case cudaDevAttrMultiProcessorCount: *value = g_prop.multiProcessorCount; break;
    case cudaDevAttrComputeCapabilityMajor: *value = g_prop.major; break;
    case cudaDevAttrComputeCapabilityMinor: *value = g_prop.minor; break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = (int)g_prop.sharedMemPerBlockOptin; break;
    default: return fail(cudaErrorInvalidValue);
    }
    return cudaSuccess;
}

cudaError_t cudaRuntimeGetVersion(int *v) {
    *v = CUDART_VERSION;
    return cudaSuccess;
}

cudaError_t cudaDriverGetVersion(int *v) {
    *v = CUDART_VERSION;
    return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes) {
    std::lock_guard<std::mutex> g(g_lock);
    *total_bytes = TOTAL_MEM;
    *free_bytes = TOTAL_MEM - g_used;
    return g_sticky;
}

cudaError_t cudaDeviceSynchronize(void) {
    emu_check_guards("cudaDeviceSynchronize");
    return g_sticky;
}

cudaError_t cudaMalloc(void **p, size_t bytes) {
    *p = nullptr;
    if (g_sticky) return g_sticky;
    std::lock_guard<std::mutex> g(g_lock);
    if (bytes > TOTAL_MEM - g_used) return fail(cudaErrorMemoryAllocation);
    const size_t body = (bytes + GUARD - 1) / GUARD * GUARD;
    char *base = (char *)aligned_alloc(GUARD, GUARD + body + GUARD);
    if (!base) return fail(cudaErrorMemoryAllocation);
    char *user = base + GUARD;
    memset(base, GUARD_BYTE, GUARD);
    memset(user, 0xff, bytes); // NaN: a read of memory nobody wrote shows in the result
    memset(user + bytes, GUARD_BYTE, body - bytes + GUARD);
    g_allocs[user] = bytes;
    g_used += bytes;
    *p = user;
    return cudaSuccess;
}

cudaError_t cudaFree(void *p) {
    if (!p) return g_sticky;
    emu_check_guards("cudaFree");
    std::lock_guard<std::mutex> g(g_lock);
    auto it = g_allocs.find((const char *)p);
    if (it == g_allocs.end()) {
        fprintf(stderr, EMU_PREFIX "cudaFree(%p), which is not a live device allocation\n", p);
        return fail(cudaErrorInvalidValue);
    }
    g_used -= it->second;
    g_allocs.erase(it);
    free((char *)p - GUARD);
    return g_sticky;
}

cudaError_t cudaMallocHost(void **p, size_t bytes) {
    *p = aligned_alloc(256, (bytes + 255) / 256 * 256 + 256);
    return *p ? cudaSuccess : fail(cudaErrorMemoryAllocation);
}

cudaError_t cudaFreeHost(void *p) {
    free(p);
    return cudaSuccess;
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind) {
    if (g_sticky) return g_sticky;
    if (bytes == 0) return cudaSuccess;
    int dst_dev, src_dev;
    {
        std::lock_guard<std::mutex> g(g_lock);
        dst_dev = in_range(dst, bytes);
        src_dev = in_range(src, bytes);
    }
    const int want_dst = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
    const int want_src = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
    if (kind != cudaMemcpyDefault && kind != cudaMemcpyHostToHost && (dst_dev != want_dst || src_dev != want_src)) {
        char d[160], s[160];
        emu_describe_pointer(dst, d, sizeof d);
        emu_describe_pointer(src, s, sizeof s);
        fprintf(stderr, EMU_PREFIX "cudaMemcpy of %zu bytes, kind %d: destination %p is %s, source %p is %s\n", bytes,
                (int)kind, dst, d, src, s);
        return fail(cudaErrorInvalidValue);
    }
    memcpy(dst, src, bytes);
    return emu_check_guards("cudaMemcpy") ? cudaSuccess : g_sticky;
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
    return cudaMemcpy(dst, src, bytes, kind);
}

cudaError_t cudaMemset(void *p, int value, size_t bytes) {
    if (g_sticky) return g_sticky;
    if (!emu_is_device_range(p, bytes)) {
        fprintf(stderr, EMU_PREFIX "cudaMemset of %zu bytes at %p, which is not inside a device allocation\n", bytes, p);
        return fail(cudaErrorInvalidValue);
    }
    memset(p, value, bytes);
    return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void *p, int value, size_t bytes, cudaStream_t) { return cudaMemset(p, value, bytes); }

cudaError_t cudaMemset2DAsync(void *p, size_t pitch, int value, size_t width, size_t height, cudaStream_t) {
    if (height == 0 || width == 0) return g_sticky;
    if (width > pitch) return fail(cudaErrorInvalidValue);
    for (size_t r = 0; r < height; r++)
        if (cudaError_t e = cudaMemset((char *)p + r * pitch, value, width)) return e;
    return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t *st) { return cudaStreamCreateWithFlags(st, 0); }

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *st, unsigned) {
    void *h = malloc(1);
    std::lock_guard<std::mutex> g(g_lock);
    g_handles.insert(h);
    *st = (cudaStream_t)h;
    return cudaSuccess;
}

static cudaError_t check_handle(const void *h) {
    if (!h) return cudaSuccess; // the legacy default stream
    std::lock_guard<std::mutex> g(g_lock);
    return g_handles.count((void *)h) ? cudaSuccess : (g_last = cudaErrorInvalidResourceHandle);
}

static cudaError_t destroy_handle(void *h) {
    if (cudaError_t e = check_handle(h)) return e;
    std::lock_guard<std::mutex> g(g_lock);
    g_handles.erase(h);
    free(h);
    return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t st) { return destroy_handle(st); }

cudaError_t cudaStreamSynchronize(cudaStream_t st) {
    if (cudaError_t e = check_handle(st)) return e;
    emu_check_guards("cudaStreamSynchronize");
    return g_sticky;
}

cudaError_t cudaStreamQuery(cudaStream_t st) { return cudaStreamSynchronize(st); }

struct EmuEvent {
    double t;
};

cudaError_t cudaEventCreate(cudaEvent_t *ev) {
    EmuEvent *e = (EmuEvent *)calloc(1, sizeof *e);
    std::lock_guard<std::mutex> g(g_lock);
    g_handles.insert(e);
    *ev = e;
    return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t ev) { return ev ? destroy_handle(ev) : fail(cudaErrorInvalidResourceHandle); }

cudaError_t cudaEventRecord(cudaEvent_t ev, cudaStream_t st) {
    if (!ev) return fail(cudaErrorInvalidResourceHandle);
    if (cudaError_t e = check_handle(ev)) return e;
    if (cudaError_t e = check_handle(st)) return e;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ev->t = ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
    return g_sticky;
}

cudaError_t cudaEventSynchronize(cudaEvent_t ev) { return ev ? check_handle(ev) : fail(cudaErrorInvalidResourceHandle); }

cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end) {
    if (!start || !end || check_handle(start) || check_handle(end)) return fail(cudaErrorInvalidResourceHandle);
    *ms = (float)(end->t - start->t);
    return cudaSuccess;
}

cudaError_t cudaStreamWaitEvent(cudaStream_t st, cudaEvent_t ev, unsigned) {
    if (!ev) return fail(cudaErrorInvalidResourceHandle);
    if (cudaError_t e = check_handle(ev)) return e;
    return check_handle(st);
}

cudaError_t cudaFuncSetAttribute_emu(const void *func, cudaFuncAttribute attr, int value) {
    if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize && attr != cudaFuncAttributePreferredSharedMemoryCarveout)
        return fail(cudaErrorInvalidValue);
    if (attr == cudaFuncAttributePreferredSharedMemoryCarveout) return value >= -1 && value <= 100 ? cudaSuccess : fail(cudaErrorInvalidValue);
    if (value < 0 || (size_t)value > g_prop.sharedMemPerBlockOptin) return fail(cudaErrorInvalidValue);
    std::lock_guard<std::mutex> g(g_lock);
    g_max_dyn_smem[func] = value;
    return cudaSuccess;
}

} // extern "C"
