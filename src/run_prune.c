// The pruning work of a step as trainer hooks (see run_prune.h).
#include "shear/run_prune.h"

#include <stdio.h>

#include "shear/watchdog.h"

static void before_eval(void *ctx) {
    PruneHooks *h = ctx;
    masks_deterministic(h->mk, 0); // evaluation during pruning uses the expected-zeros masks
}

static void step_begin(void *ctx) {
    PruneHooks *h = ctx;
    masks_zero_grad(h->mk);
    masks_clamp(h->mk);
}

static void micro_begin(void *ctx, int step, int j) {
    PruneHooks *h = ctx;
    // the mask sample is keyed by the global micro-batch index: any rank count draws the same z
    masks_sample(h->mk, (uint64_t)h->deck->train_seed, (uint64_t)step, (uint64_t)j);
}

static void micro_end(void *ctx, int step, int j) {
    PruneHooks *h = ctx;
    masks_backward_sample(h->mk, (uint64_t)h->deck->train_seed, (uint64_t)step, (uint64_t)j);
}

static double reduced(void *ctx, int step) {
    PruneHooks *h = ctx;
    watchdog_enter("allreduce(mask grads)", -1); // names the collective should it hang
    dist_allreduce_sum(h->dist, h->mk->ops, h->mk->grad, h->mk->total);
    watchdog_leave();
    // the Lagrangian is computed after the reduction, identically on every rank
    h->lagrangian = masks_lagrangian(h->mk, step, h->deck->train_steps, h->deck->prune_target_warmup_frac, &h->stats);
    return masks_grad_sumsq(h->mk);
}

static void update(void *ctx, double f, const AdamWHyper *hy, float gscale) {
    PruneHooks *h = ctx;
    masks_step(h->mk, (float)(h->deck->prune_lr_log_alpha * f), (float)(h->deck->prune_lr_lambda * f), hy->beta1,
               hy->beta2, hy->eps, gscale);
}

static void report(void *ctx, MetricsStep *r, char *line, size_t len) {
    PruneHooks *h = ctx;
    const Masks *mk = h->mk;
    const MaskStats *st = &h->stats;
    r->masks = mk;
    r->stats = st;
    size_t o = r->distill ? (size_t)snprintf(line, len, "loss %.4f (lm %.4f kd %.4f) | lag %+.4f | sparsity", r->loss,
                                             r->lm_loss, r->kd_loss, h->lagrangian)
                          : (size_t)snprintf(line, len, "lm %.4f | lag %+.4f | sparsity", r->loss, h->lagrangian);
    for (int t = 0; t < MASK_TYPES && o < len; t++)
        if (mk->on[t])
            o += (size_t)snprintf(line + o, len - o, " %s %.3f/%.3f (lambda %+.2f %+.2f)", MASK_NAMES[t],
                                  st->expected_sparsity[t], st->target_sparsity[t], mk->lambda[t][0], mk->lambda[t][1]);
    if (o < len) snprintf(line + o, len - o, " | E[params] %.3fM", st->expected_params / 1e6);
}

static void step_end(void *ctx, int step, FILE *metrics) {
    PruneHooks *h = ctx;
    if (step % h->deck->dbl_interval != 0 && step != h->deck->train_steps) return;
    masks_deterministic(h->mk, 0);
    metrics_masks(metrics, h->mk, step);
}

void prune_hooks_init(PruneHooks *h, Masks *mk, const Deck *d, const Dist *dist) {
    *h = (PruneHooks){.mk = mk, .deck = d, .dist = dist};
    h->hooks = (TrainerHooks){.ctx = h, .lr_keys = "optim.lr or prune.lr_log_alpha", .before_eval = before_eval,
                              .step_begin = step_begin, .micro_begin = micro_begin, .micro_end = micro_end,
                              .reduced = reduced, .update = update, .report = report, .step_end = step_end};
}
