// AdamW, clipping and schedules (see optim.h).
#include "shear/optim.h"

#include <math.h>
#include <string.h>

#include "shear/common.h"

void adamw_create(AdamW *a, const ShearOps *ops, size_t n) {
    memset(a, 0, sizeof *a);
    a->ops = ops;
    a->n = n;
    a->m = ops->alloc(n * sizeof(float));
    a->v = ops->alloc(n * sizeof(float));
}

void adamw_free(AdamW *a) {
    if (a->m) a->ops->free(a->m);
    if (a->v) a->ops->free(a->v);
    memset(a, 0, sizeof *a);
}

double grad_global_norm(const ShearOps *ops, const ParamTable *t, const float *g) {
    double ss = 0.0;
    for (int i = 0; i < t->n; i++) ss += ops->sumsq(g + t->p[i].offset, t->p[i].numel);
    return sqrt(ss);
}

float grad_clip_scale(double norm, float clip) {
    if (clip <= 0.0f) return 1.0f;
    double c = (double)clip / (norm + 1e-6);
    return c < 1.0 ? (float)c : 1.0f;
}

void adamw_step(AdamW *a, const ParamTable *t, float *w, const float *g, const AdamWHyper *h, float gscale) {
    a->t++;
    for (int i = 0; i < t->n; i++) {
        const ParamInfo *p = &t->p[i];
        float wd = p->ndim == 2 ? h->weight_decay : 0.0f;
        a->ops->adamw(w + p->offset, g + p->offset, a->m + p->offset, a->v + p->offset, p->numel, h->lr, h->beta1,
                      h->beta2, h->eps, wd, gscale, a->t);
    }
}

double lr_at(int cosine, double lr, int warmup, int total, double min_ratio, int s) {
    if (warmup > 0 && s <= warmup) return lr * (double)s / (double)warmup;
    if (!cosine || total <= warmup) return lr;
    double progress = (double)(s - warmup) / (double)(total - warmup);
    if (progress > 1.0) progress = 1.0;
    double floor = min_ratio * lr;
    return floor + (lr - floor) * 0.5 * (1.0 + cos(M_PI * progress));
}
