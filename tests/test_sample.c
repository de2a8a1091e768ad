// shear generate's sampler (src/sample.c): the arg max; the distribution it draws from equals the softmax at the
// temperature cut to top-k and top-p, computed here independently; 400,000 seeded draws (the counters
// generate uses) match that distribution by a chi-square test at p = 1e-4 (fixed seed: the verdict is fixed
// too); a cut id is never drawn; the same (seed, counter) gives the same token.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "expect.h"
#include "shear/rng.h"
#include "shear/sample.h"

#define V 12

static const float LOGITS[V] = {1.5f, -0.3f, 2.25f, 0.0f, 2.25f, -4.0f, 0.9f, 1.1f, -1.0f, 3.0f, 0.4f, -2.5f};

// The expected distribution, written the obvious way: probabilities of logits / temperature, ids in order of
// decreasing probability (lower id first on ties), the first top_k, then the shortest prefix reaching top_p.
static void expected(const SampleParams *sp, double *p) {
    double q[V], total = 0, mx = -INFINITY;
    int order[V];
    for (int i = 0; i < V; i++) mx = fmax(mx, LOGITS[i]);
    for (int i = 0; i < V; i++) { q[i] = exp((LOGITS[i] - mx) / sp->temperature); order[i] = i; }
    for (int i = 0; i < V; i++) // insertion sort: small and obviously right
        for (int j = i; j > 0; j--) {
            int a = order[j - 1], b = order[j];
            if (LOGITS[b] > LOGITS[a] || (LOGITS[b] == LOGITS[a] && b < a)) { order[j - 1] = b; order[j] = a; }
            else break;
        }
    int keep = sp->top_k > 0 && sp->top_k < V ? sp->top_k : V;
    for (int r = 0; r < keep; r++) total += q[order[r]];
    if (sp->top_p < 1) {
        double mass = 0;
        int r = 0;
        for (; r < keep; r++) {
            mass += q[order[r]];
            if (mass >= sp->top_p * total) break;
        }
        keep = r + 1 < keep ? r + 1 : keep;
    }
    double kept = 0;
    for (int r = 0; r < keep; r++) kept += q[order[r]];
    memset(p, 0, V * sizeof *p);
    for (int r = 0; r < keep; r++) p[order[r]] = q[order[r]] / kept;
}

static void check_case(const char *name, SampleParams sp, uint64_t seed) {
    double want[V], got_p[V];
    int32_t work[V];
    expected(&sp, want);
    sample_token(LOGITS, V, &sp, 0.5, work, got_p);
    double worst = 0;
    for (int i = 0; i < V; i++) worst = fmax(worst, fabs(got_p[i] - want[i]));
    EXPECT(worst < 1e-12, "%s: the sampler's distribution differs from the softmax by %g", name, worst);

    enum { DRAWS = 400000 };
    long count[V] = {0};
    for (uint64_t c = 0; c < DRAWS; c++)
        count[sample_token(LOGITS, V, &sp, rng_uniform(seed, RNG_STREAM_GENERATE, c), work, NULL)]++;
    double chi2 = 0;
    int df = -1, cut_drawn = 0;
    for (int i = 0; i < V; i++) {
        if (want[i] == 0) { cut_drawn += count[i] != 0; continue; }
        double e = want[i] * DRAWS;
        chi2 += (count[i] - e) * (count[i] - e) / e;
        df++;
    }
    // chi-square quantile at 1 - 1e-4 by the Wilson-Hilferty approximation (good to a few percent for df >= 1)
    double z = 3.719, k = df > 0 ? df : 1;
    double crit = k * pow(1 - 2 / (9 * k) + z * sqrt(2 / (9 * k)), 3);
    EXPECT(cut_drawn == 0, "%s: an id outside top-k/top-p was drawn", name);
    if (df > 0) EXPECT(chi2 < crit, "%s: chi-square %.2f with %d degrees of freedom exceeds %.2f", name, chi2, df, crit);
    printf("%-28s kept %2d ids, chi-square %7.2f (df %2d, critical %.2f)\n", name, df + 1, chi2, df, crit);
    int32_t a = sample_token(LOGITS, V, &sp, rng_uniform(seed, RNG_STREAM_GENERATE, 77), work, NULL);
    int32_t b = sample_token(LOGITS, V, &sp, rng_uniform(seed, RNG_STREAM_GENERATE, 77), work, NULL);
    EXPECT(a == b, "%s: the same counter gave %d then %d", name, a, b);
}

int main(void) {
    int32_t work[V];
    EXPECT(sample_argmax(LOGITS, V) == 9, "arg max is %d, expected 9", sample_argmax(LOGITS, V));
    float tie[4] = {0.5f, 2.0f, 2.0f, -1.0f};
    EXPECT(sample_argmax(tie, 4) == 1, "a tie goes to the lower id, got %d", sample_argmax(tie, 4));
    SampleParams g = {.greedy = 1};
    EXPECT(sample_token(LOGITS, V, &g, 0.99, work, NULL) == 9, "greedy ignores u");

    check_case("temperature 1", (SampleParams){0, 1.0, 0, 1.0}, 11);
    check_case("temperature 0.5", (SampleParams){0, 0.5, 0, 1.0}, 12);
    check_case("temperature 2, top-k 5", (SampleParams){0, 2.0, 5, 1.0}, 13);
    check_case("top-k 3 (a tie inside)", (SampleParams){0, 1.0, 3, 1.0}, 14);
    check_case("top-p 0.8", (SampleParams){0, 1.0, 0, 0.8}, 15);
    check_case("temperature 0.7, k 6, p 0.9", (SampleParams){0, 0.7, 6, 0.9}, 16);
    check_case("top-p 0.01 (one id)", (SampleParams){0, 1.0, 0, 0.01}, 17);

    // u at the ends of [0, 1): the most likely id, and the last kept one
    SampleParams k3 = {0, 1.0, 3, 1.0};
    EXPECT(sample_token(LOGITS, V, &k3, 0.0, work, NULL) == 9, "u = 0 picks the most likely id");
    EXPECT(sample_token(LOGITS, V, &k3, 0.999999999, work, NULL) == 4, "u -> 1 picks the last kept id (4)");
    printf("%d checks, %d failures\n", checks, failures);
    return failures != 0;
}
