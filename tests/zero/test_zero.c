// ZeRO-1 unit test, run under mpirun with 1, 2 and 3 ranks (tests/zero.cmake): usage test_zero RUN_DIR.
//  1. Step: on a model whose table does not divide evenly (odd widths, padding in the last shard), with buckets
//     of 3 x 64 floats (several per shard, the last one short), each rank's gradients are small integers times
//     2^-10, so every sum is exact in any order: the reduce-scattered shard, the global norm and the AdamW step
//     followed by the all-gather must equal the replicated all-reduce + grad_global_norm + adamw_step bit for bit.
//  2. Checkpoint parts: the same tensors saved as ranks' parts (ZeRO shards, and an uneven split not aligned to
//     rows) in 13-float pieces (many rounds, partial rows) give datasets and checksums identical to the replicated
//     save, and load back into replicated buffers and into parts of another split.
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "shear/ckpt.h"
#include "shear/common.h"
#include "shear/dist.h"
#include "shear/model.h"
#include "shear/optim.h"
#include "shear/rng.h"
#include "shear/zero.h"

static int fails = 0;
#define EXPECT(cond, ...) do { if (!(cond)) { fails++; fprintf(stderr, "FAIL (rank %d) %s:%d: ", shear_log_rank, \
    __FILE__, __LINE__); fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

// rank r's gradient of element i: an integer in [-64, 64] times 2^-10 (exact sums and squares)
static float grad_of(int r, size_t i) { return (float)((int)(rng_u64(7, 100 + (uint64_t)r, i) % 129) - 64) / 1024.0f; }

static void test_step(const Dist *d, const ShearOps *ops, Model *m) {
    size_t n = m->table.total;
    float *h = shear_malloc(n * sizeof(float)); // [total] host copy
    float *h2 = shear_malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) h[i] = grad_of(d->rank, i);
    float *g_ref = ops->alloc(n * sizeof(float)), *w_ref = ops->alloc(n * sizeof(float));
    ops->upload(m->g, h, n * sizeof(float));
    ops->upload(g_ref, h, n * sizeof(float));
    ops->copy(w_ref, m->w, n * sizeof(float));

    Zero off, on;
    zero_init(&off, d, ops, n, 0, 0);
    zero_init(&on, d, ops, n, 1, 3 * 64 * (size_t)d->size);
    EXPECT(on.shard % ZERO_ALIGN == 0 && on.shard * (size_t)d->size >= n && on.bucket == 3 * 64,
           "layout: shard %zu bucket %zu for total %zu on %d ranks", on.shard, on.bucket, n, d->size);
    EXPECT(zero_state_bytes(&on) == 2 * on.shard * sizeof(float), "state bytes");
    AdamW a_ref, a_on;
    zero_adamw_create(&off, &a_ref);
    zero_adamw_create(&on, &a_on);
    AdamWHyper hp = {1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f};
    for (int step = 1; step <= 3; step++) {
        zero_reduce_grads(&off, d, g_ref);
        zero_reduce_grads(&on, d, m->g);
        // the shard equals the slice of the all-reduced sum
        ops->download(h, g_ref, n * sizeof(float));
        size_t k = on.hi - on.lo;
        ops->download(h2, on.gshard, k * sizeof(float));
        EXPECT(memcmp(h + on.lo, h2, k * sizeof(float)) == 0, "step %d: reduce-scattered shard != all-reduced slice",
               step);
        double n_ref = zero_grad_norm(&off, d, &m->table, g_ref), n_on = zero_grad_norm(&on, d, &m->table, m->g);
        EXPECT(n_ref == n_on, "step %d: norm %.17g != %.17g", step, n_on, n_ref);
        float gs = grad_clip_scale(n_ref, 0.5f);
        zero_step(&off, d, &a_ref, &m->table, w_ref, g_ref, &hp, gs);
        zero_step(&on, d, &a_on, &m->table, m->w, m->g, &hp, gs);
        ops->download(h, w_ref, n * sizeof(float));
        ops->download(h2, m->w, n * sizeof(float));
        size_t bad = 0;
        for (size_t i = 0; i < n; i++) bad += memcmp(&h[i], &h2[i], sizeof(float)) != 0;
        EXPECT(bad == 0, "step %d: %zu of %zu weights differ from the replicated AdamW step", step, bad, n);
        // next step's gradients, same on both paths
        for (size_t i = 0; i < n; i++) h[i] = grad_of(d->rank + step, i);
        ops->upload(m->g, h, n * sizeof(float));
        ops->upload(g_ref, h, n * sizeof(float));
    }
    // the moments of the shard equal the replicated moments' slice
    size_t k = on.hi - on.lo;
    ops->download(h, a_ref.m, n * sizeof(float));
    ops->download(h2, a_on.m, k * sizeof(float));
    EXPECT(memcmp(h + on.lo, h2, k * sizeof(float)) == 0, "Adam m of the shard != replicated slice");
    adamw_free(&a_ref); adamw_free(&a_on);
    zero_free(&off); zero_free(&on);
    ops->free(g_ref); ops->free(w_ref);
    free(h); free(h2);
}

// x [hi - lo] holds the flat range [lo, hi) of h: equal on every element that belongs to a tensor (the table
// leaves alignment gaps between tensors, which no checkpoint stores)
static int same_in_tensors(const ParamTable *t, const float *x, const float *h, size_t lo, size_t hi) {
    for (int i = 0; i < t->n; i++) {
        size_t s = t->p[i].offset > lo ? t->p[i].offset : lo;
        size_t e = t->p[i].offset + t->p[i].numel < hi ? t->p[i].offset + t->p[i].numel : hi;
        if (s < e && memcmp(x + (s - lo), h + s, (e - s) * sizeof(float)) != 0) return 0;
    }
    return 1;
}

static uint64_t checksum_attr(hid_t f, const char *name) {
    uint64_t v = 0;
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT), a = H5Aopen(ds, "checksum", H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_UINT64, &v);
    H5Aclose(a);
    H5Dclose(ds);
    return v;
}

static void test_ckpt(const Dist *d, const ShearOps *ops, Model *m, const char *run_dir) {
    size_t n = m->table.total, R = (size_t)d->size;
    float *h = shear_malloc(n * sizeof(float)); // [total] the expected values
    for (size_t i = 0; i < n; i++) h[i] = (float)rng_normal(9, 1, i);
    float *full = ops->alloc(n * sizeof(float));
    ops->upload(full, h, n * sizeof(float));
    Zero z;
    zero_init(&z, d, ops, n, 1, 64);
    // the uneven split: floor(r n / R) + 5, not aligned to anything
    size_t ulo = d->rank ? n * (size_t)d->rank / R + 5 : 0;
    size_t uhi = d->rank + 1 < d->size ? n * (size_t)(d->rank + 1) / R + 5 : n;
    float *zpart = ops->alloc(z.shard * sizeof(float)), *upart = ops->alloc((uhi - ulo) * sizeof(float));
    ops->upload(zpart, h + z.lo, (z.hi - z.lo) * sizeof(float));
    ops->upload(upart, h + ulo, (uhi - ulo) * sizeof(float));
    CkptItems l = {0};
    ckpt_items_add_params(&l, "full", &m->table, full);
    ckpt_items_add_params_part(&l, "zero", &m->table, zpart, z.lo, z.hi);
    ckpt_items_add_params_part(&l, "uneven", &m->table, upart, ulo, uhi);
    CkptState s = {.phase = "train", .step = 1, .deck_text = "x: 1\n", .items = l.items, .n_items = l.n};
    ckpt_save(d, ops, run_dir, &s, 0, 0);
    char path[2048];
    ckpt_path(run_dir, 1, path, sizeof path);
    if (d->rank == 0) { // same bytes and checksums as the replicated save
        hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        float *x = shear_malloc(n * sizeof(float));
        char name[256];
        for (int i = 0; i < m->table.n; i++) {
            const ParamInfo *p = &m->table.p[i];
            const char *groups[3] = {"full", "zero", "uneven"};
            for (int g = 0; g < 3; g++) {
                snprintf(name, sizeof name, "%s/%s", groups[g], p->name);
                hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
                H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
                H5Dclose(ds);
                EXPECT(memcmp(x, h + p->offset, p->numel * sizeof(float)) == 0, "dataset %s differs", name);
                char ref[256];
                snprintf(ref, sizeof ref, "full/%s", p->name);
                EXPECT(checksum_attr(f, name) == checksum_attr(f, ref), "checksum of %s != that of %s", name, ref);
            }
        }
        free(x);
        H5Fclose(f);
    }
    // load back, crossed: "zero" into full buffers, "uneven" into ZeRO parts, "full" into uneven parts
    ops->zero(full, n * sizeof(float));
    ops->zero(zpart, z.shard * sizeof(float));
    ops->zero(upart, (uhi - ulo) * sizeof(float));
    CkptItems l2 = {0};
    ckpt_items_add_params(&l2, "zero", &m->table, full);
    ckpt_items_add_params_part(&l2, "uneven", &m->table, zpart, z.lo, z.hi);
    ckpt_items_add_params_part(&l2, "full", &m->table, upart, ulo, uhi);
    CkptState s2 = {.phase = "train", .items = l2.items, .n_items = l2.n};
    ckpt_load(d, ops, path, &s2, 1);
    float *x = shear_malloc(n * sizeof(float));
    ops->download(x, full, n * sizeof(float));
    EXPECT(same_in_tensors(&m->table, x, h, 0, n), "parts loaded into a full buffer differ");
    ops->download(x, zpart, (z.hi - z.lo) * sizeof(float));
    EXPECT(same_in_tensors(&m->table, x, h, z.lo, z.hi), "ZeRO part loaded from another split differs");
    ops->download(x, upart, (uhi - ulo) * sizeof(float));
    EXPECT(same_in_tensors(&m->table, x, h, ulo, uhi), "uneven part loaded from a full save differs");
    free(x);
    free((char *)s2.deck_text);
    ckpt_items_free(&l); ckpt_items_free(&l2);
    ops->free(full); ops->free(zpart); ops->free(upart);
    zero_free(&z);
    free(h);
}

int main(int argc, char **argv) {
    Dist d;
    dist_init(&d, &argc, &argv);
    if (argc != 2) SHEAR_DIE("usage: test_zero RUN_DIR (under mpirun)");
    const ShearOps *ops = ops_cpu();
    ops_cpu_set_threads(1);
    ckpt_piece_bytes = 13 * sizeof(float);
    // widths 40 and 72 with a 64-float alignment: shard boundaries fall inside rows
    ModelConfig c = {.dim = 40, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2, .head_dim = 10,
                     .intermediate = 72, .vocab = 37, .rope = {.theta = 10000.0f}, .norm_eps = 1e-5f};
    Model m;
    model_create(&m, ops, &c);
    model_init_weights(&m, 3, 0.02f);
    test_step(&d, ops, &m);
    test_ckpt(&d, ops, &m, argv[1]);
    model_free(&m);
    int all = fails;
    MPI_Allreduce(MPI_IN_PLACE, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (d.rank == 0) printf("test_zero on %d ranks: %s (%d failures)\n", d.size, all ? "FAIL" : "ok", all);
    dist_finalize(&d);
    return all ? 1 : 0;
}
