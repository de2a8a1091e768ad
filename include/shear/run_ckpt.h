// Checkpoints inside a run (train, prune): the state of a run as checkpoint items, resume from the latest
// committed checkpoint, the stop flag (signals, run.walltime) checked at every step boundary, and saves
// every run.ckpt_every steps, on stop and at the end.
#ifndef SHEAR_RUN_CKPT_H
#define SHEAR_RUN_CKPT_H

#include "shear/ckpt.h"
#include "shear/run_dbl.h"
#include "shear/deck.h"
#include "shear/distill.h"
#include "shear/masks.h"
#include "shear/optim.h"
#include "shear/sampler.h"

typedef struct {
    CkptItems items;
    CkptState cs;
    AdamW *opt;
    Sampler *sampler;
    Masks *masks;        // NULL when training
    DblRun *dbl;
    int64_t adam_t, masks_t, dbl_updates; // int64 mirrors of the ints they stand for
    // the teacher the run distils from (0 and "" without one): the hash of its weights and its path's bytes
    int64_t teacher_hash;
    int64_t teacher_path[DECK_PATH_LEN / 8];
    double last_save_s;  // seconds the last save took (0 = none yet)
    double max_step_s;   // the slowest step so far
} RunCkpt;

// Lists everything a bit-exact restart needs: weights, Adam state, sampler state, DBL proportions, history
// and references, (prune) log-alphas, their Adam state and the Lagrange multipliers, and which teacher the run
// distils from (distill/teacher_hash, distill/teacher_path: the teacher itself is not stored).
void run_ckpt_init(RunCkpt *r, const char *phase, const Deck *d, Model *m, AdamW *opt, Sampler *s, DblRun *dbl,
                   Masks *mk, const Distill *kd);
// Resumes from run.out_dir's latest committed checkpoint. Returns the step it holds (0: a fresh start) and
// *tokens. Dies when the checkpoint does not match this run (shapes, domains, another teacher or none where it
// had one); logs when the deck changed.
int run_ckpt_resume(RunCkpt *r, const Dist *dist, const ShearOps *ops, const Deck *d, long long *tokens);
// At the end of a step: saves when due (run.ckpt_every, the last step) or when a stop was requested.
// Returns 1 when the run must stop now (checkpoint written; exit with SHEAR_EXIT_CHECKPOINTED).
int run_ckpt_step_end(RunCkpt *r, const Dist *dist, const ShearOps *ops, const Deck *d, int step,
                      long long tokens, double step_s);
void run_ckpt_free(RunCkpt *r);

#endif
