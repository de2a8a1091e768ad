// The domain sampler: the global batch of a step is a function of (seed, step, global sample index), the
// current proportions and the sampler state only, so it is independent of the rank count. Each sample's
// domain is drawn i.i.d. from the proportions (Philox, RNG_STREAM_DOMAIN), then the next sequence of that
// domain's shuffled order is taken; a domain that runs out starts a new epoch with a new permutation.
// Pure logic: no MPI, no I/O. The whole state is a few numbers a checkpoint can hold.
#ifndef SHEAR_SAMPLER_H
#define SHEAR_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#define SAMPLER_MAX_DOMAINS 16

typedef struct {
    uint64_t seed;
    int n_domains;
    uint64_t n_seqs[SAMPLER_MAX_DOMAINS]; // train sequences per domain
    uint64_t cursor[SAMPLER_MAX_DOMAINS]; // next position in the current epoch's permutation
    uint64_t epoch[SAMPLER_MAX_DOMAINS];  // epochs started (0 = first)
    uint64_t step;                        // steps drawn so far
} Sampler;

typedef struct {
    int domain;
    uint64_t seq;   // index into the domain's train split
} SampleRef;

void sampler_init(Sampler *s, uint64_t seed, int n_domains, const uint64_t *n_seqs);
// Draws the next global batch of n samples with proportions w[n_domains] (a distribution) into out[n] and
// advances the state by one step. Every rank calls it with the same arguments and takes its slice.
// Returns how many domains started a new epoch during the call (for the log), their flags in new_epoch[] if
// non-NULL.
int sampler_next_batch(Sampler *s, const double *w, size_t n, SampleRef *out, int *new_epoch);
// The permutation of a domain's epoch: position -> sequence index (a bijection on [0, n_seqs)).
uint64_t sampler_permute(const Sampler *s, int domain, uint64_t epoch, uint64_t pos);

#endif
