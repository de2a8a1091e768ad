// The CUDA-vs-CPU parity test, whole model (cuda_parity.h; tolerances at the top of test_cuda_ops.c): forward
// and backward with and without pruning gates, then 10 AdamW steps on both backends; each LLaMA shape again as
// the family twin its shape fits (Qwen2: q/k/v biases, Qwen3: q/k norms; both with the tied embedding).
#include "cuda_parity.h"

// ---------------- whole model ----------------

static void random_batch(int32_t *tok, int32_t *tgt, int B, int T, int V) {
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) {
            tok[b * T + t] = (int32_t)(rng_u64(7, 92, (uint64_t)(b * 1000 + t)) % (uint64_t)V);
            tgt[b * T + t] = t == T - 1 ? -1 : (int32_t)(rng_u64(7, 92, (uint64_t)(b * 1000 + t + 1)) % (uint64_t)V);
        }
    }
}

// ||g - c|| / ||c - init|| (init NULL: 0)
static double rel_l2(const float *c, const float *g, const float *init, size_t n) {
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)g[i] - (double)c[i], r = (double)c[i] - (init ? (double)init[i] : 0.0);
        num += d * d;
        den += r * r;
    }
    if (num == 0.0) return 0.0;
    if (!isfinite(num)) return INFINITY;
    return den > 0.0 ? sqrt(num / den) : INFINITY;
}

// relative L2 error of every tensor of the table in role buffers bc (CPU) and bg (GPU), measured against what
// was added to init [total] (host, NULL: zeros); returns the worst
static double table_worst(const char *what, const ParamTable *t, const float *bc, const float *bg, const float *init,
                          double tol) {
    float *hc = malloc(t->total * sizeof(float)), *hg = malloc(t->total * sizeof(float));
    CPU->download(hc, bc, t->total * sizeof(float));
    GPU->download(hg, bg, t->total * sizeof(float));
    double worst = 0.0;
    int worst_i = 0, nbad = 0;
    for (int i = 0; i < t->n; i++) {
        const ParamInfo *p = &t->p[i];
        double e = rel_l2(hc + p->offset, hg + p->offset, init ? init + p->offset : NULL, p->numel);
        if (!(e <= tol)) {
            printf("     %s: %s rel L2 %.2e\n", what, p->name, e);
            nbad++;
        }
        if (!(e <= worst)) {
            worst = e;
            worst_i = i;
        }
    }
    char detail[200];
    snprintf(detail, sizeof detail, "worst %.2e at %s, %d of %d over (tol %.0e)", worst, t->p[worst_i].name, nbad,
             t->n, tol);
    report(nbad == 0, what, detail);
    free(hc);
    free(hg);
    return worst;
}

static void make_masks(Masks *m, const ShearOps *ops, const ModelConfig *src, const ModelConfig *tgt) {
    char names[MASK_TYPES][32] = {"layer", "head", "intermediate", "hidden"}, err[512];
    if (masks_create(m, ops, src, tgt, names, 4, err, sizeof err)) {
        fprintf(stderr, "masks_create: %s\n", err);
        exit(1);
    }
    masks_init_log_alpha(m, 5, 1.0, 1.2); // spread: some gates at 0, some at 1, most inside
    masks_clamp(m);
}

static int has_family_options(const ModelConfig *c) { return c->qkv_bias || c->qk_norm || c->tie_embeddings; }

// The 1-D tensors of a family model random instead of model_init_weights' 0 (biases) and 1 (norms), as
// tests/test_finalize.c make_source does, so that a bias or norm weight read at a wrong offset, or skipped,
// changes the result: biases Normal(0, 0.5), norm weights uniform in [0.5, 1.5). hw [total] host weights.
static void random_1d(const ParamTable *t, float *hw) {
    for (int i = 0; i < t->n; i++) {
        const ParamInfo *p = &t->p[i];
        if (p->ndim != 1) continue;
        int bias = p->kind == P_Q_BIAS || p->kind == P_K_BIAS || p->kind == P_V_BIAS;
        for (size_t j = 0; j < p->numel; j++) {
            uint64_t ctr = ((uint64_t)i << 40) + j;
            hw[p->offset + j] = bias ? (float)(0.5 * rng_normal(7, 93, ctr)) : (float)(0.5 + rng_uniform(7, 93, ctr));
        }
    }
}

// The table the gradient walks (table_worst) holds what the family options add, and only that: the q/k/v biases
// and q/k norms of every layer, and lm_head only when untied.
static void check_table(const ModelConfig *c, const ParamTable *t, const char *label) {
    int per_layer = 9 + 3 * (c->qkv_bias != 0) + 2 * (c->qk_norm != 0), present = 1;
    size_t numel = 0; // the tensors' sizes, without the 16-float alignment padding of total
    for (int i = 0; i < t->n; i++) numel += t->p[i].numel;
    for (int l = 0; l < c->n_layers; l++)
        for (int k = P_Q_BIAS; k <= P_K_NORM; k++) {
            int want = k <= P_V_BIAS ? c->qkv_bias : c->qk_norm;
            if (!want) continue;
            int i = param_index(t, l, (ParamKind)k);
            present &= t->slot[k] >= 0 && t->p[i].kind == (ParamKind)k && t->p[i].layer == l;
        }
    int ok = present && t->per_layer == per_layer && t->n == 2 + c->n_layers * per_layer + !c->tie_embeddings &&
             (t->head == 0) == (c->tie_embeddings != 0) && numel == model_param_count(c);
    char what[200], detail[128];
    snprintf(what, sizeof what, "model %s parameter table", label);
    snprintf(detail, sizeof detail, "%d tensors, %d per layer, lm_head %s", t->n, t->per_layer,
             t->head == 0 ? "tied (the embedding)" : "untied");
    report(ok, what, detail);
}

static void model_case(const ModelConfig *c, int B, int T, const char *label) {
    char what[200];
    Model mc, mg;
    model_create(&mc, CPU, c);
    model_create(&mg, GPU, c);
    check_table(c, &mc.table, label);
    model_init_weights(&mc, 11, 0.2f);
    // the same weights bit for bit: through the host, not by trusting the init to run the same on both
    float *hw = malloc(mc.table.total * sizeof(float));
    CPU->download(hw, mc.w, mc.table.total * sizeof(float));
    if (has_family_options(c)) {
        random_1d(&mc.table, hw);
        CPU->upload(mc.w, hw, mc.table.total * sizeof(float));
    }
    GPU->upload(mg.w, hw, mc.table.total * sizeof(float));
    model_alloc_acts(&mc, B, T);
    model_alloc_acts(&mg, B, T);
    const int N = B * T;
    int32_t *tok = malloc((size_t)N * sizeof(int32_t)), *tgt = malloc((size_t)N * sizeof(int32_t));
    random_batch(tok, tgt, B, T, c->vocab);
    int scored = 0;
    for (int i = 0; i < N; i++) scored += tgt[i] >= 0;
    const float dscale = 1.0f / (float)scored;

    // forward only: logits and per-row losses
    float *lc = malloc((size_t)N * c->vocab * sizeof(float)), *lgp = malloc((size_t)N * c->vocab * sizeof(float));
    float *rc = malloc((size_t)N * sizeof(float)), *rg = malloc((size_t)N * sizeof(float));
    double fc = model_forward(&mc, B, tok, tgt, NULL, rc, lc), fg = model_forward(&mg, B, tok, tgt, NULL, rg, lgp);
    snprintf(what, sizeof what, "model %s forward loss", label);
    cmp_scalar(what, fc, fg, TOL_MODEL);
    snprintf(what, sizeof what, "model %s forward logits (rel L2)", label);
    double e = rel_l2(lc, lgp, NULL, (size_t)N * c->vocab);
    char detail[128];
    snprintf(detail, sizeof detail, "%.2e (tol %.0e)", e, TOL_MODEL);
    report(e <= TOL_MODEL, what, detail);
    snprintf(what, sizeof what, "model %s forward row losses (rel L2)", label);
    e = rel_l2(rc, rg, NULL, (size_t)N);
    snprintf(detail, sizeof detail, "%.2e (tol %.0e)", e, TOL_MODEL);
    report(e <= TOL_MODEL, what, detail);

    // forward + backward without gates, onto non-zero gradients (the += convention at model level)
    float *hg0 = malloc(mc.table.total * sizeof(float));
    for (size_t i = 0; i < mc.table.total; i++) hg0[i] = (float)(1e-3 * rnd_normal());
    CPU->upload(mc.g, hg0, mc.table.total * sizeof(float));
    GPU->upload(mg.g, hg0, mc.table.total * sizeof(float));
    double bc = model_forward_backward(&mc, B, tok, tgt, NULL, dscale);
    double bg = model_forward_backward(&mg, B, tok, tgt, NULL, dscale);
    snprintf(what, sizeof what, "model %s forward_backward loss, no gates", label);
    cmp_scalar(what, bc, bg, TOL_MODEL);
    snprintf(what, sizeof what, "model %s gradients, no gates, onto non-zero", label);
    table_worst(what, &mc.table, mc.g, mg.g, hg0, TOL_MODEL);

    // with gates: the same masks on both, sampled from the same counters, gate gradients compared too
    ModelConfig tc = *c;
    tc.n_layers = c->n_layers - 1;
    tc.n_heads = c->n_heads / 2;
    tc.n_kv_heads = c->n_kv_heads / 2;
    tc.intermediate = c->intermediate / 2;
    tc.dim = c->dim / 2;
    Masks kc, kg;
    make_masks(&kc, CPU, c, &tc);
    make_masks(&kg, GPU, c, &tc);
    float *hla = malloc(kc.total * sizeof(float));
    CPU->download(hla, kc.log_alpha, kc.total * sizeof(float));
    GPU->upload(kg.log_alpha, hla, kc.total * sizeof(float));
    masks_zero_grad(&kc);
    masks_zero_grad(&kg);
    masks_sample(&kc, 31, 2, 9);
    masks_sample(&kg, 31, 2, 9);
    Pair zp = {kc.z, kg.z, kc.total, NULL};
    snprintf(what, sizeof what, "model %s sampled gates z (all types)", label);
    cmp_ulp(what, &zp, 1);
    // the model must run on exactly the same gates, or the comparison measures the 1-ulp sampling difference
    CPU->download(hla, kc.z, kc.total * sizeof(float));
    size_t zeros = 0;
    for (size_t i = 0; i < kc.total; i++) zeros += hla[i] == 0.0f;
    GPU->upload(kg.z, hla, kc.total * sizeof(float));
    snprintf(what, sizeof what, "model %s: some sampled gates are exactly 0", label);
    snprintf(detail, sizeof detail, "%zu of %zu", zeros, kc.total);
    report(zeros > 0, what, detail);
    ModelGates gc, gg;
    masks_gates(&kc, &gc);
    masks_gates(&kg, &gg);
    CPU->zero(mc.g, mc.table.total * sizeof(float));
    GPU->zero(mg.g, mc.table.total * sizeof(float));
    bc = model_forward_backward(&mc, B, tok, tgt, &gc, dscale);
    bg = model_forward_backward(&mg, B, tok, tgt, &gg, dscale);
    snprintf(what, sizeof what, "model %s forward_backward loss, gated", label);
    cmp_scalar(what, bc, bg, TOL_MODEL);
    snprintf(what, sizeof what, "model %s gradients, gated", label);
    table_worst(what, &mc.table, mc.g, mg.g, NULL, TOL_MODEL);
    float *dzc = malloc(kc.total * sizeof(float)), *dzg = malloc(kc.total * sizeof(float));
    CPU->download(dzc, kc.dz, kc.total * sizeof(float));
    GPU->download(dzg, kg.dz, kc.total * sizeof(float));
    for (int t = 0; t < MASK_TYPES; t++) {
        if (!kc.on[t]) continue;
        size_t nt = (size_t)kc.rows[t] * kc.cols[t];
        e = rel_l2(dzc + kc.offset[t], dzg + kc.offset[t], NULL, nt);
        snprintf(what, sizeof what, "model %s gate gradient d loss/d z, %s (rel L2)", label, MASK_NAMES[t]);
        snprintf(detail, sizeof detail, "%.2e (tol %.0e)", e, TOL_MODEL);
        report(e <= TOL_MODEL, what, detail);
    }
    masks_backward_sample(&kc, 31, 2, 9);
    masks_backward_sample(&kg, 31, 2, 9);
    CPU->download(dzc, kc.grad, kc.total * sizeof(float));
    GPU->download(dzg, kg.grad, kc.total * sizeof(float));
    e = rel_l2(dzc, dzg, NULL, kc.total);
    snprintf(what, sizeof what, "model %s log-alpha gradient through the sample (rel L2)", label);
    snprintf(detail, sizeof detail, "%.2e (tol %.0e)", e, TOL_MODEL);
    report(e <= TOL_MODEL, what, detail);
    masks_free(&kc);
    masks_free(&kg);

    // 10 AdamW steps on the same batch, clipping on, weight decay on: loss curves side by side
    AdamW oc, og;
    adamw_create(&oc, CPU, mc.table.total);
    adamw_create(&og, GPU, mc.table.total);
    AdamWHyper h = {.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f, .grad_clip = 1.0f};
    double worst = 0.0, first = 0.0, last = 0.0;
    for (int step = 1; step <= 10; step++) {
        CPU->zero(mc.g, mc.table.total * sizeof(float));
        GPU->zero(mg.g, mc.table.total * sizeof(float));
        double lcs = model_forward_backward(&mc, B, tok, tgt, NULL, dscale) / scored;
        double lgs = model_forward_backward(&mg, B, tok, tgt, NULL, dscale) / scored;
        float sc = grad_clip_scale(grad_global_norm(CPU, &mc.table, mc.g), h.grad_clip);
        float sg = grad_clip_scale(grad_global_norm(GPU, &mg.table, mg.g), h.grad_clip);
        adamw_step(&oc, &mc.table, mc.w, mc.g, &h, sc);
        adamw_step(&og, &mg.table, mg.w, mg.g, &h, sg);
        double rel = fabs(lgs - lcs) / fabs(lcs);
        printf("     %s step %2d loss cpu %.7f gpu %.7f rel %.1e\n", label, step, lcs, lgs, rel);
        if (!(rel <= worst)) worst = rel;
        if (step == 1) first = lcs;
        last = lcs;
    }
    snprintf(what, sizeof what, "model %s 10 AdamW steps: loss curves", label);
    snprintf(detail, sizeof detail, "worst rel %.2e (tol %.0e), cpu loss %.4f -> %.4f", worst, TOL_CURVE, first, last);
    report(worst <= TOL_CURVE && last < first, what, detail);
    adamw_free(&oc);
    adamw_free(&og);

    free(hw);
    free(hg0);
    free(tok);
    free(tgt);
    free(lc);
    free(lgp);
    free(rc);
    free(rg);
    free(hla);
    free(dzc);
    free(dzg);
    model_free(&mc);
    model_free(&mg);
}

// Each LLaMA shape of test_cuda_ops.c's main, then (for a plain LLaMA config) the same shape and batch as the
// family twin it fits, with the same checks and tolerances: GQA as Qwen2 (q/k/v biases, tied embedding),
// head_dim != dim / n_heads as Qwen3 (RMSNorm over head_dim on every q and k head, tied embedding). The twins
// restore the test's random counter, so the groups after this one draw the inputs they drew before.
void test_model(const ModelConfig *c, int B, int T, const char *label) {
    model_case(c, B, T, label);
    if (c->family != FAMILY_LLAMA || has_family_options(c)) return;
    const uint64_t counter = rng_counter;
    char twin[160];
    if (c->n_kv_heads < c->n_heads) {
        ModelConfig q2 = *c;
        q2.family = FAMILY_QWEN2;
        q2.qkv_bias = 1;
        q2.tie_embeddings = 1;
        snprintf(twin, sizeof twin, "Qwen2 %s", label);
        model_case(&q2, B, T, twin);
    }
    if (c->head_dim * c->n_heads != c->dim) {
        ModelConfig q3 = *c;
        q3.family = FAMILY_QWEN3;
        q3.qk_norm = 1;
        q3.tie_embeddings = 1;
        snprintf(twin, sizeof twin, "Qwen3 %s", label);
        model_case(&q3, B, T, twin);
    }
    rng_counter = counter;
}
