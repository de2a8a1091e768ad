// Causal self-attention with grouped-query heads, one query row at a time: the forward keeps only the row's
// log-sum-exp, and the backward recomputes the probabilities from it, so no T x T matrix is ever stored.
#include <math.h>

#include "cpu_ops.h"

// Eight independent partial sums: the adds pipeline and the order stays fixed.
static inline float dot(const float *a, const float *b, int n) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        for (int l = 0; l < 8; l++) acc[l] += a[i + l] * b[i + l];
    }
    for (; i < n; i++) acc[0] += a[i] * b[i];
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

static int group_size(int H, int Hkv) {
    if (Hkv <= 0 || H % Hkv != 0) CPU_DIE("attention: %d query heads cannot share %d kv heads evenly", H, Hkv);
    return H / Hkv;
}

// One query row against keys 0 .. last: o[hd] = softmax(qr . k_j * scale) v; returns the row's log-sum-exp.
// k_j, v_j are at k + j * kv_stride (floats); s [last + 1] is scratch.
CPU_SIMD_CLONES static float attend_row(float *o, const float *qr, const float *k, const float *v, size_t kv_stride, int last,
                        int hd, float scale, float *s) {
    float mx = -INFINITY;
    for (int j = 0; j <= last; j++) {
        s[j] = dot(qr, k + (size_t)j * kv_stride, hd) * scale;
        if (s[j] > mx) mx = s[j];
    }
    double sum = 0.0;
    for (int j = 0; j <= last; j++) {
        s[j] = expf(s[j] - mx);
        sum += s[j];
    }
    for (int i = 0; i < hd; i++) o[i] = 0.0f;
    for (int j = 0; j <= last; j++) {
        const float *vr = v + (size_t)j * kv_stride;
        float p = s[j];
        for (int i = 0; i < hd; i++) o[i] += p * vr[i];
    }
    float inv = (float)(1.0 / sum);
    for (int i = 0; i < hd; i++) o[i] *= inv;
    return (float)(mx + log(sum));
}

void cpu_attention_fwd(float *out, float *lse, const float *q, const float *k, const float *v, size_t B, int T,
                       int H, int Hkv, int hd) {
    int rep = group_size(H, Hkv);
    float scale = 1.0f / sqrtf((float)hd);
    size_t rows = B * (size_t)H * (size_t)T; // one per (b, h, t), in lse's [B,H,T] order
#pragma omp parallel
    {
        float *s = cpu_scratch((size_t)T * sizeof(float)); // [T] scores, then exp(score - max)
#pragma omp for schedule(dynamic, 16)
        for (size_t r = 0; r < rows; r++) {
            int t = (int)(r % (size_t)T);
            size_t bh = r / (size_t)T;
            int h = (int)(bh % (size_t)H);
            size_t b = bh / (size_t)H;
            size_t kv0 = (b * T * Hkv + (size_t)(h / rep)) * (size_t)hd; // row 0 of this sequence's kv head
            size_t qo = ((b * T + t) * H + h) * (size_t)hd;
            lse[r] = attend_row(out + qo, q + qo, k + kv0, v + kv0, (size_t)Hkv * hd, t, hd, scale, s);
        }
        free(s);
    }
}

void cpu_attention_cached_fwd(float *out, const float *q, const float *kc, const float *vc, int n, int pos0, int H,
                              int Hkv, int hd) {
    int rep = group_size(H, Hkv);
    if (n <= 0) return;
    if (pos0 < 0) CPU_DIE("attention_cached: position %d is negative", pos0);
    float scale = 1.0f / sqrtf((float)hd);
    size_t rows = (size_t)n * (size_t)H; // one per (i, h)
#pragma omp parallel
    {
        float *s = cpu_scratch((size_t)(pos0 + n) * sizeof(float)); // [pos0 + n] scores
#pragma omp for schedule(dynamic, 4)
        for (size_t r = 0; r < rows; r++) {
            int h = (int)(r % (size_t)H), i = (int)(r / (size_t)H);
            size_t kv0 = (size_t)(h / rep) * hd, qo = r * (size_t)hd; // q, out rows are [n, H, hd]
            attend_row(out + qo, q + qo, kc + kv0, vc + kv0, (size_t)Hkv * hd, pos0 + i, hd, scale, s);
        }
        free(s);
    }
}

// Per query row t: p_j = exp(s_j - lse_t), dp_j = dout_t . v_j, D = dout_t . out_t, ds_j = p_j (dp_j - D);
// dq_t += scale sum_j ds_j k_j, dk_j += scale ds_j q_t, dv_j += p_j dout_t. One task per (b, kv head) owns
// that head's dk/dv rows (and the dq rows of its query heads), so tasks never write the same memory.
// The backward of one sequence b's kv head kvh and its query heads (one task of cpu_attention_bwd).
CPU_SIMD_CLONES static void attention_bwd_group(float *dq, float *dk, float *dv, const float *dout, const float *q,
                                                const float *k, const float *v, const float *out, const float *lse,
                                                size_t b, int kvh, int T, int H, int Hkv, int hd, float scale,
                                                float *dq_acc) {
    int rep = H / Hkv;
    for (int h = kvh * rep; h < (kvh + 1) * rep; h++) {
        for (int t = 0; t < T; t++) {
            size_t qoff = ((b * T + t) * H + h) * (size_t)hd;
            const float *qr = q + qoff, *gr = dout + qoff, *orow = out + qoff; // [hd] each
            float l = lse[(b * H + h) * (size_t)T + t];
            float D = dot(gr, orow, hd);
            for (int i = 0; i < hd; i++) dq_acc[i] = 0.0f;
            for (int j = 0; j <= t; j++) {
                size_t kvoff = ((b * T + j) * Hkv + kvh) * (size_t)hd;
                const float *kr = k + kvoff, *vr = v + kvoff;
                float p = expf(dot(qr, kr, hd) * scale - l);
                if (dv) {
                    float *dvr = dv + kvoff;
                    for (int i = 0; i < hd; i++) dvr[i] += p * gr[i];
                }
                float ds = p * (dot(gr, vr, hd) - D);
                if (dq) {
                    for (int i = 0; i < hd; i++) dq_acc[i] += ds * kr[i];
                }
                if (dk) {
                    float *dkr = dk + kvoff;
                    float sds = scale * ds;
                    for (int i = 0; i < hd; i++) dkr[i] += sds * qr[i];
                }
            }
            if (dq) {
                float *dqr = dq + qoff;
                for (int i = 0; i < hd; i++) dqr[i] += scale * dq_acc[i];
            }
        }
    }
}

void cpu_attention_bwd(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                       const float *v, const float *out, const float *lse, size_t B, int T, int H, int Hkv, int hd) {
    group_size(H, Hkv); // dies on an uneven split
    float scale = 1.0f / sqrtf((float)hd);
    size_t tasks = B * (size_t)Hkv;
#pragma omp parallel
    {
        float *dq_acc = cpu_scratch((size_t)hd * sizeof(float)); // [hd] sum_j ds_j k_j of one query row
#pragma omp for schedule(dynamic, 1)
        for (size_t task = 0; task < tasks; task++) {
            attention_bwd_group(dq, dk, dv, dout, q, k, v, out, lse, task / (size_t)Hkv, (int)(task % (size_t)Hkv), T,
                                H, Hkv, hd, scale, dq_acc);
        }
        free(dq_acc);
    }
}
