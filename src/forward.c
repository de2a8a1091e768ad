// LLaMA forward and backward over the ops interface, with the pruning gates exactly where
// ../shared/spec/shearing.md section 2 places them:
//   x_mid = x + BranchGates_attn(o_proj(HeadGates(Attn(RoPE(q), RoPE(k), v))))      q,k,v from RMSNorm1(x; hidden)
//   x'    = x_mid + BranchGates_mlp(down(silu(gate(h)) * IntGates(up(h))))         h = RMSNorm2(x_mid; hidden)
// Family options: q/k/v biases after the projections (Qwen2), q_norm / k_norm over head_dim before RoPE (Qwen3),
// the classifier reading the embedding (tied). No gate enters a bias or a q/k norm.
// BranchGates(y) = y * layer_z[l] * hidden_z: the layer (or head_layer / mlp) scalar, then the hidden vector.
#include "shear/model.h"

#include <string.h>

#include "shear/common.h"

typedef struct {
    const float *zl; // [1] layer-type gate of this branch, or NULL
    const float *zh; // [d] hidden gate, or NULL
    float *dzl, *dzh;
} BranchGates;

static BranchGates attn_gates(const ModelGates *g, int l) {
    BranchGates b = {0};
    if (!g) return b;
    if (g->layer) { b.zl = g->layer + l; b.dzl = g->d_layer ? g->d_layer + l : NULL; }
    else if (g->head_layer) { b.zl = g->head_layer + l; b.dzl = g->d_head_layer ? g->d_head_layer + l : NULL; }
    b.zh = g->hidden;
    b.dzh = g->d_hidden;
    return b;
}

static BranchGates mlp_gates(const ModelGates *g, int l) {
    BranchGates b = {0};
    if (!g) return b;
    if (g->layer) { b.zl = g->layer + l; b.dzl = g->d_layer ? g->d_layer + l : NULL; }
    else if (g->mlp) { b.zl = g->mlp + l; b.dzl = g->d_mlp ? g->d_mlp + l : NULL; }
    b.zh = g->hidden;
    b.dzh = g->d_hidden;
    return b;
}

// x_out[N,d] = x_in + y * zl * zh
static void branch_add_fwd(Model *m, float *x_out, const float *x_in, const float *y, const BranchGates *bg, size_t N) {
    const ShearOps *o = m->ops;
    int d = m->cfg.dim;
    const float *cur = y;
    if (bg->zl) { o->gate_fwd(m->s1, cur, bg->zl, N, d, d); cur = m->s1; }
    if (bg->zh) { o->gate_fwd(m->s2, cur, bg->zh, N, d, 1); cur = m->s2; }
    if (x_out != x_in) o->copy(x_out, x_in, N * (size_t)d * sizeof(float));
    o->axpy(x_out, cur, 1.0f, N * (size_t)d);
}

// Given dres = dL/d(branch output after gates) [N,d], writes dy = dL/dy into m->dbr (overwritten) and adds the
// gate gradients. y [N,d] is the branch output before gates.
static void branch_bwd(Model *m, const float *dres, const float *y, const BranchGates *bg, size_t N) {
    const ShearOps *o = m->ops;
    int d = m->cfg.dim;
    size_t nd = N * (size_t)d;
    const float *dcur = dres;
    if (bg->zh) {
        // input of the hidden gate is y * zl: recompute it instead of storing it
        const float *hin = y;
        if (bg->zl) { o->gate_fwd(m->s1, y, bg->zl, N, d, d); hin = m->s1; }
        o->zero(m->s2, nd * sizeof(float));
        o->gate_bwd(m->s2, bg->dzh, dcur, hin, bg->zh, N, d, 1);
        dcur = m->s2;
    }
    o->zero(m->dbr, nd * sizeof(float));
    if (bg->zl) o->gate_bwd(m->dbr, bg->dzl, dcur, y, bg->zl, N, d, d);
    else o->axpy(m->dbr, dcur, 1.0f, nd);
}

static inline float *W(Model *m, int idx) { return m->w + m->table.p[idx].offset; }
static inline float *G(Model *m, int idx) { return m->g + m->table.p[idx].offset; }
static inline const float *Wc(const Model *m, int idx) { return m->w + m->table.p[idx].offset; }

static void upload_batch(Model *m, int B, const int32_t *tokens, const int32_t *targets) {
    SHEAR_CHECK(B >= 1 && B <= m->B, "micro-batch of %d sequences exceeds the allocated %d", B, m->B);
    size_t N = (size_t)B * m->T;
    m->ops->upload(m->tokens, tokens, N * sizeof(int32_t));
    m->ops->upload(m->targets, targets, N * sizeof(int32_t));
}

// One block's activations: layer slot `s` of the per-layer buffers (s = l, or 0 with recompute).
typedef struct {
    float *xn1, *rstd1;        // [N, d], [N]
    float *q, *k, *v;          // [N, H*hd], [N, Hkv*hd], [N, Hkv*hd]
    float *qraw, *kraw;        // [N, H*hd], [N, Hkv*hd] before the q/k norms (NULL without qk_norm)
    float *rstdq, *rstdk;      // [N*H], [N*Hkv]
    float *att, *attg, *lse;   // [N, H*hd], [N, H*hd], [B, H, T]
    float *ao, *xm, *xn2, *rstd2; // [N, d] x3, [N]
    float *mg, *mu, *mug, *mh; // [N, I]
    float *mo;                 // [N, d]
} BlockActs;

static BlockActs block_acts(Model *m, int l) {
    const ModelConfig *c = &m->cfg;
    size_t s = m->recompute ? 0 : (size_t)l, NT = (size_t)m->B * m->T; // NT: stride of per-layer buffers
    size_t d = (size_t)c->dim, I = (size_t)c->intermediate, H = (size_t)c->n_heads;
    size_t qd = H * c->head_dim, kvd = (size_t)c->n_kv_heads * c->head_dim;
    BlockActs a = {
        m->xn1 + s * NT * d, m->rstd1 + s * NT,
        m->q + s * NT * qd, m->k + s * NT * kvd, m->v + s * NT * kvd,
        m->qraw ? m->qraw + s * NT * qd : NULL, m->kraw ? m->kraw + s * NT * kvd : NULL,
        m->rstdq ? m->rstdq + s * NT * H : NULL, m->rstdk ? m->rstdk + s * NT * c->n_kv_heads : NULL,
        m->att + s * NT * qd, m->attg + s * NT * qd, m->lse + s * NT * H,
        m->ao + s * NT * d, m->x_mid + s * NT * d, m->xn2 + s * NT * d, m->rstd2 + s * NT,
        m->mg + s * NT * I, m->mu + s * NT * I, m->mug + s * NT * I, m->mh + s * NT * I,
        m->mo + s * NT * d,
    };
    return a;
}

void model_qkv_fwd(const Model *m, int l, const float *xn, float *q, float *k, float *v, float *qraw, float *kraw,
                   float *rstdq, float *rstdk, size_t N) {
    const ShearOps *o = m->ops;
    const ModelConfig *c = &m->cfg;
    const ParamTable *t = &m->table;
    int d = c->dim, hd = c->head_dim, qd = c->n_heads * hd, kvd = c->n_kv_heads * hd;
    float *qp = c->qk_norm ? qraw : q, *kp = c->qk_norm ? kraw : k; // projections land before the norms
    o->matmul_fwd(qp, xn, Wc(m, param_index(t, l, P_Q)), N, d, qd);
    o->matmul_fwd(kp, xn, Wc(m, param_index(t, l, P_K)), N, d, kvd);
    o->matmul_fwd(v, xn, Wc(m, param_index(t, l, P_V)), N, d, kvd);
    if (c->qkv_bias) {
        o->bias_fwd(qp, Wc(m, param_index(t, l, P_Q_BIAS)), N, qd);
        o->bias_fwd(kp, Wc(m, param_index(t, l, P_K_BIAS)), N, kvd);
        o->bias_fwd(v, Wc(m, param_index(t, l, P_V_BIAS)), N, kvd);
    }
    if (c->qk_norm) {
        o->rmsnorm_fwd(q, rstdq, qraw, Wc(m, param_index(t, l, P_Q_NORM)), NULL, N * c->n_heads, hd, c->norm_eps);
        o->rmsnorm_fwd(k, rstdk, kraw, Wc(m, param_index(t, l, P_K_NORM)), NULL, N * c->n_kv_heads, hd, c->norm_eps);
    }
}

// Backward of qkv_fwd: m->dxn += the input gradient; weight (and bias) gradients added.
static void qkv_bwd(Model *m, int l, const float *xn, const float *dq, const float *dk, const float *dv, size_t N) {
    const ShearOps *o = m->ops;
    const ModelConfig *c = &m->cfg;
    const ParamTable *t = &m->table;
    int d = c->dim, qd = c->n_heads * c->head_dim, kvd = c->n_kv_heads * c->head_dim;
    int iq = param_index(t, l, P_Q), ik = param_index(t, l, P_K), iv = param_index(t, l, P_V);
    o->matmul_bwd(m->dxn, G(m, iq), dq, xn, W(m, iq), N, d, qd);
    o->matmul_bwd(m->dxn, G(m, ik), dk, xn, W(m, ik), N, d, kvd);
    o->matmul_bwd(m->dxn, G(m, iv), dv, xn, W(m, iv), N, d, kvd);
    if (c->qkv_bias) {
        o->bias_bwd(G(m, param_index(t, l, P_Q_BIAS)), dq, N, qd);
        o->bias_bwd(G(m, param_index(t, l, P_K_BIAS)), dk, N, kvd);
        o->bias_bwd(G(m, param_index(t, l, P_V_BIAS)), dv, N, kvd);
    }
}

// Forward of block l from x[l] into its activation slot; x[l+1] too when write_out (the recompute before the
// backward skips it: x[l+1] is kept and nothing after reads it again).
static void block_fwd(Model *m, int B, const ModelGates *gt, int l, int write_out) {
    const ShearOps *o = m->ops;
    const ModelConfig *c = &m->cfg;
    int T = m->T, d = c->dim, H = c->n_heads, Hkv = c->n_kv_heads, hd = c->head_dim, I = c->intermediate;
    int qd = H * hd;
    size_t N = (size_t)B * T, NT = (size_t)m->B * T;
    const float *x = m->x + (size_t)l * NT * d;
    float *xnext = m->x + (size_t)(l + 1) * NT * d;
    BlockActs a = block_acts(m, l);
    const float *zh = gt ? gt->hidden : NULL;

    o->rmsnorm_fwd(a.xn1, a.rstd1, x, W(m, param_index(&m->table, l, P_NORM_ATTN)), zh, N, d, c->norm_eps);
    model_qkv_fwd(m, l, a.xn1, a.q, a.k, a.v, a.qraw, a.kraw, a.rstdq, a.rstdk, N);
    o->rope_fwd(a.q, (size_t)B, T, H, hd, &c->rope);
    o->rope_fwd(a.k, (size_t)B, T, Hkv, hd, &c->rope);
    o->attention_fwd(a.att, a.lse, a.q, a.k, a.v, (size_t)B, T, H, Hkv, hd);
    const float *o_in = a.att;
    if (gt && gt->head) {
        // one gate per KV group: it covers the context of the group's H/Hkv query heads
        o->gate_fwd(a.attg, a.att, gt->head + (size_t)l * Hkv, N, qd, hd * (H / Hkv));
        o_in = a.attg;
    }
    o->matmul_fwd(a.ao, o_in, W(m, param_index(&m->table, l, P_O)), N, qd, d);
    BranchGates ba = attn_gates(gt, l);
    branch_add_fwd(m, a.xm, x, a.ao, &ba, N);

    o->rmsnorm_fwd(a.xn2, a.rstd2, a.xm, W(m, param_index(&m->table, l, P_NORM_MLP)), zh, N, d, c->norm_eps);
    o->matmul_fwd(a.mg, a.xn2, W(m, param_index(&m->table, l, P_GATE)), N, d, I);
    o->matmul_fwd(a.mu, a.xn2, W(m, param_index(&m->table, l, P_UP)), N, d, I);
    const float *up = a.mu;
    if (gt && gt->intermediate) {
        o->gate_fwd(a.mug, a.mu, gt->intermediate + (size_t)l * I, N, I, 1);
        up = a.mug;
    }
    o->swiglu_fwd(a.mh, a.mg, up, N, I);
    o->matmul_fwd(a.mo, a.mh, W(m, param_index(&m->table, l, P_DOWN)), N, I, d);
    if (write_out) {
        BranchGates bm = mlp_gates(gt, l);
        branch_add_fwd(m, xnext, a.xm, a.mo, &bm, N);
    }
}

// Runs the blocks and the final norm on rows already uploaded. Activations for the backward pass are kept
// (with recompute: only the block inputs x and the last block's activations).
static void forward_blocks(Model *m, int B, const ModelGates *gt) {
    const ShearOps *o = m->ops;
    const ModelConfig *c = &m->cfg;
    int d = c->dim;
    size_t N = (size_t)B * m->T, NT = (size_t)m->B * m->T; // NT: stride of per-layer buffers
    o->embedding_fwd(m->x, m->tokens, W(m, 0), N, d);
    for (int l = 0; l < c->n_layers; l++) block_fwd(m, B, gt, l, 1);
    o->rmsnorm_fwd(m->xnf, m->rstdf, m->x + (size_t)c->n_layers * NT * d, W(m, m->table.norm_final), gt ? gt->hidden : NULL, N, d,
                   c->norm_eps);
}

double model_forward(Model *m, int B, const int32_t *tokens, const int32_t *targets, const ModelGates *gates,
                     float *row_loss, float *logits) {
    const ShearOps *o = m->ops;
    const ModelConfig *c = &m->cfg;
    size_t N = (size_t)B * m->T;
    upload_batch(m, B, tokens, targets);
    forward_blocks(m, B, gates);
    float *dl = row_loss ? o->alloc(N * sizeof(float)) : NULL;                  // [N]
    float *dlogits = logits ? o->alloc(N * (size_t)c->vocab * sizeof(float)) : NULL; // [N,V]
    double loss = o->classifier(NULL, NULL, dl, dlogits, m->xnf, W(m, m->table.head), m->targets, N, c->dim,
                                c->vocab, 0.0f);
    if (dl) { o->download(row_loss, dl, N * sizeof(float)); o->free(dl); }
    if (dlogits) { o->download(logits, dlogits, N * (size_t)c->vocab * sizeof(float)); o->free(dlogits); }
    return loss;
}

const float *model_forward_hidden(Model *m, int B, const int32_t *tokens, const int32_t *targets) {
    upload_batch(m, B, tokens, targets);
    forward_blocks(m, B, NULL);
    return m->xnf;
}

double model_forward_kd(Model *m, int B, const int32_t *tokens, const int32_t *targets, const ModelGates *gates,
                        const ShearKD *kd, double *kd_sum) {
    upload_batch(m, B, tokens, targets);
    forward_blocks(m, B, gates);
    return m->ops->classifier_kd(NULL, NULL, kd_sum, m->xnf, W(m, m->table.head), m->targets, (size_t)B * m->T,
                                 m->cfg.dim, m->cfg.vocab, 0.0f, kd);
}

double model_forward_backward(Model *m, int B, const int32_t *tokens, const int32_t *targets,
                              const ModelGates *gt, float dscale) {
    return model_forward_backward_kd(m, B, tokens, targets, gt, dscale, NULL, NULL);
}

double model_forward_backward_kd(Model *m, int B, const int32_t *tokens, const int32_t *targets,
                                 const ModelGates *gt, float dscale, const ShearKD *kd, double *kd_sum) {
    const ShearOps *o = m->ops;
    const ModelConfig *c = &m->cfg;
    int T = m->T, d = c->dim, H = c->n_heads, Hkv = c->n_kv_heads, hd = c->head_dim, I = c->intermediate;
    int qd = H * hd, kvd = Hkv * hd;
    size_t N = (size_t)B * T, NT = (size_t)m->B * T, nd = N * (size_t)d;
    upload_batch(m, B, tokens, targets);
    forward_blocks(m, B, gt);

    // classifier: loss, d(lm_head), and d(final norm output) into dxn
    // tied: nh is the embedding, whose gradient the classifier and embedding_bwd both add into
    int nf = m->table.norm_final, nh = m->table.head;
    o->zero(m->dxn, nd * sizeof(float));
    double loss = kd ? o->classifier_kd(m->dxn, G(m, nh), kd_sum, m->xnf, W(m, nh), m->targets, N, d, c->vocab,
                                        dscale, kd)
                     : o->classifier(m->dxn, G(m, nh), NULL, NULL, m->xnf, W(m, nh), m->targets, N, d, c->vocab,
                                     dscale);
    o->zero(m->dx, nd * sizeof(float));
    const float *zh = gt ? gt->hidden : NULL;
    float *dzh = gt ? gt->d_hidden : NULL;
    o->rmsnorm_bwd(m->dx, G(m, nf), dzh, m->dxn, m->x + (size_t)c->n_layers * NT * d, W(m, nf), zh, m->rstdf, N, d);

    for (int l = c->n_layers - 1; l >= 0; l--) {
        // the last block's activations are still in the slot; every other block is recomputed from x[l] with
        // the same ops, weights and gates, so what the backward reads is bitwise what the forward produced
        if (m->recompute && l != c->n_layers - 1) block_fwd(m, B, gt, l, 0);
        BlockActs a = block_acts(m, l);
        float *x = m->x + (size_t)l * NT * d, *xn1 = a.xn1;
        float *q = a.q, *k = a.k, *v = a.v, *att = a.att, *attg = a.attg, *lse = a.lse, *ao = a.ao;
        float *xm = a.xm, *xn2 = a.xn2, *mg = a.mg, *mu = a.mu, *mug = a.mug, *mh = a.mh, *mo = a.mo;

        // ---- MLP branch: m->dx holds dL/dx_{l+1}; the residual passes it to x_mid unchanged ----
        BranchGates bm = mlp_gates(gt, l);
        branch_bwd(m, m->dx, mo, &bm, N);                      // dbr = dL/d(down output)
        o->zero(m->dbig, N * (size_t)I * sizeof(float));
        o->matmul_bwd(m->dbig, G(m, param_index(&m->table, l, P_DOWN)), m->dbr, mh, W(m, param_index(&m->table, l, P_DOWN)), N, I, d);
        o->zero(m->dmg, N * (size_t)I * sizeof(float));
        const int igate = gt && gt->intermediate;
        float *dup = igate ? m->s1 : m->dmu;                   // gradient of the (gated) up input of swiglu
        o->zero(dup, N * (size_t)I * sizeof(float));
        o->swiglu_bwd(m->dmg, dup, m->dbig, mg, igate ? mug : mu, N, I);
        if (igate) {
            o->zero(m->dmu, N * (size_t)I * sizeof(float));
            o->gate_bwd(m->dmu, gt->d_intermediate ? gt->d_intermediate + (size_t)l * I : NULL, dup, mu,
                        gt->intermediate + (size_t)l * I, N, I, 1);
        }
        o->zero(m->dxn, nd * sizeof(float));
        o->matmul_bwd(m->dxn, G(m, param_index(&m->table, l, P_GATE)), m->dmg, xn2, W(m, param_index(&m->table, l, P_GATE)), N, d, I);
        o->matmul_bwd(m->dxn, G(m, param_index(&m->table, l, P_UP)), m->dmu, xn2, W(m, param_index(&m->table, l, P_UP)), N, d, I);
        o->rmsnorm_bwd(m->dx, G(m, param_index(&m->table, l, P_NORM_MLP)), dzh, m->dxn, xm, W(m, param_index(&m->table, l, P_NORM_MLP)), zh, a.rstd2, N, d);

        // ---- attention branch: m->dx holds dL/dx_mid ----
        BranchGates ba = attn_gates(gt, l);
        branch_bwd(m, m->dx, ao, &ba, N);                      // dbr = dL/d(o_proj output)
        const int hgate = gt && gt->head;
        o->zero(m->dbig, N * (size_t)qd * sizeof(float));
        o->matmul_bwd(m->dbig, G(m, param_index(&m->table, l, P_O)), m->dbr, hgate ? attg : att, W(m, param_index(&m->table, l, P_O)), N, qd, d);
        const float *datt = m->dbig;
        if (hgate) {
            o->zero(m->s1, N * (size_t)qd * sizeof(float));
            o->gate_bwd(m->s1, gt->d_head ? gt->d_head + (size_t)l * Hkv : NULL, m->dbig, att,
                        gt->head + (size_t)l * Hkv, N, qd, hd * (H / Hkv));
            datt = m->s1;
        }
        o->zero(m->dq, N * (size_t)qd * sizeof(float));
        o->zero(m->dk, N * (size_t)kvd * sizeof(float));
        o->zero(m->dv, N * (size_t)kvd * sizeof(float));
        o->attention_bwd(m->dq, m->dk, m->dv, datt, q, k, v, att, lse, (size_t)B, T, H, Hkv, hd);
        o->rope_bwd(m->dq, (size_t)B, T, H, hd, &c->rope);
        o->rope_bwd(m->dk, (size_t)B, T, Hkv, hd, &c->rope);
        const float *dq = m->dq, *dk = m->dk;
        if (c->qk_norm) { // through the per-head norms: gradients of q and k before them, in s1 and s2
            const ParamTable *t = &m->table;
            int iq = param_index(t, l, P_Q_NORM), ik = param_index(t, l, P_K_NORM);
            o->zero(m->s1, N * (size_t)qd * sizeof(float));
            o->zero(m->s2, N * (size_t)kvd * sizeof(float));
            o->rmsnorm_bwd(m->s1, G(m, iq), NULL, m->dq, a.qraw, W(m, iq), NULL, a.rstdq, N * H, hd);
            o->rmsnorm_bwd(m->s2, G(m, ik), NULL, m->dk, a.kraw, W(m, ik), NULL, a.rstdk, N * Hkv, hd);
            dq = m->s1;
            dk = m->s2;
        }
        o->zero(m->dxn, nd * sizeof(float));
        qkv_bwd(m, l, xn1, dq, dk, m->dv, N);
        o->rmsnorm_bwd(m->dx, G(m, param_index(&m->table, l, P_NORM_ATTN)), dzh, m->dxn, x, W(m, param_index(&m->table, l, P_NORM_ATTN)), zh, a.rstd1, N,
                       d);
    }
    o->embedding_bwd(G(m, 0), m->dx, m->tokens, N, d);
    return loss;
}
