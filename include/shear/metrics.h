// metrics.jsonl: every record a run writes, one JSON object per line, each with "event" and "step". The one
// place that formats them, so a reader (tools/summary.py, tools/plot_*.py, the tests) finds every field here.
// Records:
//   step   one per optimizer step (train: "loss"; prune: "lm_loss", "lagrangian", "expected_params", per mask type;
//          with distillation both carry "loss" (the objective alpha KD + (1 - alpha) LM), "lm_loss", "kd_loss")
//   dbl    a dynamic-batch-loading update: per-domain losses, references, weights before and after (with
//          distillation also "kd_losses")
//   masks  the deterministic masks (prune): kept gates per row and the 0/1 mask of each learned type
//   eval   the final per-domain evaluation
//   epoch  a domain's sampler ran out of sequences and started epoch N with a new shuffle
// Every writer takes the rank-0 FILE * (NULL on other ranks: the call does nothing) and flushes its line.
#ifndef SHEAR_METRICS_H
#define SHEAR_METRICS_H

#include <stdio.h>

#include "shear/dbl.h"
#include "shear/deck.h"
#include "shear/dist.h"
#include "shear/masks.h"

// One optimizer step. Pruning records set `masks` (and its stats); plain training leaves it NULL.
typedef struct {
    int step;
    double loss;             // mean loss of the global batch: LM, or with distillation the objective
    int distill;             // 1: the run distils; lm_loss and kd_loss are written
    double lm_loss, kd_loss; // distillation: the objective's two parts (means over the global batch)
    double lr;               // learning rate of the weights at this step
    double grad_norm;        // global gradient norm before clipping (weights + mask parameters while pruning)
    long long tokens;        // tokens trained on so far, this step included
    double tok_s, tok_s_rank, tflops; // throughput; tflops per rank
    double mfu;              // tflops / peak; < 0: the peak is unknown and "mfu" is left out
    double step_s, elapsed_s;
    const Masks *masks;      // prune: the masks (lambdas of the learned types); NULL when training
    const MaskStats *stats;  // prune: sparsities, Lagrangian term, expected parameters
} MetricsStep;

// Rank 0: opens run.out_dir/metrics.jsonl, a fresh file, or after a resume from step resume_step the existing
// one without its records of later steps (a stopped run may have logged steps past its last checkpoint).
// Other ranks: NULL.
FILE *metrics_open(const Dist *dist, const Deck *d, int resume_step);
void metrics_step(FILE *f, const MetricsStep *r);
// Non-finite values are written as null (JSON has no NaN); ref may be NULL (the constant rule has none); kd
// (the KD losses) is NULL when the run does not distil.
void metrics_dbl(FILE *f, int step, int k, const char names[][DBL_NAME_LEN], const double *loss, const double *kd,
                 const double *ref, const double *w_before, const double *w_after);
// The masks' current m->z (make them deterministic first), per learned type.
void metrics_masks(FILE *f, const Masks *m, int step);
void metrics_eval(FILE *f, int step, int k, const char names[][DBL_NAME_LEN], const double *loss, const double *kd,
                  double average);
void metrics_epoch(FILE *f, int step, const char *domain, unsigned long long epoch);

#endif
