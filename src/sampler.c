// The domain sampler (sampler.h). A global batch is a pure function of (seed, step, global sample index), the
// proportions and the per-domain (cursor, epoch): every rank draws the whole batch and takes its slice, so the
// rank count never changes what is read. Permutations are computed on the fly (keyed Feistel network with
// cycle-walking), so the state stays a few numbers however many sequences a domain has.
#include "shear/sampler.h"

#include <math.h>
#include <string.h>

#include "shear/common.h"
#include "shear/rng.h"

#define SAMPLER_FEISTEL_ROUNDS 6
// The domain draw's counter is (step << 24) | g: at most 2^24 samples per step and 2^40 steps.
#define SAMPLER_SAMPLE_BITS 24

void sampler_init(Sampler *s, uint64_t seed, int n_domains, const uint64_t *n_seqs) {
    SHEAR_CHECK(n_domains >= 1 && n_domains <= SAMPLER_MAX_DOMAINS,
                "sampler: %d domains; expected 1 to %d", n_domains, SAMPLER_MAX_DOMAINS);
    memset(s, 0, sizeof *s);
    s->seed = seed;
    s->n_domains = n_domains;
    for (int d = 0; d < n_domains; d++) s->n_seqs[d] = n_seqs[d];
}

// Width in bits of one Feistel half: the smallest h with 4^h >= n (h >= 1), so the network permutes
// [0, 4^h) and cycle-walking needs fewer than 4 passes on average.
static int feistel_half_bits(uint64_t n) {
    int h = 1;
    while (h < 32 && ((uint64_t)1 << (2 * h)) < n) h++;
    return h;
}

static uint64_t feistel(uint64_t key, int h, uint64_t x) {
    uint64_t mask = ((uint64_t)1 << h) - 1;
    uint64_t left = x >> h, right = x & mask;
    for (uint64_t r = 0; r < SAMPLER_FEISTEL_ROUNDS; r++) {
        // round function: Philox keyed by the (domain, epoch) key, counter = (round, right half)
        uint64_t f = rng_u64(key, RNG_STREAM_SHUFFLE, (r << 56) | right) & mask;
        uint64_t next = left ^ f;
        left = right;
        right = next;
    }
    return (left << h) | right;
}

uint64_t sampler_permute(const Sampler *s, int domain, uint64_t epoch, uint64_t pos) {
    uint64_t n = s->n_seqs[domain];
    SHEAR_CHECK(pos < n, "sampler: position %llu outside domain %d's %llu sequences", (unsigned long long)pos,
                domain, (unsigned long long)n);
    if (n == 1) return 0;
    // One key per (domain, epoch): each epoch gets a fresh, independent-looking order.
    uint64_t key = rng_u64(s->seed, RNG_STREAM_SHUFFLE, ((uint64_t)domain << 56) | (epoch & ((1ull << 56) - 1)));
    int h = feistel_half_bits(n);
    uint64_t y = feistel(key, h, pos);
    while (y >= n) y = feistel(key, h, y); // cycle-walking keeps a bijection on [0, n)
    return y;
}

// Proportions must be a distribution over domains that can be drawn from.
static void check_proportions(const Sampler *s, const double *w) {
    double sum = 0.0;
    for (int d = 0; d < s->n_domains; d++) {
        SHEAR_CHECK(isfinite(w[d]) && w[d] >= 0.0, "sampler: proportion of domain %d is %g; expected a number >= 0",
                    d, w[d]);
        SHEAR_CHECK(w[d] == 0.0 || s->n_seqs[d] > 0,
                    "sampler: domain %d has proportion %g but no train sequences", d, w[d]);
        sum += w[d];
    }
    SHEAR_CHECK(fabs(sum - 1.0) <= 1e-9, "sampler: proportions sum to %.12g; expected 1 (within 1e-9)", sum);
}

// Inverse CDF in domain order; domains with proportion 0 own an empty interval and are never chosen.
static int draw_domain(const double *w, int n_domains, double u) {
    double total = 0.0;
    for (int d = 0; d < n_domains; d++) total += w[d];
    double target = u * total, cum = 0.0;
    int last = -1;
    for (int d = 0; d < n_domains; d++) {
        if (w[d] <= 0.0) continue;
        cum += w[d];
        last = d;
        if (target < cum) return d;
    }
    return last; // u*total rounded up to the sum: the last drawable domain
}

int sampler_next_batch(Sampler *s, const double *w, size_t n, SampleRef *out, int *new_epoch) {
    check_proportions(s, w);
    SHEAR_CHECK(n <= ((size_t)1 << SAMPLER_SAMPLE_BITS), "sampler: global batch of %zu samples; at most %zu",
                n, (size_t)1 << SAMPLER_SAMPLE_BITS);
    SHEAR_CHECK(s->step < (1ull << (64 - SAMPLER_SAMPLE_BITS)), "sampler: step %llu beyond the counter range",
                (unsigned long long)s->step);
    int flagged[SAMPLER_MAX_DOMAINS] = {0};
    int started = 0;
    for (size_t g = 0; g < n; g++) {
        uint64_t counter = (s->step << SAMPLER_SAMPLE_BITS) | (uint64_t)g;
        int d = draw_domain(w, s->n_domains, rng_uniform(s->seed, RNG_STREAM_DOMAIN, counter));
        if (s->cursor[d] >= s->n_seqs[d]) { // ran out: a new epoch with a new permutation
            s->epoch[d]++;
            s->cursor[d] = 0;
            if (!flagged[d]) started++;
            flagged[d] = 1;
        }
        out[g].domain = d;
        out[g].seq = sampler_permute(s, d, s->epoch[d], s->cursor[d]);
        s->cursor[d]++;
    }
    if (new_epoch)
        for (int d = 0; d < s->n_domains; d++) new_epoch[d] = flagged[d];
    s->step++;
    return started;
}
