// Autoregressive inference with a KV cache over the ops interface (shear generate): the prompt is fed once
// (prefill, in chunks), then one token at a time; each block's RoPE'd keys and values stay in the cache, so a
// step costs one row through every matmul plus attention over the cached positions. The forward is
// forward.c's without gates (model files are dense).
#ifndef SHEAR_GENERATE_H
#define SHEAR_GENERATE_H

#include "shear/model.h"

typedef struct {
    Model *m;           // weights on m->ops (model_create + modelfile_load_weights); not owned
    int max_len;        // positions the cache holds
    int len;            // positions cached so far
    int chunk;          // rows per forward pass of the prefill
    float *kc, *vc;     // [L, max_len, Hkv*hd] RoPE'd keys, values
    int32_t *tok;       // [chunk] token ids (backend)
    int32_t *tgt;       // [1] -1: the classifier scores nothing, it only writes logits
    float *x, *xn;      // [chunk, d] residual stream, norm output
    float *rstd;        // [chunk]
    float *q, *att;     // [chunk, H*hd] queries after RoPE, attention context
    float *k, *v;       // [chunk, Hkv*hd]
    float *br;          // [chunk, d] a branch output (o_proj, down_proj)
    float *qraw, *kraw; // [chunk, H*hd], [chunk, Hkv*hd] q, k before the q/k norms (qk_norm only, else NULL)
    float *rstdq, *rstdk; // [chunk*H], [chunk*Hkv]
    float *mg, *mu, *mh; // [chunk, I] gate_proj, up_proj, silu(gate) * up
    float *logits;      // [V] the last row's logits (backend)
} Generator;

// Buffers for up to max_len positions; chunk rows per prefill pass (at least 1).
void gen_init(Generator *g, Model *m, int max_len, int chunk);
void gen_free(Generator *g);
// Forgets the cached positions (the next gen_feed starts at position 0).
void gen_reset(Generator *g);
// Runs n tokens tok[n] (host) at positions len .. len + n - 1, appends their keys and values to the cache, and
// writes the logits of the last one to logits_host[V]. Dies when the cache would overflow.
void gen_feed(Generator *g, const int32_t *tok, int n, float *logits_host);

#endif
