// Checkpoints inside a run (see run_ckpt.h).
#include "shear/run_ckpt.h"

#include <string.h>

#include "shear/common.h"
#include "shear/stop.h"

void run_ckpt_init(RunCkpt *r, const char *phase, const Deck *d, Model *m, AdamW *opt, Sampler *s, DblRun *dbl,
                   Masks *mk, const Distill *kd) {
    memset(r, 0, sizeof *r);
    r->opt = opt;
    r->sampler = s;
    r->masks = mk;
    r->dbl = dbl;
    if (kd && kd->on) {
        r->teacher_hash = (int64_t)kd->hash; // uint64 stored bit for bit
        memcpy(r->teacher_path, kd->path, strlen(kd->path)); // NUL-padded: the array was zeroed
    }
    CkptItems *l = &r->items;
    ckpt_items_add_params(l, "weights", &m->table, m->w);
    if (!opt->sharded) {
        ckpt_items_add_params(l, "adam_m", &m->table, opt->m);
        ckpt_items_add_params(l, "adam_v", &m->table, opt->v);
    } else { // ZeRO-1: this rank holds (and writes) its shard of the moments; the datasets keep global shapes
        size_t hi = opt->lo + opt->n < m->table.total ? opt->lo + opt->n : m->table.total;
        if (hi < opt->lo) hi = opt->lo;
        ckpt_items_add_params_part(l, "adam_m", &m->table, opt->m, opt->lo, hi);
        ckpt_items_add_params_part(l, "adam_v", &m->table, opt->v, opt->lo, hi);
    }
    ckpt_items_add(l, "adam_t", &r->adam_t, 0, CKPT_I64, 1, 0);
    // the sampler's whole state: a few numbers per domain (uint64 stored bit for bit as int64)
    uint64_t k = (uint64_t)s->n_domains;
    ckpt_items_add(l, "sampler/seed", &s->seed, 0, CKPT_I64, 1, 0);
    ckpt_items_add(l, "sampler/step", &s->step, 0, CKPT_I64, 1, 0);
    ckpt_items_add(l, "sampler/n_seqs", s->n_seqs, 0, CKPT_I64, k, 0);
    ckpt_items_add(l, "sampler/cursor", s->cursor, 0, CKPT_I64, k, 0);
    ckpt_items_add(l, "sampler/epoch", s->epoch, 0, CKPT_I64, k, 0);
    ckpt_items_add(l, "dbl/proportions", dbl->w, 0, CKPT_F64, k, 0);
    ckpt_items_add(l, "dbl/reference", dbl->ref, 0, CKPT_F64, k, 0);
    ckpt_items_add(l, "dbl/history", dbl->history, 0, CKPT_F64, (uint64_t)dbl->hist_cap, k);
    ckpt_items_add(l, "dbl/updates", &r->dbl_updates, 0, CKPT_I64, 1, 0);
    if (mk) {
        ckpt_items_add(l, "masks/log_alpha", mk->log_alpha, 1, CKPT_F32, mk->total, 0);
        ckpt_items_add(l, "masks/adam_m", mk->adam_m, 1, CKPT_F32, mk->total, 0);
        ckpt_items_add(l, "masks/adam_v", mk->adam_v, 1, CKPT_F32, mk->total, 0);
        ckpt_items_add(l, "masks/lambda", mk->lambda, 0, CKPT_F32, MASK_TYPES, 2);
        ckpt_items_add(l, "masks/lambda_m", mk->lambda_m, 0, CKPT_F32, MASK_TYPES, 2);
        ckpt_items_add(l, "masks/lambda_v", mk->lambda_v, 0, CKPT_F32, MASK_TYPES, 2);
        ckpt_items_add(l, "masks/t", &r->masks_t, 0, CKPT_I64, 1, 0);
    }
    // optional: checkpoints of runs before distillation existed load as "no teacher"
    ckpt_items_add(l, "distill/teacher_hash", &r->teacher_hash, 0, CKPT_I64, 1, 0);
    l->items[l->n - 1].optional = 1;
    ckpt_items_add(l, "distill/teacher_path", r->teacher_path, 0, CKPT_I64, DECK_PATH_LEN / 8, 0);
    l->items[l->n - 1].optional = 1;
    r->cs.phase = phase;
    r->cs.deck_text = d->text;
    r->cs.config = &m->cfg;
    r->cs.items = l->items;
    r->cs.n_items = l->n;
    stop_install(d->run_walltime);
}

// The run's teacher (hash, path; 0 and "" for none) against the one the checkpoint was trained with.
static void check_teacher(RunCkpt *r, const char *from, int64_t hash, const char *path) {
    const CkptItem *it = r->cs.items;
    int absent = 0;
    for (int i = 0; i < r->cs.n_items; i++)
        if (strcmp(it[i].name, "distill/teacher_hash") == 0) absent = it[i].absent;
    int64_t was = absent ? 0 : r->teacher_hash;
    char was_path[DECK_PATH_LEN + 1] = {0};
    if (!absent) memcpy(was_path, r->teacher_path, DECK_PATH_LEN);
    if (was != hash) {
        if (!was)
            SHEAR_DIE("%s was trained without distillation, this run distils from '%s'; expected the same objective: "
                      "resume with distill.teacher: \"\", or start over in a new run.out_dir", from, path);
        if (!hash)
            SHEAR_DIE("%s was trained with distillation from '%s', this run has no teacher; expected the same "
                      "objective: resume with distill.teacher: %s, or start over in a new run.out_dir", from, was_path,
                      was_path);
        SHEAR_DIE("%s was trained with the teacher '%s' (weights hash %016llx), this run's teacher '%s' has the "
                  "weights hash %016llx; expected the same teacher: resume with the model the run started with, or "
                  "start over in a new run.out_dir", from, was_path, (unsigned long long)was, path,
                  (unsigned long long)hash);
    }
    if (hash && strcmp(was_path, path) != 0)
        shear_warn("the teacher moved: %s was trained with '%s', this run reads '%s' (the same weights)", from,
                   was_path, path);
    // the checkpoint's values now stand for this run's teacher again (what the next save writes)
    r->teacher_hash = hash;
    memset(r->teacher_path, 0, sizeof r->teacher_path);
    memcpy(r->teacher_path, path, strlen(path));
}

int run_ckpt_resume(RunCkpt *r, const Dist *dist, const ShearOps *ops, const Deck *d, long long *tokens) {
    Sampler *s = r->sampler;
    uint64_t n_seqs[SAMPLER_MAX_DOMAINS];
    memcpy(n_seqs, s->n_seqs, sizeof n_seqs);
    char from[DECK_PATH_LEN + 64];
    const int64_t hash = r->teacher_hash; // this run's teacher, before the load overwrites it
    char path[DECK_PATH_LEN + 1] = {0};
    memcpy(path, r->teacher_path, DECK_PATH_LEN);
    if (ckpt_load_latest_good(dist, ops, d->run_out_dir, &r->cs, d->run_verify, d->run_fallback, from, sizeof from) != 0) {
        r->cs.deck_text = d->text;
        *tokens = 0;
        return 0;
    }
    check_teacher(r, from, hash, path);
    for (int i = 0; i < s->n_domains; i++)
        if (s->cursor[i] > s->n_seqs[i]) // a cursor the sampler never leaves: the state was not written by a run
            SHEAR_DIE("%s: sampler/cursor of domain %d is %llu, beyond its %llu train sequences; expected at most "
                      "that: the checkpoint was altered (run.fallback: 1 resumes from an older one)", from, i,
                      (unsigned long long)s->cursor[i], (unsigned long long)s->n_seqs[i]);
    for (int i = 0; i < s->n_domains; i++)
        if (s->n_seqs[i] != n_seqs[i])
            SHEAR_DIE("%s: the checkpoint's domain %d has %llu train sequences, the token store now %llu: resume "
                      "with the store the run started with, or start over in a new run.out_dir", from, i,
                      (unsigned long long)s->n_seqs[i], (unsigned long long)n_seqs[i]);
    if (strcmp(r->cs.deck_text, d->text) != 0)
        shear_warn("the deck differs from the one stored in %s; continuing with the new deck (shapes were checked)",
                   from);
    free((char *)r->cs.deck_text);
    r->cs.deck_text = d->text;
    r->opt->t = (int)r->adam_t;
    if (r->masks) r->masks->t = (int)r->masks_t;
    r->dbl->updates = (int)r->dbl_updates;
    *tokens = r->cs.tokens;
    shear_log("resumed from %s at step %lld (%lld tokens seen)\n", from, (long long)r->cs.step, (long long)r->cs.tokens);
    return (int)r->cs.step;
}

int run_ckpt_step_end(RunCkpt *r, const Dist *dist, const ShearOps *ops, const Deck *d, int step,
                      long long tokens, double step_s) {
    if (step_s > r->max_step_s) r->max_step_s = step_s;
    r->adam_t = r->opt->t;
    if (r->masks) r->masks_t = r->masks->t;
    r->dbl_updates = r->dbl->updates;
    r->cs.step = step;
    r->cs.tokens = tokens;
    // before the first save, guess its cost at 100 MB/s
    double est = r->max_step_s + (r->last_save_s > 0 ? r->last_save_s : (double)ckpt_state_bytes(&r->cs) / 1e8);
    int reason = stop_requested(dist, est);
    int due = (d->run_ckpt_every > 0 && step % d->run_ckpt_every == 0) || step == d->train_steps;
    if (due || reason) r->last_save_s = ckpt_save(dist, ops, d->run_out_dir, &r->cs, d->run_keep_last, d->run_major_every);
    if (!reason) return 0;
    shear_log("stopping at step %d (%s): checkpoint written to %s/ckpt; run the same command to resume (exit %d)\n",
              step, stop_reason_name(reason), d->run_out_dir, SHEAR_EXIT_CHECKPOINTED);
    return step < d->train_steps;
}

void run_ckpt_free(RunCkpt *r) { ckpt_items_free(&r->items); }
