// Dynamic batch loading: the proportion update and the scaling-law fit (see dbl.h).
#include "shear/dbl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "shear/common.h"

int dbl_rule_parse(const char *name) {
    if (strcmp(name, "paper") == 0) return DBL_RULE_PAPER;
    if (strcmp(name, "code") == 0) return DBL_RULE_CODE;
    if (strcmp(name, "constant") == 0) return DBL_RULE_CONSTANT;
    return -1;
}

int dbl_update(int rule, const double *w_before, const double *loss, const double *ref, int k, double eta,
               double c, double *w_after, char *err, size_t errlen) {
    if (k < 1 || k > DBL_MAX_DOMAINS) {
        snprintf(err, errlen, "dbl: %d domains, expected 1 to %d", k, DBL_MAX_DOMAINS);
        return -1;
    }
    if (rule != DBL_RULE_PAPER && rule != DBL_RULE_CODE && rule != DBL_RULE_CONSTANT) {
        snprintf(err, errlen, "dbl: rule %d, expected paper, code or constant", rule);
        return -1;
    }
    double wsum = 0;
    for (int i = 0; i < k; i++) {
        if (!isfinite(w_before[i]) || w_before[i] < 0) {
            snprintf(err, errlen, "dbl: weight of domain %d is %g, expected a finite number >= 0", i, w_before[i]);
            return -1;
        }
        wsum += w_before[i];
    }
    if (!(wsum > 0)) {
        snprintf(err, errlen, "dbl: every domain weight is 0, expected a distribution");
        return -1;
    }
    if (rule == DBL_RULE_CONSTANT) {
        memcpy(w_after, w_before, (size_t)k * sizeof(double));
        return 0;
    }
    if (!isfinite(eta) || eta < 0) {
        snprintf(err, errlen, "dbl: eta is %g, expected a finite number >= 0", eta);
        return -1;
    }
    if (!(c >= 0 && c <= 1)) {
        snprintf(err, errlen, "dbl: smoothing c is %g, expected a number in [0, 1]", c);
        return -1;
    }
    for (int i = 0; i < k; i++) {
        if (!isfinite(loss[i])) {
            snprintf(err, errlen, "dbl: eval loss of domain %d is %g, expected a finite number (the model diverged "
                     "or the domain has no eval tokens); the proportions are not updated", i, loss[i]);
            return -1;
        }
        if (!isfinite(ref[i])) {
            snprintf(err, errlen, "dbl: reference loss of domain %d is %g, expected a finite number", i, ref[i]);
            return -1;
        }
    }
    // z_i = log w_i + eta * delta_i [k]; a weight of 0 gives -inf and stays out of the softmax. Extreme but
    // finite losses can overflow delta or eta * delta: the step is clamped to +-1e300, far beyond the ~700
    // that already decides the softmax, so differences z_i - zmax stay finite.
    double z[DBL_MAX_DOMAINS];
    double zmax = -INFINITY;
    for (int i = 0; i < k; i++) {
        double delta = loss[i] - ref[i];
        if (rule == DBL_RULE_PAPER && delta < 0) delta = 0;
        double step = eta == 0 ? 0 : eta * delta;
        if (step > 1e300) step = 1e300;
        if (step < -1e300) step = -1e300;
        z[i] = w_before[i] == 0 ? -INFINITY : log(w_before[i]) + step;
        if (z[i] > zmax) zmax = z[i];
    }
    double sum = 0;
    for (int i = 0; i < k; i++) {
        w_after[i] = z[i] == -INFINITY ? 0.0 : exp(z[i] - zmax);
        sum += w_after[i];
    }
    // sum >= 1: the largest term is exp(0)
    double smooth_sum = 0;
    for (int i = 0; i < k; i++) {
        w_after[i] = (1 - c) * (w_after[i] / sum) + c / k;
        smooth_sum += w_after[i];
    }
    for (int i = 0; i < k; i++) w_after[i] /= smooth_sum;
    return 0;
}

// ---- scaling law ----

double dbl_scaling_eval(double a, double b, double c, double N) { return a * pow(N, -b) + c; }

typedef struct {
    double lnN, L;
} Point;

static int cmp_point(const void *x, const void *y) {
    double a = ((const Point *)x)->lnN, b = ((const Point *)y)->lnN;
    return a < b ? -1 : a > b;
}

// (L0 - L1) / (L1 - L2) of the law as a function of b, for log-spacings h and g
static double ratio_at(double b, double h, double g) { return expm1(b * h) / -expm1(-b * g); }

static int fit_exact3(const Point *p, double *a, double *b, double *c, char *err, size_t errlen) {
    if (!(p[0].L > p[1].L && p[1].L > p[2].L)) {
        snprintf(err, errlen, "scaling law: the losses %.6g, %.6g, %.6g (N = %.6g, %.6g, %.6g) do not fall as N "
                 "grows, so no a / N^b + c with a, b > 0 passes through them", p[0].L, p[1].L, p[2].L,
                 exp(p[0].lnN), exp(p[1].lnN), exp(p[2].lnN));
        return -1;
    }
    double h = p[1].lnN - p[0].lnN, g = p[2].lnN - p[1].lnN;
    double r = (p[0].L - p[1].L) / (p[1].L - p[2].L);
    if (!(r > h / g)) {
        snprintf(err, errlen, "scaling law: the losses %.6g, %.6g, %.6g (N = %.6g, %.6g, %.6g) fall at least "
                 "linearly in log N ((L0-L1)/(L1-L2) = %.6g <= %.6g), so no a / N^b + c with b > 0 passes "
                 "through them", p[0].L, p[1].L, p[2].L, exp(p[0].lnN), exp(p[1].lnN), exp(p[2].lnN), r, h / g);
        return -1;
    }
    // bracket: ratio(lo) < r <= ratio(hi); ratio grows like e^{bh}, so hi stays far below overflow
    double lo = 0, hi = 1;
    while (ratio_at(hi, h, g) < r) {
        lo = hi;
        hi *= 2;
        if (hi * h > 600) {
            snprintf(err, errlen, "scaling law: no exponent b below %.3g fits the ratio %.6g", hi, r);
            return -1;
        }
    }
    for (int it = 0; it < 2000; it++) {
        double mid = 0.5 * (lo + hi);
        if (mid <= lo || mid >= hi) break;
        if (ratio_at(mid, h, g) < r) lo = mid;
        else hi = mid;
    }
    double bb = 0.5 * (lo + hi);
    // a (N0^-b - N1^-b) = L0 - L1 with N0^-b - N1^-b = -N0^-b expm1(-b h)
    double x0 = exp(-bb * p[0].lnN);
    double aa = (p[0].L - p[1].L) / (x0 * -expm1(-bb * h));
    *a = aa;
    *b = bb;
    *c = p[0].L - aa * x0;
    return 0;
}

// Best (a, c) for a fixed b and its residual sum of squares. x_i = (N_i / N_min)^-b in (0, 1] keeps the
// 2x2 system well-conditioned; a is scaled back at the end.
static double ls_at(const Point *p, int n, double b, double *a, double *c) {
    double mx = 0, mL = 0;
    for (int i = 0; i < n; i++) {
        mx += exp(-b * (p[i].lnN - p[0].lnN));
        mL += p[i].L;
    }
    mx /= n;
    mL /= n;
    double sxx = 0, sxL = 0;
    for (int i = 0; i < n; i++) {
        double dx = exp(-b * (p[i].lnN - p[0].lnN)) - mx;
        sxx += dx * dx;
        sxL += dx * (p[i].L - mL);
    }
    double as = sxL / sxx;
    double rss = 0;
    for (int i = 0; i < n; i++) {
        double e = mL + as * (exp(-b * (p[i].lnN - p[0].lnN)) - mx) - p[i].L;
        rss += e * e;
    }
    *c = mL - as * mx;
    *a = as * exp(b * p[0].lnN);
    return rss;
}

#define LS_GRID 400
#define LS_BMIN 1e-4
#define LS_BMAX 4.0

static int fit_least_squares(const Point *p, int n, double *a, double *b, double *c, char *err, size_t errlen) {
    double lmin = log(LS_BMIN), lmax = log(LS_BMAX), ta, tc;
    int best = 0;
    double best_rss = INFINITY;
    for (int j = 0; j < LS_GRID; j++) {
        double rss = ls_at(p, n, exp(lmin + (lmax - lmin) * j / (LS_GRID - 1)), &ta, &tc);
        if (rss < best_rss) {
            best_rss = rss;
            best = j;
        }
    }
    if (best == 0 || best == LS_GRID - 1) {
        snprintf(err, errlen, "scaling law: the least-squares exponent b lies at the edge of [%g, %g]: the %d "
                 "losses do not follow a / N^b + c", LS_BMIN, LS_BMAX, n);
        return -1;
    }
    // golden-section search in log b over the two grid cells around the best point
    double lo = lmin + (lmax - lmin) * (best - 1) / (LS_GRID - 1);
    double hi = lmin + (lmax - lmin) * (best + 1) / (LS_GRID - 1);
    const double gr = 0.5 * (sqrt(5.0) - 1);
    double x1 = hi - gr * (hi - lo), x2 = lo + gr * (hi - lo);
    double f1 = ls_at(p, n, exp(x1), &ta, &tc), f2 = ls_at(p, n, exp(x2), &ta, &tc);
    for (int it = 0; it < 200 && hi - lo > 1e-15; it++) {
        if (f1 <= f2) {
            hi = x2; x2 = x1; f2 = f1;
            x1 = hi - gr * (hi - lo);
            f1 = ls_at(p, n, exp(x1), &ta, &tc);
        } else {
            lo = x1; x1 = x2; f1 = f2;
            x2 = lo + gr * (hi - lo);
            f2 = ls_at(p, n, exp(x2), &ta, &tc);
        }
    }
    double bb = exp(0.5 * (lo + hi));
    ls_at(p, n, bb, a, c);
    *b = bb;
    if (!(*a > 0)) {
        snprintf(err, errlen, "scaling law: the least-squares fit has a = %g <= 0: the %d losses do not fall as N "
                 "grows", *a, n);
        return -1;
    }
    return 0;
}

int dbl_scaling_fit(const double *N, const double *L, int n_points, double *a, double *b, double *c, char *err,
                    size_t errlen) {
    if (n_points < 3) {
        snprintf(err, errlen, "scaling law: %d points, the fit of a / N^b + c needs at least 3", n_points);
        return -1;
    }
    Point *p = shear_malloc((size_t)n_points * sizeof *p); // [n_points]
    int rc = 0;
    for (int i = 0; i < n_points && rc == 0; i++) {
        if (!(isfinite(N[i]) && N[i] > 0)) {
            snprintf(err, errlen, "scaling law: point %d has N = %g, expected a parameter count > 0", i, N[i]);
            rc = -1;
        } else if (!isfinite(L[i])) {
            snprintf(err, errlen, "scaling law: point %d has loss %g, expected a finite number", i, L[i]);
            rc = -1;
        }
        p[i].lnN = log(N[i]);
        p[i].L = L[i];
    }
    if (rc == 0) {
        qsort(p, (size_t)n_points, sizeof *p, cmp_point);
        for (int i = 1; i < n_points && rc == 0; i++)
            if (p[i].lnN == p[i - 1].lnN) {
                snprintf(err, errlen, "scaling law: N = %.6g appears twice, expected distinct model sizes",
                         exp(p[i].lnN));
                rc = -1;
            }
    }
    if (rc == 0)
        rc = n_points == 3 ? fit_exact3(p, a, b, c, err, errlen) : fit_least_squares(p, n_points, a, b, c, err, errlen);
    free(p);
    return rc;
}

int dbl_scaling_refs(const DblScalingTable *t, char names[][DBL_NAME_LEN], int k, double N, double *ref, char *err,
                     size_t errlen) {
    double *col = shear_malloc((size_t)t->n_models * sizeof(double)); // [n_models]
    int rc = 0;
    for (int i = 0; i < k && rc == 0; i++) {
        int j = 0;
        while (j < t->n_domains && strcmp(t->names[j], names[i]) != 0) j++;
        if (j == t->n_domains) {
            char cols[DBL_MAX_DOMAINS * (DBL_NAME_LEN + 2)] = "";
            for (int q = 0; q < t->n_domains; q++) {
                strcat(cols, q ? ", " : "");
                strcat(cols, t->names[q]);
            }
            snprintf(err, errlen, "%s: no column for domain '%s' (the columns are: %s)", t->path, names[i], cols);
            rc = -1;
            break;
        }
        for (int m = 0; m < t->n_models; m++) col[m] = t->loss[(size_t)m * t->n_domains + j];
        double a, b, c;
        char why[512];
        if (dbl_scaling_fit(t->params, col, t->n_models, &a, &b, &c, why, sizeof why)) {
            snprintf(err, errlen, "%s: domain '%s': %s", t->path, names[i], why);
            rc = -1;
        } else {
            ref[i] = dbl_scaling_eval(a, b, c, N);
        }
    }
    free(col);
    return rc;
}
