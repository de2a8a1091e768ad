// Checkpoint tests driver (tests/ckpt/ckpt_test.sh runs the modes under mpirun with 1, 2 and 3 ranks):
//   unit                         checksum algebra and item checks, in one process
//   save DIR STEP [KEEP MAJOR [KILL_AFTER]]   saves state(STEP); KILL_AFTER >= 0: rank 1 (or 0 alone) raises
//                                SIGKILL after writing item KILL_AFTER (a save killed half-way)
//   load PATH STEP [VOCAB [PHASE]]  loads into a clobbered state and checks it equals state(STEP) bit for bit;
//                                VOCAB changes the model shape, PHASE the phase (refusal tests)
//   resume DIR FALLBACK HIST_ROWS   ckpt_load_latest_good, then checks the state equals state(step loaded)
//   loop DIR STEPS WALLTIME EST SLEEP_MS WAIT   a "training loop" for the stop tests (see loop())
//   model PATH                   writes a model file of the test shape (for `shear info`)
//   bench DIR ROLES              validation/bench/ckpt_bench.sh: save and load a 1.3B-shaped state (ROLES = 1:
//                                weights; 3: weights + Adam m + v), cold and warm reads, hash throughput
// TEST_CKPT_PIECE_BYTES=N sets ckpt_piece_bytes (many write and read rounds per item).
// The state is a small LLaMA (weights, AdamW m and v, t), a fake masks buffer with its Adam moments, host
// lambdas [6,2], sampler-like int64 arrays and DBL proportions with a history whose row count varies (0 rows
// at steps divisible by 5). Every value is a function of the step, so any rank count rebuilds the expected state.
#include <fcntl.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shear/ckpt.h"
#include "shear/ckpt_sum.h"
#include "shear/common.h"
#include "shear/dist.h"
#include "shear/model.h"
#include "shear/modelfile.h"
#include "shear/optim.h"
#include "shear/rng.h"
#include "shear/stop.h"

#define N_MASK 37
#define N_DOM 3

typedef struct {
    Model model;
    AdamW opt;
    float *mask_la, *mask_m, *mask_v; // [N_MASK] backend
    double lambda[6][2];
    int64_t adam_t[1];
    int64_t sampler[2 + 2 * N_DOM];   // seed, step, cursor[N_DOM], epoch[N_DOM]
    double props[N_DOM];
    double hist[4][N_DOM];            // [step % 5, N_DOM] rows used
    int hist_rows;
    CkptItems items;
} State;

static const char *DECK = "# test deck\ntrain:\n  steps: 100\nrun:\n  out_dir: x\n";

static void fill_backend(const ShearOps *ops, float *dst, size_t n, uint64_t seed, uint64_t stream) {
    float *h = shear_malloc(n * sizeof(float)); // [n]
    for (size_t i = 0; i < n; i++) h[i] = (float)rng_normal(seed, stream, i);
    ops->upload(dst, h, n * sizeof(float));
    free(h);
}

// Allocates the state of a model with the given vocab and registers every item.
static void state_create(State *s, const ShearOps *ops, int vocab) {
    memset(s, 0, sizeof *s);
    ModelConfig c = {.dim = 48, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2, .head_dim = 12,
                     .intermediate = 80, .vocab = vocab, .rope = {.theta = 10000.0f}, .norm_eps = 1e-5f};
    model_create(&s->model, ops, &c);
    adamw_create(&s->opt, ops, s->model.table.total);
    s->mask_la = ops->alloc(N_MASK * sizeof(float));
    s->mask_m = ops->alloc(N_MASK * sizeof(float));
    s->mask_v = ops->alloc(N_MASK * sizeof(float));
}

static void state_items(State *s, int hist_rows) {
    CkptItems *l = &s->items;
    ckpt_items_free(l);
    s->hist_rows = hist_rows;
    ckpt_items_add_params(l, "weights", &s->model.table, s->model.w);
    ckpt_items_add_params(l, "adam_m", &s->model.table, s->opt.m);
    ckpt_items_add_params(l, "adam_v", &s->model.table, s->opt.v);
    ckpt_items_add(l, "adam_t", s->adam_t, 0, CKPT_I64, 1, 0);
    ckpt_items_add(l, "masks/log_alpha", s->mask_la, 1, CKPT_F32, N_MASK, 0);
    ckpt_items_add(l, "masks/adam_m", s->mask_m, 1, CKPT_F32, N_MASK, 0);
    ckpt_items_add(l, "masks/adam_v", s->mask_v, 1, CKPT_F32, N_MASK, 0);
    ckpt_items_add(l, "masks/lambda", s->lambda, 0, CKPT_F64, 6, 2);
    ckpt_items_add(l, "sampler/state", s->sampler, 0, CKPT_I64, 2 + 2 * N_DOM, 0);
    ckpt_items_add(l, "dbl/proportions", s->props, 0, CKPT_F64, N_DOM, 0);
    ckpt_items_add(l, "dbl/history", s->hist, 0, CKPT_F64, (uint64_t)hist_rows, N_DOM);
}

// The values of state(step).
static void state_fill(State *s, const ShearOps *ops, int64_t step) {
    uint64_t seed = 1000 + (uint64_t)step;
    model_init_weights(&s->model, seed, 0.02f);
    fill_backend(ops, s->opt.m, s->model.table.total, seed, 11);
    fill_backend(ops, s->opt.v, s->model.table.total, seed, 12);
    fill_backend(ops, s->mask_la, N_MASK, seed, 13);
    fill_backend(ops, s->mask_m, N_MASK, seed, 14);
    fill_backend(ops, s->mask_v, N_MASK, seed, 15);
    for (int i = 0; i < 12; i++) s->lambda[i / 2][i % 2] = rng_normal(seed, 16, (uint64_t)i);
    s->adam_t[0] = step;
    for (int i = 0; i < 2 + 2 * N_DOM; i++) s->sampler[i] = (int64_t)(rng_u64(seed, 17, (uint64_t)i) >> 1);
    for (int i = 0; i < N_DOM; i++) s->props[i] = rng_uniform(seed, 18, (uint64_t)i);
    memset(s->hist, 0, sizeof s->hist);
    for (int i = 0; i < 4 * N_DOM; i++) s->hist[i / N_DOM][i % N_DOM] = rng_uniform(seed, 19, (uint64_t)i);
    state_items(s, (int)(step % 5));
}

static void state_free(State *s, const ShearOps *ops) {
    ckpt_items_free(&s->items);
    ops->free(s->mask_la); ops->free(s->mask_m); ops->free(s->mask_v);
    adamw_free(&s->opt);
    model_free(&s->model);
}

// Compares every item of a and b byte for byte (backend items downloaded). Returns the number that differ.
static int state_diff(const State *a, const State *b, const ShearOps *ops) {
    int bad = 0;
    for (int i = 0; i < a->items.n; i++) {
        const CkptItem *x = &a->items.items[i], *y = &b->items.items[i];
        size_t bytes = (size_t)x->shape[0] * (x->ndim == 2 ? x->shape[1] : 1) * (x->dtype == CKPT_F32 ? 4 : 8);
        char *hx = shear_malloc(bytes), *hy = shear_malloc(bytes);
        if (x->on_backend) { ops->download(hx, x->data, bytes); ops->download(hy, y->data, bytes); }
        else { memcpy(hx, x->data, bytes); memcpy(hy, y->data, bytes); }
        if (memcmp(hx, hy, bytes) != 0) {
            fprintf(stderr, "item '%s' differs after the load\n", x->name);
            bad++;
        }
        free(hx); free(hy);
    }
    return bad;
}

static CkptState ckpt_state(State *s, int64_t step) {
    CkptState c;
    memset(&c, 0, sizeof c);
    c.phase = "prune";
    c.step = step;
    c.tokens = step * 4096;
    c.deck_text = DECK;
    c.config = &s->model.cfg;
    c.items = s->items.items;
    c.n_items = s->items.n;
    return c;
}

static int kill_after = -1;
static void kill_hook(int i, void *ctx) {
    const Dist *d = ctx;
    if (i == kill_after && d->rank == (d->size > 1 ? 1 : 0)) raise(SIGKILL);
}

// Checks the stored state after a successful load: the expected items, step, tokens and deck.
static int check_loaded(const Dist *d, State *got, CkptState *c, const ShearOps *ops, int64_t step) {
    State want;
    state_create(&want, ops, got->model.cfg.vocab);
    state_fill(&want, ops, step);
    int bad = state_diff(&want, got, ops);
    if (c->step != step || c->tokens != step * 4096) {
        fprintf(stderr, "step/tokens %lld/%lld, expected %lld/%lld\n", (long long)c->step, (long long)c->tokens,
                (long long)step, (long long)step * 4096);
        bad++;
    }
    if (strcmp(c->deck_text, DECK) != 0) {
        fprintf(stderr, "stored deck differs\n");
        bad++;
    }
    MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (d->rank == 0)
        printf("%s: %d items at step %lld on %d ranks\n", bad ? "FAIL" : "restored bit-exactly", got->items.n,
               (long long)step, d->size);
    state_free(&want, ops);
    return bad ? 1 : 0;
}

// ---- unit checks of the checksum ----

static int unit(void) {
    int bad = 0;
    unsigned char buf[4099];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (unsigned char)(rng_u64(7, 1, i) & 0xff);
    // composition: any split at a 4-byte boundary gives the hash of the whole
    CkptSum whole = ckpt_sum_bytes(buf, sizeof buf);
    for (size_t cut = 0; cut <= 4096; cut += 4) {
        CkptSum a = ckpt_sum_bytes(buf, cut), b = ckpt_sum_bytes(buf + cut, sizeof buf - cut);
        CkptSum c = ckpt_sum_cat(a, b);
        if (c.h != whole.h || c.bytes != whole.bytes) { printf("FAIL: split at %zu\n", cut); bad++; break; }
    }
    // a single flipped bit anywhere changes the checksum
    uint64_t ref = ckpt_sum_final(whole);
    for (size_t i = 0; i < sizeof buf; i += 97)
        for (int bit = 0; bit < 8; bit += 3) {
            buf[i] ^= (unsigned char)(1u << bit);
            if (ckpt_sum_final(ckpt_sum_bytes(buf, sizeof buf)) == ref) { printf("FAIL: flip %zu.%d\n", i, bit); bad++; }
            buf[i] ^= (unsigned char)(1u << bit);
        }
    // appended zero bytes change it (the length is mixed in), swapped words change it
    if (ckpt_sum_final(ckpt_sum_bytes(buf, 4096)) == ckpt_sum_final(ckpt_sum_bytes(buf, 4095))) bad++;
    unsigned char sw[8] = {1, 2, 3, 4, 5, 6, 7, 8}, sw2[8] = {5, 6, 7, 8, 1, 2, 3, 4};
    if (ckpt_sum_final(ckpt_sum_bytes(sw, 8)) == ckpt_sum_final(ckpt_sum_bytes(sw2, 8))) bad++;
    // the OpenMP path (> 8 MiB) agrees with the serial composition of its halves
    size_t big = (size_t)24 << 20;
    unsigned char *b = shear_malloc(big);
    for (size_t i = 0; i < big; i++) b[i] = (unsigned char)(i * 2654435761u >> 13);
    CkptSum p = ckpt_sum_cat(ckpt_sum_bytes(b, 4 << 20), ckpt_sum_bytes(b + (4 << 20), big - (4 << 20)));
    CkptSum q = ckpt_sum_bytes(b, big);
    if (p.h != q.h) { printf("FAIL: threaded hash differs\n"); bad++; }
    free(b);
    // the polynomial itself, from its definition: 2 words, h = w0 X + w1 with X = 0x0f3d5b79a2c4e681 mod 2^61-1
    uint32_t w2[2] = {3, 5};
    unsigned __int128 x = 0x0f3d5b79a2c4e681ULL % (((uint64_t)1 << 61) - 1);
    uint64_t expect = (uint64_t)((3 * x + 5) % ((((unsigned __int128)1) << 61) - 1));
    if (ckpt_sum_bytes(w2, 8).h != expect) { printf("FAIL: 2-word polynomial\n"); bad++; }
    printf("%s: checksum unit checks\n", bad ? "FAIL" : "ok");
    return bad ? 1 : 0;
}

// ---- the stop test loop ----
// x[4] evolves by a fixed rule each step; the run resumes from its checkpoint, stops on a signal or budget
// (exit 75 after saving), and prints a digest of x at the end, which must not depend on interruptions.
// WAIT != 0: at step 3 rank 0 creates DIR/ready and every rank waits there until a stop is requested.
static int loop(const Dist *d, const char *dir, int64_t steps, double walltime, double est, int sleep_ms, int wait) {
    stop_install(walltime);
    double x[4] = {1, 2, 3, 4};
    CkptItems items = {0};
    ckpt_items_add(&items, "x", x, 0, CKPT_F64, 4, 0);
    CkptState c;
    memset(&c, 0, sizeof c);
    c.phase = "train";
    c.items = items.items;
    c.n_items = items.n;
    char loaded[2048];
    int64_t step = 0;
    if (ckpt_load_latest_good(d, ops_cpu(), dir, &c, 1, 0, loaded, sizeof loaded) == 0) {
        step = c.step;
        free((char *)c.deck_text);
        if (d->rank == 0) printf("resumed from %s at step %lld\n", loaded, (long long)step);
    }
    c.deck_text = "loop";
    if (step >= steps) {
        if (d->rank == 0) printf("already complete at step %lld\n", (long long)step);
        ckpt_items_free(&items);
        return 0;
    }
    double ckpt_s = 0;
    while (step < steps) {
        step++;
        for (int i = 0; i < 4; i++) x[i] = x[i] * 0.999 + 0.001 * (double)((step * (i + 3)) % 17);
        if (sleep_ms) usleep((useconds_t)sleep_ms * 1000);
        int reason = stop_requested(d, est + ckpt_s);
        if (wait && step == 3) {
            if (d->rank == 0) {
                char p[2048];
                snprintf(p, sizeof p, "%s/ready", dir);
                shear_mkdirs(dir);
                FILE *f = fopen(p, "w");
                if (f) fclose(f);
            }
            while (!(reason = stop_requested(d, 0))) usleep(10000);
        }
        if (reason) {
            c.step = step;
            ckpt_save(d, ops_cpu(), dir, &c, 2, 0);
            if (d->rank == 0) printf("stopping at step %lld: %s; checkpoint written\n", (long long)step,
                                     stop_reason_name(reason));
            ckpt_items_free(&items);
            return SHEAR_EXIT_CHECKPOINTED;
        }
    }
    c.step = step;
    ckpt_s = ckpt_save(d, ops_cpu(), dir, &c, 2, 0);
    uint64_t h = ckpt_sum_final(ckpt_sum_bytes(x, sizeof x));
    if (d->rank == 0) printf("finished step %lld digest %016llx\n", (long long)step, (unsigned long long)h);
    ckpt_items_free(&items);
    return 0;
}

// ---- benchmark: the Sheared-LLaMA-1.3B shape ----

static void fill_pattern(float *w, size_t n, uint64_t seed) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        uint64_t z = (i + seed) * 0x9E3779B97F4A7C15ULL;
        z ^= z >> 29;
        w[i] = (float)((int32_t)(z >> 32)) * 1e-10f;
    }
}

static int bench(const Dist *d, const char *dir, int roles) {
    const ShearOps *ops = ops_cpu();
    ModelConfig c = {.dim = 2048, .n_layers = 24, .n_heads = 16, .n_kv_heads = 16, .head_dim = 128,
                     .intermediate = 5504, .vocab = 32000, .rope = {.theta = 10000.0f}, .norm_eps = 1e-5f};
    ParamTable t;
    param_table_build(&t, &c);
    const char *groups[3] = {"weights", "adam_m", "adam_v"};
    float *buf[3] = {0};
    CkptItems items = {0};
    size_t bytes = 0;
    for (int r = 0; r < roles; r++) {
        buf[r] = ops->alloc(t.total * sizeof(float));
        fill_pattern(buf[r], t.total, (uint64_t)r);
        ckpt_items_add_params(&items, groups[r], &t, buf[r]);
    }
    CkptState s;
    memset(&s, 0, sizeof s);
    s.phase = "train";
    s.step = 1;
    s.deck_text = "bench";
    s.config = &c;
    s.items = items.items;
    s.n_items = items.n;
    bytes = ckpt_state_bytes(&s);
    double th = shear_now();
    CkptSum h = ckpt_sum_bytes(buf[0], t.total * sizeof(float));
    th = shear_now() - th;
    double tw = ckpt_save(d, ops, dir, &s, 1, 0);
    char path[2048];
    ckpt_path(dir, 1, path, sizeof path);
    // cold read: drop the file's (clean, synced) pages from the page cache
    if (d->rank == 0) {
        int fd = open(path, O_RDONLY);
        if (fd >= 0) { posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED); close(fd); }
    }
    MPI_Barrier(MPI_COMM_WORLD);
    double tr[3];
    for (int k = 0; k < 3; k++) { // cold + verify, warm + verify, warm without verify
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = shear_now();
        ckpt_load(d, ops, path, &s, k < 2);
        tr[k] = shear_now() - t0;
        MPI_Allreduce(MPI_IN_PLACE, &tr[k], 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        free((char *)s.deck_text);
        s.deck_text = "bench";
    }
    if (d->rank == 0)
        printf("{\"ranks\":%d,\"threads_per_rank\":%d,\"roles\":%d,\"datasets\":%d,\"bytes\":%zu,"
               "\"write_s\":%.3f,\"write_GBs\":%.3f,\"read_cold_verify_s\":%.3f,\"read_cold_verify_GBs\":%.3f,"
               "\"read_warm_verify_GBs\":%.3f,\"read_warm_noverify_GBs\":%.3f,\"hash_GBs\":%.3f,\"hash\":\"%016llx\"}\n",
               d->size, omp_get_max_threads(), roles, items.n, bytes, tw, bytes / tw / 1e9, tr[0], bytes / tr[0] / 1e9,
               bytes / tr[1] / 1e9, bytes / tr[2] / 1e9, (double)t.total * 4 / th / 1e9,
               (unsigned long long)ckpt_sum_final(h));
    for (int r = 0; r < roles; r++) ops->free(buf[r]);
    ckpt_items_free(&items);
    param_table_free(&t);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "unit") == 0) return unit();
    Dist d;
    dist_init(&d, &argc, &argv);
    const ShearOps *ops = ops_cpu();
    int rc = 0;
    if (argc < 2 || strcmp(argv[1], "bench") != 0) ops_cpu_set_threads(1); // small states: no thread pools to oversubscribe
    const char *piece = getenv("TEST_CKPT_PIECE_BYTES"); // small pieces: every item takes many rounds
    if (piece && atol(piece) > 0) ckpt_piece_bytes = (size_t)atol(piece);
    if (argc >= 4 && strcmp(argv[1], "save") == 0) {
        int64_t step = atoll(argv[3]);
        int keep = argc > 4 ? atoi(argv[4]) : 0, major = argc > 5 ? atoi(argv[5]) : 0;
        kill_after = argc > 6 ? atoi(argv[6]) : -1;
        State s;
        state_create(&s, ops, 61);
        state_fill(&s, ops, step);
        CkptState c = ckpt_state(&s, step);
        c.after_item = kill_hook;
        c.hook_ctx = &d;
        double t = ckpt_save(&d, ops, argv[2], &c, keep, major);
        if (d.rank == 0) printf("saved step %lld (%d items) on %d ranks in %.3f s\n", (long long)step, c.n_items,
                                d.size, t);
        state_free(&s, ops);
    } else if (argc >= 4 && strcmp(argv[1], "load") == 0) {
        int64_t step = atoll(argv[3]);
        State s;
        state_create(&s, ops, argc > 4 ? atoi(argv[4]) : 61);
        state_fill(&s, ops, 999999); // clobbered: every value must come from the file
        state_items(&s, (int)(step % 5));
        CkptState c = ckpt_state(&s, -1);
        if (argc > 5) c.phase = argv[5];
        ckpt_load(&d, ops, argv[2], &c, 1);
        rc = check_loaded(&d, &s, &c, ops, step);
        free((char *)c.deck_text);
        state_free(&s, ops);
    } else if (argc >= 4 && strcmp(argv[1], "resume") == 0) {
        // HIST_ROWS: the caller knows its state's shapes from its own configuration; here the test passes it
        State s;
        state_create(&s, ops, 61);
        state_fill(&s, ops, 999999);
        char latest[2048];
        state_items(&s, argc > 4 ? atoi(argv[4]) : 0);
        CkptState c = ckpt_state(&s, -1);
        if (ckpt_load_latest_good(&d, ops, argv[2], &c, 1, atoi(argv[3]), latest, sizeof latest) != 0) {
            if (d.rank == 0) printf("no checkpoint\n");
            rc = 3;
        } else {
            if (d.rank == 0) printf("resumed from %s\n", latest);
            rc = check_loaded(&d, &s, &c, ops, c.step);
            free((char *)c.deck_text);
        }
        state_free(&s, ops);
    } else if (argc >= 3 && strcmp(argv[1], "model") == 0) {
        State s;
        state_create(&s, ops, 61);
        state_fill(&s, ops, 1);
        if (d.rank == 0) modelfile_save(argv[2], &s.model, DECK);
        state_free(&s, ops);
    } else if (argc >= 4 && strcmp(argv[1], "bench") == 0) {
        rc = bench(&d, argv[2], atoi(argv[3]));
    } else if (argc >= 8 && strcmp(argv[1], "loop") == 0) {
        rc = loop(&d, argv[2], atoll(argv[3]), atof(argv[4]), atof(argv[5]), atoi(argv[6]), atoi(argv[7]));
    } else {
        if (d.rank == 0) fprintf(stderr, "usage: see the header of tests/test_ckpt.c\n");
        rc = 2;
    }
    dist_finalize(&d);
    return rc;
}
