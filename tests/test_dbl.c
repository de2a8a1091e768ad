// Dynamic batch loading: both update rules against hand-computed values, proportions stay a distribution under
// extreme inputs, NaN/Inf are errors; the scaling law reproduces the spec's 1.3B and 2.7B reference rows from
// the 7B/13B/70B rows; the CSV reader's errors; the metrics record; the eval window rule.
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shear/dbl.h"
#include "shear/evaluate.h"
#include "shear/metrics.h"

#include "expect.h"

static void expect_vec(const char *what, const double *got, const double *want, int k, double tol) {
    for (int i = 0; i < k; i++)
        EXPECT(fabs(got[i] - want[i]) <= tol, "%s[%d] = %.15f, expected %.15f", what, i, got[i], want[i]);
}

// Sum 1 within 1e-12, every weight finite and >= c/k (up to the final renormalisation's rounding).
static void expect_distribution(const char *what, const double *w, int k, double c) {
    double sum = 0;
    for (int i = 0; i < k; i++) {
        EXPECT(isfinite(w[i]) && w[i] >= c / k * (1 - 1e-12), "%s: w[%d] = %g, expected finite and >= c/k = %g", what,
               i, w[i], c / k);
        sum += w[i];
    }
    EXPECT(fabs(sum - 1) <= 1e-12, "%s: weights sum to %.17g, expected 1", what, sum);
}

// Hand computation, w = (0.5, 0.3, 0.2), loss = (2.5, 1.0, 3.0), ref = (2.0, 1.5, 2.0): delta = (0.5, -0.5, 1.0).
//  paper, eta 1: clamp -> (0.5, 0, 1); w e^delta = (0.5 e^0.5, 0.3, 0.2 e) = (0.824360635350064, 0.3,
//    0.543656365691809), sum 1.668017001041873 -> w' = (0.494215967124528, 0.179854281948334, 0.325929750927138).
//    c = 0.1: w'' = 0.9 w' + 0.1/3 = (0.478127703745409, 0.195202187086834, 0.326670109167757) (sums to 1).
//  paper, eta 2: w e^{2 delta} = (0.5 e, 0.3, 0.2 e^2) = (1.359140914229523, 0.3, 1.477811219786130), sum
//    3.136952134015653 -> (0.433267979926002, 0.095634229399594, 0.471097790674404); c = 1e-4: 0.9999 w' + 1e-4/3
//    = (0.433257986461343, 0.095657999309988, 0.471084014228670).
//  code, eta 1: no clamp; 0.3 e^-0.5 = 0.181959197913790, sum 1.549976198955663 -> (0.531853738080300,
//    0.117394833569954, 0.350751428349746); c = 0.1 -> (0.512001697605603, 0.138988683546292, 0.349009618848105).
//  code, eta 2: 0.3 e^-1 = 0.110363832351433, sum 2.947315966367086 -> (0.461145302960111, 0.037445538113604,
//    0.501409158926285); c = 1e-4 -> (0.461132521763149, 0.037475126893126, 0.501392351343725).
static void test_rules_by_hand(void) {
    const double w[3] = {0.5, 0.3, 0.2}, loss[3] = {2.5, 1.0, 3.0}, ref[3] = {2.0, 1.5, 2.0};
    struct {
        int rule;
        double eta, c, want[3];
    } cases[] = {
        {DBL_RULE_PAPER, 1, 0, {0.494215967124528, 0.179854281948334, 0.325929750927138}},
        {DBL_RULE_PAPER, 1, 0.1, {0.478127703745409, 0.195202187086834, 0.326670109167757}},
        {DBL_RULE_PAPER, 2, 1e-4, {0.433257986461343, 0.095657999309988, 0.471084014228670}},
        {DBL_RULE_CODE, 1, 0, {0.531853738080300, 0.117394833569954, 0.350751428349746}},
        {DBL_RULE_CODE, 1, 0.1, {0.512001697605603, 0.138988683546292, 0.349009618848105}},
        {DBL_RULE_CODE, 2, 1e-4, {0.461132521763149, 0.037475126893126, 0.501392351343725}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double out[3];
        char err[256] = "", what[64];
        int rc = dbl_update(cases[i].rule, w, loss, ref, 3, cases[i].eta, cases[i].c, out, err, sizeof err);
        snprintf(what, sizeof what, "rule %d eta %g c %g", cases[i].rule, cases[i].eta, cases[i].c);
        EXPECT(rc == 0, "%s: error '%s'", what, err);
        expect_vec(what, out, cases[i].want, 3, 1e-14);
    }
    // constant: no update at all, loss and ref not read
    double out[3];
    char err[256];
    EXPECT(dbl_update(DBL_RULE_CONSTANT, w, NULL, NULL, 3, 1, 0.5, out, err, sizeof err) == 0, "constant: %s", err);
    expect_vec("constant", out, w, 3, 0);
    // rule names
    EXPECT(dbl_rule_parse("paper") == DBL_RULE_PAPER && dbl_rule_parse("code") == DBL_RULE_CODE &&
           dbl_rule_parse("constant") == DBL_RULE_CONSTANT && dbl_rule_parse("Paper") == -1, "dbl_rule_parse");
}

static void test_extremes(void) {
    const double c = 1e-4;
    double w[4] = {0.4, 0.3, 0.2, 0.1}, out[4];
    char err[256] = "";
    for (int rule = DBL_RULE_PAPER; rule <= DBL_RULE_CODE; rule++) {
        // huge: one domain far above its reference gets everything but the smoothing floor
        double huge[4] = {1e300, 2, 2, 2}, ref[4] = {2, 2, 2, 2};
        EXPECT(dbl_update(rule, w, huge, ref, 4, 1000, c, out, err, sizeof err) == 0, "huge: %s", err);
        expect_distribution("huge loss", out, 4, c);
        EXPECT(fabs(out[0] - (1 - c + c / 4)) < 1e-15 && fabs(out[1] - c / 4) < 1e-18, "huge: w = %.17g %.17g", out[0],
               out[1]);
        // the difference loss - ref overflows to inf
        double top[4] = {1.7e308, 1.7e308, 0, 0}, bottom[4] = {-1.7e308, 0, 0, 0};
        EXPECT(dbl_update(rule, w, top, bottom, 4, 1000, c, out, err, sizeof err) == 0, "overflow: %s", err);
        expect_distribution("overflowing delta", out, 4, c);
        // equal losses at the reference: weights unchanged up to smoothing
        double eq[4] = {3, 3, 3, 3}, want[4];
        EXPECT(dbl_update(rule, w, eq, eq, 4, 1, c, out, err, sizeof err) == 0, "equal: %s", err);
        for (int i = 0; i < 4; i++) want[i] = (1 - c) * w[i] + c / 4;
        expect_vec("equal losses", out, want, 4, 1e-15);
        // every loss below its reference: paper leaves the weights alone, code moves toward the least-below one
        double low[4] = {1, 1.5, 1.9, -5}, r2[4] = {2, 2, 2, 2};
        EXPECT(dbl_update(rule, w, low, r2, 4, 1, c, out, err, sizeof err) == 0, "below ref: %s", err);
        expect_distribution("losses below ref", out, 4, c);
        if (rule == DBL_RULE_PAPER) expect_vec("paper, losses below ref", out, want, 4, 1e-15);
        else EXPECT(out[2] > w[2] && out[3] < w[3], "code rule did not move toward domain 2: %g %g", out[2], out[3]);
        // extreme negatives with the code rule: one domain at -1e308 goes to the floor
        double neg[4] = {-1e308, 0, 0, 0};
        EXPECT(dbl_update(rule, w, neg, r2, 4, 1000, c, out, err, sizeof err) == 0, "very negative: %s", err);
        expect_distribution("very negative loss", out, 4, c);
        // a zero weight is revived only by the smoothing
        double wz[4] = {0, 0.5, 0.5, 0};
        EXPECT(dbl_update(rule, wz, huge, ref, 4, 1, c, out, err, sizeof err) == 0, "zero weight: %s", err);
        expect_distribution("zero weights", out, 4, c);
        EXPECT(fabs(out[0] - c / 4) < 1e-18 && fabs(out[3] - c / 4) < 1e-18, "zero weights got %g %g", out[0], out[3]);
    }
    // random sweep over extreme scales
    unsigned long long s = 12345;
    for (int trial = 0; trial < 2000; trial++) {
        double l[8], r[8], wr[8], o[8];
        int k = 1 + trial % 8;
        for (int i = 0; i < k; i++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            double u1 = (double)(s >> 11) / 9007199254740992.0;
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            double u2 = (double)(s >> 11) / 9007199254740992.0;
            l[i] = (u1 - 0.5) * pow(10, (int)(u2 * 616) - 308);
            r[i] = (u2 - 0.5) * pow(10, (int)(u1 * 20) - 5);
            wr[i] = pow(10, -30 * u1) * (trial % 3 == 0 && i == 0 ? 0 : 1);
        }
        if (k == 1) wr[0] = 1;
        double cc = (trial % 5) * 0.05, eta = trial % 7 == 0 ? 0 : pow(10, trial % 7 - 2);
        int rc = dbl_update(trial % 2 ? DBL_RULE_CODE : DBL_RULE_PAPER, wr, l, r, k, eta, cc, o, err, sizeof err);
        EXPECT(rc == 0, "random trial %d: %s", trial, err);
        char what[64];
        snprintf(what, sizeof what, "random trial %d", trial);
        if (rc == 0) expect_distribution(what, o, k, cc);
    }
}

static void expect_error(int rc, const char *err, const char *want, const char *what) {
    EXPECT(rc == -1, "%s: expected an error, got rc %d", what, rc);
    EXPECT(strstr(err, want) != NULL, "%s: message '%s' does not contain '%s'", what, err, want);
}

static void test_update_errors(void) {
    double w[3] = {0.5, 0.3, 0.2}, ref[3] = {2, 2, 2}, out[3] = {-7, -7, -7};
    char err[256];
    double nan_loss[3] = {2, NAN, 2}, inf_loss[3] = {2, 2, INFINITY}, neg_inf[3] = {-INFINITY, 2, 2};
    for (int rule = DBL_RULE_PAPER; rule <= DBL_RULE_CODE; rule++) {
        expect_error(dbl_update(rule, w, nan_loss, ref, 3, 1, 1e-4, out, err, sizeof err), err,
                     "eval loss of domain 1 is nan", "NaN loss");
        expect_error(dbl_update(rule, w, inf_loss, ref, 3, 1, 1e-4, out, err, sizeof err), err,
                     "eval loss of domain 2 is inf", "inf loss");
        expect_error(dbl_update(rule, w, neg_inf, ref, 3, 1, 1e-4, out, err, sizeof err), err,
                     "eval loss of domain 0 is -inf", "-inf loss");
        expect_error(dbl_update(rule, w, ref, nan_loss, 3, 1, 1e-4, out, err, sizeof err), err,
                     "reference loss of domain 1 is nan", "NaN ref");
    }
    EXPECT(out[0] == -7 && out[1] == -7 && out[2] == -7, "an update that failed wrote its output");
    double wneg[3] = {0.5, -0.1, 0.6}, wzero[3] = {0, 0, 0}, wnan[3] = {0.5, 0.5, NAN};
    expect_error(dbl_update(DBL_RULE_PAPER, wneg, ref, ref, 3, 1, 0, out, err, sizeof err), err,
                 "weight of domain 1 is -0.1", "negative weight");
    expect_error(dbl_update(DBL_RULE_PAPER, wnan, ref, ref, 3, 1, 0, out, err, sizeof err), err,
                 "weight of domain 2 is nan", "NaN weight");
    expect_error(dbl_update(DBL_RULE_CODE, wzero, ref, ref, 3, 1, 0, out, err, sizeof err), err, "every domain weight is 0",
                 "all-zero weights");
    expect_error(dbl_update(DBL_RULE_CODE, w, ref, ref, 3, -1, 0, out, err, sizeof err), err, "eta is -1", "eta < 0");
    expect_error(dbl_update(DBL_RULE_CODE, w, ref, ref, 3, 1, 1.5, out, err, sizeof err), err, "smoothing c is 1.5",
                 "c > 1");
    expect_error(dbl_update(DBL_RULE_CODE, w, ref, ref, 0, 1, 0, out, err, sizeof err), err, "0 domains", "k = 0");
}

// ---- scaling law: shearing.md section 5 ----
static const char *SPEC_DOMAINS[7] = {"cc", "github", "book", "stackexchange", "wiki", "arxiv", "c4"};
static const double SPEC_N[3] = {6738415616.0, 13015864320.0, 68976648192.0};
static const double SPEC_L[3][7] = {
    {1.7520, 0.6216, 1.9063, 1.4482, 1.4844, 1.2637, 1.9219}, // LLaMA2-7B
    {1.6680, 0.5791, 1.8242, 1.3936, 1.3945, 1.2109, 1.8486}, // LLaMA2-13B
    {1.4621, 0.4890, 1.6450, 1.2805, 1.2118, 1.1148, 1.6848}, // LLaMA2-70B
};
static const double SPEC_N_TARGET[2] = {1345423360.0, 2701560320.0};
static const double SPEC_REF[2][7] = {
    {1.9643, 0.7459, 2.1393, 1.6117, 1.7590, 1.4449, 2.1251}, // 1.3B
    {1.8712, 0.6883, 2.0325, 1.5353, 1.6297, 1.3560, 2.0328}, // 2.7B
};

// equal when rounded to 4 decimals, as the spec's table is
static int same_4dp(double x, double table) { return llround(x * 1e4) == llround(table * 1e4); }

static void test_scaling_spec(void) {
    char err[512];
    // through the fit directly, the points given in a shuffled order
    for (int j = 0; j < 7; j++) {
        double N[3] = {SPEC_N[2], SPEC_N[0], SPEC_N[1]}, L[3] = {SPEC_L[2][j], SPEC_L[0][j], SPEC_L[1][j]};
        double a, b, c;
        int rc = dbl_scaling_fit(N, L, 3, &a, &b, &c, err, sizeof err);
        EXPECT(rc == 0, "fit %s: %s", SPEC_DOMAINS[j], err);
        if (rc) continue;
        for (int i = 0; i < 3; i++)
            EXPECT(fabs(dbl_scaling_eval(a, b, c, N[i]) - L[i]) < 1e-12, "fit %s misses point %d: %.15f vs %.15f",
                   SPEC_DOMAINS[j], i, dbl_scaling_eval(a, b, c, N[i]), L[i]);
        for (int t = 0; t < 2; t++) {
            double v = dbl_scaling_eval(a, b, c, SPEC_N_TARGET[t]);
            EXPECT(same_4dp(v, SPEC_REF[t][j]), "%s at N = %.0f: %.6f, the spec's table says %.4f", SPEC_DOMAINS[j],
                   SPEC_N_TARGET[t], v, SPEC_REF[t][j]);
        }
        // least squares through the 3 points plus a 4th on the fitted curve finds the same law
        double N4[4] = {N[0], N[1], N[2], 3.0e10}, L4[4] = {L[0], L[1], L[2], dbl_scaling_eval(a, b, c, 3.0e10)};
        double a4, b4, c4;
        rc = dbl_scaling_fit(N4, L4, 4, &a4, &b4, &c4, err, sizeof err);
        EXPECT(rc == 0, "least squares %s: %s", SPEC_DOMAINS[j], err);
        for (int t = 0; t < 2 && rc == 0; t++) {
            double v = dbl_scaling_eval(a4, b4, c4, SPEC_N_TARGET[t]);
            EXPECT(same_4dp(v, SPEC_REF[t][j]) && fabs(b4 - b) < 1e-6 * b, "least squares %s at N = %.0f: %.6f (b %.9g "
                   "vs %.9g), the spec's table says %.4f", SPEC_DOMAINS[j], SPEC_N_TARGET[t], v, b4, b, SPEC_REF[t][j]);
        }
    }
    // the same through the CSV reader and dbl_scaling_refs (columns in another order than asked)
    char csv[2048];
    int len = snprintf(csv, sizeof csv, "# LLaMA-2 losses, shearing.md section 5\nparams");
    for (int j = 6; j >= 0; j--) len += snprintf(csv + len, sizeof csv - (size_t)len, ",%s", SPEC_DOMAINS[j]);
    for (int i = 0; i < 3; i++) {
        len += snprintf(csv + len, sizeof csv - (size_t)len, "\r\n%.0f", SPEC_N[i]);
        for (int j = 6; j >= 0; j--) len += snprintf(csv + len, sizeof csv - (size_t)len, ", %.4f", SPEC_L[i][j]);
    }
    snprintf(csv + len, sizeof csv - (size_t)len, "\n\n");
    DblScalingTable t;
    int rc = dbl_scaling_parse(&t, "spec.csv", csv, err, sizeof err);
    EXPECT(rc == 0 && t.n_models == 3 && t.n_domains == 7, "parse spec table: %s", err);
    if (rc) return;
    char names[7][DBL_NAME_LEN];
    for (int j = 0; j < 7; j++) snprintf(names[j], DBL_NAME_LEN, "%s", SPEC_DOMAINS[j]);
    for (int tg = 0; tg < 2; tg++) {
        double ref[7];
        rc = dbl_scaling_refs(&t, names, 7, SPEC_N_TARGET[tg], ref, err, sizeof err);
        EXPECT(rc == 0, "refs: %s", err);
        for (int j = 0; j < 7 && rc == 0; j++)
            EXPECT(same_4dp(ref[j], SPEC_REF[tg][j]), "refs %s at %.0f: %.6f, the spec's table says %.4f",
                   SPEC_DOMAINS[j], SPEC_N_TARGET[tg], ref[j], SPEC_REF[tg][j]);
        printf("scaling-law refs at N = %.0f:", SPEC_N_TARGET[tg]);
        for (int j = 0; j < 7 && rc == 0; j++) printf(" %s %.6f", SPEC_DOMAINS[j], ref[j]);
        printf("\n");
    }
    char missing[1][DBL_NAME_LEN] = {"pile"};
    double r1;
    expect_error(dbl_scaling_refs(&t, missing, 1, 1e9, &r1, err, sizeof err), err,
                 "spec.csv: no column for domain 'pile' (the columns are: c4, arxiv", "missing domain");
    dbl_scaling_free(&t);
}

static void test_scaling_least_squares(void) {
    // 6 points on a known law, with tiny alternating noise: the fit recovers it
    const double a0 = 400, b0 = 0.25, c0 = 1.3;
    double N[6], L[6], a, b, c;
    char err[512];
    for (int i = 0; i < 6; i++) {
        N[i] = 1e8 * pow(4, i);
        L[i] = a0 * pow(N[i], -b0) + c0 + (i % 2 ? 1e-9 : -1e-9);
    }
    int rc = dbl_scaling_fit(N, L, 6, &a, &b, &c, err, sizeof err);
    EXPECT(rc == 0, "least squares on a known law: %s", err);
    EXPECT(fabs(b - b0) < 1e-5 && fabs(c - c0) < 1e-5 && fabs(a / a0 - 1) < 1e-4,
           "least squares found a %.9g b %.9g c %.9g, expected %g %g %g", a, b, c, a0, b0, c0);
    // errors
    double n2[2] = {1e9, 2e9}, l2[2] = {2, 1.9};
    expect_error(dbl_scaling_fit(n2, l2, 2, &a, &b, &c, err, sizeof err), err, "needs at least 3", "2 points");
    double n3[3] = {1e9, 2e9, 4e9}, up[3] = {2, 2.1, 1.9}, lin[3] = {3, 2, 1}, dupN[3] = {1e9, 1e9, 4e9};
    expect_error(dbl_scaling_fit(n3, up, 3, &a, &b, &c, err, sizeof err), err, "do not fall as N grows", "rising");
    // equal log-spacing, equal drops: linear in log N, the b -> 0 limit, no power law
    expect_error(dbl_scaling_fit(n3, lin, 3, &a, &b, &c, err, sizeof err), err, "at least linearly in log N", "linear");
    expect_error(dbl_scaling_fit(dupN, lin, 3, &a, &b, &c, err, sizeof err), err, "appears twice", "duplicate N");
    double badN[3] = {1e9, -2e9, 4e9};
    expect_error(dbl_scaling_fit(badN, lin, 3, &a, &b, &c, err, sizeof err), err, "point 1 has N = -2e+09", "N < 0");
    double nanL[3] = {2, NAN, 1};
    expect_error(dbl_scaling_fit(n3, nanL, 3, &a, &b, &c, err, sizeof err), err, "point 1 has loss nan", "NaN loss");
    double n4[4] = {1e9, 2e9, 4e9, 8e9}, rising4[4] = {1, 1.1, 1.2, 1.3};
    expect_error(dbl_scaling_fit(n4, rising4, 4, &a, &b, &c, err, sizeof err), err, "scaling law:", "rising 4");
}

static void test_csv_errors(void) {
    struct {
        const char *text, *want;
    } cases[] = {
        {"", "bad.csv: empty"},
        {"# only a comment\n\n", "bad.csv: empty"},
        {"size,cc\n1e9,2\n", "bad.csv:1: column 1: expected the header 'params,<domain>,...', got 'size'"},
        {"params\n1e9\n", "bad.csv:1: expected 1 to 16 domain columns after 'params', got 0"},
        {"params,cc,,wiki\n", "bad.csv:1: column 3: expected a domain name"},
        {"params,cc,wiki,cc\n", "bad.csv:1: column 4: domain 'cc' repeats column 2"},
        {"params,cc,wiki\n1e9,2,1.5\n\n2e9,1.9\n", "bad.csv:4: expected 3 fields (params and 2 domains, as in the header), got 2"},
        {"params,cc,wiki\n1e9,2,1.5\n2e9,1.9,x1\n", "bad.csv:3: column 3 (wiki): expected a finite number, got 'x1'"},
        {"params,cc,wiki\n1e9,2,1.5\n2e9,nan,1\n", "bad.csv:3: column 2 (cc): expected a finite number, got 'nan'"},
        {"params,cc\n1e9,2\n0,1.9\n", "bad.csv:3: column 1 (params): expected a parameter count > 0, got '0'"},
        {"params,cc\n1e9,2\n1.3B,1.9\n", "bad.csv:3: column 1 (params): expected a parameter count > 0, got '1.3B'"},
        {"params,cc\n1e9,2\n2e9,1.9\n1000000000,1.8\n", "bad.csv:4: column 1 (params): 1000000000 repeats an earlier row"},
        {"params,cc\n1e9,2\n2e9,1.9\n", "bad.csv: 2 model rows, the scaling-law fit needs at least 3"},
        {"params,a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q\n", "bad.csv:1: expected 1 to 16 domain columns after 'params', got 17"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        DblScalingTable t;
        char err[512] = "";
        int rc = dbl_scaling_parse(&t, "bad.csv", cases[i].text, err, sizeof err);
        char what[32];
        snprintf(what, sizeof what, "csv case %zu", i);
        expect_error(rc, err, cases[i].want, what);
    }
    DblScalingTable t;
    char err[512];
    expect_error(dbl_scaling_read(&t, "/nonexistent/scaling.csv", err, sizeof err), err,
                 "dbl.scaling_file '/nonexistent/scaling.csv' does not exist", "missing file");
    // a file that parses, read from disk
    const char *path = "test_dbl_scaling.csv";
    FILE *f = fopen(path, "w");
    fputs("params,cc\n1e9,2.0\n4e9,1.8\n1.6e10,1.7\n", f);
    fclose(f);
    int rc = dbl_scaling_read(&t, path, err, sizeof err);
    EXPECT(rc == 0 && t.n_models == 3 && t.params[2] == 1.6e10 && t.loss[1] == 1.8, "read %s: %s", path, err);
    if (rc == 0) dbl_scaling_free(&t);
    remove(path);
}

static double json_get(const cJSON *o, const char *map, const char *name) {
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, map);
    const cJSON *v = m ? cJSON_GetObjectItemCaseSensitive(m, name) : NULL;
    return cJSON_IsNumber(v) ? v->valuedouble : (cJSON_IsNull(v) ? -999 : NAN);
}

static void test_record(void) {
    char names[3][DBL_NAME_LEN] = {"cc", "we\"ird\\name", "c4"};
    double loss[3] = {2.5, NAN, 1.0 / 3}, ref[3] = {2.0, 1.5, 0.1}, wb[3] = {0.5, 0.3, 0.2}, wa[3];
    wa[0] = 0.1 + 0.2; // not representable in few digits: must round-trip exactly
    wa[1] = 1e-300;
    wa[2] = 1 - wa[0] - wa[1];
    FILE *f = tmpfile();
    metrics_dbl(f, 150, 3, names, loss, NULL, ref, wb, wa);
    metrics_dbl(f, 151, 3, names, loss, NULL, NULL, wb, wa);
    long size = ftell(f);
    rewind(f);
    char *buf = calloc((size_t)size + 1, 1);
    size_t got = fread(buf, 1, (size_t)size, f);
    fclose(f);
    char *nl = strchr(buf, '\n');
    EXPECT(got == (size_t)size && nl && nl[1] && strchr(nl + 1, '\n') == buf + size - 1, "two JSONL lines expected");
    const char *head = "{\"event\":\"dbl\",\"step\":150,\"losses\":{\"cc\":2.5,\"we\\\"ird\\\\name\":null,";
    EXPECT(strncmp(buf, head, strlen(head)) == 0, "record starts '%.80s', expected '%s'", buf, head);
    *nl = 0;
    cJSON *o = cJSON_Parse(buf);
    EXPECT(o != NULL, "record is not JSON: %s", buf);
    if (o) {
        const char *keys[] = {"event", "step", "losses", "reference", "weights_before", "weights_after"};
        int i = 0;
        for (const cJSON *it = o->child; it; it = it->next, i++)
            EXPECT(i < 6 && strcmp(it->string, keys[i]) == 0, "key %d is '%s'", i, it->string);
        EXPECT(i == 6, "record has %d keys, expected 6", i);
        EXPECT(json_get(o, "losses", "c4") == loss[2] && json_get(o, "losses", "we\"ird\\name") == -999 &&
               json_get(o, "reference", "c4") == ref[2] && json_get(o, "weights_before", "cc") == wb[0] &&
               json_get(o, "weights_after", "cc") == wa[0] && json_get(o, "weights_after", "we\"ird\\name") == wa[1] &&
               json_get(o, "weights_after", "c4") == wa[2], "record values do not round-trip: %s", buf);
        cJSON_Delete(o);
    }
    cJSON *o2 = cJSON_Parse(nl + 1);
    EXPECT(o2 && json_get(o2, "reference", "cc") == -999 && json_get(o2, "losses", "cc") == 2.5,
           "record without reference: %s", nl + 1);
    cJSON_Delete(o2);
    free(buf);
}

static void test_window_plan(void) {
    struct {
        size_t n;
        int T;
        size_t windows;
        int len;
    } cases[] = {
        {10, 4, 2, 4}, // 4 + 4, the trailing 2 dropped
        {8, 4, 2, 4},  // exact
        {4, 4, 1, 4},
        {3, 4, 1, 3},  // the only window is partial: kept
        {2, 100, 1, 2},
        {1, 4, 0, 0},  // BOS alone: nothing to predict
        {0, 4, 0, 0},
        {1000003, 512, 1953, 512},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int len = -1;
        size_t w = eval_window_plan(cases[i].n, cases[i].T, &len);
        EXPECT(w == cases[i].windows && len == cases[i].len, "window plan n=%zu T=%d: %zu windows of %d, expected %zu "
               "of %d", cases[i].n, cases[i].T, w, len, cases[i].windows, cases[i].len);
    }
}

int main(void) {
    test_rules_by_hand();
    test_extremes();
    test_update_errors();
    test_scaling_spec();
    test_scaling_least_squares();
    test_csv_errors();
    test_record();
    test_window_plan();
    printf("test_dbl: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
