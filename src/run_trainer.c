// The one step loop of train and prune (see run_trainer.h).
#include "shear/run_trainer.h"

#include <math.h>
#include <string.h>

#include "shear/common.h"
#include "shear/flops.h"
#include "shear/watchdog.h"

#define HOOK(t, name, ...) \
    do { \
        if ((t)->hooks && (t)->hooks->name) (t)->hooks->name((t)->hooks->ctx, ##__VA_ARGS__); \
    } while (0)

void trainer_open(Trainer *t) {
    const Deck *d = t->deck;
    model_set_recompute(t->model, d->run_recompute);
    model_alloc_acts(t->model, d->train_micro_batch, d->train_seq_len);
    zero_init(&t->zero, t->dist, t->ops, t->model->table.total, d->run_zero, (size_t)d->run_zero_bucket);
    zero_adamw_create(&t->zero, &t->opt);
    run_data_open(&t->data, d, t->model->cfg.vocab);
    distill_open(&t->distill, d, t->ops, &t->model->cfg, d->train_micro_batch, d->train_seq_len);
}

int trainer_resume(Trainer *t, size_t target_params, const char *final_path) {
    const Deck *d = t->deck;
    char what[32];
    snprintf(what, sizeof what, "shear %s", t->stage);
    zero_log_memory(&t->zero, what);
    dbl_run_init(&t->dbl, d, t->dist, t->ops, &t->data, target_params, d->train_seq_len, t->weights_from);
    t->dbl.distill = &t->distill;
    run_ckpt_init(&t->ckpt, t->stage, d, t->model, &t->opt, &t->data.sampler, &t->dbl, t->masks, &t->distill);
    t->tokens = 0;
    t->start = run_ckpt_resume(&t->ckpt, t->dist, t->ops, d, &t->tokens);
    // the source's losses measured on the run's own model while it still is the source (a resumed run has
    // them from its checkpoint)
    dbl_run_measure_ref(&t->dbl, d, t->dist, t->model, &t->data, d->train_seq_len, t->start > 0);
    if (t->start >= d->train_steps && shear_file_exists(final_path)) {
        shear_log("shear %s: the run is complete (%d steps, %s): nothing to do\n", t->stage, d->train_steps,
                  final_path);
        return 1;
    }
    t->metrics = run_open_outputs(t->dist, d, t->start);
    return 0;
}

// The progress line: every run.log_every steps, the first and the last.
static void log_progress(const Trainer *t, const MetricsStep *r, const char *middle) {
    const Deck *d = t->deck;
    if (r->step % d->run_log_every != 0 && r->step != 1 && r->step != d->train_steps) return;
    char eta[32], fl[64];
    run_fmt_eta(eta, sizeof eta, r->elapsed_s / (r->step - t->start) * (d->train_steps - r->step));
    flops_fmt_progress(fl, sizeof fl, r->tflops, t->plan.peak);
    shear_log("step %5d/%d | %s | %.0f tok/s (%.0f/rank) | %s | %.3f s | ETA %s\n", r->step, d->train_steps, middle,
              r->tok_s, r->tok_s_rank, fl, r->step_s, eta);
}

int trainer_run(Trainer *t) {
    const Deck *d = t->deck;
    const Dist *dist = t->dist;
    const ShearOps *ops = t->ops;
    Model *m = t->model;
    const int T = d->train_seq_len, G = d->train_global_batch, mb = d->train_micro_batch;
    SampleRef *batch = shear_malloc((size_t)G * sizeof *batch);                  // [G] the global batch
    int32_t *seq = shear_malloc((size_t)t->data.store.seq_len * sizeof(int32_t)); // [store seq_len]
    int32_t *tok = shear_malloc((size_t)mb * T * sizeof(int32_t));                 // [mb, T]
    int32_t *tgt = shear_malloc((size_t)mb * T * sizeof(int32_t));                 // [mb, T]
    const float dscale = 1.0f / (float)((double)G * (T - 1)); // mean over the global batch's predictions
    int mlo, mhi;                                                // this rank's micro-batches
    run_micro_slice(dist, G / mb, &mlo, &mhi);
    AdamWHyper hyper = {0, (float)d->optim_beta1, (float)d->optim_beta2, (float)d->optim_eps,
                        (float)d->optim_weight_decay, (float)d->optim_grad_clip};
    const int cosine = strcmp(d->optim_schedule, "cosine") == 0;
    const char *lr_keys = t->hooks && t->hooks->lr_keys ? t->hooks->lr_keys : "optim.lr";
    const int kd_on = t->distill.on;
    int rc = 0;
    t->t_start = shear_now();
    shear_errors_shared(0); // from here on errors can be one rank's (its data, its device): each names its rank
    for (int step = t->start + 1; step <= d->train_steps; step++) {
        double t0 = shear_now();
        watchdog_step(step);
        if (dbl_run_due(&t->dbl, d, step)) {
            HOOK(t, before_eval);
            dbl_run_update(&t->dbl, d, dist, m, &t->data, t->gates, T, step, t->metrics);
        }
        int new_epoch[SAMPLER_MAX_DOMAINS] = {0};
        if (sampler_next_batch(&t->data.sampler, t->dbl.w, (size_t)G, batch, new_epoch))
            run_log_epochs(&t->data, new_epoch, step, t->metrics);
        ops->zero(m->g, m->table.total * sizeof(float));
        HOOK(t, step_begin);
        double sums[2] = {0, 0}; // LM and KD loss sums of this rank's micro-batches
        for (int j = mlo; j < mhi; j++) {
            HOOK(t, micro_begin, step, j);
            run_fill_batch(&t->data, batch + (size_t)j * mb, mb, T, tok, tgt, seq);
            if (kd_on) {
                double kd_sum = 0;
                const ShearKD *kd = distill_teacher(&t->distill, mb, tok, tgt); // forward only, same rows
                sums[0] += model_forward_backward_kd(m, mb, tok, tgt, t->gates, dscale, kd, &kd_sum);
                sums[1] += kd_sum;
            } else {
                sums[0] += model_forward_backward(m, mb, tok, tgt, t->gates, dscale);
            }
            HOOK(t, micro_end, step, j);
        }
        watchdog_test_point(dist->rank, step);
        zero_reduce_grads(&t->zero, dist, m->g);
        double extra_sumsq = t->hooks && t->hooks->reduced ? t->hooks->reduced(t->hooks->ctx, step) : -1;
        dist_sum_doubles(dist, sums, kd_on ? 2 : 1);
        const double lm_loss = sums[0] / ((double)G * (T - 1)), kd_loss = sums[1] / ((double)G * (T - 1));
        // the objective whose gradient the step follows (classifier_kd: (1 - alpha) LM + alpha KD)
        double loss = kd_on ? (1.0 - (double)t->distill.kd.alpha) * lm_loss + (double)t->distill.kd.alpha * kd_loss
                            : lm_loss;
        if (!isfinite(loss)) // the summed loss: every rank sees the same value
            SHEAR_DIE_ALL("loss is %f at step %d, expected a finite loss: training diverged (lower %s or raise "
                      "optim.warmup) or the initial model overflows", loss, step, lr_keys);
        double lr = lr_at(cosine, d->optim_lr, d->optim_warmup, d->train_steps, d->optim_min_lr_ratio, step);
        hyper.lr = (float)lr;
        double gnorm = zero_grad_norm(&t->zero, dist, &m->table, m->g);
        if (extra_sumsq >= 0) gnorm = sqrt(gnorm * gnorm + extra_sumsq); // the clip norm covers every group
        if (!isfinite(gnorm))
            SHEAR_DIE("gradient norm is %f at step %d: training diverged; lower %s", gnorm, step, lr_keys);
        float gscale = grad_clip_scale(gnorm, hyper.grad_clip);
        zero_step(&t->zero, dist, &t->opt, &m->table, m->w, m->g, &hyper, gscale);
        HOOK(t, update, lr / d->optim_lr, &hyper, gscale); // one schedule scales every group
        t->tokens += (long long)G * T;

        double dt = shear_now() - t0;
        MetricsStep r = {.step = step, .loss = loss, .lr = hyper.lr, .grad_norm = gnorm, .tokens = t->tokens,
                         .step_s = dt, .elapsed_s = shear_now() - t->t_start, .distill = kd_on,
                         .lm_loss = lm_loss, .kd_loss = kd_loss};
        r.tok_s = (double)G * T / dt;
        r.tok_s_rank = r.tok_s / dist->size;
        r.tflops = t->plan.flops_tok * r.tok_s / dist->size / 1e12; // per rank
        r.mfu = t->plan.peak > 0 ? r.tflops / t->plan.peak : -1;
        if (dist->rank == 0) {
            char middle[1200];
            if (kd_on)
                snprintf(middle, sizeof middle, "loss %.4f (lm %.4f kd %.4f) | lr %.3e | gnorm %.3f", loss, lm_loss,
                         kd_loss, hyper.lr, gnorm);
            else
                snprintf(middle, sizeof middle, "loss %.4f | lr %.3e | gnorm %.3f", loss, hyper.lr, gnorm);
            HOOK(t, report, &r, middle, sizeof middle);
            log_progress(t, &r, middle);
            metrics_step(t->metrics, &r);
        }
        HOOK(t, step_end, step, t->metrics);
        if (run_ckpt_step_end(&t->ckpt, dist, ops, d, step, t->tokens, dt)) {
            rc = SHEAR_EXIT_CHECKPOINTED;
            break;
        }
    }
    free(batch); free(seq); free(tok); free(tgt);
    return rc;
}

void trainer_final_eval(Trainer *t) {
    dbl_run_final_eval(&t->dbl, t->deck, t->dist, t->model, &t->data, t->gates, t->deck->train_seq_len,
                       t->deck->train_steps, t->metrics);
}

void trainer_close(Trainer *t) {
    if (t->metrics) fclose(t->metrics);
    t->metrics = NULL;
    run_data_close(&t->data);
    adamw_free(&t->opt);
    zero_free(&t->zero);
    run_ckpt_free(&t->ckpt);
    dbl_run_free(&t->dbl);
    distill_close(&t->distill);
}
