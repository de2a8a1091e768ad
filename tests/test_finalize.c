// Finalization: the dense model's logits equal the masked source model's logits (model_forward with the same
// gates), for MHA and GQA, every subset of {layer, head, intermediate, hidden} with layer pruning on and off,
// the CoFi pair head_layer/mlp (with and without zeroed branches), gate values around 0.996 and random in
// (0.5, 1), exact counts per row; the family options (q/k/v biases, q/k norms, tied embedding). Also: the target shape, kept indices ascending, layers renumbered, the
// embedding and lm_head sliced but unscaled, /masks write/read round trip, and the errors finalize must give.
// Usage: test_finalize [OUTDIR]: with OUTDIR, also writes OUTDIR/prune_gqa.h5 (a prune output made with
// modelfile_save + maskfile_write) for the command-line tests.
#include <math.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shear/common.h"
#include "shear/finalize.h"
#include "shear/modelfile.h"
#include "shear/rng.h"

#define SEED 20240611ull
#define TEST_STREAM 77
#define B 2
#define T 9

static int n_fail = 0, n_pass = 0;
static double worst_rel = 0;

#define CHECK(cond, ...) do { if (cond) n_pass++; else { n_fail++; printf("FAIL " __VA_ARGS__); printf("\n"); } } while (0)

static uint64_t ctr = 1; // counter of the test's random stream
static double urand(void) { return rng_uniform(SEED, TEST_STREAM, ctr++); }

typedef enum { LAYER_NONE, LAYER_KEEP, LAYER_PRUNE, COFI_KEEP, COFI_ZERO, N_LAYER_MODES } LayerMode;
static const char *LAYER_MODE_NAME[N_LAYER_MODES] = {"-", "layer(all kept)", "layer(pruned)", "cofi(all kept)",
                                                     "cofi(zero branches)"};

typedef struct {
    const char *name;
    ModelConfig c;
    int keep_layers, keep_groups, keep_inter, keep_dim; // target counts
} Shape;

// Host gate arrays (NULL = not learned), owned.
typedef struct { float *z[FINALIZE_N_TYPES]; } HostGates;

static FinalizeGates as_finalize(const HostGates *h) {
    FinalizeGates g = {h->z[0], h->z[1], h->z[2], h->z[3], h->z[4], h->z[5]};
    return g;
}

// A row of n gates with exactly k nonzero, at random positions; nonzeros near 0.996 (style 0) or in (0.5, 1).
static void make_row(float *z, int n, int k, int style) {
    int *perm = shear_malloc((size_t)n * sizeof(int));
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(urand() * (i + 1));
        int t = perm[i]; perm[i] = perm[j]; perm[j] = t;
    }
    for (int i = 0; i < n; i++) {
        double u = urand();
        z[perm[i]] = i < n - k ? 0.0f : (float)(style == 0 ? 0.996 + 0.003 * (2 * u - 1) : 0.5 + 0.5 * (0.001 + 0.998 * u));
    }
    free(perm);
}

static float *alloc_row(size_t n) { return shear_malloc(n * sizeof(float)); }

// types: bit 0 layer, 1 head, 2 intermediate, 3 hidden; mode says which layer-type gates and whether they zero.
static void make_gates(HostGates *h, const Shape *s, int types, LayerMode mode, int style) {
    const ModelConfig *c = &s->c;
    int L = c->n_layers, G = c->n_kv_heads, I = c->intermediate;
    memset(h, 0, sizeof *h);
    if (mode == LAYER_KEEP || mode == LAYER_PRUNE) {
        h->z[0] = alloc_row((size_t)L);
        make_row(h->z[0], L, mode == LAYER_PRUNE ? s->keep_layers : L, style);
    }
    if (mode == COFI_KEEP || mode == COFI_ZERO) {
        h->z[1] = alloc_row((size_t)L);
        h->z[2] = alloc_row((size_t)L);
        make_row(h->z[1], L, L, style);
        make_row(h->z[2], L, L, style);
        if (mode == COFI_ZERO) { // attention off in layer 1, MLP off in layer 3, both off in the last layer
            h->z[1][1] = 0.0f;
            h->z[2][3] = 0.0f;
            h->z[1][L - 1] = h->z[2][L - 1] = 0.0f;
        }
    }
    if (types & 2) {
        h->z[3] = alloc_row((size_t)L * G);
        for (int l = 0; l < L; l++) make_row(h->z[3] + (size_t)l * G, G, s->keep_groups, style);
    }
    if (types & 4) {
        h->z[4] = alloc_row((size_t)L * I);
        for (int l = 0; l < L; l++) make_row(h->z[4] + (size_t)l * I, I, s->keep_inter, style);
    }
    if (types & 8) {
        h->z[5] = alloc_row((size_t)c->dim);
        make_row(h->z[5], c->dim, s->keep_dim, style);
    }
}

static void free_gates(HostGates *h) {
    for (int t = 0; t < FINALIZE_N_TYPES; t++) free(h->z[t]);
    memset(h, 0, sizeof *h);
}

// A source model with random weights and random norm weights (so folding into the norms is visible).
static void make_source(Model *m, const ModelConfig *c) {
    model_create(m, ops_cpu(), c);
    model_init_weights(m, SEED, 0.25f);
    for (int i = 0; i < m->table.n; i++) {
        const ParamInfo *p = &m->table.p[i];
        if (p->ndim != 1) continue;
        float *h = alloc_row(p->numel);
        for (size_t j = 0; j < p->numel; j++) h[j] = (float)(0.5 + urand());
        m->ops->upload(m->w + p->offset, h, p->numel * sizeof(float));
        free(h);
    }
}

static float *get_tensor(const Model *m, const char *name) {
    int i = param_table_find(&m->table, name);
    if (i < 0) SHEAR_DIE("test: tensor '%s' missing", name);
    const ParamInfo *p = &m->table.p[i];
    float *h = alloc_row(p->numel);
    m->ops->download(h, m->w + p->offset, p->numel * sizeof(float));
    return h;
}

// logits [B*T, V] of m under host gates h (NULL = no gates)
static float *logits_of(Model *m, const HostGates *h, const int32_t *tok) {
    const ShearOps *o = m->ops;
    const ModelConfig *c = &m->cfg;
    size_t numel[FINALIZE_N_TYPES] = {(size_t)c->n_layers, (size_t)c->n_layers, (size_t)c->n_layers,
                                      (size_t)c->n_layers * c->n_kv_heads, (size_t)c->n_layers * c->intermediate,
                                      (size_t)c->dim};
    ModelGates mg;
    memset(&mg, 0, sizeof mg);
    const float **dev[FINALIZE_N_TYPES] = {&mg.layer, &mg.head_layer, &mg.mlp, &mg.head, &mg.intermediate, &mg.hidden};
    for (int t = 0; h && t < FINALIZE_N_TYPES; t++) {
        if (!h->z[t]) continue;
        float *d = o->alloc(numel[t] * sizeof(float));
        o->upload(d, h->z[t], numel[t] * sizeof(float));
        *dev[t] = d;
    }
    int32_t tgt[B * T];
    for (int i = 0; i < B * T; i++) tgt[i] = -1;
    model_alloc_acts(m, B, T);
    float *logits = alloc_row((size_t)B * T * c->vocab);
    model_forward(m, B, tok, tgt, h ? &mg : NULL, NULL, logits);
    for (int t = 0; t < FINALIZE_N_TYPES; t++)
        if (*dev[t]) o->free((void *)*dev[t]);
    return logits;
}

// kept indices of a row (NULL = all)
static int kept(const float *z, int n, int *idx) {
    int k = 0;
    for (int i = 0; i < n; i++)
        if (!z || z[i] != 0.0f) idx[k++] = i;
    return k;
}

// dst[r, c] == src[rows[r], cols[c]] * (scale ? scale[r] : 1) bit for bit; cols NULL = identity (1-D: nc 1)
static int same_slice(const float *dst, const float *src, size_t ld, const int *rows, int nr, const int *cols, int nc,
                      const float *scale) {
    for (int r = 0; r < nr; r++)
        for (int c = 0; c < nc; c++) {
            float want = src[(size_t)rows[r] * ld + (size_t)(cols ? cols[c] : c)];
            if (scale) want *= scale[r];
            if (memcmp(&want, &dst[(size_t)r * nc + c], sizeof(float)) != 0) return 0;
        }
    return 1;
}

// Every tensor of dst against the source, with indices derived here from the gates.
static void check_tensors(const Model *src, const Model *dst, const HostGates *h, const char *what) {
    const ModelConfig *c = &src->cfg, *t = &dst->cfg;
    int L = c->n_layers, G = c->n_kv_heads, I = c->intermediate, d = c->dim, hd = c->head_dim;
    int rep = c->n_heads / G;
    int *kd = shear_malloc((size_t)d * sizeof(int)), *kl = shear_malloc((size_t)L * sizeof(int));
    int *kg = shear_malloc((size_t)G * sizeof(int)), *ki = shear_malloc((size_t)I * sizeof(int));
    int *rq = shear_malloc((size_t)c->n_heads * hd * sizeof(int)), *rkv = shear_malloc((size_t)G * hd * sizeof(int));
    int *vocab = shear_malloc((size_t)c->vocab * sizeof(int));
    float *hk = alloc_row((size_t)d), *sv = alloc_row((size_t)G * hd), *so = alloc_row((size_t)d);
    float *sd = alloc_row((size_t)d), *su = alloc_row((size_t)I);
    int nd = kept(h->z[5], d, kd), nl = kept(h->z[0], L, kl);
    for (int j = 0; j < nd; j++) hk[j] = h->z[5] ? h->z[5][kd[j]] : 1.0f;
    for (int v = 0; v < c->vocab; v++) vocab[v] = v;
    int ok = nd == t->dim && nl == t->n_layers;
    char sn[128], dn[128];
#define PAIR(fmt, ls, ld_) do { snprintf(sn, sizeof sn, fmt, ls); snprintf(dn, sizeof dn, fmt, ld_); } while (0)
#define CMP(rows, nr, cols, nc, scale) do { float *a = get_tensor(src, sn), *b = get_tensor(dst, dn); \
        int i_ = param_table_find(&src->table, sn); size_t ld_ = src->table.p[i_].ndim == 2 ? (size_t)src->table.p[i_].shape[1] : 1; \
        if (!same_slice(b, a, ld_, rows, nr, cols, nc, scale)) { ok = 0; printf("  tensor %s (from %s) differs\n", dn, sn); } \
        free(a); free(b); } while (0)
    PAIR("%s", "model.embed_tokens.weight", "model.embed_tokens.weight");
    CMP(vocab, c->vocab, kd, nd, NULL); // sliced, not scaled
    if (!c->tie_embeddings) {
        PAIR("%s", "lm_head.weight", "lm_head.weight");
        CMP(vocab, c->vocab, kd, nd, NULL);
    } else if (param_table_find(&dst->table, "lm_head.weight") >= 0) {
        ok = 0;
        printf("  a tied source gave an lm_head\n");
    }
    PAIR("%s", "model.norm.weight", "model.norm.weight");
    CMP(kd, nd, NULL, 1, hk);
    for (int j = 0; ok && j < nl; j++) {
        int l = kl[j];
        float lay = h->z[0] ? h->z[0][l] : 1.0f;
        float a = lay * (h->z[1] ? h->z[1][l] : 1.0f), m = lay * (h->z[2] ? h->z[2][l] : 1.0f);
        int ng = kept(h->z[3] ? h->z[3] + (size_t)l * G : NULL, G, kg);
        int ni = kept(h->z[4] ? h->z[4] + (size_t)l * I : NULL, I, ki);
        if (ng != t->n_kv_heads || ng * rep != t->n_heads || ni != t->intermediate) { ok = 0; break; }
        int nq = 0, nkv = 0;
        for (int g = 0; g < ng; g++) {
            for (int r = 0; r < rep; r++)
                for (int e = 0; e < hd; e++) rq[nq++] = (kg[g] * rep + r) * hd + e;
            for (int e = 0; e < hd; e++) {
                sv[nkv] = h->z[3] ? h->z[3][(size_t)l * G + kg[g]] : 1.0f;
                rkv[nkv++] = kg[g] * hd + e;
            }
        }
        for (int r = 0; r < nd; r++) { so[r] = hk[r] * a; sd[r] = hk[r] * m; }
        for (int r = 0; r < ni; r++) su[r] = h->z[4] ? h->z[4][(size_t)l * I + ki[r]] : 1.0f;
        PAIR("model.layers.%d.self_attn.q_proj.weight", l, j);
        CMP(rq, nq, kd, nd, NULL);
        PAIR("model.layers.%d.self_attn.k_proj.weight", l, j);
        CMP(rkv, nkv, kd, nd, NULL);
        PAIR("model.layers.%d.self_attn.v_proj.weight", l, j);
        CMP(rkv, nkv, kd, nd, sv);
        PAIR("model.layers.%d.self_attn.o_proj.weight", l, j);
        CMP(kd, nd, rq, nq, so);
        PAIR("model.layers.%d.mlp.gate_proj.weight", l, j);
        CMP(ki, ni, kd, nd, NULL);
        PAIR("model.layers.%d.mlp.up_proj.weight", l, j);
        CMP(ki, ni, kd, nd, su);
        PAIR("model.layers.%d.mlp.down_proj.weight", l, j);
        CMP(kd, nd, ki, ni, sd);
        PAIR("model.layers.%d.input_layernorm.weight", l, j);
        CMP(kd, nd, NULL, 1, hk);
        PAIR("model.layers.%d.post_attention_layernorm.weight", l, j);
        CMP(kd, nd, NULL, 1, hk);
        if (c->qkv_bias) { // rows as their weights', v's scaled by the head gate
            PAIR("model.layers.%d.self_attn.q_proj.bias", l, j);
            CMP(rq, nq, NULL, 1, NULL);
            PAIR("model.layers.%d.self_attn.k_proj.bias", l, j);
            CMP(rkv, nkv, NULL, 1, NULL);
            PAIR("model.layers.%d.self_attn.v_proj.bias", l, j);
            CMP(rkv, nkv, NULL, 1, sv);
        }
        if (c->qk_norm) { // whole: one weight per head_dim position
            int *all = shear_malloc((size_t)hd * sizeof(int));
            for (int e = 0; e < hd; e++) all[e] = e;
            PAIR("model.layers.%d.self_attn.q_norm.weight", l, j);
            CMP(all, hd, NULL, 1, NULL);
            PAIR("model.layers.%d.self_attn.k_norm.weight", l, j);
            CMP(all, hd, NULL, 1, NULL);
            free(all);
        }
    }
#undef CMP
#undef PAIR
    CHECK(ok, "%s: tensors are not the folded, ascending slices of the kept source layers", what);
    free(kd); free(kl); free(kg); free(ki); free(rq); free(rkv); free(vocab);
    free(hk); free(sv); free(so); free(sd); free(su);
}

static void run_case(const Shape *s, Model *src, int types, LayerMode mode, int style, const int32_t *tok) {
    HostGates h;
    make_gates(&h, s, types, mode, style);
    char what[256];
    snprintf(what, sizeof what, "%s %s%s%s%s layer-mode %s values %s", s->name, types & 1 ? "L" : "-",
             types & 2 ? "H" : "-", types & 4 ? "I" : "-", types & 8 ? "D" : "-", LAYER_MODE_NAME[mode],
             style == 0 ? "~0.996" : "(0.5,1)");
    int any = h.z[0] || h.z[1] || h.z[3] || h.z[4] || h.z[5];
    float *ref = logits_of(src, any ? &h : NULL, tok);

    FinalizeGates g = as_finalize(&h);
    Model dst;
    ModelConfig tgt;
    finalize_model(src, &g, &dst, &tgt);
    const ModelConfig *c = &s->c;
    ModelConfig want = *c;
    if (mode == LAYER_PRUNE) want.n_layers = s->keep_layers;
    if (types & 2) { want.n_kv_heads = s->keep_groups; want.n_heads = s->keep_groups * (c->n_heads / c->n_kv_heads); }
    if (types & 4) want.intermediate = s->keep_inter;
    if (types & 8) want.dim = s->keep_dim;
    CHECK(memcmp(&tgt, &want, sizeof want) == 0 && memcmp(&dst.cfg, &want, sizeof want) == 0,
          "%s: target shape d=%d L=%d H=%d kv=%d I=%d, expected d=%d L=%d H=%d kv=%d I=%d", what, tgt.dim,
          tgt.n_layers, tgt.n_heads, tgt.n_kv_heads, tgt.intermediate, want.dim, want.n_layers, want.n_heads,
          want.n_kv_heads, want.intermediate);
    check_tensors(src, &dst, &h, what);

    float *got = logits_of(&dst, NULL, tok);
    size_t n = (size_t)B * T * c->vocab;
    double maxref = 0, maxdiff = 0;
    for (size_t i = 0; i < n; i++) {
        if (fabs(ref[i]) > maxref) maxref = fabs(ref[i]);
        if (fabs((double)got[i] - ref[i]) > maxdiff || !isfinite(got[i])) maxdiff = isfinite(got[i]) ? fabs((double)got[i] - ref[i]) : INFINITY;
    }
    double rel = maxdiff / maxref;
    if (getenv("FIN_VERBOSE")) printf("%-70s maxref %8.3f rel %.3g\n", what, maxref, rel);
    if (rel > worst_rel) worst_rel = rel;
    CHECK(maxref > 0.1 && rel <= 1e-5, "%s: logits differ: max |diff| %.3g, max |logit| %.3g (rel %.3g > 1e-5)",
          what, maxdiff, maxref, rel);
    free(ref);
    free(got);
    model_free(&dst);
    free_gates(&h);
}

// ---- errors: finalize_model must die with the named reason ----
typedef struct { const Model *src; HostGates *h; } DieArg;

static void finalize_child(void *p) {
    DieArg *a = p;
    FinalizeGates g = as_finalize(a->h);
    Model dst;
    ModelConfig t;
    finalize_model(a->src, &g, &dst, &t);
}

static void expect_die(const char *what, void (*fn)(void *), void *arg, const char *expect) {
    int fds[2];
    if (pipe(fds) != 0) SHEAR_DIE("pipe");
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        fn(arg);
        _exit(0);
    }
    close(fds[1]);
    char buf[4096];
    size_t n = 0;
    ssize_t got;
    while ((got = read(fds[0], buf + n, sizeof buf - 1 - n)) > 0) n += (size_t)got;
    buf[n] = 0;
    close(fds[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) != 0 && strstr(buf, expect), "%s: expected a non-zero exit naming '%s', got "
          "status %d and: %s", what, expect, WIFEXITED(st) ? WEXITSTATUS(st) : -1, buf);
}

static void error_cases(const Shape *s, Model *src) {
    HostGates h;
    DieArg a = {src, &h};
    make_gates(&h, s, 2, LAYER_NONE, 1);
    // layer 1 keeps one KV group fewer than layer 0
    for (int g = 0; g < s->c.n_kv_heads; g++)
        if (h.z[3][s->c.n_kv_heads + g] != 0.0f) { h.z[3][s->c.n_kv_heads + g] = 0.0f; break; }
    expect_die("inconsistent heads", finalize_child, &a, "inconsistent 'head' counts: source layer 0 keeps");
    free_gates(&h);
    make_gates(&h, s, 4, LAYER_NONE, 1);
    h.z[4][(size_t)2 * s->c.intermediate + 0] = h.z[4][(size_t)2 * s->c.intermediate + 0] ? 0.0f : 0.7f;
    expect_die("inconsistent intermediate", finalize_child, &a, "inconsistent 'intermediate' counts");
    free_gates(&h);
    make_gates(&h, s, 8, LAYER_NONE, 1);
    memset(h.z[5], 0, (size_t)s->c.dim * sizeof(float));
    expect_die("all-zero hidden", finalize_child, &a, "every 'hidden' gate is 0");
    free_gates(&h);
    make_gates(&h, s, 1, LAYER_KEEP, 0);
    memset(h.z[0], 0, (size_t)s->c.n_layers * sizeof(float));
    expect_die("all-zero layer", finalize_child, &a, "every 'layer' gate is 0");
    free_gates(&h);
    make_gates(&h, s, 2, LAYER_KEEP, 0);
    memset(h.z[3], 0, (size_t)s->c.n_layers * s->c.n_kv_heads * sizeof(float));
    expect_die("all-zero head", finalize_child, &a, "every 'head' gate is 0");
    free_gates(&h);
    make_gates(&h, s, 1, LAYER_KEEP, 0);
    h.z[1] = alloc_row((size_t)s->c.n_layers);
    make_row(h.z[1], s->c.n_layers, s->c.n_layers, 0);
    expect_die("layer with head_layer", finalize_child, &a, "in place of 'layer'");
    free_gates(&h);
}

// /masks round trip through a model file; optionally leaves it as OUTDIR/prune_gqa.h5
static void maskfile_roundtrip(const Shape *s, Model *src, const char *outdir) {
    char path[1024];
    snprintf(path, sizeof path, "%s/prune_%s.h5", outdir ? outdir : "/tmp", s->name);
    if (!outdir) snprintf(path, sizeof path, "/tmp/test_finalize_%d_%s.h5", (int)getpid(), s->name);
    modelfile_save(path, src, "model:\n  dim: 30\n");
    HostGates h;
    make_gates(&h, s, 2 | 4 | 8, LAYER_PRUNE, 1);
    FinalizeGates g = as_finalize(&h);
    maskfile_write(path, &g, &src->cfg);
    maskfile_write(path, &g, &src->cfg); // a second write replaces /masks
    FinalizeGates r;
    float *block = maskfile_read(path, &src->cfg, &r);
    const float *zr[FINALIZE_N_TYPES] = {r.layer, r.head_layer, r.mlp, r.head, r.intermediate, r.hidden};
    size_t numel[FINALIZE_N_TYPES] = {(size_t)s->c.n_layers, (size_t)s->c.n_layers, (size_t)s->c.n_layers,
                                      (size_t)s->c.n_layers * s->c.n_kv_heads,
                                      (size_t)s->c.n_layers * s->c.intermediate, (size_t)s->c.dim};
    int ok = 1;
    for (int t = 0; t < FINALIZE_N_TYPES; t++) {
        if (!h.z[t] != !zr[t]) ok = 0;
        else if (h.z[t] && memcmp(h.z[t], zr[t], numel[t] * sizeof(float)) != 0) ok = 0;
    }
    CHECK(ok, "%s: /masks read back differs from what was written", s->name);
    ModelConfig fc;
    modelfile_read_config(path, &fc);
    CHECK(memcmp(&fc, &src->cfg, sizeof fc) == 0, "%s: the prune output's /config is not the source shape", s->name);
    free(block);
    free_gates(&h);
    if (!outdir) unlink(path);
    else printf("wrote %s\n", path);
}

int main(int argc, char **argv) {
    ops_cpu_set_threads(1);
    // MHA: 5 layers keep 3, 4 heads keep 2, 20 channels keep 13, d 24 keep 16.
    // GQA: 6 heads in 3 KV groups (2 per group) keep 2 groups, head_dim 8 != d / heads.
    // qwen2: GQA with q/k/v biases (v's scaled by the folded head gate) and a tied embedding (sliced once);
    // qwen3: q/k norms over head_dim (kept whole under head pruning), tied.
#define SHAPE_CFG(d_, L_, H_, G_, hd_, I_) .dim = d_, .n_layers = L_, .n_heads = H_, .n_kv_heads = G_, .head_dim = hd_, \
        .intermediate = I_, .vocab = 64, .rope = {.theta = 10000.0f}, .norm_eps = 1e-5f
    const Shape shapes[] = {
        {"mha", {SHAPE_CFG(24, 5, 4, 4, 6, 20)}, 3, 2, 13, 16},
        {"gqa", {SHAPE_CFG(30, 5, 6, 3, 8, 22)}, 3, 2, 15, 19},
        {"qwen2", {SHAPE_CFG(30, 5, 6, 3, 8, 22), .family = FAMILY_QWEN2, .tie_embeddings = 1, .qkv_bias = 1}, 3, 2, 15,
         19},
        {"qwen3", {SHAPE_CFG(24, 5, 6, 3, 10, 20), .family = FAMILY_QWEN3, .tie_embeddings = 1, .qk_norm = 1}, 3, 2, 13,
         16},
    };
#undef SHAPE_CFG
    const int n_shapes = (int)(sizeof shapes / sizeof shapes[0]);
    int32_t tok[B * T];
    for (int i = 0; i < B * T; i++) tok[i] = (int32_t)(urand() * 64);
    int cases = 0;
    for (int si = 0; si < n_shapes; si++) {
        Model src;
        make_source(&src, &shapes[si].c);
        for (int types = 0; types < 16; types++)
            for (int mode = 0; mode < N_LAYER_MODES; mode++) {
                // the layer bit of the subset picks layer gates (pruning on or off); without it: none or CoFi
                int has_layer = types & 1;
                if (has_layer != (mode == LAYER_KEEP || mode == LAYER_PRUNE)) continue;
                for (int style = 0; style < 2; style++, cases++)
                    run_case(&shapes[si], &src, types, (LayerMode)mode, style, tok);
            }
        error_cases(&shapes[si], &src);
        maskfile_roundtrip(&shapes[si], &src, si == 1 && argc > 1 ? argv[1] : NULL);
        // the summary names the kept structures
        HostGates h;
        make_gates(&h, &shapes[si], 15, LAYER_PRUNE, 0);
        FinalizeGates g = as_finalize(&h);
        char *buf = NULL;
        size_t len = 0;
        FILE *mf = open_memstream(&buf, &len);
        finalize_summary(&src, &g, mf);
        fclose(mf);
        char want[128];
        snprintf(want, sizeof want, "layers: %d of %d kept", shapes[si].keep_layers, shapes[si].c.n_layers);
        CHECK(strstr(buf, want) && strstr(buf, "target: d=") && !strstr(buf, "NOT a LLaMA"),
              "%s: summary lacks '%s' or the target line:\n%s", shapes[si].name, want, buf);
        if (si == 1) fputs(buf, stdout);
        free(buf);
        free_gates(&h);
        model_free(&src);
    }
    printf("%d finalize cases, worst logits rel diff %.3g; %d checks passed, %d failed\n", cases, worst_rel, n_pass,
           n_fail);
    return n_fail ? 1 : 0;
}
