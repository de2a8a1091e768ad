// The CUDA emulation's execution model (tests/cuda_emu/src/emu_launch.cc) on small kernels of its own: indices,
// barriers, warp shuffles and ballots, static and dynamic shared memory (and its NaN poison), atomics across
// blocks, the launch limits of an H100, and the faults it must report: a deadlock, a race (different results
// under two thread orders), a host pointer, an out-of-bounds write, a shuffle mask naming lanes that do not
// exist, too much static shared memory. Faults are sticky, so each runs in a child process (this program with a
// scenario argument) and the parent checks the child's exit and message.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "emu_test.h"
#include "cuda_launch.cuh"

static int passed = 0, failed = 0;

static void check(bool ok, const char *what) {
    printf("%s %s\n", ok ? "ok  " : "FAIL", what);
    (ok ? passed : failed)++;
}

// ---- kernels ----

// the block's sum of v in every thread: xor butterflies per warp, warp sums through shared memory
__device__ float block_sum(float v) {
    CUDA_SHARED(float, warp_sums, 32);
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
    __syncthreads();
    if (lane == 0) warp_sums[warp] = v;
    __syncthreads();
    v = lane < nwarps ? warp_sums[lane] : 0.0f;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// out[b] = sum of the 3-D thread ids' linear index of block b (a shared array and one barrier), and every
// thread's (x, y, z) written back so the index decomposition can be checked
__global__ void block_sum_kernel(int *out, int *ids) {
    CUDA_SHARED(int, s, 1024);
    const int lin = threadIdx.x + threadIdx.y * blockDim.x + threadIdx.z * blockDim.x * blockDim.y;
    const int nt = blockDim.x * blockDim.y * blockDim.z;
    const int b = blockIdx.x + blockIdx.y * gridDim.x;
    s[lin] = lin;
    ids[(b * nt + lin) * 3 + 0] = threadIdx.x;
    ids[(b * nt + lin) * 3 + 1] = threadIdx.y;
    ids[(b * nt + lin) * 3 + 2] = threadIdx.z;
    __syncthreads();
    if (lin == 0) {
        int acc = 0;
        for (int i = 0; i < nt; i++) acc += s[i];
        out[b] = acc;
    }
}

// per lane: [0] xor-butterfly sum, [1] down by 1, [2] up by 3, [3] lane 5's value, [4] ballot of odd lanes,
// [5] xor 1 within segments of 8, [6] the block's sum (warp sums through static shared memory)
__global__ void warp_ops_kernel(float *out) {
    const int t = threadIdx.x, lane = t & 31;
    float v = (float)(t + 1);
    float s = v;
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    out[t * 7 + 0] = s;
    out[t * 7 + 1] = __shfl_down_sync(0xffffffffu, v, 1);
    out[t * 7 + 2] = __shfl_up_sync(0xffffffffu, v, 3);
    out[t * 7 + 3] = __shfl_sync(0xffffffffu, v, 5);
    out[t * 7 + 4] = (float)__ballot_sync(0xffffffffu, lane & 1);
    out[t * 7 + 5] = __shfl_xor_sync(0xffffffffu, v, 1, 8);
    out[t * 7 + 6] = block_sum(v);
}

// reads shared memory before anyone wrote it this block: must see the NaN poison, every block
__global__ void poison_kernel(float *out) {
    CUDA_SHARED(float, s, 64);
    out[blockIdx.x * 64 + threadIdx.x] = s[threadIdx.x];
    __syncthreads();
    s[threadIdx.x] = 1.0f; // the next block must not see this
}

__global__ void dyn_smem_kernel(float *out, int n) {
    CUDA_SHARED_DYNAMIC(float, s);
    for (int i = threadIdx.x; i < n; i += blockDim.x) s[i] = (float)i;
    __syncthreads();
    float acc = 0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) acc += s[n - 1 - i];
    acc = block_sum(acc);
    if (threadIdx.x == 0) out[blockIdx.x] = acc;
}

__global__ void atomics_kernel(int *count, unsigned long long *minv) {
    atomicAdd(count, 1);
    atomicMin(minv, (unsigned long long)(1000000 - (blockIdx.x * blockDim.x + threadIdx.x)));
}

// a race: each thread reads its neighbour's slot with no barrier between the write and the read
__global__ void race_kernel(float *out) {
    CUDA_SHARED(float, s, 128);
    s[threadIdx.x] = (float)threadIdx.x;
    out[threadIdx.x] = s[(threadIdx.x + 1) % blockDim.x];
}

// the same without the race
__global__ void norace_kernel(float *out) {
    CUDA_SHARED(float, s, 128);
    s[threadIdx.x] = (float)threadIdx.x;
    __syncthreads();
    out[threadIdx.x] = s[(threadIdx.x + 1) % blockDim.x];
}

__global__ void deadlock_kernel(float *out) {
    if (threadIdx.x < 16) return; // these never reach the barrier
    __syncthreads();
    out[threadIdx.x] = 1.0f;
}

__global__ void oob_kernel(float *out, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i <= n) out[i] = 1.0f; // off by one: writes out[n]
}

// adds zero one past the end: the bytes would come back as they were, were the guard not a signaling NaN
__global__ void oob_add_zero_kernel(float *out, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i <= n) out[i] += 0.0f;
}

__global__ void big_static_kernel(float *out) {
    CUDA_SHARED(float, s, 13000); // 52 000 bytes: above the 48 KB of static shared memory
    s[threadIdx.x] = 1.0f;
    out[threadIdx.x] = s[threadIdx.x];
}

__global__ void empty_kernel(float *out) {
    if (out) out[0] = 0.0f;
}

// ---- helpers ----


template <typename T> static void get(T *h, const T *d, size_t n) {
    cudaMemcpy(h, d, n * sizeof(T), cudaMemcpyDeviceToHost);
}



// ---- scenarios run in a child: print what the parent checks, exit 0 when the emulation reported the fault ----

static int scenario(const char *name) {
    float *d = dev<float>(1024);
    cudaError_t e = cudaSuccess;
    if (strcmp(name, "race") == 0 || strcmp(name, "norace") == 0) {
        if (strcmp(name, "race") == 0) CUDA_LAUNCH(race_kernel, 1, 128, 0, 0, d);
        else CUDA_LAUNCH(norace_kernel, 1, 128, 0, 0, d);
        float h[128];
        get(h, d, 128);
        printf("digest %016llx\n", (unsigned long long)fnv(h, sizeof h));
        const int rc = cudaGetLastError() == cudaSuccess ? 0 : 1;
        cudaFree(d);
        return rc;
    }
    if (strcmp(name, "deadlock") == 0) CUDA_LAUNCH(deadlock_kernel, 2, 64, 0, 0, d);
    else if (strcmp(name, "oob") == 0) CUDA_LAUNCH(oob_kernel, 5, 256, 0, 0, d, 1024);
    else if (strcmp(name, "oob_add_zero") == 0) CUDA_LAUNCH(oob_add_zero_kernel, 5, 256, 0, 0, d, 1024);
    else if (strcmp(name, "bigstatic") == 0) CUDA_LAUNCH(big_static_kernel, 1, 32, 0, 0, d);
    else if (strcmp(name, "hostptr") == 0) {
        static float host[16];
        CUDA_LAUNCH(empty_kernel, 1, 1, 0, 0, host);
    } else if (strcmp(name, "partialwarp") == 0) {
        CUDA_LAUNCH(warp_ops_kernel, 1, 48, 0, 0, d); // full masks in a warp of 16 threads
    } else {
        printf("unknown scenario %s\n", name);
        cudaFree(d);
        return 2;
    }
    e = cudaGetLastError();
    printf("error %s\n", cudaGetErrorName(e));
    // sticky: the next call fails the same way, as after a real kernel fault
    cudaError_t again = cudaDeviceSynchronize();
    printf("after %s\n", cudaGetErrorName(again));
    cudaFree(d); // frees even after a fault (and says the fault again)
    return e != cudaSuccess && again == e ? 0 : 1;
}

int main(int argc, char **argv) {
    self_path = argv[0];
    if (argc > 1) return scenario(argv[1]);
    cudaSetDevice(0);

    { // 3-D blocks on a 2-D grid, up to 1024 threads
        const dim3 shapes[] = {dim3(32, 4, 2), dim3(1024), dim3(7, 3, 5), dim3(1)};
        for (const dim3 &b : shapes) {
            const int nt = (int)(b.x * b.y * b.z), nb = 6;
            int *out = dev<int>(nb), *ids = dev<int>((size_t)nb * nt * 3);
            CUDA_LAUNCH(block_sum_kernel, dim3(3, 2), b, 0, 0, out, ids);
            int h[6];
            std::string hs(1, 0);
            get(h, out, nb);
            int *hi = (int *)malloc(sizeof(int) * nb * nt * 3);
            get(hi, ids, (size_t)nb * nt * 3);
            bool ok = cudaGetLastError() == cudaSuccess;
            for (int i = 0; i < nb; i++) ok = ok && h[i] == nt * (nt - 1) / 2;
            for (int i = 0; i < nb * nt && ok; i++) {
                const int lin = i % nt;
                ok = hi[i * 3] == lin % (int)b.x && hi[i * 3 + 1] == lin / (int)b.x % (int)b.y &&
                     hi[i * 3 + 2] == lin / (int)(b.x * b.y);
            }
            char what[128];
            snprintf(what, sizeof what, "block (%u,%u,%u): indices and a shared sum after __syncthreads", b.x, b.y,
                     b.z);
            check(ok, what);
            free(hi);
            cudaFree(out);
            cudaFree(ids);
        }
    }
    { // warp operations on 3 warps
        const int nt = 96;
        float *out = dev<float>(nt * 7), h[nt * 7];
        CUDA_LAUNCH(warp_ops_kernel, 1, nt, 0, 0, out);
        get(h, out, nt * 7);
        bool sum = true, down = true, up = true, idx = true, ballot = true, seg = true, bsum = true;
        for (int t = 0; t < nt; t++) {
            const int lane = t & 31, w0 = t - lane;
            float ws = 0;
            for (int l = 0; l < 32; l++) ws += (float)(w0 + l + 1);
            sum = sum && h[t * 7] == ws;
            down = down && h[t * 7 + 1] == (float)(lane < 31 ? t + 2 : t + 1);
            up = up && h[t * 7 + 2] == (float)(lane >= 3 ? t - 2 : t + 1);
            idx = idx && h[t * 7 + 3] == (float)(w0 + 5 + 1);
            ballot = ballot && h[t * 7 + 4] == (float)0xaaaaaaaau;
            seg = seg && h[t * 7 + 5] == (float)((t ^ 1) + 1);
            bsum = bsum && h[t * 7 + 6] == (float)(nt * (nt + 1) / 2);
        }
        check(sum, "__shfl_xor_sync butterfly: every lane has the warp's sum");
        check(down, "__shfl_down_sync: lane + 1, the last lane its own value");
        check(up, "__shfl_up_sync: lane - 3, the first 3 lanes their own value");
        check(idx, "__shfl_sync: lane 5's value in every lane");
        check(ballot, "__ballot_sync: the odd lanes");
        check(seg, "__shfl_xor_sync width 8");
        check(bsum, "a block sum (static shared memory and shuffles) over 3 warps");
        cudaFree(out);
    }
    { // shared memory poison, every block afresh
        float *out = dev<float>(4 * 64), h[4 * 64];
        CUDA_LAUNCH(poison_kernel, 4, 64, 0, 0, out);
        get(h, out, 4 * 64);
        bool ok = true;
        for (int i = 0; i < 4 * 64; i++) ok = ok && isnan(h[i]);
        check(ok, "shared memory reads NaN until written, in every block");
        cudaFree(out);
    }
    { // dynamic shared memory: 48 KB by default, more only after cudaFuncSetAttribute, never above the maximum
        float *out = dev<float>(8), h[8];
        int n = 12 * 1024; // 48 KB
        CUDA_LAUNCH(dyn_smem_kernel, 8, 256, n * sizeof(float), 0, out, n);
        get(h, out, 8);
        bool ok = cudaGetLastError() == cudaSuccess;
        for (int i = 0; i < 8; i++) ok = ok && h[i] == (float)((double)n * (n - 1) / 2);
        check(ok, "48 KB of dynamic shared memory without opting in");
        n = 40 * 1024; // 160 KB
        CUDA_LAUNCH(dyn_smem_kernel, 8, 256, n * sizeof(float), 0, out, n);
        check(cudaGetLastError() == cudaErrorInvalidValue, "160 KB refused before cudaFuncSetAttribute");
        cudaFuncSetAttribute(dyn_smem_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, n * (int)sizeof(float));
        CUDA_LAUNCH(dyn_smem_kernel, 8, 256, n * sizeof(float), 0, out, n);
        get(h, out, 8);
        ok = cudaGetLastError() == cudaSuccess;
        for (int i = 0; i < 8; i++) ok = ok && h[i] == (float)((double)n * (n - 1) / 2);
        check(ok, "160 KB after cudaFuncSetAttribute");
        check(cudaFuncSetAttribute(dyn_smem_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 240 * 1024) ==
                  cudaErrorInvalidValue,
              "opting into 240 KB (above the H100's 227 KB) refused");
        cudaGetLastError();
        cudaFree(out);
    }
    { // launch limits
        CUDA_LAUNCH(empty_kernel, 1, 1025, 0, 0, (float *)nullptr);
        check(cudaGetLastError() == cudaErrorInvalidConfiguration, "1025 threads a block refused");
        CUDA_LAUNCH(empty_kernel, 1, dim3(1, 1, 65), 0, 0, (float *)nullptr);
        check(cudaGetLastError() == cudaErrorInvalidConfiguration, "block z of 65 refused");
        CUDA_LAUNCH(empty_kernel, dim3(1, 65536), 1, 0, 0, (float *)nullptr);
        check(cudaGetLastError() == cudaErrorInvalidConfiguration, "grid y of 65536 refused");
        CUDA_LAUNCH(empty_kernel, dim3(1, 1, 0), 1, 0, 0, (float *)nullptr);
        check(cudaGetLastError() == cudaErrorInvalidConfiguration, "an empty grid refused");
        CUDA_LAUNCH(empty_kernel, dim3(70000, 1), 32, 0, 0, (float *)nullptr);
        check(cudaGetLastError() == cudaSuccess, "grid x of 70000 runs");
    }
    { // atomics from many blocks on several host threads
        int *count = dev<int>(1);
        unsigned long long *mn = dev<unsigned long long>(1);
        int zero = 0;
        unsigned long long big = ~0ull;
        cudaMemcpy(count, &zero, sizeof zero, cudaMemcpyHostToDevice);
        cudaMemcpy(mn, &big, sizeof big, cudaMemcpyHostToDevice);
        CUDA_LAUNCH(atomics_kernel, 64, 256, 0, 0, count, mn);
        int c = 0;
        unsigned long long m = 0;
        get(&c, count, 1);
        get(&m, mn, 1);
        check(c == 64 * 256 && m == 1000000 - (64 * 256 - 1), "atomicAdd and atomicMin over 64 blocks");
        cudaFree(count);
        cudaFree(mn);
    }

    // faults, each in a child process
    std::string out;
    int rc = child("deadlock", "", &out);
    check(rc == 0 && out.find("deadlock_kernel") != std::string::npos && out.find("deadlock") != std::string::npos &&
              out.find("threads 0-15 have returned") != std::string::npos &&
              out.find("threads 16-63 wait at __syncthreads") != std::string::npos,
          "a barrier that 16 threads never reach: reported with the kernel and who waits where");
    if (rc != 0) printf("%s", out.c_str());
    rc = child("oob", "", &out);
    check(rc == 0 && out.find("out-of-bounds") != std::string::npos && out.find("oob_kernel") != std::string::npos,
          "a write one past the end of an allocation: reported after the kernel, naming it");
    if (rc != 0) printf("%s", out.c_str());
    rc = child("oob_add_zero", "", &out);
    check(rc == 0 && out.find("out-of-bounds") != std::string::npos &&
              out.find("oob_add_zero_kernel") != std::string::npos,
          "adding zero one past the end (the guard's bytes would be unchanged but for its signaling NaN): reported");
    if (rc != 0) printf("%s", out.c_str());
    rc = child("bigstatic", "", &out);
    check(rc == 0 && out.find("static shared memory") != std::string::npos, "52 KB of static shared memory refused");
    if (rc != 0) printf("%s", out.c_str());
    rc = child("hostptr", "", &out);
    check(rc == 0 && out.find("argument 0") != std::string::npos, "a host pointer as a kernel argument refused");
    if (rc != 0) printf("%s", out.c_str());
    rc = child("partialwarp", "", &out);
    check(rc == 0 && out.find("do not exist") != std::string::npos,
          "a full shuffle mask in a warp of 16 threads refused");
    if (rc != 0) printf("%s", out.c_str());

    // the race finder: the racy kernel's result changes with the thread order, the correct one's does not
    std::string a, b;
    int ra = child("race", "SHEAR_CUDA_EMU_ORDER=lane", &a), rb = child("race", "SHEAR_CUDA_EMU_ORDER=reverse", &b);
    check(ra == 0 && rb == 0 && a.find("digest") != std::string::npos && a != b,
          "a shared-memory race gives different results under lane and reverse order");
    ra = child("norace", "SHEAR_CUDA_EMU_ORDER=lane", &a);
    rb = child("norace", "SHEAR_CUDA_EMU_ORDER=shuffle:7", &b);
    check(ra == 0 && rb == 0 && a.find("digest") != std::string::npos && a == b,
          "the same kernel with its barrier: identical under lane and shuffled order");
    rc = child("norace", "SHEAR_CUDA_EMU_ORDER=sideways", &out);
    check(rc != 0 && out.find("SHEAR_CUDA_EMU_ORDER") != std::string::npos, "an unknown order is refused");

    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
