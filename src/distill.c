// Knowledge distillation: the teacher model and its forward (see distill.h).
#include "shear/distill.h"

#include <string.h>

#include "shear/ckpt_sum.h"
#include "shear/common.h"
#include "shear/modelfile.h"

// The hash of the weights as loaded, so a resume can tell the same teacher from another one at any path.
static uint64_t weights_hash(const Model *m) {
    size_t most = 0;
    for (int i = 0; i < m->table.n; i++) most = m->table.p[i].numel > most ? m->table.p[i].numel : most;
    float *host = shear_malloc(most * sizeof(float)); // [largest tensor]
    CkptSum s = ckpt_sum_bytes(NULL, 0);
    for (int i = 0; i < m->table.n; i++) {
        const ParamInfo *p = &m->table.p[i];
        m->ops->download(host, m->w + p->offset, p->numel * sizeof(float));
        s = ckpt_sum_cat(s, ckpt_sum_bytes(host, p->numel * sizeof(float)));
    }
    free(host);
    return ckpt_sum_final(s);
}

int distill_teacher_config(const Deck *d, ModelConfig *tc) {
    if (!d->distill_teacher[0]) return 0;
    if (!shear_file_exists(d->distill_teacher))
        SHEAR_DIE("distill.teacher: '%s' does not exist; expected a model file (shear import / finalize / train "
                  "output), or \"\" for no distillation", d->distill_teacher);
    modelfile_read_config(d->distill_teacher, tc);
    return 1;
}

void distill_open(Distill *k, const Deck *d, const ShearOps *ops, const ModelConfig *student, int B, int T) {
    memset(k, 0, sizeof *k);
    ModelConfig tc;
    if (!distill_teacher_config(d, &tc)) return;
    snprintf(k->path, sizeof k->path, "%s", d->distill_teacher);
    if (tc.vocab != student->vocab)
        SHEAR_DIE("distill.teacher: '%s' has a vocabulary of %d, the student %d; expected the same vocabulary (the "
                  "KD term compares the two models' distributions over the same token ids)", k->path, tc.vocab,
                  student->vocab);
    if (d->distill_topk > tc.vocab)
        SHEAR_DIE("distill.topk: %d exceeds the vocabulary of %d; expected 0 (the full vocabulary) or 1..%d",
                  d->distill_topk, tc.vocab, tc.vocab);
    model_create_frozen(&k->teacher, ops, &tc);
    modelfile_load_weights(k->path, &k->teacher);
    model_set_recompute(&k->teacher, 1); // forward only: the block inputs and one block are all it keeps
    model_alloc_acts(&k->teacher, B, T);
    k->hash = weights_hash(&k->teacher);
    k->kd = (ShearKD){.tw = k->teacher.w + k->teacher.table.p[k->teacher.table.head].offset, .td = tc.dim,
                      .alpha = (float)d->distill_alpha, .temperature = (float)d->distill_temperature,
                      .topk = d->distill_topk};
    k->on = 1;
    shear_log("distill: teacher %s (d=%d L=%d H=%d kv=%d I=%d, %.2fM params) | alpha %g | temperature %g | %s\n",
              k->path, tc.dim, tc.n_layers, tc.n_heads, tc.n_kv_heads, tc.intermediate,
              model_param_count(&tc) / 1e6, d->distill_alpha, d->distill_temperature,
              d->distill_topk ? "top-k" : "full vocabulary");
}

const ShearKD *distill_teacher(Distill *k, int B, const int32_t *tokens, const int32_t *targets) {
    k->kd.tx = model_forward_hidden(&k->teacher, B, tokens, targets);
    return &k->kd;
}

void distill_close(Distill *k) {
    if (k->on) model_free(&k->teacher);
    memset(k, 0, sizeof *k);
}
