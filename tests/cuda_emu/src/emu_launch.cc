// CUDA emulation, the execution model: a kernel launch runs every block of its grid on the CPU, each CUDA
// thread as a fiber with its own stack (emu_switch_x86_64.S), so that barriers, warp shuffles and shared memory
// behave as the programming model says and the kernel sources run unchanged.
//
// One block runs on one host thread; blocks spread over OpenMP threads. Inside a block its threads run one at a
// time, each until it reaches a barrier (__syncthreads), a warp operation (__syncwarp, shuffles, ballots) or
// its end. When every thread has stopped, the scheduler releases what can go on: a warp whose lanes all wait at
// the same warp operation (their shuffle results computed first, from the values all of them deposited), else
// the whole block when every thread waits at __syncthreads. Nothing can go on otherwise: that is a deadlock (a
// barrier some threads never reach, or a thread that returned before a barrier the others wait at), reported
// with the kernel's name, the block and what each thread waits for.
//
// Race finder: the order in which the stopped threads are resumed between barriers is SHEAR_CUDA_EMU_ORDER:
// `lane` (0, 1, 2, ...: the default), `reverse`, or `shuffle[:SEED]` (a new permutation per barrier interval and
// block). A kernel whose result depends on that order reads shared or global memory another thread of its
// block writes without a barrier between them: tests run twice under different orders and require the same
// bits (tests/cuda_emu/orders.sh compares the digests of everything copied back to the host).
//
// Shared memory: static regions (CUDA_SHARED) and the dynamic one (CUDA_SHARED_DYNAMIC) per block, filled with
// 0xff bytes (NaN) when a block starts, so a read of a value nobody wrote this block shows up in the output;
// under AddressSanitizer the bytes past what a kernel declared are poisoned as well.
// Limits enforced at launch, as an H100 would: at most 1024 threads a block (x, y <= 1024, z <= 64), grid y and
// z at most 65535, dynamic shared memory above 48 KB only after cudaFuncSetAttribute, at most the device's
// 227 KB opt-in maximum together with static shared memory, at most 48 KB of static shared memory.
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xmmintrin.h>

#include <atomic>
#include <mutex>
#include <vector>

#include "cuda_emu_kernel.h"
#include "emu_internal.h"

#if !defined(__x86_64__)
#error "the CUDA emulation's fiber switch is written for x86-64 (emu_switch_x86_64.S)"
#endif

#if defined(__SANITIZE_ADDRESS__)
#define EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EMU_ASAN 1
#endif
#endif
#ifdef EMU_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

thread_local const EmuView *emu_view = nullptr;

extern "C" void emu_switch(void **save_sp, void *load_sp);
extern "C" void emu_fiber_entry(void);
extern "C" void emu_fiber_main(void);

namespace {

constexpr size_t STATIC_SMEM_MAX = 48 * 1024;  // static __shared__ per block
constexpr size_t DEFAULT_DYN_SMEM = 48 * 1024; // dynamic, without cudaFuncSetAttribute
#ifdef EMU_ASAN
constexpr size_t STACK_BYTES = 512 * 1024; // ASan's redzones make frames several times larger
#else
constexpr size_t STACK_BYTES = 128 * 1024;
#endif

enum State { RUNNABLE, AT_BARRIER, AT_WARP_OP, DONE };

const char *op_name(EmuWarpOp op) {
    switch (op) {
    case EMU_SYNCWARP: return "__syncwarp";
    case EMU_SHFL_IDX: return "__shfl_sync";
    case EMU_SHFL_XOR: return "__shfl_xor_sync";
    case EMU_SHFL_DOWN: return "__shfl_down_sync";
    case EMU_SHFL_UP: return "__shfl_up_sync";
    case EMU_BALLOT: return "__ballot_sync";
    }
    return "?";
}

struct Thread {
    EmuView view;
    void *sp = nullptr;      // saved stack pointer while not running
    char *stack_lo = nullptr; // lowest usable byte of its stack
    int linear = 0, state = DONE;
    // the warp operation it waits at
    EmuWarpOp op = EMU_SYNCWARP;
    unsigned mask = 0;
    uint64_t bits = 0, result = 0;
    int arg = 0, width = 32;
#ifdef EMU_ASAN
    void *fake_stack = nullptr;
    int stack_dirty = 0; // abandoned with frames live: unpoison before reuse
#endif
};

struct Site {
    const void *site;
    size_t off;
};

// One host thread's block runner, reused for every block it runs.
struct Runner {
    std::vector<Thread> threads;
    std::vector<int> order;
    Thread *running = nullptr;
    void *sched_sp = nullptr;
    const EmuLaunch *L = nullptr;
    int n = 0;                   // threads of the block
    uint64_t block_linear = 0;
    char *smem_static = nullptr; // [STATIC_SMEM_MAX]
    char *smem_dyn = nullptr;    // [dynamic bytes of the launch]
    size_t dyn_cap = 0;
    size_t static_used = 0, static_hw = 0;
    std::vector<Site> sites;
    int failed = 0;
    char msg[2048];
#ifdef EMU_ASAN
    const void *sched_bottom = nullptr;
    size_t sched_size = 0;
    void *sched_fake = nullptr;
#endif
};

thread_local Runner *tl_runner = nullptr;

struct Order {
    int kind = 0; // 0 lane, 1 reverse, 2 shuffle
    uint64_t seed = 1;
};

Order read_order() {
    Order o;
    const char *s = getenv("SHEAR_CUDA_EMU_ORDER");
    if (!s || !*s || strcmp(s, "lane") == 0) return o;
    if (strcmp(s, "reverse") == 0) {
        o.kind = 1;
        return o;
    }
    if (strncmp(s, "shuffle", 7) == 0 && (s[7] == 0 || s[7] == ':')) {
        o.kind = 2;
        if (s[7] == ':') o.seed = strtoull(s + 8, nullptr, 10);
        return o;
    }
    fprintf(stderr, EMU_PREFIX "SHEAR_CUDA_EMU_ORDER=%s is not one of lane, reverse, shuffle, shuffle:SEED\n", s);
    exit(2);
}

const Order &order() {
    static const Order o = read_order();
    return o;
}

uint64_t splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void make_order(Runner *r, uint64_t interval) {
    const Order &o = order();
    r->order.resize((size_t)r->n);
    for (int i = 0; i < r->n; i++) r->order[(size_t)i] = o.kind == 1 ? r->n - 1 - i : i;
    if (o.kind != 2) return;
    uint64_t st = o.seed * 0x2545f4914f6cdd1dull ^ r->block_linear * 0x9e3779b97f4a7c15ull ^ interval;
    for (int i = r->n - 1; i > 0; i--) {
        int j = (int)(splitmix(&st) % (uint64_t)(i + 1));
        int t = r->order[(size_t)i];
        r->order[(size_t)i] = r->order[(size_t)j];
        r->order[(size_t)j] = t;
    }
}

char *map_stack() {
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char *base = (char *)mmap(nullptr, STACK_BYTES + page, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) {
        perror(EMU_PREFIX "mmap of a fiber stack");
        abort();
    }
    mprotect(base, page, PROT_NONE); // a fiber that overflows its stack faults here instead of corrupting
    return base + page;
}

Runner *runner() {
    if (!tl_runner) {
        tl_runner = new Runner();
        tl_runner->smem_static = (char *)aligned_alloc(128, STATIC_SMEM_MAX);
    }
    return tl_runner;
}

// ---- switching ----

void resume(Runner *r, Thread *t) {
    r->running = t;
    emu_view = &t->view;
#ifdef EMU_ASAN
    __sanitizer_start_switch_fiber(&r->sched_fake, t->stack_lo, STACK_BYTES);
#endif
    emu_switch(&r->sched_sp, t->sp);
#ifdef EMU_ASAN
    __sanitizer_finish_switch_fiber(r->sched_fake, nullptr, nullptr);
#endif
    r->running = nullptr;
    emu_view = nullptr;
}

// From the running fiber back to its block's scheduler. A fiber that is done (or failed) is never resumed.
void yield(Runner *r, Thread *t, bool final) {
#ifdef EMU_ASAN
    __sanitizer_start_switch_fiber(final ? nullptr : &t->fake_stack, r->sched_bottom, r->sched_size);
#else
    (void)final;
#endif
    emu_switch(&t->sp, r->sched_sp);
#ifdef EMU_ASAN
    __sanitizer_finish_switch_fiber(t->fake_stack, &r->sched_bottom, &r->sched_size);
#endif
}

// A fiber found an error: note it, then leave the block for good (its stack is abandoned).
__attribute__((noreturn, format(printf, 2, 3))) void fiber_fail(Runner *r, const char *fmt, ...) {
    if (!r->failed) {
        Thread *t = r->running;
        int k = snprintf(r->msg, sizeof r->msg, "kernel %s, block (%u,%u,%u), thread (%u,%u,%u): ", r->L->name,
                         t->view.bid.x, t->view.bid.y, t->view.bid.z, t->view.tid.x, t->view.tid.y, t->view.tid.z);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->msg + k, sizeof r->msg - (size_t)k, fmt, ap);
        va_end(ap);
    }
    r->failed = 1;
    Thread *t = r->running;
    t->state = DONE;
#ifdef EMU_ASAN
    t->stack_dirty = 1;
#endif
    yield(r, t, true);
    abort(); // never resumed
}

Runner *current(const char *what) {
    Runner *r = tl_runner;
    if (!r || !r->running) {
        fprintf(stderr, EMU_PREFIX "%s called outside a kernel\n", what);
        abort();
    }
    return r;
}

// ---- one block ----

void start_thread(Runner *r, Thread *t, uint3 bid, int linear) {
    const EmuLaunch *L = r->L;
    t->linear = linear;
    t->view.tid = {(unsigned)linear % L->block.x, ((unsigned)linear / L->block.x) % L->block.y,
                   (unsigned)linear / (L->block.x * L->block.y)};
    t->view.bid = bid;
    t->view.bdim = L->block;
    t->view.gdim = L->grid;
    t->state = RUNNABLE;
    if (!t->stack_lo) t->stack_lo = map_stack();
#ifdef EMU_ASAN
    if (t->stack_dirty) {
        ASAN_UNPOISON_MEMORY_REGION(t->stack_lo, STACK_BYTES);
        t->stack_dirty = 0;
    }
    t->fake_stack = nullptr;
#endif
    // the frame emu_switch pops: control words, rbp rbx r12 r13 r14 r15, then the return address
    uintptr_t top = ((uintptr_t)(t->stack_lo + STACK_BYTES)) & ~(uintptr_t)15;
    uint64_t *sp = (uint64_t *)(top - 64);
    memset(sp, 0, 64);
    uint32_t mxcsr = _mm_getcsr();
    uint16_t fpucw;
    __asm__ volatile("fnstcw %0" : "=m"(fpucw));
    memcpy((char *)sp, &mxcsr, 4);
    memcpy((char *)sp + 4, &fpucw, 2);
    sp[7] = (uint64_t)(uintptr_t)&emu_fiber_entry;
    t->sp = sp;
}

// What each thread of a stuck block waits at, as runs of threads: "threads 0-31 wait at __syncthreads; ..."
void describe_wait(Runner *r, char *buf, size_t len) {
    size_t k = 0;
    auto what = [&](const Thread &t, char *w, size_t wl) {
        if (t.state == DONE) snprintf(w, wl, "have returned");
        else if (t.state == AT_BARRIER) snprintf(w, wl, "wait at __syncthreads");
        else snprintf(w, wl, "wait at %s (mask 0x%08x)", op_name(t.op), t.mask);
    };
    int i = 0;
    while (i < r->n && k + 1 < len) {
        char w[96], w2[96];
        what(r->threads[(size_t)i], w, sizeof w);
        int j = i + 1;
        for (; j < r->n; j++) {
            what(r->threads[(size_t)j], w2, sizeof w2);
            if (strcmp(w, w2) != 0) break;
        }
        int c = j - 1 == i ? snprintf(buf + k, len - k, "%sthread %d %s", k ? "; " : "", i, w)
                           : snprintf(buf + k, len - k, "%sthreads %d-%d %s", k ? "; " : "", i, j - 1, w);
        if (c < 0) break;
        k += (size_t)c;
        i = j;
    }
}

// Releases every warp group whose lanes all wait at the same warp operation; returns how many were released
// (0: none could go on) or -1 after an error (a shuffle from a lane outside the mask).
int release_warps(Runner *r) {
    int released = 0;
    for (int w0 = 0; w0 < r->n; w0 += 32) {
        const int lanes = r->n - w0 < 32 ? r->n - w0 : 32;
        Thread *wt = &r->threads[(size_t)w0];
        for (int l = 0; l < lanes; l++) {
            Thread &t = wt[l];
            if (t.state != AT_WARP_OP) continue;
            const unsigned mask = t.mask;
            int ready = 1;
            for (int m = 0; m < lanes && ready; m++)
                if (mask >> m & 1u)
                    ready = wt[m].state == AT_WARP_OP && wt[m].mask == mask && wt[m].op == t.op &&
                            (t.op == EMU_SYNCWARP || t.op == EMU_BALLOT || wt[m].width == t.width);
            if (!ready) continue;
            uint64_t ballot = 0;
            if (t.op == EMU_BALLOT)
                for (int m = 0; m < lanes; m++)
                    if ((mask >> m & 1u) && wt[m].bits) ballot |= 1ull << m;
            for (int m = 0; m < lanes; m++) {
                if (!(mask >> m & 1u)) continue;
                Thread &x = wt[m];
                const int width = x.width, base = m & ~(width - 1);
                int src = m;
                switch (x.op) {
                case EMU_SHFL_IDX: src = base + (x.arg & (width - 1)); break;
                case EMU_SHFL_XOR: src = m ^ x.arg; if (src >= base + width) src = m; break;
                case EMU_SHFL_DOWN: src = m + x.arg; if (src >= base + width) src = m; break;
                case EMU_SHFL_UP: src = m - x.arg; if (src < base) src = m; break;
                default: break;
                }
                if (x.op == EMU_BALLOT) {
                    x.result = ballot;
                } else if (x.op != EMU_SYNCWARP) {
                    if (src < 0 || src >= lanes || !(mask >> src & 1u)) {
                        snprintf(r->msg, sizeof r->msg,
                                 "kernel %s, block (%u,%u,%u), thread %d: %s reads lane %d, which is not in the "
                                 "mask 0x%08x (the value a GPU returns is undefined)",
                                 r->L->name, x.view.bid.x, x.view.bid.y, x.view.bid.z, w0 + m, op_name(x.op), src,
                                 mask);
                        r->failed = 1;
                        return -1;
                    }
                    x.result = wt[src].bits;
                }
            }
            for (int m = 0; m < lanes; m++)
                if (mask >> m & 1u) wt[m].state = RUNNABLE;
            released++;
        }
    }
    return released;
}

// Runs one block to its end; 0 (with r->msg) on an error.
int run_block(Runner *r, uint3 bid, uint64_t block_linear) {
    const EmuLaunch *L = r->L;
    r->block_linear = block_linear;
    r->failed = 0;
    // shared memory: everything poisoned, sites assigned afresh as the threads reach their declarations
#ifdef EMU_ASAN
    ASAN_UNPOISON_MEMORY_REGION(r->smem_static, STATIC_SMEM_MAX);
#endif
    memset(r->smem_static, 0xff, r->static_hw);
#ifdef EMU_ASAN
    ASAN_POISON_MEMORY_REGION(r->smem_static, STATIC_SMEM_MAX); // each site unpoisons what it declares
#endif
    r->static_used = 0;
    r->sites.clear();
    if (L->smem) memset(r->smem_dyn, 0xff, L->smem);
    if (r->threads.size() < (size_t)r->n) r->threads.resize((size_t)r->n);
    for (int i = 0; i < r->n; i++) start_thread(r, &r->threads[(size_t)i], bid, i);
    for (uint64_t interval = 0;; interval++) {
        make_order(r, interval);
        for (int idx : r->order) {
            Thread *t = &r->threads[(size_t)idx];
            if (t->state != RUNNABLE) continue;
            resume(r, t);
            if (r->failed) return 0;
        }
        int done = 0, at_barrier = 0;
        for (int i = 0; i < r->n; i++) {
            done += r->threads[(size_t)i].state == DONE;
            at_barrier += r->threads[(size_t)i].state == AT_BARRIER;
        }
        if (done == r->n) return 1;
        int rel = release_warps(r);
        if (rel < 0) return 0;
        if (rel > 0) continue;
        if (at_barrier == r->n) {
            for (int i = 0; i < r->n; i++) r->threads[(size_t)i].state = RUNNABLE;
            continue;
        }
        char w[1024];
        describe_wait(r, w, sizeof w);
        snprintf(r->msg, sizeof r->msg,
                 "kernel %s, block (%u,%u,%u): deadlock: %s (every thread of a block must reach each "
                 "__syncthreads, every lane of a mask each warp operation)",
                 L->name, bid.x, bid.y, bid.z, w);
#ifdef EMU_ASAN
        for (int i = 0; i < r->n; i++)
            if (r->threads[(size_t)i].state != DONE) r->threads[(size_t)i].stack_dirty = 1;
#endif
        for (int i = 0; i < r->n; i++) r->threads[(size_t)i].state = DONE;
        return 0;
    }
}

int launch_error(const EmuLaunch *L, cudaError_t e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int launch_error(const EmuLaunch *L, cudaError_t e, const char *fmt, ...) {
    char m[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    fprintf(stderr, EMU_PREFIX "launch of kernel %s refused: %s\n", L->name, m);
    emu_set_error(e, 0);
    return 0;
}

// The checks a GPU makes before a kernel starts.
int launch_ok(const EmuLaunch *L) {
    const dim3 b = L->block, g = L->grid;
    const unsigned long long nt = (unsigned long long)b.x * b.y * b.z;
    if (b.x == 0 || b.y == 0 || b.z == 0 || g.x == 0 || g.y == 0 || g.z == 0)
        return launch_error(L, cudaErrorInvalidConfiguration, "grid (%u,%u,%u) or block (%u,%u,%u) has a zero size",
                            g.x, g.y, g.z, b.x, b.y, b.z);
    if (b.x > 1024 || b.y > 1024 || b.z > 64 || nt > 1024)
        return launch_error(L, cudaErrorInvalidConfiguration,
                            "block (%u,%u,%u) has %llu threads; a block has at most 1024 (x, y <= 1024, z <= 64)",
                            b.x, b.y, b.z, nt);
    if (g.x > 2147483647u || g.y > 65535 || g.z > 65535)
        return launch_error(L, cudaErrorInvalidConfiguration,
                            "grid (%u,%u,%u) exceeds the limits (x <= 2^31 - 1, y and z <= 65535)", g.x, g.y, g.z);
    const size_t optin = emu_device_prop()->sharedMemPerBlockOptin;
    if (L->smem > optin)
        return launch_error(L, cudaErrorInvalidValue,
                            "%zu bytes of dynamic shared memory, above the device's maximum of %zu per block",
                            L->smem, optin);
    if (L->smem > DEFAULT_DYN_SMEM && L->smem > (size_t)emu_func_max_dynamic_smem(L->func))
        return launch_error(L, cudaErrorInvalidValue,
                            "%zu bytes of dynamic shared memory, above the 48 KB default, and the kernel opted "
                            "into %d (cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, "
                            "bytes) must come first)",
                            L->smem, emu_func_max_dynamic_smem(L->func));
    return 1;
}

} // namespace

// ---- the fiber side ----

extern "C" void emu_fiber_main(void) {
    Runner *r = tl_runner;
    Thread *t = r->running;
#ifdef EMU_ASAN
    __sanitizer_finish_switch_fiber(nullptr, &r->sched_bottom, &r->sched_size);
#endif
    r->L->body(r->L->arg);
    t->state = DONE;
    yield(r, t, true);
    abort(); // a finished fiber is never resumed
}

void __syncthreads(void) {
    Runner *r = current("__syncthreads");
    Thread *t = r->running;
    t->state = AT_BARRIER;
    yield(r, t, false);
}

uint64_t emu_warp_op(EmuWarpOp op, unsigned mask, uint64_t bits, int arg, int width) {
    Runner *r = current(op_name(op));
    Thread *t = r->running;
    const int lane = t->linear & 31, w0 = t->linear - lane;
    const int lanes = r->n - w0 < 32 ? r->n - w0 : 32;
    const unsigned exist = lanes == 32 ? 0xffffffffu : (1u << lanes) - 1u;
    if (!(mask >> lane & 1u)) fiber_fail(r, "%s with mask 0x%08x, which leaves out the calling lane %d", op_name(op), mask, lane);
    if (mask & ~exist)
        fiber_fail(r, "%s with mask 0x%08x names lanes that do not exist (the warp has %d threads in a block of %d)",
                   op_name(op), mask, lanes, r->n);
    if (width < 1 || width > 32 || (width & (width - 1)))
        fiber_fail(r, "%s with width %d (a power of 2 from 1 to 32)", op_name(op), width);
    t->state = AT_WARP_OP;
    t->op = op;
    t->mask = mask;
    t->bits = bits;
    t->arg = arg;
    t->width = width;
    yield(r, t, false);
    return t->result;
}

void *emu_shared_static(const void *site, size_t bytes, size_t align) {
    Runner *r = current("shared memory");
    for (const Site &s : r->sites)
        if (s.site == site) return r->smem_static + s.off;
    if (align < 16) align = 16;
    const size_t off = (r->static_used + align - 1) / align * align;
    if (off + bytes > STATIC_SMEM_MAX)
        fiber_fail(r, "%zu bytes of static shared memory, above the 48 KB a block may declare", off + bytes);
    const size_t optin = emu_device_prop()->sharedMemPerBlockOptin;
    if (off + bytes + r->L->smem > optin)
        fiber_fail(r, "%zu bytes of static and %zu of dynamic shared memory, above the device's %zu per block",
                   off + bytes, r->L->smem, optin);
    r->sites.push_back({site, off});
#ifdef EMU_ASAN
    ASAN_UNPOISON_MEMORY_REGION(r->smem_static + off, bytes);
#endif
    if (off + bytes > r->static_hw) { // new bytes: poison them too (older ones were poisoned at block start)
        memset(r->smem_static + off, 0xff, bytes);
        r->static_hw = off + bytes;
    }
    r->static_used = off + bytes;
    return r->smem_static + off;
}

void *emu_shared_dynamic(void) { return current("extern shared memory")->smem_dyn; }

int emu_check_kernel_pointer(const char *kernel, int index, const void *p) {
    if (!p || emu_is_device_range(p, 0)) return 1;
    char d[256];
    emu_describe_pointer(p, d, sizeof d);
    fprintf(stderr, EMU_PREFIX "kernel %s: argument %d is %p, %s; a kernel can only reach device memory\n", kernel,
            index, p, d);
    emu_set_error(cudaErrorIllegalAddress, 1);
    return 0;
}

// ---- the launch ----

void emu_run(const EmuLaunch *L) {
    if (cudaError_t e = emu_sticky_error()) {
        emu_set_error(e, 1); // a launch after a fault fails with the fault
        return;
    }
    if (!launch_ok(L)) return;
    const uint64_t nblocks = (uint64_t)L->grid.x * L->grid.y * L->grid.z;
    const int nthreads = (int)(L->block.x * L->block.y * L->block.z);
    std::atomic<int> failed{0};
    std::mutex msg_lock;
    char msg[2048] = "";
#pragma omp parallel for schedule(dynamic, 1)
    for (uint64_t i = 0; i < nblocks; i++) {
        if (failed.load(std::memory_order_relaxed)) continue;
        Runner *r = runner();
        r->L = L;
        r->n = nthreads;
        if (r->dyn_cap < L->smem) {
#ifdef EMU_ASAN
            if (r->smem_dyn) ASAN_UNPOISON_MEMORY_REGION(r->smem_dyn, r->dyn_cap);
#endif
            free(r->smem_dyn);
            r->dyn_cap = (L->smem + 127) / 128 * 128;
            r->smem_dyn = (char *)aligned_alloc(128, r->dyn_cap);
        }
#ifdef EMU_ASAN
        if (r->smem_dyn) {
            ASAN_UNPOISON_MEMORY_REGION(r->smem_dyn, r->dyn_cap);
            ASAN_POISON_MEMORY_REGION(r->smem_dyn + (L->smem + 7) / 8 * 8, r->dyn_cap - (L->smem + 7) / 8 * 8);
        }
#endif
        const uint3 bid = {(unsigned)(i % L->grid.x), (unsigned)(i / L->grid.x % L->grid.y),
                           (unsigned)(i / ((uint64_t)L->grid.x * L->grid.y))};
        if (!run_block(r, bid, i)) {
            std::lock_guard<std::mutex> g(msg_lock);
            if (!failed.exchange(1)) snprintf(msg, sizeof msg, "%s", r->msg);
        }
    }
    if (failed.load()) {
        fprintf(stderr, EMU_PREFIX "%s\n", msg);
        emu_set_error(cudaErrorLaunchFailure, 1);
        return;
    }
    emu_check_guards(L->name);
}
