// Evaluation: mean next-token cross-entropy of a model over held-out sequences, MPI-parallel. Every rank
// scores a contiguous share of the sequences (dist_slice); (loss sum, token count) are summed in double and
// every rank gets the totals. Used by `shear eval`, by dynamic batch loading and at the end of runs.
#ifndef SHEAR_EVALUATE_H
#define SHEAR_EVALUATE_H

#include <stddef.h>
#include <stdint.h>

#include "shear/dist.h"
#include "shear/distill.h"
#include "shear/model.h"
#include "shear/store.h"

// Per-domain evaluation on the token store's eval splits. Domain i is store domain store_idx[i]; its first
// max_seqs eval sequences are scored (0 = all of them), each on its first T tokens: T-1 predicted positions
// per sequence. The model's activations must be allocated for T <= m->T tokens (longer allocations are padded
// with unscored positions; causal attention keeps the scored ones exact); micro-batches of m->B sequences.
// gates: NULL, or fixed gates (the deterministic masks during pruning). Outputs [n_domains], identical on
// every rank: loss_sum[i] (sum of token losses) and tokens[i] (scored positions; 0 when the domain has no
// eval sequences, so loss_sum / tokens is NaN and the caller must report it). kd: NULL, or a run's teacher
// (distill.h, on): kd_sum[i] then gets domain i's sum of the KD term (its activations hold m->B x m->T too).
void eval_domains(const Dist *d, Model *m, const TokenStore *s, const int *store_idx, int n_domains, int T,
                  int max_seqs, const ModelGates *gates, double *loss_sum, double *tokens, Distill *kd,
                  double *kd_sum);

// The window rule of `shear eval --text`: n tokens cut into consecutive non-overlapping windows of T tokens,
// a trailing partial window dropped unless it is the only one. Returns the number of windows and sets
// *window_len (T, or n when n < T). n < 2 gives 0 windows (nothing to predict).
size_t eval_window_plan(size_t n, int T, int *window_len);

// Scores the windows of a token stream: window w is ids[w*T .. w*T + window_len), window_len - 1 predicted
// positions each. Needs window_len <= m->T. Totals (identical on every rank) in *loss_sum and *tokens.
void eval_windows(const Dist *d, Model *m, const int32_t *ids, size_t windows, int T, int window_len,
                  double *loss_sum, double *tokens);

#endif
