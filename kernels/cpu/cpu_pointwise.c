// Pointwise ops: rotary position embedding, the pruning gates, SwiGLU.
#include <math.h>
#include <string.h>

#include "cpu_ops.h"

// Rows per partial sum of the gate gradient: fixed, so the sum order does not depend on the thread count.
#define CPU_ROW_BLOCK 64

// cos/sin [T, hd/2] of positions pos0 .. pos0 + T - 1, computed as Hugging Face LLaMA does, in float:
// inv_freq_i = rope_inv_freq (1 / theta^(2i/hd), rescaled by rope_scaling), angle = position * inv_freq_i.
// Matching its rounding keeps the CPU backend next to the PyTorch reference.
static void rope_table(float *cosv, float *sinv, int pos0, int T, int hd, const ShearRope *rope) {
    int half = hd / 2;
    for (int i = 0; i < half; i++) {
        float inv_freq = rope_inv_freq(rope, i, hd);
        for (int t = 0; t < T; t++) {
            float angle = (float)(pos0 + t) * inv_freq;
            cosv[(size_t)t * half + i] = cosf(angle);
            sinv[(size_t)t * half + i] = sinf(angle);
        }
    }
}

// sign = +1: the forward rotation; sign = -1: its transpose (the backward of a rotation is its inverse).
// Row t of each of the B sequences is at position pos0 + t.
static void rope_apply(float *x, size_t B, int pos0, int T, int nh, int hd, const ShearRope *rope, float sign) {
    if (hd % 2 != 0) CPU_DIE("rope needs an even head_dim, got %d", hd);
    int half = hd / 2;
    float *cosv = cpu_scratch((size_t)T * half * sizeof(float)); // [T, hd/2]
    float *sinv = cpu_scratch((size_t)T * half * sizeof(float)); // [T, hd/2]
    rope_table(cosv, sinv, pos0, T, hd, rope);
    size_t rows = B * (size_t)T;
#pragma omp parallel for schedule(static)
    for (size_t row = 0; row < rows; row++) {
        int t = (int)(row % (size_t)T);
        const float *c = cosv + (size_t)t * half;
        const float *s = sinv + (size_t)t * half;
        for (int h = 0; h < nh; h++) {
            float *xh = x + (row * nh + h) * (size_t)hd; // [hd]
            for (int i = 0; i < half; i++) {
                float x1 = xh[i], x2 = xh[i + half];
                float si = sign * s[i];
                xh[i] = x1 * c[i] - x2 * si;
                xh[i + half] = x2 * c[i] + x1 * si;
            }
        }
    }
    free(cosv);
    free(sinv);
}

void cpu_rope_fwd(float *x, size_t B, int T, int nh, int hd, const ShearRope *rope) {
    rope_apply(x, B, 0, T, nh, hd, rope, 1.0f);
}

void cpu_rope_bwd(float *dx, size_t B, int T, int nh, int hd, const ShearRope *rope) {
    rope_apply(dx, B, 0, T, nh, hd, rope, -1.0f);
}

void cpu_rope_at_fwd(float *x, int n, int pos0, int nh, int hd, const ShearRope *rope) {
    if (pos0 < 0) CPU_DIE("rope_at: position %d is negative", pos0);
    rope_apply(x, 1, pos0, n, nh, hd, rope, 1.0f);
}

// dst[k] += sum_n sum_{c in group k} dout[n,c] * (inp ? inp[n,c] : 1): rows in blocks of CPU_ROW_BLOCK summed
// in double, then the blocks in order (the CUDA backend's bias_bwd adds in this order too).
static void col_sums_add(float *dst, const float *dout, const float *inp, size_t N, int C, int group) {
    int ngroups = C / group;
    size_t nblk = (N + CPU_ROW_BLOCK - 1) / CPU_ROW_BLOCK;
    if (nblk == 0) return;
    double *partial = cpu_scratch(nblk * (size_t)ngroups * sizeof(double)); // [nblk, ngroups]
#pragma omp parallel for schedule(static)
    for (size_t blk = 0; blk < nblk; blk++) {
        double *acc = partial + blk * (size_t)ngroups;
        for (int k = 0; k < ngroups; k++) acc[k] = 0.0;
        size_t hi = (blk + 1) * CPU_ROW_BLOCK < N ? (blk + 1) * CPU_ROW_BLOCK : N;
        for (size_t n = blk * CPU_ROW_BLOCK; n < hi; n++) {
            const float *g = dout + n * (size_t)C, *x = inp ? inp + n * (size_t)C : NULL;
            for (int k = 0; k < ngroups; k++) {
                double t = 0.0;
                for (int c = k * group; c < (k + 1) * group; c++) t += x ? (double)g[c] * x[c] : (double)g[c];
                acc[k] += t;
            }
        }
    }
    for (int k = 0; k < ngroups; k++) {
        double t = 0.0;
        for (size_t blk = 0; blk < nblk; blk++) t += partial[blk * (size_t)ngroups + k];
        dst[k] += (float)t;
    }
    free(partial);
}

void cpu_gate_fwd(float *out, const float *inp, const float *z, size_t N, int C, int group) {
    if (group <= 0 || C % group != 0) CPU_DIE("gate group %d does not divide the row width %d", group, C);
    if (!z) {
        if (out != inp) memcpy(out, inp, N * (size_t)C * sizeof(float));
        return;
    }
#pragma omp parallel for schedule(static)
    for (size_t n = 0; n < N; n++) {
        const float *x = inp + n * (size_t)C;
        float *o = out + n * (size_t)C;
        for (int c = 0; c < C; c++) o[c] = x[c] * z[c / group];
    }
}

void cpu_gate_bwd(float *dinp, float *dz, const float *dout, const float *inp, const float *z, size_t N, int C,
                  int group) {
    if (group <= 0 || C % group != 0) CPU_DIE("gate group %d does not divide the row width %d", group, C);
    if (dinp) {
#pragma omp parallel for schedule(static)
        for (size_t n = 0; n < N; n++) {
            const float *g = dout + n * (size_t)C;
            float *dx = dinp + n * (size_t)C;
            if (z) {
                for (int c = 0; c < C; c++) dx[c] += g[c] * z[c / group];
            } else {
                for (int c = 0; c < C; c++) dx[c] += g[c];
            }
        }
    }
    if (dz) col_sums_add(dz, dout, inp, N, C, group);
}

void cpu_bias_fwd(float *out, const float *b, size_t N, int C) {
#pragma omp parallel for schedule(static)
    for (size_t n = 0; n < N; n++) {
        float *o = out + n * (size_t)C;
        for (int c = 0; c < C; c++) o[c] += b[c];
    }
}

void cpu_bias_bwd(float *db, const float *dout, size_t N, int C) { col_sums_add(db, dout, NULL, N, C, 1); }

void cpu_swiglu_fwd(float *out, const float *g, const float *u, size_t N, int I) {
    size_t n = N * (size_t)I;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float gi = g[i];
        out[i] = gi / (1.0f + expf(-gi)) * u[i]; // silu as torch writes it: x / (1 + exp(-x))
    }
}

void cpu_swiglu_bwd(float *dg, float *du, const float *dout, const float *g, const float *u, size_t N, int I) {
    size_t n = N * (size_t)I;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float gi = g[i];
        float e = expf(-gi);
        // torch's autograd order: d(silu) = dout*u, then silu_backward dy * sig * (1 + x (1 - sig))
        if (dg) {
            float sig = 1.0f / (1.0f + e);
            float dy = dout[i] * u[i];
            dg[i] += dy * sig * (1.0f + gi * (1.0f - sig));
        }
        if (du) du[i] += dout[i] * (gi / (1.0f + e));
    }
}
