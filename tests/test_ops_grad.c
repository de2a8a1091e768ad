// The CPU backend against first principles: every gradient every backward op produces is checked by central
// finite differences of a scalar objective L = sum(out * R) (R fixed random), every forward against a naive
// double-precision reference, and the interface's contract (backward ops ADD, NULL gradients are skipped,
// ignored classifier rows get no gradient, reductions are reproducible) is checked directly.
//
// Finite differences run in double over the float kernels with step FD_EPS; a gradient passes when
// max|analytic - numeric| <= FD_TOL * max|numeric| (normwise relative error). Sizes are odd on purpose
// (N=5, d=12, head_dim 6, H=6 over Hkv=2, T=7), so no power-of-two path hides a bug.
// The harness (FD_EPS, FD_TOL, GradCase, the error measures): tests/ops_check.h. classifier_kd: test_ops_kd.c.
#include "ops_check.h"

// ---------------- embedding ----------------

typedef struct {
    size_t N;
    int d, V;
    int32_t *tok;
    float *wte, *out, *R;
} EmbCtx;

static double emb_obj(void *c) {
    EmbCtx *e = c;
    ops->embedding_fwd(e->out, e->tok, e->wte, e->N, e->d);
    return dot_r(e->out, e->R, e->N * e->d);
}

static void emb_bwd(void *c, float **g) {
    EmbCtx *e = c;
    if (g[0]) ops->embedding_bwd(g[0], e->R, e->tok, e->N, e->d);
}

static void test_embedding(void) {
    EmbCtx e = {.N = 5, .d = 12, .V = 7};
    int32_t tok[5] = {3, 0, 6, 3, 3}; // repeats: several rows add into one row of dwte
    e.tok = ops->alloc(sizeof tok);
    ops->upload(e.tok, tok, sizeof tok);
    e.wte = buf((size_t)e.V * e.d);
    e.out = buf(e.N * e.d);
    e.R = buf(e.N * e.d);
    fill_normal(e.wte, (size_t)e.V * e.d, 1.0);
    fill_normal(e.R, e.N * e.d, 1.0);
    emb_obj(&e);
    double err = 0.0;
    for (size_t n = 0; n < e.N; n++) {
        for (int j = 0; j < e.d; j++) err = fmax(err, fabs(e.out[n * e.d + j] - e.wte[(size_t)tok[n] * e.d + j]));
    }
    check("embedding forward = wte rows", err, 0.0);
    GradCase gc = {.op = "embedding", .ngrad = 1, .gname = {"wte"}, .param = {e.wte},
                   .n = {(size_t)e.V * e.d}, .objective = emb_obj, .backward = emb_bwd, .accumulates = 1, .ctx = &e};
    run_grad_case(&gc);
    ops->free(e.tok), ops->free(e.wte), ops->free(e.out), ops->free(e.R);
}

// ---------------- masked RMSNorm ----------------

typedef struct {
    size_t N;
    int d;
    float eps;
    float *inp, *w, *z, *out, *rstd, *R;
} NormCtx;

static double norm_obj(void *c) {
    NormCtx *r = c;
    ops->rmsnorm_fwd(r->out, r->rstd, r->inp, r->w, r->z, r->N, r->d, r->eps);
    return dot_r(r->out, r->R, r->N * r->d);
}

static void norm_bwd(void *c, float **g) {
    NormCtx *r = c;
    ops->rmsnorm_bwd(g[0], g[1], r->z ? g[2] : NULL, r->R, r->inp, r->w, r->z, r->rstd, r->N, r->d);
}

static void test_rmsnorm(int gated) {
    NormCtx r = {.N = 5, .d = 12, .eps = 1e-5f};
    size_t nd = r.N * r.d;
    r.inp = buf(nd), r.out = buf(nd), r.R = buf(nd), r.w = buf(r.d), r.rstd = buf(r.N);
    fill_normal(r.inp, nd, 1.0);
    fill_normal(r.R, nd, 1.0);
    fill_uniform(r.w, r.d, 0.5, 1.5);
    unsigned char *zmask = calloc((size_t)r.d, 1); // [d] which z entries are nonzero
    if (gated) {
        r.z = buf(r.d);
        fill_uniform(r.z, r.d, 0.2, 1.2); // |z| > FD_EPS: perturbing z never changes the kept set
        r.z[2] = 0.0f, r.z[7] = 0.0f, r.z[11] = 0.0f;
        for (int j = 0; j < r.d; j++) zmask[j] = r.z[j] != 0.0f;
    }
    norm_obj(&r);
    // forward against double: mean square over kept channels only
    double num = 0.0, den = 0.0;
    for (size_t n = 0; n < r.N; n++) {
        double ss = 0.0;
        int kept = 0;
        for (int j = 0; j < r.d; j++) {
            if (r.z && r.z[j] == 0.0f) continue;
            ss += (double)r.inp[n * r.d + j] * r.inp[n * r.d + j];
            kept++;
        }
        double rs = 1.0 / sqrt(ss / kept + r.eps);
        num = fmax(num, fabs(rs - r.rstd[n]) / rs);
        for (int j = 0; j < r.d; j++) {
            double ref = r.w[j] * r.inp[n * r.d + j] * rs * (r.z ? r.z[j] : 1.0);
            num = fmax(num, fabs(ref - r.out[n * r.d + j]));
            den = fmax(den, fabs(ref));
        }
    }
    check(gated ? "rmsnorm forward (gated, 3 channels dropped)" : "rmsnorm forward (z NULL)", num / den, FWD_TOL);
    GradCase gc = {.op = gated ? "rmsnorm(z)" : "rmsnorm", .ngrad = gated ? 3 : 2, .gname = {"inp", "w", "z"},
                   .param = {r.inp, r.w, r.z}, .n = {nd, (size_t)r.d, (size_t)r.d}, .mask = {NULL, NULL, zmask},
                   .objective = norm_obj, .backward = norm_bwd, .accumulates = 1, .ctx = &r};
    run_grad_case(&gc);
    if (gated) {
        // a dropped channel takes no part in the norm and its output is 0: its input gradient must be exactly 0
        float *dinp = buf(nd);
        float *grads[3] = {dinp, NULL, NULL};
        norm_bwd(&r, grads);
        double worst = 0.0;
        for (size_t n = 0; n < r.N; n++) {
            worst = fmax(worst, fabs(dinp[n * r.d + 2]) + fabs(dinp[n * r.d + 7]) + fabs(dinp[n * r.d + 11]));
        }
        check("rmsnorm dinp = 0 on channels with z = 0", worst, 0.0);
        ops->free(dinp);
        ops->free(r.z);
    }
    free(zmask);
    ops->free(r.inp), ops->free(r.out), ops->free(r.R), ops->free(r.w), ops->free(r.rstd);
}

// ---------------- matmul ----------------

typedef struct {
    size_t N;
    int C, OC;
    float *inp, *w, *out, *R;
} MmCtx;

static double mm_obj(void *c) {
    MmCtx *m = c;
    ops->matmul_fwd(m->out, m->inp, m->w, m->N, m->C, m->OC);
    return dot_r(m->out, m->R, m->N * m->OC);
}

static void mm_bwd(void *c, float **g) {
    MmCtx *m = c;
    ops->matmul_bwd(g[0], g[1], m->R, m->inp, m->w, m->N, m->C, m->OC);
}

static void test_matmul(void) {
    MmCtx m = {.N = 5, .C = 12, .OC = 7};
    m.inp = buf(m.N * m.C), m.w = buf((size_t)m.OC * m.C), m.out = buf(m.N * m.OC), m.R = buf(m.N * m.OC);
    fill_normal(m.inp, m.N * m.C, 1.0);
    fill_normal(m.w, (size_t)m.OC * m.C, 0.5);
    fill_normal(m.R, m.N * m.OC, 1.0);
    mm_obj(&m);
    double num = 0.0, den = 0.0;
    for (size_t n = 0; n < m.N; n++) {
        for (int o = 0; o < m.OC; o++) {
            double ref = 0.0;
            for (int c = 0; c < m.C; c++) ref += (double)m.inp[n * m.C + c] * m.w[(size_t)o * m.C + c];
            num = fmax(num, fabs(ref - m.out[n * m.OC + o]));
            den = fmax(den, fabs(ref));
        }
    }
    check("matmul forward = inp @ w^T", num / den, FWD_TOL);
    GradCase gc = {.op = "matmul", .ngrad = 2, .gname = {"inp", "w"}, .param = {m.inp, m.w},
                   .n = {m.N * m.C, (size_t)m.OC * m.C}, .objective = mm_obj, .backward = mm_bwd,
                   .accumulates = 1, .ctx = &m};
    run_grad_case(&gc);
    ops->free(m.inp), ops->free(m.w), ops->free(m.out), ops->free(m.R);
}

// ---------------- rope ----------------

typedef struct {
    size_t B;
    int T, nh, hd;
    ShearRope rope;
    float *x, *y, *R, *tmp;
} RopeCtx;

// inv_freq_i in double, written from transformers' rope init functions (default, linear, llama3), not from
// shear/rope.h: the kernels' float values must match it to float rounding.
static double ref_inv_freq(const ShearRope *r, int i, int hd) {
    double f = pow(r->theta, -2.0 * i / hd);
    if (r->type == ROPE_LINEAR) return f / r->factor;
    if (r->type != ROPE_LLAMA3) return f;
    double wavelen = 2 * M_PI / f, old = r->original_max_pos;
    if (wavelen < old / r->high_freq_factor) return f;      // high frequency: unchanged
    if (wavelen > old / r->low_freq_factor) return f / r->factor; // low frequency: interpolated
    double smooth = (old / wavelen - r->low_freq_factor) / (r->high_freq_factor - r->low_freq_factor);
    return (1 - smooth) * f / r->factor + smooth * f;
}

static double rope_obj(void *c) {
    RopeCtx *r = c;
    size_t n = r->B * r->T * r->nh * r->hd;
    memcpy(r->y, r->x, n * sizeof(float));
    ops->rope_fwd(r->y, r->B, r->T, r->nh, r->hd, &r->rope);
    return dot_r(r->y, r->R, n);
}

static void rope_bwd_case(void *c, float **g) {
    RopeCtx *r = c;
    size_t n = r->B * r->T * r->nh * r->hd;
    memcpy(r->tmp, r->R, n * sizeof(float));
    ops->rope_bwd(r->tmp, r->B, r->T, r->nh, r->hd, &r->rope);
    if (g[0]) memcpy(g[0], r->tmp, n * sizeof(float));
}

// hd 8, theta 1e4: wavelengths 6.3, 63, 628, 6283; with original 2000 and factors 1 / 4, llama3 keeps the first
// two, blends the third (500 < 628 < 2000) and interpolates the fourth, so every branch is checked.
static void test_rope(const char *what, ShearRope rope, int T) {
    RopeCtx r = {.B = 2, .T = T, .nh = 3, .hd = 8, .rope = rope};
    size_t n = r.B * r.T * r.nh * r.hd;
    r.x = buf(n), r.y = buf(n), r.R = buf(n), r.tmp = buf(n);
    fill_normal(r.x, n, 1.0);
    fill_normal(r.R, n, 1.0);
    rope_obj(&r);
    int half = r.hd / 2;
    double err = 0.0;
    for (size_t b = 0; b < r.B; b++) {
        for (int t = 0; t < r.T; t++) {
            for (int h = 0; h < r.nh; h++) {
                size_t off = ((b * r.T + t) * r.nh + h) * r.hd;
                for (int i = 0; i < half; i++) {
                    double ang = t * ref_inv_freq(&r.rope, i, r.hd);
                    double x1 = r.x[off + i], x2 = r.x[off + i + half];
                    err = fmax(err, fabs(x1 * cos(ang) - x2 * sin(ang) - r.y[off + i]));
                    err = fmax(err, fabs(x2 * cos(ang) + x1 * sin(ang) - r.y[off + i + half]));
                }
            }
        }
    }
    char name[128];
    snprintf(name, sizeof name, "rope (%s) forward vs formula (rotate-half)", what);
    check(name, err, FWD_TOL * (1 + T / 16.0)); // the float angle t * inv_freq carries t ulps of inv_freq
    GradCase gc = {.op = "rope", .ngrad = 1, .gname = {"x"}, .param = {r.x}, .n = {n}, .objective = rope_obj,
                   .backward = rope_bwd_case, .accumulates = 0, .ctx = &r};
    run_grad_case(&gc);
    ops->free(r.x), ops->free(r.y), ops->free(r.R), ops->free(r.tmp);
}

// ---------------- attention ----------------

typedef struct {
    size_t B;
    int T, H, Hkv, hd;
    float *q, *k, *v, *out, *lse, *R;
} AttnCtx;

static double attn_obj(void *c) {
    AttnCtx *a = c;
    ops->attention_fwd(a->out, a->lse, a->q, a->k, a->v, a->B, a->T, a->H, a->Hkv, a->hd);
    return dot_r(a->out, a->R, a->B * a->T * a->H * a->hd);
}

static void attn_bwd(void *c, float **g) {
    AttnCtx *a = c;
    ops->attention_bwd(g[0], g[1], g[2], a->R, a->q, a->k, a->v, a->out, a->lse, a->B, a->T, a->H, a->Hkv, a->hd);
}

// Explicit reference: the full T x T score matrix of each (b, h), masked, softmaxed in double.
static void attn_forward_check(AttnCtx *a, const char *label) {
    int T = a->T, hd = a->hd, rep = a->H / a->Hkv;
    double *S = dbuf((size_t)T * T); // [T,T]
    double onum = 0.0, oden = 0.0, lerr = 0.0;
    for (size_t b = 0; b < a->B; b++) {
        for (int h = 0; h < a->H; h++) {
            int kvh = h / rep;
            for (int t = 0; t < T; t++) {
                for (int j = 0; j < T; j++) {
                    double s = 0.0;
                    for (int i = 0; i < hd; i++) {
                        s += (double)a->q[((b * T + t) * a->H + h) * hd + i] *
                             a->k[((b * T + j) * a->Hkv + kvh) * hd + i];
                    }
                    S[t * T + j] = j <= t ? s / sqrt((double)hd) : -INFINITY;
                }
                double mx = -INFINITY, sum = 0.0;
                for (int j = 0; j < T; j++) mx = fmax(mx, S[t * T + j]);
                for (int j = 0; j < T; j++) sum += exp(S[t * T + j] - mx);
                double lse = mx + log(sum);
                lerr = fmax(lerr, fabs(lse - a->lse[(b * a->H + h) * T + t]));
                for (int i = 0; i < hd; i++) {
                    double o = 0.0;
                    for (int j = 0; j < T; j++) {
                        o += exp(S[t * T + j] - lse) * a->v[((b * T + j) * a->Hkv + kvh) * hd + i];
                    }
                    onum = fmax(onum, fabs(o - a->out[((b * T + t) * a->H + h) * hd + i]));
                    oden = fmax(oden, fabs(o));
                }
            }
        }
    }
    free(S);
    char what[96];
    snprintf(what, sizeof what, "attention forward vs T x T softmax %s", label);
    check(what, onum / oden, FWD_TOL);
    snprintf(what, sizeof what, "attention lse vs T x T softmax %s", label);
    check(what, lerr, FWD_TOL);
}

static void test_attention(size_t B, int T, int H, int Hkv, int hd, const char *label) {
    AttnCtx a = {.B = B, .T = T, .H = H, .Hkv = Hkv, .hd = hd};
    size_t nq = B * T * H * hd, nkv = B * T * Hkv * hd;
    a.q = buf(nq), a.out = buf(nq), a.R = buf(nq), a.k = buf(nkv), a.v = buf(nkv), a.lse = buf(B * H * T);
    fill_normal(a.q, nq, 1.0);
    fill_normal(a.k, nkv, 1.0);
    fill_normal(a.v, nkv, 1.0);
    fill_normal(a.R, nq, 1.0);
    attn_obj(&a);
    attn_forward_check(&a, label);
    char op[64];
    snprintf(op, sizeof op, "attention%s", label);
    GradCase gc = {.op = op, .ngrad = 3, .gname = {"q", "k", "v"}, .param = {a.q, a.k, a.v}, .n = {nq, nkv, nkv},
                   .objective = attn_obj, .backward = attn_bwd, .accumulates = 1, .ctx = &a};
    run_grad_case(&gc);
    ops->free(a.q), ops->free(a.out), ops->free(a.R), ops->free(a.k), ops->free(a.v), ops->free(a.lse);
}

// ---------------- gates ----------------

typedef struct {
    size_t N;
    int C, group;
    float *inp, *z, *out, *R;
} GateCtx;

static double gate_obj(void *c) {
    GateCtx *g = c;
    ops->gate_fwd(g->out, g->inp, g->z, g->N, g->C, g->group);
    return dot_r(g->out, g->R, g->N * g->C);
}

static void gate_bwd(void *c, float **gr) {
    GateCtx *g = c;
    ops->gate_bwd(gr[0], gr[1], g->R, g->inp, g->z, g->N, g->C, g->group);
}

static void test_gate(int group, const char *label) {
    GateCtx g = {.N = 5, .C = 12, .group = group};
    int nz = g.C / group;
    g.inp = buf(g.N * g.C), g.out = buf(g.N * g.C), g.R = buf(g.N * g.C), g.z = buf(nz);
    fill_normal(g.inp, g.N * g.C, 1.0);
    fill_normal(g.R, g.N * g.C, 1.0);
    fill_uniform(g.z, nz, 0.0, 1.0);
    if (nz > 1) g.z[1] = 0.0f; // a closed gate still gets a gradient
    gate_obj(&g);
    double err = 0.0;
    for (size_t n = 0; n < g.N; n++) {
        for (int c = 0; c < g.C; c++) err = fmax(err, fabs(g.out[n * g.C + c] - g.inp[n * g.C + c] * g.z[c / group]));
    }
    char what[96], op[64];
    snprintf(what, sizeof what, "gate forward %s", label);
    check(what, err, 0.0);
    snprintf(op, sizeof op, "gate%s", label);
    GradCase gc = {.op = op, .ngrad = 2, .gname = {"inp", "z"}, .param = {g.inp, g.z}, .n = {g.N * g.C, (size_t)nz},
                   .objective = gate_obj, .backward = gate_bwd, .accumulates = 1, .ctx = &g};
    run_grad_case(&gc);
    ops->free(g.inp), ops->free(g.out), ops->free(g.R), ops->free(g.z);
}

// ---------------- projection biases ----------------

typedef struct {
    size_t N;
    int C;
    float *inp, *b, *out, *R;
} BiasCtx;

static double bias_obj(void *c) {
    BiasCtx *k = c;
    ops->copy(k->out, k->inp, k->N * k->C * sizeof(float));
    ops->bias_fwd(k->out, k->b, k->N, k->C);
    return dot_r(k->out, k->R, k->N * k->C);
}

static void bias_bwd_case(void *c, float **gr) {
    BiasCtx *k = c;
    if (gr[0]) ops->axpy(gr[0], k->R, 1.0f, k->N * k->C); // d out / d inp is the identity
    if (gr[1]) ops->bias_bwd(gr[1], k->R, k->N, k->C);
}

// N = 150 spans several of the CPU's 64-row blocks of the column sums.
static void test_bias(void) {
    BiasCtx k = {.N = 150, .C = 10};
    size_t n = k.N * k.C;
    k.inp = buf(n), k.out = buf(n), k.R = buf(n), k.b = buf(k.C);
    fill_normal(k.inp, n, 1.0);
    fill_normal(k.R, n, 1.0);
    fill_normal(k.b, k.C, 1.0);
    bias_obj(&k);
    double err = 0.0;
    for (size_t r = 0; r < k.N; r++)
        for (int c = 0; c < k.C; c++) err = fmax(err, fabs(k.out[r * k.C + c] - (k.inp[r * k.C + c] + k.b[c])));
    check("bias forward = inp + b", err, 0.0);
    float *db = buf(k.C); // zeroed: bias_bwd adds
    ops->bias_bwd(db, k.R, k.N, k.C);
    double rel = 0.0;
    for (int c = 0; c < k.C; c++) {
        double want = 0.0;
        for (size_t r = 0; r < k.N; r++) want += k.R[r * k.C + c];
        rel = fmax(rel, fabs(db[c] - want) / fmax(fabs(want), 1e-30));
    }
    check("bias backward = column sums (double reference)", rel, 1e-6);
    GradCase gc = {.op = "bias", .ngrad = 2, .gname = {"inp", "b"}, .param = {k.inp, k.b}, .n = {n, (size_t)k.C},
                   .objective = bias_obj, .backward = bias_bwd_case, .accumulates = 1, .ctx = &k};
    run_grad_case(&gc);
    ops->free(k.inp), ops->free(k.out), ops->free(k.R), ops->free(k.b), ops->free(db);
}

// ---------------- SwiGLU ----------------

typedef struct {
    size_t N;
    int I;
    float *g, *u, *out, *R;
} SwiCtx;

static double swi_obj(void *c) {
    SwiCtx *s = c;
    ops->swiglu_fwd(s->out, s->g, s->u, s->N, s->I);
    return dot_r(s->out, s->R, s->N * s->I);
}

static void swi_bwd(void *c, float **gr) {
    SwiCtx *s = c;
    ops->swiglu_bwd(gr[0], gr[1], s->R, s->g, s->u, s->N, s->I);
}

static void test_swiglu(void) {
    SwiCtx s = {.N = 5, .I = 12};
    size_t n = s.N * s.I;
    s.g = buf(n), s.u = buf(n), s.out = buf(n), s.R = buf(n);
    fill_normal(s.g, n, 2.0);
    fill_normal(s.u, n, 1.0);
    fill_normal(s.R, n, 1.0);
    swi_obj(&s);
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        double ref = s.g[i] / (1.0 + exp(-(double)s.g[i])) * s.u[i];
        num = fmax(num, fabs(ref - s.out[i]));
        den = fmax(den, fabs(ref));
    }
    check("swiglu forward = silu(g) * u", num / den, FWD_TOL);
    GradCase gc = {.op = "swiglu", .ngrad = 2, .gname = {"g", "u"}, .param = {s.g, s.u}, .n = {n, n},
                   .objective = swi_obj, .backward = swi_bwd, .accumulates = 1, .ctx = &s};
    run_grad_case(&gc);
    ops->free(s.g), ops->free(s.u), ops->free(s.out), ops->free(s.R);
}

// ---------------- classifier ----------------


static double cls_obj(void *c) {
    ClsCtx *k = c;
    return k->dscale * ops->classifier(NULL, NULL, NULL, NULL, k->x, k->w, k->tgt, k->N, k->d, k->V, k->dscale);
}

static void cls_bwd(void *c, float **g) {
    ClsCtx *k = c;
    if (g[0] || g[1]) ops->classifier(g[0], g[1], NULL, NULL, k->x, k->w, k->tgt, k->N, k->d, k->V, k->dscale);
}

// Naive double reference of the whole classifier: loss sum, row losses, logits, dx, dw.
static double cls_reference(const ClsCtx *k, double *row_loss, double *logits, double *dx, double *dw) {
    double total = 0.0;
    double *p = dbuf(k->V);
    for (size_t n = 0; n < k->N; n++) {
        double mx = -INFINITY, sum = 0.0;
        for (int v = 0; v < k->V; v++) {
            double l = 0.0;
            for (int j = 0; j < k->d; j++) l += (double)k->x[n * k->d + j] * k->w[(size_t)v * k->d + j];
            logits[n * k->V + v] = l;
            mx = fmax(mx, l);
        }
        row_loss[n] = 0.0;
        if (k->tgt[n] < 0) continue;
        for (int v = 0; v < k->V; v++) sum += exp(logits[n * k->V + v] - mx);
        double lse = mx + log(sum);
        row_loss[n] = lse - logits[n * k->V + k->tgt[n]];
        total += row_loss[n];
        for (int v = 0; v < k->V; v++) p[v] = (exp(logits[n * k->V + v] - lse) - (v == k->tgt[n])) * k->dscale;
        for (int v = 0; v < k->V; v++) {
            for (int j = 0; j < k->d; j++) {
                dx[n * k->d + j] += p[v] * k->w[(size_t)v * k->d + j];
                dw[(size_t)v * k->d + j] += p[v] * k->x[n * k->d + j];
            }
        }
    }
    free(p);
    return total;
}


// Forward values, ignored rows and chunking against the naive reference. N * V is large enough here that the
// kernel splits the rows into more than one chunk.
static void classifier_vs_reference(size_t N, int d, int V, const char *label) {
    ClsCtx k = {.N = N, .d = d, .V = V, .dscale = 0.37f};
    k.x = buf(N * d), k.w = buf((size_t)V * d), k.tgt = ops->alloc(N * sizeof(int32_t));
    fill_normal(k.x, N * d, 1.0);
    fill_normal(k.w, (size_t)V * d, 0.5);
    for (size_t n = 0; n < N; n++) k.tgt[n] = n % 4 == 1 ? -1 : (int32_t)(rng_u64(1234, 98, n) % (uint64_t)V);
    float *dx = buf(N * d), *dw = buf((size_t)V * d), *rl = buf(N), *logits = buf(N * V);
    double *rrl = dbuf(N), *rlog = dbuf(N * V), *rdx = dbuf(N * d), *rdw = dbuf((size_t)V * d);
    double loss = ops->classifier(dx, dw, rl, logits, k.x, k.w, k.tgt, N, d, V, k.dscale);
    double rloss = cls_reference(&k, rrl, rlog, rdx, rdw);
    char what[96];
    snprintf(what, sizeof what, "classifier loss vs naive logsumexp %s", label);
    check(what, fabs(loss - rloss) / fabs(rloss), FWD_TOL);
    snprintf(what, sizeof what, "classifier row_loss %s", label);
    check(what, max_rel(rl, rrl, N), FWD_TOL);
    snprintf(what, sizeof what, "classifier logits_out %s", label);
    check(what, max_rel(logits, rlog, N * V), FWD_TOL);
    snprintf(what, sizeof what, "classifier dx vs reference %s", label);
    check(what, max_rel(dx, rdx, N * d), 1e-4);
    snprintf(what, sizeof what, "classifier dw vs reference %s", label);
    check(what, max_rel(dw, rdw, (size_t)V * d), 1e-4);
    double ignored = 0.0;
    for (size_t n = 0; n < N; n++) {
        if (k.tgt[n] >= 0) continue;
        ignored += fabs(rl[n]);
        for (int j = 0; j < d; j++) ignored += fabs(dx[n * d + j]);
    }
    snprintf(what, sizeof what, "classifier target -1 rows: no loss, dx = 0 %s", label);
    check(what, ignored, 0.0);
    // the ignored rows' x must not reach dw either
    for (size_t n = 0; n < N; n++) {
        if (k.tgt[n] < 0) fill_normal(k.x + n * d, d, 3.0);
    }
    float *dw2 = buf((size_t)V * d);
    ops->classifier(NULL, dw2, NULL, NULL, k.x, k.w, k.tgt, N, d, V, k.dscale);
    snprintf(what, sizeof what, "classifier target -1 rows leave dw alone %s", label);
    check(what, rel_err_ff(dw2, dw, 1.0, (size_t)V * d), 0.0);
    ops->free(dw2);
    free(rrl), free(rlog), free(rdx), free(rdw);
    ops->free(dx), ops->free(dw), ops->free(rl), ops->free(logits);
    ops->free(k.x), ops->free(k.w), ops->free(k.tgt);
}

static void test_classifier(void) {
    ClsCtx k = {.N = 9, .d = 12, .V = 11, .dscale = 0.37f};
    k.x = buf(k.N * k.d), k.w = buf((size_t)k.V * k.d), k.tgt = ops->alloc(k.N * sizeof(int32_t));
    fill_normal(k.x, k.N * k.d, 1.0);
    fill_normal(k.w, (size_t)k.V * k.d, 0.5);
    int32_t tgt[9] = {3, -1, 10, 0, 3, -1, 7, 7, 1};
    memcpy(k.tgt, tgt, sizeof tgt);
    GradCase gc = {.op = "classifier", .ngrad = 2, .gname = {"x", "w"}, .param = {k.x, k.w},
                   .n = {k.N * k.d, (size_t)k.V * k.d}, .objective = cls_obj, .backward = cls_bwd,
                   .accumulates = 1, .ctx = &k};
    run_grad_case(&gc);
    ops->free(k.x), ops->free(k.w), ops->free(k.tgt);
    classifier_vs_reference(9, 12, 11, "(one chunk)");
    classifier_vs_reference(150, 6, 40000, "(2 chunks)");
}

// ---------------- AdamW ----------------

static void test_adamw(void) {
    const size_t n = 13;
    const float lr = 1e-2f, b1 = 0.9f, b2 = 0.95f, eps = 1e-8f, wd = 0.1f, gscale = 0.5f;
    float *p = buf(n), *g = buf(n), *m = buf(n), *v = buf(n);
    double rp[13], rm[13] = {0}, rv[13] = {0};
    fill_normal(p, n, 1.0);
    for (size_t i = 0; i < n; i++) rp[i] = p[i];
    double perr = 0.0, merr = 0.0, verr = 0.0; // max |diff| per quantity, then relative to its max |ref|
    double pmax = 0.0, mmax = 0.0, vmax = 0.0;
    for (int t = 1; t <= 3; t++) {
        fill_normal(g, n, 1.0);
        ops->adamw(p, g, m, v, n, lr, b1, b2, eps, wd, gscale, t);
        for (size_t i = 0; i < n; i++) { // the header's formula, in double
            double gi = (double)g[i] * gscale;
            rm[i] = b1 * rm[i] + (1.0 - b1) * gi;
            rv[i] = b2 * rv[i] + (1.0 - b2) * gi * gi;
            double mhat = rm[i] / (1.0 - pow(b1, t)), vhat = rv[i] / (1.0 - pow(b2, t));
            rp[i] -= lr * (mhat / (sqrt(vhat) + eps) + wd * rp[i]);
            perr = fmax(perr, fabs(rp[i] - p[i])), pmax = fmax(pmax, fabs(rp[i]));
            merr = fmax(merr, fabs(rm[i] - m[i])), mmax = fmax(mmax, fabs(rm[i]));
            verr = fmax(verr, fabs(rv[i] - v[i])), vmax = fmax(vmax, fabs(rv[i]));
        }
    }
    check("adamw p vs scalar reference, 3 steps", perr / pmax, 1e-6);
    check("adamw m vs scalar reference, 3 steps", merr / mmax, 1e-6);
    check("adamw v vs scalar reference, 3 steps", verr / vmax, 1e-6);
    ops->free(p), ops->free(g), ops->free(m), ops->free(v);
}

// ---------------- elementwise, reductions, memory, reproducibility ----------------

static void test_elementwise(void) {
    const size_t n = 3 * ((size_t)1 << 16) + 5; // crosses the reduction blocks unevenly
    float *x = buf(n), *y = buf(n), *y0 = buf(n);
    double zero = 0.0;
    for (size_t i = 0; i < n; i++) zero += fabs(x[i]);
    check("alloc is zero-filled", zero, 0.0);
    check("alloc is 64-byte aligned", (double)((uintptr_t)x % 64), 0.0);
    fill_normal(x, n, 1.0);
    fill_normal(y, n, 1.0);
    ops->copy(y0, y, n * sizeof(float));
    ops->axpy(y, x, -0.75f, n);
    double err = 0.0, ref = 0.0;
    for (size_t i = 0; i < n; i++) err = fmax(err, fabs(y[i] - (y0[i] - 0.75f * x[i])));
    check("axpy", err, 0.0);
    ops->copy(y, y0, n * sizeof(float));
    ops->scale(y, 1.5f, n);
    err = 0.0;
    for (size_t i = 0; i < n; i++) err = fmax(err, fabs(y[i] - 1.5f * y0[i]));
    check("scale", err, 0.0);
    for (size_t i = 0; i < n; i++) ref += (double)x[i] * x[i];
    double s1 = ops->sumsq(x, n), s2 = ops->sumsq(x, n);
    check("sumsq vs double reference", fabs(s1 - ref) / ref, 1e-12);
    check("sumsq bitwise reproducible", memcmp(&s1, &s2, sizeof s1) != 0, 0.0);
    check("all_finite on finite data", ops->all_finite(x, n) != 1, 0.0);
    x[n - 2] = NAN;
    check("all_finite sees a NaN", ops->all_finite(x, n) != 0, 0.0);
    x[n - 2] = 1.0f, x[70000] = -INFINITY;
    check("all_finite sees an Inf", ops->all_finite(x, n) != 0, 0.0);
    ops->zero(x, n * sizeof(float));
    zero = 0.0;
    for (size_t i = 0; i < n; i++) zero += fabs(x[i]);
    check("zero", zero, 0.0);
    ops->free(x), ops->free(y), ops->free(y0);
}

// Larger shapes run twice into fresh buffers must agree bit for bit (no order-dependent accumulation).
static void test_reproducible(void) {
    size_t B = 2;
    int T = 33, H = 4, Hkv = 2, hd = 16, V = 1000, d = H * hd;
    size_t nq = B * T * H * hd, nkv = B * T * Hkv * hd, N = B * T;
    float *q = buf(nq), *k = buf(nkv), *v = buf(nkv), *out = buf(nq), *lse = buf(B * H * T), *dout = buf(nq);
    float *w = buf((size_t)V * d), *grads[2][5];
    int32_t *tgt = ops->alloc(N * sizeof(int32_t));
    fill_normal(q, nq, 1.0), fill_normal(k, nkv, 1.0), fill_normal(v, nkv, 1.0), fill_normal(dout, nq, 1.0);
    fill_normal(w, (size_t)V * d, 0.1);
    for (size_t n = 0; n < N; n++) tgt[n] = (int32_t)(n * 37 % (size_t)V);
    ops->attention_fwd(out, lse, q, k, v, B, T, H, Hkv, hd);
    for (int r = 0; r < 2; r++) {
        grads[r][0] = buf(nq), grads[r][1] = buf(nkv), grads[r][2] = buf(nkv);
        grads[r][3] = buf(N * d), grads[r][4] = buf((size_t)V * d);
        ops->attention_bwd(grads[r][0], grads[r][1], grads[r][2], dout, q, k, v, out, lse, B, T, H, Hkv, hd);
        ops->classifier(grads[r][3], grads[r][4], NULL, NULL, q, w, tgt, N, d, V, 1.0f / N);
    }
    size_t sizes[5] = {nq, nkv, nkv, N * d, (size_t)V * d};
    int same = 1;
    for (int i = 0; i < 5; i++) same = same && memcmp(grads[0][i], grads[1][i], sizes[i] * sizeof(float)) == 0;
    check("attention/classifier backward bitwise reproducible", !same, 0.0);
    for (int r = 0; r < 2; r++) {
        for (int i = 0; i < 5; i++) ops->free(grads[r][i]);
    }
    ops->free(q), ops->free(k), ops->free(v), ops->free(out), ops->free(lse), ops->free(dout), ops->free(w);
    ops->free(tgt);
}

int main(void) {
    ops = ops_cpu();
    printf("backend %s; finite differences: step %.0e, tolerance %.0e relative (normwise)\n", ops->name, FD_EPS,
           FD_TOL);
    test_elementwise();
    test_embedding();
    test_rmsnorm(0);
    test_rmsnorm(1);
    test_matmul();
    test_rope("default", (ShearRope){.theta = 10000.0f}, 7);
    test_rope("linear x4", (ShearRope){.theta = 10000.0f, .type = ROPE_LINEAR, .factor = 4.0f}, 7);
    test_rope("llama3", (ShearRope){10000.0f, ROPE_LLAMA3, 8.0f, 1.0f, 4.0f, 2000}, 40);
    test_attention(2, 7, 6, 2, 6, "(GQA 6/2)");
    test_attention(1, 5, 3, 3, 4, "(MHA 3/3)");
    test_attention(1, 4, 2, 1, 8, "(MQA 2/1)");
    test_gate(1, "(per channel)");
    test_gate(6, "(per head)");
    test_gate(12, "(whole row)");
    test_swiglu();
    test_bias();
    test_classifier();
    test_adamw();
    test_reproducible();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
