// The CUDA emulation's runtime and libraries (tests/cuda_emu/src/emu_runtime.cc, emu_blas.cc, emu_cub.cc) against
// what the real ones do: device memory (copies, NaN poison of fresh allocations, 2-D memset, a host pointer
// refused), cublasGemmEx against a naive triple loop in all four transpose combinations with odd sizes and
// padded leading dimensions, beta = 0 over NaN poison, cuBLAS's argument checks, cub's radix sort (stable,
// signed keys, a bit range, the size query, a workspace too small, a host pointer). A host pointer handed to
// cuBLAS is a fault, sticky as on a GPU, so that case runs in a child process (this program with a scenario
// argument) and the parent checks its exit and message.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

#include <cub/device/device_radix_sort.cuh>
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "emu_test.h"
#include "emu_internal.h"

static int passed = 0, failed = 0;

static void check(bool ok, const char *what) {
    printf("%s %s\n", ok ? "ok  " : "FAIL", what);
    (ok ? passed : failed)++;
}


template <typename T> static T *dev_from(const std::vector<T> &h) {
    T *d = dev<T>(h.size());
    cudaMemcpy(d, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice);
    return d;
}

template <typename T> static std::vector<T> host_of(const T *d, size_t n) {
    std::vector<T> h(n);
    cudaMemcpy(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost);
    return h;
}

// What the emulation prints to stderr during fn() (its diagnoses of refused, non-sticky calls).
template <typename F> static std::string stderr_of(F fn) {
    fflush(stderr);
    FILE *tmp = tmpfile();
    int saved = dup(2);
    dup2(fileno(tmp), 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    std::string s;
    rewind(tmp);
    char buf[4096];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, tmp)) > 0) s.append(buf, k);
    fclose(tmp);
    return s;
}


// A deterministic pseudo-random float in [-1, 1).
static float rnd(unsigned &s) {
    s = s * 1664525u + 1013904223u;
    return (float)((s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

// A column-major rows x cols matrix with leading dimension ld; the padding rows hold a marker that no product
// may read (NaN) or write.
static std::vector<float> matrix(int rows, int cols, int ld, unsigned seed) {
    std::vector<float> h((size_t)(cols - 1) * ld + rows, NAN);
    for (int j = 0; j < cols; j++)
        for (int i = 0; i < rows; i++) h[(size_t)j * ld + i] = rnd(seed);
    return h;
}

// op(X)[i, j] of a column-major stored X
static double at(const std::vector<float> &x, int ld, bool trans, int i, int j) {
    return trans ? x[(size_t)i * ld + j] : x[(size_t)j * ld + i];
}

// ---- sticky faults, in a child: print what the parent checks, exit 0 when reported as a GPU would ----

static int scenario(const char *name) {
    cublasHandle_t h;
    if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) return 2;
    const int m = 8, n = 4, k = 5;
    const float alpha = 1.0f, beta = 0.0f;
    std::vector<float> ha((size_t)m * k, 1.0f);
    float *b = dev<float>((size_t)k * n), *c = dev<float>((size_t)m * n);
    float *da = nullptr; // device A, when the scenario has one
    const float *a;
    if (strcmp(name, "host_a") == 0) a = ha.data();
    else if (strcmp(name, "short_a") == 0) a = da = dev<float>((size_t)m * k - 1); // one float short of its span
    else return 2;
    cudaMemset(b, 0, (size_t)k * n * sizeof(float));
    cublasStatus_t s = cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &alpha, a, CUDA_R_32F, m, b, CUDA_R_32F, k,
                                    &beta, c, CUDA_R_32F, m, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    printf("status %s\n", cublasGetStatusString(s));
    // sticky: the next runtime call and the next (valid) product fail too, as after a real fault
    cudaError_t again = cudaDeviceSynchronize();
    printf("after %s\n", cudaGetErrorName(again));
    cublasStatus_t s2 = cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &alpha, c, CUDA_R_32F, m, b, CUDA_R_32F, k,
                                     &beta, c, CUDA_R_32F, m, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    printf("next product %s\n", cublasGetStatusString(s2));
    cudaFree(da); // frees even after the fault
    cudaFree(b);
    cudaFree(c);
    cublasDestroy(h);
    return s == CUBLAS_STATUS_EXECUTION_FAILED && again == cudaErrorIllegalAddress &&
                   s2 == CUBLAS_STATUS_EXECUTION_FAILED ? 0 : 1;
}

// C = alpha op(A) op(B) + beta C through cublasGemmEx with padded leading dimensions, against a double-precision
// triple loop; the padding rows of C must come back untouched.
static void gemm_case(cublasHandle_t h, bool ta, bool tb, int m, int n, int k, float alpha, float beta,
                      bool poisoned_c) {
    const int a_rows = ta ? k : m, a_cols = ta ? m : k, b_rows = tb ? n : k, b_cols = tb ? k : n;
    const int lda = a_rows + 3, ldb = b_rows + 5, ldc = m + 2;
    std::vector<float> a = matrix(a_rows, a_cols, lda, 11), b = matrix(b_rows, b_cols, ldb, 23);
    std::vector<float> c0 = matrix(m, n, ldc, 37);
    for (int j = 0; j + 1 < n; j++)
        for (int i = m; i < ldc; i++) c0[(size_t)j * ldc + i] = 1234.5f; // padding marker
    float *da = dev_from(a), *db = dev_from(b), *dc;
    if (poisoned_c) {
        dc = dev<float>(c0.size()); // fresh: NaN poison, which beta = 0 must never read
        for (int j = 0; j + 1 < n; j++)
            cudaMemcpy(dc + (size_t)j * ldc + m, &c0[(size_t)j * ldc + m], (ldc - m) * sizeof(float),
                       cudaMemcpyHostToDevice);
    } else {
        dc = dev_from(c0);
    }
    cublasStatus_t s = cublasGemmEx(h, ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb ? CUBLAS_OP_T : CUBLAS_OP_N, m, n, k, &alpha,
                                    da, CUDA_R_32F, lda, db, CUDA_R_32F, ldb, &beta, dc, CUDA_R_32F, ldc,
                                    CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    std::vector<float> c = host_of(dc, c0.size());
    bool ok = s == CUBLAS_STATUS_SUCCESS;
    double worst = 0;
    for (int j = 0; j < n && ok; j++) {
        for (int i = 0; i < m; i++) {
            double want = 0, mag = 0;
            for (int p = 0; p < k; p++) {
                want += at(a, lda, ta, i, p) * at(b, ldb, tb, p, j);
                mag += fabs(at(a, lda, ta, i, p) * at(b, ldb, tb, p, j));
            }
            want = alpha * want + (beta != 0.0f ? beta * (double)c0[(size_t)j * ldc + i] : 0.0);
            mag = fabs(alpha) * mag + fabs(beta * (double)c0[(size_t)j * ldc + i]);
            const float got = c[(size_t)j * ldc + i];
            if (!isfinite(got) || fabs(got - want) > 1e-5 * (mag + 1)) ok = false;
            worst = std::max(worst, fabs(got - want));
        }
        for (int i = m; i < ldc && j + 1 < n; i++) ok = ok && c[(size_t)j * ldc + i] == 1234.5f;
    }
    char what[200];
    snprintf(what, sizeof what, "cublasGemmEx %c%c m=%d n=%d k=%d lda=%d ldb=%d ldc=%d alpha=%g beta=%g%s (max err %.2g)",
             ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, lda, ldb, ldc, (double)alpha, (double)beta,
             poisoned_c ? " over a NaN-poisoned C" : "", worst);
    check(ok, what);
    cudaFree(da);
    cudaFree(db);
    cudaFree(dc);
}

static cublasStatus_t gemm_args(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                                const float *a, int lda, const float *b, int ldb, float *c, int ldc,
                                cudaDataType_t type = CUDA_R_32F) {
    const float alpha = 1.0f, beta = 0.0f;
    return cublasGemmEx(h, ta, tb, m, n, k, &alpha, a, type, lda, b, CUDA_R_32F, ldb, &beta, c, CUDA_R_32F, ldc,
                        CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
}

int main(int argc, char **argv) {
    self_path = argv[0];
    if (argc > 1) return scenario(argv[1]);
    cudaSetDevice(0);

    // ---- device memory ----
    {
        std::vector<float> h(1000);
        for (int i = 0; i < 1000; i++) h[i] = (float)i * 0.5f - 7.0f;
        float *d = dev_from(h);
        std::vector<float> back = host_of(d, h.size());
        check(cudaGetLastError() == cudaSuccess && back == h, "cudaMalloc, cudaMemcpy there and back");
        cudaFree(d);
    }
    {
        float *d = dev<float>(333);
        std::vector<float> back = host_of(d, 333);
        check(std::all_of(back.begin(), back.end(), [](float v) { return isnan(v); }),
              "a fresh allocation reads back as NaN");
        cudaFree(d);
    }
    { // 5 rows of 40 bytes in a pitch of 64: the rest of each row keeps its poison
        const size_t pitch = 64, width = 40, height = 5;
        unsigned char *d = dev<unsigned char>(pitch * height);
        cudaError_t e = cudaMemset2DAsync(d, pitch, 0x3c, width, height, 0);
        std::vector<unsigned char> back = host_of(d, pitch * height);
        bool ok = e == cudaSuccess;
        for (size_t i = 0; i < back.size(); i++) ok = ok && back[i] == (i % pitch < width ? 0x3c : 0xff);
        check(ok, "cudaMemset2DAsync sets width bytes of each pitched row, nothing between");
        cudaFree(d);
    }
    {
        float src[8] = {0}, dst[8];
        std::string msg;
        cudaError_t e = cudaSuccess;
        msg = stderr_of([&] { e = cudaMemcpyAsync(dst, src, sizeof src, cudaMemcpyHostToDevice, 0); });
        check(e == cudaErrorInvalidValue && msg.find(EMU_PREFIX) == 0 && msg.find("not device memory") != std::string::npos,
              "cudaMemcpyAsync host-to-device into a host pointer refused, with a cuda-emu: message");
        check(cudaGetLastError() == cudaErrorInvalidValue && cudaGetLastError() == cudaSuccess,
              "that refusal is not sticky: cudaGetLastError reports it once");
    }

    // ---- cuBLAS ----
    cublasHandle_t h = nullptr;
    cublasLtHandle_t lt = nullptr;
    cudaStream_t st;
    cudaStreamCreate(&st);
    int version = 0;
    check(cublasCreate(&h) == CUBLAS_STATUS_SUCCESS && cublasSetStream(h, st) == CUBLAS_STATUS_SUCCESS &&
              cublasSetMathMode(h, (cublasMath_t)(CUBLAS_DEFAULT_MATH |
                                                  CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION)) ==
                  CUBLAS_STATUS_SUCCESS &&
              cublasGetVersion(h, &version) == CUBLAS_STATUS_SUCCESS && version == CUBLAS_VERSION &&
              cublasLtCreate(&lt) == CUBLAS_STATUS_SUCCESS,
          "cublasCreate, SetStream, SetMathMode, GetVersion, cublasLtCreate");
    check(strcmp(cublasGetStatusString(CUBLAS_STATUS_INVALID_VALUE), "CUBLAS_STATUS_INVALID_VALUE") == 0 &&
              strcmp(cublasGetStatusString(CUBLAS_STATUS_EXECUTION_FAILED), "CUBLAS_STATUS_EXECUTION_FAILED") == 0,
          "cublasGetStatusString names the status");
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) gemm_case(h, ta, tb, 37, 19, 53, 0.75f, -1.25f, false);
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) gemm_case(h, ta, tb, 37, 19, 53, 1.5f, 0.0f, true);
    gemm_case(h, false, true, 1, 1, 1, 2.0f, 1.0f, false);
    gemm_case(h, true, false, 64, 3, 1, 1.0f, 1.0f, false);
    { // k = 0: C = beta C, A and B never read (NULL is fine)
        std::vector<float> c0 = {1, 2, 3, 4, 5, 6};
        float *dc = dev_from(c0);
        const float alpha = 1.0f, beta = 2.0f;
        cublasStatus_t s = cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, 3, 2, 0, &alpha, nullptr, CUDA_R_32F, 3, nullptr,
                                        CUDA_R_32F, 1, &beta, dc, CUDA_R_32F, 3, CUBLAS_COMPUTE_32F,
                                        CUBLAS_GEMM_DEFAULT);
        std::vector<float> c = host_of(dc, 6);
        bool ok = s == CUBLAS_STATUS_SUCCESS;
        for (int i = 0; i < 6; i++) ok = ok && c[i] == 2.0f * c0[i];
        check(ok, "cublasGemmEx k=0: C = beta C without touching A or B");
        cudaFree(dc);
    }
    { // exact spans: a column-major 5 x 3 with ld 9 spans 2*9 + 5 floats, and that allocation is enough
        float *a = dev<float>(2 * 9 + 5), *b = dev<float>(3 * 2), *c = dev<float>(5 * 2);
        cudaMemset(a, 0, (2 * 9 + 5) * sizeof(float));
        cudaMemset(b, 0, 3 * 2 * sizeof(float));
        check(gemm_args(h, CUBLAS_OP_N, CUBLAS_OP_N, 5, 2, 3, a, 9, b, 3, c, 5) == CUBLAS_STATUS_SUCCESS &&
                  cudaGetLastError() == cudaSuccess,
              "cublasGemmEx with A allocated to exactly its span ((cols-1) lda + rows floats)");
        cudaFree(a);
        cudaFree(b);
        cudaFree(c);
    }
    { // argument checks, as cuBLAS: nothing is computed, no error is left behind
        float *a = dev<float>(4096), *b = dev<float>(4096), *c = dev<float>(4096);
        const cublasOperation_t N = CUBLAS_OP_N, T = CUBLAS_OP_T;
        check(gemm_args(h, N, N, 8, 8, -1, a, 8, b, 8, c, 8) == CUBLAS_STATUS_INVALID_VALUE, "k = -1: INVALID_VALUE");
        check(gemm_args(h, N, N, -2, 8, 8, a, 8, b, 8, c, 8) == CUBLAS_STATUS_INVALID_VALUE, "m = -2: INVALID_VALUE");
        check(gemm_args(h, N, N, 8, -1, 8, a, 8, b, 8, c, 8) == CUBLAS_STATUS_INVALID_VALUE, "n = -1: INVALID_VALUE");
        check(gemm_args(h, N, N, 8, 8, 8, a, 7, b, 8, c, 8) == CUBLAS_STATUS_INVALID_VALUE,
              "lda < m (A not transposed): INVALID_VALUE");
        check(gemm_args(h, T, N, 16, 8, 8, a, 8, b, 8, c, 16) == CUBLAS_STATUS_SUCCESS &&
                  gemm_args(h, T, N, 16, 8, 9, a, 8, b, 9, c, 16) == CUBLAS_STATUS_INVALID_VALUE,
              "A transposed: lda is checked against k, not m");
        check(gemm_args(h, N, T, 8, 16, 8, a, 8, b, 15, c, 8) == CUBLAS_STATUS_INVALID_VALUE,
              "ldb < n (B transposed): INVALID_VALUE");
        check(gemm_args(h, N, N, 8, 8, 8, a, 8, b, 8, c, 7) == CUBLAS_STATUS_INVALID_VALUE, "ldc < m: INVALID_VALUE");
        check(gemm_args(h, N, N, 8, 8, 0, a, 8, b, 0, c, 8) == CUBLAS_STATUS_INVALID_VALUE,
              "k = 0 with ldb = 0: INVALID_VALUE (leading dimensions are at least 1)");
        check(gemm_args(h, (cublasOperation_t)2, N, 8, 8, 8, a, 8, b, 8, c, 8) == CUBLAS_STATUS_INVALID_VALUE,
              "an unknown operation: INVALID_VALUE");
        check(gemm_args(nullptr, N, N, 8, 8, 8, a, 8, b, 8, c, 8) == CUBLAS_STATUS_NOT_INITIALIZED,
              "a NULL handle: NOT_INITIALIZED");
        std::string msg;
        cublasStatus_t s = CUBLAS_STATUS_SUCCESS;
        msg = stderr_of([&] { s = gemm_args(h, N, N, 8, 8, 8, a, 8, b, 8, c, 8, CUDA_R_16BF); });
        check(s == CUBLAS_STATUS_NOT_SUPPORTED && msg.find(EMU_PREFIX) == 0, "bf16 A: NOT_SUPPORTED, with a cuda-emu: message");
        check(cudaGetLastError() == cudaSuccess, "refused arguments leave no CUDA error");
        cudaFree(a);
        cudaFree(b);
        cudaFree(c);
    }
    std::string out;
    int rc = child("host_a", "", &out);
    check(rc == 0 && out.find(EMU_PREFIX "cublasGemmEx: operand A") != std::string::npos &&
              out.find("status CUBLAS_STATUS_EXECUTION_FAILED") != std::string::npos &&
              out.find("after cudaErrorIllegalAddress") != std::string::npos,
          "a host pointer as A: reported naming A, EXECUTION_FAILED, sticky cudaErrorIllegalAddress after");
    if (rc != 0) printf("%s", out.c_str());
    rc = child("short_a", "", &out);
    check(rc == 0 && out.find(EMU_PREFIX "cublasGemmEx: operand A") != std::string::npos,
          "A one float shorter than its span: reported as a fault");
    if (rc != 0) printf("%s", out.c_str());
    cublasLtDestroy(lt);
    check(cublasDestroy(h) == CUBLAS_STATUS_SUCCESS, "cublasDestroy");
    cudaStreamDestroy(st);

    // ---- cub::DeviceRadixSort::SortPairs ----
    {
        const int n = 1000;
        std::vector<int32_t> keys(n), vals(n);
        unsigned seed = 5;
        for (int i = 0; i < n; i++) {
            keys[i] = (int32_t)(rnd(seed) * 40.0f); // -40 .. 39: about 25 of each, negatives included
            vals[i] = i;
        }
        keys[3] = INT32_MIN, keys[7] = INT32_MAX, keys[11] = -1, keys[13] = 0;
        size_t bytes = 0;
        cudaError_t e = cub::DeviceRadixSort::SortPairs(NULL, bytes, (const int32_t *)NULL, (int32_t *)NULL,
                                                        (const int *)NULL, (int *)NULL, n, 0, 32, 0);
        check(e == cudaSuccess && bytes >= 2 * n * sizeof(int32_t), "SortPairs size query: room for keys and values");
        int32_t *kin = dev_from(keys), *kout = dev<int32_t>(n);
        int *vin = dev_from(vals), *vout = dev<int>(n);
        void *ws = dev<char>(bytes);
        e = cub::DeviceRadixSort::SortPairs(ws, bytes, kin, kout, vin, vout, n, 0, 32, 0);
        std::vector<int32_t> ko = host_of(kout, n);
        std::vector<int> vo = host_of(vout, n);
        std::vector<int> want(n);
        std::iota(want.begin(), want.end(), 0);
        std::stable_sort(want.begin(), want.end(), [&](int a, int b) { return keys[a] < keys[b]; });
        bool ok = e == cudaSuccess;
        for (int i = 0; i < n && ok; i++) ok = vo[i] == want[i] && ko[i] == keys[want[i]];
        check(ok, "SortPairs of 1000 int32 keys with duplicates: numeric order (negatives first), stable");
        check(ko[0] == INT32_MIN && ko[n - 1] == INT32_MAX, "INT32_MIN sorts first, INT32_MAX last");

        // only bits [0, 4): ordered by the low nibble, ties in input order
        e = cub::DeviceRadixSort::SortPairs(ws, bytes, kin, kout, vin, vout, n, 0, 4, 0);
        ko = host_of(kout, n);
        vo = host_of(vout, n);
        std::iota(want.begin(), want.end(), 0);
        std::stable_sort(want.begin(), want.end(), [&](int a, int b) { return (keys[a] & 15) < (keys[b] & 15); });
        ok = e == cudaSuccess;
        for (int i = 0; i < n && ok; i++) ok = vo[i] == want[i] && ko[i] == keys[want[i]];
        check(ok, "SortPairs over bits [0, 4) only: by the low nibble, stable");

        std::string msg;
        size_t small = bytes - 1;
        msg = stderr_of([&] { e = cub::DeviceRadixSort::SortPairs(ws, small, kin, kout, vin, vout, n, 0, 32, 0); });
        check(e == cudaErrorInvalidValue && msg.find(EMU_PREFIX) == 0 && cudaGetLastError() == cudaErrorInvalidValue,
              "a workspace one byte smaller than asked for: refused");
        void *ws_small = dev<char>(bytes / 2);
        msg = stderr_of([&] { e = cub::DeviceRadixSort::SortPairs(ws_small, bytes, kin, kout, vin, vout, n, 0, 32, 0); });
        check(e == cudaErrorInvalidValue && msg.find("d_temp_storage") != std::string::npos,
              "temp_storage_bytes larger than the workspace's allocation: refused naming d_temp_storage");
        std::vector<int32_t> hk(keys);
        msg = stderr_of([&] { e = cub::DeviceRadixSort::SortPairs(ws, bytes, hk.data(), kout, vin, vout, n, 0, 32, 0); });
        check(e == cudaErrorInvalidValue && msg.find(EMU_PREFIX) == 0 && msg.find("d_keys_in") != std::string::npos,
              "host keys: refused with a cuda-emu: message naming d_keys_in");
        cudaGetLastError();
        check(cudaDeviceSynchronize() == cudaSuccess, "the sort's refusals are not sticky, no guard zone was hit");
        cudaFree(kin);
        cudaFree(kout);
        cudaFree(vin);
        cudaFree(vout);
        cudaFree(ws);
        cudaFree(ws_small);
    }

    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
