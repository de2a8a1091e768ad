// The fused classifier + cross-entropy, and its distillation twin. Rows go through in chunks, so at most a
// chunk x V block of logits exists at once (V x N logits of a real batch would not fit): logits by sgemm, softmax
// per row in place, and, when gradients are wanted, the same block turned into dlogits and multiplied straight
// into dx and dw. With a teacher (classifier_kd) a second chunk x V block holds the teacher's logits of the same
// rows, turned into its (top-k) probabilities before the student's row becomes its dlogits.
#include <math.h>
#include <string.h>

#include "cpu_ops.h"

// About 16 MiB of logits per chunk, at least 64 rows: big enough for sgemm to run at speed.
#define CPU_CLASSIFIER_FLOATS ((size_t)1 << 22)
#define CPU_CLASSIFIER_MIN_ROWS 64

// Rows per chunk for N rows of V logits (memest_classifier_bytes counts the same).
static size_t classifier_chunk(size_t N, int V) {
    size_t chunk = CPU_CLASSIFIER_FLOATS / (size_t)V;
    if (chunk < CPU_CLASSIFIER_MIN_ROWS) chunk = CPU_CLASSIFIER_MIN_ROWS;
    return chunk > N ? N : chunk;
}

// max_i x[i] as the loop mx = x[i] > mx ? x[i] : mx from mx = x[0] finds it, in CPU_ROW_LANES running maxima that
// vectorize: a maximum does not depend on the order it is taken in (a NaN is skipped by the comparison, unless
// x[0] is one, which every lane starts from and keeps; which of two zeros wins is the one freedom, and it moves
// no result: x - (+0) and x - (-0) are equal but for a zero x, whose exp is 1 either way).
#define CPU_ROW_LANES 16
static inline float row_max(const float *x, int n) {
    float m[CPU_ROW_LANES];
    for (int l = 0; l < CPU_ROW_LANES; l++) m[l] = x[0];
    int i = 0;
    for (; i + CPU_ROW_LANES <= n; i += CPU_ROW_LANES) {
        for (int l = 0; l < CPU_ROW_LANES; l++) m[l] = x[i + l] > m[l] ? x[i + l] : m[l];
    }
    float mx = m[0];
    for (int l = 1; l < CPU_ROW_LANES; l++) mx = m[l] > mx ? m[l] : mx;
    for (; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    return mx;
}

// One scored row without a teacher: row[V] (logits) becomes dlogits (dscale (softmax - onehot(tgt))) when
// want_grad; returns the row's cross-entropy. The sum of exponentials runs in order, in double.
CPU_SIMD_CLONES static double xent_row(float *row, int V, int32_t tgt, float dscale, int want_grad) {
    float target_logit = row[tgt];
    float mx = row_max(row, V);
    double sum = 0.0;
    for (int i = 0; i < V; i++) {
        row[i] = expf(row[i] - mx);
        sum += row[i];
    }
    double lse = (double)mx + log(sum);
    if (want_grad) {
        float inv = (float)(1.0 / sum);
        float p_target = row[tgt] * inv;
        for (int i = 0; i < V; i++) row[i] = row[i] * inv * dscale;
        row[tgt] = (p_target - 1.0f) * dscale;
    }
    return lse - (double)target_logit;
}

// "a ranks above b": the larger logit, ties to the lower id (the order top-k selects by, on every backend).
static inline int kd_above(float va, int ia, float vb, int ib) { return va > vb || (va == vb && ia < ib); }

// Moves heap slot i down: a min-heap under kd_above (the root is the weakest of the kept ids).
static void kd_sift_down(float *hv, int *hi, int n, int i) {
    for (;;) {
        int l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && kd_above(hv[w], hi[w], hv[l], hi[l])) w = l;
        if (r < n && kd_above(hv[w], hi[w], hv[r], hi[r])) w = r;
        if (w == i) return;
        float tv = hv[i]; hv[i] = hv[w]; hv[w] = tv;
        int ti = hi[i]; hi[i] = hi[w]; hi[w] = ti;
        i = w;
    }
}

// The teacher's row tl[V] (logits) becomes p[V]: softmax(tl / temp) over K (every id, or the topk largest), 0 off
// K. Returns sum_{j in K} p_j log p_j (double) and writes into *log_z the log of the normaliser, so that
// log p_j = (tl_j - mt) / temp - log_z with mt = max tl. hv, hi [topk]: heap scratch.
static double kd_teacher_row(float *tl, int V, float inv_temp, int topk, float *hv, int *hi) {
    float mt = row_max(tl, V);
    double z = 0.0, plogp = 0.0;
    if (topk <= 0) {
        // one exponential per id: sum_j p_j log p_j = (sum_j e_j a_j) / z - log z, a_j = (tl_j - mt) / temp
        double ea = 0.0;
        for (int i = 0; i < V; i++) {
            float a = (tl[i] - mt) * inv_temp, e = expf(a);
            z += (double)e;
            ea += (double)e * (double)a;
            tl[i] = e;
        }
        const float inv_z = (float)(1.0 / z);
        for (int i = 0; i < V; i++) tl[i] *= inv_z;
        return ea / z - log(z);
    }
    int n = 0;
    for (int i = 0; i < V; i++) {
        if (n < topk) {
            hv[n] = tl[i]; hi[n] = i; n++;
            if (n == topk)
                for (int j = topk / 2 - 1; j >= 0; j--) kd_sift_down(hv, hi, n, j);
        } else if (kd_above(tl[i], i, hv[0], hi[0])) {
            hv[0] = tl[i]; hi[0] = i;
            kd_sift_down(hv, hi, n, 0);
        }
    }
    for (int j = 0; j < n; j++) z += (double)expf((hv[j] - mt) * inv_temp);
    double lz = log(z);
    memset(tl, 0, (size_t)V * sizeof(float));
    for (int j = 0; j < n; j++) {
        double lp = (double)((hv[j] - mt) * inv_temp) - lz;
        double p = exp(lp);
        plogp += p * lp;
        tl[hi[j]] = (float)p;
    }
    return plogp;
}

// One scored row with a teacher: row[V] (student logits) becomes dlogits when want_grad, p[V] holds the teacher's
// probabilities (kd_teacher_row). *lm and *kd get the row's two losses.
static void kd_student_row(float *row, const float *p, int V, int32_t tgt, double plogp, const ShearKD *kd,
                           float dscale, int want_grad, double *lm, double *kdl) {
    const float inv_temp = 1.0f / kd->temperature;
    float target_logit = row[tgt];
    float mx = row_max(row, V);
    const int t1 = kd->temperature == 1.0f; // then softmax(s / temp) is softmax(s): one exponential per id
    double sum = 0.0, sum_t = 0.0, pa = 0.0, psum = 0.0;
    for (int i = 0; i < V; i++) {
        float a = (row[i] - mx) * inv_temp;
        sum += (double)expf(row[i] - mx);
        if (!t1) sum_t += (double)expf(a);
        pa += (double)p[i] * (double)a; // p is 0 off K
        psum += (double)p[i];
    }
    if (t1) sum_t = sum;
    *lm = (double)mx + log(sum) - (double)target_logit;
    // sum_{j in K} p_j log q_j, log q_j = (s_j - mx) / temp - log sum_t
    const double plogq = pa - psum * log(sum_t);
    const double t2 = (double)kd->temperature * kd->temperature;
    *kdl = t2 * (plogp - plogq);
    if (!want_grad) return;
    // the LM part in classifier's arithmetic, so alpha = 0 gives its bits
    const float c_lm = dscale * (1.0f - kd->alpha), c_kd = dscale * kd->alpha * kd->temperature;
    const float inv = (float)(1.0 / sum), inv_t = (float)(1.0 / sum_t);
    const float p_target = expf(target_logit - mx) * inv;
    for (int i = 0; i < V; i++) {
        float s = row[i], e = expf(s - mx);
        float g = e * inv * c_lm;
        if (c_kd != 0.0f) g += c_kd * ((t1 ? e : expf((s - mx) * inv_temp)) * inv_t - p[i]);
        row[i] = g;
    }
    float g = (p_target - 1.0f) * c_lm;
    if (c_kd != 0.0f) g += c_kd * (expf((target_logit - mx) * inv_temp) * inv_t - p[tgt]);
    row[tgt] = g;
}

// The shared body: kd = NULL is the plain classifier (row_loss, logits_out as ops.h), else classifier_kd.
static double classify(float *dx, float *dw, float *row_loss, float *logits_out, double *kd_sum, const float *x,
                       const float *w, const int32_t *targets, size_t N, int d, int V, float dscale,
                       const ShearKD *kd) {
    for (size_t n = 0; n < N; n++) {
        if (targets[n] >= V) {
            CPU_DIE("classifier: target %d of row %zu is outside the vocabulary [0, %d)", targets[n], n, V);
        }
    }
    if (kd_sum) *kd_sum = 0.0;
    if (N == 0) return 0.0;
    if (kd && (kd->topk < 0 || kd->topk > V || !(kd->temperature > 0.0f) || kd->td <= 0)) {
        CPU_DIE("classifier_kd: topk %d must be in [0, %d], temperature %g > 0, teacher width %d > 0", kd->topk, V,
                (double)kd->temperature, kd->td);
    }
    const int want_grad = dx != NULL || dw != NULL;
    const size_t chunk = classifier_chunk(N, V);
    // k = V still selects (the identity top-V == full is then a real check of the selection)
    const int k = kd && kd->topk > 0 ? kd->topk : 0;
    float *block = cpu_scratch(chunk * (size_t)V * sizeof(float));                   // [chunk, V] logits -> dlogits
    float *tblock = kd ? cpu_scratch(chunk * (size_t)V * sizeof(float)) : NULL;       // [chunk, V] teacher -> p
    float *heap_v = k ? cpu_scratch(chunk * (size_t)k * sizeof(float)) : NULL;        // [chunk, k]
    int *heap_i = k ? cpu_scratch(chunk * (size_t)k * sizeof(int)) : NULL;            // [chunk, k]
    double *loss = cpu_scratch(2 * chunk * sizeof(double));                           // [2, chunk] lm, kd
    double total = 0.0, kd_total = 0.0;
    // bf16 precision: each head rounded once for every chunk (NULL in fp32)
    uint16_t *wh = cpu_bf16_copy(w, (size_t)V * (size_t)d);                          // [V, d]
    uint16_t *twh = kd ? cpu_bf16_copy(kd->tw, (size_t)V * (size_t)kd->td) : NULL;  // [V, td]
    for (size_t start = 0; start < N; start += chunk) {
        size_t rows = N - start < chunk ? N - start : chunk;
        const float *xc = x + start * (size_t)d; // [rows, d]
        // block[rows, V] = xc[rows, d] @ w[V, d]^T
        cpu_gemm(0, 1, rows, (size_t)V, (size_t)d, 1.0f, xc, NULL, (size_t)d, w, wh, (size_t)d, 0.0f, block, (size_t)V);
        // tblock[rows, V] = tx[rows, td] @ tw[V, td]^T
        if (kd) {
            cpu_gemm(0, 1, rows, (size_t)V, (size_t)kd->td, 1.0f, kd->tx + start * (size_t)kd->td, NULL,
                     (size_t)kd->td, kd->tw, twh, (size_t)kd->td, 0.0f, tblock, (size_t)V);
        }
        if (logits_out) memcpy(logits_out + start * (size_t)V, block, rows * (size_t)V * sizeof(float));
        int scored = 0;
#pragma omp parallel for schedule(static) reduction(+ : scored)
        for (size_t r = 0; r < rows; r++) {
            float *row = block + r * (size_t)V; // [V]
            int32_t tgt = targets[start + r];
            loss[chunk + r] = 0.0;
            if (tgt < 0) {
                loss[r] = 0.0;
                if (want_grad) memset(row, 0, (size_t)V * sizeof(float));
                continue;
            }
            scored++;
            if (kd) {
                float *p = tblock + r * (size_t)V; // [V]
                double plogp = kd_teacher_row(p, V, 1.0f / kd->temperature, k, k ? heap_v + r * (size_t)k : NULL,
                                              k ? heap_i + r * (size_t)k : NULL);
                kd_student_row(row, p, V, tgt, plogp, kd, dscale, want_grad, &loss[r], &loss[chunk + r]);
                continue;
            }
            loss[r] = xent_row(row, V, tgt, dscale, want_grad);
        }
        for (size_t r = 0; r < rows; r++) {
            total += loss[r];
            kd_total += loss[chunk + r];
            if (row_loss) row_loss[start + r] = (float)loss[r];
        }
        if (!want_grad || scored == 0) continue;
        uint16_t *bh = dx && dw ? cpu_bf16_copy(block, rows * (size_t)V) : NULL; // [rows, V] bf16: once for both
        // dx[rows, d] += dlogits[rows, V] @ w[V, d]
        if (dx) {
            cpu_gemm(0, 0, rows, (size_t)d, (size_t)V, 1.0f, block, bh, (size_t)V, w, wh, (size_t)d, 1.0f,
                     dx + start * (size_t)d, (size_t)d);
        }
        // dw[V, d] += dlogits[rows, V]^T @ xc[rows, d]
        if (dw)
            cpu_gemm(1, 0, (size_t)V, (size_t)d, rows, 1.0f, block, bh, (size_t)V, xc, NULL, (size_t)d, 1.0f, dw,
                     (size_t)d);
        free(bh);
    }
    free(wh);
    free(twh);
    if (kd_sum) *kd_sum = kd_total;
    free(block);
    free(tblock);
    free(heap_v);
    free(heap_i);
    free(loss);
    return total;
}

double cpu_classifier(float *dx, float *dw, float *row_loss, float *logits_out, const float *x, const float *w,
                      const int32_t *targets, size_t N, int d, int V, float dscale) {
    return classify(dx, dw, row_loss, logits_out, NULL, x, w, targets, N, d, V, dscale, NULL);
}

double cpu_classifier_kd(float *dx, float *dw, double *kd_sum, const float *x, const float *w, const int32_t *targets,
                         size_t N, int d, int V, float dscale, const ShearKD *kd) {
    return classify(dx, dw, NULL, NULL, kd_sum, x, w, targets, N, d, V, dscale, kd);
}
