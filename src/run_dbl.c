// Dynamic batch loading inside a run (see run_dbl.h).
#include "shear/run_dbl.h"

#include <math.h>
#include <string.h>

#include "shear/common.h"
#include "shear/evaluate.h"
#include "shear/metrics.h"
#include "shear/modelfile.h"
#include "shear/watchdog.h"

// Per-domain mean losses of m on the eval splits; identical on every rank.
// Per-domain mean LM loss [k]; kd [k] (NULL, or with the run's teacher on) the mean KD loss.
static void domain_losses(const DblRun *r, const Deck *d, const Dist *dist, Model *m, const RunData *data,
                          const ModelGates *gates, int eval_T, double *loss, double *kd) {
    double sum[DBL_MAX_DOMAINS], tok[DBL_MAX_DOMAINS], kds[DBL_MAX_DOMAINS];
    eval_domains(dist, m, &data->store, data->dom, r->k, eval_T, d->dbl_eval_seqs, gates, sum, tok,
                 kd ? r->distill : NULL, kds);
    for (int i = 0; i < r->k; i++) {
        if (tok[i] <= 0)
            SHEAR_DIE("token store '%s': domain '%s' has no eval sequences; dynamic batch loading and the final "
                      "evaluation need them (prep.eval_seqs > 0)", d->data_store, r->names[i]);
        loss[i] = sum[i] / tok[i];
        if (kd) kd[i] = kds[i] / tok[i];
    }
}

// The KD losses' buffer when the run distils, else NULL (the records then have no kd field).
static double *kd_out(const DblRun *r, double *buf) { return r->distill && r->distill->on ? buf : NULL; }

// The references are known: checked and logged.
static void ref_done(DblRun *r, const Deck *d) {
    for (int i = 0; i < r->k; i++)
        if (!isfinite(r->ref[i])) SHEAR_DIE("reference loss of domain '%s' is %f, expected a finite number", r->names[i], r->ref[i]);
    r->have_ref = 1;
    shear_log("dbl: rule %s, reference (%s):", d->dbl_rule, d->dbl_reference);
    for (int i = 0; i < r->k; i++) shear_log(" %s %.4f", r->names[i], r->ref[i]);
    shear_log("\n");
}

void dbl_run_init(DblRun *r, const Deck *d, const Dist *dist, const ShearOps *ops, const RunData *data,
                  size_t target_params, int eval_T, const char *weights_from) {
    memset(r, 0, sizeof *r);
    const int k = data->n_domains;
    r->rule = dbl_rule_parse(d->dbl_rule);
    SHEAR_CHECK(r->rule >= 0, "%s: dbl.rule '%s' is not paper, code or constant", d->path, d->dbl_rule);
    r->k = k;
    r->hist_cap = d->train_steps / d->dbl_interval + 2;
    r->history = shear_calloc((size_t)r->hist_cap * (size_t)k, sizeof(double));
    for (int i = 0; i < k; i++) {
        snprintf(r->names[i], DBL_NAME_LEN, "%s", data->store.names[data->dom[i]]);
        r->w[i] = data->w0[i];
    }
    if (r->rule == DBL_RULE_CONSTANT) return;
    char err[1024];
    if (strcmp(d->dbl_reference, "deck") == 0) {
        if (d->dbl_n_ref_losses != k)
            SHEAR_DIE("%s: dbl.ref_losses has %d values, expected one per domain (%d, order of data.domains); or set "
                      "dbl.reference to source or scaling, or dbl.rule to constant", d->path, d->dbl_n_ref_losses, k);
        for (int i = 0; i < k; i++) r->ref[i] = d->dbl_ref_losses[i];
    } else if (strcmp(d->dbl_reference, "scaling") == 0) {
        if (!d->dbl_scaling_file[0]) SHEAR_DIE("%s: dbl.reference is scaling but dbl.scaling_file is empty", d->path);
        DblScalingTable t;
        if (dbl_scaling_read(&t, d->dbl_scaling_file, err, sizeof err)) SHEAR_DIE("%s", err);
        if (dbl_scaling_refs(&t, r->names, k, (double)target_params, r->ref, err, sizeof err)) SHEAR_DIE("%s", err);
        dbl_scaling_free(&t);
    } else { // source: the per-domain eval loss of the source model
        if (!d->prune_source[0]) SHEAR_DIE("%s: dbl.reference is source but prune.source names no model", d->path);
        if (!run_ref_source_copy(d, weights_from)) {
            r->ref_on_run_model = 1; // the run's model is the source: no second copy (dbl_run_measure_ref)
            return;
        }
        ModelConfig c;
        modelfile_read_config(d->prune_source, &c);
        Model src;
        // on the run's backend (a GPU run evaluates the source on the GPU), forward only: weights without
        // gradients and one block of activations, as the distillation teacher (the losses are the same bits)
        model_create_frozen(&src, ops, &c);
        model_set_recompute(&src, 1);
        modelfile_load_weights(d->prune_source, &src);
        model_alloc_acts(&src, d->train_micro_batch, eval_T);
        domain_losses(r, d, dist, &src, data, NULL, eval_T, r->ref, NULL);
        model_free(&src);
    }
    ref_done(r, d);
}

void dbl_run_measure_ref(DblRun *r, const Deck *d, const Dist *dist, Model *m, const RunData *data, int eval_T,
                         int resumed) {
    if (!r->ref_on_run_model) return;
    if (!resumed) domain_losses(r, d, dist, m, data, NULL, eval_T, r->ref, NULL); // NULL gates: the whole source
    ref_done(r, d);
}

int dbl_run_due(const DblRun *r, const Deck *d, int step) {
    if (r->rule == DBL_RULE_CONSTANT) return 0;
    if (step == 1) return d->dbl_at_start;
    return (step - 1) % d->dbl_interval == 0;
}

void dbl_run_update(DblRun *r, const Deck *d, const Dist *dist, Model *m, const RunData *data,
                    const ModelGates *gates, int eval_T, int step, FILE *metrics) {
    double loss[DBL_MAX_DOMAINS], w_new[DBL_MAX_DOMAINS], kdb[DBL_MAX_DOMAINS], *kd = kd_out(r, kdb);
    domain_losses(r, d, dist, m, data, gates, eval_T, loss, kd);
    if (dist->rank == 0) {
        char err[512];
        if (dbl_update(r->rule, r->w, loss, r->ref, r->k, d->dbl_eta, d->dbl_smoothing, w_new, err, sizeof err))
            SHEAR_DIE("dynamic batch loading at step %d: %s", step, err);
        metrics_dbl(metrics, step, r->k, r->names, loss, kd, r->ref, r->w, w_new);
        shear_log("dbl: step %d | domain loss-ref -> weight:", step);
        for (int i = 0; i < r->k; i++) shear_log(" %s %+.3f -> %.4f", r->names[i], loss[i] - r->ref[i], w_new[i]);
        shear_log("\n");
    }
    // rank 0 decides; every rank's sampler switches at the same step
    watchdog_enter("bcast(domain weights)", -1);
    dist_bcast_doubles(dist, w_new, r->k, 0);
    watchdog_leave();
    memcpy(r->w, w_new, (size_t)r->k * sizeof(double));
    if (r->updates < r->hist_cap) memcpy(r->history + (size_t)r->updates * r->k, w_new, (size_t)r->k * sizeof(double));
    r->updates++;
}

void dbl_run_final_eval(const DblRun *r, const Deck *d, const Dist *dist, Model *m, const RunData *data,
                        const ModelGates *gates, int eval_T, int step, FILE *metrics) {
    double loss[DBL_MAX_DOMAINS], kdb[DBL_MAX_DOMAINS], *kd = kd_out(r, kdb);
    domain_losses(r, d, dist, m, data, gates, eval_T, loss, kd);
    if (dist->rank != 0) return;
    double avg = 0, kd_avg = 0;
    shear_log("final evaluation (eval splits):\n  %-14s %9s %10s%s\n", "domain", "loss", "ppl", kd ? "   kd_loss" : "");
    for (int i = 0; i < r->k; i++) {
        shear_log("  %-14s %9.4f %10.2f", r->names[i], loss[i], exp(loss[i]));
        if (kd) shear_log(" %9.4f", kd[i]);
        shear_log("\n");
        avg += loss[i] / r->k;
        if (kd) kd_avg += kd[i] / r->k;
    }
    shear_log("  %-14s %9.4f %10.2f", "average", avg, exp(avg));
    if (kd) shear_log(" %9.4f", kd_avg);
    shear_log("\n");
    metrics_eval(metrics, step, r->k, r->names, loss, kd, avg);
}

void dbl_run_free(DblRun *r) {
    free(r->history);
    r->history = NULL;
}
