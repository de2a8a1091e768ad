// The parameter table, model allocation and weight initialisation. Forward and backward: src/forward.c.
#include "shear/model.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "shear/common.h"

int model_config_check(const ModelConfig *c, char *err, size_t errlen) {
#define BAD(...) do { snprintf(err, errlen, __VA_ARGS__); return -1; } while (0)
    if (c->dim < 1) BAD("dim must be >= 1, got %d", c->dim);
    if (c->n_layers < 1) BAD("n_layers must be >= 1, got %d", c->n_layers);
    if (c->n_heads < 1) BAD("n_heads must be >= 1, got %d", c->n_heads);
    if (c->n_kv_heads < 1 || c->n_heads % c->n_kv_heads != 0)
        BAD("n_kv_heads must divide n_heads (%d), got %d", c->n_heads, c->n_kv_heads);
    if (c->head_dim < 2 || c->head_dim % 2 != 0) BAD("head_dim must be even and >= 2 (RoPE), got %d", c->head_dim);
    if (c->intermediate < 1) BAD("intermediate must be >= 1, got %d", c->intermediate);
    if (c->vocab < 2) BAD("vocab must be >= 2, got %d", c->vocab);
    if (!(c->norm_eps > 0)) BAD("norm_eps must be > 0");
    const char *rope_bad = rope_check(&c->rope);
    if (rope_bad) BAD("%s", rope_bad);
    return 0;
#undef BAD
}

static void add_param(ParamTable *t, int *cap, const char *name, ParamKind kind, int layer, int d0, int d1) {
    if (t->n == *cap) {
        *cap *= 2;
        ParamInfo *np = realloc(t->p, (size_t)*cap * sizeof *np);
        SHEAR_CHECK(np, "out of memory building the parameter table");
        t->p = np;
    }
    ParamInfo *p = &t->p[t->n++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->kind = kind;
    p->layer = layer;
    p->ndim = d1 > 0 ? 2 : 1;
    p->shape[0] = d0;
    p->shape[1] = d1 > 0 ? d1 : 0;
    p->numel = (size_t)d0 * (size_t)(d1 > 0 ? d1 : 1);
    p->offset = t->total;
    // keep every tensor 16-float aligned so vector kernels and GPU copies never straddle tensors
    t->total += (p->numel + 15) & ~(size_t)15;
}

const char *family_name(ShearFamily f) {
    switch (f) {
    case FAMILY_MISTRAL: return "mistral";
    case FAMILY_QWEN2: return "qwen2";
    case FAMILY_QWEN3: return "qwen3";
    default: return "llama";
    }
}

int family_parse(const char *s) {
    for (int f = FAMILY_LLAMA; f <= FAMILY_QWEN3; f++)
        if (strcmp(s, family_name((ShearFamily)f)) == 0) return f;
    return -1;
}

void param_table_build(ParamTable *t, const ModelConfig *c) {
    int cap = 16;
    memset(t, 0, sizeof *t);
    t->p = shear_malloc((size_t)cap * sizeof *t->p);
    int d = c->dim, hd = c->head_dim, qd = c->n_heads * hd, kvd = c->n_kv_heads * hd, I = c->intermediate;
    char name[PARAM_NAME_LEN];
    add_param(t, &cap, "model.embed_tokens.weight", P_EMBED, -1, c->vocab, d);
    for (int l = 0; l < c->n_layers; l++) {
        int first = t->n;
#define LAYER(fmt, kind, d0, d1) do { snprintf(name, sizeof name, "model.layers.%d." fmt, l); \
        t->slot[kind] = t->n - first; add_param(t, &cap, name, kind, l, d0, d1); } while (0)
        LAYER("self_attn.q_proj.weight", P_Q, qd, d);
        LAYER("self_attn.k_proj.weight", P_K, kvd, d);
        LAYER("self_attn.v_proj.weight", P_V, kvd, d);
        LAYER("self_attn.o_proj.weight", P_O, d, qd);
        LAYER("mlp.gate_proj.weight", P_GATE, I, d);
        LAYER("mlp.up_proj.weight", P_UP, I, d);
        LAYER("mlp.down_proj.weight", P_DOWN, d, I);
        LAYER("input_layernorm.weight", P_NORM_ATTN, d, 0);
        LAYER("post_attention_layernorm.weight", P_NORM_MLP, d, 0);
        if (c->qkv_bias) {
            LAYER("self_attn.q_proj.bias", P_Q_BIAS, qd, 0);
            LAYER("self_attn.k_proj.bias", P_K_BIAS, kvd, 0);
            LAYER("self_attn.v_proj.bias", P_V_BIAS, kvd, 0);
        }
        if (c->qk_norm) {
            LAYER("self_attn.q_norm.weight", P_Q_NORM, hd, 0);
            LAYER("self_attn.k_norm.weight", P_K_NORM, hd, 0);
        }
#undef LAYER
        t->per_layer = t->n - first;
    }
    if (!c->qkv_bias) t->slot[P_Q_BIAS] = t->slot[P_K_BIAS] = t->slot[P_V_BIAS] = -1;
    if (!c->qk_norm) t->slot[P_Q_NORM] = t->slot[P_K_NORM] = -1;
    t->norm_final = t->n;
    add_param(t, &cap, "model.norm.weight", P_NORM_FINAL, -1, d, 0);
    t->head = 0;
    if (!c->tie_embeddings) {
        t->head = t->n;
        add_param(t, &cap, "lm_head.weight", P_HEAD, -1, c->vocab, d);
    }
}

void param_table_free(ParamTable *t) {
    free(t->p);
    memset(t, 0, sizeof *t);
}

int param_table_find(const ParamTable *t, const char *name) {
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->p[i].name, name) == 0) return i;
    return -1;
}

size_t model_param_count(const ModelConfig *c) {
    size_t d = (size_t)c->dim, qd = (size_t)c->n_heads * c->head_dim, kvd = (size_t)c->n_kv_heads * c->head_dim;
    size_t per_layer = d * qd * 2 + d * kvd * 2 + 3 * d * (size_t)c->intermediate + 2 * d;
    if (c->qkv_bias) per_layer += qd + 2 * kvd;
    if (c->qk_norm) per_layer += 2 * (size_t)c->head_dim;
    return (c->tie_embeddings ? 1 : 2) * (size_t)c->vocab * d + d + (size_t)c->n_layers * per_layer;
}

static void create(Model *m, const ShearOps *ops, const ModelConfig *c, int grads) {
    memset(m, 0, sizeof *m);
    char err[256];
    if (model_config_check(c, err, sizeof err)) SHEAR_DIE("bad model shape: %s", err);
    m->cfg = *c;
    m->ops = ops;
    param_table_build(&m->table, c);
    m->w = ops->alloc(m->table.total * sizeof(float));
    if (grads) m->g = ops->alloc(m->table.total * sizeof(float));
}

void model_create(Model *m, const ShearOps *ops, const ModelConfig *c) { create(m, ops, c, 1); }

void model_create_frozen(Model *m, const ShearOps *ops, const ModelConfig *c) { create(m, ops, c, 0); }

void model_init_weights(Model *m, uint64_t seed, float std) {
    size_t maxn = 0;
    for (int i = 0; i < m->table.n; i++)
        if (m->table.p[i].numel > maxn) maxn = m->table.p[i].numel;
    float *h = shear_malloc(maxn * sizeof(float)); // [numel] host staging of one tensor
    for (int i = 0; i < m->table.n; i++) {
        const ParamInfo *p = &m->table.p[i];
        if (p->kind == P_Q_BIAS || p->kind == P_K_BIAS || p->kind == P_V_BIAS) {
            for (size_t j = 0; j < p->numel; j++) h[j] = 0.0f;
        } else if (p->ndim == 1) {
            for (size_t j = 0; j < p->numel; j++) h[j] = 1.0f;
        } else {
            // counter = (tensor index, element): any rank, any backend, the same weights
            for (size_t j = 0; j < p->numel; j++)
                h[j] = (float)(std * rng_normal(seed, RNG_STREAM_INIT, ((uint64_t)i << 40) + j));
        }
        m->ops->upload(m->w + p->offset, h, p->numel * sizeof(float));
    }
    free(h);
}

static void free_acts(Model *m) {
    const ShearOps *o = m->ops;
    void *bufs[] = {m->tokens, m->targets, m->x, m->xn1, m->rstd1, m->q, m->k, m->v, m->qraw, m->kraw, m->rstdq, m->rstdk, m->att, m->lse, m->attg,
                    m->ao, m->x_mid, m->xn2, m->rstd2, m->mg, m->mu, m->mug, m->mh, m->mo, m->xnf, m->rstdf,
                    m->s1, m->s2, m->dx, m->dxn, m->dbr, m->dbig, m->dq, m->dk, m->dv, m->dmg, m->dmu};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (bufs[i]) o->free(bufs[i]);
}

void model_set_recompute(Model *m, int on) { m->recompute = on ? 1 : 0; }

void model_alloc_acts(Model *m, int B, int T) {
    const ModelConfig *c = &m->cfg;
    // recompute keeps x for every layer; the per-layer activations of one block are enough
    if (c->sliding_window && T > c->sliding_window)
        SHEAR_DIE("sequences of %d tokens are longer than the model's sliding_window (%d): Shear computes plain causal "
                  "attention, which is the sliding-window attention only up to the window; use sequences of at most "
                  "%d tokens", T, c->sliding_window, c->sliding_window);
    int acts_layers = m->recompute ? 1 : c->n_layers;
    if (m->B == B && m->T == T && m->acts_layers == acts_layers) return;
    if (m->tokens) free_acts(m);
    const ShearOps *o = m->ops;
    m->B = B;
    m->T = T;
    m->acts_layers = acts_layers;
    size_t N = (size_t)B * T, L = (size_t)acts_layers, d = (size_t)c->dim, I = (size_t)c->intermediate;
    size_t qd = (size_t)c->n_heads * c->head_dim, kvd = (size_t)c->n_kv_heads * c->head_dim;
    size_t wide = d > qd ? d : qd;
    if (I > wide) wide = I;
    size_t big = qd > I ? qd : I;
#define F(n) ((float *)o->alloc((n) * sizeof(float)))
    m->tokens = o->alloc(N * sizeof(int32_t));
    m->targets = o->alloc(N * sizeof(int32_t));
    m->x = F(((size_t)c->n_layers + 1) * N * d);
    m->xn1 = F(L * N * d);
    m->rstd1 = F(L * N);
    m->q = F(L * N * qd);
    m->k = F(L * N * kvd);
    m->v = F(L * N * kvd);
    if (c->qk_norm) {
        m->qraw = F(L * N * qd);
        m->kraw = F(L * N * kvd);
        m->rstdq = F(L * N * (size_t)c->n_heads);
        m->rstdk = F(L * N * (size_t)c->n_kv_heads);
    }
    m->att = F(L * N * qd);
    m->lse = F(L * N * (size_t)c->n_heads);
    m->attg = F(L * N * qd);
    m->ao = F(L * N * d);
    m->x_mid = F(L * N * d);
    m->xn2 = F(L * N * d);
    m->rstd2 = F(L * N);
    m->mg = F(L * N * I);
    m->mu = F(L * N * I);
    m->mug = F(L * N * I);
    m->mh = F(L * N * I);
    m->mo = F(L * N * d);
    m->xnf = F(N * d);
    m->rstdf = F(N);
    m->s1 = F(N * wide);
    m->s2 = F(N * wide);
    m->dx = F(N * d);
    m->dxn = F(N * d);
    m->dbr = F(N * d);
    m->dbig = F(N * big);
    m->dq = F(N * qd);
    m->dk = F(N * kvd);
    m->dv = F(N * kvd);
    m->dmg = F(N * I);
    m->dmu = F(N * I);
#undef F
}

void model_free(Model *m) {
    if (m->tokens) free_acts(m);
    if (m->w) m->ops->free(m->w);
    if (m->g) m->ops->free(m->g);
    param_table_free(&m->table);
    memset(m, 0, sizeof *m);
}
