// Evaluation of a model on held-out sequences (see evaluate.h).
#include "shear/evaluate.h"

#include <stdlib.h>
#include <string.h>

#include "shear/common.h"

// Fills row b of a micro-batch from the first len tokens of seq: targets are the next token, -1 at the last
// position and on the padding up to the activations' T (padding tokens are 0 and never scored).
static void fill_row(const Model *m, int b, const int32_t *seq, int len, int32_t *tok, int32_t *tgt) {
    int32_t *tr = tok + (size_t)b * m->T, *gr = tgt + (size_t)b * m->T; // [m->T]
    for (int t = 0; t < m->T; t++) {
        tr[t] = t < len ? seq[t] : 0;
        gr[t] = t + 1 < len ? seq[t + 1] : -1;
    }
}

void eval_domains(const Dist *d, Model *m, const TokenStore *s, const int *store_idx, int n_domains, int T,
                  int max_seqs, const ModelGates *gates, double *loss_sum, double *tokens, Distill *kd,
                  double *kd_sum) {
    const int with_kd = kd && kd->on;
    SHEAR_CHECK(T >= 2 && T <= m->T, "eval: %d tokens per sequence; the model's activations hold 2 to %d", T, m->T);
    SHEAR_CHECK(T <= s->seq_len, "eval: %d tokens per sequence but the token store's sequences have %d", T,
                s->seq_len);
    int32_t *seq = shear_malloc((size_t)s->seq_len * sizeof(int32_t)); // [store seq_len]
    int32_t *tok = shear_malloc((size_t)m->B * m->T * sizeof(int32_t)); // [B, m->T]
    int32_t *tgt = shear_malloc((size_t)m->B * m->T * sizeof(int32_t)); // [B, m->T]
    double *acc = shear_calloc(3 * (size_t)n_domains, sizeof(double)); // [3, n_domains] loss, count, KD sums
    for (int i = 0; i < n_domains; i++) {
        int dom = store_idx[i];
        SHEAR_CHECK(dom >= 0 && dom < s->n_domains, "eval: domain index %d; the store has %d domains", dom,
                    s->n_domains);
        size_t n = s->n_eval[dom];
        if (max_seqs > 0 && (size_t)max_seqs < n) n = (size_t)max_seqs;
        size_t lo, hi;
        dist_slice(d, n, &lo, &hi);
        for (size_t s0 = lo; s0 < hi; s0 += (size_t)m->B) {
            int B = (int)(hi - s0 < (size_t)m->B ? hi - s0 : (size_t)m->B);
            for (int b = 0; b < B; b++) {
                store_read(s, dom, 1, s0 + (size_t)b, seq);
                fill_row(m, b, seq, T, tok, tgt);
            }
            if (with_kd) {
                double kds = 0;
                acc[i] += model_forward_kd(m, B, tok, tgt, gates, distill_teacher(kd, B, tok, tgt), &kds);
                acc[2 * n_domains + i] += kds;
            } else {
                acc[i] += model_forward(m, B, tok, tgt, gates, NULL, NULL);
            }
            acc[n_domains + i] += (double)B * (T - 1);
        }
    }
    dist_sum_doubles(d, acc, 3 * n_domains);
    for (int i = 0; i < n_domains; i++) {
        loss_sum[i] = acc[i];
        tokens[i] = acc[n_domains + i];
        if (with_kd && kd_sum) kd_sum[i] = acc[2 * n_domains + i];
    }
    free(acc);
    free(tgt);
    free(tok);
    free(seq);
}

size_t eval_window_plan(size_t n, int T, int *window_len) {
    *window_len = 0;
    if (n < 2 || T < 2) return 0;
    if (n < (size_t)T) {
        *window_len = (int)n;
        return 1;
    }
    *window_len = T;
    return n / (size_t)T;
}

void eval_windows(const Dist *d, Model *m, const int32_t *ids, size_t windows, int T, int window_len,
                  double *loss_sum, double *tokens) {
    SHEAR_CHECK(window_len >= 2 && window_len <= m->T, "eval: windows of %d tokens; the model's activations hold "
                "2 to %d", window_len, m->T);
    int32_t *tok = shear_malloc((size_t)m->B * m->T * sizeof(int32_t)); // [B, m->T]
    int32_t *tgt = shear_malloc((size_t)m->B * m->T * sizeof(int32_t)); // [B, m->T]
    double acc[2] = {0, 0}; // loss sum, scored positions
    size_t lo, hi;
    dist_slice(d, windows, &lo, &hi);
    for (size_t w0 = lo; w0 < hi; w0 += (size_t)m->B) {
        int B = (int)(hi - w0 < (size_t)m->B ? hi - w0 : (size_t)m->B);
        for (int b = 0; b < B; b++) fill_row(m, b, ids + (w0 + (size_t)b) * (size_t)T, window_len, tok, tgt);
        acc[0] += model_forward(m, B, tok, tgt, NULL, NULL, NULL);
        acc[1] += (double)B * (window_len - 1);
    }
    dist_sum_doubles(d, acc, 2);
    *loss_sum = acc[0];
    *tokens = acc[1];
    free(tgt);
    free(tok);
}
