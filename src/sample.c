// Next-token sampling: one sort of the ids by probability, then two cuts and an inverse-CDF pick.
#include "shear/sample.h"

#include <math.h>
#include <stdlib.h>

#include "shear/common.h"

int32_t sample_argmax(const float *logits, int V) {
    int32_t best = 0; // NaN logits never win: comparisons with NaN are false
    for (int i = 1; i < V; i++)
        if (logits[i] > logits[best]) best = i;
    return best;
}

static const float *g_sort_logits; // qsort has no context argument; sampling is single-threaded

// Descending logit (so descending probability), then ascending id: a total order, the same on every libc.
static int by_logit_desc(const void *a, const void *b) {
    int32_t i = *(const int32_t *)a, j = *(const int32_t *)b;
    float x = g_sort_logits[i], y = g_sort_logits[j];
    if (x != y) return x > y ? -1 : 1;
    return (i > j) - (i < j);
}

int32_t sample_token(const float *logits, int V, const SampleParams *sp, double u, int32_t *work, double *probs_out) {
    if (sp->greedy) {
        int32_t t = sample_argmax(logits, V);
        if (probs_out) {
            for (int i = 0; i < V; i++) probs_out[i] = 0.0;
            probs_out[t] = 1.0;
        }
        return t;
    }
    for (int i = 0; i < V; i++) {
        if (!isfinite(logits[i])) SHEAR_DIE("logit %d of %d is %f: the model overflows", i, V, (double)logits[i]);
        work[i] = i;
    }
    g_sort_logits = logits;
    qsort(work, (size_t)V, sizeof *work, by_logit_desc);
    int keep = sp->top_k > 0 && sp->top_k < V ? sp->top_k : V;
    // softmax of logits / temperature over the kept ids, in double, the largest logit first (max subtraction)
    double mx = logits[work[0]], total = 0.0;
    double *p = malloc((size_t)keep * sizeof(double)); // [keep] unnormalised probabilities in rank order
    if (!p) SHEAR_DIE("out of memory for %d sampling probabilities", keep);
    for (int r = 0; r < keep; r++) total += p[r] = exp(((double)logits[work[r]] - mx) / sp->temperature);
    if (sp->top_p < 1.0) {
        double mass = 0.0;
        int r = 0;
        while (r < keep && (mass += p[r]) < sp->top_p * total) r++;
        keep = r < keep ? r + 1 : keep;
        total = 0.0;
        for (r = 0; r < keep; r++) total += p[r];
    }
    double target = u * total, acc = 0.0;
    int pick = keep - 1; // rounding can leave target a hair above the last sum
    for (int r = 0; r < keep; r++)
        if ((acc += p[r]) > target) { pick = r; break; }
    if (probs_out) {
        for (int i = 0; i < V; i++) probs_out[i] = 0.0;
        for (int r = 0; r < keep; r++) probs_out[work[r]] = p[r] / total;
    }
    int32_t tok = work[pick];
    free(p);
    return tok;
}
