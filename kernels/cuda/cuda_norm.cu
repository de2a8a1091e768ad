// Masked RMSNorm on the GPU: one block per row for the row reductions (sum of squares, the backward's dot
// product), and a two-pass column reduction for dw and dz (partial sums over fixed row blocks, then each
// column adds its partials in order), so every result is the same bits on every run and every GPU.
//
// Precision follows kernels/cpu/cpu_norm.c: sums in double, rstd rounded to float once, the same float products
// in the same order; the CPU (x86-64-v2) has no fma, so a product feeding an add is rounded twice here as well
// (__fmul_rn/__dmul_rn, which nvcc never fuses). Only the order of the double sums differs from the CPU.
#include <limits.h>

#include "cuda_common.cuh"

#define NORM_THREADS 256

// rstd[n] = 1/sqrt(mean_{kept j} inp[n,j]^2 + eps); out[n,j] = w[j] * (inp[n,j] * rstd[n]) * z[j]
static __global__ void rmsnorm_fwd_kernel(float *out, float *rstd, const float *inp, const float *w, const float *z,
                                          size_t N, int d, float eps) {
    // out, inp [N,d]; rstd [N]; w [d]; z [d] or NULL
    for (size_t n = blockIdx.x; n < N; n += gridDim.x) {
        const float *x = inp + n * (size_t)d; // [d]
        float *o = out + n * (size_t)d;       // [d]
        double ss = 0.0;
        int kept = 0; // the kept channels, counted per block: z is tiny and cached, and no extra pass is needed
        for (int j = threadIdx.x; j < d; j += blockDim.x) {
            if (!z || z[j] != 0.0f) {
                double xj = (double)x[j];
                ss += xj * xj; // exact product: an fma here equals the CPU's mul + add
                kept++;
            }
        }
        ss = cuda_block_sum(ss);
        kept = cuda_block_sum(kept);
        // no channel kept: every output is 0 whatever rstd is; 1/sqrt(eps) keeps it finite
        const double inv_kept = kept > 0 ? 1.0 / kept : 0.0;
        const float r = (float)(1.0 / sqrt(__dadd_rn(__dmul_rn(ss, inv_kept), (double)eps)));
        if (threadIdx.x == 0) rstd[n] = r;
        if (z) {
            for (int j = threadIdx.x; j < d; j += blockDim.x) o[j] = w[j] * (x[j] * r) * z[j];
        } else {
            for (int j = threadIdx.x; j < d; j += blockDim.x) o[j] = w[j] * (x[j] * r);
        }
    }
}

static unsigned row_blocks(size_t N) { return (unsigned)(N < (size_t)INT_MAX ? N : (size_t)INT_MAX); }

extern "C" void cuda_rmsnorm_fwd(float *out, float *rstd, const float *inp, const float *w, const float *z, size_t N,
                                 int d, float eps) {
    if (N == 0 || d <= 0) return;
    CUDA_LAUNCH(rmsnorm_fwd_kernel, row_blocks(N), NORM_THREADS, 0, cuda_stream(), out, rstd, inp, w, z, N, d, eps);
    CUDA_LAUNCH_CHECK();
}

// With out_j = w_j z_j x_j r and r = (S/K + eps)^(-1/2), S = sum_{kept} x^2:
//   dL/dx_k = r (dout_k w_k z_k - r^2 x_k c / K) for kept k, c = sum_j dout_j w_j z_j x_j; 0 for dropped k.
static __global__ void rmsnorm_dinp_kernel(float *dinp, const float *dout, const float *inp, const float *w,
                                           const float *z, const float *rstd, size_t N, int d) {
    // dinp, dout, inp [N,d]; w [d]; z [d] or NULL; rstd [N]
    for (size_t n = blockIdx.x; n < N; n += gridDim.x) {
        const float *x = inp + n * (size_t)d;  // [d]
        const float *g = dout + n * (size_t)d; // [d]
        float *dx = dinp + n * (size_t)d;      // [d]
        double c = 0.0;
        int kept = 0;
        for (int j = threadIdx.x; j < d; j += blockDim.x) {
            const float zj = z ? z[j] : 1.0f;
            kept += zj != 0.0f;
            c = __dadd_rn(c, (double)g[j] * w[j] * zj * x[j]);
        }
        c = cuda_block_sum(c);
        kept = cuda_block_sum(kept);
        if (kept == 0) continue; // every channel dropped: the norm passes no gradient (uniform across the block)
        const double r = rstd[n];
        const double coef = r * r * c * (1.0 / kept);
        for (int j = threadIdx.x; j < d; j += blockDim.x) {
            if (z && z[j] == 0.0f) continue;
            const float gz = z ? g[j] * w[j] * z[j] : g[j] * w[j];
            const double v = __dmul_rn(r, __dsub_rn((double)gz, __dmul_rn(coef, (double)x[j])));
            dx[j] += (float)v;
        }
    }
}

// part[rb, j] = sum over the rows of row block rb of (double)(dout[n,j] * (inp[n,j] * rstd[n])), the float
// product the CPU rounds before widening. Thread per column: a warp reads consecutive columns of a row.
static __global__ void rmsnorm_colpart_kernel(double *part, const float *dout, const float *inp, const float *rstd,
                                              size_t N, int d, size_t rows_per) {
    // part [nrb, d]; dout, inp [N,d]; rstd [N]; gridDim.y = nrb
    const int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= d) return;
    const size_t lo = (size_t)blockIdx.y * rows_per;
    const size_t hi = lo + rows_per < N ? lo + rows_per : N;
    double acc = 0.0;
    for (size_t n = lo; n < hi; n++) acc += (double)(dout[n * d + j] * (inp[n * d + j] * rstd[n]));
    part[(size_t)blockIdx.y * d + j] = acc;
}

// dw[j] += sum * z[j]; dz[j] += sum * w[j], sum = the column's partials added in row-block order
static __global__ void rmsnorm_colsum_kernel(float *dw, float *dz, const double *part, const float *w, const float *z,
                                             int nrb, int d) {
    // dw, dz [d] (either may be NULL); part [nrb, d]; w [d]; z [d] or NULL
    const int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= d) return;
    double acc = 0.0;
    for (int rb = 0; rb < nrb; rb++) acc += part[(size_t)rb * d + j];
    if (dw) dw[j] += (float)(acc * (double)(z ? z[j] : 1.0f));
    if (dz) dz[j] += (float)(acc * (double)w[j]);
}

// Row blocks of the column reduction: a fixed function of (N, d) so the sums have the same order on every GPU;
// 16+ rows per thread, at most ~1M partial sums (8 MB), at most 65535 (gridDim.y).
static int column_row_blocks(size_t N, int d, size_t *rows_per) {
    size_t nrb = (N + 15) / 16;
    size_t cap = ((size_t)1 << 20) / (size_t)d;
    if (cap < 1) cap = 1;
    if (nrb > cap) nrb = cap;
    if (nrb > 65535) nrb = 65535;
    if (nrb < 1) nrb = 1;
    *rows_per = (N + nrb - 1) / nrb;
    return (int)((N + *rows_per - 1) / *rows_per);
}

extern "C" void cuda_rmsnorm_bwd(float *dinp, float *dw, float *dz, const float *dout, const float *inp,
                                 const float *w, const float *z, const float *rstd, size_t N, int d) {
    if (N == 0 || d <= 0) return;
    cudaStream_t st = cuda_stream();
    if (dinp) {
        CUDA_LAUNCH(rmsnorm_dinp_kernel, row_blocks(N), NORM_THREADS, 0, st, dinp, dout, inp, w, z, rstd, N, d);
        CUDA_LAUNCH_CHECK();
    }
    if (dw || dz) {
        size_t rows_per = 0;
        int nrb = column_row_blocks(N, d, &rows_per);
        double *part = (double *)cuda_scratch(CUDA_SCRATCH_NORM, (size_t)nrb * d * sizeof(double)); // [nrb, d]
        unsigned col_blocks = (unsigned)((d + NORM_THREADS - 1) / NORM_THREADS);
        CUDA_LAUNCH(rmsnorm_colpart_kernel, dim3(col_blocks, (unsigned)nrb), NORM_THREADS, 0, st, part, dout, inp, rstd,
                    N, d, rows_per);
        CUDA_LAUNCH_CHECK();
        CUDA_LAUNCH(rmsnorm_colsum_kernel, col_blocks, NORM_THREADS, 0, st, dw, dz, part, w, z, nrb, d);
        CUDA_LAUNCH_CHECK();
    }
}
