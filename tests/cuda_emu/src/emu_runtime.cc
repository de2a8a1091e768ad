// CUDA emulation, the runtime API of cuda_runtime_api.h on the CPU: errors (sticky after a fault, like a real
// kernel fault), emulated H100 SXMs (SHEAR_CUDA_EMU_DEVICES of them, filtered by CUDA_VISIBLE_DEVICES, so that
// several ranks on one node each drive their own), device memory with guard zones and NaN poison, copies that
// check their direction, synchronous streams and events, kernel attributes, and the digest of every
// device-to-host copy (SHEAR_CUDA_EMU_DIGEST, for the race finder tests/cuda_emu/orders.sh). The internal
// functions of emu_internal.h serve the launcher (emu_launch.cc), the NCCL emulation and the tests.
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <map>
#include <mutex>
#include <set>

#include "emu_internal.h"

namespace {

constexpr size_t GUARD = 256;           // bytes before and after every allocation
// The guard pattern is the float 0x7fa5a5a5, a signaling NaN, repeated at 4-byte alignment: a kernel that
// reads past an end, adds zero and writes back (an off-by-one row whose contribution is all zeros) still
// changes the bytes, because the FPU quiets the NaN (0x7fe5a5a5). A plain byte pattern would come back intact.
constexpr uint32_t GUARD_WORD = 0x7fa5a5a5u;
unsigned char guard_byte(const void *at) { return (unsigned char)(GUARD_WORD >> (8 * ((uintptr_t)at & 3))); }
void guard_fill(unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = guard_byte(p + i);
}
constexpr size_t TOTAL_MEM = 80ull << 30; // an H100 80 GB
constexpr int MAX_DEVICES = 64;

std::mutex g_lock; // kernels run on OpenMP threads
cudaError_t g_last = cudaSuccess, g_sticky = cudaSuccess;
std::map<const char *, size_t> g_allocs; // user address -> bytes
size_t g_used = 0;
std::map<const void *, int> g_max_dyn_smem;
std::set<void *> g_handles; // live streams and events
int g_device = 0; // index among the visible devices

cudaError_t fail(cudaError_t e) {
    g_last = e;
    return e;
}

// The facts of physical device `phys`. The UUID and PCI bus come from the physical index, as on a real node:
// two processes that both see physical device 0 (CUDA_VISIBLE_DEVICES=0) see one UUID, which is how Shear and
// NCCL detect two ranks sharing a GPU; ranks on devices 0 and 1 see two.
cudaDeviceProp make_prop(int phys) {
    cudaDeviceProp p;
    memset(&p, 0, sizeof p);
    snprintf(p.name, sizeof p.name, "NVIDIA H100 80GB HBM3 (cuda-emu)");
    for (int i = 0; i < 16; i++) p.uuid.bytes[i] = (char)(0x5e + i);
    p.uuid.bytes[14] = (char)(phys >> 8);
    p.uuid.bytes[15] = (char)phys;
    p.pciBusID = 0x18 + 0x10 * phys;
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
// The devices this process sees, read from the environment once, at the first call (as the real runtime
// reads it at initialization): SHEAR_CUDA_EMU_DEVICES physical ones (default 8), CUDA_VISIBLE_DEVICES applied.
struct Devices {
    int count = 0;
    cudaDeviceProp prop[MAX_DEVICES];
    Devices() {
        int physical = 8;
        if (const char *s = getenv("SHEAR_CUDA_EMU_DEVICES")) {
            char *end;
            long v = strtol(s, &end, 10);
            if (end == s || *end || v < 0 || v > MAX_DEVICES) {
                fprintf(stderr, EMU_PREFIX "SHEAR_CUDA_EMU_DEVICES=%s is not a device count 0..%d\n", s, MAX_DEVICES);
                exit(2);
            }
            physical = (int)v;
        }
        int map[MAX_DEVICES];
        const char *vis = getenv("CUDA_VISIBLE_DEVICES");
        if (vis) count = emu_parse_visible(vis, physical, map, MAX_DEVICES);
        else for (count = 0; count < physical; count++) map[count] = count;
        for (int i = 0; i < count; i++) prop[i] = make_prop(map[i]);
    }
};

const Devices &devices() {
    static const Devices d; // thread-safe initialization
    return d;
}

// cudaErrorNoDevice when no device is visible, cudaErrorInvalidDevice when dev is not one of them
cudaError_t check_device(int dev) {
    const int n = devices().count;
    if (n == 0) return cudaErrorNoDevice;
    return dev >= 0 && dev < n ? cudaSuccess : cudaErrorInvalidDevice;
}

// ---- the digest of device-to-host copies (SHEAR_CUDA_EMU_DIGEST) ----
// What a run copied back from the device, in order, as one FNV-1a hash: orders.sh compares it across thread
// orders. Written at exit (atexit covers return from main and exit() on an error path); plain globals only,
// so the handler works whatever static destructors ran before it.
std::mutex g_digest_lock;
const char *g_digest_path = nullptr; // the template, or null when no digest is wanted
pid_t g_digest_pid = 0;              // a forked child (no exec) shares the path: only this process writes it
unsigned long long g_digest_hash = 1469598103934665603ull, g_digest_copies = 0, g_digest_bytes = 0;

void digest_feed(const void *p, size_t n) {
    if (!g_digest_path) return;
    std::lock_guard<std::mutex> g(g_digest_lock);
    const unsigned char *b = (const unsigned char *)p;
    unsigned long long h = g_digest_hash;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    g_digest_hash = h;
    g_digest_copies++;
    g_digest_bytes += n;
}

void digest_at_exit() { emu_digest_flush(); }

// Before main, so that a run with no copy at all still writes its (empty) digest.
struct DigestInit {
    DigestInit() {
        g_digest_path = getenv("SHEAR_CUDA_EMU_DIGEST");
        if (g_digest_path && !*g_digest_path) g_digest_path = nullptr;
        if (!g_digest_path) return;
        g_digest_path = strdup(g_digest_path);
        g_digest_pid = getpid();
        atexit(digest_at_exit);
    }
} g_digest_init;

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
        if (lo[i] != guard_byte(lo + i)) { *where = -(long)(GUARD - i); return 0; }
        if (hi[i] != guard_byte(hi + i)) { *where = (long)i; return 0; }
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

const cudaDeviceProp *emu_device_prop(void) {
    static cudaDeviceProp none = make_prop(0); // no device visible: the launcher still needs limits
    const Devices &d = devices();
    return g_device < d.count ? &d.prop[g_device] : &none;
}

int emu_parse_visible(const char *s, int physical, int *out, int max) {
    int n = 0;
    while (n < max) {
        while (isspace((unsigned char)*s)) s++;
        if (!isdigit((unsigned char)*s)) break; // empty, "-1", "GPU-..." (UUIDs are not emulated): the list ends
        char *end;
        long v = strtol(s, &end, 10);
        s = end;
        while (isspace((unsigned char)*s)) s++;
        if (*s && *s != ',') break; // "1x": invalid
        if (v >= physical) break;
        bool dup = false;
        for (int i = 0; i < n; i++) dup = dup || out[i] == v;
        if (dup) break; // a device listed twice: the list ends there too
        out[n++] = (int)v;
        if (!*s) break;
        s++;
    }
    return n;
}

void emu_digest_flush(void) {
    if (!g_digest_path || getpid() != g_digest_pid) return;
    // exit() may come from a thread while another one copies: wait a little for the lock, never forever
    bool locked = false;
    for (int i = 0; i < 1000 && !(locked = g_digest_lock.try_lock()); i++) usleep(1000);
    const unsigned long long copies = g_digest_copies, bytes = g_digest_bytes, hash = g_digest_hash;
    if (locked) g_digest_lock.unlock();
    const char *rank = getenv("OMPI_COMM_WORLD_RANK");
    if (!rank) rank = getenv("PMIX_RANK");
    if (!rank) rank = getenv("PMI_RANK");
    if (!rank) rank = "0";
    char path[4096], tmp[4200];
    size_t k = 0;
    for (const char *t = g_digest_path; *t && k + 16 < sizeof path; t++) {
        if (t[0] == '%' && t[1] == 'r') k += snprintf(path + k, sizeof path - k, "%.12s", rank), t++;
        else path[k++] = *t;
    }
    path[k] = 0;
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w"); // a temporary, then rename: a reader never sees half a line
    if (!f || fprintf(f, "copies %llu bytes %llu fnv1a %016llx\n", copies, bytes, hash) < 0 || fclose(f) != 0 ||
        rename(tmp, path) != 0) {
        fprintf(stderr, EMU_PREFIX "cannot write the digest SHEAR_CUDA_EMU_DIGEST=%s to %s\n", g_digest_path, path);
        remove(tmp);
    }
}

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
    *count = devices().count;
    return *count ? cudaSuccess : fail(cudaErrorNoDevice); // as the real runtime: count 0 and an error
}

cudaError_t cudaSetDevice(int dev) {
    if (cudaError_t e = check_device(dev)) return fail(e);
    g_device = dev;
    return g_sticky;
}

cudaError_t cudaGetDevice(int *dev) {
    if (cudaError_t e = check_device(0)) return fail(e);
    *dev = g_device;
    return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *prop, int dev) {
    if (cudaError_t e = check_device(dev)) return fail(e);
    *prop = devices().prop[dev];
    return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attr, int dev) {
    if (cudaError_t e = check_device(dev)) return fail(e);
    const cudaDeviceProp &p = devices().prop[dev];
    switch (attr) {
    case cudaDevAttrMaxThreadsPerBlock: *value = p.maxThreadsPerBlock; break;
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = (int)p.sharedMemPerBlock; break;
    case cudaDevAttrWarpSize: *value = 32; break;
    case cudaDevAttrClockRate: *value = 1980000; break;
    case cudaDevAttrMultiProcessorCount: *value = p.multiProcessorCount; break;
    case cudaDevAttrComputeCapabilityMajor: *value = p.major; break;
    case cudaDevAttrComputeCapabilityMinor: *value = p.minor; break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = (int)p.sharedMemPerBlockOptin; break;
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
    if (cudaError_t e = check_device(0)) return fail(e);
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
    if (cudaError_t e = check_device(0)) return fail(e); // one host pool, but only where a device is visible
    std::lock_guard<std::mutex> g(g_lock);
    if (bytes > TOTAL_MEM - g_used) return fail(cudaErrorMemoryAllocation);
    const size_t body = (bytes + GUARD - 1) / GUARD * GUARD;
    char *base = (char *)aligned_alloc(GUARD, GUARD + body + GUARD);
    if (!base) return fail(cudaErrorMemoryAllocation);
    char *user = base + GUARD;
    guard_fill((unsigned char *)base, GUARD);
    memset(user, 0xff, bytes); // NaN: a read of memory nobody wrote shows in the result
    guard_fill((unsigned char *)user + bytes, body - bytes + GUARD);
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
    if (kind == cudaMemcpyDeviceToHost || (kind == cudaMemcpyDefault && src_dev && !dst_dev)) digest_feed(dst, bytes);
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
    if (value < 0 || (size_t)value > emu_device_prop()->sharedMemPerBlockOptin) return fail(cudaErrorInvalidValue);
    std::lock_guard<std::mutex> g(g_lock);
    g_max_dyn_smem[func] = value;
    return cudaSuccess;
}

} // extern "C"
