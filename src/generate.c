// Inference with a KV cache: forward.c's block (RMSNorm, q/k/v, RoPE, attention, o_proj, SwiGLU MLP, residual
// adds) on a chunk of rows at an offset in the sequence, the keys and values appended to the cache.
#include "shear/generate.h"

#include <string.h>

#include "shear/common.h"

static inline const float *Wt(const Model *m, int idx) { return m->w + m->table.p[idx].offset; }

void gen_init(Generator *g, Model *m, int max_len, int chunk) {
    SHEAR_CHECK(max_len >= 1 && chunk >= 1, "generator needs max_len >= 1 and chunk >= 1 (got %d, %d)", max_len,
                chunk);
    const ShearOps *o = m->ops;
    const ModelConfig *c = &m->cfg;
    if (c->sliding_window && max_len > c->sliding_window)
        SHEAR_DIE("prompt + new tokens may reach %d positions, beyond the model's sliding_window (%d): Shear computes "
                  "plain causal attention, which is the sliding-window attention only up to the window; ask for fewer "
                  "tokens", max_len, c->sliding_window);
    memset(g, 0, sizeof *g);
    g->m = m;
    g->max_len = max_len;
    g->chunk = chunk < max_len ? chunk : max_len;
    size_t n = (size_t)g->chunk, d = (size_t)c->dim, I = (size_t)c->intermediate;
    size_t qd = (size_t)c->n_heads * c->head_dim, kvd = (size_t)c->n_kv_heads * c->head_dim;
    size_t cache = (size_t)c->n_layers * (size_t)max_len * kvd * sizeof(float);
    g->kc = o->alloc(cache);
    g->vc = o->alloc(cache);
    g->tok = o->alloc(n * sizeof(int32_t));
    g->tgt = o->alloc(sizeof(int32_t));
    int32_t none = -1;
    o->upload(g->tgt, &none, sizeof none);
    g->x = o->alloc(n * d * sizeof(float));
    g->xn = o->alloc(n * d * sizeof(float));
    g->rstd = o->alloc(n * sizeof(float));
    g->q = o->alloc(n * qd * sizeof(float));
    g->att = o->alloc(n * qd * sizeof(float));
    g->k = o->alloc(n * kvd * sizeof(float));
    g->v = o->alloc(n * kvd * sizeof(float));
    g->br = o->alloc(n * d * sizeof(float));
    if (c->qk_norm) {
        g->qraw = o->alloc(n * qd * sizeof(float));
        g->kraw = o->alloc(n * kvd * sizeof(float));
        g->rstdq = o->alloc(n * (size_t)c->n_heads * sizeof(float));
        g->rstdk = o->alloc(n * (size_t)c->n_kv_heads * sizeof(float));
    }
    g->mg = o->alloc(n * I * sizeof(float));
    g->mu = o->alloc(n * I * sizeof(float));
    g->mh = o->alloc(n * I * sizeof(float));
    g->logits = o->alloc((size_t)c->vocab * sizeof(float));
}

void gen_free(Generator *g) {
    if (!g->m) return;
    const ShearOps *o = g->m->ops;
    void *bufs[] = {g->kc, g->vc, g->tok, g->tgt, g->x, g->xn, g->rstd, g->q, g->att, g->k, g->v, g->br,
                    g->qraw, g->kraw, g->rstdq, g->rstdk, g->mg, g->mu, g->mh, g->logits};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (bufs[i]) o->free(bufs[i]);
    memset(g, 0, sizeof *g);
}

void gen_reset(Generator *g) { g->len = 0; }

// One chunk of n <= chunk rows at positions g->len .. g->len + n - 1; the block input is in g->x.
static void feed_chunk(Generator *g, int n) {
    const Model *m = g->m;
    const ShearOps *o = m->ops;
    const ModelConfig *c = &m->cfg;
    int d = c->dim, H = c->n_heads, Hkv = c->n_kv_heads, hd = c->head_dim, I = c->intermediate;
    int qd = H * hd, kvd = Hkv * hd, pos0 = g->len;
    size_t rows = (size_t)n, nd = rows * (size_t)d;
    for (int l = 0; l < c->n_layers; l++) {
        float *kc = g->kc + (size_t)l * g->max_len * kvd, *vc = g->vc + (size_t)l * g->max_len * kvd; // [max_len, kvd]
        o->rmsnorm_fwd(g->xn, g->rstd, g->x, Wt(m, param_index(&m->table, l, P_NORM_ATTN)), NULL, rows, d, c->norm_eps);
        model_qkv_fwd(m, l, g->xn, g->q, g->k, g->v, g->qraw, g->kraw, g->rstdq, g->rstdk, rows);
        o->rope_at_fwd(g->q, n, pos0, H, hd, &c->rope);
        o->rope_at_fwd(g->k, n, pos0, Hkv, hd, &c->rope);
        o->copy(kc + (size_t)pos0 * kvd, g->k, rows * kvd * sizeof(float));
        o->copy(vc + (size_t)pos0 * kvd, g->v, rows * kvd * sizeof(float));
        o->attention_cached_fwd(g->att, g->q, kc, vc, n, pos0, H, Hkv, hd);
        o->matmul_fwd(g->br, g->att, Wt(m, param_index(&m->table, l, P_O)), rows, qd, d);
        o->axpy(g->x, g->br, 1.0f, nd);
        o->rmsnorm_fwd(g->xn, g->rstd, g->x, Wt(m, param_index(&m->table, l, P_NORM_MLP)), NULL, rows, d, c->norm_eps);
        o->matmul_fwd(g->mg, g->xn, Wt(m, param_index(&m->table, l, P_GATE)), rows, d, I);
        o->matmul_fwd(g->mu, g->xn, Wt(m, param_index(&m->table, l, P_UP)), rows, d, I);
        o->swiglu_fwd(g->mh, g->mg, g->mu, rows, I);
        o->matmul_fwd(g->br, g->mh, Wt(m, param_index(&m->table, l, P_DOWN)), rows, I, d);
        o->axpy(g->x, g->br, 1.0f, nd);
    }
    g->len += n;
}

void gen_feed(Generator *g, const int32_t *tok, int n, float *logits_host) {
    const Model *m = g->m;
    const ShearOps *o = m->ops;
    const ModelConfig *c = &m->cfg;
    SHEAR_CHECK(n >= 1, "gen_feed needs at least one token, got %d", n);
    if (n > g->max_len - g->len)
        SHEAR_DIE("the sequence would reach %d positions; the generator holds %d (prompt + new tokens)", g->len + n,
                  g->max_len);
    for (int i = 0; i < n; i++)
        SHEAR_CHECK(tok[i] >= 0 && tok[i] < c->vocab, "token id %d at position %d is outside the model's vocabulary "
                    "(%d)", tok[i], g->len + i, c->vocab);
    int done = 0, last = 0;
    while (done < n) {
        int k = n - done < g->chunk ? n - done : g->chunk;
        o->upload(g->tok, tok + done, (size_t)k * sizeof(int32_t));
        o->embedding_fwd(g->x, g->tok, Wt(m, 0), (size_t)k, c->dim);
        feed_chunk(g, k);
        done += k;
        last = k - 1;
    }
    // the final norm and the classifier on the last row only: generation needs nothing else
    const float *xl = g->x + (size_t)last * c->dim;
    o->rmsnorm_fwd(g->xn, g->rstd, xl, Wt(m, m->table.norm_final), NULL, 1, c->dim, c->norm_eps);
    o->classifier(NULL, NULL, NULL, g->logits, g->xn, Wt(m, m->table.head), g->tgt, 1, c->dim, c->vocab, 0.0f);
    o->download(logits_host, g->logits, (size_t)c->vocab * sizeof(float));
}
