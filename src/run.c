// Shared pieces of the long commands (see run.h).
#include "shear/run.h"

#include <string.h>
#include <sys/stat.h>

#include "shear/common.h"
#include "shear/distill.h"
#include "shear/flops.h"
#include "shear/memest.h"
#include "shear/metrics.h"
#include "shear/modelfile.h"
#include "shear/watchdog.h"

void run_begin(Dist *dist, Deck *deck, int *argc, char ***argv, const char *deck_path, const char **sets, int n_sets) {
    dist_init(dist, argc, argv);
    // until the first step every rank reads the same deck, model, store and checkpoint: an error there is said
    // once, by rank 0 (trainer_run turns this off)
    shear_errors_shared(1);
    deck_open(deck, deck_path, sets, n_sets);
    watchdog_start(deck->run_watchdog, dist->rank); // a collective stuck run.watchdog seconds aborts the job
    if (!deck->data_store[0])
        SHEAR_DIE("%s: data.store is required: the token store written by `shear prep`", deck->path);
}

// The same file under two names (a relative and an absolute path, a link) counts as the same.
static int same_file(const char *a, const char *b) {
    if (strcmp(a, b) == 0) return 1;
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int run_ref_source_copy(const Deck *d, const char *weights_from) {
    if (strcmp(d->dbl_rule, "constant") == 0 || strcmp(d->dbl_reference, "source") != 0) return 0;
    return !(weights_from && weights_from[0] && d->prune_source[0] && same_file(weights_from, d->prune_source));
}

RunPlan run_plan(const Dist *dist, const Deck *d, const ShearOps *ops, const ModelConfig *cfg, size_t mask_gates,
                 const char *weights_from) {
    const int on_cuda = ops->is_device; // the memory estimate and the peak FLOP/s are the device's
    MemPlan plan = {.cfg = *cfg, .T = d->train_seq_len, .ranks = dist->size, .zero = d->run_zero,
                    .zero_bucket = (size_t)d->run_zero_bucket, .mask_gates = mask_gates,
                    .cuda = on_cuda, .recompute = d->run_recompute, .topk = d->distill_topk,
                    .bf16 = strcmp(d->run_precision, "bf16") == 0};
    // train from a pruned model with DBL against the source: the source lives beside it for the first
    // evaluation (without prune.source, dbl_run_init says so)
    if (run_ref_source_copy(d, weights_from) && d->prune_source[0]) {
        plan.ref_eval = 1;
        modelfile_read_config(d->prune_source, &plan.ref_cfg);
    }
    plan.teacher = distill_teacher_config(d, &plan.teacher_cfg);
    memest_run_check(&plan, dist, d->train_micro_batch, d->train_global_batch, d->path);
    RunPlan p;
    p.peak = flops_run_peak_tflops(d->run_peak_tflops, on_cuda, plan.bf16, p.peak_what, sizeof p.peak_what);
    p.flops_tok = flops_train_total_per_token(cfg, d->train_seq_len);
    return p;
}

void run_log_flops(const RunPlan *p, const char *what) {
    if (p->peak > 0)
        shear_log("flops: %.4g GFLOP per token%s (3 x forward, attention over the full T x T); MFU against %.1f "
                  "TFLOP/s per rank (%s)\n", p->flops_tok / 1e9, what, p->peak, p->peak_what);
    else
        shear_log("flops: %.4g GFLOP per token%s (3 x forward, attention over the full T x T); no MFU (peak unknown: "
                  "set run.peak_tflops)\n", p->flops_tok / 1e9, what);
}

int run_domains(const Deck *d, const TokenStore *s, int *store_idx, double *w) {
    int n = d->data_n_domains ? d->data_n_domains : s->n_domains;
    for (int i = 0; i < n; i++) {
        store_idx[i] = d->data_n_domains ? store_domain(s, d->data_domains[i]) : i;
        if (store_idx[i] < 0)
            SHEAR_DIE("%s: data.domains: domain '%s' is not in the token store '%s'", d->path, d->data_domains[i],
                      d->data_store);
        if (s->n_train[store_idx[i]] == 0)
            SHEAR_DIE("token store '%s': domain '%s' has no train sequences", d->data_store, s->names[store_idx[i]]);
    }
    double sum = 0;
    for (int i = 0; i < n; i++) {
        w[i] = d->data_n_proportions ? d->data_proportions[i] : (double)s->n_train[store_idx[i]];
        sum += w[i];
    }
    SHEAR_CHECK(sum > 0, "%s: data.proportions sum to 0", d->path);
    for (int i = 0; i < n; i++) w[i] /= sum;
    return n;
}

void run_data_open(RunData *r, const Deck *d, int vocab) {
    if (!d->data_store[0]) SHEAR_DIE("%s: data.store is required: the token store written by `shear prep`", d->path);
    TokenStore *s = &r->store;
    // every rank opens (and verifies) the store; a bad store is the same on all: one message, from the lowest rank
    char err[1536] = "";
    dist_agree_or_die(store_try_open(s, d->data_store, err, sizeof err) != 0, err, sizeof err);
    if (d->train_seq_len > s->seq_len)
        SHEAR_DIE("%s: train.seq_len %d is longer than the token store's sequences (%d in '%s')", d->path,
                  d->train_seq_len, s->seq_len, d->data_store);
    if (s->vocab_size > vocab)
        SHEAR_DIE("token store '%s' uses a vocabulary of %d tokens but the model has vocab %d", d->data_store,
                  s->vocab_size, vocab);
    r->n_domains = run_domains(d, s, r->dom, r->w0);
    uint64_t nseq[SAMPLER_MAX_DOMAINS];
    for (int i = 0; i < r->n_domains; i++) nseq[i] = s->n_train[r->dom[i]];
    sampler_init(&r->sampler, (uint64_t)d->train_seed, r->n_domains, nseq);
}

void run_data_close(RunData *r) { store_close(&r->store); }

void run_micro_slice(const Dist *dist, int n_micro, int *lo, int *hi) {
    if (dist->size > n_micro)
        SHEAR_DIE("%d ranks but only %d micro-batches per step (train.global_batch / train.micro_batch): use at most "
                  "%d ranks or smaller micro-batches", dist->size, n_micro, n_micro);
    size_t l, h;
    dist_slice(dist, (size_t)n_micro, &l, &h);
    *lo = (int)l;
    *hi = (int)h;
}

void run_fill_batch(const RunData *r, const SampleRef *refs, int B, int T, int32_t *tokens, int32_t *targets,
                    int32_t *seq) {
    for (int b = 0; b < B; b++) {
        store_read(&r->store, r->dom[refs[b].domain], 0, refs[b].seq, seq);
        for (int t = 0; t < T; t++) {
            tokens[(size_t)b * T + t] = seq[t];
            targets[(size_t)b * T + t] = t + 1 < T ? seq[t + 1] : -1;
        }
    }
}

FILE *run_open_outputs(const Dist *dist, const Deck *d, int resume_step) {
    if (dist->rank != 0) return NULL;
    shear_mkdirs(d->run_out_dir);
    char path[DECK_PATH_LEN + 64];
    snprintf(path, sizeof path, "%s/deck.yaml", d->run_out_dir);
    FILE *f = fopen(path, "w");
    if (!f) SHEAR_DIE("cannot write '%s' (is run.out_dir writable?)", path);
    fputs(d->text ? d->text : "", f);
    fclose(f);
    return metrics_open(dist, d, resume_step);
}

void run_fmt_eta(char *buf, size_t len, double sec) {
    if (!(sec >= 0) || sec > 1e8) sec = 0;
    long s = (long)sec;
    snprintf(buf, len, "%02ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
}

void run_log_epochs(const RunData *r, const int *new_epoch, int step, FILE *metrics) {
    for (int i = 0; i < r->sampler.n_domains; i++) {
        if (!new_epoch[i]) continue;
        unsigned long long e = (unsigned long long)r->sampler.epoch[i];
        const char *name = r->store.names[r->dom[i]];
        metrics_epoch(metrics, step, name, e);
        // epochs 1, 2, 4, 8, ...: a small store in a long run would otherwise print a line every few steps
        if ((e & (e - 1)) == 0)
            shear_log("step %d: domain '%s' ran out of sequences: epoch %llu starts with a new shuffle%s\n", step,
                      name, e, e > 1 ? " (reported at epochs 1, 2, 4, 8, ...)" : "");
    }
}
