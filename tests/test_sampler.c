// The domain sampler: shares match proportions (chi-square at a fixed seed), epochs are bijections that roll
// over, the state round-trips through a checkpoint-like copy, zero proportions are never drawn, bad proportions
// die with a message.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "data_expect_die.h"
#include "shear/sampler.h"

#include "expect.h"

// Chi-square statistic of observed counts against expected shares over n draws.
static double chi_square(const size_t *count, const double *w, int k, size_t n) {
    double stat = 0.0;
    for (int d = 0; d < k; d++) {
        double e = w[d] * (double)n;
        stat += ((double)count[d] - e) * ((double)count[d] - e) / e;
    }
    return stat;
}

static void test_shares(void) {
    enum { K = 4, STEPS = 2000, BATCH = 32 };
    uint64_t n_seqs[K] = {1000, 50, 3000, 7};
    double w[K] = {0.1, 0.2, 0.3, 0.4};
    Sampler s;
    sampler_init(&s, 42, K, n_seqs);
    SampleRef batch[BATCH];
    size_t count[K] = {0};
    for (int step = 0; step < STEPS; step++) {
        sampler_next_batch(&s, w, BATCH, batch, NULL);
        for (int i = 0; i < BATCH; i++) {
            EXPECT(batch[i].domain >= 0 && batch[i].domain < K, "domain %d out of range", batch[i].domain);
            EXPECT(batch[i].seq < n_seqs[batch[i].domain], "seq %llu out of range",
                   (unsigned long long)batch[i].seq);
            count[batch[i].domain]++;
        }
    }
    double stat = chi_square(count, w, K, (size_t)STEPS * BATCH);
    // 0.999 quantile of chi-square with K-1 = 3 degrees of freedom
    const double q999 = 16.2662361962381;
    printf("shares over %d samples: %zu %zu %zu %zu (expected %.0f %.0f %.0f %.0f), chi2 = %.3f (0.999 quantile %.3f)\n",
           STEPS * BATCH, count[0], count[1], count[2], count[3], w[0] * STEPS * BATCH, w[1] * STEPS * BATCH,
           w[2] * STEPS * BATCH, w[3] * STEPS * BATCH, stat, q999);
    EXPECT(stat < q999, "chi-square %.3f above the 0.999 quantile %.3f", stat, q999);
    EXPECT(s.step == STEPS, "step %llu after %d batches", (unsigned long long)s.step, STEPS);

    // Changing the proportions mid-run (what dynamic batch loading does) moves the shares with them.
    double w2[K] = {0.55, 0.05, 0.15, 0.25};
    size_t count2[K] = {0};
    for (int step = 0; step < STEPS; step++) {
        sampler_next_batch(&s, w2, BATCH, batch, NULL);
        for (int i = 0; i < BATCH; i++) count2[batch[i].domain]++;
    }
    double stat2 = chi_square(count2, w2, K, (size_t)STEPS * BATCH);
    printf("after changing proportions: chi2 = %.3f (0.999 quantile %.3f)\n", stat2, q999);
    EXPECT(stat2 < q999, "chi-square %.3f above %.3f after a proportion change", stat2, q999);
}

static void test_permutation_bijective(void) {
    const uint64_t sizes[] = {1, 2, 3, 4, 5, 7, 16, 17, 1000, 1025, 4099};
    static unsigned char seen[4099];
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        uint64_t n = sizes[k];
        Sampler s;
        sampler_init(&s, 7, 1, &n);
        for (uint64_t epoch = 0; epoch < 3; epoch++) {
            memset(seen, 0, sizeof seen);
            size_t fixed = 0;
            for (uint64_t pos = 0; pos < n; pos++) {
                uint64_t q = sampler_permute(&s, 0, epoch, pos);
                EXPECT(q < n, "permute(n=%llu) gave %llu", (unsigned long long)n, (unsigned long long)q);
                if (q < n) {
                    EXPECT(!seen[q], "permute(n=%llu, epoch %llu) hits %llu twice", (unsigned long long)n,
                           (unsigned long long)epoch, (unsigned long long)q);
                    seen[q] = 1;
                }
                fixed += q == pos;
            }
            // a shuffle, not the identity: a random permutation of 1000+ elements has ~1 fixed point
            if (n >= 1000) EXPECT(fixed < n / 10, "permute(n=%llu) has %zu fixed points", (unsigned long long)n, fixed);
        }
    }
    printf("permutations are bijections for n in 1..4099 over 3 epochs\n");
}

// Every domain sees each of its sequences exactly once per epoch; epochs roll over with a flag and a new order.
static void test_epochs(void) {
    enum { K = 4, STEPS = 300, BATCH = 16 };
    uint64_t n_seqs[K] = {5, 7, 3, 11};
    double w[K] = {0.25, 0.25, 0.25, 0.25};
    Sampler s;
    sampler_init(&s, 1234, K, n_seqs);
    static uint64_t drawn[K][STEPS * BATCH];
    size_t n_drawn[K] = {0};
    size_t flags[K] = {0};
    int flag_total = 0, returned_total = 0;
    SampleRef batch[BATCH];
    int new_epoch[K];
    for (int step = 0; step < STEPS; step++) {
        returned_total += sampler_next_batch(&s, w, BATCH, batch, new_epoch);
        for (int d = 0; d < K; d++) {
            flags[d] += (size_t)new_epoch[d];
            flag_total += new_epoch[d];
        }
        for (int i = 0; i < BATCH; i++) drawn[batch[i].domain][n_drawn[batch[i].domain]++] = batch[i].seq;
    }
    EXPECT(returned_total == flag_total, "returned %d epoch starts, flagged %d", returned_total, flag_total);
    for (int d = 0; d < K; d++) {
        uint64_t n = n_seqs[d];
        size_t full = n_drawn[d] / n;
        for (size_t e = 0; e < full; e++) {
            unsigned seen = 0;
            for (uint64_t j = 0; j < n; j++) seen |= 1u << drawn[d][e * n + j];
            EXPECT(seen == (1u << n) - 1, "domain %d epoch %zu is not a permutation of its %llu sequences", d, e,
                   (unsigned long long)n);
        }
        // epochs started = the draws beyond the first epoch, in units of n (rounded up)
        uint64_t expect_epoch = n_drawn[d] == 0 ? 0 : (n_drawn[d] - 1) / n;
        EXPECT(s.epoch[d] == expect_epoch, "domain %d: epoch %llu, expected %llu after %zu draws", d,
               (unsigned long long)s.epoch[d], (unsigned long long)expect_epoch, n_drawn[d]);
        EXPECT(s.cursor[d] == n_drawn[d] - expect_epoch * n, "domain %d: cursor %llu", d,
               (unsigned long long)s.cursor[d]);
        // the flag fires at most once per batch, so flags <= epochs, and at least once per batch that rolled over
        EXPECT(flags[d] >= 1 && flags[d] <= s.epoch[d], "domain %d: %zu flags for %llu epochs", d, flags[d],
               (unsigned long long)s.epoch[d]);
        printf("domain %d (n=%llu): %zu draws, %llu new epochs, %zu batches flagged\n", d, (unsigned long long)n,
               n_drawn[d], (unsigned long long)s.epoch[d], flags[d]);
    }
    // a new epoch is a new order: the 11-sequence domain's first two epochs differ
    int differ = memcmp(drawn[3], drawn[3] + 11, 11 * sizeof(uint64_t)) != 0;
    EXPECT(differ, "domain 3's epochs 0 and 1 have the same order");
}

// The state is plain numbers: save them mid-run, restore into a fresh sampler, and it continues identically.
static void test_state_roundtrip(void) {
    enum { K = 3, BATCH = 24 };
    uint64_t n_seqs[K] = {13, 40, 9};
    double w[K] = {0.5, 0.3, 0.2};
    Sampler a;
    sampler_init(&a, 99, K, n_seqs);
    SampleRef ba[BATCH], bb[BATCH];
    for (int step = 0; step < 17; step++) sampler_next_batch(&a, w, BATCH, ba, NULL);
    // what a checkpoint stores: seed, step, and per domain n_seqs, cursor, epoch
    uint64_t saved[2 + 3 * K];
    saved[0] = a.seed;
    saved[1] = a.step;
    for (int d = 0; d < K; d++) {
        saved[2 + 3 * d] = a.n_seqs[d];
        saved[3 + 3 * d] = a.cursor[d];
        saved[4 + 3 * d] = a.epoch[d];
    }
    Sampler b;
    uint64_t ns[K];
    for (int d = 0; d < K; d++) ns[d] = saved[2 + 3 * d];
    sampler_init(&b, saved[0], K, ns);
    b.step = saved[1];
    for (int d = 0; d < K; d++) {
        b.cursor[d] = saved[3 + 3 * d];
        b.epoch[d] = saved[4 + 3 * d];
    }
    int same = 1;
    for (int step = 0; step < 50; step++) {
        sampler_next_batch(&a, w, BATCH, ba, NULL);
        sampler_next_batch(&b, w, BATCH, bb, NULL);
        for (int i = 0; i < BATCH; i++) same &= ba[i].domain == bb[i].domain && ba[i].seq == bb[i].seq;
    }
    EXPECT(same, "a sampler restored from its saved state draws different batches");
    EXPECT(memcmp(a.cursor, b.cursor, sizeof a.cursor) == 0 && memcmp(a.epoch, b.epoch, sizeof a.epoch) == 0,
           "restored sampler's state diverged");
    // and the draws depend on the state: a different seed gives other batches
    Sampler c;
    sampler_init(&c, 100, K, n_seqs);
    sampler_next_batch(&c, w, BATCH, bb, NULL);
    sampler_init(&a, 99, K, n_seqs);
    sampler_next_batch(&a, w, BATCH, ba, NULL);
    int differ = 0;
    for (int i = 0; i < BATCH; i++) differ |= ba[i].domain != bb[i].domain || ba[i].seq != bb[i].seq;
    EXPECT(differ, "seeds 99 and 100 drew the same batch");
    printf("state round-trips: 50 more steps identical after restore\n");
}

static void test_zero_proportion(void) {
    enum { K = 5, BATCH = 32 };
    uint64_t n_seqs[K] = {10, 10, 0, 10, 10};
    double w[K] = {0.3, 0.0, 0.0, 0.5, 0.2};
    Sampler s;
    sampler_init(&s, 5, K, n_seqs);
    SampleRef batch[BATCH];
    size_t count[K] = {0};
    for (int step = 0; step < 1000; step++) {
        sampler_next_batch(&s, w, BATCH, batch, NULL);
        for (int i = 0; i < BATCH; i++) count[batch[i].domain]++;
    }
    EXPECT(count[1] == 0 && count[2] == 0, "zero-proportion domains drawn %zu and %zu times", count[1], count[2]);
    EXPECT(count[0] > 0 && count[3] > 0 && count[4] > 0, "a positive-proportion domain was never drawn");
    // a distribution with all mass on one domain draws only it
    double one[K] = {0, 0, 0, 1, 0};
    sampler_next_batch(&s, one, BATCH, batch, NULL);
    for (int i = 0; i < BATCH; i++) EXPECT(batch[i].domain == 3, "one-hot proportions drew domain %d", batch[i].domain);
    printf("zero proportions never drawn in 32000 samples\n");
}

typedef struct {
    double w[3];
    uint64_t n_seqs[3];
} BadCase;

static void draw_with(void *arg) {
    BadCase *c = arg;
    Sampler s;
    sampler_init(&s, 1, 3, c->n_seqs);
    SampleRef batch[4];
    sampler_next_batch(&s, c->w, 4, batch, NULL);
}

static void init_too_many(void *arg) {
    (void)arg;
    uint64_t n[SAMPLER_MAX_DOMAINS + 1] = {0};
    Sampler s;
    sampler_init(&s, 1, SAMPLER_MAX_DOMAINS + 1, n);
}

static void test_bad_proportions(void) {
    BadCase sum_low = {{0.2, 0.3, 0.4}, {5, 5, 5}};
    BadCase negative = {{0.6, -0.1, 0.5}, {5, 5, 5}};
    BadCase nan_w = {{NAN, 0.5, 0.5}, {5, 5, 5}};
    BadCase empty = {{0.5, 0.5, 0.0}, {5, 0, 5}};
    failures += expect_die("proportions summing to 0.9", draw_with, &sum_low, "sum to 0.9");
    failures += expect_die("a negative proportion", draw_with, &negative, "proportion of domain 1 is -0.1");
    failures += expect_die("a NaN proportion", draw_with, &nan_w, "proportion of domain 0 is nan");
    failures += expect_die("a drawn domain without sequences", draw_with, &empty, "domain 1 has proportion 0.5");
    failures += expect_die("17 domains", init_too_many, NULL, "expected 1 to 16");
}

int main(void) {
    test_bad_proportions();
    test_shares();
    test_permutation_bijective();
    test_epochs();
    test_state_roundtrip();
    test_zero_proportion();
    if (failures) {
        fprintf(stderr, "test_sampler: %d failures\n", failures);
        return 1;
    }
    printf("test_sampler: all passed\n");
    return 0;
}
