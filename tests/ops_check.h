// The gradient-check harness of the ops tests (test_ops_grad.c, test_ops_kd.c): the PASS/FAIL line, buffers on
// the backend, seeded fills, normwise relative errors and the generic finite-difference case (GradCase), plus the
// classifier's context shared by the classifier and distillation checks. Each test program gets its own copy of
// the counters (static).
#ifndef SHEAR_TESTS_OPS_CHECK_H
#define SHEAR_TESTS_OPS_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shear/ops.h"

#define FD_EPS 1e-2
#define FD_TOL 1e-3
#define FWD_TOL 1e-5 // forward vs double reference, relative to the largest reference value
#define ADD_TOL 1e-6 // second backward call vs twice the first, relative

static const ShearOps *ops;
static int passed, failed;
static uint64_t rng_counter;

static inline void check(const char *what, double err, double tol) {
    int ok = err <= tol; // NaN fails
    printf("%s %-48s err %.3e (tol %.1e)\n", ok ? "PASS" : "FAIL", what, err, tol);
    if (ok) passed++;
    else failed++;
}

static inline float *buf(size_t n) { return ops->alloc(n * sizeof(float)); }
static inline double *dbuf(size_t n) { return calloc(n ? n : 1, sizeof(double)); }

static inline void fill_normal(float *x, size_t n, double scale) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(scale * rng_normal(1234, 99, rng_counter++));
}

static inline void fill_uniform(float *x, size_t n, double lo, double hi) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(lo + (hi - lo) * rng_uniform(1234, 99, rng_counter++));
}

static inline double dot_r(const float *out, const float *R, size_t n) {
    double L = 0.0;
    for (size_t i = 0; i < n; i++) L += (double)out[i] * R[i];
    return L;
}

// max|a - b| / max|b| (b the reference); an all-zero reference compares absolutely.
static inline double rel_err_fd(const float *a, const double *b, size_t n, const unsigned char *mask) {
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (mask && !mask[i]) continue;
        num = fmax(num, fabs((double)a[i] - b[i]));
        den = fmax(den, fabs(b[i]));
    }
    return den > 0.0 ? num / den : num;
}

static inline double rel_err_ff(const float *a, const float *b, double bscale, size_t n) {
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        num = fmax(num, fabs((double)a[i] - bscale * b[i]));
        den = fmax(den, fabs(bscale * b[i]));
    }
    return den > 0.0 ? num / den : num;
}

// ---------------- the generic gradient check ----------------

#define MAX_GRADS 4
typedef struct {
    const char *op;
    int ngrad;
    const char *gname[MAX_GRADS];
    float *param[MAX_GRADS];              // what each gradient is the derivative with respect to
    size_t n[MAX_GRADS];                  // its element count
    const unsigned char *mask[MAX_GRADS]; // elements to compare (NULL: all)
    double (*objective)(void *ctx);       // runs the forward (refreshing saved tensors), returns L
    void (*backward)(void *ctx, float **grads); // dL/dout = R; NULL entries are not computed
    int accumulates;                            // backward ADDs into grads (rope's in-place backward does not)
    void *ctx;
} GradCase;

static inline void fd_grad(GradCase *gc, int k, double *g) {
    float *p = gc->param[k];
    for (size_t i = 0; i < gc->n[k]; i++) {
        if (gc->mask[k] && !gc->mask[k][i]) continue;
        float x0 = p[i], xp = (float)(x0 + FD_EPS), xm = (float)(x0 - FD_EPS);
        p[i] = xp;
        double lp = gc->objective(gc->ctx);
        p[i] = xm;
        double lm = gc->objective(gc->ctx);
        p[i] = x0;
        g[i] = (lp - lm) / ((double)xp - (double)xm);
    }
}

static inline void run_grad_case(GradCase *gc) {
    char what[128];
    float *once[MAX_GRADS] = {0}, *twice[MAX_GRADS] = {0}, *alone[MAX_GRADS] = {0};
    for (int k = 0; k < gc->ngrad; k++) {
        once[k] = buf(gc->n[k]);
        twice[k] = buf(gc->n[k]);
        alone[k] = buf(gc->n[k]);
    }
    gc->objective(gc->ctx);
    gc->backward(gc->ctx, once);
    for (int k = 0; k < gc->ngrad; k++) {
        double *g = dbuf(gc->n[k]);
        fd_grad(gc, k, g);
        snprintf(what, sizeof what, "%s d%s finite differences", gc->op, gc->gname[k]);
        check(what, rel_err_fd(once[k], g, gc->n[k], gc->mask[k]), FD_TOL);
        free(g);
    }
    if (gc->accumulates) {
        gc->objective(gc->ctx);
        gc->backward(gc->ctx, twice);
        gc->backward(gc->ctx, twice);
        for (int k = 0; k < gc->ngrad; k++) {
            snprintf(what, sizeof what, "%s d%s adds (2 calls = 2x)", gc->op, gc->gname[k]);
            check(what, rel_err_ff(twice[k], once[k], 2.0, gc->n[k]), ADD_TOL);
        }
        if (gc->ngrad > 1) {
            for (int k = 0; k < gc->ngrad; k++) {
                float *only[MAX_GRADS] = {0};
                only[k] = alone[k];
                gc->backward(gc->ctx, only);
                snprintf(what, sizeof what, "%s d%s alone (others NULL)", gc->op, gc->gname[k]);
                check(what, rel_err_ff(alone[k], once[k], 1.0, gc->n[k]), 0.0);
            }
        }
    }
    for (int k = 0; k < gc->ngrad; k++) {
        ops->free(once[k]);
        ops->free(twice[k]);
        ops->free(alone[k]);
    }
}


typedef struct {
    size_t N;
    int d, V;
    float dscale;
    float *x, *w;
    int32_t *tgt;
} ClsCtx;

static inline double max_rel(const float *a, const double *b, size_t n) { return rel_err_fd(a, b, n, NULL); }

#endif
