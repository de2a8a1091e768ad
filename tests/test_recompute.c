// Activation recomputation (run.recompute, model_set_recompute): with it on, model_forward_backward keeps only
// each block's input and recomputes the block's activations just before its backward. The recomputed forward
// calls the same ops on the same inputs, so the loss, every parameter gradient, every gate gradient dz and the
// log-alpha gradients through the hard-concrete sample must be BITWISE those of recompute off (memcmp, no
// tolerance), for a GQA model with no masks, the Sheared LLaMA masks, and the CoFi pair (head_layer + mlp),
// over two accumulated micro-batches, one of them shorter than the allocated micro-batch. Also: the forward
// alone (loss, per-row losses, logits) is bitwise equal, and the per-layer buffers shrink to one block.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shear/common.h"
#include "shear/masks.h"
#include "shear/model.h"

static const ShearOps *ops;
static int passed, failed;

static void check(int ok, const char *what) {
    printf("%s %s\n", ok ? "PASS" : "FAIL", what);
    if (ok) passed++;
    else failed++;
}

// index of the first float that differs bitwise, or -1
static long first_diff(const float *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (memcmp(a + i, b + i, sizeof(float)) != 0) return (long)i;
    return -1;
}

static void tokens(int32_t *tok, int32_t *tgt, int B, int T, int V, uint64_t batch) {
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            tok[b * T + t] = (int32_t)(rng_u64(5, 77, (batch * B + b) * 1000 + t) % (uint64_t)V);
            tgt[b * T + t] = t == T - 1 ? -1 : (int32_t)(rng_u64(5, 77, (batch * B + b) * 1000 + t + 1) % (uint64_t)V);
        }
}

// Runs two micro-batches (B = 2, then B = 1 of the allocated 2) into model->g and the masks' grad / dz.
// Host copies: g [total], dz [2, mask total] (per micro-batch: masks_backward_sample consumes it), dla [mask total];
// returns the summed loss.
static double run(Model *model, Masks *mk, const ModelConfig *c, float *g, float *dz, float *dla) {
    const int T = 8;
    int32_t tok[16], tgt[16];
    double loss = 0;
    ops->zero(model->g, model->table.total * sizeof(float));
    if (mk) masks_zero_grad(mk);
    for (int mb = 0; mb < 2; mb++) {
        int B = mb == 0 ? 2 : 1;
        tokens(tok, tgt, B, T, c->vocab, (uint64_t)mb);
        ModelGates gates, *gp = NULL;
        if (mk) {
            // the z of this micro-batch stay fixed through its forward, recompute and backward
            masks_sample(mk, 31, 2, (uint64_t)mb);
            masks_gates(mk, &gates);
            gp = &gates;
        }
        loss += model_forward_backward(model, B, tok, tgt, gp, 1.0f / 15.0f);
        if (mk) {
            ops->download(dz + (size_t)mb * mk->total, mk->dz, mk->total * sizeof(float));
            masks_backward_sample(mk, 31, 2, (uint64_t)mb);
        }
    }
    ops->download(g, model->g, model->table.total * sizeof(float));
    if (mk) {
        ops->download(dla, mk->grad, mk->total * sizeof(float));
    }
    return loss;
}

static void compare(const char *list) {
    ModelConfig c = {.dim = 24, .n_layers = 3, .n_heads = 4, .n_kv_heads = 2, .head_dim = 8, .intermediate = 40,
                     .vocab = 48, .rope = {.theta = 10000.0f}, .norm_eps = 1e-5f};
    Model a, b; // a: recompute off, b: on
    model_create(&a, ops, &c);
    model_create(&b, ops, &c);
    model_init_weights(&a, 9, 0.2f);
    model_init_weights(&b, 9, 0.2f);
    model_alloc_acts(&a, 2, 8);
    model_set_recompute(&b, 1);
    model_alloc_acts(&b, 2, 8);
    Masks mk, *mp = NULL;
    if (list[0]) {
        char names[MASK_TYPES][32], buf[128], err[512];
        int k = 0;
        snprintf(buf, sizeof buf, "%s", list);
        for (char *t = strtok(buf, " "); t && k < MASK_TYPES; t = strtok(NULL, " ")) snprintf(names[k++], 32, "%s", t);
        SHEAR_CHECK(masks_create(&mk, ops, &c, &c, names, k, err, sizeof err) == 0, "masks_create: %s", err);
        masks_init_log_alpha(&mk, 4, 1.0, 1.5); // z spread over (0, 1) and the clamps: every gate path used
        masks_clamp(&mk);
        mp = &mk;
    }
    size_t P = a.table.total, Z = mp ? mk.total : 1, Z2 = 2 * Z;
    float *ga = malloc(P * sizeof(float)), *gb = malloc(P * sizeof(float));
    float *dza = calloc(Z2, sizeof(float)), *dzb = calloc(Z2, sizeof(float));
    float *dla = calloc(Z, sizeof(float)), *dlb = calloc(Z, sizeof(float));
    double la = run(&a, mp, &c, ga, dza, dla);
    double lb = run(&b, mp, &c, gb, dzb, dlb);
    char what[256];
    const char *name = list[0] ? list : "no masks";
    snprintf(what, sizeof what, "[%s] loss bitwise equal (%.17g vs %.17g)", name, la, lb);
    check(memcmp(&la, &lb, sizeof la) == 0, what);
    long i = first_diff(ga, gb, P);
    snprintf(what, sizeof what, "[%s] all %zu parameter gradients bitwise equal (first difference at %ld)", name, P, i);
    check(i < 0, what);
    size_t nz = 0;
    for (size_t j = 0; j < P; j++) nz += ga[j] != 0.0f;
    snprintf(what, sizeof what, "[%s] the gradients are not trivially zero (%zu of %zu nonzero)", name, nz, P);
    check(nz > P / 2, what);
    if (mp) {
        i = first_diff(dza, dzb, Z2);
        snprintf(what, sizeof what, "[%s] all %zu gate gradients dz of both micro-batches bitwise equal (first "
                 "difference at %ld)", name, Z2, i);
        check(i < 0, what);
        i = first_diff(dla, dlb, Z);
        snprintf(what, sizeof what, "[%s] all %zu log-alpha gradients bitwise equal (first difference at %ld)", name,
                 Z, i);
        check(i < 0, what);
        nz = 0;
        for (size_t j = 0; j < Z2; j++) nz += dza[j] != 0.0f;
        snprintf(what, sizeof what, "[%s] gate gradients not trivially zero (%zu of %zu nonzero)", name, nz, Z2);
        check(nz > Z2 / 2, what);
        nz = 0;
        for (size_t j = 0; j < Z; j++) nz += dla[j] != 0.0f;
        snprintf(what, sizeof what, "[%s] log-alpha gradients not trivially zero (%zu of %zu nonzero)", name, nz, Z);
        check(nz > Z / 4, what);
    }

    // the forward alone: loss, per-row losses and logits
    int32_t tok[16], tgt[16];
    tokens(tok, tgt, 2, 8, c.vocab, 7);
    ModelGates gates, *gp = NULL;
    if (mp) { masks_sample(mp, 31, 3, 0); masks_gates(mp, &gates); gp = &gates; }
    float rla[16], rlb[16], *lga = malloc(16 * (size_t)c.vocab * sizeof(float)),
                            *lgb = malloc(16 * (size_t)c.vocab * sizeof(float));
    double fa = model_forward(&a, 2, tok, tgt, gp, rla, lga), fb = model_forward(&b, 2, tok, tgt, gp, rlb, lgb);
    snprintf(what, sizeof what, "[%s] model_forward: loss, row losses and logits bitwise equal", name);
    check(memcmp(&fa, &fb, sizeof fa) == 0 && first_diff(rla, rlb, 16) < 0 &&
              first_diff(lga, lgb, 16 * (size_t)c.vocab) < 0, what);

    snprintf(what, sizeof what, "[%s] per-layer buffers hold %d layers off, %d on", name, a.acts_layers, b.acts_layers);
    check(a.acts_layers == c.n_layers && b.acts_layers == 1, what);
    free(ga); free(gb); free(dza); free(dzb); free(dla); free(dlb); free(lga); free(lgb);
    if (mp) masks_free(&mk);
    model_free(&a);
    model_free(&b);
}

int main(void) {
    ops = ops_cpu();
    compare("");
    compare("head intermediate layer hidden");
    compare("head_layer mlp head intermediate hidden");

    // switching recompute on an allocated model reallocates the per-layer buffers at the next model_alloc_acts
    ModelConfig c = {.dim = 16, .n_layers = 4, .n_heads = 2, .n_kv_heads = 1, .head_dim = 8, .intermediate = 24,
                     .vocab = 32, .rope = {.theta = 10000.0f}, .norm_eps = 1e-5f};
    Model m;
    model_create(&m, ops, &c);
    model_alloc_acts(&m, 2, 8);
    int before = m.acts_layers;
    model_set_recompute(&m, 1);
    model_alloc_acts(&m, 2, 8);
    int on = m.acts_layers;
    model_set_recompute(&m, 0);
    model_alloc_acts(&m, 2, 8);
    char what[128];
    snprintf(what, sizeof what, "toggling recompute reallocates: %d -> %d -> %d layers", before, on, m.acts_layers);
    check(before == 4 && on == 1 && m.acts_layers == 4, what);
    model_free(&m);

    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
