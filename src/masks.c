// Hard-concrete masks and the Lagrangian of targeted structured pruning (see masks.h and shearing.md 2-3).
#include "shear/masks.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "shear/common.h"
#include "shear/hardconcrete.h"

const char *const MASK_NAMES[MASK_TYPES] = {"layer", "head_layer", "mlp", "head", "intermediate", "hidden"};

// log-alpha clamp [ln 0.01, ln 100]
#define LOG_ALPHA_MIN (-4.605170185988091)
#define LOG_ALPHA_MAX 4.605170185988091

int mask_type_from_name(const char *name) {
    for (int t = 0; t < MASK_TYPES; t++)
        if (strcmp(name, MASK_NAMES[t]) == 0) return t;
    return -1;
}

#define fail shear_fail

// One target dimension: 1 <= t <= s, and a change needs a learned mask.
static int check_dim(const char *what, const char *key, int t, int s, int learned, const char *mask_hint,
                     char *err, size_t errlen) {
    if (t < 1 || t > s)
        return fail(err, errlen, "target %s (%s) is %d; expected 1..%d (the source's %s)", what, key, t, s, what);
    if (t != s && !learned)
        return fail(err, errlen, "target %s (%s) is %d but the source's is %d, and no mask that prunes it is "
                    "learned (add %s to prune.masks)", what, key, t, s, mask_hint);
    return 0;
}

int masks_create(Masks *m, const ShearOps *ops, const ModelConfig *src, const ModelConfig *tgt,
                 char names[][32], int n_names, char *err, size_t errlen) {
    memset(m, 0, sizeof *m);
    m->uniform = 1;
    char why[256];
    if (model_config_check(src, why, sizeof why)) return fail(err, errlen, "source model: %s", why);
    if (n_names < 1) return fail(err, errlen, "prune.masks is empty: name at least one of layer, head_layer, mlp, "
                                 "head, intermediate, hidden");
    int on[MASK_TYPES] = {0};
    for (int i = 0; i < n_names; i++) {
        int t = mask_type_from_name(names[i]);
        if (t < 0)
            return fail(err, errlen, "prune.masks: unknown mask '%s'; expected layer, head_layer, mlp, head, "
                        "intermediate or hidden", names[i]);
        if (on[t]) return fail(err, errlen, "prune.masks: mask '%s' is listed twice", names[i]);
        on[t] = 1;
    }
    if (on[MASK_LAYER] && (on[MASK_HEAD_LAYER] || on[MASK_MLP]))
        return fail(err, errlen, "prune.masks: 'layer' gates both branches; use it or the pair head_layer/mlp, "
                    "not both");

    const int L = src->n_layers, H = src->n_heads, G = src->n_kv_heads, d = src->dim, I = src->intermediate;
    const int n_rep = H / G;
    if (tgt->head_dim != src->head_dim)
        return fail(err, errlen, "target head_dim is %d but the source's is %d: pruning keeps whole heads, so "
                    "head_dim cannot change", tgt->head_dim, src->head_dim);
    if (tgt->vocab != src->vocab)
        return fail(err, errlen, "target vocab is %d but the source's is %d: the vocabulary is not pruned",
                    tgt->vocab, src->vocab);
    if (check_dim("dim", "prune.target_dim", tgt->dim, d, on[MASK_HIDDEN], "hidden", err, errlen) ||
        check_dim("n_heads", "prune.target_n_heads", tgt->n_heads, H, on[MASK_HEAD], "head", err, errlen) ||
        check_dim("intermediate", "prune.target_intermediate", tgt->intermediate, I, on[MASK_INTERMEDIATE],
                  "intermediate", err, errlen) ||
        check_dim("n_layers", "prune.target_n_layers", tgt->n_layers, L,
                  on[MASK_LAYER] || (on[MASK_HEAD_LAYER] && on[MASK_MLP]), "layer, or both head_layer and mlp,",
                  err, errlen))
        return -1;
    if (tgt->n_heads % n_rep != 0)
        return fail(err, errlen, "target n_heads (prune.target_n_heads) is %d, not a multiple of the source's GQA "
                    "group size %d (%d query heads over %d KV heads): pruning keeps whole KV groups",
                    tgt->n_heads, n_rep, H, G);
    if (tgt->n_kv_heads != tgt->n_heads / n_rep)
        return fail(err, errlen, "target n_kv_heads is %d; with %d query heads and the source's group size %d it "
                    "must be %d", tgt->n_kv_heads, tgt->n_heads, n_rep, tgt->n_heads / n_rep);

    m->ops = ops;
    m->src = *src;
    m->tgt = *tgt;
    const int shape[MASK_TYPES][3] = { // rows, cols, target per row
        [MASK_LAYER] = {1, L, tgt->n_layers},
        [MASK_HEAD_LAYER] = {1, L, tgt->n_layers},
        [MASK_MLP] = {1, L, tgt->n_layers},
        [MASK_HEAD] = {L, G, tgt->n_kv_heads},
        [MASK_INTERMEDIATE] = {L, I, tgt->intermediate},
        [MASK_HIDDEN] = {1, d, tgt->dim},
    };
    size_t total = 0;
    for (int t = 0; t < MASK_TYPES; t++) {
        m->on[t] = on[t];
        m->rows[t] = shape[t][0];
        m->cols[t] = shape[t][1];
        m->target[t] = shape[t][2];
        m->offset[t] = total;
        if (on[t]) total += (size_t)shape[t][0] * (size_t)shape[t][1];
    }
    if (total >= ((size_t)1 << MASK_GATE_BITS))
        return fail(err, errlen, "%zu mask gates exceed the %d-bit gate field of the mask RNG counter", total,
                    MASK_GATE_BITS);
    m->total = total;
    size_t bytes = total * sizeof(float);
    m->log_alpha = ops->alloc(bytes);
    m->grad = ops->alloc(bytes);
    m->z = ops->alloc(bytes);
    m->dz = ops->alloc(bytes);
    m->adam_m = ops->alloc(bytes);
    m->adam_v = ops->alloc(bytes);
    m->scratch = ops->alloc(bytes);
    return 0;
}

void masks_free(Masks *m) {
    if (!m->ops) return;
    float *bufs[] = {m->log_alpha, m->grad, m->z, m->dz, m->adam_m, m->adam_v, m->scratch};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (bufs[i]) m->ops->free(bufs[i]);
    memset(m, 0, sizeof *m);
}

static float *host_copy(const Masks *m, const float *buf) {
    float *h = shear_malloc((m->total ? m->total : 1) * sizeof(float)); // [total]
    m->ops->download(h, buf, m->total * sizeof(float));
    return h;
}

// log-alphas are clamped before every use (spec section 2); a host copy is clamped in place
static void clamp_host(float *a, size_t n) {
    const float lo = (float)LOG_ALPHA_MIN, hi = (float)LOG_ALPHA_MAX;
    for (size_t i = 0; i < n; i++) a[i] = a[i] < lo ? lo : (a[i] > hi ? hi : a[i]);
}

void masks_init_log_alpha(Masks *m, uint64_t seed, double mean, double std) {
    float *h = shear_malloc((m->total ? m->total : 1) * sizeof(float)); // [total]
    for (int t = 0; t < MASK_TYPES; t++) {
        if (!m->on[t]) continue;
        size_t n = (size_t)m->rows[t] * m->cols[t];
        for (size_t i = 0; i < n; i++)
            h[m->offset[t] + i] = (float)(mean + std * rng_normal(seed, RNG_STREAM_LOGALPHA, ((uint64_t)t << 32) + i));
    }
    m->ops->upload(m->log_alpha, h, m->total * sizeof(float));
    free(h);
}

void masks_clamp(Masks *m) {
    float *h = host_copy(m, m->log_alpha);
    clamp_host(h, m->total);
    m->ops->upload(m->log_alpha, h, m->total * sizeof(float));
    free(h);
}

uint64_t masks_counter0(uint64_t step, uint64_t microbatch) {
    SHEAR_CHECK(step < ((uint64_t)1 << MASK_STEP_BITS), "mask RNG: step %llu does not fit the counter's %d bits",
                (unsigned long long)step, MASK_STEP_BITS);
    SHEAR_CHECK(microbatch < ((uint64_t)1 << MASK_MICROBATCH_BITS),
                "mask RNG: micro-batch index %llu does not fit the counter's %d bits", (unsigned long long)microbatch,
                MASK_MICROBATCH_BITS);
    return ((step << MASK_MICROBATCH_BITS) | microbatch) << MASK_GATE_BITS;
}

void masks_sample(Masks *m, uint64_t seed, uint64_t step, uint64_t microbatch) {
    m->ops->hardconcrete_sample(m->z, m->log_alpha, m->total, seed, masks_counter0(step, microbatch));
}

void masks_backward_sample(Masks *m, uint64_t seed, uint64_t step, uint64_t microbatch) {
    m->ops->hardconcrete_bwd(m->grad, m->dz, m->log_alpha, m->total, seed, masks_counter0(step, microbatch));
    m->ops->zero(m->dz, m->total * sizeof(float));
}

void masks_gates(Masks *m, ModelGates *g) {
    const float **zs[MASK_TYPES] = {&g->layer, &g->head_layer, &g->mlp, &g->head, &g->intermediate, &g->hidden};
    float **dzs[MASK_TYPES] = {&g->d_layer, &g->d_head_layer, &g->d_mlp, &g->d_head, &g->d_intermediate,
                               &g->d_hidden};
    for (int t = 0; t < MASK_TYPES; t++) {
        *zs[t] = m->on[t] ? m->z + m->offset[t] : NULL;
        *dzs[t] = m->on[t] ? m->dz + m->offset[t] : NULL;
    }
}

// A gate of one row, ranked by log-alpha for the deterministic mask (monotone in the soft value, without the
// ties sigmoid rounding would add)
typedef struct { float a; int i; } Ranked;

static int ranked_cmp(const void *x, const void *y) {
    const Ranked *p = x, *q = y;
    if (p->a != q->a) return p->a < q->a ? -1 : 1;
    return p->i > q->i ? -1 : (p->i < q->i ? 1 : 0); // equal log-alphas: the higher index is dropped first
}

// Rows ranked together: one row each when uniform; every row of a 2-D type at once when not (prune.uniform 0).
static int rank_rows(const Masks *m, int t) { return m->uniform ? 1 : m->rows[t]; }

void masks_deterministic(Masks *m, int exact_target) {
    float *a = host_copy(m, m->log_alpha); // [total]
    clamp_host(a, m->total);                // the optimizer step may have left values outside the range
    float *z = shear_malloc((m->total ? m->total : 1) * sizeof(float)); // [total]
    size_t maxc = 1;
    for (int t = 0; t < MASK_TYPES; t++)
        if ((size_t)m->rows[t] * m->cols[t] > maxc) maxc = (size_t)m->rows[t] * m->cols[t];
    Ranked *r = shear_malloc(maxc * sizeof(Ranked)); // [rows*cols]
    // MASK_LAYER comes first: its z is final when the 2-D types below look at it
    for (int t = 0; t < MASK_TYPES; t++) {
        if (!m->on[t]) continue;
        const int per = rank_rows(m, t), N = m->cols[t] * per; // N gates ranked together
        for (int row = 0; row < m->rows[t]; row += per) {
            const float *ar = a + m->offset[t] + (size_t)row * m->cols[t]; // [N]
            float *zr = z + m->offset[t] + (size_t)row * m->cols[t];       // [N]
            long k, n_rank = 0;
            for (int i = 0; i < N; i++) zr[i] = (float)hc_soft(ar[i]);
            if (exact_target) {
                // non-uniform finalization: gates of layers the layer mask drops are zero and not ranked, and
                // the kept layers share L_T * target gates, so the parameter count equals the uniform target's
                int live = per;
                for (int i = 0; i < N; i++) {
                    int l = row + i / m->cols[t];
                    if (per > 1 && m->on[MASK_LAYER] && z[m->offset[MASK_LAYER] + (size_t)l] == 0.0f) {
                        zr[i] = 0.0f;
                        if (i % m->cols[t] == 0) live--;
                        continue;
                    }
                    r[n_rank].a = ar[i];
                    r[n_rank++].i = i;
                }
                k = n_rank - (long)live * m->target[t];
            } else {
                double kept = 0.0;
                for (int i = 0; i < N; i++) {
                    kept += hc_score(ar[i]);
                    r[n_rank].a = ar[i];
                    r[n_rank++].i = i;
                }
                k = (long)nearbyint((double)N - kept); // default rounding mode: half to even
            }
            if (k < 0) k = 0;
            if (k > n_rank) k = n_rank;
            qsort(r, (size_t)n_rank, sizeof *r, ranked_cmp);
            for (long j = 0; j < k; j++) zr[r[j].i] = 0.0f;
        }
    }
    m->ops->upload(m->z, z, m->total * sizeof(float));
    free(r);
    free(z);
    free(a);
}

double masks_prunable_params(const ModelConfig *c) {
    double hd = c->head_dim, d = c->dim;
    return (double)c->n_layers * (2.0 * c->n_heads * hd * d + 2.0 * c->n_kv_heads * hd * d + 3.0 * d * c->intermediate);
}

double masks_expected_params(const Masks *m, const double *s) {
    const ModelConfig *c = &m->src;
    const int L = c->n_layers, G = c->n_kv_heads, I = c->intermediate;
    const double per_group = (2.0 * (c->n_heads / G) + 2.0) * c->head_dim;
    // branch scores of layer l: the layer gate, or the CoFi pair, or 1
    const int att_t = m->on[MASK_LAYER] ? MASK_LAYER : (m->on[MASK_HEAD_LAYER] ? MASK_HEAD_LAYER : -1);
    const int mlp_t = m->on[MASK_LAYER] ? MASK_LAYER : (m->on[MASK_MLP] ? MASK_MLP : -1);
    double hidden = 0.0;
    if (m->on[MASK_HIDDEN]) {
        for (int j = 0; j < c->dim; j++) hidden += s[m->offset[MASK_HIDDEN] + j];
    } else {
        hidden = c->dim;
    }
    double heads = 0.0, inter = 0.0;
    for (int l = 0; l < L; l++) {
        double sa = att_t >= 0 ? s[m->offset[att_t] + l] : 1.0;
        double sm = mlp_t >= 0 ? s[m->offset[mlp_t] + l] : 1.0;
        double hsum = 0.0, isum = 0.0;
        if (m->on[MASK_HEAD]) {
            for (int g = 0; g < G; g++) hsum += s[m->offset[MASK_HEAD] + (size_t)l * G + g];
        } else {
            hsum = G;
        }
        if (m->on[MASK_INTERMEDIATE]) {
            for (int i = 0; i < I; i++) isum += s[m->offset[MASK_INTERMEDIATE] + (size_t)l * I + i];
        } else {
            isum = I;
        }
        heads += sa * hsum;
        inter += sm * isum;
    }
    return hidden * (per_group * heads + 3.0 * inter);
}

double masks_lagrangian(Masks *m, int step, int total_steps, double warmup_frac, MaskStats *stats) {
    return masks_lagrangian_scaled(m, step, total_steps, warmup_frac, 1.0, stats);
}

double masks_lagrangian_scaled(Masks *m, int step, int total_steps, double warmup_frac, double grad_scale,
                               MaskStats *stats) {
    float *a = host_copy(m, m->log_alpha);                              // [total]
    double *s = shear_malloc((m->total ? m->total : 1) * sizeof(double)); // [total] scores
    float *ga = shear_malloc((m->total ? m->total : 1) * sizeof(float));  // [total] d term / d log_alpha
    for (size_t i = 0; i < m->total; i++) s[i] = hc_score(a[i]);

    long warmup = (long)nearbyint(warmup_frac * (double)total_steps); // half to even, as Python's round
    double ramp = warmup > 0 ? fmin(1.0, (double)step / (double)warmup) : 1.0;
    MaskStats st;
    memset(&st, 0, sizeof st);
    double term = 0.0;
    for (int t = 0; t < MASK_TYPES; t++) {
        if (!m->on[t]) continue;
        // non-uniform: one row of all R*N gates, so only the type's total is pulled to the target
        const int per = rank_rows(m, t), R = m->rows[t] / per, N = m->cols[t] * per;
        const double l1 = m->lambda[t][0], l2 = m->lambda[t][1];
        const double target = (1.0 - (double)m->target[t] / m->cols[t]) * ramp;
        double term_t = 0.0, dl1 = 0.0, dl2 = 0.0, sparsity = 0.0;
        for (int r = 0; r < R; r++) {
            size_t base = m->offset[t] + (size_t)r * N;
            double kept = 0.0;
            for (int i = 0; i < N; i++) kept += s[base + i];
            double sh = 1.0 - kept / N, diff = sh - target;
            sparsity += sh;
            term_t += l1 * diff + l2 * diff * diff;
            dl1 += diff;
            dl2 += diff * diff;
            // d term / d a_i = (1/R) (l1 + 2 l2 diff) * d sh / d a_i,  d sh / d a_i = -s'(a_i) / N
            double coef = -grad_scale * (l1 + 2.0 * l2 * diff) / ((double)R * N);
            for (int i = 0; i < N; i++) ga[base + i] = (float)(coef * hc_dscore(a[base + i]));
        }
        term += term_t / R;
        m->lambda_grad[t][0] = (float)(grad_scale * dl1 / R);
        m->lambda_grad[t][1] = (float)(grad_scale * dl2 / R);
        st.expected_sparsity[t] = sparsity / R;
        st.target_sparsity[t] = target;
    }
    st.lagrangian = term;
    st.expected_params = masks_expected_params(m, s);
    m->ops->upload(m->scratch, ga, m->total * sizeof(float));
    m->ops->axpy(m->grad, m->scratch, 1.0f, m->total);
    if (stats) *stats = st;
    free(ga);
    free(s);
    free(a);
    return term;
}

double masks_grad_sumsq(const Masks *m) {
    double ss = m->ops->sumsq(m->grad, m->total);
    for (int t = 0; t < MASK_TYPES; t++) {
        if (!m->on[t]) continue;
        for (int j = 0; j < 2; j++) ss += (double)m->lambda_grad[t][j] * m->lambda_grad[t][j];
    }
    return ss;
}

void masks_zero_grad(Masks *m) {
    m->ops->zero(m->grad, m->total * sizeof(float));
    m->ops->zero(m->dz, m->total * sizeof(float));
    memset(m->lambda_grad, 0, sizeof m->lambda_grad);
}

void masks_step(Masks *m, float lr_log_alpha, float lr_lambda, float beta1, float beta2, float eps, float gscale) {
    m->t++;
    m->ops->adamw(m->log_alpha, m->grad, m->adam_m, m->adam_v, m->total, lr_log_alpha, beta1, beta2, eps, 0.0f,
                  gscale, m->t);
    // the lambdas are a dozen host scalars: the same AdamW update, in double, stored as float
    const double bc1 = 1.0 - pow(beta1, m->t), bc2 = 1.0 - pow(beta2, m->t);
    for (int t = 0; t < MASK_TYPES; t++) {
        if (!m->on[t]) continue;
        for (int j = 0; j < 2; j++) {
            double g = (double)m->lambda_grad[t][j] * gscale;
            double mm = beta1 * (double)m->lambda_m[t][j] + (1.0 - beta1) * g;
            double vv = beta2 * (double)m->lambda_v[t][j] + (1.0 - beta2) * g * g;
            double step = lr_lambda / bc1 * mm / (sqrt(vv) / sqrt(bc2) + eps);
            m->lambda[t][j] = (float)((double)m->lambda[t][j] - step);
            m->lambda_m[t][j] = (float)mm;
            m->lambda_v[t][j] = (float)vv;
        }
    }
    masks_zero_grad(m);
}

void masks_download(const Masks *m, MaskType t, const float *buf, float *host) {
    SHEAR_CHECK(t >= 0 && t < MASK_TYPES && m->on[t], "masks_download: mask type %d is not learned", (int)t);
    m->ops->download(host, buf + m->offset[t], (size_t)m->rows[t] * m->cols[t] * sizeof(float));
}
