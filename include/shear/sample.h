// Next-token sampling for shear generate: temperature, top-k, top-p over one row of logits, driven by one
// uniform number so that a (seed, prompt, step) triple always picks the same token (rng.h,
// RNG_STREAM_GENERATE). Pure logic on host memory: no backend, no MPI.
#ifndef SHEAR_SAMPLE_H
#define SHEAR_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int greedy;        // 1: the arg max (lowest id on ties); the other fields are ignored
    double temperature; // > 0: p ~ softmax(logits / temperature)
    int top_k;         // keep the k most likely ids; 0 = all
    double top_p;      // keep the smallest most-likely set whose probability reaches top_p; in (0, 1], 1 = all
} SampleParams;

// The token picked from logits[V]: ids ranked by probability (ties: lower id first), cut to top_k, then to the
// shortest prefix whose mass reaches top_p (at least one id), renormalised, and the id where the cumulative
// mass first exceeds u * total (u in [0, 1)). work [V] is scratch (int32 ids). probs_out [V] (optional) gets
// the final distribution (0 for cut ids), for tests.
int32_t sample_token(const float *logits, int V, const SampleParams *sp, double u, int32_t *work, double *probs_out);
// The arg max of logits[V], lowest id on ties.
int32_t sample_argmax(const float *logits, int V);

#endif
