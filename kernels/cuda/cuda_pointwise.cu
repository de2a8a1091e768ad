// Elementwise ops, reductions to the host, the embedding, rotary embedding, gates, biases, SwiGLU and AdamW.
//
// Rounding follows the CPU backend: it is built for x86-64-v2, which has no fma, so every a*b+c there rounds
// twice; nvcc would fuse those into one fma. Where a product feeds an add, the kernels below spell the two
// roundings out (__fmul_rn / __fadd_rn, which nvcc never fuses), so the GPU rounds like the CPU. Where the CPU
// uses fmaf (AdamW) the GPU does too. expf is the remaining difference (CUDA's is within 2 ulp, glibc's within 1).
#include <limits.h>
#include <math.h>
#include <string.h>

#include <cub/device/device_radix_sort.cuh>

#include "shear/adamw_coef.h"
#include "cuda_common.cuh"

#define PW_THREADS 256
// Reductions to the host use a grid that depends on n only (not on the GPU), so their summation order, and so
// their result, is the same on every device. Elements per thread before the grid reaches its cap:
#define PW_REDUCE_PER_THREAD 8
#define PW_REDUCE_MAX_BLOCKS 1024

static inline size_t align256(size_t bytes) { return (bytes + 255) / 256 * 256; }

// ---- axpy, scale ----

static __global__ void axpy_kernel(float *y, const float *x, float a, size_t n) { // y, x [n]
    CUDA_GRID_STRIDE(i, n) y[i] = __fadd_rn(y[i], __fmul_rn(a, x[i]));
}

static __global__ void scale_kernel(float *x, float s, size_t n) { // x [n]
    CUDA_GRID_STRIDE(i, n) x[i] *= s;
}

extern "C" void cuda_axpy(float *y, const float *x, float a, size_t n) {
    if (n == 0) return;
    CUDA_LAUNCH(axpy_kernel, cuda_blocks(n, PW_THREADS), PW_THREADS, 0, cuda_stream(), y, x, a, n);
    CUDA_LAUNCH_CHECK();
}

extern "C" void cuda_scale(float *x, float s, size_t n) {
    if (n == 0) return;
    CUDA_LAUNCH(scale_kernel, cuda_blocks(n, PW_THREADS), PW_THREADS, 0, cuda_stream(), x, s, n);
    CUDA_LAUNCH_CHECK();
}

// ---- sumsq, all_finite ----

static unsigned reduce_blocks(size_t n) {
    size_t per_block = (size_t)PW_THREADS * PW_REDUCE_PER_THREAD;
    size_t b = (n + per_block - 1) / per_block;
    return (unsigned)(b < PW_REDUCE_MAX_BLOCKS ? (b > 0 ? b : 1) : PW_REDUCE_MAX_BLOCKS);
}

// partial[blockIdx.x] = sum of x^2 over the block's grid-stride share, in double (a float squared is exact in
// double, so fusing the add into an fma changes nothing)
static __global__ void sumsq_partial_kernel(double *partial, const float *x, size_t n) { // partial [gridDim.x], x [n]
    double acc = 0.0;
    CUDA_GRID_STRIDE(i, n) {
        double xi = (double)x[i];
        acc += xi * xi;
    }
    acc = cuda_block_sum(acc);
    if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

// out[0] = sum of partial[nb], one block
static __global__ void sum_partials_kernel(double *out, const double *partial, unsigned nb) {
    double acc = 0.0;
    for (unsigned i = threadIdx.x; i < nb; i += blockDim.x) acc += partial[i];
    acc = cuda_block_sum(acc);
    if (threadIdx.x == 0) out[0] = acc;
}

extern "C" double cuda_sumsq(const float *x, size_t n) {
    if (n == 0) return 0.0;
    unsigned nb = reduce_blocks(n);
    double *partial = (double *)cuda_scratch(CUDA_SCRATCH_POINTWISE, (nb + 1) * sizeof(double)); // [nb], then sum
    CUDA_LAUNCH(sumsq_partial_kernel, nb, PW_THREADS, 0, cuda_stream(), partial, x, n);
    CUDA_LAUNCH_CHECK();
    CUDA_LAUNCH(sum_partials_kernel, 1, PW_THREADS, 0, cuda_stream(), partial + nb, partial, nb);
    CUDA_LAUNCH_CHECK();
    double total = 0.0;
    cuda_to_host(&total, partial + nb, sizeof(double));
    return total;
}

// *bad = 1 when any element is NaN or +-Inf (exponent bits all ones); every writer writes the same value
static __global__ void nonfinite_kernel(int *bad, const float *x, size_t n) { // x [n]
    int found = 0;
    CUDA_GRID_STRIDE(i, n) found |= (__float_as_uint(x[i]) & 0x7f800000u) == 0x7f800000u;
    if (found) *bad = 1;
}

extern "C" int cuda_all_finite(const float *x, size_t n) {
    if (n == 0) return 1;
    int *bad = (int *)cuda_scratch(CUDA_SCRATCH_POINTWISE, sizeof(int));
    CUDA_CHECK(cudaMemsetAsync(bad, 0, sizeof(int), cuda_stream()));
    CUDA_LAUNCH(nonfinite_kernel, cuda_blocks(n, PW_THREADS), PW_THREADS, 0, cuda_stream(), bad, x, n);
    CUDA_LAUNCH_CHECK();
    int host_bad = 0;
    cuda_to_host(&host_bad, bad, sizeof(int));
    return !host_bad;
}

// ---- embedding ----

// one block per row (grid-stride over rows), threads over the row
static __global__ void embedding_fwd_kernel(float *out, const int32_t *tok, const float *wte, size_t N, int d) {
    // out [N,d], tok [N], wte [V,d]
    for (size_t n = blockIdx.x; n < N; n += gridDim.x) {
        const float *src = wte + (size_t)tok[n] * (size_t)d;
        float *dst = out + n * (size_t)d;
        for (int j = threadIdx.x; j < d; j += blockDim.x) dst[j] = src[j];
    }
}

extern "C" void cuda_embedding_fwd(float *out, const int32_t *tok, const float *wte, size_t N, int d) {
    if (N == 0 || d <= 0) return;
    unsigned blocks = (unsigned)(N < (size_t)INT_MAX ? N : (size_t)INT_MAX);
    CUDA_LAUNCH(embedding_fwd_kernel, blocks, PW_THREADS, 0, cuda_stream(), out, tok, wte, N, d);
    CUDA_LAUNCH_CHECK();
}

static __global__ void iota_kernel(int *idx, int n) { // idx [n]
    CUDA_GRID_STRIDE(i, n) idx[i] = (int)i;
}

// Deterministic, no atomics: the rows are sorted by token (stable, so rows of one token stay in row order); the
// block that meets the first row of a token's run adds the whole run into that token's row of dwte, in row
// order, exactly as the CPU does (drow[j] += dout[n, j] for n ascending): the same bits as the CPU backend.
static __global__ void embedding_bwd_runs_kernel(float *dwte, const float *dout, const int32_t *keys, const int *rows,
                                          int n, int d) {
    // dwte [V,d], dout [N,d], keys [n] (sorted tokens), rows [n] (their row indices)
    for (int k = blockIdx.x; k < n; k += gridDim.x) {
        const int32_t t = keys[k];
        if (k > 0 && keys[k - 1] == t) continue; // not the head of a run
        float *drow = dwte + (size_t)t * (size_t)d;
        for (int j = threadIdx.x; j < d; j += blockDim.x) {
            float acc = drow[j];
            for (int m = k; m < n && keys[m] == t; m++) acc += dout[(size_t)rows[m] * (size_t)d + j];
            drow[j] = acc;
        }
    }
}

extern "C" void cuda_embedding_bwd(float *dwte, const float *dout, const int32_t *tok, size_t N, int d) {
    if (!dwte || N == 0 || d <= 0) return;
    if (N > (size_t)INT_MAX) CUDA_DIE("embedding backward over %zu rows; at most %d rows per call", N, INT_MAX);
    const int n = (int)N;
    cudaStream_t st = cuda_stream();
    size_t sort_bytes = 0;
    CUDA_CHECK(cub::DeviceRadixSort::SortPairs(NULL, sort_bytes, (const int32_t *)NULL, (int32_t *)NULL,
                                               (const int *)NULL, (int *)NULL, n, 0, 32, st));
    // scratch: rows_in [n] | keys_out [n] | rows_out [n] | sort workspace
    size_t vec = align256((size_t)n * sizeof(int));
    char *ws = (char *)cuda_scratch(CUDA_SCRATCH_POINTWISE, 3 * vec + align256(sort_bytes));
    int *rows_in = (int *)ws;
    int32_t *keys_out = (int32_t *)(ws + vec);
    int *rows_out = (int *)(ws + 2 * vec);
    void *sort_ws = ws + 3 * vec;
    CUDA_LAUNCH(iota_kernel, cuda_blocks(N, PW_THREADS), PW_THREADS, 0, st, rows_in, n);
    CUDA_LAUNCH_CHECK();
    CUDA_CHECK(cub::DeviceRadixSort::SortPairs(sort_ws, sort_bytes, tok, keys_out, rows_in, rows_out, n, 0, 32, st));
    unsigned blocks = (unsigned)n; // one block per sorted row; those that are not a run's head return at once
    CUDA_LAUNCH(embedding_bwd_runs_kernel, blocks, PW_THREADS, 0, st, dwte, dout, keys_out, rows_out, n, d);
    CUDA_LAUNCH_CHECK();
}

// ---- rotary position embedding ----

// The cos/sin table is built on the host with the CPU backend's code (float powf/cosf/sinf from libm, as Hugging
// Face computes it), so both backends rotate by the same float angles. It is cached on the device: a table for
// positions 0 .. T-1 serves every use that reaches only positions below T with the same head_dim and RoPE. A
// table that must grow for the same head_dim and RoPE grows to at least twice its rows, so generation, whose
// last position moves up by one per token (rope_at_fwd), rebuilds it O(log positions) times, not per token.
static float *g_rope_dev = NULL; // [2, T, hd/2]: cos then sin, row t = position t
static size_t g_rope_cap = 0;    // floats allocated
static int g_rope_T = 0, g_rope_hd = 0;
static ShearRope g_rope; // the RoPE (theta and scaling) the table was built for

// A table covering positions 0 .. T-1 (at least), current on the stream.
static const float *rope_table(int T, int hd, const ShearRope *rope) {
    const bool same = g_rope_dev && hd == g_rope_hd && rope_same(&g_rope, rope);
    if (same && T <= g_rope_T) return g_rope_dev;
    // growing for the same head_dim and RoPE: at least doubling (a row does not depend on how many there are)
    if (same && g_rope_T <= INT_MAX / 2 && T < 2 * g_rope_T)
        T = 2 * g_rope_T;
    const int half = hd / 2;
    const size_t per = (size_t)T * half; // floats of one of cos / sin
    float *host = (float *)malloc(2 * per * sizeof(float)); // [2, T, hd/2]
    if (!host) CUDA_DIE("out of host memory for a %d x %d rope table", T, half);
    float *cosv = host, *sinv = host + per;
    for (int i = 0; i < half; i++) {
        float inv_freq = rope_inv_freq(rope, i, hd);
        for (int t = 0; t < T; t++) {
            float angle = (float)t * inv_freq;
            cosv[(size_t)t * half + i] = cosf(angle);
            sinv[(size_t)t * half + i] = sinf(angle);
        }
    }
    if (2 * per > g_rope_cap) {
        CUDA_CHECK(cudaStreamSynchronize(cuda_stream())); // queued rope kernels may still read the old table
        if (g_rope_dev) CUDA_CHECK(cudaFree(g_rope_dev));
        g_rope_dev = NULL;
        g_rope_cap = 0;
        CUDA_CHECK(cudaMalloc(&g_rope_dev, 2 * per * sizeof(float)));
        g_rope_cap = 2 * per;
    }
    // stream-ordered after the rope kernels that read the old contents; waited for so host can go
    CUDA_CHECK(cudaMemcpyAsync(g_rope_dev, host, 2 * per * sizeof(float), cudaMemcpyHostToDevice, cuda_stream()));
    CUDA_CHECK(cudaStreamSynchronize(cuda_stream()));
    free(host);
    g_rope_T = T;
    g_rope_hd = hd;
    g_rope = *rope;
    return g_rope_dev;
}

// One thread per rotated pair (x[i], x[i + hd/2]) of one head; row t of each sequence is at position pos0 + t;
// sign = -1 applies the transpose (backward).
static __global__ void rope_kernel(float *x, const float *cosv, const float *sinv, size_t pairs, int pos0, int T,
                                   int nh, int hd, float sign) {
    // x [B,T,nh,hd]; cosv, sinv [>= pos0 + T, hd/2] (rows of the cached table, row = position);
    // pairs = B*T*nh*hd/2
    const int half = hd / 2;
    CUDA_GRID_STRIDE(idx, pairs) {
        const int i = (int)(idx % (size_t)half);
        const size_t head = idx / (size_t)half; // (b, t, h) flattened
        const size_t p = (size_t)pos0 + (head / (size_t)nh) % (size_t)T; // position of row t
        const float c = cosv[p * half + i];
        const float s = sign * sinv[p * half + i];
        float *xh = x + head * (size_t)hd; // [hd]
        const float x1 = xh[i], x2 = xh[i + half];
        xh[i] = __fsub_rn(__fmul_rn(x1, c), __fmul_rn(x2, s));
        xh[i + half] = __fadd_rn(__fmul_rn(x2, c), __fmul_rn(x1, s));
    }
}

// x [B,T,nh,hd] in place, row t of each sequence at position pos0 + t
static void rope_apply(float *x, size_t B, int pos0, int T, int nh, int hd, const ShearRope *rope, float sign) {
    if (hd <= 0 || hd % 2 != 0) CUDA_DIE("rope needs an even, positive head_dim, got %d", hd);
    if (pos0 < 0) CUDA_DIE("rope: position %d is negative", pos0);
    if (T <= 0 || nh <= 0 || B == 0) return;
    if (T > INT_MAX - pos0) CUDA_DIE("rope: positions %d + %d exceed the 2^31 - 1 the table can index", pos0, T);
    const float *table = rope_table(pos0 + T, hd, rope);
    const float *cosv = table, *sinv = table + (size_t)g_rope_T * (hd / 2);
    size_t pairs = B * (size_t)T * (size_t)nh * (size_t)(hd / 2);
    CUDA_LAUNCH(rope_kernel, cuda_blocks(pairs, PW_THREADS), PW_THREADS, 0, cuda_stream(), x, cosv, sinv, pairs, pos0,
                T, nh, hd, sign);
    CUDA_LAUNCH_CHECK();
}

extern "C" void cuda_rope_fwd(float *x, size_t B, int T, int nh, int hd, const ShearRope *rope) {
    rope_apply(x, B, 0, T, nh, hd, rope, 1.0f);
}

extern "C" void cuda_rope_bwd(float *dx, size_t B, int T, int nh, int hd, const ShearRope *rope) {
    rope_apply(dx, B, 0, T, nh, hd, rope, -1.0f);
}

// x [n,nh,hd] in place, row i at position pos0 + i (generation with a KV cache)
extern "C" void cuda_rope_at_fwd(float *x, int n, int pos0, int nh, int hd, const ShearRope *rope) {
    rope_apply(x, 1, pos0, n, nh, hd, rope, 1.0f);
}

// ---- gates ----

static __global__ void gate_fwd_kernel(float *out, const float *inp, const float *z, size_t n, int C, int group) {
    // out, inp [N,C] (n = N*C); z [C/group]
    CUDA_GRID_STRIDE(i, n) out[i] = inp[i] * z[(int)(i % (size_t)C) / group];
}

static void check_group(int C, int group) {
    if (C <= 0 || group <= 0 || C % group != 0) CUDA_DIE("gate group %d does not divide the row width %d", group, C);
}

extern "C" void cuda_gate_fwd(float *out, const float *inp, const float *z, size_t N, int C, int group) {
    check_group(C, group);
    size_t n = N * (size_t)C;
    if (n == 0) return;
    if (!z) {
        if (out != inp)
            CUDA_CHECK(cudaMemcpyAsync(out, inp, n * sizeof(float), cudaMemcpyDeviceToDevice, cuda_stream()));
        return;
    }
    CUDA_LAUNCH(gate_fwd_kernel, cuda_blocks(n, PW_THREADS), PW_THREADS, 0, cuda_stream(), out, inp, z, n, C, group);
    CUDA_LAUNCH_CHECK();
}

static __global__ void gate_dinp_kernel(float *dinp, const float *dout, const float *z, size_t n, int C, int group) {
    // dinp, dout [N,C] (n = N*C); z [C/group] or NULL
    if (z) {
        CUDA_GRID_STRIDE(i, n) dinp[i] = __fadd_rn(dinp[i], __fmul_rn(dout[i], z[(int)(i % (size_t)C) / group]));
    } else {
        CUDA_GRID_STRIDE(i, n) dinp[i] += dout[i];
    }
}

// part[rb, c] = sum over the rows of row block rb of dout[n,c] * inp[n,c] (inp NULL: of dout[n,c]), in double
// (the product of two floats is exact in double; without inp there is no product for nvcc to fuse). Thread per
// column: a warp reads consecutive columns of a row. Row blocks grid-stride over gridDim.y, so nrb may exceed
// 65535; each block's sum is its rows in ascending order, whatever the grid.
static __global__ void colpart_kernel(double *part, const float *dout, const float *inp, size_t N, int C,
                                      size_t rows_per, size_t nrb) {
    // part [nrb, C]; dout, inp [N,C] (inp may be NULL)
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    for (size_t rb = blockIdx.y; rb < nrb; rb += gridDim.y) {
        const size_t lo = rb * rows_per;
        const size_t hi = lo + rows_per < N ? lo + rows_per : N;
        double acc = 0.0;
        if (inp) {
            for (size_t n = lo; n < hi; n++) acc += (double)dout[n * C + c] * (double)inp[n * C + c];
        } else {
            for (size_t n = lo; n < hi; n++) acc += (double)dout[n * C + c];
        }
        part[rb * C + c] = acc;
    }
}

// part [nrb, C] of the row blocks of rows_per rows: colpart_kernel on grid (column blocks, min(nrb, 65535))
static void colpart_launch(double *part, const float *dout, const float *inp, size_t N, int C, size_t rows_per,
                           size_t nrb, cudaStream_t st) {
    dim3 grid((unsigned)((C + PW_THREADS - 1) / PW_THREADS), (unsigned)(nrb < 65535 ? nrb : 65535));
    CUDA_LAUNCH(colpart_kernel, grid, PW_THREADS, 0, st, part, dout, inp, N, C, rows_per, nrb);
    CUDA_LAUNCH_CHECK();
}

// dz[k] += sum over row blocks and the group's columns of part: one block per gate, fixed order
static __global__ void gate_dz_kernel(float *dz, const double *part, int nrb, int C, int group) {
    // dz [C/group]; part [nrb, C]
    const int k = blockIdx.x;
    const size_t items = (size_t)nrb * group;
    double acc = 0.0;
    for (size_t e = threadIdx.x; e < items; e += blockDim.x) {
        size_t rb = e / (size_t)group;
        int c = k * group + (int)(e % (size_t)group);
        acc += part[rb * C + c];
    }
    acc = cuda_block_sum(acc);
    if (threadIdx.x == 0) dz[k] += (float)acc;
}

// Row blocks of a column reduction: a fixed function of (N, C), so the sums have the same order on every GPU;
// about 16+ rows per thread, at most ~1M partial sums (8 MB), at most 65535 (gridDim.y).
static int column_row_blocks(size_t N, int C, size_t *rows_per) {
    size_t nrb = (N + 15) / 16;
    size_t cap = ((size_t)1 << 20) / (size_t)C;
    if (cap < 1) cap = 1;
    if (nrb > cap) nrb = cap;
    if (nrb > 65535) nrb = 65535;
    if (nrb < 1) nrb = 1;
    *rows_per = (N + nrb - 1) / nrb;
    return (int)((N + *rows_per - 1) / *rows_per);
}

extern "C" void cuda_gate_bwd(float *dinp, float *dz, const float *dout, const float *inp, const float *z, size_t N,
                              int C, int group) {
    check_group(C, group);
    size_t n = N * (size_t)C;
    if (n == 0) return;
    cudaStream_t st = cuda_stream();
    if (dinp) {
        CUDA_LAUNCH(gate_dinp_kernel, cuda_blocks(n, PW_THREADS), PW_THREADS, 0, st, dinp, dout, z, n, C, group);
        CUDA_LAUNCH_CHECK();
    }
    if (dz) {
        size_t rows_per = 0;
        int nrb = column_row_blocks(N, C, &rows_per);
        double *part = (double *)cuda_scratch(CUDA_SCRATCH_POINTWISE, (size_t)nrb * C * sizeof(double)); // [nrb,C]
        colpart_launch(part, dout, inp, N, C, rows_per, (size_t)nrb, st);
        CUDA_LAUNCH(gate_dz_kernel, (unsigned)(C / group), PW_THREADS, 0, st, dz, part, nrb, C, group);
        CUDA_LAUNCH_CHECK();
    }
}

// ---- projection biases ----

static __global__ void bias_fwd_kernel(float *out, const float *b, size_t n, int C) { // out [N,C] (n = N*C), b [C]
    CUDA_GRID_STRIDE(i, n) out[i] += b[i % (size_t)C];
}

extern "C" void cuda_bias_fwd(float *out, const float *b, size_t N, int C) {
    size_t n = N * (size_t)(C > 0 ? C : 0);
    if (n == 0) return;
    CUDA_LAUNCH(bias_fwd_kernel, cuda_blocks(n, PW_THREADS), PW_THREADS, 0, cuda_stream(), out, b, n, C);
    CUDA_LAUNCH_CHECK();
}

// The CPU backend's row block (cpu_pointwise.c CPU_ROW_BLOCK): bias_bwd sums the same 64-row blocks, each in row
// order, then the blocks in order, all in double: the same additions in the same order, so the same bits as the
// CPU. The partials are 1/32 of dout's bytes (a double per 64 floats), so they need no cap.
#define BIAS_ROW_BLOCK 64

// db[c] += the column's partials added in row-block order, starting from 0.0 as the CPU does
static __global__ void bias_colsum_kernel(float *db, const double *part, size_t nrb, int C) { // db [C]; part [nrb,C]
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    double acc = 0.0;
    for (size_t rb = 0; rb < nrb; rb++) acc += part[rb * C + c];
    db[c] += (float)acc;
}

extern "C" void cuda_bias_bwd(float *db, const float *dout, size_t N, int C) {
    if (N == 0 || C <= 0) return;
    cudaStream_t st = cuda_stream();
    const size_t nrb = (N + BIAS_ROW_BLOCK - 1) / BIAS_ROW_BLOCK;
    double *part = (double *)cuda_scratch(CUDA_SCRATCH_POINTWISE, nrb * (size_t)C * sizeof(double)); // [nrb, C]
    colpart_launch(part, dout, NULL, N, C, BIAS_ROW_BLOCK, nrb, st);
    CUDA_LAUNCH(bias_colsum_kernel, (unsigned)((C + PW_THREADS - 1) / PW_THREADS), PW_THREADS, 0, st, db, part, nrb,
                C);
    CUDA_LAUNCH_CHECK();
}

// ---- SwiGLU ----

static __global__ void swiglu_fwd_kernel(float *out, const float *g, const float *u, size_t n) { // all [N,I], n = N*I
    CUDA_GRID_STRIDE(i, n) {
        float gi = g[i];
        out[i] = gi / (1.0f + expf(-gi)) * u[i]; // silu as torch writes it: x / (1 + exp(-x))
    }
}

static __global__ void swiglu_bwd_kernel(float *dg, float *du, const float *dout, const float *g, const float *u,
                                  size_t n) { // all [N,I], n = N*I
    CUDA_GRID_STRIDE(i, n) {
        float gi = g[i];
        float e = expf(-gi);
        // torch's autograd order: d(silu) = dout*u, then silu_backward dy * sig * (1 + x (1 - sig))
        if (dg) {
            float sig = 1.0f / (1.0f + e);
            float dy = dout[i] * u[i];
            float inner = __fadd_rn(1.0f, __fmul_rn(gi, 1.0f - sig));
            dg[i] = __fadd_rn(dg[i], __fmul_rn(dy * sig, inner));
        }
        if (du) du[i] = __fadd_rn(du[i], __fmul_rn(dout[i], gi / (1.0f + e)));
    }
}

extern "C" void cuda_swiglu_fwd(float *out, const float *g, const float *u, size_t N, int I) {
    size_t n = N * (size_t)I;
    if (n == 0) return;
    CUDA_LAUNCH(swiglu_fwd_kernel, cuda_blocks(n, PW_THREADS), PW_THREADS, 0, cuda_stream(), out, g, u, n);
    CUDA_LAUNCH_CHECK();
}

extern "C" void cuda_swiglu_bwd(float *dg, float *du, const float *dout, const float *g, const float *u, size_t N,
                                int I) {
    size_t n = N * (size_t)I;
    if (n == 0 || (!dg && !du)) return;
    CUDA_LAUNCH(swiglu_bwd_kernel, cuda_blocks(n, PW_THREADS), PW_THREADS, 0, cuda_stream(), dg, du, dout, g, u, n);
    CUDA_LAUNCH_CHECK();
}

// ---- AdamW ----

// The CPU backend's scalar recipe (cpu_backend.c, torch.optim.AdamW's order): the float hyperparameters are read
// back as the decimal doubles a user wrote, the step scalars are computed in double and rounded to float once,
// and the kernel repeats the CPU's float operations one for one (fmaf where it uses fmaf). With IEEE division and
// sqrt (nvcc's defaults) the update is the same bits as the CPU's.
static __global__ void adamw_kernel(float *p, const float *g, float *m, float *v, size_t n, float decay, float b1,
                             float b2, float one_minus_b1, float one_minus_b2, float neg_step, float bc2_sqrt,
                             float eps, float gscale, int scaled) { // p, g, m, v [n]
    CUDA_GRID_STRIDE(i, n) {
        float gi = scaled ? g[i] * gscale : g[i];
        float pi = p[i] * decay;
        float mi = fmaf(one_minus_b1, gi, m[i] * b1);
        float vi = fmaf(one_minus_b2 * gi, gi, v[i] * b2);
        float denom = __fadd_rn(sqrtf(vi) / bc2_sqrt, eps);
        p[i] = __fadd_rn(pi, __fmul_rn(neg_step, mi) / denom);
        m[i] = mi;
        v[i] = vi;
    }
}

extern "C" void cuda_adamw(float *p, const float *g, float *m, float *v, size_t n, float lr, float b1, float b2,
                           float eps, float wd, float gscale, int t) {
    if (t < 1) CUDA_DIE("adamw step count must be >= 1, got %d", t);
    if (n == 0) return;
    const AdamWCoef c = adamw_coef(lr, b1, b2, wd, t); // shear/adamw_coef.h: the CPU backend's floats
    CUDA_LAUNCH(adamw_kernel, cuda_blocks(n, PW_THREADS), PW_THREADS, 0, cuda_stream(), p, g, m, v, n, c.decay, b1, b2,
                c.one_minus_b1, c.one_minus_b2, c.neg_step, c.bc2_sqrt, eps, gscale, gscale != 1.0f);
    CUDA_LAUNCH_CHECK();
}
