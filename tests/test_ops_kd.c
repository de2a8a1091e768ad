// The CPU backend's classifier_kd (ops.h: the classifier with a distillation teacher) against first principles:
// central finite differences of its objective dscale ((1 - alpha) LM + alpha KD) for the full vocabulary and
// top-k at several temperatures, a naive double reference of ops.h's formulas (one and two chunks), and the
// identities: alpha 0 is the classifier's bits, a teacher equal to the student gives KD 0 and no KD gradient,
// top-k with k = V equals the full vocabulary. The harness is tests/ops_check.h (shared with test_ops_grad).
#include "ops_check.h"

#include "shear/rng.h"

// ---------------- classifier_kd: the classifier with a distillation teacher ----------------

typedef struct {
    ClsCtx c;
    float *tx, *tw; // [N, td], [V, td]
    ShearKD kd;
} KdCtx;

static double kd_obj(void *ctx) {
    KdCtx *k = ctx;
    double kd = 0.0;
    double lm = ops->classifier_kd(NULL, NULL, &kd, k->c.x, k->c.w, k->c.tgt, k->c.N, k->c.d, k->c.V, k->c.dscale,
                                   &k->kd);
    return k->c.dscale * ((1.0 - k->kd.alpha) * lm + k->kd.alpha * kd);
}

static void kd_bwd(void *ctx, float **g) {
    KdCtx *k = ctx;
    if (g[0] || g[1])
        ops->classifier_kd(g[0], g[1], NULL, k->c.x, k->c.w, k->c.tgt, k->c.N, k->c.d, k->c.V, k->c.dscale, &k->kd);
}

static void kd_ctx_make(KdCtx *k, size_t N, int d, int td, int V, float alpha, float temp, int topk) {
    *k = (KdCtx){.c = {.N = N, .d = d, .V = V, .dscale = 0.37f}};
    k->c.x = buf(N * d), k->c.w = buf((size_t)V * d), k->c.tgt = ops->alloc(N * sizeof(int32_t));
    k->tx = buf(N * td), k->tw = buf((size_t)V * td);
    fill_normal(k->c.x, N * d, 1.0);
    fill_normal(k->c.w, (size_t)V * d, 0.5);
    fill_normal(k->tx, N * td, 1.0);
    fill_normal(k->tw, (size_t)V * td, 0.6);
    for (size_t n = 0; n < N; n++) k->c.tgt[n] = n % 4 == 1 ? -1 : (int32_t)(rng_u64(1234, 97, n) % (uint64_t)V);
    k->kd = (ShearKD){.tx = k->tx, .tw = k->tw, .td = td, .alpha = alpha, .temperature = temp, .topk = topk};
}

static void kd_ctx_free(KdCtx *k) {
    ops->free(k->c.x), ops->free(k->c.w), ops->free(k->c.tgt), ops->free(k->tx), ops->free(k->tw);
}

// Naive double reference of the KD term as ops.h states it: the KD sum, and dx, dw of the whole objective
// dscale ((1 - alpha) LM + alpha KD). Top-k by sorting ids on (logit desc, id asc). Returns the LM sum.
static double kd_reference(const KdCtx *k, double *kd_sum, double *dx, double *dw) {
    const size_t N = k->c.N;
    const int d = k->c.d, V = k->c.V, td = k->kd.td;
    const double T = k->kd.temperature, a = k->kd.alpha;
    double *s = dbuf(V), *t = dbuf(V), *p = dbuf(V), *g = dbuf(V);
    int *order = malloc((size_t)V * sizeof(int));
    double lm = 0.0;
    *kd_sum = 0.0;
    for (size_t n = 0; n < N; n++) {
        if (k->c.tgt[n] < 0) continue;
        double ms = -INFINITY, mt = -INFINITY;
        for (int v = 0; v < V; v++) {
            s[v] = t[v] = 0.0;
            for (int j = 0; j < d; j++) s[v] += (double)k->c.x[n * d + j] * k->c.w[(size_t)v * d + j];
            for (int j = 0; j < td; j++) t[v] += (double)k->tx[n * td + j] * k->tw[(size_t)v * td + j];
            ms = fmax(ms, s[v]), mt = fmax(mt, t[v]);
        }
        int K = k->kd.topk > 0 && k->kd.topk < V ? k->kd.topk : V;
        for (int v = 0; v < V; v++) order[v] = v;
        for (int i = 0; K < V && i < K; i++) // selection sort of the first K: (logit desc, id asc)
            for (int j = i + 1; j < V; j++)
                if (t[order[j]] > t[order[i]] || (t[order[j]] == t[order[i]] && order[j] < order[i])) {
                    int x = order[i]; order[i] = order[j]; order[j] = x;
                }
        double z1 = 0.0, zt = 0.0, zp = 0.0;
        for (int v = 0; v < V; v++) z1 += exp(s[v] - ms), zt += exp((s[v] - ms) / T), p[v] = 0.0;
        for (int i = 0; i < K; i++) zp += exp((t[order[i]] - mt) / T);
        for (int i = 0; i < K; i++) p[order[i]] = exp((t[order[i]] - mt) / T) / zp;
        lm += ms + log(z1) - s[k->c.tgt[n]];
        double kd = 0.0;
        for (int v = 0; v < V; v++)
            if (p[v] > 0) kd += p[v] * (log(p[v]) - ((s[v] - ms) / T - log(zt)));
        *kd_sum += T * T * kd;
        for (int v = 0; v < V; v++)
            g[v] = k->c.dscale * ((1 - a) * (exp(s[v] - ms) / z1 - (v == k->c.tgt[n])) +
                                  a * T * (exp((s[v] - ms) / T) / zt - p[v]));
        for (int v = 0; v < V; v++)
            for (int j = 0; j < d; j++) {
                dx[n * d + j] += g[v] * k->c.w[(size_t)v * d + j];
                dw[(size_t)v * d + j] += g[v] * k->c.x[n * d + j];
            }
    }
    free(s), free(t), free(p), free(g), free(order);
    return lm;
}

static void kd_vs_reference(size_t N, int d, int td, int V, float alpha, float temp, int topk, const char *label) {
    KdCtx k;
    kd_ctx_make(&k, N, d, td, V, alpha, temp, topk);
    float *dx = buf(N * d), *dw = buf((size_t)V * d);
    double *rdx = dbuf(N * d), *rdw = dbuf((size_t)V * d), rkd, kd;
    double lm = ops->classifier_kd(dx, dw, &kd, k.c.x, k.c.w, k.c.tgt, N, d, V, k.c.dscale, &k.kd);
    double rlm = kd_reference(&k, &rkd, rdx, rdw);
    char what[128];
    snprintf(what, sizeof what, "classifier_kd LM sum vs naive %s", label);
    check(what, fabs(lm - rlm) / fabs(rlm), FWD_TOL);
    snprintf(what, sizeof what, "classifier_kd KD sum vs naive %s", label);
    check(what, fabs(kd - rkd) / fabs(rkd), FWD_TOL);
    snprintf(what, sizeof what, "classifier_kd dx vs naive %s", label);
    check(what, max_rel(dx, rdx, N * d), 1e-4);
    snprintf(what, sizeof what, "classifier_kd dw vs naive %s", label);
    check(what, max_rel(dw, rdw, (size_t)V * d), 1e-4);
    free(rdx), free(rdw);
    ops->free(dx), ops->free(dw);
    kd_ctx_free(&k);
}

// The identities of the KD term: alpha = 0 is the classifier's bits; a teacher equal to the student gives KD = 0
// and no KD gradient; top-k with k = V is the full vocabulary.
static void kd_identities(size_t N, int d, int V) {
    KdCtx k;
    kd_ctx_make(&k, N, d, d, V, 0.0f, 2.0f, 0);
    float *dx0 = buf(N * d), *dw0 = buf((size_t)V * d), *dx1 = buf(N * d), *dw1 = buf((size_t)V * d);
    double lm0 = ops->classifier(dx0, dw0, NULL, NULL, k.c.x, k.c.w, k.c.tgt, N, d, V, k.c.dscale), kd = 0;
    double lm1 = ops->classifier_kd(dx1, dw1, &kd, k.c.x, k.c.w, k.c.tgt, N, d, V, k.c.dscale, &k.kd);
    check("classifier_kd alpha 0: LM sum == classifier's (bits)", lm0 == lm1 ? 0.0 : 1.0, 0.0);
    check("classifier_kd alpha 0: dx == classifier's (bits)", memcmp(dx0, dx1, N * d * sizeof(float)) ? 1.0 : 0.0, 0.0);
    check("classifier_kd alpha 0: dw == classifier's (bits)",
          memcmp(dw0, dw1, (size_t)V * d * sizeof(float)) ? 1.0 : 0.0, 0.0);
    check("classifier_kd alpha 0: the KD sum is still computed", kd > 0 ? 0.0 : 1.0, 0.0);

    // teacher = student; the scale of the plain gradient is what "zero" is measured against
    double gscale = 0.0;
    for (size_t i = 0; i < N * (size_t)d; i++) gscale = fmax(gscale, fabs(dx0[i]));
    float temps[3] = {0.5f, 1.0f, 3.0f};
    for (int i = 0; i < 3; i++) {
        ShearKD self = {.tx = k.c.x, .tw = k.c.w, .td = d, .alpha = 1.0f, .temperature = temps[i], .topk = 0};
        ops->zero(dx1, N * d * sizeof(float));
        ops->zero(dw1, (size_t)V * d * sizeof(float));
        ops->classifier_kd(dx1, dw1, &kd, k.c.x, k.c.w, k.c.tgt, N, d, V, k.c.dscale, &self);
        double gx = 0.0, gw = 0.0;
        for (size_t j = 0; j < N * (size_t)d; j++) gx = fmax(gx, fabs(dx1[j]));
        for (size_t j = 0; j < (size_t)V * d; j++) gw = fmax(gw, fabs(dw1[j]));
        char what[128];
        snprintf(what, sizeof what, "classifier_kd teacher == student T=%g: KD per row", temps[i]);
        check(what, fabs(kd) / (double)N, 1e-6);
        snprintf(what, sizeof what, "classifier_kd teacher == student T=%g: |dx|,|dw| / plain", temps[i]);
        check(what, fmax(gx, gw) / gscale, 1e-5);
    }

    // top-k with k = V against the full vocabulary (different code paths, the same sums)
    k.kd.alpha = 0.6f;
    double kdf = 0, kdk = 0;
    ops->zero(dx0, N * d * sizeof(float)), ops->zero(dw0, (size_t)V * d * sizeof(float));
    ops->zero(dx1, N * d * sizeof(float)), ops->zero(dw1, (size_t)V * d * sizeof(float));
    ops->classifier_kd(dx0, dw0, &kdf, k.c.x, k.c.w, k.c.tgt, N, d, V, k.c.dscale, &k.kd);
    k.kd.topk = V;
    ops->classifier_kd(dx1, dw1, &kdk, k.c.x, k.c.w, k.c.tgt, N, d, V, k.c.dscale, &k.kd);
    check("classifier_kd topk = V vs full: KD sum", fabs(kdk - kdf) / fabs(kdf), 1e-6);
    check("classifier_kd topk = V vs full: dx", rel_err_ff(dx1, dx0, 1.0, N * d), 1e-6);
    check("classifier_kd topk = V vs full: dw", rel_err_ff(dw1, dw0, 1.0, (size_t)V * d), 1e-6);
    ops->free(dx0), ops->free(dw0), ops->free(dx1), ops->free(dw1);
    kd_ctx_free(&k);
}

static void test_classifier_kd(void) {
    struct { float alpha, temp; int topk; int td; const char *label; } cases[] = {
        {0.5f, 1.0f, 0, 10, "full T=1 alpha 0.5"},
        {1.0f, 2.0f, 0, 12, "full T=2 alpha 1"},
        {0.7f, 0.5f, 3, 7, "top-3 T=0.5 alpha 0.7"},
        {1.0f, 4.0f, 1, 10, "top-1 T=4 alpha 1"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        KdCtx k;
        kd_ctx_make(&k, 9, 12, cases[c].td, 11, cases[c].alpha, cases[c].temp, cases[c].topk);
        char op[96];
        snprintf(op, sizeof op, "classifier_kd %s", cases[c].label);
        GradCase gc = {.op = op, .ngrad = 2, .gname = {"x", "w"}, .param = {k.c.x, k.c.w},
                       .n = {k.c.N * k.c.d, (size_t)k.c.V * k.c.d}, .objective = kd_obj, .backward = kd_bwd,
                       .accumulates = 1, .ctx = &k};
        run_grad_case(&gc);
        kd_ctx_free(&k);
    }
    kd_vs_reference(9, 12, 10, 11, 0.5f, 1.0f, 0, "full (one chunk)");
    kd_vs_reference(9, 12, 10, 11, 0.8f, 2.0f, 4, "top-4 (one chunk)");
    kd_vs_reference(150, 6, 5, 40000, 0.5f, 1.5f, 0, "full (2 chunks)");
    kd_vs_reference(150, 6, 5, 40000, 1.0f, 1.0f, 50, "top-50 (2 chunks)");
    kd_identities(33, 8, 29);
}

int main(void) {
    ops = ops_cpu();
    printf("backend %s; finite differences: step %.0e, tolerance %.0e relative (normwise)\n", ops->name, FD_EPS,
           FD_TOL);
    test_classifier_kd();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
