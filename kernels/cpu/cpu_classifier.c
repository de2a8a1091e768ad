// The fused classifier + cross-entropy. Rows go through in chunks, so at most a chunk x V block of logits
// exists at once (V x N logits of a real batch would not fit): logits by sgemm, softmax per row in place,
// and, when gradients are wanted, the same block turned into dlogits and multiplied straight into dx and dw.
#include <math.h>
#include <string.h>

#include "cpu_ops.h"

// About 16 MiB of logits per chunk, at least 64 rows: big enough for sgemm to run at speed.
#define CPU_CLASSIFIER_FLOATS ((size_t)1 << 22)
#define CPU_CLASSIFIER_MIN_ROWS 64

double cpu_classifier(float *dx, float *dw, float *row_loss, float *logits_out, const float *x, const float *w,
                      const int32_t *targets, size_t N, int d, int V, float dscale) {
    for (size_t n = 0; n < N; n++) {
        if (targets[n] >= V) {
            CPU_DIE("classifier: target %d of row %zu is outside the vocabulary [0, %d)", targets[n], n, V);
        }
    }
    if (N == 0) return 0.0;
    const int want_grad = dx != NULL || dw != NULL;
    size_t chunk = CPU_CLASSIFIER_FLOATS / (size_t)V;
    if (chunk < CPU_CLASSIFIER_MIN_ROWS) chunk = CPU_CLASSIFIER_MIN_ROWS;
    if (chunk > N) chunk = N;
    float *block = cpu_scratch(chunk * (size_t)V * sizeof(float)); // [chunk, V] logits, then softmax/dlogits
    double *loss = cpu_scratch(chunk * sizeof(double));           // [chunk]
    double total = 0.0;
    for (size_t start = 0; start < N; start += chunk) {
        size_t rows = N - start < chunk ? N - start : chunk;
        const float *xc = x + start * (size_t)d; // [rows, d]
        // block[rows, V] = xc[rows, d] @ w[V, d]^T
        cpu_sgemm(0, 1, rows, (size_t)V, (size_t)d, 1.0f, xc, (size_t)d, w, (size_t)d, 0.0f, block, (size_t)V);
        if (logits_out) memcpy(logits_out + start * (size_t)V, block, rows * (size_t)V * sizeof(float));
        int scored = 0;
#pragma omp parallel for schedule(static) reduction(+ : scored)
        for (size_t r = 0; r < rows; r++) {
            float *row = block + r * (size_t)V; // [V]
            int32_t tgt = targets[start + r];
            if (tgt < 0) {
                loss[r] = 0.0;
                if (want_grad) memset(row, 0, (size_t)V * sizeof(float));
                continue;
            }
            scored++;
            float target_logit = row[tgt];
            float mx = row[0];
            for (int i = 1; i < V; i++) mx = row[i] > mx ? row[i] : mx;
            double sum = 0.0;
            for (int i = 0; i < V; i++) {
                row[i] = expf(row[i] - mx);
                sum += row[i];
            }
            double lse = (double)mx + log(sum);
            loss[r] = lse - (double)target_logit;
            if (want_grad) {
                float inv = (float)(1.0 / sum);
                float p_target = row[tgt] * inv;
                for (int i = 0; i < V; i++) row[i] = row[i] * inv * dscale;
                row[tgt] = (p_target - 1.0f) * dscale;
            }
        }
        for (size_t r = 0; r < rows; r++) {
            total += loss[r];
            if (row_loss) row_loss[start + r] = (float)loss[r];
        }
        if (!want_grad || scored == 0) continue;
        // dx[rows, d] += dlogits[rows, V] @ w[V, d]
        if (dx) {
            cpu_sgemm(0, 0, rows, (size_t)d, (size_t)V, 1.0f, block, (size_t)V, w, (size_t)d, 1.0f,
                      dx + start * (size_t)d, (size_t)d);
        }
        // dw[V, d] += dlogits[rows, V]^T @ xc[rows, d]
        if (dw) cpu_sgemm(1, 0, (size_t)V, (size_t)d, rows, 1.0f, block, (size_t)V, xc, (size_t)d, 1.0f, dw, (size_t)d);
    }
    free(block);
    free(loss);
    return total;
}
