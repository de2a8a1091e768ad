// The CUDA emulation's runtime and libraries (tests/cuda_emu/src/emu_runtime.cc, emu_blas.cc, emu_cub.cc) against
// what the real ones do: device memory (copies, NaN poison of fresh allocations, 2-D memset, a host pointer
// refused), cublasGemmEx against a naive triple loop in all four transpose combinations with odd sizes and
// padded leading dimensions, beta = 0 over NaN poison, cuBLAS's argument checks; cuBLASLt: cublasLtMatmul
// giving cublasGemmEx's bits (fp32 and bf16, four transpose combinations, beta = 0 over poison), the heuristic
// counted and stating its workspace, the combinations it refuses, a workspace too small, wrong attribute sizes,
// conflicting layouts; cub's radix sort (stable, signed keys, a bit range, the size query, a workspace too
// small, a host pointer). A host pointer handed to cuBLAS (or as cuBLASLt's workspace, a workspace shorter than
// its size, a misaligned operand) is a fault, sticky as on a GPU, so those cases run in a child process (this
// program with a scenario argument) and the parent checks its exit and message.
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

// ---- cuBLASLt: one product as cuda_matmul.cu makes it (descriptor, layouts, preference, heuristic; D = C) ----

struct LtGemm {
    cublasLtMatmulDesc_t desc = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
    cublasLtMatmulHeuristicResult_t r{};
};

// Layouts of a column-major m x n x k product with op(A), op(B) as in cublasGemmEx; heuristic with a preference
// of max_ws bytes (0: the attribute left at its default) and alignment `align` for every operand (0: default).
static cublasStatus_t lt_prepare(cublasLtHandle_t lt, LtGemm *g, bool ta, bool tb, int m, int n, int k, int lda,
                                 int ldb, int ldc, cudaDataType_t ab, uint64_t max_ws, uint32_t align = 0) {
    const int32_t opa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, opb = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasLtMatmulDescCreate(&g->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F);
    cublasLtMatmulDescSetAttribute(g->desc, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa);
    cublasLtMatmulDescSetAttribute(g->desc, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb);
    cublasLtMatrixLayoutCreate(&g->a, ab, ta ? k : m, ta ? m : k, lda);
    cublasLtMatrixLayoutCreate(&g->b, ab, tb ? n : k, tb ? k : n, ldb);
    cublasLtMatrixLayoutCreate(&g->c, CUDA_R_32F, m, n, ldc);
    cublasLtMatmulPreference_t pref;
    cublasLtMatmulPreferenceCreate(&pref);
    if (max_ws)
        cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &max_ws, sizeof max_ws);
    for (int i = 0; align && i < 4; i++)
        cublasLtMatmulPreferenceSetAttribute(
            pref, (cublasLtMatmulPreferenceAttributes_t)(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES + i), &align,
            sizeof align);
    int found = 0;
    cublasStatus_t s = cublasLtMatmulAlgoGetHeuristic(lt, g->desc, g->a, g->b, g->c, g->c, pref, 1, &g->r, &found);
    cublasLtMatmulPreferenceDestroy(pref);
    return s == CUBLAS_STATUS_SUCCESS && found != 1 ? CUBLAS_STATUS_NOT_SUPPORTED : s;
}

static cublasStatus_t lt_run(cublasLtHandle_t lt, const LtGemm &g, float alpha, const void *a, const void *b,
                             float beta, float *c, void *ws, size_t ws_bytes, bool with_algo = true) {
    return cublasLtMatmul(lt, g.desc, &alpha, a, g.a, b, g.b, &beta, c, g.c, c, g.c, with_algo ? &g.r.algo : nullptr,
                          ws, ws_bytes, 0);
}

static void lt_release(LtGemm *g) {
    cublasLtMatmulDescDestroy(g->desc);
    cublasLtMatrixLayoutDestroy(g->a);
    cublasLtMatrixLayoutDestroy(g->b);
    cublasLtMatrixLayoutDestroy(g->c);
}

// bf16 bits of the (round to nearest even) of a matrix's floats; NaN padding stays NaN
static std::vector<uint16_t> to_bf16(const std::vector<float> &x) {
    std::vector<uint16_t> h(x.size());
    for (size_t i = 0; i < x.size(); i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        h[i] = isnan(x[i]) ? (uint16_t)0x7fc0 : (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    }
    return h;
}

// cublasLtMatmul against cublasGemmEx on the same operands (padded leading dimensions; beta = 0 over a NaN-
// poisoned C): the same arithmetic, so the same bits, in fp32 and bf16
static void lt_vs_gemmex(cublasHandle_t h, cublasLtHandle_t lt, void *ws, bool ta, bool tb, bool bf16, float beta) {
    const int m = 37, n = 19, k = 53;
    const int a_rows = ta ? k : m, a_cols = ta ? m : k, b_rows = tb ? n : k, b_cols = tb ? k : n;
    const int lda = a_rows + 3, ldb = b_rows + 5, ldc = m + 2;
    std::vector<float> a = matrix(a_rows, a_cols, lda, 11), b = matrix(b_rows, b_cols, ldb, 23);
    std::vector<float> c0 = matrix(m, n, ldc, 37);
    void *da, *db;
    if (bf16) da = dev_from(to_bf16(a)), db = dev_from(to_bf16(b));
    else da = dev_from(a), db = dev_from(b);
    float *c1 = beta == 0.0f ? dev<float>(c0.size()) : dev_from(c0), *c2 = beta == 0.0f ? dev<float>(c0.size()) : dev_from(c0);
    const cudaDataType_t type = bf16 ? CUDA_R_16BF : CUDA_R_32F;
    const float alpha = 0.75f;
    cublasStatus_t s1 = cublasGemmEx(h, ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb ? CUBLAS_OP_T : CUBLAS_OP_N, m, n, k, &alpha,
                                     da, type, lda, db, type, ldb, &beta, c1, CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F,
                                     CUBLAS_GEMM_DEFAULT);
    LtGemm g;
    cublasStatus_t s2 = lt_prepare(lt, &g, ta, tb, m, n, k, lda, ldb, ldc, type, (uint64_t)32 << 20);
    if (s2 == CUBLAS_STATUS_SUCCESS) s2 = lt_run(lt, g, alpha, da, db, beta, c2, ws, (size_t)32 << 20);
    std::vector<float> r1 = host_of(c1, c0.size()), r2 = host_of(c2, c0.size());
    bool ok = s1 == CUBLAS_STATUS_SUCCESS && s2 == CUBLAS_STATUS_SUCCESS;
    for (int j = 0; j < n && ok; j++)
        for (int i = 0; i < m; i++) {
            const size_t at_ij = (size_t)j * ldc + i;
            ok = ok && isfinite(r2[at_ij]) && memcmp(&r1[at_ij], &r2[at_ij], 4) == 0;
        }
    char what[160];
    snprintf(what, sizeof what, "cublasLtMatmul %c%c %s beta=%g%s: the bits of cublasGemmEx", ta ? 'T' : 'N',
             tb ? 'T' : 'N', bf16 ? "bf16" : "fp32", (double)beta, beta == 0.0f ? " over a NaN-poisoned C" : "");
    check(ok, what);
    lt_release(&g);
    cudaFree(da), cudaFree(db), cudaFree(c1), cudaFree(c2);
}

static void test_cublaslt(cublasHandle_t h, cublasLtHandle_t lt) {
    const size_t ws_bytes = (size_t)32 << 20;
    const float one = 1.0f, zero = 0.0f;
    void *ws = dev<char>(ws_bytes);
    for (int bf16 = 0; bf16 < 2; bf16++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                lt_vs_gemmex(h, lt, ws, ta, tb, bf16, -1.25f);
                lt_vs_gemmex(h, lt, ws, ta, tb, bf16, 0.0f);
            }
    float *a = dev<float>(4096), *b = dev<float>(4096), *c = dev<float>(4096);
    cudaMemset(a, 0, 4096 * sizeof(float));
    cudaMemset(b, 0, 4096 * sizeof(float));
    { // the heuristic: counted, one algorithm with the workspace it states
        LtGemm g, g0;
        long long before = emu_cublaslt_heuristic_calls();
        cublasStatus_t s = lt_prepare(lt, &g, false, false, 8, 8, 8, 8, 8, 8, CUDA_R_32F, ws_bytes);
        cublasStatus_t s0 = lt_prepare(lt, &g0, false, false, 8, 8, 8, 8, 8, 8, CUDA_R_32F, 0);
        check(s == CUBLAS_STATUS_SUCCESS && s0 == CUBLAS_STATUS_SUCCESS &&
                  emu_cublaslt_heuristic_calls() == before + 2 && g.r.workspaceSize == CUBLASLT_EMU_ALGO_WORKSPACE &&
                  g0.r.workspaceSize == 0,
              "cublasLtMatmulAlgoGetHeuristic: counted per call; the workspace it needs fits the preference's maximum");
        std::string msg;
        cublasStatus_t run = CUBLAS_STATUS_SUCCESS;
        msg = stderr_of([&] { run = lt_run(lt, g, 1.0f, a, b, 0.0f, c, ws, CUBLASLT_EMU_ALGO_WORKSPACE - 1); });
        check(run == CUBLAS_STATUS_INVALID_VALUE && msg.find(EMU_PREFIX "cublasLtMatmul: workspace") == 0,
              "cublasLtMatmul with a workspace one byte smaller than its algorithm needs: INVALID_VALUE");
        check(lt_run(lt, g0, 1.0f, a, b, 0.0f, c, nullptr, 0) == CUBLAS_STATUS_SUCCESS,
              "an algorithm that needs no workspace runs without one");
        before = emu_cublaslt_heuristic_calls();
        check(lt_run(lt, g, 1.0f, a, b, 0.0f, c, nullptr, 0, false) == CUBLAS_STATUS_SUCCESS &&
                  emu_cublaslt_heuristic_calls() == before + 1,
              "cublasLtMatmul with algo NULL: an implicit heuristic query, counted");
        msg = stderr_of([&] {
            run = cublasLtMatmul(lt, g.desc, &one, a, g.a, b, g.b, &zero, c, g.c, b, g.c, &g.r.algo, ws, ws_bytes, 0);
        });
        check(run == CUBLAS_STATUS_NOT_SUPPORTED && msg.find(EMU_PREFIX) == 0, "D other than C: NOT_SUPPORTED here");
        lt_release(&g);
        lt_release(&g0);
    }
    { // combinations cuBLASLt has no kernel for, conflicting layouts, attribute sizes
        LtGemm g;
        std::string msg;
        cublasStatus_t s = CUBLAS_STATUS_SUCCESS;
        lt_prepare(lt, &g, false, false, 8, 8, 8, 8, 8, 8, CUDA_R_32F, ws_bytes);
        cublasLtMatrixLayout_t bf, wrong_k, short_ld;
        cublasLtMatrixLayoutCreate(&bf, CUDA_R_16BF, 8, 8, 8);
        cublasLtMatrixLayoutCreate(&wrong_k, CUDA_R_32F, 9, 8, 9);
        cublasLtMatrixLayoutCreate(&short_ld, CUDA_R_32F, 8, 8, 7);
        cublasLtMatmulPreference_t pref;
        cublasLtMatmulPreferenceCreate(&pref);
        cublasLtMatmulHeuristicResult_t r;
        int found = -1;
        msg = stderr_of([&] { s = cublasLtMatmulAlgoGetHeuristic(lt, g.desc, g.a, bf, g.c, g.c, pref, 1, &r, &found); });
        check(s == CUBLAS_STATUS_NOT_SUPPORTED && found == 0 && msg.find(EMU_PREFIX) == 0,
              "heuristic for fp32 A with bf16 B: NOT_SUPPORTED (no mixed kernel), with a cuda-emu: message");
        msg = stderr_of([&] { s = cublasLtMatmulAlgoGetHeuristic(lt, g.desc, bf, bf, g.c, bf, pref, 1, &r, &found); });
        check(s == CUBLAS_STATUS_NOT_SUPPORTED, "heuristic for an fp32 C with a bf16 D: NOT_SUPPORTED");
        cublasLtMatmulDesc_t half_scale;
        cublasLtMatmulDescCreate(&half_scale, CUBLAS_COMPUTE_32F, CUDA_R_16BF);
        msg = stderr_of([&] { s = cublasLtMatmulAlgoGetHeuristic(lt, half_scale, g.a, g.b, g.c, g.c, pref, 1, &r, &found); });
        check(s == CUBLAS_STATUS_NOT_SUPPORTED, "heuristic for fp32 compute with a bf16 scale type: NOT_SUPPORTED");
        msg = stderr_of([&] {
            s = cublasLtMatmul(lt, g.desc, &one, a, g.a, b, bf, &zero, c, g.c, c, g.c, &g.r.algo, ws, ws_bytes, 0);
        });
        check(s == CUBLAS_STATUS_NOT_SUPPORTED, "cublasLtMatmul with fp32 A and bf16 B: NOT_SUPPORTED");
        check(cublasLtMatmulAlgoGetHeuristic(lt, g.desc, g.a, wrong_k, g.c, g.c, pref, 1, &r, &found) ==
                  CUBLAS_STATUS_INVALID_VALUE,
              "op(B) with 9 rows against op(A)'s 8 columns: INVALID_VALUE");
        check(cublasLtMatmulAlgoGetHeuristic(lt, g.desc, short_ld, g.b, g.c, g.c, pref, 1, &r, &found) ==
                  CUBLAS_STATUS_INVALID_VALUE,
              "a leading dimension below the rows: INVALID_VALUE");
        check(cublasLtMatmulAlgoGetHeuristic(lt, g.desc, g.a, g.b, g.c, g.c, pref, 0, &r, &found) ==
                  CUBLAS_STATUS_INVALID_VALUE,
              "requestedAlgoCount 0: INVALID_VALUE");
        const int64_t op64 = CUBLAS_OP_T;
        const uint32_t ws32 = 1024;
        check(cublasLtMatmulDescSetAttribute(g.desc, CUBLASLT_MATMUL_DESC_TRANSA, &op64, sizeof op64) ==
                      CUBLAS_STATUS_INVALID_VALUE &&
                  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws32,
                                                       sizeof ws32) == CUBLAS_STATUS_INVALID_VALUE,
              "attributes of the wrong size (TRANSA as 8 bytes, MAX_WORKSPACE_BYTES as 4): INVALID_VALUE");
        check(cudaGetLastError() == cudaSuccess, "refused cuBLASLt arguments leave no CUDA error");
        cublasLtMatmulPreferenceDestroy(pref);
        cublasLtMatmulDescDestroy(half_scale);
        cublasLtMatrixLayoutDestroy(bf);
        cublasLtMatrixLayoutDestroy(wrong_k);
        cublasLtMatrixLayoutDestroy(short_ld);
        lt_release(&g);
    }
    cudaFree(a), cudaFree(b), cudaFree(c), cudaFree(ws);
}

// Faults of cublasLtMatmul, in a child: a workspace that is host memory, one shorter than the size passed, an
// operand less aligned than its algorithm assumes, a host operand. Exits 0 when reported as a GPU would.
static int lt_scenario(const char *name) {
    cublasLtHandle_t lt;
    if (cublasLtCreate(&lt) != CUBLAS_STATUS_SUCCESS) return 2;
    const size_t ws_bytes = (size_t)32 << 20;
    std::vector<char> host_ws(ws_bytes);
    std::vector<float> host_a(64, 0.0f);
    float *a = dev<float>(65), *b = dev<float>(64), *c = dev<float>(64);
    cudaMemset(a, 0, 65 * sizeof(float));
    cudaMemset(b, 0, 64 * sizeof(float));
    void *ws_dev = dev<char>(ws_bytes), *ws = ws_dev;
    const float *pa = a;
    LtGemm g;
    if (lt_prepare(lt, &g, false, false, 8, 8, 8, 8, 8, 8, CUDA_R_32F, ws_bytes) != CUBLAS_STATUS_SUCCESS) return 2;
    if (strcmp(name, "lt_host_workspace") == 0) ws = host_ws.data();
    else if (strcmp(name, "lt_short_workspace") == 0) ws = dev<char>(ws_bytes - 256);
    else if (strcmp(name, "lt_misaligned_a") == 0) pa = a + 1; // 4-byte aligned; the algorithm assumes 16
    else if (strcmp(name, "lt_host_a") == 0) pa = host_a.data();
    else return 2;
    cublasStatus_t s = lt_run(lt, g, 1.0f, pa, b, 0.0f, c, ws, ws_bytes);
    printf("status %s\n", cublasGetStatusString(s));
    cudaError_t again = cudaDeviceSynchronize();
    printf("after %s\n", cudaGetErrorName(again));
    cublasStatus_t s2 = lt_run(lt, g, 1.0f, a, b, 0.0f, c, ws_dev, ws_bytes); // valid, after the fault
    printf("next product %s\n", cublasGetStatusString(s2));
    // frees even after the fault (under ASan the child's leaks would fail it)
    if (ws != ws_dev && ws != host_ws.data()) cudaFree(ws);
    cudaFree(a), cudaFree(b), cudaFree(c), cudaFree(ws_dev);
    lt_release(&g);
    cublasLtDestroy(lt);
    const cudaError_t want = strcmp(name, "lt_misaligned_a") == 0 ? cudaErrorMisalignedAddress : cudaErrorIllegalAddress;
    return s == CUBLAS_STATUS_EXECUTION_FAILED && again == want && s2 == CUBLAS_STATUS_EXECUTION_FAILED ? 0 : 1;
}

int main(int argc, char **argv) {
    self_path = argv[0];
    if (argc > 1) return strncmp(argv[1], "lt_", 3) == 0 ? lt_scenario(argv[1]) : scenario(argv[1]);
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
    test_cublaslt(h, lt);
    const char *const lt_faults[][2] = {{"lt_host_workspace", "cublasLtMatmul: the workspace"},
                                        {"lt_short_workspace", "cublasLtMatmul: the workspace"},
                                        {"lt_misaligned_a", "cublasLtMatmul: operand A is not aligned"},
                                        {"lt_host_a", "cublasLtMatmul: operand A"}};
    for (const auto &f : lt_faults) {
        rc = child(f[0], "", &out);
        std::string what = std::string(f[0]) + ": reported as a GPU fault, EXECUTION_FAILED, sticky after";
        check(rc == 0 && out.find(std::string(EMU_PREFIX) + f[1]) != std::string::npos, what.c_str());
        if (rc != 0) printf("%s", out.c_str());
    }
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
