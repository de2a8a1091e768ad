// The masks' host math and sampling (src/masks.c, kernels/cpu/cpu_masks.c) against values worked out by hand
// from shared/spec/shearing.md sections 2-3, closed forms, direct counts and statistics at a fixed seed.
// Closed forms used: s(a) = sigmoid(a + (2/3) ln 11) = 1 / (1 + 11^(-2/3) e^(-a)); P(z = 0) = Q0(a) = 1 - s(a);
// P(z = 1) = P(1.2 y - 0.1 >= 1) = P(logit u >= (2/3) ln 11 - a) = sigmoid(a - (2/3) ln 11).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shear/hardconcrete.h"
#include "shear/masks.h"

static const ShearOps *ops;
static int passed, failed;

static void check(const char *what, double err, double tol) {
    int ok = err <= tol; // NaN fails
    printf("%s %-60s err %.3e (tol %.1e)\n", ok ? "PASS" : "FAIL", what, err, tol);
    if (ok) passed++;
    else failed++;
}

static void check_true(const char *what, int cond) { check(what, cond ? 0.0 : 1.0, 0.0); }

static ModelConfig cfg(int d, int L, int H, int Hkv, int hd, int I) {
    ModelConfig c = {.dim = d, .n_layers = L, .n_heads = H, .n_kv_heads = Hkv, .head_dim = hd, .intermediate = I,
                     .vocab = 64, .rope = {.theta = 10000.0f}, .norm_eps = 1e-5f};
    return c;
}

// masks_create from a space-separated list of names; dies on an unexpected error
static int make(Masks *m, const ModelConfig *src, const ModelConfig *tgt, const char *list, char *err, size_t n) {
    char names[MASK_TYPES + 2][32];
    int k = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *t = strtok(buf, " "); t && k < MASK_TYPES + 2; t = strtok(NULL, " ")) snprintf(names[k++], 32, "%s", t);
    return masks_create(m, ops, src, tgt, names, k, err, n);
}

static void make_ok(Masks *m, const ModelConfig *src, const ModelConfig *tgt, const char *list) {
    char err[512];
    if (make(m, src, tgt, list, err, sizeof err)) {
        fprintf(stderr, "masks_create failed unexpectedly: %s\n", err);
        exit(1);
    }
}

static void set_type(Masks *m, MaskType t, const float *host) {
    ops->upload(m->log_alpha + m->offset[t], host, (size_t)m->rows[t] * m->cols[t] * sizeof(float));
}

// ---------------- scores, sparsity, clamping ----------------

static void test_scores(void) {
    const double c = pow(11.0, -2.0 / 3.0);
    const double a[] = {0.0, 1.0, -1.0, log(100.0), log(0.01)};
    const double hand[] = {0.8318221839916905, 0.9307712206016908, 0.6453352217131145, 0.9979822793454497,
                           0.04712979362783181}; // 1 / (1 + 11^(-2/3) e^(-a)), evaluated by hand (Python)
    double err = 0.0, err_closed = 0.0;
    for (int i = 0; i < 5; i++) {
        err = fmax(err, fabs(hc_score(a[i]) - hand[i]));
        err_closed = fmax(err_closed, fabs(hc_score(a[i]) - 1.0 / (1.0 + c * exp(-a[i]))));
    }
    check("s(a) at 0, 1, -1, ln 100, ln 0.01 (hand values)", err, 1e-15);
    check("s(a) = 1 / (1 + 11^(-2/3) e^-a) (closed form)", err_closed, 1e-15);
    // beyond the score clamp: Q0 is held in [eps, 1-eps] and its gradient is 0
    check("s(40) = 1 - 1e-6 (Q0 clamped at eps)", fabs(hc_score(40.0) - (1.0 - 1e-6)), 1e-16);
    check("s(-40) = 1e-6 (Q0 clamped at 1 - eps)", fabs(hc_score(-40.0) - 1e-6), 1e-16);
    check("ds/da = 0 where Q0 is clamped", fabs(hc_dscore(40.0)) + fabs(hc_dscore(-40.0)), 0.0);
    double h = 1e-6, fd = (hc_score(0.7 + h) - hc_score(0.7 - h)) / (2 * h);
    check("ds/da at 0.7 vs central difference", fabs(hc_dscore(0.7) - fd) / fd, 1e-8);
    // soft value of the deterministic mask: sigmoid(a / (2/3) * 0.8) = sigmoid(1.2 a)
    check("soft(a) = sigmoid(1.2 a)", fabs(hc_soft(2.0) - 1.0 / (1.0 + exp(-2.4))), 1e-15);

    // expected sparsity of a row and clamping, through Masks: hidden [1, 4]
    ModelConfig src = cfg(4, 1, 1, 1, 4, 4), tgt = src;
    tgt.dim = 2;
    Masks m;
    make_ok(&m, &src, &tgt, "hidden");
    float la[4] = {7.0f, -9.0f, 0.0f, 1.0f}, back[4];
    set_type(&m, MASK_HIDDEN, la);
    masks_clamp(&m);
    masks_download(&m, MASK_HIDDEN, m.log_alpha, back);
    check_true("clamp: 7 -> ln 100, -9 -> ln 0.01, inside unchanged",
               back[0] == (float)log(100.0) && back[1] == (float)log(0.01) && back[2] == 0.0f && back[3] == 1.0f);
    MaskStats st;
    masks_lagrangian(&m, 10, 10, 0.0, &st);
    double sh = 1.0 - (hand[3] + hand[4] + hand[0] + hand[1]) / 4.0;
    check("expected sparsity of [ln100, ln0.01, 0, 1] (hand)", fabs(st.expected_sparsity[MASK_HIDDEN] - sh), 1e-7);
    check("target sparsity 1 - 2/4 after warm-up", fabs(st.target_sparsity[MASK_HIDDEN] - 0.5), 0.0);
    masks_free(&m);
}

// ---------------- deterministic masks ----------------

static void test_deterministic(void) {
    // intermediate [2, 5], target 3 kept per row
    ModelConfig src = cfg(4, 2, 1, 1, 4, 5), tgt = src;
    tgt.intermediate = 3;
    Masks m;
    make_ok(&m, &src, &tgt, "intermediate");
    // row 0: distinct values; row 1: a tie straddling the cut (1, 0, 0, 2, 3 -> drop 2 of the values 0)
    float la[10] = {0.5f, -1.0f, 2.0f, -2.0f, 3.0f, 1.0f, 0.0f, 0.0f, 2.0f, 3.0f}, z[10];
    set_type(&m, MASK_INTERMEDIATE, la);
    masks_deterministic(&m, 1);
    masks_download(&m, MASK_INTERMEDIATE, m.z, z);
    int zeros_ok = z[1] == 0.0f && z[3] == 0.0f && z[6] == 0.0f && z[7] == 0.0f;
    double err = 0.0;
    for (int i = 0; i < 10; i++)
        if (z[i] != 0.0f) err = fmax(err, fabs(z[i] - 1.0 / (1.0 + exp(-1.2 * la[i]))));
    check_true("exact target: the 2 smallest per row are 0", zeros_ok);
    check("exact target: kept gates hold sigmoid(1.2 a)", err, 1e-7);
    int kept0 = 0, kept1 = 0;
    for (int i = 0; i < 5; i++) kept0 += z[i] != 0.0f, kept1 += z[5 + i] != 0.0f;
    check_true("exact target: exactly 3 kept in each row", kept0 == 3 && kept1 == 3);

    // a tie at the cut: row (1, 0, 0, 2, 3) with target 4 drops one 0: the higher index
    float la2[10] = {0.5f, -1.0f, 2.0f, -2.0f, 3.0f, 1.0f, 0.0f, 0.0f, 2.0f, 3.0f};
    Masks m4;
    tgt.intermediate = 4;
    make_ok(&m4, &src, &tgt, "intermediate");
    set_type(&m4, MASK_INTERMEDIATE, la2);
    masks_deterministic(&m4, 1);
    masks_download(&m4, MASK_INTERMEDIATE, m4.z, z);
    check_true("tie at the cut: the higher index goes (index 7, not 6)", z[6] != 0.0f && z[7] == 0.0f && z[3] == 0.0f);
    // all equal: the lowest indices are kept
    float eq[10] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    set_type(&m4, MASK_INTERMEDIATE, eq);
    masks_deterministic(&m4, 1);
    masks_download(&m4, MASK_INTERMEDIATE, m4.z, z);
    check_true("all equal: indices 0..3 kept, 4 dropped", z[0] != 0 && z[3] != 0 && z[4] == 0 && z[9] == 0);
    // unclamped log-alphas (as the optimizer step leaves them) give the clamped soft value sigmoid(1.2 ln 100)
    float big[10] = {7, 7, 7, 7, 7, -7, -7, -7, -7, -7};
    set_type(&m4, MASK_INTERMEDIATE, big);
    masks_deterministic(&m4, 1);
    masks_download(&m4, MASK_INTERMEDIATE, m4.z, z);
    check("log-alpha 7 -> soft value sigmoid(1.2 ln 100) = 0.996 (clamped first)",
          fabs(z[0] - 1.0 / (1.0 + exp(-1.2 * log(100.0)))), 1e-7);
    check("log-alpha -7 -> soft value sigmoid(1.2 ln 0.01)", fabs(z[5] - 1.0 / (1.0 + exp(1.2 * log(100.0)))), 1e-7);
    masks_free(&m4);

    // expected-zeros variant: k = round(N - sum s(a))
    // row 0 (-4.6, -4.6, 4.6, 4.6, 4.6): N - sum s = 2 (1 - 0.04713) + 3 (0.00202) = 1.9118 -> k = 2
    // row 1 (0, 0, 0, 0, 0): 5 (1 - 0.83182) = 0.8409 -> k = 1 (the tie rule drops index 4)
    float lo = (float)log(0.01), hi = (float)log(100.0);
    float la3[10] = {lo, lo, hi, hi, hi, 0, 0, 0, 0, 0};
    set_type(&m, MASK_INTERMEDIATE, la3);
    masks_deterministic(&m, 0);
    masks_download(&m, MASK_INTERMEDIATE, m.z, z);
    check_true("expected zeros: row 0 drops 2 (1.91 rounds to 2)", z[0] == 0 && z[1] == 0 && z[2] != 0 && z[4] != 0);
    check_true("expected zeros: row 1 drops 1 (0.84 rounds to 1), index 4",
               z[5] != 0 && z[8] != 0 && z[9] == 0.0f);
    // 4 gates at ln 100: 4 x 0.00202 = 0.008 expected zeros -> none dropped
    float la4[10] = {hi, hi, hi, hi, hi, 3, 3, 3, 3, 3};
    set_type(&m, MASK_INTERMEDIATE, la4);
    masks_deterministic(&m, 0);
    masks_download(&m, MASK_INTERMEDIATE, m.z, z);
    int nz = 0;
    for (int i = 0; i < 10; i++) nz += z[i] == 0.0f;
    check_true("expected zeros: confident rows drop nothing", nz == 0);
    masks_free(&m);
}

// ---------------- expected parameter count ----------------

// Sum of the numel of every q, k, v, o, gate, up, down tensor of a shape: the prunable parameters counted one
// tensor at a time from the model's own parameter table.
static double direct_count(const ModelConfig *c) {
    ParamTable t;
    param_table_build(&t, c);
    double n = 0;
    for (int i = 0; i < t.n; i++) {
        ParamKind k = t.p[i].kind;
        if (k == P_Q || k == P_K || k == P_V || k == P_O || k == P_GATE || k == P_UP || k == P_DOWN) n += t.p[i].numel;
    }
    param_table_free(&t);
    return n;
}

// Scores of exactly 0 or 1 describing the target shape (first kept per row), in the buffer layout.
static void binary_scores(const Masks *m, double *s) {
    for (int t = 0; t < MASK_TYPES; t++) {
        if (!m->on[t]) continue;
        for (int r = 0; r < m->rows[t]; r++)
            for (int i = 0; i < m->cols[t]; i++) s[m->offset[t] + (size_t)r * m->cols[t] + i] = i < m->target[t];
    }
}

static void test_expected_params(void) {
    struct { const char *name, *masks; ModelConfig src, tgt; } cases[4];
    cases[0].name = "MHA";
    cases[0].masks = "layer head intermediate hidden";
    cases[0].src = cfg(48, 3, 4, 4, 12, 100);
    cases[0].tgt = cfg(32, 2, 2, 2, 12, 60);
    cases[1].name = "GQA (3 heads per group)";
    cases[1].masks = "layer head intermediate hidden";
    cases[1].src = cfg(40, 4, 6, 2, 24, 70);
    cases[1].tgt = cfg(24, 3, 3, 1, 24, 50);
    cases[2].name = "GQA, CoFi pair";
    cases[2].masks = "head_layer mlp head intermediate hidden";
    cases[2].src = cfg(40, 4, 6, 2, 24, 70);
    cases[2].tgt = cfg(24, 2, 3, 1, 24, 50);
    cases[3].name = "GQA, heads and MLP only";
    cases[3].masks = "head intermediate";
    cases[3].src = cfg(72, 3, 6, 3, 12, 96);
    cases[3].tgt = cfg(72, 3, 4, 2, 12, 64);
    char what[160];
    for (int k = 0; k < 4; k++) {
        Masks m;
        make_ok(&m, &cases[k].src, &cases[k].tgt, cases[k].masks);
        double *s = malloc(m.total * sizeof(double));
        for (size_t i = 0; i < m.total; i++) s[i] = 1.0;
        snprintf(what, sizeof what, "%s: E[params] at all scores 1 == source count", cases[k].name);
        double full = direct_count(&cases[k].src);
        check(what, fabs(masks_expected_params(&m, s) - full) / full, 1e-15);
        check("masks_prunable_params == direct count", fabs(masks_prunable_params(&cases[k].src) - full) / full, 1e-15);
        binary_scores(&m, s);
        snprintf(what, sizeof what, "%s: E[params] at the target's 0/1 scores == target count", cases[k].name);
        double tc = direct_count(&cases[k].tgt);
        check(what, fabs(masks_expected_params(&m, s) - tc) / tc, 1e-15);
        if (k == 0) { // the spec's MHA formula: (sum s_hidden) ((4d/H) sum s_layer s_head + 3 sum s_layer s_int)
            for (size_t i = 0; i < m.total; i++) s[i] = 0.05 + 0.9 * rng_uniform(3, 99, i);
            const ModelConfig *c = &cases[k].src;
            double hid = 0, heads = 0, ints = 0;
            for (int j = 0; j < c->dim; j++) hid += s[m.offset[MASK_HIDDEN] + j];
            for (int l = 0; l < c->n_layers; l++) {
                double sl = s[m.offset[MASK_LAYER] + l];
                for (int h = 0; h < c->n_heads; h++) heads += sl * s[m.offset[MASK_HEAD] + l * c->n_heads + h];
                for (int i = 0; i < c->intermediate; i++)
                    ints += sl * s[m.offset[MASK_INTERMEDIATE] + (size_t)l * c->intermediate + i];
            }
            double spec = hid * (4.0 * c->dim / c->n_heads * heads + 3.0 * ints);
            check("MHA: E[params] == the spec's formula at random scores",
                  fabs(masks_expected_params(&m, s) - spec) / spec, 1e-13);
        }
        free(s);
        masks_free(&m);
    }
}

// ---------------- target validation ----------------

static void expect_error(const char *what, const ModelConfig *src, const ModelConfig *tgt, const char *list,
                         const char *needle1, const char *needle2) {
    char err[512] = "";
    Masks m;
    int rc = make(&m, src, tgt, list, err, sizeof err);
    int ok = rc == -1 && strstr(err, needle1) && (!needle2 || strstr(err, needle2));
    char line[200];
    snprintf(line, sizeof line, "rejects %s", what);
    check_true(line, ok);
    if (!ok) printf("     rc %d, message: %s\n", rc, err);
    else printf("     message: %s\n", err);
    if (rc == 0) masks_free(&m);
}

static void test_validation(void) {
    const ModelConfig src = cfg(48, 4, 8, 2, 12, 100); // GQA: 4 query heads per KV group
    const char *all = "layer head intermediate hidden";
    ModelConfig t = cfg(32, 3, 4, 1, 12, 60);
    Masks m;
    char err[512];
    check_true("accepts a feasible GQA target", make(&m, &src, &t, all, err, sizeof err) == 0);
    if (m.ops) {
        check_true("layout: layer 1x4, head 4x2 keep 1, intermediate 4x100 keep 60, hidden 1x48 keep 32",
                   m.rows[MASK_LAYER] == 1 && m.cols[MASK_LAYER] == 4 && m.target[MASK_LAYER] == 3 &&
                   m.rows[MASK_HEAD] == 4 && m.cols[MASK_HEAD] == 2 && m.target[MASK_HEAD] == 1 &&
                   m.cols[MASK_INTERMEDIATE] == 100 && m.target[MASK_INTERMEDIATE] == 60 &&
                   m.cols[MASK_HIDDEN] == 48 && m.target[MASK_HIDDEN] == 32 &&
                   m.total == 4 + 8 + 400 + 48 && m.offset[MASK_HEAD] == 4 && m.offset[MASK_HIDDEN] == 412);
        ModelGates g;
        memset(&g, 0xff, sizeof g);
        masks_gates(&m, &g);
        check_true("masks_gates: learned types point into z/dz, the others are NULL",
                   g.layer == m.z && g.d_layer == m.dz && g.head == m.z + 4 && g.hidden == m.z + 412 &&
                   !g.head_layer && !g.d_head_layer && !g.mlp && !g.d_mlp);
        masks_free(&m);
    }
    ModelConfig b;
    b = t; b.dim = 64;
    expect_error("dim above the source's", &src, &b, all, "prune.target_dim", "1..48");
    b = t; b.dim = 0;
    expect_error("dim 0", &src, &b, all, "prune.target_dim", NULL);
    b = t;
    expect_error("dim change without the hidden mask", &src, &b, "layer head intermediate", "prune.target_dim",
                 "hidden");
    b = t; b.n_heads = 6; b.n_kv_heads = 1;
    expect_error("heads not a multiple of the GQA group", &src, &b, all, "prune.target_n_heads", "group size 4");
    b = t; b.n_heads = 12; b.n_kv_heads = 3;
    expect_error("heads above the source's", &src, &b, all, "prune.target_n_heads", NULL);
    b = t; b.dim = 48;
    expect_error("head change without the head mask", &src, &b, "layer intermediate hidden", "prune.target_n_heads",
                 "head");
    b = t; b.n_kv_heads = 2;
    expect_error("n_kv_heads not n_heads / group size", &src, &b, all, "n_kv_heads", "must be 1");
    b = t; b.intermediate = 101;
    expect_error("intermediate above the source's", &src, &b, all, "prune.target_intermediate", NULL);
    expect_error("intermediate change without its mask", &src, &t, "layer head hidden",
                 "prune.target_intermediate", "intermediate");
    b = t; b.n_layers = 0;
    expect_error("0 layers", &src, &b, all, "prune.target_n_layers", NULL);
    expect_error("layer change without a layer mask", &src, &t, "head intermediate hidden", "prune.target_n_layers",
                 NULL);
    expect_error("layer change with head_layer but not mlp", &src, &t, "head_layer head intermediate hidden",
                 "prune.target_n_layers", NULL);
    b = t; b.head_dim = 8;
    expect_error("head_dim change", &src, &b, all, "head_dim", NULL);
    b = t; b.vocab = 100;
    expect_error("vocab change", &src, &b, all, "vocab", NULL);
    expect_error("an unknown mask name", &src, &t, "layer head intermediate hidden heads", "prune.masks", "'heads'");
    expect_error("a mask listed twice", &src, &t, "layer head intermediate hidden head", "prune.masks", "twice");
    expect_error("layer together with mlp", &src, &t, "layer mlp head intermediate hidden", "prune.masks", "layer");
    expect_error("an empty mask list", &src, &t, "", "prune.masks", "empty");
    ModelConfig bad = src;
    bad.n_kv_heads = 3;
    expect_error("a bad source shape", &bad, &t, all, "source model", "n_kv_heads");
    // CoFi pair with both branches may drop layers
    check_true("accepts a layer change with head_layer and mlp",
               make(&m, &src, &t, "head_layer mlp head intermediate hidden", err, sizeof err) == 0);
    if (m.ops) masks_free(&m);
}

// ---------------- sampling ----------------

// E[z] for a given a by the midpoint rule over u (z is a function of u; 2e5 points, error far below the test's)
static double mean_z_exact(double a) {
    const int n = 200000;
    double s = 0.0;
    for (int i = 0; i < n; i++) s += hc_z(hc_y((i + 0.5) / n, a));
    return s / n;
}

static void test_sample_stats(void) {
    // intermediate [4, 4096]: row r holds one value a_r for every gate; 50 micro-batches -> 204800 draws per a
    const double avals[4] = {-2.0, 0.0, 1.5, log(100.0)};
    ModelConfig src = cfg(8, 4, 1, 1, 8, 4096), tgt = src;
    Masks m;
    make_ok(&m, &src, &tgt, "intermediate");
    const int I = 4096, MB = 50;
    float *la = malloc(4 * I * sizeof(float)), *z = malloc(4 * I * sizeof(float));
    for (int r = 0; r < 4; r++)
        for (int i = 0; i < I; i++) la[r * I + i] = (float)avals[r];
    set_type(&m, MASK_INTERMEDIATE, la);
    double n0[4] = {0}, n1[4] = {0}, sum[4] = {0};
    for (int mb = 0; mb < MB; mb++) {
        masks_sample(&m, 2024, 7, (uint64_t)mb);
        masks_download(&m, MASK_INTERMEDIATE, m.z, z);
        for (int r = 0; r < 4; r++)
            for (int i = 0; i < I; i++) {
                float v = z[r * I + i];
                n0[r] += v == 0.0f;
                n1[r] += v == 1.0f;
                sum[r] += v;
            }
    }
    const double n = (double)I * MB, bl = HC_BETA * log(11.0);
    char what[160];
    for (int r = 0; r < 4; r++) {
        double a = (float)avals[r];
        double p0 = 1.0 - hc_score(a), p1 = 1.0 / (1.0 + exp(-(a - bl))), mz = mean_z_exact(a);
        // 5 standard errors of the estimate: at a fixed seed the test is deterministic, the bound says the
        // sampler is right to within what 204800 draws can tell
        double t0 = 5 * sqrt(p0 * (1 - p0) / n), t1 = 5 * sqrt(p1 * (1 - p1) / n), tz = 5 * 0.5 / sqrt(n);
        snprintf(what, sizeof what, "a=%+.3f: P(z=0) %.4f vs Q0(a) %.4f", a, n0[r] / n, p0);
        check(what, fabs(n0[r] / n - p0), t0);
        snprintf(what, sizeof what, "a=%+.3f: P(z=1) %.4f vs sigmoid(a - (2/3)ln 11) %.4f", a, n1[r] / n, p1);
        check(what, fabs(n1[r] / n - p1), t1);
        snprintf(what, sizeof what, "a=%+.3f: P(z>0) %.4f vs keep probability s(a) %.4f", a, 1 - n0[r] / n,
                 hc_score(a));
        check(what, fabs((1 - n0[r] / n) - hc_score(a)), t0);
        snprintf(what, sizeof what, "a=%+.3f: mean z %.4f vs E[z] by quadrature %.4f", a, sum[r] / n, mz);
        check(what, fabs(sum[r] / n - mz), tz);
    }
    free(la);
    free(z);
    masks_free(&m);
}

static void test_sample_coordinates(void) {
    ModelConfig src = cfg(16, 2, 4, 4, 4, 32), tgt = src;
    Masks m;
    make_ok(&m, &src, &tgt, "layer head intermediate hidden");
    masks_init_log_alpha(&m, 9, 1.0, 1.5);
    masks_clamp(&m);
    size_t n = m.total;
    float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float)), *c = malloc(n * sizeof(float));
    // (step 3, mb 1) first, then after other samples
    masks_sample(&m, 77, 3, 1);
    ops->download(a, m.z, n * sizeof(float));
    masks_sample(&m, 77, 4, 0);
    masks_sample(&m, 77, 3, 2);
    ops->download(c, m.z, n * sizeof(float));
    masks_sample(&m, 77, 3, 1);
    ops->download(b, m.z, n * sizeof(float));
    check_true("same (seed, step, micro-batch) -> same z in any call order", memcmp(a, b, n * sizeof(float)) == 0);
    int differ = 0;
    for (size_t i = 0; i < n; i++) differ += a[i] != c[i];
    check_true("another micro-batch -> another z (most gates differ)", differ > (int)n / 2);
    check_true("counter layout: ((step << 20) | mb) << 24",
               masks_counter0(3, 1) == ((((uint64_t)3 << 20) | 1) << 24) && masks_counter0(0, 0) == 0);
    // the sample is the kernel's formula on the documented counters, gate by gate
    float *la = malloc(n * sizeof(float));
    ops->download(la, m.log_alpha, n * sizeof(float));
    double err = 0.0;
    for (size_t i = 0; i < n; i++)
        err = fmax(err, fabs(a[i] - (float)hc_z(hc_y(hc_uniform(77, masks_counter0(3, 1) + i), la[i]))));
    check("z[i] = hc_z(hc_y(u(counter0 + i), a[i]))", err, 0.0);

    // backward: grad += dz * dz/da; compare with central differences of z in a (same u), for gates inside (0,1)
    float *dz = malloc(n * sizeof(float)), *g = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) dz[i] = (float)(0.5 + rng_uniform(5, 5, i));
    masks_zero_grad(&m);
    ops->upload(m.dz, dz, n * sizeof(float));
    masks_backward_sample(&m, 77, 3, 1);
    ops->upload(m.dz, dz, n * sizeof(float));
    masks_backward_sample(&m, 77, 3, 1); // a second call adds
    ops->download(g, m.grad, n * sizeof(float));
    double num = 0.0, den = 0.0;
    int interior = 0, zero_ok = 1;
    for (size_t i = 0; i < n; i++) {
        double u = hc_uniform(77, masks_counter0(3, 1) + i), h = 1e-5;
        double zp = hc_z(hc_y(u, la[i] + h)), zm = hc_z(hc_y(u, la[i] - h)), z0 = hc_z(hc_y(u, la[i]));
        if (z0 > 1e-3 && z0 < 1 - 1e-3) {
            double fd = 2.0 * dz[i] * (zp - zm) / (2 * h);
            num = fmax(num, fabs(g[i] - fd));
            den = fmax(den, fabs(fd));
            interior++;
        } else if ((z0 == 0.0 || z0 == 1.0) && g[i] != 0.0f) {
            zero_ok = 0;
        }
    }
    char what[160];
    snprintf(what, sizeof what, "backward (called twice: adds) vs central differences, %d gates in (0,1)", interior);
    check(what, num / den, 1e-6);
    check_true("no gradient through gates at exactly 0 or 1", zero_ok);
    ops->download(dz, m.dz, n * sizeof(float));
    int dz_zero = 1;
    for (size_t i = 0; i < n; i++) dz_zero &= dz[i] == 0.0f;
    check_true("dz is zeroed after the backward", dz_zero);
    free(a); free(b); free(c); free(la); free(dz); free(g);
    masks_free(&m);

    // log-alpha init: N(mean, std), and a type's values do not depend on which other types are learned
    Masks m1, m2;
    make_ok(&m1, &src, &tgt, "intermediate");
    make_ok(&m2, &src, &tgt, "layer head intermediate hidden");
    masks_init_log_alpha(&m1, 5, 5.0, 0.01);
    masks_init_log_alpha(&m2, 5, 5.0, 0.01);
    size_t ni = (size_t)m1.rows[MASK_INTERMEDIATE] * m1.cols[MASK_INTERMEDIATE];
    float *x1 = malloc(ni * sizeof(float)), *x2 = malloc(ni * sizeof(float));
    masks_download(&m1, MASK_INTERMEDIATE, m1.log_alpha, x1);
    masks_download(&m2, MASK_INTERMEDIATE, m2.log_alpha, x2);
    check_true("init of a type is independent of the other learned types", memcmp(x1, x2, ni * sizeof(float)) == 0);
    double mean = 0, var = 0;
    for (size_t i = 0; i < ni; i++) mean += x1[i];
    mean /= ni;
    for (size_t i = 0; i < ni; i++) var += (x1[i] - mean) * (x1[i] - mean);
    var /= ni - 1;
    check("init mean 5 (64 draws, 5 standard errors)", fabs(mean - 5.0), 5 * 0.01 / 8);
    check("init std 0.01", fabs(sqrt(var) - 0.01), 0.004);
    free(x1); free(x2);
    masks_free(&m1);
    masks_free(&m2);
}

// ---------------- Lagrangian and optimizer ----------------

static double lag_at(Masks *m, const float *la, int step, int total, double frac) {
    ops->upload(m->log_alpha, la, m->total * sizeof(float));
    return masks_lagrangian(m, step, total, frac, NULL);
}

static void test_lagrangian_and_step(void) {
    ModelConfig src = cfg(12, 3, 4, 2, 4, 10), tgt = cfg(8, 2, 2, 1, 4, 6);
    Masks m;
    make_ok(&m, &src, &tgt, "layer head intermediate hidden");
    size_t n = m.total;
    float *la = malloc(n * sizeof(float)), *g = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) la[i] = (float)(-3.0 + 6.0 * rng_uniform(8, 8, i));
    for (int t = 0; t < MASK_TYPES; t++) {
        m.lambda[t][0] = 0.3f * (t + 1) - 0.7f;
        m.lambda[t][1] = 0.25f * (t % 3) + 0.1f;
    }
    // warm-up: 100 steps, frac 0.25 -> 25 warm-up steps
    MaskStats st;
    masks_zero_grad(&m);
    ops->upload(m.log_alpha, la, n * sizeof(float));
    masks_lagrangian(&m, 10, 100, 0.25, &st);
    double T_int = 1.0 - 6.0 / 10.0;
    check("target sparsity at step 10 of a 25-step warm-up = 0.4 T",
          fabs(st.target_sparsity[MASK_INTERMEDIATE] - 0.4 * T_int), 1e-15);
    masks_zero_grad(&m);
    masks_lagrangian(&m, 0, 100, 0.25, &st);
    check("target sparsity at step 0 = 0", fabs(st.target_sparsity[MASK_HEAD]), 0.0);
    masks_zero_grad(&m);
    masks_lagrangian(&m, 60, 100, 0.25, &st);
    check("target sparsity after the warm-up = T (head 1 - 1/2)", fabs(st.target_sparsity[MASK_HEAD] - 0.5), 1e-15);
    masks_zero_grad(&m);
    masks_lagrangian(&m, 0, 100, 0.0, &st);
    check("no warm-up: T from step 0 (layer 1 - 2/3)", fabs(st.target_sparsity[MASK_LAYER] - 1.0 / 3.0), 1e-15);

    // gradients vs central differences in double over float log-alphas (h = 1e-3: float rounding of a
    // is 5e-7 relative, the term is smooth)
    masks_zero_grad(&m);
    ops->upload(m.log_alpha, la, n * sizeof(float));
    double term = masks_lagrangian(&m, 10, 100, 0.25, &st);
    ops->download(g, m.grad, n * sizeof(float));
    float lg[MASK_TYPES][2];
    memcpy(lg, m.lambda_grad, sizeof lg);
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        float keep = la[i];
        float h = 1.0f / 1024;
        la[i] = keep + h;
        double fp = lag_at(&m, la, 10, 100, 0.25);
        la[i] = keep - h;
        double fm = lag_at(&m, la, 10, 100, 0.25);
        la[i] = keep;
        double fd = (fp - fm) / (2.0 * h);
        num = fmax(num, fabs(g[i] - fd));
        den = fmax(den, fabs(fd));
    }
    check("d Lagrangian / d log-alpha vs central differences", num / den, 1e-4);
    // lambda grads: the term is linear in lambda1 and lambda2
    num = den = 0;
    for (int t = 0; t < MASK_TYPES; t++) {
        if (!m.on[t]) continue;
        for (int j = 0; j < 2; j++) {
            float keep = m.lambda[t][j];
            m.lambda[t][j] = keep + 1.0f;
            double fp = lag_at(&m, la, 10, 100, 0.25);
            m.lambda[t][j] = keep;
            num = fmax(num, fabs(lg[t][j] - (fp - term)));
            den = fmax(den, fabs(fp - term));
        }
    }
    check("d Lagrangian / d lambda vs differences (linear)", num / den, 1e-6);

    // grad_sumsq: log-alpha grads plus lambda grads
    masks_zero_grad(&m);
    ops->upload(m.log_alpha, la, n * sizeof(float));
    masks_lagrangian(&m, 10, 100, 0.25, NULL);
    ops->download(g, m.grad, n * sizeof(float));
    double ss = 0;
    for (size_t i = 0; i < n; i++) ss += (double)g[i] * g[i];
    for (int t = 0; t < MASK_TYPES; t++)
        if (m.on[t]) ss += (double)m.lambda_grad[t][0] * m.lambda_grad[t][0] + (double)m.lambda_grad[t][1] * m.lambda_grad[t][1];
    check("masks_grad_sumsq = sum of squares of every mask gradient", fabs(masks_grad_sumsq(&m) - ss) / ss, 1e-12);

    // one step: log-alphas move as ops->adamw (wd 0) would move them; lambdas ascend (lr < 0)
    float *p = malloc(n * sizeof(float)), *mm = calloc(n, sizeof(float)), *vv = calloc(n, sizeof(float));
    memcpy(p, la, n * sizeof(float));
    ops_cpu()->adamw(p, g, mm, vv, n, 0.5f, 0.9f, 0.95f, 1e-8f, 0.0f, 0.7f, 1);
    float lam_before[MASK_TYPES][2], lgrad[MASK_TYPES][2];
    memcpy(lam_before, m.lambda, sizeof lam_before);
    memcpy(lgrad, m.lambda_grad, sizeof lgrad);
    masks_step(&m, 0.5f, -1.0f, 0.9f, 0.95f, 1e-8f, 0.7f);
    float *after = malloc(n * sizeof(float));
    ops->download(after, m.log_alpha, n * sizeof(float));
    check_true("step: log-alphas == AdamW(lr 0.5, wd 0, gscale 0.7)", memcmp(after, p, n * sizeof(float)) == 0);
    // Adam's first step is lr * g' / (|g'| + eps), g' = gscale g: with lr = -1, lambda += about sign(grad)
    double lam_err = 0;
    for (int t = 0; t < MASK_TYPES; t++) {
        if (!m.on[t]) continue;
        for (int j = 0; j < 2; j++) {
            double gs = 0.7 * lgrad[t][j];
            double expect = lam_before[t][j] + gs / (fabs(gs) + 1e-8);
            lam_err = fmax(lam_err, fabs(m.lambda[t][j] - expect));
        }
    }
    check("step: lambdas ascend: += g' / (|g'| + eps) at lr -1", lam_err, 1e-6);
    check_true("step: t counts steps", m.t == 1);
    check("step: grads zeroed after", masks_grad_sumsq(&m), 0.0);
    free(p); free(mm); free(vv); free(after); free(la); free(g);
    masks_free(&m);
}

// ---------------- non-uniform mode (prune.uniform 0) ----------------

static void test_nonuniform(void) {
    // Lagrangian: a 2-D type is one row of L*N gates: sh = 1 - sum s / (L N), term = l1 (sh - T) + l2 (sh - T)^2
    ModelConfig src = cfg(12, 3, 4, 2, 4, 10), tgt = cfg(12, 3, 2, 1, 4, 6);
    Masks m;
    make_ok(&m, &src, &tgt, "head intermediate");
    m.uniform = 0;
    size_t n = m.total;
    float *la = malloc(n * sizeof(float)), *g = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) la[i] = (float)(-3.0 + 6.0 * rng_uniform(9, 9, i) + (i % 10 < 3 ? 2.0 : 0.0));
    m.lambda[MASK_HEAD][0] = 0.4f, m.lambda[MASK_HEAD][1] = 0.9f;
    m.lambda[MASK_INTERMEDIATE][0] = -0.3f, m.lambda[MASK_INTERMEDIATE][1] = 1.7f;
    double expect = 0.0;
    for (int t = MASK_HEAD; t <= MASK_INTERMEDIATE; t++) {
        double kept = 0.0;
        size_t N = (size_t)m.rows[t] * m.cols[t];
        for (size_t i = 0; i < N; i++) kept += hc_score(la[m.offset[t] + i]);
        double diff = (1.0 - kept / N) - (1.0 - (double)m.target[t] / m.cols[t]);
        expect += m.lambda[t][0] * diff + m.lambda[t][1] * diff * diff;
    }
    masks_zero_grad(&m);
    double term = lag_at(&m, la, 100, 100, 0.0);
    check("non-uniform Lagrangian = l1 (sh - T) + l2 (sh - T)^2 over the whole type", fabs(term - expect), 1e-12);
    m.uniform = 1;
    double term_rows = lag_at(&m, la, 100, 100, 0.0);
    check_true("the per-row (uniform) term differs on uneven rows", fabs(term_rows - term) > 1e-4);
    m.uniform = 0;
    masks_zero_grad(&m);
    lag_at(&m, la, 100, 100, 0.0);
    ops->download(g, m.grad, n * sizeof(float));
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        float keep = la[i], h = 1.0f / 1024;
        la[i] = keep + h;
        double fp = lag_at(&m, la, 100, 100, 0.0);
        la[i] = keep - h;
        double fm = lag_at(&m, la, 100, 100, 0.0);
        la[i] = keep;
        num = fmax(num, fabs(g[i] - (fp - fm) / (2.0 * h)));
        den = fmax(den, fabs((fp - fm) / (2.0 * h)));
    }
    check("non-uniform d Lagrangian / d log-alpha vs central differences", num / den, 1e-4);
    free(la); free(g);
    masks_free(&m);

    // exact deterministic masks: L_T * I_T best gates over the layers the layer mask keeps
    ModelConfig s3 = cfg(4, 3, 1, 1, 4, 5), t3 = s3;
    t3.n_layers = 2, t3.intermediate = 3;
    Masks u;
    make_ok(&u, &s3, &t3, "layer intermediate");
    u.uniform = 0;
    float lay[3] = {2.0f, -4.0f, 1.0f};   // layer 1 is dropped
    float in[15] = {4, 4, 4, 4, -1,       // layer 0: four strong channels
                    4.5f, 4.5f, 4.5f, 4.5f, 4.5f, // layer 1: the strongest, but the layer goes
                    3, -2, -3, 0.5f, -4}; // layer 2: 3 and 0.5 are the next best
    set_type(&u, MASK_LAYER, lay);
    set_type(&u, MASK_INTERMEDIATE, in);
    masks_deterministic(&u, 1);
    float z[15];
    masks_download(&u, MASK_INTERMEDIATE, u.z, z);
    int kept[3] = {0, 0, 0};
    for (int i = 0; i < 15; i++) kept[i / 5] += z[i] != 0.0f;
    check_true("non-uniform exact: 6 = L_T * I_T channels kept, 4 + 0 + 2 (dropped layer ranks nothing)",
               kept[0] == 4 && kept[1] == 0 && kept[2] == 2 && z[10] != 0.0f && z[13] != 0.0f);
    // expected zeros over the whole type: k = round(15 - sum s)
    masks_deterministic(&u, 0);
    masks_download(&u, MASK_INTERMEDIATE, u.z, z);
    double sum_s = 0.0;
    for (int i = 0; i < 15; i++) sum_s += hc_score(fmax(fmin(in[i], 4.605170185988091), -4.605170185988091));
    int zeros = 0;
    for (int i = 0; i < 15; i++) zeros += z[i] == 0.0f;
    check_true("non-uniform expected zeros: round(L N - sum s) zeros over the whole type",
               zeros == (int)nearbyint(15.0 - sum_s));
    masks_free(&u);
}

int main(void) {
    ops = ops_cpu();
    test_scores();
    test_deterministic();
    test_expected_params();
    test_validation();
    test_sample_stats();
    test_sample_coordinates();
    test_lagrangian_and_step();
    test_nonuniform();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
