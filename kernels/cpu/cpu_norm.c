// Token embedding and the masked RMSNorm (LLM-Shearing's hidden-dimension mask enters the norm here: the mean
// square runs over the kept channels only, so a pruned model normalises exactly like its compacted copy).
#include <math.h>
#include <string.h>

#include "cpu_ops.h"

// Columns per task of the column-parallel reductions: each thread owns whole columns, so the sums over rows
// need no atomics and keep a fixed order.
#define CPU_COL_BLOCK 64

void cpu_embedding_fwd(float *out, const int32_t *tok, const float *wte, size_t N, int d) {
#pragma omp parallel for schedule(static)
    for (size_t n = 0; n < N; n++) {
        memcpy(out + n * (size_t)d, wte + (size_t)tok[n] * (size_t)d, (size_t)d * sizeof(float));
    }
}

void cpu_embedding_bwd(float *dwte, const float *dout, const int32_t *tok, size_t N, int d) {
    // a token may repeat, so rows of dwte are shared across n: split the columns instead, rows in order
    int nblk = (d + CPU_COL_BLOCK - 1) / CPU_COL_BLOCK;
#pragma omp parallel for schedule(static)
    for (int blk = 0; blk < nblk; blk++) {
        int lo = blk * CPU_COL_BLOCK, hi = lo + CPU_COL_BLOCK < d ? lo + CPU_COL_BLOCK : d;
        for (size_t n = 0; n < N; n++) {
            float *drow = dwte + (size_t)tok[n] * (size_t)d;
            const float *grow = dout + n * (size_t)d;
            for (int j = lo; j < hi; j++) drow[j] += grow[j];
        }
    }
}

// Number of kept channels (z == NULL keeps all).
static int kept_count(const float *z, int d) {
    if (!z) return d;
    int kept = 0;
    for (int j = 0; j < d; j++) kept += z[j] != 0.0f;
    return kept;
}

void cpu_rmsnorm_fwd(float *out, float *rstd, const float *inp, const float *w, const float *z, size_t N, int d,
                     float eps) {
    int kept = kept_count(z, d);
    // no channel kept: every output is 0 whatever rstd is; 1/sqrt(eps) keeps it finite
    double inv_kept = kept > 0 ? 1.0 / kept : 0.0;
#pragma omp parallel for schedule(static)
    for (size_t n = 0; n < N; n++) {
        const float *x = inp + n * (size_t)d; // [d]
        float *o = out + n * (size_t)d;       // [d]
        double ss = 0.0;
        if (z) {
            for (int j = 0; j < d; j++) {
                if (z[j] != 0.0f) ss += (double)x[j] * (double)x[j];
            }
        } else {
            for (int j = 0; j < d; j++) ss += (double)x[j] * (double)x[j];
        }
        float r = (float)(1.0 / sqrt(ss * inv_kept + (double)eps));
        rstd[n] = r;
        if (z) {
            for (int j = 0; j < d; j++) o[j] = w[j] * (x[j] * r) * z[j];
        } else {
            for (int j = 0; j < d; j++) o[j] = w[j] * (x[j] * r);
        }
    }
}

// With out_j = w_j z_j x_j r and r = (S/K + eps)^(-1/2), S = sum_{kept} x^2:
//   dL/dx_k = r (dout_k w_k z_k - r^2 x_k c / K) for kept k, c = sum_j dout_j w_j z_j x_j; 0 for dropped k.
void cpu_rmsnorm_bwd(float *dinp, float *dw, float *dz, const float *dout, const float *inp, const float *w,
                     const float *z, const float *rstd, size_t N, int d) {
    int kept = kept_count(z, d);
    if (dinp && kept > 0) {
        double inv_kept = 1.0 / kept;
#pragma omp parallel for schedule(static)
        for (size_t n = 0; n < N; n++) {
            const float *x = inp + n * (size_t)d;  // [d]
            const float *g = dout + n * (size_t)d; // [d]
            float *dx = dinp + n * (size_t)d;      // [d]
            double r = rstd[n];
            double c = 0.0;
            for (int j = 0; j < d; j++) c += (double)g[j] * w[j] * (z ? z[j] : 1.0f) * x[j];
            double coef = r * r * c * inv_kept;
            for (int j = 0; j < d; j++) {
                if (z && z[j] == 0.0f) continue;
                float gz = z ? g[j] * w[j] * z[j] : g[j] * w[j];
                dx[j] += (float)(r * ((double)gz - coef * x[j]));
            }
        }
    }
    if (dw || dz) {
        int nblk = (d + CPU_COL_BLOCK - 1) / CPU_COL_BLOCK;
#pragma omp parallel for schedule(static)
        for (int blk = 0; blk < nblk; blk++) {
            int lo = blk * CPU_COL_BLOCK, hi = lo + CPU_COL_BLOCK < d ? lo + CPU_COL_BLOCK : d;
            double acc[CPU_COL_BLOCK]; // sum_n dout[n,j] x[n,j] rstd[n], j in [lo, hi)
            for (int j = 0; j < hi - lo; j++) acc[j] = 0.0;
            for (size_t n = 0; n < N; n++) {
                const float *x = inp + n * (size_t)d;
                const float *g = dout + n * (size_t)d;
                float r = rstd[n];
                for (int j = lo; j < hi; j++) acc[j - lo] += (double)(g[j] * (x[j] * r));
            }
            for (int j = lo; j < hi; j++) {
                if (dw) dw[j] += (float)(acc[j - lo] * (z ? z[j] : 1.0f));
                if (dz) dz[j] += (float)(acc[j - lo] * w[j]);
            }
        }
    }
}
