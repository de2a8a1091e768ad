// The step loop of `shear train` and `shear prune`, once: batch from the sampler (with DBL updates), forward and
// backward over this rank's micro-batches, the gradient reduction (all-reduce or ZeRO-1 reduce-scatter), global
// clipping, AdamW, the progress line and the step record, checkpoints and the stop agreement. The pruning-only
// work (a mask sample per micro-batch, the mask backward, the Lagrangian, the masks' optimizer step and record)
// enters through TrainerHooks (src/run_prune.c); plain training passes none.
#ifndef SHEAR_RUN_TRAINER_H
#define SHEAR_RUN_TRAINER_H

#include <stdio.h>

#include "shear/deck.h"
#include "shear/dist.h"
#include "shear/distill.h"
#include "shear/masks.h"
#include "shear/metrics.h"
#include "shear/model.h"
#include "shear/optim.h"
#include "shear/run.h"
#include "shear/run_ckpt.h"
#include "shear/run_dbl.h"
#include "shear/zero.h"

// Points in a step where a stage adds its work; every member may be NULL.
typedef struct {
    void *ctx;
    const char *lr_keys;                            // the learning-rate keys a divergence message names
    void (*before_eval)(void *ctx);                 // a DBL evaluation of the model follows
    void (*step_begin)(void *ctx);                  // the step starts (the weights' gradients are zeroed)
    void (*micro_begin)(void *ctx, int step, int j); // before global micro-batch j's forward/backward
    void (*micro_end)(void *ctx, int step, int j);   // after it
    double (*reduced)(void *ctx, int step);         // the weights' gradients are summed over the ranks; returns
                                                    // the squared norm its own gradients add to the clip norm
    void (*update)(void *ctx, double lr_factor, const AdamWHyper *h, float gscale); // after the weights' AdamW
    // rank 0: its fields of the step record, and the progress line's middle part (after "step N/M | ")
    void (*report)(void *ctx, MetricsStep *rec, char *line, size_t len);
    void (*step_end)(void *ctx, int step, FILE *metrics); // after the step record
} TrainerHooks;

typedef struct {
    // the caller's, set before trainer_open
    const char *stage;          // "train" or "prune": log prefix and checkpoint phase
    Dist *dist;
    const Deck *deck;
    const ShearOps *ops;
    Model *model;               // created, weights loaded
    const char *weights_from;   // the model file the weights were loaded from ("" = random init)
    Masks *masks;               // prune: checkpointed with the run; NULL when training
    const ModelGates *gates;    // prune: the gates the forward applies; NULL when training
    const TrainerHooks *hooks;  // prune: the pruning work of a step; NULL when training
    RunPlan plan;               // run_plan(): FLOPs per token and the peak behind the MFU
    // the trainer's own
    Zero zero;                  // run.zero: 1 shards the Adam state over the ranks (ZeRO-1), 0 replicates it
    AdamW opt;
    RunData data;
    DblRun dbl;
    Distill distill;            // distill.teacher: the teacher and the KD settings (off when "")
    RunCkpt ckpt;
    FILE *metrics;              // rank 0: metrics.jsonl; NULL elsewhere
    long long tokens;           // tokens trained on so far
    int start;                  // the step the run resumed from (0: a fresh start)
    double t_start;             // when the steps started
} Trainer;

// Activations (run.recompute), the gradient reduction and optimizer state, the run's data (checked against
// the model's vocabulary) and the distillation teacher (distill.teacher).
void trainer_open(Trainer *t);
// The DBL reference (sized for target_params: the model being made), the run's checkpoint items and the resume
// from the latest committed checkpoint. Returns 1 when the run is already complete (all steps done and
// final_path written: nothing to do), else opens the run's outputs and returns 0.
int trainer_resume(Trainer *t, size_t target_params, const char *final_path);
// The steps from the resume point to train.steps. Returns 0, or SHEAR_EXIT_CHECKPOINTED when a stop was
// requested (signal, run.walltime) and the checkpoint is written.
int trainer_run(Trainer *t);
// The per-domain evaluation at the end (the table and the eval record).
void trainer_final_eval(Trainer *t);
// Closes metrics.jsonl and frees what the trainer owns.
void trainer_close(Trainer *t);

#endif
