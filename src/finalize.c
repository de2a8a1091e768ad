// Finalization: fold the kept gate values into the weights once, slice, renumber (see finalize.h).
#include "shear/finalize.h"

#include <math.h>
#include <string.h>

#include "shear/common.h"

const char *const FINALIZE_GATE_NAMES[FINALIZE_N_TYPES] = {"layer", "head_layer", "mlp", "head", "intermediate",
                                                           "hidden"};

// What survives, as ascending source indices. Rows of per-layer types are stored for every source layer.
typedef struct {
    int L, G, I, d;
    int n_layers;   // kept layers
    int *layers;    // [L] source index of kept layer j (first n_layers used)
    int n_d;
    int *kd;        // [d] kept residual channels (first n_d used)
    float *hk;      // [d] their hidden gate values
    int *n_kg;      // [L] kept KV groups per source layer
    int *kg;        // [L, G] kept groups of layer l in row l (first n_kg[l] used)
    int *n_ki;      // [L] kept MLP channels per source layer
    int *ki;        // [L, I] kept channels of layer l in row l (first n_ki[l] used)
    float *a_scale; // [L] layer * head_layer: folded into o_proj
    float *m_scale; // [L] layer * mlp: folded into down_proj
    char err[512];  // why this is not a LLaMA shape ("" when it is)
} Plan;

static float gate_at(const float *z, size_t i) { return z ? z[i] : 1.0f; }

// Kept indices of a row of n gates (z NULL = all kept); returns the count.
static int kept_of(const float *z, int n, int *idx) {
    int k = 0;
    for (int i = 0; i < n; i++)
        if (gate_at(z, (size_t)i) != 0.0f) idx[k++] = i;
    return k;
}

static int all_zero(const float *z, size_t n) {
    if (!z) return 0;
    for (size_t i = 0; i < n; i++)
        if (z[i] != 0.0f) return 0;
    return 1;
}

// The six fields in FINALIZE_GATE_NAMES order.
static void gate_list(const FinalizeGates *g, const float *z[FINALIZE_N_TYPES]) {
    z[0] = g->layer; z[1] = g->head_layer; z[2] = g->mlp; z[3] = g->head; z[4] = g->intermediate; z[5] = g->hidden;
}

static void plan_free(Plan *p) {
    free(p->layers); free(p->kd); free(p->hk); free(p->n_kg); free(p->kg); free(p->n_ki); free(p->ki);
    free(p->a_scale); free(p->m_scale);
    memset(p, 0, sizeof *p);
}

static void plan_build(Plan *p, const ModelConfig *c, const FinalizeGates *g) {
    memset(p, 0, sizeof *p);
    int L = p->L = c->n_layers, G = p->G = c->n_kv_heads, I = p->I = c->intermediate, d = p->d = c->dim;
    p->layers = shear_malloc((size_t)L * sizeof(int));
    p->kd = shear_malloc((size_t)d * sizeof(int));
    p->hk = shear_malloc((size_t)d * sizeof(float));
    p->n_kg = shear_malloc((size_t)L * sizeof(int));
    p->kg = shear_malloc((size_t)L * G * sizeof(int));
    p->n_ki = shear_malloc((size_t)L * sizeof(int));
    p->ki = shear_malloc((size_t)L * I * sizeof(int));
    p->a_scale = shear_malloc((size_t)L * sizeof(float));
    p->m_scale = shear_malloc((size_t)L * sizeof(float));
#define ERR(...) do { if (!p->err[0]) snprintf(p->err, sizeof p->err, __VA_ARGS__); } while (0)
    const float *z[FINALIZE_N_TYPES];
    gate_list(g, z);
    const size_t numel[FINALIZE_N_TYPES] = {(size_t)L, (size_t)L, (size_t)L, (size_t)L * G, (size_t)L * I, (size_t)d};
    if (g->layer && (g->head_layer || g->mlp))
        ERR("gates 'head_layer'/'mlp' are used in place of 'layer', not together with it");
    for (int t = 0; t < FINALIZE_N_TYPES; t++) {
        for (size_t i = 0; z[t] && i < numel[t]; i++)
            if (!isfinite(z[t][i])) ERR("gate '%s' element %zu is %g, expected a finite value", FINALIZE_GATE_NAMES[t], i,
                                        (double)z[t][i]);
        if (all_zero(z[t], numel[t]))
            ERR("every '%s' gate is 0: the whole type is pruned away, which leaves no LLaMA (expected a target "
                "count >= 1)", FINALIZE_GATE_NAMES[t]);
    }

    p->n_d = kept_of(g->hidden, d, p->kd);
    for (int j = 0; j < p->n_d; j++) p->hk[j] = gate_at(g->hidden, (size_t)p->kd[j]);
    int first = -1; // first kept source layer: the one whose counts every other must match
    for (int l = 0; l < L; l++) {
        float lay = gate_at(g->layer, (size_t)l);
        p->a_scale[l] = lay * gate_at(g->head_layer, (size_t)l);
        p->m_scale[l] = lay * gate_at(g->mlp, (size_t)l);
        p->n_kg[l] = kept_of(g->head ? g->head + (size_t)l * G : NULL, G, p->kg + (size_t)l * G);
        p->n_ki[l] = kept_of(g->intermediate ? g->intermediate + (size_t)l * I : NULL, I, p->ki + (size_t)l * I);
        if (lay == 0.0f) continue;
        p->layers[p->n_layers++] = l;
        if (p->n_kg[l] == 0)
            ERR("source layer %d is kept but every one of its %d 'head' gates is 0 (a LLaMA layer needs >= 1 head)",
                l, G);
        if (p->n_ki[l] == 0)
            ERR("source layer %d is kept but every one of its %d 'intermediate' gates is 0 (a LLaMA layer needs "
                ">= 1 MLP channel)", l, I);
        if (first < 0) {
            first = l;
            continue;
        }
        if (p->n_kg[l] != p->n_kg[first])
            ERR("inconsistent 'head' counts: source layer %d keeps %d of %d KV groups but source layer %d keeps %d; "
                "a LLaMA has the same number in every layer (finalize needs exact target counts per row; a run with "
                "prune.uniform: 0 gives layers different widths: validation/nonuniform.py evaluates those)",
                first, p->n_kg[first], G, l, p->n_kg[l]);
        if (p->n_ki[l] != p->n_ki[first])
            ERR("inconsistent 'intermediate' counts: source layer %d keeps %d of %d channels but source layer %d "
                "keeps %d; a LLaMA has the same number in every layer (finalize needs exact target counts per row; a run with "
                "prune.uniform: 0 gives layers different widths: validation/nonuniform.py evaluates those)",
                first, p->n_ki[first], I, l, p->n_ki[l]);
    }
#undef ERR
}

static void plan_target(const Plan *p, const ModelConfig *src, ModelConfig *t) {
    int f = p->layers[0];
    *t = *src;
    t->dim = p->n_d;
    t->n_layers = p->n_layers;
    t->n_kv_heads = p->n_kg[f];
    t->n_heads = p->n_kg[f] * (src->n_heads / src->n_kv_heads);
    t->intermediate = p->n_ki[f];
}

// out[nr, nc] = in[rows[i], cols[j]] * (scale ? scale[i] : 1); in has ld columns; rows / cols NULL = 0..n-1.
static void slice(float *out, const float *in, size_t ld, const int *rows, int nr, const int *cols, int nc,
                  const float *scale) {
    for (int i = 0; i < nr; i++) {
        const float *src = in + (size_t)(rows ? rows[i] : i) * ld;
        float *dst = out + (size_t)i * nc;
        if (scale) {
            float s = scale[i];
            for (int j = 0; j < nc; j++) dst[j] = src[cols ? cols[j] : j] * s;
        } else {
            for (int j = 0; j < nc; j++) dst[j] = src[cols ? cols[j] : j];
        }
    }
}

static const ParamInfo *find_param(const ParamTable *t, ParamKind kind, int layer) {
    for (int i = 0; i < t->n; i++)
        if (t->p[i].kind == kind && t->p[i].layer == layer) return &t->p[i];
    SHEAR_DIE("internal: no tensor of kind %d in layer %d", (int)kind, layer);
}

void finalize_model(const Model *src, const FinalizeGates *g, Model *dst, ModelConfig *tgt) {
    const ModelConfig *c = &src->cfg;
    Plan p;
    plan_build(&p, c, g);
    if (p.err[0]) SHEAR_DIE("finalize: %s", p.err);
    plan_target(&p, c, tgt);
    model_create(dst, src->ops, tgt);

    const int hd = c->head_dim, n_rep = c->n_heads / c->n_kv_heads, G = c->n_kv_heads, I = c->intermediate;
    const int qT = tgt->n_heads * hd, kvT = tgt->n_kv_heads * hd, IT = tgt->intermediate, dT = tgt->dim;
    size_t max_src = 0, max_dst = 0;
    for (int i = 0; i < src->table.n; i++)
        if (src->table.p[i].numel > max_src) max_src = src->table.p[i].numel;
    for (int i = 0; i < dst->table.n; i++)
        if (dst->table.p[i].numel > max_dst) max_dst = dst->table.p[i].numel;
    float *hin = shear_malloc(max_src * sizeof(float));  // [numel] one source tensor on the host
    float *hout = shear_malloc(max_dst * sizeof(float)); // [numel] its finalized form
    int *rows_q = shear_malloc((size_t)(qT > 1 ? qT : 1) * sizeof(int));   // [H_T*hd] kept q rows / o columns
    int *rows_kv = shear_malloc((size_t)(kvT > 1 ? kvT : 1) * sizeof(int)); // [G_T*hd] kept k/v rows
    float *rs_v = shear_malloc((size_t)(kvT > 1 ? kvT : 1) * sizeof(float)); // [G_T*hd] head gate per v row
    float *rs_up = shear_malloc((size_t)IT * sizeof(float));               // [I_T] intermediate gate per up row
    float *rs_out = shear_malloc((size_t)dT * sizeof(float));              // [d_T] hidden * branch gate per row

    for (int i = 0; i < dst->table.n; i++) {
        const ParamInfo *o = &dst->table.p[i];
        int l = o->layer >= 0 ? p.layers[o->layer] : -1; // source layer
        const ParamInfo *s = find_param(&src->table, o->kind, l);
        src->ops->download(hin, src->w + s->offset, s->numel * sizeof(float));
        size_t ld = s->ndim == 2 ? (size_t)s->shape[1] : 1;
        const int *kg = l >= 0 ? p.kg + (size_t)l * G : NULL, *ki = l >= 0 ? p.ki + (size_t)l * I : NULL;
        if (l >= 0) {
            int nq = 0, nkv = 0;
            for (int a = 0; a < p.n_kg[l]; a++) {
                for (int r = 0; r < n_rep; r++)
                    for (int t = 0; t < hd; t++) rows_q[nq++] = (kg[a] * n_rep + r) * hd + t;
                for (int t = 0; t < hd; t++) {
                    rs_v[nkv] = gate_at(g->head, (size_t)l * G + kg[a]);
                    rows_kv[nkv++] = kg[a] * hd + t;
                }
            }
        }
        switch (o->kind) {
        case P_EMBED:
        case P_HEAD: // columns only: the embedding output is not gated, and lm_head reads the gated final norm
                     // (a tied embedding is one tensor, sliced once here)
            slice(hout, hin, ld, NULL, o->shape[0], p.kd, dT, NULL);
            break;
        case P_NORM_ATTN:
        case P_NORM_MLP:
        case P_NORM_FINAL: // a 1-D slice: rows of a column vector
            slice(hout, hin, 1, p.kd, dT, NULL, 1, p.hk);
            break;
        case P_Q:
            slice(hout, hin, ld, rows_q, qT, p.kd, dT, NULL);
            break;
        case P_K:
            slice(hout, hin, ld, rows_kv, kvT, p.kd, dT, NULL);
            break;
        case P_V:
            slice(hout, hin, ld, rows_kv, kvT, p.kd, dT, g->head ? rs_v : NULL);
            break;
        case P_O:
            for (int j = 0; j < dT; j++) rs_out[j] = p.hk[j] * p.a_scale[l];
            slice(hout, hin, ld, p.kd, dT, rows_q, qT, rs_out);
            break;
        case P_Q_BIAS: // biases follow their rows; v's is scaled by the head gate like the v rows
            slice(hout, hin, 1, rows_q, qT, NULL, 1, NULL);
            break;
        case P_K_BIAS:
            slice(hout, hin, 1, rows_kv, kvT, NULL, 1, NULL);
            break;
        case P_V_BIAS:
            slice(hout, hin, 1, rows_kv, kvT, NULL, 1, g->head ? rs_v : NULL);
            break;
        case P_Q_NORM:
        case P_K_NORM: // one weight per head_dim shared by every head: untouched by head pruning
            slice(hout, hin, 1, NULL, hd, NULL, 1, NULL);
            break;
        case P_N_KINDS:
            SHEAR_DIE("internal: parameter kind out of range");
        case P_GATE:
            slice(hout, hin, ld, ki, IT, p.kd, dT, NULL);
            break;
        case P_UP:
            for (int j = 0; j < IT; j++) rs_up[j] = gate_at(g->intermediate, (size_t)l * I + ki[j]);
            slice(hout, hin, ld, ki, IT, p.kd, dT, g->intermediate ? rs_up : NULL);
            break;
        case P_DOWN:
            for (int j = 0; j < dT; j++) rs_out[j] = p.hk[j] * p.m_scale[l];
            slice(hout, hin, ld, p.kd, dT, ki, IT, rs_out);
            break;
        }
        dst->ops->upload(dst->w + o->offset, hout, o->numel * sizeof(float));
    }
    free(hin); free(hout); free(rows_q); free(rows_kv); free(rs_v); free(rs_up); free(rs_out);
    plan_free(&p);
}

// "0-5,7,9-12" for ascending idx[n], at most max_ranges ranges, then "... (+k ranges)".
static void print_ranges(FILE *out, const int *idx, int n, int max_ranges) {
    int shown = 0, total = 0;
    for (int i = 0; i < n;) {
        int j = i;
        while (j + 1 < n && idx[j + 1] == idx[j] + 1) j++;
        if (shown < max_ranges) {
            fprintf(out, "%s%d", shown ? "," : "", idx[i]);
            if (j > i) fprintf(out, "-%d", idx[j]);
            shown++;
        }
        total++;
        i = j + 1;
    }
    if (total > shown) fprintf(out, ",... (+%d ranges)", total - shown);
}

void finalize_summary(const Model *src, const FinalizeGates *g, FILE *out) {
    const ModelConfig *c = &src->cfg;
    Plan p;
    plan_build(&p, c, g);
    int n_rep = c->n_heads / c->n_kv_heads;
    fprintf(out, "finalize: source d=%d L=%d H=%d kv=%d hd=%d I=%d V=%d (%.3fM params)\n", c->dim, c->n_layers,
            c->n_heads, c->n_kv_heads, c->head_dim, c->intermediate, c->vocab, model_param_count(c) / 1e6);
    fprintf(out, "  masks learned:");
    const float *z[FINALIZE_N_TYPES];
    gate_list(g, z);
    for (int t = 0; t < FINALIZE_N_TYPES; t++)
        if (z[t]) fprintf(out, " %s", FINALIZE_GATE_NAMES[t]);
    fprintf(out, "\n  layers: %d of %d kept: ", p.n_layers, c->n_layers);
    print_ranges(out, p.layers, p.n_layers, 64);
    fprintf(out, "\n  hidden: %d of %d channels kept: ", p.n_d, c->dim);
    print_ranges(out, p.kd, p.n_d, 16);
    fprintf(out, "\n");
    for (int j = 0; j < p.n_layers; j++) {
        int l = p.layers[j];
        fprintf(out, "  layer %d -> %d: heads %d of %d (KV groups ", l, j, p.n_kg[l] * n_rep, c->n_heads);
        print_ranges(out, p.kg + (size_t)l * p.G, p.n_kg[l], 16);
        fprintf(out, "); intermediate %d of %d: ", p.n_ki[l], c->intermediate);
        print_ranges(out, p.ki + (size_t)l * p.I, p.n_ki[l], 8);
        if (p.a_scale[l] == 0.0f) fprintf(out, "; attention branch gated off (o_proj folds to zeros)");
        if (p.m_scale[l] == 0.0f) fprintf(out, "; MLP branch gated off (down_proj folds to zeros)");
        fprintf(out, "\n");
    }
    if (p.err[0]) {
        fprintf(out, "  NOT a LLaMA shape: %s\n", p.err);
    } else {
        ModelConfig t;
        plan_target(&p, c, &t);
        fprintf(out, "  target: d=%d L=%d H=%d kv=%d hd=%d I=%d V=%d (%.3fM params)\n", t.dim, t.n_layers,
                t.n_heads, t.n_kv_heads, t.head_dim, t.intermediate, t.vocab, model_param_count(&t) / 1e6);
    }
    plan_free(&p);
}
