// Helpers of the CUDA-vs-CPU parity test (cuda_parity.h): the two backends, the pass/fail tally, random inputs,
// paired buffers and the comparisons.
#include "cuda_parity.h"

const ShearOps *CPU, *GPU;
int passed, failed;
uint64_t rng_counter; // every random number of the test comes from (seed 2024, stream 91, counter++)

void report(int ok, const char *what, const char *detail) {
    printf("%s %-78s %s\n", ok ? "PASS" : "FAIL", what, detail);
    if (ok) passed++;
    else failed++;
}


double rnd_normal(void) { return rng_normal(2024, 91, rng_counter++); }
double rnd_uniform(void) { return rng_uniform(2024, 91, rng_counter++); }

void pair_set(Pair *p, const float *host) {
    CPU->upload(p->c, host, p->n * sizeof(float));
    GPU->upload(p->g, host, p->n * sizeof(float));
}

// scale > 0: Normal(0, scale); scale == 0: zeros
Pair pair_new(size_t n, double scale) {
    Pair p = {CPU->alloc(n * sizeof(float)), GPU->alloc(n * sizeof(float)), n, NULL};
    float *h = calloc(n ? n : 1, sizeof(float));
    for (size_t i = 0; i < n && scale > 0; i++) h[i] = (float)(scale * rnd_normal());
    pair_set(&p, h);
    free(h);
    return p;
}

// a gradient buffer with Normal(0, scale) initial values, which a backward op must add to (+=)
Pair grad_new(size_t n, double scale) {
    Pair p = pair_new(n, scale);
    p.init = malloc((n ? n : 1) * sizeof(float));
    CPU->download(p.init, p.c, n * sizeof(float));
    return p;
}

Pair pair_uniform(size_t n, double lo, double hi) {
    Pair p = {CPU->alloc(n * sizeof(float)), GPU->alloc(n * sizeof(float)), n, NULL};
    float *h = malloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) h[i] = (float)(lo + (hi - lo) * rnd_uniform());
    pair_set(&p, h);
    free(h);
    return p;
}

void pair_free(Pair *p) {
    CPU->free(p->c);
    GPU->free(p->g);
    free(p->init);
}

IPair ipair_new(const int32_t *host, size_t n) {
    IPair p = {CPU->alloc((n ? n : 1) * sizeof(int32_t)), GPU->alloc((n ? n : 1) * sizeof(int32_t)), n};
    CPU->upload(p.c, host, n * sizeof(int32_t));
    GPU->upload(p.g, host, n * sizeof(int32_t));
    return p;
}

void ipair_free(IPair *p) {
    CPU->free(p->c);
    GPU->free(p->g);
}

void download_both(const Pair *p, float **hc, float **hg) {
    *hc = malloc((p->n ? p->n : 1) * sizeof(float));
    *hg = malloc((p->n ? p->n : 1) * sizeof(float));
    CPU->download(*hc, p->c, p->n * sizeof(float));
    GPU->download(*hg, p->g, p->n * sizeof(float));
}

// max |g - c| / max(max |c - init|, 1e-2 max |c|) (init NULL: 0); NaN or Inf anywhere in either makes it Inf
// unless both agree bitwise. The floor is for a += whose exact contribution is zero (attention with T = 1: a
// softmax over one key has no gradient), where the GPU's other summation order leaves rounding (~1e-7) that
// would be infinitely large next to a zero change (found by the CUDA emulation).
double scaled_err(const float *c, const float *g, const float *init, size_t n, double *maxabs_out) {
    double maxabs = 0.0, ref = 0.0, cmax = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(c[i]) || !isfinite(g[i])) {
            if (memcmp(&c[i], &g[i], sizeof(float)) != 0) maxabs = INFINITY;
            continue;
        }
        double d = fabs((double)g[i] - (double)c[i]);
        if (d > maxabs) maxabs = d;
        double r = fabs((double)c[i] - (init ? (double)init[i] : 0.0));
        if (r > ref) ref = r;
        if (fabs((double)c[i]) > cmax) cmax = fabs((double)c[i]);
    }
    *maxabs_out = maxabs;
    if (maxabs == 0.0) return 0.0;
    if (ref < 1e-2 * cmax) ref = 1e-2 * cmax;
    return ref > 0.0 ? maxabs / ref : INFINITY;
}

void cmp(const char *what, const Pair *p, double tol) {
    float *hc, *hg;
    download_both(p, &hc, &hg);
    double maxabs, err = scaled_err(hc, hg, p->init, p->n, &maxabs);
    char detail[128];
    snprintf(detail, sizeof detail, "err %.2e abs %.2e (tol %.0e)", err, maxabs, tol);
    report(err <= tol, what, detail);
    free(hc);
    free(hg);
}

void cmp_exact(const char *what, const Pair *p) {
    float *hc, *hg;
    download_both(p, &hc, &hg);
    size_t bad = 0;
    for (size_t i = 0; i < p->n; i++) bad += memcmp(&hc[i], &hg[i], sizeof(float)) != 0;
    char detail[128];
    snprintf(detail, sizeof detail, "%zu of %zu differ (bitwise)", bad, p->n);
    report(bad == 0, what, detail);
    free(hc);
    free(hg);
}

// Two GPU buffers a (the reference) and b, [n] each, within tol of each other (scaled_err); the detail also counts
// the elements that differ bitwise, for the checks that are expected to be exact by construction
void cmp_gpu(const char *what, const float *a, const float *b, size_t n, double tol) {
    float *ha = malloc((n ? n : 1) * sizeof(float)), *hb = malloc((n ? n : 1) * sizeof(float));
    GPU->download(ha, a, n * sizeof(float));
    GPU->download(hb, b, n * sizeof(float));
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += memcmp(&ha[i], &hb[i], sizeof(float)) != 0;
    double maxabs, err = scaled_err(ha, hb, NULL, n, &maxabs);
    char detail[128];
    snprintf(detail, sizeof detail, "err %.2e abs %.2e (tol %.0e), %zu of %zu differ", err, maxabs, tol, bad, n);
    report(tol > 0 ? err <= tol : bad == 0, what, detail);
    free(ha);
    free(hb);
}

// distance in units in the last place between two finite floats of any sign
uint64_t ulp_dist(float a, float b) {
    int32_t ia, ib;
    memcpy(&ia, &a, 4);
    memcpy(&ib, &b, 4);
    int64_t oa = ia < 0 ? (int64_t)INT32_MIN - ia : ia, ob = ib < 0 ? (int64_t)INT32_MIN - ib : ib;
    return (uint64_t)(oa > ob ? oa - ob : ob - oa);
}

void cmp_ulp(const char *what, const Pair *p, uint64_t max_ulp) {
    float *hc, *hg;
    download_both(p, &hc, &hg);
    uint64_t worst = 0;
    size_t nonfinite = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (!isfinite(hc[i]) || !isfinite(hg[i])) {
            nonfinite++;
            continue;
        }
        uint64_t d = ulp_dist(hc[i], hg[i]);
        if (d > worst) worst = d;
    }
    char detail[128];
    snprintf(detail, sizeof detail, "max %llu ulp (tol %llu), %zu non-finite", (unsigned long long)worst,
             (unsigned long long)max_ulp, nonfinite);
    report(worst <= max_ulp && nonfinite == 0, what, detail);
    free(hc);
    free(hg);
}

void cmp_scalar(const char *what, double c, double g, double tol) {
    double err = c == g ? 0.0 : fabs(g - c) / fmax(fabs(c), 1e-300);
    char detail[128];
    snprintf(detail, sizeof detail, "cpu %.9g gpu %.9g rel %.2e (tol %.0e)", c, g, err, tol);
    report(err <= tol, what, detail);
}
