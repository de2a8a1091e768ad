// ZeRO-1: sharded Adam state, bucketed reduce-scatter of gradients and all-gather of weights (see zero.h).
#include "shear/zero.h"

#include <math.h>
#include <string.h>

#include "shear/common.h"
#include "shear/watchdog.h"

static size_t round_up(size_t x, size_t a) { return (x + a - 1) / a * a; }
static size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }

void zero_init(Zero *z, const Dist *d, const ShearOps *ops, size_t total, int on, size_t bucket_floats) {
    memset(z, 0, sizeof *z);
    z->on = on;
    z->R = d->size;
    z->rank = d->rank;
    z->ops = ops;
    z->total = total;
    if (!on) {
        z->shard = total;
        z->hi = total;
        return;
    }
    SHEAR_CHECK(total > 0, "ZeRO-1: the parameter table is empty");
    size_t R = (size_t)z->R;
    z->shard = round_up((total + R - 1) / R, ZERO_ALIGN);
    z->lo = z->shard * (size_t)z->rank;
    z->hi = min_sz(z->lo + z->shard, total);
    if (z->hi < z->lo) z->hi = z->lo; // a rank whose whole shard is padding (tiny models on many ranks)
    size_t per_rank = round_up((bucket_floats + R - 1) / R, ZERO_ALIGN);
    z->bucket = min_sz(per_rank ? per_rank : ZERO_ALIGN, z->shard);
    z->gshard = ops->alloc(z->shard * sizeof(float));
    z->stage = ops->alloc(R * z->bucket * sizeof(float));
}

void zero_free(Zero *z) {
    if (z->gshard) z->ops->free(z->gshard);
    if (z->stage) z->ops->free(z->stage);
    memset(z, 0, sizeof *z);
}

void zero_adamw_create(const Zero *z, AdamW *a) {
    adamw_create(a, z->ops, z->shard);
    a->lo = z->lo;
    a->sharded = z->on;
}

size_t zero_state_bytes(const Zero *z) { return 2 * z->shard * sizeof(float); }

void zero_log_memory(const Zero *z, const char *cmd) {
    double mib = 1.0 / (1 << 20);
    size_t full = 2 * z->total * sizeof(float);
    if (!z->on) {
        shear_log("%s: optimizer state %zu bytes (%.1f MiB) per rank: Adam m, v replicated on %d rank(s) "
                  "(run.zero: 1 would hold %zu)\n", cmd, full, full * mib, z->R,
                  2 * round_up((z->total + (size_t)z->R - 1) / (size_t)z->R, ZERO_ALIGN) * sizeof(float));
        return;
    }
    size_t mine = zero_state_bytes(z);
    shear_log("%s: ZeRO-1 on %d rank(s): optimizer state %zu bytes (%.1f MiB) per rank (Adam m, v of a %zu-float "
              "shard; replicated: %zu bytes), + %zu bytes gradient shard and %zu bytes bucket stage (%zu floats per "
              "rank per bucket)\n", cmd, z->R, mine, mine * mib, z->shard, full, z->shard * sizeof(float),
              (size_t)z->R * z->bucket * sizeof(float), z->bucket);
}

// Real (unpadded) floats of the flat range [at, at + n): what exists of it below total.
static size_t real_part(const Zero *z, size_t at, size_t n) {
    return at >= z->total ? 0 : min_sz(n, z->total - at);
}

void zero_reduce_grads(Zero *z, const Dist *d, float *g) {
    // one named bracket over the whole reduction: a hang is reported as the gradients' collective
    watchdog_enter(z->on ? "reduce_scatter(grads)" : "allreduce(grads)", -1);
    if (!z->on) {
        dist_allreduce_sum(d, z->ops, g, z->total);
        watchdog_leave();
        return;
    }
    const ShearOps *ops = z->ops;
    for (size_t o = 0; o < z->shard; o += z->bucket) {
        size_t b = min_sz(z->bucket, z->shard - o);
        // stage[r, :] = rank r's part of this bucket, zero past the end of the table
        for (int r = 0; r < z->R; r++) {
            size_t at = (size_t)r * z->shard + o, n = real_part(z, at, b);
            float *dst = z->stage + (size_t)r * b;
            if (n) ops->copy(dst, g + at, n * sizeof(float));
            if (n < b) ops->zero(dst + n, (b - n) * sizeof(float));
        }
        dist_reduce_scatter_sum(d, ops, z->stage, z->gshard + o, b);
    }
    watchdog_leave();
}

double zero_grad_norm(const Zero *z, const Dist *d, const ParamTable *t, const float *g) {
    if (!z->on) return grad_global_norm(z->ops, t, g);
    // tensor by tensor over this rank's shard, as grad_global_norm does over the whole table: on one rank the
    // pieces are the whole tensors and the sum is the same, bit for bit
    double ss = 0.0;
    for (int i = 0; i < t->n; i++) {
        size_t a = t->p[i].offset > z->lo ? t->p[i].offset : z->lo;
        size_t e = min_sz(t->p[i].offset + t->p[i].numel, z->hi);
        if (a < e) ss += z->ops->sumsq(z->gshard + (a - z->lo), e - a);
    }
    dist_sum_doubles(d, &ss, 1);
    return sqrt(ss);
}

void zero_step(Zero *z, const Dist *d, AdamW *a, const ParamTable *t, float *w, const float *g, const AdamWHyper *h,
               float gscale) {
    if (!z->on) {
        adamw_step(a, t, w, g, h, gscale);
        return;
    }
    SHEAR_CHECK(a->sharded && a->n == z->shard && a->lo == z->lo, "zero_step: the AdamW state covers [%zu, +%zu), "
                "this rank's shard is [%zu, +%zu): create it with zero_adamw_create", a->lo, a->n, z->lo, z->shard);
    const ShearOps *ops = z->ops;
    a->t++;
    // the shard crosses tensor boundaries: each tensor's piece gets its own weight decay (2-D tensors only)
    for (int i = 0; i < t->n; i++) {
        const ParamInfo *p = &t->p[i];
        size_t s = p->offset > z->lo ? p->offset : z->lo;
        size_t e = min_sz(p->offset + p->numel, z->hi);
        if (s >= e) continue;
        float wd = p->ndim == 2 ? h->weight_decay : 0.0f;
        size_t k = s - z->lo;
        ops->adamw(w + s, z->gshard + k, a->m + k, a->v + k, e - s, h->lr, h->beta1, h->beta2, h->eps, wd, gscale,
                   a->t);
    }
    // all-gather the updated weights bucket by bucket: stage[r, :] = rank r's updated part
    for (size_t o = 0; o < z->shard; o += z->bucket) {
        size_t b = min_sz(z->bucket, z->shard - o);
        size_t mine = real_part(z, z->lo + o, b);
        float *slot = z->stage + (size_t)z->rank * b;
        if (mine) ops->copy(slot, w + z->lo + o, mine * sizeof(float));
        if (mine < b) ops->zero(slot + mine, (b - mine) * sizeof(float));
        dist_allgather(d, ops, z->stage, b);
        for (int r = 0; r < z->R; r++) {
            size_t at = (size_t)r * z->shard + o, n = real_part(z, at, b);
            if (r != z->rank && n) ops->copy(w + at, z->stage + (size_t)r * b, n * sizeof(float));
        }
    }
}
